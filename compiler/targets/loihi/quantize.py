"""Quantize: per-step factors → Lava's fixed-point numbers, one scale per layer.

For each group we choose a scale ``S`` (integer threshold units per model membrane unit):
``vth = θ·S`` and the integer membrane is ``v_int = 64·S·v``. Each incoming projection then
gets integer weights ``w_int`` and an exponent ``e`` with ``w_int·2^e ≈ S·w``, using the
8-bit mantissa fully. ``S`` is the largest value that keeps, with the worst-case input (every
input active at its maximum at once):

- the current ``u`` inside 24 bits (no wrap),
- the membrane inside 24 bits up to threshold plus one step of input,
- every weight inside the mantissa at the largest exponent (conv: exponent 0, because Lava's
  Conv ignores ``weight_exp``),
- the bias inside its mantissa at the largest exponent,
- the threshold inside its 17 bits.

Rounding errors are recorded per layer in the program's report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from neurocc.api.errors import QuantizationError, ResourceError
from neurocc.compiler.ir.connectivity import Conv, Dense, Sparse
from neurocc.compiler.ir.discrete import DiscreteGroup, DiscreteNetwork, DiscreteProjection
from neurocc.compiler.ir.encoding import GradedInput, InputEncoding, SpikeInput
from neurocc.compiler.ir.graph import INPUT
from neurocc.compiler.passes.base import CompileState, Pass
from neurocc.compiler.targets.loihi.numerics import MIXED, LoihiNumerics, bias_value, sign_mode
from neurocc.compiler.targets.loihi.program import (
    LayerQuantization,
    LoihiGroup,
    LoihiProjection,
    LoweredNetwork,
    ProjectionQuantization,
    QuantizationReport,
)
from neurocc.hw_configs import HardwareSpec

SPARSE_DENSITY = 0.25
"""Dense matrices with at most this fraction of nonzero weights are stored sparse (a
compiler choice: it lowers synaptic memory and emulation cost, never the results)."""


CHUNK = 1 << 20
"""Weights multiplied out, summed or quantized at once (working memory, not a limit): a
100 M-synapse projection needs no full-size float temporaries."""


@dataclass(frozen=True, eq=False)
class _Summary:
    """What the scale and the exponent need of a discretized projection's weights, from one
    chunked pass: ``Σ_j |w_ij|`` per post neuron (a conv's: per channel, repeated over its
    positions, an upper bound that ignores padding), ``max |w|``, and the smallest and
    largest weight (numpy scalars of the weights' dtype)."""

    abs_row_sums: np.ndarray
    max_abs: float
    lo: object
    hi: object


def _summary(p: DiscreteProjection) -> _Summary:
    """The same numbers the whole scaled matrix would give, bit for bit: rows of a dense
    matrix are summed a block at a time, a sparse one's running sum carries across chunks
    in the weights' dtype."""
    src, n = p.source, p.size
    if isinstance(src, Conv) or n == 0:        # kernels are small: scaled whole
        conn = p.conn
        w = conn.values
        if isinstance(src, Conv):
            k = np.abs(w).reshape(w.shape[0], -1).sum(axis=1)
            sums = np.repeat(k, int(np.prod(conn.out_shape[1:])))
        else:
            sums = np.abs(w).sum(axis=1) if isinstance(src, Dense) else np.zeros(conn.shape[0])
        lo, hi = (w.min(), w.max()) if w.size else (None, None)
        return _Summary(sums, float(np.max(np.abs(w))) if w.size else 0.0, lo, hi)
    lo = hi = None
    max_abs = 0.0
    if isinstance(src, Dense):
        n_pre = src.shape[1]
        step = max(1, CHUNK // max(n_pre, 1)) * n_pre     # whole rows
        parts = []
        for a in range(0, n, step):
            w = p.scaled(a, min(n, a + step))
            aw = np.abs(w)
            parts.append(aw.reshape(-1, n_pre).sum(axis=1))
            max_abs = max(max_abs, float(aw.max()))
            lo = w.min() if lo is None else min(lo, w.min())
            hi = w.max() if hi is None else max(hi, w.max())
        return _Summary(np.concatenate(parts), max_abs, lo, hi)
    ptr = src.indptr
    at = np.zeros(len(ptr))            # the running sum of |w| at every row start
    carry = None
    for a in range(0, n, CHUNK):
        b = min(n, a + CHUNK)
        w = p.scaled(a, b)
        aw = np.abs(w)
        carry = np.zeros((), aw.dtype) if carry is None else carry
        run = np.cumsum(np.concatenate([carry[None], aw]))
        i, j = np.searchsorted(ptr, a, "right"), np.searchsorted(ptr, b, "right")
        at[i:j] = run[ptr[i:j] - a]
        carry = run[-1]
        max_abs = max(max_abs, float(aw.max()))
        lo = w.min() if lo is None else min(lo, w.min())
        hi = w.max() if hi is None else max(hi, w.max())
    return _Summary(at[1:] - at[:-1], max_abs, lo, hi)


class _Summaries:
    """``_summary`` of each projection, computed on first use and kept until popped."""

    def __init__(self):
        self._done: dict[str, _Summary] = {}

    def __getitem__(self, p: DiscreteProjection) -> _Summary:
        if p.name not in self._done:
            self._done[p.name] = _summary(p)
        return self._done[p.name]

    def pop(self, p: DiscreteProjection) -> _Summary:
        summary = self[p]
        del self._done[p.name]
        return summary


def _quantize_chunked(p: DiscreteProjection, factor: float, mode: str, num: LoihiNumerics
                      ) -> tuple[np.ndarray, dict]:
    """``quantize_to_grid(w · factor)`` of the projection's scaled weights ``w`` (shaped as
    ``source.values``, in ``num.weight_dtype``) and its error statistics, a chunk at a
    time."""
    chunk = CHUNK
    q = np.empty(p.size, dtype=num.weight_dtype)
    sq_err = sq_ref = 0.0
    max_err, zeroed = 0.0, 0
    for a in range(0, p.size, chunk):
        r = p.scaled(a, min(p.size, a + chunk))
        qi = q[a:a + chunk] = num.quantize_to_grid(r * factor, mode)
        err = qi / factor - r
        sq_err += float(np.dot(err, err))
        sq_ref += float(np.dot(r, r))
        max_err = max(max_err, float(np.max(np.abs(err), initial=0.0)))
        zeroed += int(np.count_nonzero((qi == 0) & (r != 0)))
    return q.reshape(p.source.values.shape), {
        "weight_rms_rel_error": float(np.sqrt(sq_err / sq_ref)) if sq_ref > 0 else 0.0,
        "weight_max_abs_error": max_err,
        "weights_rounded_to_zero": zeroed,
    }


@dataclass(frozen=True)
class Quantize(Pass):
    """The Loihi lowering pass: ``state.discrete`` → ``state.lowered`` (a ``LoweredNetwork``).
    Graded input payloads are ``round(x·scale)`` with ``scale`` chosen here."""

    hw: HardwareSpec
    reset: str = "zero"
    input_encoding: InputEncoding = SpikeInput()
    name: ClassVar[str] = "quantize"

    @property
    def num(self) -> LoihiNumerics:
        return LoihiNumerics.from_hw(self.hw)

    def run(self, state: CompileState) -> CompileState:
        # The discretized copy of every weight is not needed any more: drop it.
        return state.with_(lowered=self.lower(state.discrete), discrete=None)

    def lower(self, dnet: DiscreteNetwork) -> LoweredNetwork:
        num = self.num
        enc = self.input_encoding
        bias_mant_max = (1 << (num.bias_mant_bits - 1)) - 1
        groups, projections = [], []
        layers, proj_report = {}, {}
        sums = _Summaries()

        in_scale = 1.0
        in_max = 1.0
        if isinstance(enc, GradedInput):
            in_max = float(enc.max)
            in_scale = self._input_scale(dnet, enc, in_max, sums)
            enc = replace(enc, scale=in_scale)

        for g in dnet.groups:
            S, binding = self._scale(g, dnet, in_max, in_scale, sums)
            if g.spiking:
                vth = int(math.floor(g.threshold * S))
                if vth < 1:
                    raise QuantizationError(
                        f"layer '{g.name}' (NIR node '{g.nir_node}'): threshold {g.threshold:g} "
                        f"rounds to 0 (limited by {binding}); rescale the layer's weights or "
                        "threshold")
                S = vth / g.threshold
            else:
                vth = 1 << (num.threshold_bits)   # v (≤ 2^23 − 1) can never exceed vth << 6
            # Decays.
            unity = num.decay_unity
            du = int(np.clip(round(g.decay_u * unity) - 1, 0, unity - 1))
            dv = int(np.clip(round(g.decay_v * unity), 0, unity - 1))
            # Bias: one exponent per layer, the smallest that fits the mantissa.
            b_int = g.bias * 64 * S
            bias_exp = 0
            while np.max(np.abs(b_int), initial=0) / 2**bias_exp > bias_mant_max + 0.5 \
                    and bias_exp < num.bias_exp_max:
                bias_exp += 1
            bias_mant = np.clip(np.round(b_int / 2**bias_exp), -bias_mant_max - 1,
                                bias_mant_max).astype(np.int64)
            groups.append(LoihiGroup(
                name=g.name, nir_node=g.nir_node, kind=g.neurons.kind, shape=g.shape, du=du,
                dv=dv, vth=vth, bias_mant=bias_mant, bias_exp=bias_exp, reset=self.reset,
                spiking=g.spiking, v_scale=64 * S / g.norm))
            eff_bias = bias_value(bias_mant, bias_exp) / (64 * S)
            layers[g.name] = LayerQuantization(
                nir_node=g.nir_node, scale=S, scale_limited_by=binding,
                vth=vth if g.spiking else None, du=du, dv=dv, bias_exp=bias_exp,
                decay_v_error=abs(dv / unity - g.decay_v),
                decay_u_error=abs((du + 1) / unity - g.decay_u),
                bias_max_abs_error=float(np.max(np.abs(eff_bias - g.bias), initial=0.0)),
                threshold_rel_error=(abs(vth / S - g.threshold) / g.threshold
                                     if g.spiking else 0.0))
            for p in dnet.incoming(g.name):
                q, rep = self._projection(p, S, in_scale if p.src == INPUT else 1.0,
                                          sums.pop(p))
                projections.append(q)
                proj_report[p.name] = rep
        report = QuantizationReport(layers, proj_report, tuple(dnet.warnings))
        return LoweredNetwork(tuple(groups), tuple(projections), enc, report)

    def _scale(self, g: DiscreteGroup, dnet: DiscreteNetwork, in_max: float,
               in_scale: float | None, sums: _Summaries) -> tuple[float, str]:
        """The largest layer scale S every limit allows, and the limit that binds.
        ``in_scale`` None: ignore the input projections' weight limits (graded input whose
        payload scale is still to be chosen)."""
        num = self.num
        u_lim = num.state_max / (1 << num.ACT_SHIFT) - 1   # |U·S| bound
        v_lim = num.state_max / (1 << num.VTH_SHIFT) - 1
        vth_max = (1 << num.threshold_bits) - 1
        bias_mant_max = (1 << (num.bias_mant_bits - 1)) - 1
        incoming = dnet.incoming(g.name)
        src_max = {p.name: (in_max if p.src == INPUT else 1.0) for p in incoming}
        # Worst-case |U| (model units) with every input at its maximum at once.
        drive = sum((sums[p].abs_row_sums * src_max[p.name] for p in incoming),
                    np.zeros(g.n))
        u_max = float(drive.max()) / g.decay_u if incoming else 0.0
        b_max = float(np.max(np.abs(g.bias))) if g.n else 0.0
        limits = {}
        if u_max > 0:
            limits["current range (u, 24 bit)"] = u_lim / u_max
        if g.spiking:
            limits["threshold (17 bit)"] = vth_max / g.threshold
            limits["membrane range (v, 24 bit)"] = v_lim / (g.threshold + u_max + b_max)
        elif g.decay_v > 0 and (u_max + b_max) > 0:
            limits["membrane range (v, 24 bit)"] = v_lim * g.decay_v / (u_max + b_max)
        hi = num.weight_range(MIXED)[1]
        for p in incoming:
            if p.src == INPUT and in_scale is None:
                continue
            wmax = sums[p].max_abs / (in_scale if p.src == INPUT else 1.0)
            if wmax == 0:
                continue
            e_max = 0 if isinstance(p.source, Conv) else num.weight_exp_max
            limits[f"weights of {p.name} (mantissa at exponent {e_max})"] = \
                hi * 2.0**e_max / wmax
        if b_max > 0:
            limits["bias (mantissa at max exponent)"] = \
                bias_mant_max * 2.0**num.bias_exp_max / (64 * b_max)
        if not limits:
            limits["no inputs"] = 1.0
        binding = min(limits, key=limits.get)
        return limits[binding], binding

    def _input_scale(self, dnet: DiscreteNetwork, enc: GradedInput, in_max: float,
                     sums: _Summaries) -> float:
        """Graded payload per input unit: a power of two chosen so that the input
        projections' weights use their full mantissa at exponent 0, capped by the payload
        width. (Too fine a payload would push every input weight below one mantissa step.)"""
        hi = self.num.weight_range(MIXED)[1]
        cap = enc.payload_limit / in_max
        best = cap
        for g in dnet.groups:
            ins = [p for p in dnet.incoming(g.name) if p.src == INPUT]
            if not ins:
                continue
            S, _ = self._scale(g, dnet, in_max, None, sums)
            for p in ins:
                wmax = sums[p].max_abs
                if wmax > 0:
                    best = min(best, wmax * S / hi)
        return float(2.0 ** math.floor(math.log2(max(best, 1e-300)))) if best < cap else cap

    def _projection(self, p: DiscreteProjection, S: float, unit: float, summary: _Summary
                    ) -> tuple[LoihiProjection, ProjectionQuantization]:
        """Integer weights and exponent for projection ``p`` into a layer of scale ``S``;
        ``unit`` is the input payload per model unit (1 for spikes)."""
        num = self.num
        wmax = summary.max_abs / unit
        hi = num.weight_range(MIXED)[1]
        e = 0
        if not isinstance(p.source, Conv) and wmax > 0:   # Lava's Conv ignores weight_exp
            e = int(np.clip(math.ceil(math.log2(wmax * S / hi)), num.weight_exp_min,
                            num.weight_exp_max))
        factor = S / unit / 2.0**e
        # rounding is monotonic, so the extremes decide Lava's sign mode
        ends = np.round(np.array([summary.lo, summary.hi]) * factor) if p.size else \
            np.zeros(1)
        mode = sign_mode(ends)
        q, stats = _quantize_chunked(p, factor, mode, num)
        qconn = p.source.map_weights(lambda w: q.reshape(w.shape))
        if isinstance(qconn, Dense) and \
                np.count_nonzero(qconn.weight) <= SPARSE_DENSITY * qconn.weight.size:
            qconn = Sparse.from_dense(qconn.weight)
        report = ProjectionQuantization(weight_exp=e, sign_mode=mode, kind=qconn.kind, **stats)
        return LoihiProjection(name=p.name, src=p.src, dst=p.dst, conn=qconn, weight_exp=e,
                               sign_mode=mode, nir_nodes=p.nir_nodes,
                               num_weight_bits=num.weight_bits,
                               delay=self._delay(p, qconn)), report

    def _delay(self, p, qconn):
        """The projection's delays (whole steps), those of its stored synapses checked
        against the chip's delay field."""
        d = getattr(p, "delay", None)
        if d is None:
            return None
        stored = d.per_synapse(qconn)[qconn.values != 0]
        longest, limit = int(stored.max(initial=0)), self.num.max_delay
        if longest > limit:
            nodes = ", ".join(f"'{n}'" for n in d.nodes) or "?"
            raise ResourceError(
                f"projection '{p.name}' (NIR Delay node {nodes}): delay {longest} steps > "
                f"{limit}, the longest a {self.hw.name} synapse holds (delay_bits = "
                f"{self.num.delay_bits}); compile with a larger --dt, or shorten the delay "
                "(a longer one needs a relay layer of neurons)")
        return d
