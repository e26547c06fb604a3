"""Discretize + quantize: fixed point stays close to the float model, within the chip's
number formats, and refuses what Loihi cannot represent."""

import importlib.util
from pathlib import Path

import nir
import numpy as np
import pytest

from neurocc.api.errors import InputError, NeuroccError, QuantizationError
from neurocc.backends import run
from neurocc.compiler.ir import GradedInput
from neurocc.compiler.pipeline import compile_nir
from neurocc.compiler.targets.loihi import numerics as fx
from neurocc.compiler.targets.loihi.numerics import LAVA
from neurocc.reports.run import counts_agreement

_spec = importlib.util.spec_from_file_location(
    "tp", Path(__file__).with_name("test_program.py"))
_tp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tp)
small_graph = _tp.small_graph


def dense_graph(thresholds=(1.0, 1.0, 1.0), taus=None, n_in=8, seed=0):
    rng = np.random.default_rng(seed)
    n = len(thresholds)
    tau = np.array(taus if taus is not None else [1e-3] * n)
    return nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([n_in])),
               "fc": nir.Affine(weight=rng.normal(size=(n, n_in)), bias=rng.normal(size=n) * .02),
               "lif": nir.LIF(tau=tau, r=tau / 1e-4, v_leak=np.zeros(n),
                              v_threshold=np.array(thresholds)),
               "out": nir.Output(output_type=np.array([n]))},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")])


def spikes(shape, p=0.4, seed=0):
    return (np.random.default_rng(seed).random(shape) < p).astype(np.uint8)


def test_fixed_point_tracks_the_float_model():
    prog = compile_nir(small_graph(), hw="loihi2")
    x = spikes((40, 64, 1, 5, 5))
    fixed, ref = run(prog, x), run(prog, x, backend="reference")
    for g in prog.groups:
        a = fixed.trace.spikes[g.name].sum(axis=0)
        b = ref.trace.spikes[g.name].sum(axis=0)
        agree = counts_agreement(a, b)
        assert b.sum() > 100
        assert agree["relative_l1"] < 0.08, (g.name, agree)   # measured 0.3 % and 5.1 %
        assert agree["pearson_r"] > 0.98, (g.name, agree)


def test_parameters_fit_the_number_formats():
    prog = compile_nir(small_graph(), hw="loihi2")
    num = prog.hw.numerics
    for g in prog.groups:
        assert 0 <= g.du < 4096 and 0 <= g.dv < 4096
        assert 1 <= g.vth < 2**num.threshold_bits
        assert np.abs(g.bias_mant).max() < 2 ** (num.bias_mant_bits - 1)
        assert 0 <= g.bias_exp <= num.bias_exp_max
    for p in prog.projections:
        w = p.conn.data if p.conn.kind == "sparse" else p.conn.weight
        np.testing.assert_array_equal(LAVA.lava_weights(w, p.sign_mode), w)
        assert num.weight_exp_min <= p.weight_exp <= num.weight_exp_max
        if p.conn.kind == "conv":
            assert p.weight_exp == 0  # Lava's Conv ignores weight_exp
    rep = prog.report
    assert set(rep.layers) == {g.name for g in prog.groups}
    assert all(r.weight_rms_rel_error < 0.02 for r in rep.projections.values())


def test_per_neuron_thresholds_are_normalised_exactly():
    graph = dense_graph(thresholds=(0.5, 1.0, 2.0))
    prog = compile_nir(graph, hw="loihi2")
    x = spikes((60, 32, 8), 0.5)
    a = run(prog, x).output_spike_counts
    b = run(prog, x, backend="reference").output_spike_counts
    assert b[:, 0].sum() > b[:, 2].sum() > 0      # lower threshold, more spikes
    assert counts_agreement(a, b)["relative_l1"] < 0.05


def test_layer_with_several_time_constants_becomes_subpopulations():
    prog = compile_nir(dense_graph(taus=[1e-3, 2e-3, 1e-3]), hw="loihi2")
    split = prog.network.meta["subpopulations"]["lif"]
    assert [idx for _, idx in split] == [[1], [0, 2]]      # dv 205 and 410
    assert sorted(g.dv for g in prog.groups) == [205, 410]
    x = (np.random.default_rng(0).random((20, 4, 8)) < 0.5).astype(np.uint8)
    assert run(prog, x).output_spike_counts.shape == (4, 3)


def test_time_constant_below_dt_is_refused():
    with pytest.raises(QuantizationError, match=r"tau_mem 5e-05 s < dt 0.0001 s"):
        compile_nir(dense_graph(taus=[5e-5] * 3), hw="loihi2")


def test_graded_input():
    prog = compile_nir(dense_graph(), hw="loihi2", input_encoding=GradedInput(max=1.0))
    x = np.random.default_rng(0).random((30, 16, 8))
    a = run(prog, x).output_spike_counts
    b = run(prog, x, backend="reference").output_spike_counts
    assert b.sum() > 20 and counts_agreement(a, b)["relative_l1"] < 0.05
    with pytest.raises(InputError, match="exceeds the graded-input maximum 1"):
        run(prog, x * 3)


def test_graded_values_into_a_spike_program_are_refused():
    prog = compile_nir(dense_graph(), hw="loihi2")
    with pytest.raises(InputError, match=r"graded value .* compiled for binary spikes.*"
                                         r"--graded-input"):
        run(prog, np.full((3, 2, 8), 0.5))


def test_input_shape_is_checked():
    prog = compile_nir(dense_graph(), hw="loihi2")
    with pytest.raises(InputError, match=r"input has shape \(3, 2, 7\); the program expects "
                                         r"\(steps, batch, 8\)"):
        run(prog, np.zeros((3, 2, 7)))


def test_loihi1_has_no_graded_spikes():
    with pytest.raises(NeuroccError, match="loihi1 has no graded spikes"):
        compile_nir(dense_graph(), hw="loihi1", input_encoding=GradedInput(max=1.0))


def test_hand_computed_lif_step():
    """One neuron, one input synapse; u and v follow the Lava formulas worked by hand."""
    prog = compile_nir(dense_graph(thresholds=(1.0,), n_in=1, seed=3), hw="loihi2")
    g, p = prog.groups[0], prog.projections[0]
    w = int(p.conn.to_dense()[0, 0])
    x = np.zeros((4, 1, 1), dtype=np.uint8)
    x[0] = 1
    res = run(prog, x, record_state=True, drain=False)
    u, v = res.trace.u[g.name][:, 0, 0], res.trace.v[g.name][:, 0, 0]
    b = int(fx.bias_value(g.bias_mant, g.bias_exp)[0])
    a_in = w << p.weight_exp if p.weight_exp >= 0 else w >> -p.weight_exp
    # step 0: held (hop depth 1); step 1: the spike from x[0] arrives
    assert u[0] == 0 and v[0] == 0
    assert u[1] == a_in << 6
    v1 = min(max(a_in * 64 + b, -(2**23 - 1)), 2**23 - 1)
    assert v[1] == (0 if v1 > g.vth << 6 else v1)
    # step 2: du = 4095 forgets u; v decays by dv/4096 toward zero, truncating
    assert u[2] == 0
    keep = 4096 - g.dv
    dec = int(np.sign(v[1]) * ((abs(int(v[1])) * keep) >> 12))
    assert v[2] == dec + b or (v[2] == 0 and dec + b > g.vth << 6)
