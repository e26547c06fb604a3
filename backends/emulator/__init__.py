"""The bit-exact CPU emulator backend.

Two schedules of one arithmetic: the step-major ``Emulator`` (``engine.py``, the readable
definition, every group every step) and the layer-major ``LayerMajor`` (``layered.py``,
every step of a block group by group, compiled kernels), which runs whenever the program has
no cycles. ``schedule="step"`` forces the definition.
"""

from __future__ import annotations

import numpy as np

from neurocc.api.errors import NeuroccError
from neurocc.backends.base import Trace
from neurocc.backends.emulator.engine import Emulator
from neurocc.backends.emulator.layered import LayerMajor, is_feedforward
from neurocc.compiler.linalg import join_lists
from neurocc.compiler.targets.loihi.program import LoihiProgram

SCHEDULES = ("auto", "layer", "step")


class EmulatorBackend:
    """Runs a program with the emulator and records every group's spikes.

    ``schedule``: ``auto`` (layer-major when the program has no cycles, else step-major),
    ``layer`` or ``step``. ``events``: allow event-driven synaptic accumulation for sparse
    spikes (the choice is made per block from the spikes' density; results are identical)."""

    name = "emulator"
    chunkable = True      # samples are independent: run() may split them into chunks
    streams = True        # with a counter, counts block by block and keeps only ``keep``

    def __init__(self, schedule: str = "auto", events: bool = True):
        if schedule not in SCHEDULES:
            raise NeuroccError(f"unknown emulator schedule '{schedule}'; choose one of "
                               f"{', '.join(SCHEDULES)}")
        self.schedule, self.events = schedule, events
        self.last_schedule: str | None = None

    def simulate(self, program: LoihiProgram, x: np.ndarray, record_state: bool = False,
                 counter=None, keep=None) -> Trace:
        """``counter`` (an ``ActivityCounter``) is fed every block as it is made; ``keep``
        (group names) limits the spikes kept in the trace (the others are counted, then
        dropped). Both need the layer-major schedule; step-major keeps and counts all."""
        layered = self.schedule == "layer" or (self.schedule == "auto" and
                                               is_feedforward(program))
        self.last_schedule = "layer" if layered else "step"
        if layered:
            return self._layer_major(program, x, record_state, counter, keep)
        trace = self._step_major(program, x, record_state)
        if counter is not None:
            counter.count(x, trace.spikes, trace.live)
        return trace

    def _layer_major(self, program, x, record_state, counter=None, keep=None) -> Trace:
        steps, batch = x.shape[:2]
        emu = LayerMajor(program, batch, events=self.events)
        keep_v = program.recorded_membranes(record_state)
        names = [g.name for g in program.groups]
        kept = names if keep is None else [n for n in names if n in keep]
        spikes = {n: [] for n in kept}
        v = {n: [] for n in keep_v}
        u = {n: [] for n in names} if record_state else {}
        live = {n: [] for n in kept} if counter is None else {}
        lists: dict = {}                     # group → its blocks' spike lists (the counter's)

        def block(t0, xb, sb, vb, ub, lb, listed):
            if counter is not None:
                counter.count(xb, sb, lb, listed)
            else:
                for n in names:
                    lists.setdefault(n, []).append(listed.get(n))
            for n in spikes:
                spikes[n].append(sb[n])
            for n in live:
                live[n].append(lb[n])
            for n in v:
                v[n].append(vb[n])
            for n in u:
                u[n].append(ub[n])

        emu.run(x, record_v=keep_v, record_u=record_state, live=True, on_block=block)

        def cat(parts):
            if any(p is None for p in parts):        # not recorded (always updated)
                return None
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

        return Trace(spikes={n: cat(a) for n, a in spikes.items()},
                     v={n: cat(a) for n, a in v.items()}, u={n: cat(a) for n, a in u.items()},
                     saturation=emu.saturation, fixed_point=True,
                     live={n: cat(a) for n, a in live.items()} if counter is None else None,
                     lists={n: join_lists(p) for n, p in lists.items()
                            if all(q is not None for q in p)} or None)

    def _step_major(self, program, x, record_state) -> Trace:
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


__all__ = ["EmulatorBackend", "Emulator", "LayerMajor"]
