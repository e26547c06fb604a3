"""Lava vs the emulator: spikes (and u, v where recorded) identical at every step, for every
neuron, in every sample of a batch.

Each Lava run starts a child process and a Lava runtime (~2–5 s on 2 cores), so every test
packs a whole batch (≥ 2 samples: the sample-boundary reset is always exercised) into one
run, and the property test keeps its example count small; ``-m slow`` runs more.
"""

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("lava.magma", reason="lava-nc is not importable (it needs Python 3.10)")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from neurocc.api.errors import BackendError  # noqa: E402
from neurocc.backends import payloads  # noqa: E402
from neurocc.backends.diff import compare_traces, render_diff  # noqa: E402
from neurocc.backends.emulator import EmulatorBackend  # noqa: E402
from neurocc.backends.lava import LavaBackend  # noqa: E402
from neurocc.compiler.ir import INPUT, Conv, Dense, GradedInput, Network, Projection  # noqa: E402
from neurocc.compiler.linalg import conv_out_hw  # noqa: E402
from neurocc.compiler.pipeline import compile_network  # noqa: E402

import synth  # noqa: E402

pytestmark = pytest.mark.lava


def assert_bit_exact(program, x, record_state=True):
    """Run both backends on the same payloads; every recorded array must be identical."""
    feed = payloads(program, x)
    emu = EmulatorBackend().simulate(program, feed, record_state)
    lava = LavaBackend(timeout_s=300).simulate(program, feed, record_state)
    d = compare_traces(program, emu, lava, "emulator", "lava")
    assert d["identical"], render_diff(d)
    if record_state:
        assert set(d["quantities"]) == {"spikes", "v", "u"}
    for g in program.groups:
        assert lava.spikes[g.name].shape == (len(feed), feed.shape[1], g.n)
    return emu, lava, d


def group(name, kind, n, tau=2e-3, thr=1.0, bias=0.0, tau_syn=5e-4):
    return synth.neurons(name, kind, n, tau=tau, thr=thr, bias=bias, tau_syn=tau_syn)


def with_fixed(program, groups=None, projections=None):
    """Override compiled fixed-point values: ``{name: {field: value}}``."""
    gs = tuple(replace(g, **(groups or {}).get(g.name, {})) for g in program.groups)
    ps = tuple(replace(p, **(projections or {}).get(p.name, {})) for p in program.projections)
    return replace(program, groups=gs, projections=ps)


# --------------------------------------------------------------------------- hand-built


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_tiny_dense_recurrent_readout(reset):
    """Input → LIF (bias with exponent, du = 0: the current never decays and wraps) with a
    recurrent projection → LI readout; odd mixed-sign weights floored to Lava's grid; plus a
    biased self-exciting layer the input never reaches, which runs from every sample's first
    step while its own recurrent buffer still holds the previous sample's last spikes."""
    rng = np.random.default_rng(1)
    net = Network(
        input_shape=(5,),
        groups=(group("h", "lif", 4, bias=0.2), group("out", "li", 3),
                group("a", "lif", 3, bias=1.0)),
        projections=(Projection("in->h", INPUT, "h", Dense(rng.normal(0, 1, (4, 5)))),
                     Projection("h->h", "h", "h", Dense(rng.normal(0, 0.3, (4, 4)))),
                     Projection("h->out", "h", "out", Dense(rng.normal(0, 1, (3, 4)))),
                     Projection("a->a", "a", "a", Dense(np.ones((3, 3)))),
                     Projection("a->h", "a", "h", Dense(rng.normal(0, 1, (4, 3))))),
        outputs=("out",))
    prog = with_fixed(
        compile_network(net, reset=reset),
        groups={"h": dict(du=0, dv=300, vth=90, bias_mant=np.array([3000, -20, 0, 4095]),
                          bias_exp=3),
                "a": dict(du=0, dv=4095, vth=60, bias_mant=np.array([4000, 2000, -100]),
                          bias_exp=0)},
        projections={
            "in->h": dict(conn=Dense(np.array([[10, -36, 100, 0, 254], [-256, 2, 2, 40, 0],
                                               [90, 90, -90, 6, 6], [0, 0, 0, 0, 0]])),
                          weight_exp=1, sign_mode="mixed"),
            "h->h": dict(conn=Dense(np.array([[0, -8, 0, 4], [6, 0, -2, 0], [0, 0, 0, 0],
                                              [-100, 50, 0, 0]])), weight_exp=-1,
                         sign_mode="mixed"),
            "a->a": dict(conn=Dense(np.full((3, 3), 7)), weight_exp=2,
                         sign_mode="excitatory")})
    x = (rng.random((14, 3, 5)) < 0.4).astype(np.uint8)
    emu, lava, d = assert_bit_exact(prog, x)
    assert d["spikes"] > 10
    # The biased neuron 3 (bias 4095 << 3 > vth << 6) fires on its first step of every
    # sample, after being held for its hop depth: the sample-boundary reset is exact.
    assert lava.spikes["h"][1, :, 3].all() and not lava.spikes["h"][0].any()
    # "a" fires on the last step of each sample, and still starts the next from u = 0.
    assert lava.spikes["a"][-1].any() and (lava.u["a"][0] == 0).all()
    assert (lava.u["a"][1] > 0).all()


@pytest.mark.parametrize("graded", [False, True])
def test_tiny_conv_pool_dense(graded):
    """Image input → conv (3×3, padding 1) → depthwise sum-pooling (groups = channels, stride
    2: Lava's Conv runs it natively) → dense CubaLIF → IF, with binary or graded input."""
    rng = np.random.default_rng(2)
    c1 = Conv(rng.normal(0, 1, (3, 2, 3, 3)), (2, 6, 6), (3, 6, 6), (1, 1), (1, 1))
    pool = Conv(np.ones((3, 1, 2, 2)), (3, 6, 6), (3, 3, 3), (2, 2), (0, 0), (1, 1), groups=3)
    ho, wo = conv_out_hw((6, 6), (2, 3), (2, 2), (0, 0), (1, 2))
    c2 = Conv(rng.normal(0, 1, (2, 2, 2, 3)), (2, 6, 6), (2, ho, wo), (2, 2), (0, 0), (1, 2))
    net = Network(
        input_shape=(2, 6, 6),
        groups=(group("c", "lif", (3, 6, 6), thr=0.5), group("p", "if", (3, 3, 3), thr=1.5),
                group("d", "cubalif", 7, tau_syn=5e-4, bias=0.1), group("o", "if", 4),
                group("s", "lif", (2, ho, wo))),
        projections=(Projection("in->c", INPUT, "c", c1), Projection("c->p", "c", "p", pool),
                     Projection("p->d", "p", "d", Dense(rng.normal(0, 1, (7, 27)))),
                     Projection("d->o", "d", "o", Dense(rng.normal(0, 1, (4, 7)))),
                     Projection("in->s", INPUT, "s", c2)),
        outputs=("o",))
    prog = compile_network(net, reset="subtract",
                           input_encoding=GradedInput(max=1.0) if graded else None)
    assert [p.conn.kind for p in prog.projections].count("conv") == 3
    # The compiler's worst-case scaling leaves typical inputs far below threshold: lower it.
    prog = with_fixed(prog, groups={g.name: {"vth": max(1, g.vth // 6)} for g in prog.groups})
    on = rng.random((10, 3, 2, 6, 6)) < 0.4
    x = np.round(rng.uniform(-0.2, 1.0, on.shape), 2) * on if graded else on.astype(np.uint8)
    _, _, d = assert_bit_exact(prog, x)
    assert d["spikes"] > 10


def _one_layer(n_in, w, weight_exp, graded=False, du=4095, dv=4095, vth=2**17 - 1):
    net = Network(input_shape=(n_in,), groups=(group("h", "lif", w.shape[0]),),
                  projections=(Projection("p", INPUT, "h", Dense(np.ones(w.shape))),),
                  outputs=("h",))
    prog = compile_network(net, input_encoding=GradedInput(max=1.0) if graded else None)
    if graded:
        prog = replace(prog, input_encoding=replace(prog.input_encoding, scale=2.0**23 - 1))
    return with_fixed(prog, groups={"h": dict(du=du, dv=dv, vth=vth)},
                      projections={"p": dict(conn=Dense(w), weight_exp=weight_exp,
                                             sign_mode="mixed")})


def test_int32_wraps_of_lava_arithmetic():
    """Past 2^31 Lava computes in int32: the current (decay + a_in << 6) and the graded dot
    product wrap before the 24-bit wrap / the exponent shift. The emulator reproduces it."""
    w = np.full((2, 2000), 254)
    w[1] = -256
    prog = _one_layer(2000, w, weight_exp=7)
    emu, lava, _ = assert_bit_exact(prog, np.ones((3, 2, 2000), np.uint8))
    assert emu.u["h"][1, 0, 0] == -116654080      # wrap32(254·2000·2^7·2^6) − … + 2^24

    wg = np.tile(np.array([[254, -200, 130, 2]]), (3, 1)) * np.array([[1], [-1], [1]])
    prog = _one_layer(4, wg, weight_exp=-3, graded=True)
    x = np.array([[1.0, -1.0, 1.0, 0.5], [1.0, 1.0, 1.0, 1.0]])[None].repeat(3, axis=0)
    assert_bit_exact(prog, x)


def test_unrepresentable_weights_are_refused():
    """A program whose weights are off Lava's grid would silently differ: the worker says so
    in one line and the backend raises BackendError."""
    prog = _one_layer(3, np.array([[3, -1, 2]]), weight_exp=0)      # odd: not "mixed"-exact
    with pytest.raises(BackendError, match=r"Lava failed: .*weight 3 is not representable"):
        LavaBackend(timeout_s=120).simulate(prog, payloads(prog, np.ones((2, 2, 3))), False)


# --------------------------------------------------------------------------- properties

NETWORK_OPTIONS = st.fixed_dictionaries({
    "conv": st.booleans(), "sparse": st.booleans(), "recurrent": st.booleans(),
    "cubalif": st.booleans(), "readout": st.booleans(), "autonomous": st.booleans(),
    "n_layers": st.integers(1, 3), "max_neurons": st.integers(2, 16)})


def _check_random_program(seed, options, reset, graded, batch, steps, extreme):
    rng = np.random.default_rng(seed)
    prog = synth.random_program(rng, reset=reset, graded=graded, extreme=extreme, **options)
    x = synth.random_input(rng, prog, steps, batch)
    assert_bit_exact(prog, x, record_state=True)


@settings(max_examples=16, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), options=NETWORK_OPTIONS,
       reset=st.sampled_from(["zero", "subtract"]), graded=st.booleans(),
       batch=st.integers(2, 4), steps=st.integers(3, 10))
def test_random_programs_bit_exact(seed, options, reset, graded, batch, steps):
    """Random dense / sparse / conv / pooling / recurrent / CubaLIF networks with quirky
    fixed-point values (``synth.perturb``), both reset rules, binary or graded input:
    spikes, u and v identical at every step of every sample."""
    _check_random_program(seed, options, reset, graded, batch, steps, extreme=True)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), options=NETWORK_OPTIONS,
       reset=st.sampled_from(["zero", "subtract"]), graded=st.booleans(),
       batch=st.integers(2, 6), steps=st.integers(3, 16), extreme=st.booleans())
def test_random_programs_bit_exact_long(seed, options, reset, graded, batch, steps, extreme):
    _check_random_program(seed, options, reset, graded, batch, steps, extreme)


# --------------------------------------------------------------------------- the zoo

ZOO_SAMPLES = {"digits": 20, "retina": 6, "olfaction": 6}
"""Test samples per zoo model compared on every step (Lava is ~100x slower than the emulator;
the slow variant below runs whole test splits)."""


@pytest.mark.parametrize("name", list(ZOO_SAMPLES))
def test_zoo_model_on_lava(name):
    """Every committed zoo model, compiled as its user would, gives identical spikes, u and v
    on Lava and on the emulator (the retina's readout is a non-spiking LI: v is its output)."""
    from neurocc.compiler.pipeline import compile_nir
    from neurocc.models import zoo

    model = zoo.get(name)
    prog = compile_nir(model.NIR_PATH, hw="loihi2", **model.COMPILE)
    x, _ = model.test_inputs()
    assert_bit_exact(prog, x[:, :ZOO_SAMPLES[name]])


def test_digits_with_subtract_reset_on_lava():
    from neurocc.compiler.pipeline import compile_nir
    from neurocc.models import zoo

    model = zoo.get("digits")
    prog = compile_nir(model.NIR_PATH, reset="subtract")
    x, _ = model.test_inputs()
    assert_bit_exact(prog, x[:, :10])


@pytest.mark.slow
@pytest.mark.parametrize("name, n", [("digits", 360), ("olfaction", 100)])
def test_zoo_model_long_split_on_lava(name, n):
    from neurocc.compiler.pipeline import compile_nir
    from neurocc.models import zoo

    model = zoo.get(name)
    prog = compile_nir(model.NIR_PATH, **model.COMPILE)
    x, _ = model.test_inputs()
    assert_bit_exact(prog, x[:, :n], record_state=False)


def test_multi_chip_placement_runs_unchanged_on_lava():
    """Placement never changes results: the digits model split over several cores and chips
    of the tiny test chip gives the same spikes on Lava as on the emulator, and as the
    single-core-per-layer loihi2 program."""
    from neurocc.compiler.pipeline import compile_nir
    from neurocc.models import zoo

    model = zoo.get("digits")
    tiny = compile_nir(model.NIR_PATH, hw="tiny")
    assert tiny.chips_used > 1 and len(tiny.placement.cores_used) > 4
    x, _ = model.test_inputs()
    emu, _, _ = assert_bit_exact(tiny, x[:, :8], record_state=False)
    big = compile_nir(model.NIR_PATH, hw="loihi2")
    ref = EmulatorBackend().simulate(big, payloads(big, x[:, :8]), False)
    for g in tiny.groups:
        np.testing.assert_array_equal(emu.spikes[g.name], ref.spikes[g.name])


def test_conv1d_model_from_snntorch_on_lava():
    """A Conv1d front end (strided, grouped, dilated: a Lava Conv process of height 1) read
    from an snnTorch module, then AvgPool1d + Linear fused into one dense projection: Lava
    equals the emulator."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    import neurocc

    torch.manual_seed(3)
    nn = torch.nn
    net = nn.Sequential(nn.Conv1d(2, 4, 3, stride=2, padding=1, dilation=2, groups=2),
                        snn.Leaky(beta=0.9, init_hidden=True), nn.AvgPool1d(2), nn.Flatten(),
                        nn.Linear(4 * 3, 3), snn.Leaky(beta=0.8, init_hidden=True, output=True))
    for m in net.modules():
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            m.weight.data *= 3.0
    prog = neurocc.compile(net, sample=torch.zeros(1, 2, 13))
    assert [p.conn.kind for p in prog.projections].count("conv") == 1
    x = (np.random.default_rng(4).random((12, 3, 2, 13)) < 0.4).astype(np.uint8)
    _, _, d = assert_bit_exact(prog, x)
    assert d["spikes"] > 10


def test_threshold_node_on_lava():
    """NIR's memoryless Threshold (a LIF with dv = du = 4095, zero reset) between two Affine
    layers: Lava equals the emulator, residue of the sub-threshold potential included."""
    import nir

    import neurocc

    rng = np.random.default_rng(5)
    lif = dict(tau=np.full(4, 1e-3), r=np.full(4, 10.0), v_leak=np.zeros(4),
               v_threshold=np.ones(4))
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([6])}),
        "fc": nir.Affine(weight=rng.normal(0, 1, (8, 6)), bias=rng.normal(0, 0.2, 8)),
        "th": nir.Threshold(threshold=np.full(8, 0.4)),
        "fc2": nir.Affine(weight=rng.normal(0, 1, (4, 8)), bias=np.zeros(4)),
        "lif": nir.LIF(**lif), "out": nir.Output(output_type={"output": np.array([4])})},
        edges=[("in", "fc"), ("fc", "th"), ("th", "fc2"), ("fc2", "lif"), ("lif", "out")])
    prog = neurocc.compile(g)
    x = (rng.random((15, 3, 6)) < 0.5).astype(np.uint8)
    _, lava, d = assert_bit_exact(prog, x)
    assert lava.spikes["th"].any() and d["spikes"] > 10


def test_two_input_graph_on_lava():
    """Two NIR Inputs sharing one input space, two Outputs: Lava equals the emulator."""
    import nir

    import neurocc

    rng = np.random.default_rng(6)
    lif = lambda n: nir.LIF(tau=np.full(n, 1e-3), r=np.full(n, 10.0),  # noqa: E731
                            v_leak=np.zeros(n), v_threshold=np.ones(n))
    g = nir.NIRGraph(nodes={
        "a": nir.Input(input_type={"input": np.array([6])}),
        "b": nir.Input(input_type={"input": np.array([3])}),
        "fa": nir.Affine(weight=rng.normal(0, 1.5, (5, 6)), bias=np.zeros(5)),
        "fb": nir.Affine(weight=rng.normal(0, 1.5, (5, 3)), bias=np.zeros(5)),
        "h": lif(5), "fo": nir.Affine(weight=rng.normal(0, 1.5, (2, 5)), bias=np.zeros(2)),
        "o": lif(2), "out": nir.Output(output_type={"output": np.array([2])}),
        "out_h": nir.Output(output_type={"output": np.array([5])})},
        edges=[("a", "fa"), ("b", "fb"), ("fa", "h"), ("fb", "h"), ("h", "fo"), ("fo", "o"),
               ("o", "out"), ("h", "out_h")])
    prog = neurocc.compile(g)
    x = {"a": (rng.random((15, 3, 6)) < 0.5).astype(np.uint8),
         "b": (rng.random((15, 3, 3)) < 0.5).astype(np.uint8)}
    _, lava, d = assert_bit_exact(prog, x)
    assert lava.spikes["h"].any() and d["spikes"] > 10
