"""The one numerics object (``LoihiNumerics``), checked against Lava's own helper functions
where Lava has them (real Lava code, not a copy), and against other widths."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurocc.compiler.targets.loihi import numerics as fx
from neurocc.compiler.targets.loihi.numerics import LAVA, LoihiNumerics


def test_trunc_rounds_toward_zero_not_floor():
    x = np.array([-4097 * 3, -1, 1, 4097 * 3], dtype=np.int64)
    assert list(fx.trunc_shift(x, 12)) == [-3, 0, 0, 3]
    assert (-4097 * 3) >> 12 == -4  # a plain shift floors: the bug the note warns about


def test_decay_keeps_du_plus_one():
    u = np.array([4096 * 100], dtype=np.int64)
    assert LAVA.decay(u, LAVA.u_keep(0))[0] == 4095 * 100 // 1   # du = 0 still decays by 1/4096
    assert LAVA.decay(u, LAVA.u_keep(4095))[0] == 0              # du = 4095 forgets everything
    assert LAVA.decay(u, LAVA.v_keep(0))[0] == 4096 * 100        # dv = 0 keeps v


def test_u_wraps_once_and_v_saturates():
    top = LAVA.state_max
    u, n = LAVA.wrap_u(np.array([top, top + 1, -top, -top + 1], dtype=np.int64))
    assert list(u) == [top, top + 1 - 2 * top, top, -top + 1] and n == 2
    v, n = LAVA.saturate_v(np.array([top + 5, -top - 5, 7], dtype=np.int64))
    assert list(v) == [top - 1, -(top - 1), 7] and n == 2


def test_negative_weight_exponent_floors_the_sum():
    acc = np.array([-5, 5], dtype=np.int64)
    assert list(fx.shift_exp(acc, -1)) == [-3, 2]
    assert list(fx.shift_exp(acc, 2)) == [-20, 20]


def test_bias_exponent_is_not_shifted_by_six():
    assert list(fx.bias_value(np.array([3, -3]), 2)) == [12, -12]


lava_w = pytest.importorskip("lava.utils.weightutils")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-300, 300), min_size=1, max_size=20), st.integers(1, 8))
def test_lava_weights_matches_lava(ws, bits):
    w = np.array(ws)
    mode = {"mixed": lava_w.SignMode.MIXED, "excitatory": lava_w.SignMode.EXCITATORY,
            "inhibitory": lava_w.SignMode.INHIBITORY}[fx.sign_mode(w)]
    want = lava_w.truncate_weights(lava_w.clip_weights(w, mode, num_bits=8), mode, bits)
    np.testing.assert_array_equal(LAVA.lava_weights(w, num_weight_bits=bits), want)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-400, 400), min_size=1, max_size=20))
def test_quantized_grid_is_a_fixed_point_of_lava_truncation(ws):
    w = np.array(ws)
    mode = fx.sign_mode(np.round(w))
    q = LAVA.quantize_to_grid(w, mode)
    np.testing.assert_array_equal(LAVA.lava_weights(q, mode), q)
    lo, hi = LAVA.weight_range(mode)
    assert q.min() >= lo and q.max() <= hi


def test_numerics_follow_the_configured_widths():
    """A config with other widths changes the arithmetic, not just the quantizer's bounds."""
    n = LoihiNumerics(decay_bits=8, state_bits=16, weight_bits=6)
    assert n.decay_unity == 256 and n.state_max == 1 << 15
    assert n.decay(np.array([256 * 10]), n.v_keep(128))[0] == 128 * 10
    u, wrapped = n.wrap_u(np.array([(1 << 15) + 1]))
    assert wrapped == 1 and u[0] == (1 << 15) + 1 - (1 << 16)
    assert n.weight_range("mixed") == (-64, 62)
