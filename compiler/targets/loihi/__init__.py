"""The Loihi target (Loihi 1 and 2): Lava 0.10's fixed-point neuron and synapse models.

- ``numerics.py``: ``LoihiNumerics``, the one implementation of the fixed-point arithmetic;
- ``quantize.py``: the lowering pass (per-step factors → integer registers and weights);
- ``program.py``: the program types (``LoihiGroup``, ``LoihiProjection``, ``LoihiProgram``);
- ``artifact.py``: a program's artifact header and arrays.

The emulator (``backends/emulator``) and the Lava backend (``backends/lava``) run these
programs; both take their arithmetic from ``numerics.py``.
"""

from __future__ import annotations

from neurocc.api.errors import ConfigError
from neurocc.compiler.targets.loihi import artifact
from neurocc.compiler.targets.loihi.numerics import LAVA, LoihiNumerics
from neurocc.compiler.targets.loihi.program import (
    SEMANTICS,
    LoihiGroup,
    LoihiProgram,
    LoihiProjection,
    LoweredNetwork,
)
from neurocc.compiler.targets.loihi.quantize import Quantize


class LoihiTarget:
    name = "loihi"
    numerics_type = LoihiNumerics
    program_type = LoihiProgram
    semantics = SEMANTICS

    def check_numerics(self, num: LoihiNumerics, where: str) -> None:
        """Widths the arithmetic can represent in int64 without overflow, and that leave a
        threshold and a weight grid at all."""
        problems = []
        if not 1 <= num.weight_bits <= 16:
            problems.append(f"weight_bits = {num.weight_bits} (allowed 1..16)")
        if not 2 <= num.decay_bits <= 24:
            problems.append(f"decay_bits = {num.decay_bits} (allowed 2..24)")
        if not 8 <= num.state_bits <= 32:
            problems.append(f"state_bits = {num.state_bits} (allowed 8..32)")
        if not 1 <= num.threshold_bits <= num.state_bits - num.VTH_SHIFT:
            problems.append(f"threshold_bits = {num.threshold_bits} (allowed 1.."
                            f"{num.state_bits - num.VTH_SHIFT}: vth << 6 must fit the state)")
        if not 2 <= num.bias_mant_bits <= num.state_bits:
            problems.append(f"bias_mant_bits = {num.bias_mant_bits} (allowed 2..state_bits)")
        if not 0 <= num.bias_exp_max <= 16:
            problems.append(f"bias_exp_max = {num.bias_exp_max} (allowed 0..16)")
        if not -16 <= num.weight_exp_min <= num.weight_exp_max <= 16:
            problems.append(f"weight_exp_min/max = {num.weight_exp_min}/{num.weight_exp_max} "
                            "(allowed -16 <= min <= max <= 16)")
        if not (num.graded_spike_bits == 0 or 2 <= num.graded_spike_bits <= 32):
            problems.append(f"graded_spike_bits = {num.graded_spike_bits} (0 or 2..32)")
        if not 0 <= num.delay_bits <= 16:
            problems.append(f"delay_bits = {num.delay_bits} (allowed 0..16)")
        if problems:
            raise ConfigError(f"hardware config '{where}': [numerics] out of range: "
                              + "; ".join(problems) + " (see hw_configs/README.md)")

    def lowering(self, hw, options) -> Quantize:
        return Quantize(hw, options.reset, options.input_encoding)

    def build_program(self, state) -> LoihiProgram:
        net, low = state.network, state.lowered
        return LoihiProgram(
            hw=state.hw, dt=state.options.dt, reset=state.options.reset,
            input_shape=net.input_shape, input_encoding=low.input_encoding,
            groups=low.groups, projections=low.projections, outputs=net.outputs, network=net,
            depth=net.depth(), placement=state.placement, report=low.report,
            source=dict(state.source), route_totals=state.routes.totals())

    def to_payload(self, program, **options):
        return artifact.to_payload(program, **options)

    def from_payload(self, header, arrays, where):
        return artifact.from_payload(header, arrays, where)


TARGET = LoihiTarget()

__all__ = ["LAVA", "LoihiGroup", "LoihiNumerics", "LoihiProgram", "LoihiProjection",
           "LoweredNetwork", "Quantize", "TARGET"]
