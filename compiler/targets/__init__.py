"""The target seam: everything chip-family-specific sits behind a ``Target``.

A hardware config names its family with ``target = "..."`` (default ``"loihi"``). The target
owns the config's ``[numerics]`` section (its number formats), the lowering pass that turns a
discretized network into the chip's numbers, the program type it produces and that program's
artifact format. Partition, place and route, the emulator's protocol, the cost model and the
reports work on any target's program.

The registry is explicit and lazy: a target's module is imported when a config names it.
Adding a chip family is a new sub-package here with a ``TARGET`` object and one line in
``TARGETS``.
"""

from __future__ import annotations

import importlib
from typing import Protocol

TARGETS: dict[str, str] = {
    "loihi": "neurocc.compiler.targets.loihi",
}
"""Target name → module defining ``TARGET``."""


class Target(Protocol):
    """What a chip family provides."""

    name: str
    numerics_type: type
    """Dataclass of the config's ``[numerics]`` section (parsed and type-checked by the
    hardware loader)."""
    program_type: type
    """The compiled program class (``save``/``load`` through ``compiler/artifact.py``)."""
    semantics: str
    """One line saying whose arithmetic the program follows (shown in every report)."""

    def check_numerics(self, numerics, where: str) -> None:
        """Raise ``ConfigError`` if the number formats are out of the target's range."""

    def lowering(self, hw, options):
        """The pass that turns ``state.discrete`` into ``state.lowered``."""

    def build_program(self, state):
        """The program from a completed ``CompileState``."""

    def to_payload(self, program, **options) -> tuple[dict, dict]:
        """``(header, arrays)`` of an artifact (``options``: the target's own, e.g. Loihi's
        ``embed_float_weights``)."""

    def from_payload(self, header: dict, arrays: dict, where: str):
        """The inverse of ``to_payload``; raises ``ArtifactError`` naming what is wrong."""


def get_target(name: str) -> Target:
    if not isinstance(name, str) or name not in TARGETS:
        raise KeyError(f"unknown target {name!r}; known targets: {', '.join(TARGETS)}")
    return importlib.import_module(TARGETS[name]).TARGET


def available() -> list[str]:
    return list(TARGETS)
