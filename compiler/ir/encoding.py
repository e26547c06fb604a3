"""How the network's input arrives: binary spikes, or graded values (Loihi 2's graded
spikes, integer payloads of ``bits`` bits)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class SpikeInput:
    """Binary spikes: every input value is 0 or 1."""

    kind: ClassVar[str] = "spikes"

    @property
    def max_payload(self) -> int:
        """Largest integer payload an input channel sends."""
        return 1

    def to_dict(self) -> dict:
        return {"kind": self.kind}


@dataclass(frozen=True)
class GradedInput:
    """Graded values in ``[-max, max]``, sent as integer payloads ``round(x·scale)`` of
    ``bits`` bits (signed). ``scale`` (payload units per input unit) is chosen by the
    compiler; ``None`` until then."""

    max: float
    bits: int | None = None
    scale: float | None = None

    kind: ClassVar[str] = "graded"

    @property
    def payload_limit(self) -> int:
        """Largest payload magnitude the ``bits`` allow."""
        return (1 << (self.bits - 1)) - 1

    @property
    def max_payload(self) -> int:
        return int(math.ceil(self.max * self.scale))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "max": self.max, "bits": self.bits, "scale": self.scale}


InputEncoding = SpikeInput | GradedInput


def encoding_from_dict(d: dict) -> InputEncoding:
    """The inverse of ``to_dict`` (for artifacts)."""
    if d.get("kind") == SpikeInput.kind:
        return SpikeInput()
    if d.get("kind") == GradedInput.kind:
        return GradedInput(float(d["max"]), None if d.get("bits") is None else int(d["bits"]),
                           None if d.get("scale") is None else float(d["scale"]))
    raise ValueError(f"unknown input encoding {d!r}")
