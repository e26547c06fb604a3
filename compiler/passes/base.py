"""One interface for every pass, and the pipeline that runs them.

A pass is a frozen dataclass with a class-level ``name``, its options as fields, and one
``run(state) -> state`` that returns a new ``CompileState`` (states are never mutated).
``Pipeline.run`` takes a callback called after every pass with ``(pass, state)``: for timing,
progress, IR dumps in tests, and the invariant checks of ``compiler/passes/spec.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from neurocc.compiler.ir.discrete import DiscreteNetwork
from neurocc.compiler.ir.encoding import InputEncoding, SpikeInput
from neurocc.compiler.ir.graph import Network
from neurocc.compiler.ir.mapping import Partitioning, Placement, Routes
from neurocc.hw_configs import HardwareSpec

RESETS = ("zero", "subtract")
"""Reset rules: "zero" (NIR's ``v_reset = 0``) and "subtract" (snnTorch's default)."""


@dataclass(frozen=True)
class CompileOptions:
    """What the user chose: ``dt`` (seconds per step), the ``reset`` rule the model was trained
    with (NIR cannot say), the input encoding and the placement strategy."""

    dt: float = 1e-4
    reset: str = "zero"
    input_encoding: InputEncoding = SpikeInput()
    placement: str = "greedy+swap"


@dataclass(frozen=True, eq=False)
class CompileState:
    """Everything known about a compilation so far; each pass fills in one more field.

    ``network`` (IR, continuous time) → ``discrete`` (per-step factors) → ``lowered`` (the
    target's numbers: an object with ``groups``, ``projections``, ``input_encoding`` and
    ``report``) → ``partition`` → ``placement`` → ``routes``. ``source`` describes where the
    network came from (file name, checksum)."""

    hw: HardwareSpec
    options: CompileOptions
    network: Network
    source: dict = field(default_factory=dict)
    discrete: DiscreteNetwork | None = None
    lowered: Any = None
    partition: Partitioning | None = None
    placement: Placement | None = None
    routes: Routes | None = None

    def with_(self, **changes) -> CompileState:
        return replace(self, **changes)


@dataclass(frozen=True)
class Pass(ABC):
    name: ClassVar[str]

    @abstractmethod
    def run(self, state: CompileState) -> CompileState: ...


Callback = Callable[[Pass, CompileState], None]


@dataclass(frozen=True)
class Pipeline:
    """Passes in order. ``run(state, callback)`` threads the state through them."""

    passes: tuple[Pass, ...]

    def run(self, state: CompileState, callback: Callback | None = None) -> CompileState:
        """A callback with a ``started(pass)`` attribute also hears of each pass before it
        runs (a progress line that ticks through a long pass)."""
        started = getattr(callback, "started", None)
        for p in self.passes:
            if started is not None:
                started(p)
            state = p.run(state)
            if callback is not None:
                callback(p, state)
        return state

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.passes)
