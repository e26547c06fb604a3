"""Activity counters: what a run did, event by event, per layer, per core and per step.

Every backend feeds the same counter with the spike trains it produced, so energy and
latency are computed from one definition whatever ran the network:

- spikes: neurons that fired;
- synaptic ops: each spike (or nonzero graded input) × the nonzero synapses it drives
  (NeuroBench's *effective* operations; a MAC counts as one);
- neuron updates: every neuron every step is accessed; it is *active* in a step where a
  synaptic event is delivered to it (integrated that step: sent the step before, plus the
  synapse's delay), it has a bias, or its membrane was nonzero before the step (SANA-FE's
  rule: its soma sees the dendrite's current the step after the message, so an event sent
  in a run's last step updates nothing);
- messages: one per spike and destination core (a neuron's output axons), with their router
  hops and chip crossings from the placement's routes (``compiler/passes/route.py``); input spikes
  enter at the config's ``mesh.input_core``.

Synaptic events are attributed to the step in which the spike was sent, whatever the
projection's synaptic delay: the chip (a ring buffer of dendritic accumulators, per
Patiño-Saucedo et al. 2024, arXiv:2404.10597) and Lava's ``DelayDense`` (which computes every
delay's sum on the step the spike comes in) do a synapse's work when the spike reaches the
core and only hold the result back, so a delayed spike whose delivery would fall after the
run's last step is counted too. The neuron update it causes falls on the delivery step, as in
the soma. Per-step work is kept per core, and messages per link, per sample;
``cost/latency.py`` turns them into time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from neurocc.api.jit import numba  # None without neurocc[fast]: the numpy twin counts alike
from neurocc.compiler.ir.connectivity import Conv, Sparse
from neurocc.compiler.ir.graph import INPUT
from neurocc.compiler.ir.mapping import Routes
from neurocc.compiler.linalg import (
    column_counts,
    conv2d,
    conv_events,
    conv_geometry,
    conv_taps,
    rows_of_lists,
    spike_lists,
)
from neurocc.cost.latency import CORE_TERMS, seconds_per_event, step_parts
from neurocc.cost.schedule import build_schedule, schedule_rows, soma_walk

INCIDENCE_ENTRIES = 1 << 24
"""Largest per-neuron message map kept per source (neurons × cores, or × links in use; 64 MB
of float32); a larger source traces its messages pair by pair, in pieces of about this many
entries."""
SPIKE_LIST_DENSITY = 0.1
"""Spike density (spikes / (rows × neurons) of a source in a block) below which the source is
counted spike by spike from its spike lists (``linalg.spike_lists``): its per-core spikes,
messages and routes, and its event table (``_event_sums``: synapses per core, messages into
cores and onto links, a table row per spike). Above it, one vectorized pass over every
neuron of a row and one product with the table (float32 where exact). Measured on one
thread: the digits model (4-22 % by source) 4.3-4.6 ms for 0.1-0.25 against 5.2-5.7 ms
all-dense; the MLP 784-512-512-10 (20-53 %) 56 ms against 61-67 ms all by lists. A choice of
speed, never of result (both exact: integer counts)."""
TABLE_EVENT_COST = 0.03
"""Cost of one product entry (BLAS, skinny table) over one per-spike addition: a source's
spikes are summed through its table's nonzeros below ``TABLE_EVENT_COST × K / (nonzeros
per row)`` spike density. Measured on one thread, counting a whole run (0.03 against 0 =
always products, 0.1, 0.3, always by spikes): digits 4.2 against 5.5 / 4.4 / 4.4 / 4.3 ms,
the MLP 784-512-512-10 40 against 39 / 52 / 60 / 62 ms; the conv stack of
``benchmarks/speed.py`` (K ~ 100 cores and links, a few nonzeros a row) counts 15-20 %
faster than with whole table rows. A choice of speed, never of result."""
UNIFORM_SOURCES = True
"""Count a source whose neurons are alike (``_uniform``: one slice, the same messages and
route for every neuron) and need no per-neuron flags for active updates (the input, or a
group updated every step) from its spikes per row (``_uniform_rows``) instead of a pass over
its neurons or its spikes (the counter alone on digits, every source alike, 150 alternated
runs: median 2.60 -> 1.78 ms). Only a choice of speed; tested both ways."""
SPARSE_ROWS = 0.03
"""Rows whose events are sparser than this (events / inputs) find the neurons they reach
event by event instead of through a 0/1 product. Not measured for this product: set near
the emulator's measured crossover (``backends/emulator/layered.py``, ``EVENT_DENSITY``);
only a choice of speed, never of result (tested both ways)."""
CONV_EVENTS = 0.03
"""A large convolution's events are counted spike by spike (``linalg.conv_events``) below
this density, through im2col above it: the emulator's ``CONV_EVENT_DENSITY``."""
SMALL_MATRIX = 1 << 22
"""A conv with at most this many (post × pre) entries is counted through its explicit
0/1 matrix (one product per block instead of im2col)."""


class _Pattern:
    """Which synapses of a projection exist (nonzero weights), in the form counting needs.

    ``fan`` ``(n_pre, n_cores)``: the synapses each presynaptic neuron drives on every core,
    so a block's synaptic events per core are one product ``events @ fan``. Whether a neuron
    received any event in a row: certainly when the row holds more events than the neuron
    has missing synapses (``zmax``); only rows with fewer go through the 0/1 matrix ``nzT``.
    Projections too large for an explicit matrix count per neuron (``full``)."""

    def __init__(self, conn, dst_slices, n_cores: int):
        self.full = None
        n_post, n_pre = conn.shape
        small = not isinstance(conn, (Sparse, Conv)) or n_post * n_pre <= SMALL_MATRIX or \
            (isinstance(conn, Sparse) and n_post * n_pre <= 2**24)
        if not small:
            self.full = _pattern_op(conn)
            return
        if isinstance(conn, Sparse):
            nz = np.zeros(conn.shape, dtype=bool)
            keep = conn.data != 0
            nz[conn.rows[keep], conn.indices[keep]] = True
        elif isinstance(conn, Conv):
            nz = conn.to_dense() != 0
        else:
            nz = conn.weight != 0
        fan = np.zeros((n_pre, n_cores), dtype=np.float32)
        for a, b, c in zip(*dst_slices):
            fan[:, c] += nz[a:b].sum(axis=0)
        # float32 is exact while a row's events on one core stay below 2^24
        self.fan = fan if fan.sum(axis=0).max(initial=0) < 2**24 else fan.astype(np.float64)
        self.zmax = int(n_pre - nz.sum(axis=1).min(initial=n_pre))
        self.nz_T = np.ascontiguousarray(nz.T) if self.zmax else None   # (n_pre, n_post)
        self._nzT32 = None

    def received(self, ev: np.ndarray, counts: np.ndarray, bits: np.ndarray):
        """``(R, n_post)`` bool: a synaptic event reached the neuron in the row; or None
        when that is simply every neuron of every row with an event. Rows with few events
        go event by event (``SPARSE_ROWS``), the others through one 0/1 product."""
        if self.nz_T is None:
            return None
        few = np.flatnonzero((counts > 0) & (counts <= self.zmax))
        if not len(few):
            return None
        out = np.broadcast_to((counts > self.zmax)[:, None], (len(ev), self.nz_T.shape[1])).copy()
        if _any_events is not None and counts[few].mean() < SPARSE_ROWS * self.nz_T.shape[0]:
            _any_events(np.ascontiguousarray(bits[few]), self.nz_T, few, out)
        else:
            if self._nzT32 is None:
                self._nzT32 = self.nz_T.astype(np.float32)
            out[few] = (ev[few] @ self._nzT32) > 0
        return out


def _pattern_op(conn):
    """A function ``x (R, n_pre) float32 0/1 → synaptic events per post neuron (R, n_post)``
    (exact: counts stay far below float32's 2^24), for projections too large for ``fan``."""
    if isinstance(conn, Conv):
        nz = (conn.weight != 0).astype(np.float32)
        taps = conv_taps(conn.weight != 0, np.int8)
        geometry = conv_geometry(conn)

        def op(x):
            if numba is not None and np.count_nonzero(x) < CONV_EVENTS * x.size:
                return conv_events(x, taps, *geometry, conn.groups,       # spike by spike
                                   np.zeros((len(x), conn.shape[0]), np.int32))
            return conv2d(x.reshape(len(x), *conn.in_shape), nz, conn.stride, conn.padding,
                          conn.dilation, conn.groups, dtype=np.float32).reshape(len(x), -1)
        return op
    rows, cols = conn.rows[conn.data != 0], conn.indices[conn.data != 0]
    n_post = conn.shape[0]
    return lambda x: np.stack([np.bincount(rows, weights=xi[cols], minlength=n_post)
                               for xi in x])


def _row_blocks(rows_per_step: int, width: int, budget: int = 1 << 22) -> int:
    """Steps per counting block so that ``steps × rows_per_step × width`` stays near
    ``budget`` values (memory bounded whatever the run's length)."""
    return max(1, budget // max(1, rows_per_step * width))


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
    step_scheduled: list = field(default_factory=list)  # per step (B,) s, when scheduled
    link_load: np.ndarray | None = None      # (n_links,) messages per link over the run
    routes: Routes | None = None             # the routes the counts were made with
    membrane_traced: bool = True             # False: updates counted from inputs and biases

    def total_spikes(self, name: str | None = None) -> float:
        if name is not None:
            return float(self.spikes[name].sum())
        return float(sum(s.sum() for s in self.spikes.values()))


_TERM = {t: i for i, t in enumerate(CORE_TERMS)}


def prepare(program, schedule: bool = False) -> None:
    """Build the program's counting plan now (before threads share it), with its message
    schedule when ``schedule``."""
    plan = _plan(program, program.routes)
    if schedule:
        _schedule(program, program.routes, plan)


def _plan(program, routes: Routes) -> dict:
    """What counting needs from a program and its routes, computed once per program (cached
    on it: building link incidences is the expensive part)."""
    cache = program.__dict__.setdefault("_activity_plans", {})
    key = id(routes)
    if key in cache and cache[key][0] is routes:
        return cache[key][1]
    hw = program.hw
    pl = program.placement
    n_cores = max(int(pl.slices[:, 3].max(initial=0)), hw.mesh.input_core) + 1
    # Per source: slice starts within the group and the core of each slice.
    slice_at = {INPUT: (np.zeros(1, dtype=np.int64),
                        np.array([hw.mesh.input_core], dtype=np.int64))}
    slices = {INPUT: (np.zeros(1, np.int64), np.array([program.n_inputs], np.int64),
                      np.array([hw.mesh.input_core], np.int64))}
    neurons_of = {}
    for i, g in enumerate(program.groups):
        rows = pl.group_slices(i)
        slice_at[g.name] = (rows[:, 1].copy(), rows[:, 3].copy())
        slices[g.name] = tuple(np.ascontiguousarray(rows[:, j], dtype=np.int64)
                               for j in (1, 2, 3))
        per = np.zeros(n_cores)
        np.add.at(per, rows[:, 3], rows[:, 2] - rows[:, 1])
        neurons_of[g.name] = per                 # neurons of the group on every core
    neurons_per_core = np.zeros(n_cores)
    for _, a, b, c in pl.slices:
        neurons_per_core[c] += b - a
    # Per source: messages per spike, the longest route of a spike (its latency), and
    # every (neuron, destination core) pair with the core it leaves from.
    pairs = {}
    for src in routes.msgs:
        idx, dst = routes.pairs_of(src)
        off = routes.index.offset(src)
        pairs[src] = (idx, dst, routes.src_core[off + idx])
    mesh = routes.mesh
    ops = {p.name: _Pattern(p.conn, slices[p.dst], n_cores) for p in program.projections}
    # Per projection: (steps from sending to delivery, the synapses delivered then).
    arrive = {p.name: [(1, ops[p.name])] if p.delay is None else
              [(1 + k, _Pattern(c, slices[p.dst], n_cores)) for k, c in p.delay.classes(p.conn)]
              for p in program.projections}
    horizon = {g.name: 1 for g in program.groups}      # the farthest delivery into a group
    for p in program.projections:
        horizon[p.dst] = max(horizon[p.dst], *(k for k, _ in arrive[p.name]))
    plan = {"n_cores": n_cores, "slice_at": slice_at, "slices": slices,
            "neurons_of": neurons_of,
            "neurons_per_core": neurons_per_core, "pairs": pairs, "mesh": mesh,
            "msgs": {k: _counts(v) for k, v in routes.msgs.items()},
            "route_s": {k: _ranks(v) for k, v in routes.longest_s.items()},
            "ops": ops,
            "arrive": arrive,
            "horizon": horizon,
            "kind": {p.name: p.conn.kind for p in program.projections},
            "biased": {g.name: np.asarray(g.bias_mant) != 0 for g in program.groups},
            "all_biased": {g.name: g.always_updated
                           for g in program.groups}}
    plan.update(_message_maps(pairs, mesh, n_cores,
                              {**{g.name: g.n for g in program.groups},
                               INPUT: program.n_inputs}))
    plan["tables"] = _event_tables(program, plan)
    plan["slice_of"] = {k: _slice_of(*v) for k, v in slices.items()}
    plan["uniform"] = {k: _uniform(v, plan["msgs"][k], plan["route_s"][k][0])
                       for k, v in slices.items()}
    cache[key] = (routes, plan)
    return plan


def _uniform(slices, msgs, rank) -> tuple | None:
    """``(messages, rank)`` of every neuron of a source on one slice whose neurons all send
    the same messages over the same longest route (a dense layer on one core), else None:
    its per-row counts then follow from its spikes per row (``_uniform_rows``)."""
    starts = slices[0]
    if len(starts) != 1 or not len(msgs) or np.any(msgs != msgs[0]) or np.any(rank != rank[0]):
        return None
    return int(msgs[0]), int(rank[0])


def _schedule(program, routes: Routes, plan: dict):
    """The program's ``schedule.Schedule`` (built on first use, kept in its counting plan)."""
    if "schedule" not in plan:
        plan["schedule"] = build_schedule(
            program, routes, plan["pairs"], plan["slices"],
            {k: (op.fan if op.full is None else None) for k, op in plan["ops"].items()},
            plan["n_cores"])
    return plan["schedule"]


def _event_tables(program, plan) -> dict:
    """Per source, every per-neuron map a spike is counted through, side by side: each
    outgoing projection's ``fan`` (synapses per core), ``to_core`` (messages into every
    core) and ``to_links`` (onto every link in use), as one ``(n, K)`` float64 table (exact:
    integer counts) and the column range of each map. A block's counts are then one pass
    over its spikes, adding a table row per spike (``_event_sums``), instead of a skinny
    product per map (or one product with the whole table, in float32 where exact, for dense
    spikes). None for a source whose table would exceed ``INCIDENCE_ENTRIES``."""
    out = {}
    for src in [INPUT] + [g.name for g in program.groups]:
        maps = [(("fan", p.name), plan["ops"][p.name].fan) for p in program.projections
                if p.src == src and plan["ops"][p.name].full is None]
        if plan["to_core"].get(src) is not None:
            maps.append((("to_core", src), plan["to_core"][src]))
        if plan["to_links"].get(src) is not None and len(plan["used_links"]):
            maps.append((("to_links", src), plan["to_links"][src]))
        if not maps:
            out[src] = None
            continue
        n = maps[0][1].shape[0]
        k = sum(m.shape[1] for _, m in maps)
        if n * k > INCIDENCE_ENTRIES:
            out[src] = None
            continue
        cols, at = {}, 0
        for name, m in maps:
            cols[name] = slice(at, at + m.shape[1])
            at += m.shape[1]
        table = np.ascontiguousarray(np.hstack([m for _, m in maps]), np.float64)
        # the product path in float32 where every row's sum is exact (below 2^24)
        exact32 = np.abs(table).sum(axis=0).max(initial=0) < 2**24
        # the table's nonzeros row by row (a spike reaches a few cores and links of many)
        rows, tcol = np.nonzero(table)
        tptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=tptr[1:])
        per_row = max(len(rows) / max(n, 1), 1.0)
        out[src] = EventTable(table, table.astype(np.float32) if exact32 else table, cols,
                              tptr, tcol.astype(np.int64), table[rows, tcol], k / per_row)
    return out


@dataclass(frozen=True)
class EventTable:
    """A source's per-neuron maps side by side (``_event_tables``): ``table`` ``(n, K)``
    float64, ``product`` the same in float32 where exact, ``cols`` each map's columns, its
    nonzeros row by row (``ptr``, ``col``, ``val``), and ``spread``: columns per nonzero of a
    row (summing a spike's nonzeros beats one product with the whole table below
    ``TABLE_EVENT_COST × spread`` spike density)."""

    table: np.ndarray
    product: np.ndarray
    cols: dict
    ptr: np.ndarray
    col: np.ndarray
    val: np.ndarray
    spread: float


_NO_LIST = np.zeros(1, np.int64)        # stands for the spike lists of a dense source


def _slice_of(starts, ends, cores) -> np.ndarray:
    """Every neuron's slice index (slices are ``[starts[k], ends[k])``)."""
    out = np.zeros(int(ends.max(initial=0)), np.int64)
    for k, (a, b) in enumerate(zip(starts, ends)):
        out[a:b] = k
    return out


def _counts(v) -> np.ndarray:
    """Messages per spike as int64 (they are counts)."""
    out = np.asarray(v).astype(np.int64)
    assert np.array_equal(out, v), "message counts must be integers"
    return out


def _ranks(route_s) -> tuple[np.ndarray, np.ndarray]:
    """Every neuron's longest-route time as a 1-based rank among the distinct times, and the
    table of times by rank (0.0 at rank 0: no spike)."""
    values, rank = np.unique(np.asarray(route_s, np.float64), return_inverse=True)
    return rank.astype(np.int64) + 1, np.concatenate([[0.0], values])


def _message_maps(pairs, mesh, n_cores: int, sizes: dict) -> dict:
    """Per source, a neuron's spike → messages into every core (``to_core``, ``(n, n_cores)``)
    and onto every link some message uses (``to_links``, ``(n, n_used)``): a block's
    message counts are then two products. Links are traced once per distinct (from core,
    to core) path, not per message. A map too large to keep falls back to tracing the
    block's messages (in bounded pieces)."""
    lead = {s: mesh.loads(fc, dst, np.ones(len(idx))) for s, (idx, dst, fc) in pairs.items()}
    used = np.flatnonzero(sum(lead.values(), np.zeros(mesh.n_links)))
    to_core, to_links = {}, {}
    for s, (idx, dst, fc) in pairs.items():
        n = sizes[s]
        to_core[s] = None
        if n * n_cores <= INCIDENCE_ENTRIES:
            m = np.zeros((n, n_cores), dtype=np.float32)
            m[idx, dst] = 1.0                         # each (neuron, core) pair once
            to_core[s] = m
        to_links[s] = None
        if n * len(used) <= INCIDENCE_ENTRIES and len(used):
            keys, path_of = np.unique(fc.astype(np.int64) * n_cores + dst,
                                      return_inverse=True)
            col = np.full(mesh.n_links, -1)
            col[used] = np.arange(len(used))
            pi, link = mesh.path_links(keys // n_cores, keys % n_cores)
            inc = np.zeros((len(keys), len(used)), dtype=np.float32)
            inc[pi, col[link]] = 1.0              # XY routes never reuse a link
            # a neuron's links: the sum over its pairs (grouped by neuron), in pieces
            order = np.argsort(idx, kind="stable")
            m = np.zeros((n, len(used)), dtype=np.float32)
            step = max(1, INCIDENCE_ENTRIES // max(1, len(used)))
            for i in range(0, len(idx), step):
                part = order[i:i + step]
                nb, first = np.unique(idx[part], return_index=True)
                m[nb] += np.add.reduceat(inc[path_of[part]], first, axis=0)
            to_links[s] = m
    return {"used_links": used, "t_link": mesh.seconds_per_message()[used],
            "to_core": to_core, "to_links": to_links}


def _bit_counts_py(bits) -> tuple[np.ndarray, np.ndarray]:
    """Nonzero entries of ``bits`` ``(R, n)`` per row and per column."""
    return np.count_nonzero(bits, axis=1), np.count_nonzero(bits, axis=0)


def _add_term_py(work, term: int, per_core) -> float:
    """``work[:, :, term] += per_core`` (``(R, cores)`` counts); returns their total."""
    work[:, :, term] += per_core
    return float(per_core.sum(dtype=np.float64))


def _add_rows_py(work, out) -> None:
    """``out += work.sum(axis=0)``."""
    out += work.sum(axis=0)


def _source_rows_py(ev, live, recv, anyin, biased, starts, ends, cores, msgs, route, work,
                    t_active, t_spikes, t_msgs_out, route_t, slice_of=None, all_on=False,
                    ptr=None, idx=None, dense=True):
    """One source's per-(row, core) work of a block, in place on ``work`` ``(R, cores,
    terms)`` and ``route_t`` ``(R,)``: active neuron updates (``t_active`` ≥ 0: biased, or
    an event was delivered, or the membrane was live), spikes (``t_spikes`` ≥ 0), messages sent,
    and the longest route of the row's spikes. Returns the active updates counted."""
    R = ev.shape[0]
    on_total = 0
    for k in range(len(starts)):
        a, b, c = starts[k], ends[k], cores[k]
        e = ev[:, a:b]
        if t_active >= 0:
            on = biased[None, a:b] | anyin[:, None]
            if recv.shape[0] == R:
                on = on | recv[:, a:b]
            if live.shape[0] == R:
                on = on | live[:, a:b]
            n_on = np.count_nonzero(on, axis=1)
            work[:, c, t_active] += n_on
            on_total += int(n_on.sum())
        if t_spikes >= 0:
            work[:, c, t_spikes] += np.count_nonzero(e, axis=1)
        work[:, c, t_msgs_out] += e.astype(np.int64) @ msgs[a:b]
        rank, table = route
        top = np.where(e, rank[None, a:b], 0).max(axis=1, initial=0)
        route_t[:] = np.maximum(route_t, table[top])
    return on_total


if numba is not None:
    @numba.njit(cache=True, nogil=True)
    def _slice_on(live, recv, on_row, biased):
        # integer-only and branch-free over views of one slice, so that LLVM vectorizes it
        n_on = 0
        for i in range(live.shape[0]):
            n_on += on_row | np.int64(biased[i]) | np.int64(recv[i]) | np.int64(live[i])
        return n_on

    @numba.njit(cache=True, nogil=True, inline="always")
    def _slice_counts(ev, live, recv, on_row, biased, msgs, rank, on):
        # one slice of one row in one vectorized pass: active updates (when ``on``, a
        # constant at each call site: the input's and all-biased groups' need none),
        # spikes, messages and the longest route's rank (integer-only and branch-free, so
        # that LLVM vectorizes it)
        n_on = 0
        n_sp = 0
        m = 0
        rt = 0
        for i in range(ev.shape[0]):
            e = np.int64(ev[i] != 0)
            if on:
                n_on += on_row | np.int64(biased[i]) | np.int64(recv[i]) | np.int64(live[i])
            n_sp += e
            m += e * msgs[i]
            rt = max(rt, e * rank[i])
        return n_on, n_sp, m, rt

    @numba.njit(cache=True, nogil=True, inline="always")
    def _add_slice(work, r, c, t_spikes, t_msgs_out, n_sp, m):
        # one slice's spikes and messages of row r, to its core c
        if t_spikes >= 0:
            work[r, c, t_spikes] += n_sp
        work[r, c, t_msgs_out] += m

    @numba.njit(cache=True, nogil=True)
    def _source_rows(ev, live, recv, anyin, biased, starts, ends, cores, msgs, route, work,
                     t_active, t_spikes, t_msgs_out, route_t, slice_of, all_on, ptr, idx,
                     dense):
        # Per row: active updates per slice (every neuron of a slice when ``all_on``: all
        # biased; otherwise one vectorized pass over its flags), then the row's spikes
        # (``linalg.spike_lists``), each adding to its slice's core: a spike, its messages and
        # the longest route (route = (rank of every neuron's longest route among the
        # source's distinct values (1-based), those values with 0.0 first)). ``dense``
        # (many spikes): all of it in one vectorized pass per slice instead.
        rank, table = route
        R, n = ev.shape
        has_recv = recv.shape[0] == R
        has_live = live.shape[0] == R
        count_on = t_active >= 0
        off = np.zeros(n, np.bool_)                  # stands for an absent array
        bias = biased if count_on else off
        on_total = 0
        for r in range(R):
            if dense:
                lr = live[r] if has_live else off
                rr = recv[r] if has_recv else off
                on_row = np.int64(anyin[r]) if count_on else np.int64(0)
                rt = 0
                for k in range(starts.shape[0]):
                    a = starts[k]
                    b = ends[k]
                    c = cores[k]
                    if count_on and not all_on:
                        n_on, n_sp, m, rk = _slice_counts(ev[r, a:b], lr[a:b], rr[a:b], on_row,
                                                          bias[a:b], msgs[a:b], rank[a:b],
                                                          True)
                    else:
                        n_on, n_sp, m, rk = _slice_counts(ev[r, a:b], lr[a:b], rr[a:b], on_row,
                                                          bias[a:b], msgs[a:b], rank[a:b],
                                                          False)
                    if count_on:
                        n_on = b - a if all_on else n_on
                        work[r, c, t_active] += n_on
                        on_total += n_on
                    if t_spikes >= 0:
                        work[r, c, t_spikes] += n_sp
                    work[r, c, t_msgs_out] += m
                    rt = max(rt, rk)
                if table[rt] > route_t[r]:
                    route_t[r] = table[rt]
                continue
            if count_on:
                lr = live[r] if has_live else off
                rr = recv[r] if has_recv else off
                on_row = np.int64(anyin[r])
                for k in range(starts.shape[0]):
                    a = starts[k]
                    b = ends[k]
                    n_on = b - a if all_on else _slice_on(lr[a:b], rr[a:b], on_row,
                                                          biased[a:b])
                    work[r, cores[k], t_active] += n_on
                    on_total += n_on
            # a row's spikes come in column order and slices are column ranges, so a
            # slice's spikes are consecutive: summed in registers, added to its core when
            # the slice changes (adding spike by spike to ``work`` chains every addition
            # through memory: digits' 512-neuron layer 0.40 -> 0.28 ms)
            rt = 0
            k_at = -1
            n_sp = 0
            m = 0
            for q in range(ptr[r], ptr[r + 1]):
                j = idx[q]
                k = slice_of[j]
                if k != k_at:
                    if k_at >= 0:
                        _add_slice(work, r, cores[k_at], t_spikes, t_msgs_out, n_sp, m)
                    k_at = k
                    n_sp = 0
                    m = 0
                n_sp += 1
                m += msgs[j]
                rt = max(rt, rank[j])
            if k_at >= 0:
                _add_slice(work, r, cores[k_at], t_spikes, t_msgs_out, n_sp, m)
            if table[rt] > route_t[r]:
                route_t[r] = table[rt]
        return on_total

    @numba.njit(cache=True, nogil=True)
    def _event_sums(ptr, idx, tptr, tcol, tval, out):
        # out[r] += Σ table[j] over row r's spikes j, the table by its nonzeros row by row
        for r in range(ptr.shape[0] - 1):
            o = out[r]
            for q in range(ptr[r], ptr[r + 1]):
                j = idx[q]
                for e in range(tptr[j], tptr[j + 1]):
                    o[tcol[e]] += tval[e]
        return out

    @numba.njit(cache=True, nogil=True)
    def _add_term(work, term, per_core):
        # _add_term_py in one pass outside the GIL (numpy's strided adds and sum: ~0.25 ms
        # of a digits run); the counts are whole numbers, so any order of addition is exact
        total = 0.0
        for r in range(per_core.shape[0]):
            for c in range(per_core.shape[1]):
                x = per_core[r, c]
                work[r, c, term] += x
                total += x
        return total

    @numba.njit(cache=True, nogil=True)
    def _add_rows(work, out):
        # _add_rows_py row by row (whole numbers: exact in any order)
        for r in range(work.shape[0]):
            for c in range(work.shape[1]):
                for k in range(work.shape[2]):
                    out[c, k] += work[r, c, k]

    @numba.njit(cache=True, nogil=True)
    def _uniform_rows(cnt, work, c, t_active, n_active, t_spikes, t_msgs_out, msgs0, route0,
                      route_t):
        # _source_rows for a source of one slice on core c whose neurons all send msgs0
        # messages over a route of route0 seconds, and whose active updates are all its
        # n_active neurons every row (or not counted): from its spikes per row alone
        for r in range(cnt.shape[0]):
            k = cnt[r]
            if t_active >= 0:
                work[r, c, t_active] += n_active
            if t_spikes >= 0:
                work[r, c, t_spikes] += k
            work[r, c, t_msgs_out] += k * msgs0
            if k > 0 and route0 > route_t[r]:
                route_t[r] = route0
        return n_active * cnt.shape[0] if t_active >= 0 else 0

    @numba.njit(cache=True, nogil=True)
    def _bit_counts(bits):
        # one pass for both (numpy's count_nonzero along an axis is two slow ones)
        R, n = bits.shape
        rows = np.zeros(R, np.int64)
        cols = np.zeros(n, np.int64)
        for r in range(R):
            t = 0
            row = bits[r]
            for i in range(n):
                e = np.int64(row[i])
                cols[i] += e
                t += e
            rows[r] = t
        return rows, cols

    @numba.njit(cache=True, nogil=True)
    def _any_events(bits, nz_T, rows, out):
        # out[rows[k]] |= nz_T[j] for every event j of row k
        n_post = nz_T.shape[1]
        for k in range(bits.shape[0]):
            r = rows[k]
            for j in range(bits.shape[1]):
                if bits[k, j]:
                    for i in range(n_post):
                        out[r, i] |= nz_T[j, i]
        return out
else:  # pragma: no cover
    _event_sums = _uniform_rows = None
    _add_term = _add_term_py
    _add_rows = _add_rows_py
    _source_rows = _source_rows_py
    _bit_counts = _bit_counts_py
    _any_events = None


class ActivityCounter:
    """Streaming counter: call ``count(x, spikes, live)`` on consecutive blocks of steps (or
    ``step`` one step at a time); ``result()`` gives the totals. A block's rows (steps ×
    samples) are counted together, so a whole run costs a few matrix products.

    ``schedule``: also time every step as SANA-FE's ``detailed`` model does
    (``cost/schedule.py``, ``schedule_rows``: every message in order), into
    ``Activity.step_scheduled``. Off by default: it visits every message one by one
    (measured 140-210 ns a message on digits and on the MLP of ``benchmarks/speed.py``,
    where the rest of the counting costs 10-30 ns a message). ``link_buffer``: messages per
    link buffer, above which a sender blocks (SANA-FE's ``loihi.yaml`` has 16); default the
    config's ``latency.link_buffer_messages`` (``inf``: senders never block)."""

    def __init__(self, program, batch: int, routes: Routes | None = None,
                 schedule: bool = False, link_buffer: float | None = None):
        self.prog = program
        self.batch = batch
        hw = program.hw
        self.routes = routes or program.routes
        plan = _plan(program, self.routes)
        self.__dict__.update(plan)
        self.names = [g.name for g in program.groups]
        self.sizes = {g.name: g.n for g in program.groups}
        self.spikes = {n: np.zeros(self.sizes[n]) for n in self.names}
        self.synops = {p.name: 0.0 for p in program.projections}
        self.active = {n: 0.0 for n in self.names}
        self.input_events = 0.0
        self.core_work = np.zeros((self.n_cores, len(CORE_TERMS)))
        self.steps = 0
        self.membrane_traced = True
        self.link_load = np.zeros(self.mesh.n_links)
        self.step_parts: list[np.ndarray] = []
        self.step_scheduled: list[np.ndarray] = []
        self.sched = _schedule(program, self.routes, plan) if schedule else None
        if self.sched is not None and link_buffer is not None:
            self.sched = replace(self.sched, link_buffer=float(link_buffer))
        self.seconds = seconds_per_event(hw)
        self.input_per_channel = np.zeros(program.n_inputs)
        # Deliveries past the last counted step, per group: (horizon, B) "every neuron" rows
        # and (horizon, B, n) per-neuron masks (None: none yet).
        self.due = {n: (np.zeros((self.horizon[n], batch), np.bool_), None)
                    for n in self.names}

    def _alike(self, src: str) -> bool:
        """Whether ``src`` is counted from its spikes per row (``UNIFORM_SOURCES``): its
        neurons alike, and no per-neuron flags needed for its active updates."""
        return UNIFORM_SOURCES and _uniform_rows is not None and \
            self.uniform[src] is not None and (src == INPUT or self.all_biased[src])

    def _per_core(self, values: np.ndarray, src: str) -> np.ndarray:
        """(R, n) → (R, n_cores) sums by the core each neuron sits on (slices are
        contiguous, so one ``reduceat`` per group)."""
        out = np.zeros((values.shape[0], self.n_cores))
        starts, cores = self.slice_at[src]
        if values.shape[1] and len(starts):
            np.add.at(out, (slice(None), cores), np.add.reduceat(values, starts, axis=1))
        return out

    def step(self, x_t: np.ndarray, spikes_t: dict[str, np.ndarray],
             live_t: dict[str, np.ndarray] | None = None) -> None:
        """One step: ``x_t`` (B, n_in) input payloads; ``spikes_t`` group → (B, n) bool;
        ``live_t`` group → (B, n) bool, the membrane was nonzero before this step (None when
        the backend does not trace it: updates are then counted from inputs and biases
        only, a lower bound)."""
        self.count(x_t[None], {n: s[None] for n, s in spikes_t.items()},
                   None if live_t is None else
                   {n: None if v is None else v[None] for n, v in live_t.items()})

    def count(self, x: np.ndarray, spikes: dict[str, np.ndarray],
              live: dict[str, np.ndarray] | None = None, lists: dict | None = None) -> None:
        """Consecutive steps: ``x`` (T, B, n_in); ``spikes``/``live`` group → (T, B, n);
        ``lists``: group → its spikes already listed (``linalg.spike_lists`` over the
        ``T·B`` rows), for groups the backend listed."""
        T = x.shape[0]
        width = max([self.n_cores * len(CORE_TERMS), x.shape[2]] + list(self.sizes.values()))
        tb = _row_blocks(self.batch, width)
        B = self.batch
        for t0 in range(0, T, tb):
            t1 = min(T, t0 + tb)
            self._rows(x[t0:t1], {n: spikes[n][t0:t1] for n in self.names},
                       None if live is None else
                       {n: None if live.get(n) is None else live[n][t0:t1] for n in self.names},
                       {n: rows_of_lists(q, t0 * B, t1 * B) for n, q in (lists or {}).items()})

    def _rows(self, x, spikes, live, given: dict) -> None:
        T, B = x.shape[:2]
        R = T * B
        bits = {INPUT: np.ascontiguousarray(x.reshape(R, -1) != 0)}
        for n in self.names:
            sp = spikes[n].reshape(R, -1)
            bits[n] = np.ascontiguousarray(sp if sp.dtype == np.bool_ else sp != 0)
        counts, lists, dense, by_events, total = {}, {}, {}, {}, {}
        for src, b in bits.items():                 # events per row and per neuron
            b8 = b.view(np.uint8)
            # numpy's count is SIMD; a backend's lists hold the count already
            nnz = total[src] = len(given[src][1]) if src in given else np.count_nonzero(b8)
            dense[src] = nnz >= SPIKE_LIST_DENSITY * max(b8.size, 1)
            t = self.tables[src]
            by_events[src] = _event_sums is not None and t is not None and \
                nnz < min(1.0, TABLE_EVENT_COST * t.spread) * max(b8.size, 1)
            if src in given or (not dense[src] and not self._alike(src)) or by_events[src] \
                    or self.sched is not None:
                # the lists: for sparse sources (an alike one is counted from its spikes
                # per row), per-spike table sums, and the schedule; a backend's, when given
                lists[src] = ptr, idx = given[src] if src in given else spike_lists(b, nnz)
                counts[src] = ptr[1:] - ptr[:-1]
                per_neuron = column_counts(idx, b.shape[1])
            else:                                   # dense: counted in vectorized passes
                lists[src] = None
                counts[src], per_neuron = _bit_counts(b8)
            if src == INPUT:
                self.input_per_channel += per_neuron
            else:
                self.spikes[src] += per_neuron
        self.input_events += float(total[INPUT])
        events: dict[str, np.ndarray] = {}

        def ev(src):                       # 0/1 float32 rows, made once and only if needed
            if src not in events:
                events[src] = bits[src].view(np.uint8).astype(np.float32)
            return events[src]

        sums: dict[str, tuple | None] = {}

        def summed(src, name):             # a per-neuron map summed over each row's spikes
            if src not in sums:
                t = self.tables[src]
                if lists[src] is not None and by_events[src]:
                    sums[src] = _event_sums(*lists[src], t.ptr, t.col, t.val,
                                            np.zeros((R, t.table.shape[1])))
                elif t.product.dtype == np.float32:
                    sums[src] = ev(src) @ t.product
                else:
                    sums[src] = bits[src].view(np.uint8).astype(np.float64) @ t.table
            return sums[src][:, self.tables[src].cols[name]]

        # This block's events per row (step, sample) and core, one column per CORE_TERMS entry.
        work = np.zeros((R, self.n_cores, len(CORE_TERMS)))
        work[:, :, _TERM["neurons"]] = self.neurons_per_core[None, :]
        # Synaptic events delivered (integrated) in this block's steps and the next ones:
        # (T + horizon, B) rows where every neuron gets one, (T + horizon, B, n) where some do.
        every = {}
        some = {}
        for n in self.names:
            ahead, masks = self.due[n]
            every[n] = np.zeros((T + len(ahead), B), np.bool_)
            every[n][:len(ahead)] = ahead
            some[n] = None
            if masks is not None:
                some[n] = np.zeros((T + len(ahead), B, self.sizes[n]), np.bool_)
                some[n][:len(ahead)] = masks
        for p in self.prog.projections:
            if not total[p.src]:
                continue
            c = counts[p.src]
            pat = self.ops[p.name]
            col = _TERM["synops_" + self.kind[p.name]]
            if pat.full is not None:
                r = pat.full(ev(p.src))
                self.synops[p.name] += float(r.sum(dtype=np.float64))
                work[:, :, col] += self._per_core(r, p.dst)
            else:
                per_core = summed(p.src, ("fan", p.name)) if self.tables[p.src] is not None \
                    else ev(p.src) @ pat.fan
                self.synops[p.name] += _add_term(work, col, per_core)
            if self.all_biased[p.dst]:      # updated every step anyway
                continue
            for k, q in self.arrive[p.name]:
                if q.full is not None:
                    got = (r if q is pat else q.full(ev(p.src))) > 0
                else:
                    got = q.received(ev(p.src), c, bits[p.src])
                if got is None:             # every neuron of every row with an event
                    every[p.dst][k:k + T] |= (c > 0).reshape(T, B)
                    continue
                if some[p.dst] is None:
                    some[p.dst] = np.zeros((T + self.horizon[p.dst], B, self.sizes[p.dst]),
                                           np.bool_)
                some[p.dst][k:k + T] |= got.reshape(T, B, -1)
        anyin, received = {}, {}
        for n in self.names:
            anyin[n] = every[n][:T].reshape(R)
            received[n] = None if some[n] is None else some[n][:T].reshape(R, -1)
            self.due[n] = (every[n][T:].copy(), None if some[n] is None or
                           not some[n][T:].any() else some[n][T:].copy())
        route_t = np.zeros(R)
        links = np.zeros((R, len(self.used_links)))
        none = np.zeros((0, 0), np.bool_)
        if live is None:
            self.membrane_traced = False
        walks = {}                          # per group: its soma walk (cost/schedule.py)
        for src in [INPUT] + self.names:
            group = src != INPUT
            if not group and not total[src]:
                continue
            starts, ends, cores = self.slices[src]
            traced = group and live is not None and live.get(src) is not None
            if group and live is not None and not traced and not self.all_biased[src]:
                self.membrane_traced = False     # a lower bound, as without any liveness
            lv = np.ascontiguousarray(live[src].reshape(R, -1)) if traced \
                else np.zeros((0, 0), np.bool_)
            rc = received[src] if group and received[src] is not None else none
            alike = self.uniform[src]
            if self._alike(src):
                n_on = _uniform_rows(counts[src], work, cores[0],
                                     _TERM["active"] if group else -1, ends[0] - starts[0],
                                     _TERM["spikes"] if group else -1, _TERM["msgs_out"],
                                     alike[0], self.route_s[src][1][alike[1]], route_t)
            else:
                n_on = _source_rows(
                    bits[src], lv, np.ascontiguousarray(rc),
                    anyin[src] if group else np.zeros(R, np.bool_),
                    self.biased[src] if group else np.zeros(0, np.bool_), starts, ends, cores,
                    self.msgs[src], self.route_s[src], work, _TERM["active"] if group else -1,
                    _TERM["spikes"] if group else -1, _TERM["msgs_out"], route_t,
                    self.slice_of[src], group and self.all_biased[src],
                    *(lists[src] or (_NO_LIST, _NO_LIST)), dense[src])
            if group:
                self.active[src] += float(n_on)
                if self.sched is not None:
                    walks[src] = soma_walk(bits[src], *lists[src], lv, rc, anyin[src],
                                           self.biased[src], self.msgs[src] > 0, starts,
                                           ends, self.all_biased[src], self.sched.soma_s)
            if not total[src]:
                continue
            tabled = self.tables[src] is not None
            if self.to_core[src] is not None:
                _add_term(work, _TERM["msgs_in"], summed(src, ("to_core", src)) if tabled
                          else ev(src) @ self.to_core[src])
            if self.to_links[src] is not None and len(self.used_links):
                links += summed(src, ("to_links", src)) if tabled else ev(src) @ self.to_links[src]
            if self.to_core[src] is None or (self.to_links[src] is None and
                                             len(self.used_links)):
                self._trace_messages(src, bits[src], work, links)
        _add_rows(work, self.core_work)
        self.link_load[self.used_links] += links.sum(axis=0)
        parts = step_parts(work, links, route_t, self.seconds, self.t_link)   # (4, R)
        if self.sched is not None:
            # no step ends before its busiest link has carried its messages (SANA-FE's
            # links have no occupancy: on its one chip this never binds, between chips it
            # may)
            self.step_scheduled.extend(np.maximum(schedule_rows(
                self.sched, R, walks, lists, self.slice_of,
                {k: v[2] for k, v in self.slices.items()}), parts[1]).reshape(T, B))
        parts = parts.reshape(4, T, B)
        self.step_parts.extend(parts[:, t] for t in range(T))
        self.steps += T

    def _trace_messages(self, src, bits, work, links) -> None:
        """Messages into cores and onto links pair by pair, for sources too large for the
        per-neuron maps; rows in pieces of bounded size."""
        idx, dst, from_core = self.pairs[src]
        R = len(bits)
        rows = max(1, INCIDENCE_ENTRIES // 4 // max(1, len(idx)))
        for r0 in range(0, R, rows):
            sent = bits[r0:r0 + rows][:, idx]                # (rows, n_pairs) messages
            k = len(sent)
            if self.to_core[src] is None:
                flat = (np.arange(k)[:, None] * self.n_cores + dst[None, :])[sent]
                work[r0:r0 + k, :, _TERM["msgs_in"]] += np.bincount(
                    flat, minlength=k * self.n_cores).reshape(k, self.n_cores)
            if self.to_links[src] is None and len(self.used_links):
                links[r0:r0 + k] += self.mesh.loads(from_core, dst, sent)[:, self.used_links]

    def result(self) -> Activity:
        return Activity(
            batch=self.batch, steps_run=self.steps, groups=list(self.names),
            neurons=dict(self.sizes), spikes=self.spikes, synops=self.synops,
            synops_kind=self.kind, active_updates=self.active, input_events=self.input_events,
            input_per_channel=self.input_per_channel,
            core_work=self.core_work,
            step_parts=self.step_parts, step_scheduled=self.step_scheduled,
            link_load=self.link_load, routes=self.routes,
            membrane_traced=self.membrane_traced)


def count_trace(program, payload: np.ndarray, trace, schedule: bool = False,
                link_buffer: float | None = None, routes: Routes | None = None) -> Activity:
    """Count a recorded run again: ``payload`` ``(steps_run, B, n_in)`` as ``run`` fed it
    (``neurocc.backends.payloads``), ``trace`` holding every layer's spikes (``run``'s
    ``record="all"``, its default for runs that fit in memory). With ``schedule`` the
    activity carries the scheduled step times (``ActivityCounter``; ``link_buffer`` as
    there), which ``cost.energy.estimate`` then reports beside the two-chain latency."""
    c = ActivityCounter(program, payload.shape[1], routes, schedule=schedule,
                        link_buffer=link_buffer)
    c.count(payload, trace.spikes, trace.liveness([g.name for g in program.groups]))
    return c.result()


def merge_activity(parts: list[Activity]) -> Activity:
    """Activities of consecutive chunks of samples (same program and steps) as one: totals
    summed (integer counts, exact in any order), per-sample latency parts concatenated."""
    first = parts[0]

    def total(field):
        return {k: sum(getattr(p, field)[k] for p in parts) for k in getattr(first, field)}

    return Activity(
        batch=sum(p.batch for p in parts), steps_run=first.steps_run,
        groups=list(first.groups), neurons=dict(first.neurons), spikes=total("spikes"),
        synops=total("synops"), synops_kind=dict(first.synops_kind),
        active_updates=total("active_updates"),
        input_events=sum(p.input_events for p in parts),
        input_per_channel=sum(p.input_per_channel for p in parts),
        core_work=sum(p.core_work for p in parts),
        step_parts=[np.concatenate(s, axis=1) for s in zip(*(p.step_parts for p in parts))],
        step_scheduled=[np.concatenate(s) for s in zip(*(p.step_scheduled for p in parts))]
        if all(p.step_scheduled for p in parts) else [],
        link_load=sum(p.link_load for p in parts), routes=first.routes,
        membrane_traced=all(p.membrane_traced for p in parts))
