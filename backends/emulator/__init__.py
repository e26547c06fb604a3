"""The bit-exact CPU emulator backend (numpy only)."""

from __future__ import annotations

import numpy as np

from neurocc.backends.base import Trace
from neurocc.backends.emulator.engine import Emulator
from neurocc.compiler.targets.loihi.program import LoihiProgram


class EmulatorBackend:
    """Runs a program with ``Emulator`` and records every group's spikes."""

    name = "emulator"

    def simulate(self, program: LoihiProgram, x: np.ndarray,
                 record_state: bool = False) -> Trace:
        steps, batch = x.shape[:2]
        emu = Emulator(program, batch)
        spikes = {g.name: np.zeros((steps, batch, g.n), dtype=bool) for g in program.groups}
        keep_v = program.recorded_membranes(record_state)
        v = {n: np.zeros((steps, batch, program.group(n).n), dtype=np.int64) for n in keep_v}
        u = {g.name: np.zeros((steps, batch, g.n), dtype=np.int64)
             for g in program.groups} if record_state else {}
        live = {g.name: np.zeros((steps, batch, g.n), dtype=bool) for g in program.groups}
        index = {g.name: i for i, g in enumerate(program.groups)}
        for t in range(steps):
            for i, g in enumerate(program.groups):
                np.not_equal(emu.v[i], 0, out=live[g.name][t])
            out = emu.step(x[t])
            for i, g in enumerate(program.groups):
                spikes[g.name][t] = out[i]
            for n in keep_v:
                v[n][t] = emu.v[index[n]]
            for n in u:
                u[n][t] = emu.u[index[n]]
        return Trace(spikes=spikes, v=v, u=u, saturation=emu.saturation, fixed_point=True,
                     live=live)


__all__ = ["EmulatorBackend", "Emulator"]
