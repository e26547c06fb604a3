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
from neurocc.compiler.ir.discrete import DiscreteGroup, DiscreteNetwork
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


def _abs_row_sums(conn) -> np.ndarray:
    """Σ_j |w_ij| per post neuron."""
    if isinstance(conn, Dense):
        return np.abs(conn.weight).sum(axis=1)
    if isinstance(conn, Sparse):
        c = np.concatenate([[0.0], np.cumsum(np.abs(conn.data))])
        return c[conn.indptr[1:]] - c[conn.indptr[:-1]]
    k = np.abs(conn.weight).reshape(conn.weight.shape[0], -1).sum(axis=1)
    return np.repeat(k, int(np.prod(conn.out_shape[1:])))  # upper bound (ignores padding)


def _quantize_chunked(raw: np.ndarray, factor: float, mode: str, num: LoihiNumerics,
                      chunk: int = 1 << 20) -> tuple[np.ndarray, dict]:
    """``quantize_to_grid(raw · factor)`` and its error statistics, a chunk at a time so a
    100 M-synapse projection needs no full-size float temporaries."""
    flat = raw.reshape(-1)
    q = np.empty(flat.shape, dtype=np.int64)
    sq_err = sq_ref = 0.0
    max_err, zeroed = 0.0, 0
    for a in range(0, flat.size, chunk):
        r = flat[a:a + chunk]
        qi = q[a:a + chunk] = num.quantize_to_grid(r * factor, mode)
        err = qi / factor - r
        sq_err += float(np.dot(err, err))
        sq_ref += float(np.dot(r, r))
        max_err = max(max_err, float(np.max(np.abs(err), initial=0.0)))
        zeroed += int(np.count_nonzero((qi == 0) & (r != 0)))
    return q.reshape(raw.shape), {
        "weight_rms_rel_error": float(np.sqrt(sq_err / sq_ref)) if sq_ref > 0 else 0.0,
        "weight_max_abs_error": max_err,
        "weights_rounded_to_zero": zeroed,
    }


def _max_abs(conn) -> float:
    w = conn.values
    return float(np.max(np.abs(w))) if w.size else 0.0


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

        in_scale = 1.0
        in_max = 1.0
        if isinstance(enc, GradedInput):
            in_max = float(enc.max)
            in_scale = self._input_scale(dnet, enc, in_max)
            enc = replace(enc, scale=in_scale)

        for g in dnet.groups:
            S, binding = self._scale(g, dnet, in_max, in_scale)
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
                q, rep = self._projection(p, S, in_scale if p.src == INPUT else 1.0)
                projections.append(q)
                proj_report[p.name] = rep
        report = QuantizationReport(layers, proj_report, tuple(dnet.warnings))
        return LoweredNetwork(tuple(groups), tuple(projections), enc, report)

    def _scale(self, g: DiscreteGroup, dnet: DiscreteNetwork, in_max: float,
               in_scale: float | None) -> tuple[float, str]:
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
        drive = sum((_abs_row_sums(p.conn) * src_max[p.name] for p in incoming),
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
            wmax = _max_abs(p.conn) / (in_scale if p.src == INPUT else 1.0)
            if wmax == 0:
                continue
            e_max = 0 if isinstance(p.conn, Conv) else num.weight_exp_max
            limits[f"weights of {p.name} (mantissa at exponent {e_max})"] = \
                hi * 2.0**e_max / wmax
        if b_max > 0:
            limits["bias (mantissa at max exponent)"] = \
                bias_mant_max * 2.0**num.bias_exp_max / (64 * b_max)
        if not limits:
            limits["no inputs"] = 1.0
        binding = min(limits, key=limits.get)
        return limits[binding], binding

    def _input_scale(self, dnet: DiscreteNetwork, enc: GradedInput, in_max: float) -> float:
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
            S, _ = self._scale(g, dnet, in_max, None)
            for p in ins:
                wmax = _max_abs(p.conn)
                if wmax > 0:
                    best = min(best, wmax * S / hi)
        return float(2.0 ** math.floor(math.log2(max(best, 1e-300)))) if best < cap else cap

    def _projection(self, p, S: float, unit: float
                    ) -> tuple[LoihiProjection, ProjectionQuantization]:
        """Integer weights and exponent for projection ``p`` into a layer of scale ``S``;
        ``unit`` is the input payload per model unit (1 for spikes)."""
        num = self.num
        conn = p.conn
        wmax = _max_abs(conn) / unit
        hi = num.weight_range(MIXED)[1]
        e = 0
        if not isinstance(conn, Conv) and wmax > 0:   # Lava's Conv ignores weight_exp
            e = int(np.clip(math.ceil(math.log2(wmax * S / hi)), num.weight_exp_min,
                            num.weight_exp_max))
        factor = S / unit / 2.0**e
        raw = conn.values
        # rounding is monotonic, so the extremes decide Lava's sign mode
        ends = np.round(np.array([raw.min(), raw.max()]) * factor) if raw.size else np.zeros(1)
        mode = sign_mode(ends)
        q, stats = _quantize_chunked(raw, factor, mode, num)
        qconn = conn.map_weights(lambda w: q.reshape(w.shape))
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
