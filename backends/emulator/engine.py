"""The CPU emulator: Lava 0.10's ``fixed_pt`` semantics, bit for bit, batched.

It mirrors the chip: flat integer state arrays per group, and one ``step`` that runs the
phases of a Loihi time step in order:

1. neuron phase — every group integrates the synaptic input buffered on the previous step
   (``fixed_point`` rules: u decay + input << 6, 24-bit wrap; v decay + u + bias, saturate;
   spike if v > vth << 6; reset);
2. synapse phase — every projection turns this step's spikes (or input payloads) into the
   buffer its target reads next step (``W @ s``, then ``<< weight_exp``; conv: wrapped to 24
   bits). So every projection delays by exactly one step, as in Lava. A projection with
   synaptic delays (NIR Delay nodes) sums this step's spikes once per delay ``k`` over the
   synapses of that delay, shifts each sum by ``weight_exp`` (Lava's ``DelayDense`` does
   exactly this: a right shift floors each delay's sum, not their total), and adds it to the
   buffer its target reads ``1 + k`` steps later (a ring of ``max delay + 1`` buffers).
   Measured with Lava 0.10: a spike sent at Lava step 3 through ``DelayDense`` delays
   0, 1, 2, 5 reached the LIF at steps 4, 5, 6, 9.

Emulator step ``k`` (0-based) is Lava's ``time_step`` ``k + 1``; input row ``x[k]`` enters the
synapses at step ``k``. The one and only arithmetic is the program's ``LoihiNumerics``
(``compiler/targets/loihi/numerics.py``), built from its hardware config.

Start of a sample: every group begins from u = v = 0 and is *held* (state kept at zero, no
spikes, input ignored) until the first input of the sample can reach it, i.e. for its first
``hop depth`` steps. Without the hold, a biased layer would integrate its bias for ``depth``
extra steps before its first input arrives; with it, every layer's spike train is exactly the
snnTorch (no per-layer delay) train shifted by the layer's depth. Groups the input does not
reach start at step 0.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from neurocc.compiler.ir.connectivity import Conv, Sparse
from neurocc.compiler.ir.encoding import GradedInput
from neurocc.compiler.ir.graph import INPUT
from neurocc.compiler.linalg import FLOAT64_EXACT, conv2d
from neurocc.compiler.targets.loihi.numerics import LoihiNumerics, bias_value, shift_exp, wrap_int32
from neurocc.compiler.targets.loihi.program import LoihiProgram, LoihiProjection

FLOAT32_EXACT = 2**24
SMALL_CONV = 1 << 22
"""Convs with at most this many (post × pre) entries run as an explicit matrix."""


def sum_bound(conn, max_input: int) -> tuple[float, float]:
    """``(bound, wmax)``: no partial sum of the projection's integer products can exceed
    ``bound`` in magnitude: ``max_input`` × the largest sum of one post neuron's |weights|
    (a sum over any subset of a row's inputs, in any order, stays within it). It decides
    which float type computes the sums exactly, whether a conv's output can wrap, and
    whether a layer's u can wrap or its v saturate (``layered.LayerMajor._bounded``).
    ``wmax``: the largest |weight|."""
    if isinstance(conn, Conv):
        a = np.abs(conn.weight.reshape(len(conn.weight), -1).astype(np.float64))
        row, wmax = a.sum(axis=1).max(initial=0), a.max(initial=0)
    elif isinstance(conn, Sparse):
        row = wmax = 0.0
        ptr, n = conn.indptr, conn.shape[0]
        r0 = 0
        while r0 < n:                         # rows holding a few M synapses at a time
            r1 = max(r0 + 1, int(np.searchsorted(ptr, ptr[r0] + (1 << 22), "right")) - 1)
            r1 = min(r1, n)
            seg = np.abs(conn.data[ptr[r0]:ptr[r1]].astype(np.float64))
            starts = (ptr[r0:r1] - ptr[r0])[np.diff(ptr[r0:r1 + 1]) > 0]
            if len(seg):
                row = max(row, np.add.reduceat(seg, starts).max())
                wmax = max(wmax, seg.max())
            r0 = r1
    else:
        row = wmax = 0.0
        w = conn.weight
        step = max(1, (1 << 22) // max(w.shape[1], 1))       # a few MB of |w| at a time
        for r0 in range(0, len(w), step):
            a = np.abs(w[r0:r0 + step].astype(np.float64))
            row = max(row, a.sum(axis=1).max(initial=0))
            wmax = max(wmax, a.max(initial=0))
    return max_input * float(row), float(wmax)


class _Synapses:
    """One projection's integer arithmetic, batched: ``(B, n_pre)`` → ``(B, n_post)``."""

    def __init__(self, p: LoihiProjection, num: LoihiNumerics, max_input: int,
                 graded: bool = False):
        self.p = p
        self.num = num
        self.exp = p.weight_exp
        # Lava's graded Dense/Sparse path is an int32 dot product (int32 weights · int32
        # payloads, proc/dense/models.py: `a_accum = self.weights.dot(s_in)`), wrapped before
        # the exponent shift; binary spikes are summed in int64.
        self.graded = graded
        conn = p.conn
        bound, _ = sum_bound(conn, max_input)
        # float BLAS is exact while every partial sum stays below 2^mantissa: float32 (twice
        # as fast) up to 2^24, float64 up to 2^53, exact int64 beyond
        self.exact_float = bound < FLOAT64_EXACT
        self.ftype = np.float32 if bound < FLOAT32_EXACT else np.float64
        self.wrap_events = 0
        if isinstance(conn, Conv) and self.exact_float and \
                conn.shape[0] * conn.shape[1] <= SMALL_CONV:
            # a small conv as its explicit matrix: one GEMM instead of im2col every step
            # (same integer sums; Lava's conv semantics, wrap and no exponent, kept below)
            self.kind = "conv_matrix"
            self.wT = conn.to_dense().T.astype(self.ftype).copy()
        elif isinstance(conn, Conv):
            self.kind = "conv"
            self.w = conn.weight.astype(np.float64 if self.exact_float else np.int64)
        elif isinstance(conn, Sparse) and conn.shape[0] * conn.n_pre > 2**24:
            self.kind = "sparse"
        else:
            dense = conn.to_dense() if isinstance(conn, Sparse) else conn.weight
            self.kind = "dense"
            self.wT = dense.T.astype(self.ftype if self.exact_float else np.int64).copy()

    def __call__(self, s: np.ndarray) -> np.ndarray:
        conn = self.p.conn
        if self.kind == "conv_matrix":
            acc = (s.astype(self.ftype) @ self.wT).astype(np.int64)  # exact integers
            acc, n = self.num.wrap_conv(acc)
            self.wrap_events += n
            return acc
        if self.kind == "conv":
            x = s.reshape(len(s), *conn.in_shape)
            if self.exact_float:
                acc = np.rint(conv2d(x, self.w, conn.stride, conn.padding, conn.dilation,
                                     conn.groups)).astype(np.int64)
            else:  # pragma: no cover - only for enormous payloads
                acc = _conv_int(x, self.w, conn)
            acc, n = self.num.wrap_conv(acc.reshape(len(s), -1))
            self.wrap_events += n
            return acc  # Lava's Conv applies no weight exponent
        if self.kind == "sparse":
            cols, data = conn.indices, conn.data.astype(np.int64)
            acc = np.stack([_segment_sum(si[cols].astype(np.int64) * data, conn.indptr)
                            for si in s])
        elif self.exact_float:
            acc = (s.astype(self.ftype) @ self.wT).astype(np.int64)  # exact integers
        else:
            acc = s.astype(np.int64) @ self.wT
        if self.graded:
            acc = wrap_int32(acc)
        return shift_exp(acc, self.exp)


def _segment_sum(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Sums of ``values`` over CSR rows (exact int64), empty rows give 0."""
    c = np.concatenate([[0], np.cumsum(values)])
    return c[indptr[1:]] - c[indptr[:-1]]


def _conv_int(x, w, conn):  # pragma: no cover - exact integer fallback
    out = None
    for i in range(len(x)):
        o = conv2d(x[i:i + 1].astype(object), w.astype(object), conn.stride, conn.padding,
                   conn.dilation, conn.groups)
        out = o if out is None else np.concatenate([out, o])
    return out.astype(np.int64)


def delay_classes(p: LoihiProjection) -> list[tuple[int, LoihiProjection]]:
    """A delayed projection as undelayed ones, one per delay ``k`` (steps) that a stored
    synapse has: ``[(k, the synapses of delay k), ...]``, same exponent and sign mode."""
    return [(k, replace(p, name=f"{p.name}@delay{k}", conn=c, delay=None))
            for k, c in p.delay.classes(p.conn)]


class _DelayedSynapses:
    """A delayed projection's arithmetic: ``(B, n_pre)`` → ``[(k, (B, n_post) sums), ...]``,
    each delay's sum shifted by the exponent on its own, as Lava's ``DelayDense`` does."""

    def __init__(self, p: LoihiProjection, num: LoihiNumerics, max_input: int, graded: bool):
        self.p = p
        self.parts = [(k, _Synapses(q, num, max_input, graded)) for k, q in delay_classes(p)]
        self.depth = max(k for k, _ in self.parts)

    def __call__(self, s: np.ndarray) -> list[tuple[int, np.ndarray]]:
        return [(k, syn(s)) for k, syn in self.parts]

    @property
    def wrap_events(self) -> int:
        return sum(syn.wrap_events for _, syn in self.parts)


class Emulator:
    """A program's state for a batch of ``batch`` samples; ``step(x_t)`` advances it one time
    step and returns every group's spikes."""

    name = "emulator"

    def __init__(self, program: LoihiProgram, batch: int):
        self.prog = program
        self.batch = batch
        self.num = num = program.numerics
        enc = program.input_encoding
        graded = isinstance(enc, GradedInput)
        self.syn = [(_Synapses if p.delay is None else _DelayedSynapses)(
                        p, num, enc.max_payload if p.src == INPUT else 1,
                        graded=graded and p.src == INPUT)
                    for p in program.projections]
        self.groups = program.groups
        self.keep_u = [num.u_keep(g.du) for g in self.groups]
        self.keep_v = [num.v_keep(g.dv) for g in self.groups]
        self.bias = [bias_value(g.bias_mant, g.bias_exp)[None, :] for g in self.groups]
        self.vth = [g.vth << num.VTH_SHIFT for g in self.groups]
        index = {p.name: i for i, p in enumerate(program.projections)}
        self.incoming = {g.name: [index[p.name] for p in program.incoming(g.name)]
                         for g in self.groups}
        self.start = [program.hop_depths.get(g.name, 0) for g in self.groups]
        self.reset()

    def reset(self) -> None:
        B = self.batch
        self.u = [np.zeros((B, g.n), dtype=np.int64) for g in self.groups]
        self.v = [np.zeros((B, g.n), dtype=np.int64) for g in self.groups]
        self.s = [np.zeros((B, g.n), dtype=bool) for g in self.groups]
        self.buf = [np.zeros((B, p.conn.shape[0]), dtype=np.int64) for p in self.prog.projections]
        # delayed projections: what reaches the target at step t waits in ring[t % (depth + 1)]
        self.ring = {i: np.zeros((syn.depth + 1, B, self.buf[i].shape[1]), dtype=np.int64)
                     for i, syn in enumerate(self.syn) if isinstance(syn, _DelayedSynapses)}
        self.u_wraps = [0] * len(self.groups)
        self.v_clips = [0] * len(self.groups)
        self.t = 0

    def step(self, x_t: np.ndarray) -> list[np.ndarray]:
        """One time step with input payloads ``x_t`` (B, n_in) int; returns spikes per group."""
        spikes = []
        for gi, g in enumerate(self.groups):
            if self.t < self.start[gi]:          # held until the sample's input arrives
                spikes.append(self.s[gi])        # all False, state all zero
                continue
            a_in = sum((self.buf[i] for i in self.incoming[g.name]),
                       np.zeros((self.batch, g.n), dtype=np.int64))
            # Lava adds the input in int32 (lif/models.py: `decayed_curr = np.int32(...)`,
            # `decayed_curr += activation_in`; a_in arrives through int32 ports) before its
            # one 24-bit wrap; only reachable when |a_in << 6| ≥ 2^31.
            num = self.num
            u = wrap_int32(num.decay(self.u[gi], self.keep_u[gi]) + (a_in << num.ACT_SHIFT))
            u, nw = num.wrap_u(u)
            v = num.decay(self.v[gi], self.keep_v[gi]) + u + self.bias[gi]
            if g.reset == "subtract":
                v = v - self.s[gi] * self.vth[gi]       # snnTorch: one step later, undecayed
            v, nc = num.saturate_v(v)
            s = v > self.vth[gi] if g.spiking else np.zeros_like(v, dtype=bool)
            if g.reset == "zero":
                v = np.where(s, 0, v)
            self.u[gi], self.v[gi], self.s[gi] = u, v, s
            self.u_wraps[gi] += nw
            self.v_clips[gi] += nc
            spikes.append(s)
        src = {g.name: spikes[i] for i, g in enumerate(self.groups)}
        src[INPUT] = x_t
        for i, p in enumerate(self.prog.projections):
            if i not in self.ring:
                self.buf[i] = self.syn[i](src[p.src])
                continue
            ring = self.ring[i]
            for k, acc in self.syn[i](src[p.src]):     # arrives at step t + 1 + k
                ring[(self.t + 1 + k) % len(ring)] += acc
            nxt = (self.t + 1) % len(ring)
            self.buf[i] = ring[nxt].copy()
            ring[nxt] = 0
        self.t += 1
        return spikes

    @property
    def saturation(self) -> dict:
        return saturation_counts(self.prog, self.syn, self.u_wraps, self.v_clips)


def saturation_counts(program, synapses, u_wraps, v_clips) -> dict:
    """Per group: current wraps, membrane saturations and the conv wraps of its inputs."""
    conv = {}
    for syn, p in zip(synapses, program.projections):
        conv[p.dst] = conv.get(p.dst, 0) + syn.wrap_events
    return {g.name: {"u_wraps": u_wraps[i], "v_saturations": v_clips[i],
                     "conv_wraps": conv.get(g.name, 0)} for i, g in enumerate(program.groups)}
