"""The one implementation of Loihi's fixed-point arithmetic, as Lava 0.10's ``fixed_pt``
process models compute it (``PyLifModelBitAcc``, ``PyDenseModelBitAcc``, ``PyConvModelFixed``).

Both the quantizer (to pick representable numbers) and the emulator (to step the network)
use these functions, so the two cannot drift. Everything is int64 numpy.

Per time step, for a LIF population (``notes/lava-fixed-point.md``)::

    u ← trunc0(u · (4096 − (du + 1)) / 4096) + (a_in << 6),  then wrapped once to 24 bits
    v ← clip(trunc0(v · (4096 − dv) / 4096) + u + (bias_mant << bias_exp), ±(2^23 − 1))
    spike ← v > (vth << 6);   on spike v ← 0 (u is kept)
"""

from __future__ import annotations

import numpy as np

DECAY_SHIFT = 12
DECAY_UNITY = 1 << DECAY_SHIFT      # 4096: du, dv are 12-bit fractions of it
ACT_SHIFT = 6                       # synaptic input is MSB-aligned by 6 bits into u
VTH_SHIFT = 6                       # and so is the threshold
STATE_BITS = 24
STATE_MAX = 1 << (STATE_BITS - 1)   # 2^23
CONV_OUT_MAX = 1 << (STATE_BITS - 1)

MIXED, EXCITATORY, INHIBITORY = "mixed", "excitatory", "inhibitory"


def trunc_shift(x: np.ndarray, shift: int) -> np.ndarray:
    """``sign(x) · (|x| >> shift)``: division by 2^shift rounding toward zero."""
    return np.sign(x) * (np.abs(x) >> shift)


def decay(x: np.ndarray, keep: int) -> np.ndarray:
    """``trunc0(x · keep / 4096)`` computed in int64 like Lava."""
    if keep == 0:
        return np.zeros_like(x, dtype=np.int64)
    if keep == DECAY_UNITY:
        return x.astype(np.int64)
    return trunc_shift(x.astype(np.int64) * keep, DECAY_SHIFT)


def u_keep(du: int) -> int:
    """Multiplier that keeps the current: Lava adds 1 to du (its ``ds_offset``)."""
    return DECAY_UNITY - (du + 1)


def v_keep(dv: int) -> int:
    return DECAY_UNITY - dv


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap to int32, where Lava's models compute in int32 (the current
    update ``decayed_curr += activation_in``; graded ``weights.dot(s_in)``). Only reachable
    past 2^31, which compiled programs stay far below."""
    if _inside(x, -(2**31), 2**31 - 1):
        return x
    return (x + 2**31) % 2**32 - 2**31


def _inside(x: np.ndarray, lo: int, hi: int) -> bool:
    """Fast path: every value already in [lo, hi] (the common case: no wrap, no clip)."""
    return x.size == 0 or (int(x.min()) >= lo and int(x.max()) <= hi)


def wrap_u(u: np.ndarray) -> tuple[np.ndarray, int]:
    """Lava's one-time 24-bit wrap of the current; returns (u, number of wrapped values)."""
    if _inside(u, -STATE_MAX + 1, STATE_MAX):
        return u, 0
    hi = u > STATE_MAX
    lo = u <= -STATE_MAX
    n = int(hi.sum() + lo.sum())
    return np.where(hi, u - 2 * STATE_MAX, np.where(lo, u + 2 * STATE_MAX, u)), n


def saturate_v(v: np.ndarray) -> tuple[np.ndarray, int]:
    """Clip the membrane to ±(2^23 − 1); returns (v, number of clipped values)."""
    lim = STATE_MAX - 1
    if _inside(v, -lim, lim):
        return v, 0
    n = int(np.count_nonzero((v > lim) | (v < -lim)))
    return np.clip(v, -lim, lim), n


def wrap_conv(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Lava's Conv wraps its output to signed 24 bits."""
    if _inside(a, -CONV_OUT_MAX, CONV_OUT_MAX - 1):
        return a, 0
    out = (a + CONV_OUT_MAX) % (2 * CONV_OUT_MAX) - CONV_OUT_MAX
    return out, int(np.count_nonzero(out != a))


def shift_exp(acc: np.ndarray, exp: int) -> np.ndarray:
    """``acc << exp`` or, for a negative exponent, an arithmetic (flooring) right shift —
    applied to the accumulated sum, not per synapse."""
    return acc << exp if exp > 0 else acc >> (-exp)


def bias_value(bias_mant: np.ndarray, bias_exp: np.ndarray | int) -> np.ndarray:
    """Effective bias added to v every step (not shifted by 6)."""
    m = np.asarray(bias_mant, dtype=np.int64)
    e = np.asarray(bias_exp, dtype=np.int64)
    return np.where(e >= 0, m << np.maximum(e, 0), m >> np.maximum(-e, 0))


def sign_mode(w: np.ndarray) -> str:
    """Lava's ``determine_sign_mode``."""
    if w.size == 0 or np.min(w) >= 0:
        return EXCITATORY
    if np.max(w) <= 0:
        return INHIBITORY
    return MIXED


def weight_range(mode: str, weight_bits: int = 8) -> tuple[int, int]:
    """Representable integer weights ``(lo, hi)`` after Lava's clip and truncation."""
    full = 1 << weight_bits
    if mode == MIXED:
        return -full, full - 2          # floored to even: [-256, 254]
    if mode == EXCITATORY:
        return 0, full - 1
    return -(full - 1), 0


def weight_step(mode: str, weight_bits: int = 8, num_weight_bits: int = 8) -> int:
    """Spacing of representable weights: Lava drops ``8 − num_weight_bits (+1 if MIXED)``
    low bits."""
    return 1 << (weight_bits - num_weight_bits + (1 if mode == MIXED else 0))


def lava_weights(w: np.ndarray, mode: str | None = None, num_weight_bits: int = 8,
                 weight_bits: int = 8) -> np.ndarray:
    """What Lava's Dense does to integer weights on its first step: cast to int, clip to
    the sign mode's range, drop the low bits (flooring; mirrored for INHIBITORY)."""
    mode = mode or sign_mode(w)
    w = np.asarray(w).astype(np.int64)
    neg = mode == INHIBITORY
    if neg:
        w = -w
    lo = -(1 << weight_bits) if mode == MIXED else 0
    w = np.clip(w, lo, (1 << weight_bits) - 1)
    k = weight_bits - num_weight_bits + (1 if mode == MIXED else 0)
    w = (w >> k) << k
    return -w if neg else w


def quantize_to_grid(x: np.ndarray, mode: str, weight_bits: int = 8) -> np.ndarray:
    """Round real-valued weights (already scaled to integer units) to the nearest value
    Lava keeps unchanged, so its truncation is a no-op."""
    step = weight_step(mode, weight_bits)
    lo, hi = weight_range(mode, weight_bits)
    q = np.round(np.asarray(x, dtype=np.float64) / step) * step
    return np.clip(q, lo, hi).astype(np.int64)


def bits_needed(x: int) -> int:
    return int(x).bit_length()
