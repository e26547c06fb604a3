"""Activity counters: what a run did, event by event, per layer, per core and per step.

Every backend feeds the same counter with the spike trains it produced, so energy and
latency are computed from one definition whatever ran the network:

- spikes: neurons that fired;
- synaptic ops: each spike (or nonzero graded input) × the nonzero synapses it drives
  (NeuroBench's *effective* operations; a MAC counts as one);
- neuron updates: every neuron every step is accessed; it is *active* in a step where it
  receives at least one synaptic event;
- messages: one per spike and destination core (a neuron's output axons), with their router
  hops and chip crossings from the placement's routes (``compiler/passes/route.py``); input spikes
  enter at the config's ``mesh.input_core``.

Synaptic events are attributed to the step in which the spike was sent. Per-step work is kept
per core, and messages per link, per sample; ``cost/latency.py`` turns them into time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurocc.compiler.ir.connectivity import Conv, Sparse
from neurocc.compiler.ir.graph import INPUT
from neurocc.compiler.ir.mapping import Routes
from neurocc.compiler.linalg import conv2d
from neurocc.cost.latency import CORE_TERMS, seconds_per_event, step_parts

INCIDENCE_ENTRIES = 1 << 24
"""Largest (messages × links) incidence kept per source (128 MB of float64)."""


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
    core_work: np.ndarray | None = None      # (n_cores, n_terms) event totals, CORE_TERMS
    step_parts: list = field(default_factory=list)  # per step (4, B): latency.PARTS (s)
    link_load: np.ndarray | None = None      # (n_links,) messages per link over the run
    routes: Routes | None = None             # the routes the counts were made with
    membrane_traced: bool = True             # False: updates counted from inputs and biases

    def total_spikes(self, name: str | None = None) -> float:
        if name is not None:
            return float(self.spikes[name].sum())
        return float(sum(s.sum() for s in self.spikes.values()))


_TERM = {t: i for i, t in enumerate(CORE_TERMS)}


class ActivityCounter:
    """Streaming counter: call ``step(x_t, spikes_t)`` once per executed step."""

    def __init__(self, program, batch: int, routes: Routes | None = None):
        self.prog = program
        self.batch = batch
        hw = program.hw
        self.routes = routes or program.routes
        pl = program.placement
        self.n_cores = max(int(pl.slices[:, 3].max(initial=0)), hw.mesh.input_core) + 1
        # Per source: slice starts within the group and the core of each slice.
        self.slice_at = {INPUT: (np.zeros(1, dtype=np.int64),
                                 np.array([hw.mesh.input_core], dtype=np.int64))}
        for i, g in enumerate(program.groups):
            rows = pl.group_slices(i)
            self.slice_at[g.name] = (rows[:, 1].copy(), rows[:, 3].copy())
        self.ops = {p.name: _pattern_op(p.conn) for p in program.projections}
        self.kind = {p.name: p.conn.kind for p in program.projections}
        self.names = [g.name for g in program.groups]
        self.sizes = {g.name: g.n for g in program.groups}
        self.spikes = {n: np.zeros(self.sizes[n]) for n in self.names}
        self.synops = {p.name: 0.0 for p in program.projections}
        self.active = {n: 0.0 for n in self.names}
        self.biased = {g.name: np.asarray(g.bias_mant) != 0 for g in program.groups}
        self.input_events = 0.0
        self.core_work = np.zeros((self.n_cores, len(CORE_TERMS)))
        self.neurons_per_core = np.zeros(self.n_cores)
        for _, a, b, c in pl.slices:
            self.neurons_per_core[c] += b - a
        self.steps = 0
        self.membrane_traced = True
        # Per source: messages per spike, the longest route of a spike (its latency), and
        # every (neuron, destination core) pair with the core it leaves from.
        self.msgs = self.routes.msgs
        self.route_s = self.routes.longest_s
        self.pairs = {}
        for s in self.routes.msgs:
            idx, dst = self.routes.pairs_of(s)
            off = self.routes.index.offset(s)
            self.pairs[s] = (idx, dst, self.routes.src_core[off + idx])
        self.mesh = self.routes.mesh
        self.link_load = np.zeros(self.mesh.n_links)
        self.step_parts: list[np.ndarray] = []
        self.seconds = seconds_per_event(hw)
        self._link_incidence()
        self.input_per_channel = np.zeros(program.n_inputs)

    def _link_incidence(self) -> None:
        """Per source, the links each of its (neuron, destination core) messages crosses,
        over the links some message uses at all: a step's link loads are then one product
        (``sent @ incidence``) on a compact link axis. A network whose incidence would be
        too large falls back to tracing the paths every step."""
        lead = {s: self.mesh.loads(fc, dst, np.ones(len(idx))) for s, (idx, dst, fc)
                in self.pairs.items()}
        used = np.flatnonzero(sum(lead.values(), np.zeros(self.mesh.n_links)))
        self.used_links = used
        self.t_link = self.mesh.seconds_per_message()[used]
        self.incidence = {}
        for s, (idx, dst, fc) in self.pairs.items():
            if len(idx) * len(used) > INCIDENCE_ENTRIES:
                self.incidence = None
                return
            inc = np.zeros((len(idx), len(used)))
            for i in range(0, len(idx), 4096):      # a block of messages at a time
                j = min(i + 4096, len(idx))
                inc[i:j] = self.mesh.loads(fc[i:j], dst[i:j], np.eye(j - i))[:, used]
            self.incidence[s] = inc

    def _per_core(self, values: np.ndarray, src: str) -> np.ndarray:
        """(B, n) → (B, n_cores) sums by the core each neuron sits on (slices are
        contiguous, so one ``reduceat`` per group)."""
        out = np.zeros((values.shape[0], self.n_cores))
        starts, cores = self.slice_at[src]
        if values.shape[1] and len(starts):
            np.add.at(out, (slice(None), cores), np.add.reduceat(values, starts, axis=1))
        return out

    def step(self, x_t: np.ndarray, spikes_t: dict[str, np.ndarray],
             live_t: dict[str, np.ndarray] | None = None) -> None:
        """``x_t`` (B, n_in) input payloads of this step; ``spikes_t`` group → (B, n) bool;
        ``live_t`` group → (B, n) bool, the membrane was nonzero before this step (None when
        the backend does not trace it: updates are then counted from inputs and biases
        only, a lower bound)."""
        B = self.batch
        events = {INPUT: (x_t != 0).astype(np.float64)}
        for n in self.names:
            s = spikes_t[n]
            events[n] = s.astype(np.float64)
            self.spikes[n] += s.sum(axis=0)
        self.input_events += float(events[INPUT].sum())
        self.input_per_channel += events[INPUT].sum(axis=0)
        # This step's events per sample and core, one column per CORE_TERMS entry.
        work = np.zeros((B, self.n_cores, len(CORE_TERMS)))
        work[:, :, _TERM["neurons"]] = self.neurons_per_core[None, :]
        received = {n: np.zeros((B, self.sizes[n])) for n in self.names}
        for p in self.prog.projections:
            ev = events[p.src]
            if not ev.any():
                continue
            r = self.ops[p.name](ev)                     # (B, n_post) synaptic events
            self.synops[p.name] += float(r.sum())
            received[p.dst] += r
            work[:, :, _TERM["synops_" + self.kind[p.name]]] += self._per_core(r, p.dst)
        for n in self.names:
            on = (received[n] > 0) | self.biased[n][None, :]
            if live_t is not None:
                on |= live_t[n]
            else:
                self.membrane_traced = False
            act = on.astype(np.float64)
            self.active[n] += float(act.sum())
            work[:, :, _TERM["active"]] += self._per_core(act, n)
        route_t = np.zeros(B)
        links = np.zeros((B, len(self.used_links)))
        for src, ev in events.items():
            if not ev.any():
                continue
            msgs = ev * self.msgs[src][None, :]
            idx, dst, from_core = self.pairs[src]
            sent = ev[:, idx] > 0                          # (B, n_pairs) messages this step
            flat = (np.arange(B)[:, None] * self.n_cores + dst[None, :])[sent]
            in_core = np.bincount(flat, minlength=B * self.n_cores).reshape(B, self.n_cores)
            if not len(self.used_links):
                pass
            elif self.incidence is not None:
                links += sent.astype(np.float64) @ self.incidence[src]
            else:
                links += self.mesh.loads(from_core, dst, sent)[:, self.used_links]
            if src != INPUT:
                work[:, :, _TERM["spikes"]] += self._per_core(ev, src)
            work[:, :, _TERM["msgs_out"]] += self._per_core(msgs, src)
            work[:, :, _TERM["msgs_in"]] += in_core
            rt = np.where(ev > 0, self.route_s[src][None, :], 0.0).max(axis=1)
            route_t = np.maximum(route_t, rt)
        self.core_work += work.sum(axis=0)
        self.link_load[self.used_links] += links.sum(axis=0)
        self.step_parts.append(step_parts(work, links, route_t, self.seconds, self.t_link))
        self.steps += 1

    def result(self) -> Activity:
        return Activity(
            batch=self.batch, steps_run=self.steps, groups=list(self.names),
            neurons=dict(self.sizes), spikes=self.spikes, synops=self.synops,
            synops_kind=self.kind, active_updates=self.active, input_events=self.input_events,
            input_per_channel=self.input_per_channel,
            core_work=self.core_work,
            step_parts=self.step_parts,
            link_load=self.link_load, routes=self.routes,
            membrane_traced=self.membrane_traced)
