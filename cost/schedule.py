"""Latency, scheduled: every message of a step in its order, as SANA-FE's default
``detailed`` model (``src/schedule.cpp``, ``schedule_messages_timestep_detailed``) has it
(``Schedule``, ``schedule_rows``; ``scheduled_per_inference_s`` in the latency breakdown,
only when counted with ``ActivityCounter(schedule=True)`` or ``run(...,
scheduled_latency=True)``: it visits every message, several times the cost of the rest of
the counting). ``cost/latency.py`` has the two-chain estimate, the headline one. The same
work as there, in its order:

- a core walks its neurons in placement order (the host input's units first on
  ``mesh.input_core``), each taking ``neuron_access_s`` (+ ``neuron_update_s`` when active,
  + ``spike_out_s`` when it fires); a spike's messages (one per destination core, in core
  order) leave one after another, ``message_out_s`` each, when the walk reaches the neuron;
- a message reaches its core after ``network = max(route latency, messages along its route
  × mean receive time of the messages in flight / (hops + 1))`` (SANA-FE's congestion
  heuristic: a message in flight adds ``1/(hops + 2)`` to each of the ``hops + 1`` buffers
  on its way, the sending core's port and the links' input buffers; it stays in flight until
  its receiver starts on it);
- a receiving core takes its messages first come first served, each for ``message_in_s``
  plus its synaptic events; it cannot start on one before it arrives;
- a sender blocks, for ``(messages along the route − (hops + 1) × link buffer) × mean
  receive time``, when its route holds more than ``hops + 1`` link buffers of messages
  (16 a buffer in SANA-FE's ``loihi.yaml``): ``latency.link_buffer_messages`` of the
  config, or the counter's ``link_buffer=`` (``inf``: no sender blocks);
- the step ends at the last event, or once its busiest link has carried its messages if
  that is later (the two-chain link term: SANA-FE's links have no occupancy, and on its
  one chip this never binds; between chips, at ``chip_crossing_s`` a message, it may),
  plus the barrier.

Times are added in SANA-FE's order, so that events which coincide there coincide here.
Measured against SANA-FE 2.2.9 (``tests/test_sanafe.py``): equal step by step to rounding on
digits and the synthetic programs on one tile, blocking included. Over several tiles
SANA-FE does not repeat itself (it orders a neuron's messages by its destination cores'
memory addresses) and breaks ties between equal send times its own way (here: the lower
core first); there the two differed by up to 3 % per inference and 8 % per step (the seven
synthetic programs at 3 and 17 neurons per core, digits at 64 and 100; six SANA-FE runs
each, which themselves spread by up to 2.8 % per inference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurocc.api.jit import numba  # None without neurocc[fast]: plain Python runs alike
from neurocc.compiler.ir.graph import INPUT
from neurocc.compiler.mesh import path_counts
from neurocc.compiler.resources import pattern

WINDOW = 1 << 22
"""Synapses listed at once when counting a large projection's synapses per message (working
memory, not a limit)."""


@dataclass(frozen=True, eq=False)
class Schedule:
    """What ``schedule_rows`` needs of a program, computed once per program and routes.

    Slices in core order: global slice 0 is the host input's units on ``mesh.input_core``,
    then the placement's slices in order; ``g_core`` ``(G,)`` is each one's core, ``rank``
    (source → ``(slices,)``) the global slice of each of a source's slices, and core ``c``
    walks ``core_slices[core_ptr[c]:core_ptr[c + 1]]`` in that order. Messages: source
    neuron ``j`` sends pairs ``ptr[j]:ptr[j + 1]`` of ``pairs[source] = (ptr, dst, receive_s,
    path)``, in destination core order: the receiving core's time for one (``message_in_s``
    then each synaptic event's latency, added in turn as SANA-FE does) and its path. Path
    ``k``: buffers ``keys[kptr[k]:kptr[k + 1]]`` (the sending core's port ``n_links + core``,
    then the links), ``hops[k]`` links, ``hop_s[k]`` seconds of route latency."""

    g_core: np.ndarray
    rank: dict
    core_ptr: np.ndarray
    core_slices: np.ndarray
    pairs: dict
    kptr: np.ndarray
    keys: np.ndarray
    hops: np.ndarray
    hop_s: np.ndarray
    n_keys: int
    n_cores: int
    soma_s: tuple          # (access, update, spike out) seconds
    message_out_s: float
    link_buffer: float     # messages per link buffer; inf: senders never block


def build_schedule(program, routes, pairs: dict, slices: dict, fans: dict,
                   n_cores: int) -> Schedule:
    """``Schedule`` from the counting plan's pieces: ``pairs`` (source → (neuron, destination
    core, sending core) of every message pair), ``slices`` (source → (starts, ends, cores)),
    ``fans`` (projection → ``(n_pre, n_cores)`` synapses per neuron and core, or None when
    the projection is too large for one: its synapses are then listed in windows)."""
    hw = program.hw
    lat = hw.latency
    mesh = routes.mesh
    pl = program.placement
    g_core = np.concatenate([[hw.mesh.input_core], pl.slices[:, 3]]).astype(np.int64)
    rank = {INPUT: np.zeros(1, np.int64),
            **{g.name: np.flatnonzero(pl.slices[:, 0] == i) + 1
               for i, g in enumerate(program.groups)}}
    core_slices = np.lexsort((np.arange(len(g_core)), g_core))
    core_ptr = np.zeros(n_cores + 1, np.int64)
    np.cumsum(np.bincount(g_core, minlength=n_cores), out=core_ptr[1:])
    kinds = ("dense", "sparse", "conv")
    synop_s = dict(zip(kinds, (lat.synop_dense_s, lat.synop_sparse_s, lat.synop_conv_s)))
    out, path_key = {}, {}
    for src, (idx, dst, from_core) in pairs.items():
        order = np.lexsort((dst, idx))
        idx, dst, from_core = idx[order], dst[order].astype(np.int64), from_core[order]
        n = program.n_inputs if src == INPUT else program.group(src).n
        ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(idx, minlength=n), out=ptr[1:])
        keys = idx.astype(np.int64) * n_cores + dst
        events = {k: np.zeros(len(idx)) for k in kinds}
        for p in program.projections:
            if p.src == src:
                events[p.conn.kind] += (fans[p.name][idx, dst] if fans[p.name] is not None
                                        else _window_counts(p.conn, slices[p.dst], n_cores,
                                                            keys))
        out[src] = (ptr, dst, _receive_s(events, synop_s, lat.message_in_s))
        path_key[src] = from_core.astype(np.int64) * n_cores + dst
    # One path per distinct (from core, to core); every pair gets its path's number.
    pk, inverse = np.unique(np.concatenate([np.zeros(0, np.int64), *path_key.values()]),
                            return_inverse=True)
    at = np.cumsum([0] + [len(v) for v in path_key.values()])
    for i, src in enumerate(path_key):
        out[src] += (inverse[at[i]:at[i + 1]].astype(np.int64),)
    a, b = pk // n_cores, pk % n_cores
    msg, link = mesh.path_links(a, b) if len(pk) else (np.zeros(0, np.int64),) * 2
    hops = np.bincount(msg, minlength=len(pk)).astype(np.int64)
    kptr = np.zeros(len(pk) + 1, np.int64)
    np.cumsum(hops + 1, out=kptr[1:])
    keys = np.empty(kptr[-1], np.int64)
    keys[kptr[:-1]] = mesh.n_links + a                  # the sending core's port
    at = np.argsort(msg, kind="stable")                # each path's links together
    fill = np.repeat(kptr[:-1] + 1, hops) + np.arange(len(at)) \
        - np.repeat(np.cumsum(hops) - hops, hops)
    keys[fill] = link[at]
    ew, ns, cr = path_counts(a, b, hw)
    buffer = lat.link_buffer_messages
    return Schedule(g_core=g_core, rank=rank, core_ptr=core_ptr, core_slices=core_slices,
                    pairs=out, kptr=kptr, keys=keys, hops=hops,
                    hop_s=np.asarray(ew * lat.hop_ew_s + ns * lat.hop_ns_s
                                     + cr * lat.chip_crossing_s, np.float64),
                    n_keys=mesh.n_links + n_cores, n_cores=n_cores,
                    soma_s=(lat.neuron_access_s, lat.neuron_update_s, lat.spike_out_s),
                    message_out_s=lat.message_out_s,
                    link_buffer=float("inf") if buffer is None else float(buffer))


def _receive_s(events: dict, synop_s: dict, message_in_s: float) -> np.ndarray:
    """A receiving core's time per message: ``message_in_s``, then each synaptic event's
    latency added in turn (SANA-FE's order of float additions, so that times which coincide
    there coincide here), or as one product where a message drives several kinds."""
    out = np.full(len(next(iter(events.values()))), message_in_s)
    several = sum((e > 0).astype(int) for e in events.values()) > 1
    for kind, e in events.items():
        n = e.astype(np.int64)
        one = (n > 0) & ~several
        if one.any():
            table = np.cumsum(np.r_[message_in_s, np.full(int(n.max()), synop_s[kind])])
            out[one] = table[n[one]]
        out[several] += e[several] * synop_s[kind]
    return out


def _window_counts(conn, dst_slices, n_cores: int, keys: np.ndarray) -> np.ndarray:
    """Synapses of ``conn`` per message pair (``keys`` = neuron · n_cores + core, sorted),
    listing the synapses of every destination slice in windows of about ``WINDOW``."""
    out = np.zeros(len(keys))
    pat = pattern(conn)
    step = max(1, WINDOW // max(1, int(pat.rows().max(initial=1))))
    for a, b, c in zip(*dst_slices):
        for lo in range(int(a), int(b), step):
            _, cols = pat.window(lo, min(int(b), lo + step))
            u, n = np.unique(cols, return_counts=True)
            np.add.at(out, np.searchsorted(keys, u * n_cores + int(c)), n)
    return out


def _jit(f):
    return numba.njit(cache=True, nogil=True)(f) if numba is not None else f


@_jit
def _heap_push(key, val, n, k, v):
    # min-heap of (key, val) in key[:n], val[:n]; ties go to the smaller val
    i = n
    key[i] = k
    val[i] = v
    while i > 0:
        p = (i - 1) >> 1
        if key[p] < key[i] or (key[p] == key[i] and val[p] <= val[i]):
            break
        key[p], key[i] = key[i], key[p]
        val[p], val[i] = val[i], val[p]
        i = p
    return n + 1


@_jit
def _heap_pop(key, val, n):
    # drop the top (read key[0], val[0] first)
    n -= 1
    key[0] = key[n]
    val[0] = val[n]
    i = 0
    while True:
        small = i
        for ch in (2 * i + 1, 2 * i + 2):
            if ch < n and (key[ch] < key[small] or
                           (key[ch] == key[small] and val[ch] < val[small])):
                small = ch
        if small == i:
            return n
        key[small], key[i] = key[i], key[small]
        val[small], val[i] = val[i], val[small]
        i = small


@_jit
def _generation(lo, hi, r, m_core, m_first, m_gap, m_g, tail, core_ptr, core_slices,
                out_s, gen, rest):
    # Each message's time after the one before it on its core (the walk since then, then
    # message_out_s), and each core's walk after its last message (rest), as SANA-FE's
    # next_message_generation_delay accumulates them.
    n_cores = core_ptr.shape[0] - 1
    m = lo
    for c in range(n_cores):
        si = core_ptr[c]
        acc = 0.0
        while m < hi and m_core[m] == c:
            if m_first[m]:
                while core_slices[si] != m_g[m]:
                    acc += tail[r, core_slices[si]]
                    si += 1
                gen[m] = (acc + m_gap[m]) + out_s
                acc = 0.0
            else:
                gen[m] = acc + out_s
            m += 1
        for s in range(si, core_ptr[c + 1]):
            acc += tail[r, core_slices[s]]
        rest[c] = acc


@_jit
def _schedule_kernel(row_ptr, m_core, m_first, m_gap, m_g, m_dst, m_receive, m_path, tail,
                     core_ptr, core_slices, kptr, keys, hops, hop_s, n_keys, out_s, buffer,
                     out):
    R = tail.shape[0]
    n_cores = core_ptr.shape[0] - 1
    first = np.full(n_cores, -1, np.int64)
    end = np.zeros(n_cores, np.int64)
    nxt = np.zeros(n_cores, np.int64)
    rest = np.zeros(n_cores)
    done = np.zeros(n_cores)                  # when each core finishes its last message
    density = np.zeros(n_keys)
    ck = np.zeros(n_cores)
    cv = np.zeros(n_cores, np.int64)
    gen = np.zeros(m_core.shape[0])
    most = 1
    for r in range(R):
        most = max(most, row_ptr[r + 1] - row_ptr[r])
    fk = np.zeros(most)
    fv = np.zeros(most, np.int64)
    for r in range(R):
        lo, hi = row_ptr[r], row_ptr[r + 1]
        _generation(lo, hi, r, m_core, m_first, m_gap, m_g, tail, core_ptr, core_slices,
                    out_s, gen, rest)
        first[:] = -1
        for m in range(hi - 1, lo - 1, -1):   # a row's messages are in core order
            first[m_core[m]] = m
            if m == hi - 1 or m_core[m + 1] != m_core[m]:
                end[m_core[m]] = m + 1
        nc = 0
        for c in range(n_cores):
            if first[c] >= 0:
                nxt[c] = first[c]
                nc = _heap_push(ck, cv, nc, gen[first[c]], c)
            elif rest[c] != 0.0:
                nxt[c] = end[c] = 0
                nc = _heap_push(ck, cv, nc, rest[c], c)
        nf = 0
        mean = 0.0
        last = 0.0
        while nc > 0:
            t = ck[0]
            c = cv[0]
            nc = _heap_pop(ck, cv, nc)
            last = max(last, t)
            while nf > 0 and fk[0] <= t:      # receivers started on these: out of the NoC
                g = fv[0]
                nf = _heap_pop(fk, fv, nf)
                k = m_path[g]
                share = 1.0 / (hops[k] + 2)
                for i in range(kptr[k], kptr[k + 1]):
                    density[keys[i]] -= share
                mean = mean + (mean - m_receive[g]) / nf if nf > 0 else 0.0
            m = nxt[c]
            if m >= end[c]:
                continue                      # the walk after the core's last message
            k = m_path[m]
            along = 0.0
            for i in range(kptr[k], kptr[k + 1]):
                along += density[keys[i]]
            cap = (hops[k] + 1) * buffer
            if along > cap:
                t += (along - cap) * mean      # the sender blocks
            early = t + max(hop_s[k], along * mean / (hops[k] + 1))
            d = m_dst[m]
            received = max(done[d], early)
            done[d] = received + m_receive[m]
            last = max(last, done[d])
            nf = _heap_push(fk, fv, nf, received, m)
            share = 1.0 / (hops[k] + 2)
            for i in range(kptr[k], kptr[k + 1]):
                density[keys[i]] += share
            mean += (m_receive[m] - mean) / nf
            nxt[c] = m + 1
            if m + 1 < end[c]:
                t_next = t + gen[m + 1]
            elif rest[c] != 0.0:
                t_next = t + rest[c]
            else:
                continue
            last = max(last, t_next)
            nc = _heap_push(ck, cv, nc, t_next, c)
        out[r] = last
        for m in range(lo, hi):               # clear the row's buffers and receivers
            k = m_path[m]
            for i in range(kptr[k], kptr[k + 1]):
                density[keys[i]] = 0.0
            done[m_dst[m]] = 0.0
    return out


@_jit
def _walk_nb(bits, ptr, idx, live, recv, anyin, biased, sends, starts, ends, all_on,
             t_access, t_update, t_spike, gap, tail):
    # per row and slice: the neurons in order, each adding its soma time (access, + update
    # when active or firing, + spike out when firing) to a sum that a spike takes, and
    # resets when it sends a message
    R = bits.shape[0]
    has_live = live.shape[0] == R
    has_recv = recv.shape[0] == R
    for r in range(R):
        row = idx[ptr[r]:ptr[r + 1]]
        for k in range(starts.shape[0]):
            a, b = starts[k], ends[k]
            q = ptr[r] + np.searchsorted(row, a)
            acc = 0.0
            for i in range(a, b):
                fired = bits[r, i] != 0
                lat = t_access
                if fired or all_on or anyin[r] or biased[i] or (has_recv and recv[r, i]) or \
                        (has_live and live[r, i]):
                    lat += t_update
                if fired:
                    lat += t_spike
                acc += lat
                if fired:
                    gap[q] = acc
                    q += 1
                    if sends[i]:
                        acc = 0.0
            tail[r, k] = acc


def _walk_py(bits, ptr, idx, live, recv, anyin, biased, sends, starts, ends, all_on,
             t_access, t_update, t_spike, gap, tail):
    """numpy twin of ``_walk_nb`` (running sums: equal to rounding)."""
    R, n = bits.shape
    fired = bits != 0
    on = fired | biased[None, :] | anyin[:, None] | bool(all_on)
    if recv.shape[0] == R:
        on = on | recv
    if live.shape[0] == R:
        on = on | live
    run0 = np.zeros((R, n + 1))
    np.cumsum(t_access + t_update * on + t_spike * fired, axis=1, out=run0[:, 1:])
    order = np.argsort(starts)
    k = order[np.searchsorted(starts[order], idx, side="right") - 1]   # each spike's slice
    rows = np.repeat(np.arange(R), np.diff(ptr))
    # the walk since the slice's start, or since its last spike before that sent a message
    reset = np.where(sends[idx], idx + 1, -1)
    group = rows * len(starts) + k          # a row's spikes of one slice lie together
    prev = np.full(len(idx), -1)
    same = np.r_[False, group[1:] == group[:-1]]
    prev[same] = reset[np.flatnonzero(same) - 1]
    enc = np.maximum.accumulate(group * (n + 2) + prev + 1) if len(idx) else prev
    prev = enc - group * (n + 2) - 1
    prev = np.where(prev >= 0, prev, starts[k])
    gap[:] = run0[rows, idx + 1] - run0[rows, prev]
    after = np.broadcast_to(starts, (R, len(starts))).copy()
    sent = sends[idx]
    np.maximum.at(after, (rows[sent], k[sent]), idx[sent] + 1)
    tail[:] = run0[np.arange(R)[:, None], ends[None, :]] - np.take_along_axis(run0, after, 1)


_walk = _walk_nb if numba is not None else _walk_py


def soma_walk(bits, ptr, idx, live, recv, anyin, biased, sends, starts, ends, all_on,
              soma_s) -> tuple[np.ndarray, np.ndarray]:
    """One source's soma walk over a block's rows: for each spike (aligned with the row-by-row
    spike list ``ptr``, ``idx``) the walk's time since the slice's start or the previous
    spike that sent a message (``sends``: the neuron has a destination), the spiking neuron
    included; and ``(R, slices)`` the walk's time after the slice's last such spike (all of
    it without one). A neuron is active as the counter has it
    (``all_on``, its bias, an event in its row (``anyin``), one delivered to it (``recv``),
    a live membrane), or when it fires."""
    gap = np.zeros(len(idx))
    tail = np.zeros((bits.shape[0], len(starts)))
    if len(starts):
        _walk(bits, ptr, idx, live, recv, anyin, biased, sends, starts, ends, bool(all_on),
              *soma_s, gap, tail)
    return gap, tail


def schedule_rows(sch: Schedule, R: int, walks: dict, lists: dict, slice_of: dict,
                  cores: dict) -> np.ndarray:
    """Scheduled step time of each of a block's ``R`` rows (s, barrier excluded).

    ``walks``: group → ``soma_walk``'s (spike gaps, slice tails); the host input's units take
    no soma time. ``lists``: source → its row-by-row spike list ``(ptr, idx)``; ``slice_of``:
    source → every neuron's slice; ``cores``: source → every slice's core."""
    tail = np.zeros((R, len(sch.g_core)))
    for src, (_, t) in walks.items():
        tail[:, sch.rank[src]] = t
    parts = []
    for src, (ptr, idx) in lists.items():
        if src not in sch.pairs or not len(idx):
            continue
        pptr, dst, receive, path = sch.pairs[src]
        rows = np.repeat(np.arange(R), np.diff(ptr))
        sl = slice_of[src][idx]
        gap = walks[src][0] if src in walks else np.zeros(len(idx))
        n = pptr[idx + 1] - pptr[idx]
        spike = np.repeat(np.arange(len(idx)), n)
        k = np.arange(len(spike)) - np.repeat(np.cumsum(n) - n, n)     # 0.. within a spike
        pair = pptr[idx][spike] + k
        parts.append((rows[spike], cores[src][sl][spike], sch.rank[src][sl][spike],
                      k == 0, gap[spike], dst[pair], receive[pair], path[pair]))
    cols = [np.concatenate(c) for c in zip(*parts)] if parts else \
        [np.zeros(0, t) for t in (np.int64,) * 3 + (np.bool_, float, np.int64, float,
                                                     np.int64)]
    # Each (row, slice) holds one source's spikes in neuron order, their pairs in core
    # order: one stable sort by row and the slice's place in its core's walk.
    row, core, g = cols[:3]
    place = np.empty(len(sch.g_core), np.int64)
    place[sch.core_slices] = np.arange(len(sch.g_core))
    at = np.argsort(row * len(sch.g_core) + place[g], kind="stable")
    row_ptr = np.zeros(R + 1, np.int64)
    np.cumsum(np.bincount(row, minlength=R), out=row_ptr[1:])
    core, g, first, gap, dst, receive, path = (np.ascontiguousarray(c[at]) for c in cols[1:])
    return _schedule_kernel(row_ptr, core, first, gap, g, dst, receive, path, tail,
                            sch.core_ptr, sch.core_slices, sch.kptr, sch.keys, sch.hops,
                            sch.hop_s, sch.n_keys, sch.message_out_s, sch.link_buffer,
                            np.zeros(R))
