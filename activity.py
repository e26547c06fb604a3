"""Activity counters: what a run did, event by event, per layer, per core and per step.

Every backend feeds the same counter with the spike trains it produced, so energy and
latency are computed from one definition whatever ran the network:

- spikes: neurons that fired;
- synaptic ops: each spike (or nonzero graded input) × the nonzero synapses it drives
  (NeuroBench's *effective* operations; a MAC counts as one);
- neuron updates: every neuron every step is accessed; it is *active* in a step where it
  receives at least one synaptic event;
- messages: one per spike and destination core (per projection), with their router hops and
  chip crossings from the placement's routes.

Synaptic events are attributed to the step in which the spike was sent. Per-step work is kept
per core and per sample, so latency can follow the busiest core of every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurocc.compiler.ir import INPUT, Conv, Sparse
from neurocc.compiler.linalg import conv2d
from neurocc.compiler.mapping import Routes, route
from neurocc.compiler.program import Program


def _pattern_op(conn):
    """A function ``x (B, n_pre) float → synaptic events per post neuron (B, n_post)``."""
    if isinstance(conn, Conv):
        nz = (conn.weight != 0).astype(np.float64)
        return lambda x: conv2d(x.reshape(len(x), *conn.in_shape), nz, conn.stride,
                                conn.padding, conn.dilation, conn.groups).reshape(len(x), -1)
    if isinstance(conn, Sparse):
        rows, cols = conn.rows[conn.data != 0], conn.indices[conn.data != 0]
        n_post = conn.shape[0]
        if n_post * conn.n_pre <= 2**24:
            dense = np.zeros(conn.shape)
            dense[rows, cols] = 1.0
            return lambda x: x @ dense.T
        return lambda x: np.stack([np.bincount(rows, weights=xi[cols], minlength=n_post)
                                   for xi in x])
    nzT = (conn.weight != 0).astype(np.float64).T.copy()
    return lambda x: x @ nzT


@dataclass
class Activity:
    """Totals over a run (all samples), plus per-sample inference latency inputs."""

    batch: int
    steps_run: int
    groups: list[str]
    neurons: dict[str, int]
    spikes: dict[str, np.ndarray]            # per neuron, summed over steps and samples
    synops: dict[str, float]                 # per projection (into its dst layer)
    synops_kind: dict[str, str]              # projection → dense | sparse | conv
    active_updates: dict[str, float]         # per layer
    input_events: float = 0.0                # nonzero input values (host → chip)
    input_per_channel: np.ndarray | None = None
    core_work: np.ndarray | None = None      # (n_cores, n_terms) totals, see CORE_TERMS
    step_core_time: list = field(default_factory=list)  # per step (B,) busiest core time
    per_sample_spikes: np.ndarray | None = None  # (B,) all layers

    def total_spikes(self, name: str | None = None) -> float:
        if name is not None:
            return float(self.spikes[name].sum())
        return float(sum(s.sum() for s in self.spikes.values()))


CORE_TERMS = ("neurons", "active", "spikes", "synops_dense", "synops_sparse", "synops_conv",
              "msgs_out", "msgs_in")


class ActivityCounter:
    """Streaming counter: call ``step(x_t, spikes_t)`` once per executed step."""

    def __init__(self, program: Program, batch: int, routes: Routes | None = None):
        self.prog = program
        self.batch = batch
        hw = program.hw
        self.routes = routes or route(program.groups, program.projections, program.placement,
                                      hw, program.n_inputs)
        pl = program.placement
        self.n_cores = int(pl.slices[:, 3].max()) + 1 if len(pl.slices) else 1
        self.core_of = {g.name: pl.core_of(i, g.n) for i, g in enumerate(program.groups)}
        self.core_of[INPUT] = np.zeros(program.n_inputs, dtype=np.int64)
        self.ops = {p.name: _pattern_op(p.conn) for p in program.projections}
        self.kind = {p.name: p.conn.kind for p in program.projections}
        self.names = [g.name for g in program.groups]
        self.sizes = {g.name: g.n for g in program.groups}
        self.spikes = {n: np.zeros(self.sizes[n]) for n in self.names}
        self.synops = {p.name: 0.0 for p in program.projections}
        self.active = {n: 0.0 for n in self.names}
        self.input_events = 0.0
        self.per_sample_spikes = np.zeros(batch)
        self.core_work = np.zeros((self.n_cores, len(CORE_TERMS)))
        self.core_work[:, 0] = 0
        for n in self.names:
            np.add.at(self.core_work[:, 0], self.core_of[n], 1)  # neurons per core (per step)
        self.steps = 0
        lat = hw.latency
        self.t_static = self.core_work[:, 0] * lat.neuron_access_s          # (n_cores,)
        self.t_syn = {"dense": lat.synop_dense_s, "sparse": lat.synop_sparse_s,
                      "conv": lat.synop_conv_s}
        self.step_time: list[np.ndarray] = []
        # Per-source, per-neuron route costs (for the latency of one step's messages).
        self.msgs = self.routes.msgs
        self.route_s = {s: self.routes.hops_ew[s] * lat.hop_ew_s + self.routes.hops_ns[s]
                        * lat.hop_ns_s + self.routes.chips[s] * lat.chip_crossing_s
                        for s in self.routes.msgs}
        self.dest = {s: r.astype(np.float64) for s, r in self.routes.reach.items()}
        self.input_per_channel = np.zeros(program.n_inputs)

    def _per_core(self, values: np.ndarray, src: str) -> np.ndarray:
        """(B, n) → (B, n_cores) sums by the core each neuron sits on."""
        out = np.zeros((values.shape[0], self.n_cores))
        cores = self.core_of[src]
        for c in np.unique(cores):
            out[:, c] = values[:, cores == c].sum(axis=1)
        return out

    def step(self, x_t: np.ndarray, spikes_t: dict[str, np.ndarray]) -> None:
        """``x_t`` (B, n_in) input payloads of this step; ``spikes_t`` group → (B, n) bool."""
        lat = self.prog.hw.latency
        B = self.batch
        events = {INPUT: (x_t != 0).astype(np.float64)}
        for n in self.names:
            s = spikes_t[n]
            events[n] = s.astype(np.float64)
            self.spikes[n] += s.sum(axis=0)
            self.per_sample_spikes += s.sum(axis=1)
        self.input_events += float(events[INPUT].sum())
        self.input_per_channel += events[INPUT].sum(axis=0)
        work = np.zeros((B, self.n_cores)) + self.t_static[None, :]
        received = {n: np.zeros((B, self.sizes[n])) for n in self.names}
        for p in self.prog.projections:
            ev = events[p.src]
            if not ev.any():
                continue
            r = self.ops[p.name](ev)                     # (B, n_post) synaptic events
            self.synops[p.name] += float(r.sum())
            received[p.dst] += r
            work += self._per_core(r, p.dst) * self.t_syn[self.kind[p.name]]
            ci = CORE_TERMS.index("synops_" + self.kind[p.name])
            self.core_work[:, ci] += self._per_core(r, p.dst).sum(axis=0)
        for n in self.names:
            act = (received[n] > 0).astype(np.float64)
            self.active[n] += float(act.sum())
            pc = self._per_core(act, n)
            work += pc * lat.neuron_update_s
            self.core_work[:, 1] += pc.sum(axis=0)
        route_t = np.zeros(B)
        for src, ev in events.items():
            if not ev.any():
                continue
            spk_core = self._per_core(ev, src)
            msgs = ev * self.msgs[src][None, :]
            out_core = self._per_core(msgs, src)
            in_core = ev @ self.dest[src]                 # (B, n_cores) messages arriving
            if src != INPUT:
                work += spk_core * lat.spike_out_s
                self.core_work[:, 2] += spk_core.sum(axis=0)
            work += out_core * lat.message_out_s + in_core * lat.message_in_s
            self.core_work[:, 6] += out_core.sum(axis=0)
            self.core_work[:, 7] += in_core.sum(axis=0)
            rt = np.where(ev > 0, self.route_s[src][None, :], 0.0).max(axis=1)
            route_t = np.maximum(route_t, rt)
        self.step_time.append(work.max(axis=1) + route_t)
        self.steps += 1

    def result(self) -> Activity:
        return Activity(
            batch=self.batch, steps_run=self.steps, groups=list(self.names),
            neurons=dict(self.sizes), spikes=self.spikes, synops=self.synops,
            synops_kind=self.kind, active_updates=self.active, input_events=self.input_events,
            input_per_channel=self.input_per_channel,
            core_work=self.core_work, step_core_time=self.step_time,
            per_sample_spikes=self.per_sample_spikes)
