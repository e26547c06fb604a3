"""The layer-major schedule: the same arithmetic as ``engine.Emulator``, reordered.

Every projection delays by exactly one step, so in a network without cycles a group's input
over a whole block of steps is known once its sources have run that block: group by group in
topological order, the synapses of all the block's steps are one product (one GEMM, or one
event-driven pass when the spikes are sparse), and the neuron updates of the block are one
compiled loop (``kernels.lif_block``). The step-major ``Emulator`` stays the readable
definition; ``tests/test_fast_emulator.py`` checks this schedule against it bit for bit
(spikes, u, v, liveness, every saturation counter) on generated programs.

Time is cut into blocks so that memory stays bounded whatever the run's length: a block
holds ``steps × batch × neurons`` values of one group at a time, and what crosses a block
boundary is each group's state and each projection's last, not yet delivered, output.

A projection with synaptic delays (longest ``D`` steps) keeps instead its source's last
``D + 1`` steps of spikes (or payloads) from the block before: the input arriving at block
step ``j`` is, for every delay ``k``, the sum over the synapses of delay ``k`` of the spikes
of step ``j − 1 − k``, each delay's sum shifted by the exponent on its own (as the
step-major ``Emulator`` and Lava's ``DelayDense`` do).

Synaptic products (``SynapseBlock``):

- dense accumulation in float32 when every partial sum stays below 2^24 (exact), float64
  below 2^53, int64 beyond: small convolutions as their explicit matrix, larger ones by
  im2col;
- event-driven accumulation of binary spikes (one pass over the spikes, adding a weight row
  per spike, in int32 or int64) when the block's spikes are sparser than ``EVENT_DENSITY``,
  the crossover measured by ``make bench`` (``benchmarks/speed.py``, ``crossover``); for a
  large convolution, each spike's kernel taps (``linalg.conv_events``) below
  ``CONV_EVENT_DENSITY``;
- denser binary spikes into a projection with few synapses (``TABLE_BYTES``): a table of
  every 4 inputs' 16 spike patterns (``kernels.nibble_table``), one table row added per 4
  inputs, in int16 when the sums fit.
"""

from __future__ import annotations

import copy

import numpy as np

from neurocc.backends.emulator import kernels
from neurocc.backends.emulator.engine import (
    _conv_int,
    delay_classes,
    saturation_counts,
    sum_bound,
)
from neurocc.compiler.ir.connectivity import Conv, Sparse
from neurocc.compiler.ir.encoding import GradedInput
from neurocc.compiler.ir.graph import INPUT
from neurocc.compiler.linalg import (
    FLOAT64_EXACT,
    conv2d,
    conv_events,
    conv_geometry,
    conv_taps,
    spike_lists,
)
from neurocc.compiler.targets.loihi.numerics import bias_value, shift_exp, wrap_int32

FLOAT32_EXACT = 2**24
INT32_EXACT = 2**31
SMALL_CONV = 1 << 22
"""Convs with at most this many (post × pre) entries run as an explicit matrix."""
EVENT_DENSITY = 0.05
"""Spike density (spikes / (rows × inputs)) below which event-driven accumulation beats the
float32 GEMM on this kind of machine: the crossover ``make bench`` measured on 2 cores
(``benchmarks/results/speed.md``, "crossover"); an assumption elsewhere, and only a choice of
speed, never of result."""
CONV_EVENT_DENSITY = 0.03
"""The same for a convolution too large for its explicit matrix (event-driven taps against
im2col); measured on the benchmark's conv stack (3 % to 15 % by layer): the lower end."""
INT16_EXACT = 2**15
TABLE_BYTES = 1 << 20
"""Largest ``kernels.nibble_table`` (int16, 8 bytes per synapse) used for binary spikes
denser than ``EVENT_DENSITY``: a row's sums are then one table row per 4 inputs, added in
int16 (when every sum fits), instead of a float32 GEMM. Measured by ``make bench`` on the
digits model's input layer (``benchmarks/speed.py``, "table"); kept to tables that stay in
a core's L2 cache. Only a choice of speed, never of result."""
BLOCK_VALUES = 1 << 22
"""Values (steps × samples × neurons) of the largest group held per block (32 MB of int64)."""


def is_feedforward(program) -> bool:
    """True when the program's projections form no cycle (self-connections included)."""
    return topological_groups(program) is not None


def topological_groups(program) -> list[int] | None:
    """Group indices in an order where every projection's source comes first, or None (found
    once per program)."""
    cache = program.__dict__
    if "_emulator_order" not in cache:
        cache["_emulator_order"] = _topological(program)
    return cache["_emulator_order"]


def _topological(program) -> list[int] | None:
    index = {g.name: i for i, g in enumerate(program.groups)}
    indeg = [0] * len(program.groups)
    succ: dict[int, list[int]] = {}
    for p in program.projections:
        if p.src == INPUT:
            continue
        indeg[index[p.dst]] += 1
        succ.setdefault(index[p.src], []).append(index[p.dst])
    ready = [i for i, d in enumerate(indeg) if d == 0]
    order = []
    while ready:
        i = ready.pop(0)
        order.append(i)
        for j in succ.get(i, []):
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)
    return order if len(order) == len(program.groups) else None


def _weights_T(program, p, dtype) -> np.ndarray:
    """Projection ``p``'s weights as a contiguous ``(n_pre, n_post)`` matrix of ``dtype``,
    made once per program (cached on it: transposing 16 M weights costs more than running
    a small batch)."""
    cache = program.__dict__.setdefault("_emulator_weights", {})
    key = (p.name, np.dtype(dtype).str)
    if key not in cache:
        conn = p.conn
        dense = conn.to_dense() if isinstance(conn, (Sparse, Conv)) else conn.weight
        cache[key] = np.ascontiguousarray(dense.T, dtype=dtype)
    return cache[key]


def _neuron_params(program) -> list[tuple]:
    """Per group ``(u keep, v keep, bias, vth << 6)``, once per program; the bias in int32
    where it fits (the kernels add it in int64 either way; read as int32 the neuron kernel
    streams half the bytes: digits' first layer 1.18 -> 0.94 ms)."""
    if "_emulator_params" not in program.__dict__:
        num = program.numerics
        params = []
        for g in program.groups:
            bias = bias_value(g.bias_mant, g.bias_exp)
            narrow = np.abs(bias).max(initial=0) < INT32_EXACT
            params.append((num.u_keep(g.du), num.v_keep(g.dv),
                           np.ascontiguousarray(bias, np.int32 if narrow else np.int64),
                           g.vth << num.VTH_SHIFT))
        program.__dict__["_emulator_params"] = params
    return program.__dict__["_emulator_params"]


def _nibble_table(program, p, wT) -> np.ndarray:
    """Projection ``p``'s ``kernels.nibble_table`` in int16, made once per program."""
    cache = program.__dict__.setdefault("_emulator_tables", {})
    if p.name not in cache:
        cache[p.name] = kernels.nibble_table(wT, np.int16)
    return cache[p.name]


class SynapseBlock:
    """One projection's integer sums for many rows at once: ``(R, n_pre)`` → ``(R, n_post)``
    exact integers, in the cheapest dtype that holds them (the neuron kernel converts)."""

    def __init__(self, program, p, num, max_input: int, graded: bool, events: bool = True):
        self.p, self.num, self.exp, self.graded = p, num, p.weight_exp, graded
        conn = p.conn
        bound, wmax = sum_bound(conn, max_input)
        self.ftype = (np.float32 if bound < FLOAT32_EXACT else
                      np.float64 if bound < FLOAT64_EXACT else np.int64)
        self.wrap_events = 0
        self.conv = isinstance(conn, Conv)
        n_post, n_pre = conn.shape
        if self.conv and n_post * n_pre > SMALL_CONV and self.ftype == np.int64:
            self.kind = "conv_int"          # enormous payloads: exact object arithmetic
            self.w, self.wT = conn.weight, None
        elif self.conv and n_post * n_pre > SMALL_CONV:
            self.kind = "im2col"
            self.w = conn.weight.astype(np.float32 if self.ftype == np.float32 else np.float64)
            self.wT = None
        else:
            self.kind = "matrix"
            self.wT = _weights_T(program, p, self.ftype)
        # event-driven accumulation needs binary spikes and the compiled kernel; weights
        # as small integers (they are Lava's 8-bit mantissas), sums in int32 when they fit
        self.event_wT = self.event_taps = None
        self.acc_type = np.int32 if bound < INT32_EXACT else np.int64
        small = np.int16 if wmax < 2**15 else np.int64
        binary = not graded and max_input == 1       # 0/1 spikes, not graded payloads
        self.table = None
        if events and kernels.HAVE_NUMBA and binary and self.kind == "matrix":
            self.event_wT = _weights_T(program, p, small)
            if bound < INT16_EXACT and 8 * n_pre * n_post <= TABLE_BYTES:
                self.table = _nibble_table(program, p, self.event_wT)
        elif events and kernels.HAVE_NUMBA and binary and self.kind == "im2col":
            self.event_taps = conv_taps(conn.weight, small)
            self.geometry = conv_geometry(conn)
        # Lava wraps a conv's output to state_bits and a graded dot product to int32; when
        # the bound shows neither can happen the sums go to the neurons as they are, with
        # the weight exponent (none for conv) left to the neuron kernel
        self.shift = 0 if self.conv else self.exp
        self.needs_wrap = (self.conv and bound >= num.state_max) or \
            (graded and bound >= INT32_EXACT)
        # the largest |sum| this projection can hand the neurons, after its exponent and
        # wrap: what decides whether their u can wrap
        self.out_bound = (min(bound, num.state_max) if self.conv else
                          np.inf if graded and self.needs_wrap else
                          bound * 2.0 ** max(self.exp, 0))

    def fresh(self) -> SynapseBlock:
        """A copy for another run: the same arrays, its own count of wrap events."""
        out = copy.copy(self)
        out.wrap_events = 0
        return out

    def __call__(self, s: np.ndarray, defer_shift: bool = False, lists=None,
                 nnz: int | None = None) -> np.ndarray:
        """``s`` ``(R, n_pre)`` spikes (bool) or payloads (int) → ``(R, n_post)`` sums, with
        the weight exponent applied unless ``defer_shift`` (then the caller applies
        ``self.shift``; only without a wrap). ``lists``: ``s``'s spikes already listed
        (``linalg.spike_lists``), ``nnz`` their number, when the caller has them."""
        conn = self.p.conn
        sparse = self.event_wT is not None or self.event_taps is not None
        if sparse and nnz is None:
            nnz = np.count_nonzero(s)
        density = nnz / max(s.size, 1) if sparse else 1.0
        if self.event_wT is not None and density < EVENT_DENSITY:
            ptr, idx = lists if lists is not None else spike_lists(s, nnz)
            acc = kernels.events(ptr, idx, self.event_wT,
                                 np.empty((len(s), self.event_wT.shape[1]),
                                          dtype=self.acc_type))
        elif self.event_taps is not None and density < CONV_EVENT_DENSITY:
            acc = conv_events(s, self.event_taps, *self.geometry, conn.groups,
                              np.zeros((len(s), conn.shape[0]), dtype=self.acc_type))
        elif self.table is not None:
            acc = kernels.nibble_sums(s, self.table,
                                      np.empty((len(s), self.table.shape[2]), np.int16))
        elif self.kind == "matrix":
            acc = self._product(s)
        elif self.kind == "conv_int":  # pragma: no cover - only for enormous payloads
            acc = _conv_int(s.reshape(len(s), *conn.in_shape), self.w, conn)
        else:
            x = s.reshape(len(s), *conn.in_shape)
            acc = conv2d(x, self.w, conn.stride, conn.padding, conn.dilation, conn.groups,
                         dtype=self.w.dtype).reshape(len(s), -1)
        if not self.needs_wrap and (defer_shift or self.shift == 0):
            return acc                       # exact integers already
        acc = acc.astype(np.int64)
        if self.conv:
            acc, n = self.num.wrap_conv(acc)
            self.wrap_events += n
            return acc                       # Lava's Conv applies no weight exponent
        if self.graded:
            acc = wrap_int32(acc)
        return shift_exp(acc, self.exp)


    def _product(self, s: np.ndarray) -> np.ndarray:
        """``s @ wT`` in ``ftype``, over the rows up to the last one with an event: a drained
        run ends with ``depth`` silent steps (a quarter of the digits split's rows), whose
        sums are zero without a product."""
        rows = s.reshape(len(s), -1).any(axis=1)
        last = len(rows) - int(np.argmax(rows[::-1])) if rows.any() else 0
        if last == len(s):
            return s.astype(self.ftype) @ self.wT
        acc = np.zeros((len(s), self.wT.shape[1]), self.ftype)
        if last:
            np.matmul(s[:last].astype(self.ftype), self.wT, out=acc[:last])
        return acc


class DelayedBlocks:
    """A delayed projection as one ``SynapseBlock`` per delay: ``parts`` ``[(k, block)]``,
    ``depth`` the longest delay (steps)."""

    needs_wrap = True        # never defer the exponent: each delay's sum is shifted alone

    def __init__(self, program, p, num, max_input: int, graded: bool, events: bool = True):
        self.p = p
        self.parts = [(k, SynapseBlock(program, q, num, max_input, graded, events))
                      for k, q in delay_classes(p)]
        self.depth = max(k for k, _ in self.parts)
        self.out_bound = sum(block.out_bound for _, block in self.parts)

    def fresh(self) -> DelayedBlocks:
        """A copy for another run (``SynapseBlock.fresh``)."""
        out = copy.copy(self)
        out.parts = [(k, block.fresh()) for k, block in self.parts]
        return out

    def arrivals(self, history: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``history`` ``(depth + 1, B, n_pre)``: the source's steps before the block;
        ``rows`` ``(tb, B, n_pre)`` the block's. Returns the input arriving at each of the
        block's steps ``(tb, B, n_post)`` (int64) and the history for the next block."""
        tb, B = rows.shape[:2]
        full = np.concatenate([history, rows.astype(history.dtype)])
        out = np.zeros((tb, B, self.p.conn.shape[0]), np.int64)
        for k, block in self.parts:       # block step j gets source step j − 1 − k
            src = full[self.depth - k:self.depth - k + tb]
            out += np.asarray(block(src.reshape(tb * B, -1)), dtype=np.int64).reshape(tb, B, -1)
        return out, full[-(self.depth + 1):].copy()

    @property
    def wrap_events(self) -> int:
        return sum(block.wrap_events for _, block in self.parts)


class LayerMajor:
    """Runs a feed-forward program on payloads ``x`` ``(steps, B, n_in)`` block by block."""

    def __init__(self, program, batch: int, events: bool = True):
        order = topological_groups(program)
        if order is None:
            raise ValueError("the layer-major schedule needs a program without cycles")
        self.prog, self.batch, self.order = program, batch, order
        num = self.num = program.numerics
        enc = program.input_encoding
        graded = isinstance(enc, GradedInput)
        # built once per program (and per setting of what decides the paths: tests change
        # them); each run its own copy
        made = program.__dict__.setdefault("_emulator_synapses", {})
        key = (events, TABLE_BYTES, SMALL_CONV, kernels.HAVE_NUMBA)
        if key not in made:
            made[key] = [(SynapseBlock if p.delay is None else DelayedBlocks)(
                             program, p, num, enc.max_payload if p.src == INPUT else 1,
                             graded and p.src == INPUT, events)
                         for p in program.projections]
        self.syn = [syn.fresh() for syn in made[key]]
        self.params = _neuron_params(program)
        cache = program.__dict__
        if "_emulator_plan" not in cache:   # what any run of the program finds the same
            self.incoming = {g.name: [i for i, p in enumerate(program.projections)
                                      if p.dst == g.name] for g in program.groups}
            cache["_emulator_plan"] = (
                self.incoming, [program.hop_depths.get(g.name, 0) for g in program.groups],
                [self._bounded(g, p) for g, p in zip(program.groups, self.params)],
                # liveness counts nothing for a group updated every step: not recorded there
                [not g.always_updated for g in program.groups])
        self.incoming, self.start, self.bounded, self.live_counts = cache["_emulator_plan"]
        self.u_wraps = [0] * len(program.groups)
        self.v_clips = [0] * len(program.groups)
        # groups whose sparse spikes are listed once per block: some synapse from them can
        # run event by event, and the activity counter reads the same lists
        self.listed = {p.src for p, syn in zip(program.projections, self.syn)
                       if isinstance(syn, SynapseBlock) and syn.event_wT is not None}

    def _bounded(self, g, params) -> bool:
        """Whether group ``g``'s u provably never wraps and its v never saturates, so the
        kernel may leave both checks out. u: no decay (u is the step's input) and every
        input's bound, shifted into place (<< 6), below the wrap. v: from v = 0, each step
        |v| ≤ ρ·|v| + |u| + |bias| (+ vth under subtract), ρ = kv / 2^decay_bits < 1, so
        |v| < (|u| + |bias| + vth) / (1 − ρ); below the saturation by a margin."""
        ku, kv, bias, vth = params
        num = self.num
        u_max = 64.0 * sum(self.syn[i].out_bound for i in self.incoming[g.name])
        rho = kv / num.decay_unity
        if ku != 0 or not u_max < num.state_max or rho >= 1:
            return False
        b_max = float(np.max(np.abs(bias), initial=0))
        sub = float(vth) if g.reset == "subtract" else 0.0
        return (u_max + b_max + sub) / (1.0 - rho) < 0.99 * (num.state_max - 1)

    def block_steps(self, steps: int) -> int:
        widest = max((g.n for g in self.prog.groups), default=1)
        return int(max(1, min(steps, BLOCK_VALUES // max(1, self.batch * widest))))

    def run(self, x: np.ndarray, record_v=(), record_u: bool = False, live: bool = True,
            on_block=None):
        """Simulate ``x``, calling ``on_block(t0, x_block, spikes, v, u, live, lists)`` once
        per block with that block's arrays (group name → ``(Tb, B, n)``; ``live`` None for a
        group whose every neuron has a bias, ``LoihiGroup.always_updated``) and the spike
        lists it made (group name → ``(ptr, idx)`` over the block's ``Tb·B`` rows); the
        caller keeps or counts what it needs."""
        prog, B, num = self.prog, self.batch, self.num
        steps = x.shape[0]
        tb_max = self.block_steps(steps)
        groups = prog.groups
        state = np.int32 if num.state_bits < 32 else np.int64   # u can reach 2^(bits-1)
        u = [np.zeros((B, g.n), state) for g in groups]
        v = [np.zeros((B, g.n), state) for g in groups]
        s = [np.zeros((B, g.n), np.bool_) for g in groups]
        carry = [np.zeros((B, p.conn.shape[0]), np.int64) for p in prog.projections]
        n_in = {INPUT: prog.n_inputs, **{g.name: g.n for g in groups}}
        self.history = {i: np.zeros((syn.depth + 1, B, n_in[prog.projections[i].src]),
                                    x.dtype if prog.projections[i].src == INPUT else np.bool_)
                        for i, syn in enumerate(self.syn) if isinstance(syn, DelayedBlocks)}
        record_v = set(record_v)
        for t0 in range(0, steps, tb_max):
            tb = min(tb_max, steps - t0)
            out_s, out_v, out_u, out_l, lists = {}, {}, {}, {}, {}
            counted: dict[str, int] = {}     # spikes of the block's listed groups
            rows = {INPUT: x[t0:t0 + tb]}
            for gi in self.order:
                g = groups[gi]
                fused = self._table_input(g, rows, counted)
                if fused is None:
                    first, acc, shift = self._input(g, rows, carry, tb, lists, counted)
                ku, kv, bias, vth = self.params[gi]
                # the kernel writes every step of its outputs (zeroed memory would be a
                # memset under the GIL, which the other chunks' threads wait on)
                sp = np.empty((tb, B, g.n), np.bool_)
                rv, ru = g.name in record_v, record_u
                ov = np.empty((tb, B, g.n), np.int64) if rv else kernels.no_record(np.int64)
                ou = np.empty((tb, B, g.n), np.int64) if ru else kernels.no_record(np.int64)
                rl = live and self.live_counts[gi]
                ol = np.empty((tb, B, g.n), np.bool_) if rl else kernels.no_record(np.bool_)
                hold = int(min(max(self.start[gi] - t0, 0), tb))
                rest = (u[gi], v[gi], s[gi], ku, kv, bias, vth, num.state_max,
                        num.decay_bits, hold, g.reset == "subtract", g.reset == "zero",
                        g.spiking, sp, ov, ou, ol, rv, ru, rl)
                if fused is None:
                    w, c = kernels.lif_block(first, acc, *rest, shift, self.bounded[gi])
                else:                        # sums from the pattern table row by row
                    i, syn, src = fused
                    w, c = kernels.lif_table(np.ascontiguousarray(carry[i], np.int16), src,
                                             syn.table, *rest, syn.shift, self.bounded[gi])
                    carry[i] = kernels.nibble_sums(src[-1], syn.table,
                                                   np.empty((B, g.n), np.int16))
                self.u_wraps[gi] += int(w)
                self.v_clips[gi] += int(c)
                rows[g.name] = sp
                out_s[g.name] = sp
                if g.name in self.listed:
                    flat = sp.reshape(tb * B, -1)
                    nnz = counted[g.name] = np.count_nonzero(flat)
                    if nnz < EVENT_DENSITY * flat.size:
                        lists[g.name] = spike_lists(flat, nnz)
                if rv:
                    out_v[g.name] = ov
                if ru:
                    out_u[g.name] = ou
                if live:
                    out_l[g.name] = ol if rl else None
            if on_block is not None:
                on_block(t0, rows[INPUT], out_s, out_v, out_u, out_l, lists)

    def _table_input(self, g, rows: dict, counted: dict):
        """``(i, synapses, source rows)`` when group ``g``'s only input this block is
        projection ``i`` summed from its pattern table (binary spikes denser than
        ``EVENT_DENSITY``, no delay, no wrap): the neuron kernel then sums each row as it
        reaches it (``kernels.lif_table``), no block of sums written and read back
        (digits' first layer: 4 MB a run). Otherwise None."""
        idx = self.incoming[g.name]
        if len(idx) != 1 or idx[0] in self.history:
            return None
        syn = self.syn[idx[0]]
        if not isinstance(syn, SynapseBlock) or syn.table is None or syn.needs_wrap:
            return None
        name = self.prog.projections[idx[0]].src
        src = rows[name]
        nnz = counted[name] if name in counted else np.count_nonzero(src)
        if nnz < EVENT_DENSITY * src.size:
            return None                      # event by event (SynapseBlock)
        return idx[0], syn, np.ascontiguousarray(src)

    def _input(self, g, rows: dict, carry: list, tb: int, lists: dict, counted: dict):
        """The group's synaptic input for the block: the first step's sums (the previous
        block's last products), the block's own sums ``(tb, B, n)``, which its neurons read
        one step late, both in one exact dtype, and the weight exponent left to the kernel.
        Every projection runs here, for its target, over every row of the block, as the
        step-major emulator runs it every step."""
        B = self.batch
        idx = self.incoming[g.name]
        if not idx:
            return np.zeros((B, g.n), np.int64), np.zeros((tb, B, g.n), np.int64), 0
        if any(i in self.history for i in idx):
            return self._delayed_input(g, idx, rows, carry, tb)
        # one projection without a wrap: its exponent is applied by the neuron kernel
        defer = len(idx) == 1 and not self.syn[idx[0]].needs_wrap
        parts = []
        for i in idx:
            name = self.prog.projections[i].src
            parts.append(self.syn[i](rows[name].reshape(tb * B, -1), defer, lists.get(name),
                                     counted.get(name)).reshape(tb, B, -1))
        first = carry[idx[0]] if len(idx) == 1 else sum(carry[i].astype(np.int64) for i in idx)
        acc = parts[0] if len(parts) == 1 else sum(a.astype(np.int64) for a in parts)
        for i, a in zip(idx, parts):
            carry[i] = a[-1].copy()
        shift = self.syn[idx[0]].shift if defer else 0
        acc = np.ascontiguousarray(acc)
        # the kernel reads the first step's sums and the block's in one dtype (exact in both)
        return np.ascontiguousarray(first, dtype=acc.dtype), acc, shift

    def _delayed_input(self, g, idx, rows: dict, carry: list, tb: int):
        """``_input`` for a group with a delayed projection: every projection's input by
        the step it arrives at, summed in int64 (the kernel reads them as first + acc)."""
        B = self.batch
        arrive = np.zeros((tb, B, g.n), np.int64)
        for i in idx:
            src = rows[self.prog.projections[i].src]
            if i in self.history:
                a, self.history[i] = self.syn[i].arrivals(self.history[i], src)
                arrive += a
                continue
            a = np.asarray(self.syn[i](src.reshape(tb * B, -1)), np.int64).reshape(tb, B, -1)
            arrive[0] += carry[i]
            arrive[1:] += a[:-1]
            carry[i] = a[-1].copy()
        acc = np.concatenate([arrive[1:], np.zeros((1, B, g.n), np.int64)])
        return np.ascontiguousarray(arrive[0]), np.ascontiguousarray(acc), 0

    @property
    def saturation(self) -> dict:
        return saturation_counts(self.prog, self.syn, self.u_wraps, self.v_clips)
