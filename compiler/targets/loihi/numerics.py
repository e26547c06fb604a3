"""The one implementation of Loihi's fixed-point arithmetic, as Lava 0.10's ``fixed_pt``
process models compute it (``PyLifModelBitAcc``, ``PyDenseModelBitAcc``, ``PyConvModelFixed``).

``LoihiNumerics`` is built from a hardware config's ``[numerics]`` (``from_hw``); the
quantizer uses it to pick representable numbers and the emulator to step the network, so the
two cannot drift, and a config with other widths changes both alike. Lava's own models
implement exactly ``LAVA`` (24-bit state, 12-bit decays, 17-bit thresholds); the Lava backend
refuses programs compiled for other widths. All arithmetic is int64 numpy (a program's weights
are stored narrower, ``weight_dtype``).

Per time step, for a LIF population (``notes/lava-fixed-point.md``), with ``D = 2^decay_bits``
and ``S = 2^(state_bits − 1)``::

    u ← trunc0(u · (D − (du + 1)) / D) + (a_in << 6),  then wrapped once to state_bits
    v ← clip(trunc0(v · (D − dv) / D) + u + (bias_mant << bias_exp), ±(S − 1))
    spike ← v > (vth << 6);   on spike v ← 0 (u is kept)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

MIXED, EXCITATORY, INHIBITORY = "mixed", "excitatory", "inhibitory"


def trunc_shift(x: np.ndarray, shift: int) -> np.ndarray:
    """``sign(x) · (|x| >> shift)``: division by 2^shift rounding toward zero."""
    return np.sign(x) * (np.abs(x) >> shift)


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


@dataclass(frozen=True)
class LoihiNumerics:
    """Number formats of a Loihi-family chip (``[numerics]`` of its hardware config; field
    meanings in ``hw_configs/README.md``) and the arithmetic they imply."""

    weight_bits: int = 8
    weight_exp_min: int = -8
    weight_exp_max: int = 7
    decay_bits: int = 12
    state_bits: int = 24
    threshold_bits: int = 17
    bias_mant_bits: int = 13
    bias_exp_max: int = 7
    graded_spike_bits: int = 24
    delay_bits: int = 6

    ACT_SHIFT: ClassVar[int] = 6
    """Synaptic input is MSB-aligned into u by 6 bits (Lava's ``a_in << 6``)."""
    VTH_SHIFT: ClassVar[int] = 6
    """And so is the threshold (``vth << 6``)."""

    @classmethod
    def from_hw(cls, hw) -> LoihiNumerics:
        return hw.numerics if isinstance(hw.numerics, cls) else cls(**hw.numerics)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    # ------------------------------------------------------------------ widths

    @property
    def decay_unity(self) -> int:
        """``2^decay_bits``: du, dv are fractions of it (4096 on Lava)."""
        return 1 << self.decay_bits

    @property
    def max_delay(self) -> int:
        """The longest synaptic delay a synapse holds, in steps: ``2^delay_bits − 1`` (63 in
        Lava's ``DelayDense``)."""
        return (1 << self.delay_bits) - 1

    @property
    def state_max(self) -> int:
        """``2^(state_bits − 1)``: u wraps and v saturates there."""
        return 1 << (self.state_bits - 1)

    # ------------------------------------------------------------------ neuron arithmetic

    def decay(self, x: np.ndarray, keep: int) -> np.ndarray:
        """``trunc0(x · keep / 2^decay_bits)`` computed in int64 like Lava."""
        if keep == 0:
            return np.zeros_like(x, dtype=np.int64)
        if keep == self.decay_unity:
            return x.astype(np.int64)
        return trunc_shift(x.astype(np.int64) * keep, self.decay_bits)

    def u_keep(self, du: int) -> int:
        """Multiplier that keeps the current: Lava adds 1 to du (its ``ds_offset``)."""
        return self.decay_unity - (du + 1)

    def v_keep(self, dv: int) -> int:
        return self.decay_unity - dv

    def wrap_u(self, u: np.ndarray) -> tuple[np.ndarray, int]:
        """Lava's one-time wrap of the current; returns (u, number of wrapped values)."""
        smax = self.state_max
        if _inside(u, -smax + 1, smax):
            return u, 0
        hi = u > smax
        lo = u <= -smax
        n = int(hi.sum() + lo.sum())
        return np.where(hi, u - 2 * smax, np.where(lo, u + 2 * smax, u)), n

    def saturate_v(self, v: np.ndarray) -> tuple[np.ndarray, int]:
        """Clip the membrane to ±(2^(state_bits−1) − 1); returns (v, number clipped)."""
        lim = self.state_max - 1
        if _inside(v, -lim, lim):
            return v, 0
        n = int(np.count_nonzero((v > lim) | (v < -lim)))
        return np.clip(v, -lim, lim), n

    def wrap_conv(self, a: np.ndarray) -> tuple[np.ndarray, int]:
        """Lava's Conv wraps its output to signed ``state_bits`` bits."""
        smax = self.state_max
        if _inside(a, -smax, smax - 1):
            return a, 0
        out = (a + smax) % (2 * smax) - smax
        return out, int(np.count_nonzero(out != a))

    # ------------------------------------------------------------------ weights

    def weight_range(self, mode: str) -> tuple[int, int]:
        """Representable integer weights ``(lo, hi)`` after Lava's clip and truncation."""
        full = 1 << self.weight_bits
        if mode == MIXED:
            return -full, full - 2          # floored to even: [-256, 254]
        if mode == EXCITATORY:
            return 0, full - 1
        return -(full - 1), 0

    def weight_step(self, mode: str, num_weight_bits: int | None = None) -> int:
        """Spacing of representable weights: Lava drops ``weight_bits − num_weight_bits
        (+1 if MIXED)`` low bits."""
        nwb = self.weight_bits if num_weight_bits is None else num_weight_bits
        return 1 << (self.weight_bits - nwb + (1 if mode == MIXED else 0))

    def lava_weights(self, w: np.ndarray, mode: str | None = None,
                     num_weight_bits: int | None = None) -> np.ndarray:
        """What Lava's Dense does to integer weights on its first step: cast to int, clip to
        the sign mode's range, drop the low bits (flooring; mirrored for INHIBITORY)."""
        mode = mode or sign_mode(w)
        nwb = self.weight_bits if num_weight_bits is None else num_weight_bits
        w = np.asarray(w).astype(np.int64)
        neg = mode == INHIBITORY
        if neg:
            w = -w
        lo = -(1 << self.weight_bits) if mode == MIXED else 0
        w = np.clip(w, lo, (1 << self.weight_bits) - 1)
        k = self.weight_bits - nwb + (1 if mode == MIXED else 0)
        w = (w >> k) << k
        return -w if neg else w

    @property
    def weight_dtype(self) -> np.dtype:
        """What a compiled program stores its integer weights in: the narrowest signed type
        that holds every weight of any sign mode and its magnitude (so ``abs`` cannot
        overflow), int16 for Lava's 8-bit weights. Arithmetic on them is int64."""
        for t in (np.int16, np.int32):
            if np.iinfo(t).max >= 1 << self.weight_bits:
                return np.dtype(t)
        return np.dtype(np.int64)

    def quantize_to_grid(self, x: np.ndarray, mode: str) -> np.ndarray:
        """Round real-valued weights (already scaled to integer units) to the nearest value
        Lava keeps unchanged, so its truncation is a no-op."""
        step = self.weight_step(mode)
        lo, hi = self.weight_range(mode)
        q = np.round(np.asarray(x, dtype=np.float64) / step) * step
        return np.clip(q, lo, hi).astype(np.int64)


LAVA = LoihiNumerics()
"""The widths Lava 0.10's fixed-point models implement (and Loihi 1 and 2 use)."""
