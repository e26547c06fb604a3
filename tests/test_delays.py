"""NIR ``Delay`` nodes end to end: which placements compile to per-synapse delays and which
are refused, the step a delayed spike arrives at (measured on Lava 0.10's ``DelayDense``: a
spike sent at Lava step 3 with delays 0, 1, 2, 5 reached its LIF at steps 4, 5, 6, 9), both
emulator schedules, the float reference against NIR's ``y(t) = x(t − τ)``, the artifact,
counting, resources, and Lava itself (``-m lava``)."""

from dataclasses import replace

import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurocc
from neurocc.api.errors import QuantizationError, ResourceError, UnsupportedError
from neurocc.backends import payloads
from neurocc.backends.emulator import EmulatorBackend
from neurocc.backends.reference import ReferenceBackend
from neurocc.compiler.frontend import read_nir
from neurocc.compiler.ir import INPUT, Dense, Network, Projection, Sparse
from neurocc.compiler.ir.delays import Delays
from neurocc.compiler.pipeline import compile_network, compile_nir
from neurocc.compiler.resources import synapse_bits_per_neuron

import synth

DT = 1e-4


def lif(n, thr=1.0, tau=2e-3):
    return nir.LIF(tau=np.full(n, tau), r=np.ones(n), v_leak=np.zeros(n),
                   v_threshold=np.full(n, thr))


def if_(n, thr):
    """An integrator with unit gain per step (r = 1/dt): v ← v + I."""
    return nir.IF(r=np.full(n, 1 / DT), v_threshold=np.full(n, thr))


def graph(nodes: dict, edges: list, n_in: int, n_out: int) -> nir.NIRGraph:
    nodes = {"in": nir.Input(input_type={"input": np.array([n_in])}), **nodes,
             "out": nir.Output(output_type={"output": np.array([n_out])})}
    return nir.NIRGraph(nodes=nodes, edges=edges)


def placements(rng) -> dict[str, tuple[nir.NIRGraph, dict]]:
    """One graph per supported placement, and the delays (steps) each projection must get:
    ``{projection: (row, col)}``."""
    w1, w2, w3 = rng.normal(0.5, 1, (5, 4)), rng.normal(0.5, 1, (3, 5)), rng.normal(0, 1, (6, 4))
    col = np.array([0, 1, 3, 2]) * DT
    row = np.array([2, 0, 5]) * DT
    out = {}
    out["column"] = (graph(
        {"d": nir.Delay(col), "fc1": nir.Affine(w1, np.zeros(5)), "l1": lif(5),
         "fc2": nir.Linear(w2), "l2": lif(3)},
        [("in", "d"), ("d", "fc1"), ("fc1", "l1"), ("l1", "fc2"), ("fc2", "l2"),
         ("l2", "out")], 4, 3), {"<input>->l1": ([0] * 5, [0, 1, 3, 2])})
    out["row"] = (graph(
        {"fc1": nir.Affine(w1, np.zeros(5)), "l1": lif(5), "fc2": nir.Linear(w2),
         "d": nir.Delay(row), "l2": lif(3)},
        [("in", "fc1"), ("fc1", "l1"), ("l1", "fc2"), ("fc2", "d"), ("d", "l2"),
         ("l2", "out")], 4, 3), {"l1->l2": ([2, 0, 5], [0] * 5)})
    # a uniform delay between two weight nodes of one chain: it commutes with both
    out["uniform"] = (graph(
        {"fc0": nir.Linear(w3), "d": nir.Delay(np.full(6, 3 * DT)),
         "fc1": nir.Affine(rng.normal(0.5, 1, (5, 6)), np.zeros(5)), "l1": lif(5),
         "fc2": nir.Linear(w2), "l2": lif(3)},
        [("in", "fc0"), ("fc0", "d"), ("d", "fc1"), ("fc1", "l1"), ("l1", "fc2"),
         ("fc2", "l2"), ("l2", "out")], 4, 3), {"<input>->l1": ([3] * 5, [0] * 4)})
    # both ends at once, through a Scale (element-wise), and a delayed recurrent edge
    out["both+recurrent"] = (graph(
        {"d0": nir.Delay(col), "s": nir.Scale(np.full(4, 2.0)),
         "fc1": nir.Affine(w1, np.zeros(5)), "d1": nir.Delay(np.array([1, 0, 0, 4, 2]) * DT),
         "l1": lif(5), "rec": nir.Linear(rng.normal(0, 0.3, (5, 5))),
         "drec": nir.Delay(np.full(5, 2 * DT)), "fc2": nir.Linear(w2), "l2": lif(3)},
        [("in", "d0"), ("d0", "s"), ("s", "fc1"), ("fc1", "d1"), ("d1", "l1"),
         ("l1", "rec"), ("rec", "drec"), ("drec", "l1"), ("l1", "fc2"), ("fc2", "l2"),
         ("l2", "out")], 4, 3),
        {"<input>->l1": ([1, 0, 0, 4, 2], [0, 1, 3, 2]), "l1->l1": ([2] * 5, [0] * 5)})
    return out


@pytest.mark.parametrize("placement", ["column", "row", "uniform", "both+recurrent"])
def test_nir_files_with_delays_compile_to_per_synapse_delays(tmp_path, placement):
    g, want = placements(np.random.default_rng(0))[placement]
    nir.write(tmp_path / "d.nir", g)
    prog = compile_nir(tmp_path / "d.nir", dt=DT)
    got = {p.name: p.delay for p in prog.projections if p.delay is not None}
    assert set(got) == set(want)
    for name, (row, col) in want.items():
        np.testing.assert_array_equal(got[name].row, row)
        np.testing.assert_array_equal(got[name].col, col)
        d = got[name].per_synapse(prog.projections[[p.name for p in prog.projections]
                                                   .index(name)].conn)
        assert d.dtype.kind == "i"
    # the weights are those of the same graph without its Delay nodes
    net = read_nir(tmp_path / "d.nir")
    assert all(p.delay is None or p.delay.nodes for p in net.projections)


def test_a_delayed_conv_is_stored_as_synapses():
    """Lava's Conv has no delays: a uniform Delay after a Conv2d keeps the weights and
    stores them as dense/sparse synapses, each with the delay."""
    rng = np.random.default_rng(1)
    g = nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([1, 6, 6])}),
        "conv": nir.Conv2d(input_shape=(6, 6), weight=rng.normal(0.5, 1, (2, 1, 3, 3)),
                           stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(2)),
        "d": nir.Delay(np.full((2, 4, 4), 2 * DT)),
        "l1": nir.LIF(tau=np.full((2, 4, 4), 2e-3), r=np.ones((2, 4, 4)),
                      v_leak=np.zeros((2, 4, 4)), v_threshold=np.ones((2, 4, 4))),
        "flat": nir.Flatten(input_type={"input": np.array([2, 4, 4])}, start_dim=0),
        "fc": nir.Linear(rng.normal(0, 1, (3, 32))), "l2": lif(3),
        "out": nir.Output(output_type={"output": np.array([3])})},
        edges=[("in", "conv"), ("conv", "d"), ("d", "l1"), ("l1", "flat"), ("flat", "fc"),
               ("fc", "l2"), ("l2", "out")])
    net = read_nir(g)
    assert net.incoming("l1")[0].conn.kind == "conv"       # the IR keeps the kernel
    prog = compile_nir(g, dt=DT)
    p = prog.incoming("l1")[0]
    assert p.conn.kind in ("dense", "sparse") and int(p.delay.max) == 2
    x = (rng.random((12, 2, 36)) < 0.4).astype(np.int64)
    a = EmulatorBackend("layer").simulate(prog, payloads(prog, x))
    b = EmulatorBackend("step").simulate(prog, payloads(prog, x))
    for k in a.spikes:
        np.testing.assert_array_equal(a.spikes[k], b.spikes[k])
    ref = prog.run(x.astype(float), backend="reference").trace.spikes["l1"]
    assert not ref[:3].any() and ref.any()       # held 1 step, then 2 steps of delay


# --------------------------------------------------------------------------- refusals


def two_layer(d_node, *, first=None, where="before"):
    rng = np.random.default_rng(2)
    nodes = {"fc1": first or nir.Affine(rng.normal(size=(5, 4)), np.zeros(5)), "l1": lif(5),
             "d": d_node, "fc2": nir.Linear(rng.normal(size=(3, 5))), "l2": lif(3)}
    edges = [("in", "fc1"), ("fc1", "l1"), ("l1", "fc2"), ("fc2", "d"), ("d", "l2"),
             ("l2", "out")]
    return graph(nodes, edges, 4, 3)


def test_a_fractional_delay_is_refused_naming_value_and_dt():
    g = two_layer(nir.Delay(np.array([2e-4, 1.5e-4, 0.0])))
    with pytest.raises(QuantizationError,
                       match=r"^projection 'l1->l2' \(NIR Delay node 'd'\): delay 0\.00015 s "
                             r"\(destination neuron 1\) is 1\.5 steps at dt = 0\.0001 s; delays "
                             r"must be whole steps: compile with a dt that divides every "
                             r"delay \(--dt\), or round the delays in the model$"):
        compile_nir(g, dt=DT)
    # the same delays are whole steps at dt = 50 µs; float32 storage is within tolerance
    g32 = two_layer(nir.Delay(np.array([2e-4, 1.5e-4, 0.0], dtype=np.float32)))
    prog = compile_nir(g32, dt=5e-5)
    np.testing.assert_array_equal(prog.projections[-1].delay.row, [4, 3, 0])


def test_a_delay_over_the_chip_limit_is_refused_with_the_limit_and_its_source():
    g = two_layer(nir.Delay(np.array([64 * DT, 0.0, 0.0])))
    with pytest.raises(ResourceError,
                       match=r"^projection 'l1->l2' \(NIR Delay node 'd'\): delay 64 steps > "
                             r"63, the longest a loihi2 synapse holds \(delay_bits = 6\); "
                             r"compile with a larger --dt, or shorten the delay"):
        compile_nir(g, dt=DT)
    assert compile_nir(two_layer(nir.Delay(np.array([63 * DT, 0.0, 0.0]))), dt=DT)
    hw = neurocc.hw_configs.load_hw("loihi2")
    src = hw.sources["numerics.delay_bits"]
    assert "PyDelayDenseModelBitAcc" in src["source"] and not src["assumption"]


def test_a_negative_delay_is_refused():
    with pytest.raises(UnsupportedError, match=r"^node 'd' \(Delay\): delay -0\.0001 s < 0; "
                                               r"y\(t\) = x\(t − τ\) with τ < 0 would look "
                                               r"into the future: use delays ≥ 0$"):
        read_nir(two_layer(nir.Delay(np.array([-1e-4, 0.0, 0.0]))))


def test_a_delay_on_only_one_of_two_paths_is_refused():
    rng = np.random.default_rng(3)
    g = graph({"a": nir.Linear(rng.normal(size=(5, 4))), "d": nir.Delay(np.full(4, DT)),
               "b": nir.Linear(rng.normal(size=(5, 4))), "l1": lif(5)},
              [("in", "a"), ("a", "l1"), ("in", "d"), ("d", "b"), ("b", "l1"), ("l1", "out")],
              4, 5)
    with pytest.raises(UnsupportedError,
                       match=r"^node 'd' \(Delay\) is on only some of the paths from the input "
                             r"to 'l1': the synapses these paths share would get part of "
                             r"their input delayed and part not, and a synapse has one delay; "
                             r"put the Delay on every path \(right after the input or right "
                             r"before 'l1'\)$"):
        read_nir(g)


def test_per_element_delays_between_two_weight_nodes_are_refused():
    rng = np.random.default_rng(4)
    g = graph({"a": nir.Linear(rng.normal(size=(6, 4))),
               "d": nir.Delay(np.array([0, 1, 2, 0, 1, 2]) * DT),
               "b": nir.Linear(rng.normal(size=(5, 6))), "l1": lif(5)},
              [("in", "a"), ("a", "d"), ("d", "b"), ("b", "l1"), ("l1", "out")], 4, 5)
    with pytest.raises(UnsupportedError,
                       match=r"^node 'd' \(Delay\): 3 different delays between weight nodes "
                             r"\('a' before it, 'b' after\) would split each synapse the input "
                             r"→ 'l1' across several delays, and a synapse has one; make its "
                             r"delays uniform, or move it right after the input or right "
                             r"before 'l1'$"):
        read_nir(g)


def test_a_delay_right_before_an_output_is_refused():
    g = graph({"fc": nir.Linear(np.ones((5, 4))), "l1": lif(5), "d": nir.Delay(np.full(5, DT))},
              [("in", "fc"), ("fc", "l1"), ("l1", "d"), ("d", "out")], 4, 5)
    with pytest.raises(UnsupportedError,
                       match=r"^Output 'out' is fed by node 'd' \(Delay\): a chip's delays are "
                             r"synaptic, between neurons; remove the Delay and shift the "
                             r"recorded output by it, or move it before a neuron node$"):
        read_nir(g)


def test_sanafe_refuses_delayed_programs():
    sanafe = pytest.importorskip("neurocc.backends.sanafe")
    prog = compile_nir(placements(np.random.default_rng(0))["row"][0], dt=DT)
    with pytest.raises(sanafe.SanafeUnsupported,
                       match=r"^backend 'sanafe' cannot run projection 'l1->l2' with synaptic "
                             r"delays \(NIR Delay node d\)"):
        sanafe.check(prog)


# --------------------------------------------------------------------------- emulator


def delayed_network(rng, recurrent: bool = False, sparse: bool = False) -> Network:
    """Input → h → o, column delays on the input, row and column delays into o (and a
    delayed recurrent edge on h); weights that make both layers spike."""
    n_in, n_h, n_o = 6, 7, 4
    w_in = rng.normal(0.6, 0.8, (n_h, n_in))
    w_out = rng.normal(0.5, 0.8, (n_o, n_h))
    if sparse:                 # 6 synapses of 28: stored as CSR (DelaySparse on Lava)
        keep = np.zeros(w_out.shape, bool)
        keep[[0, 1, 2, 3, 1, 3], [0, 1, 2, 3, 4, 6]] = True
        w_out = np.where(keep, np.abs(w_out) + 0.5, 0.0)
    projections = [
        Projection("in->h", INPUT, "h", Dense(w_in),
                   delay=Delays(np.zeros(n_h), np.array([0, 1, 2, 3, 0, 5]) * DT, ("d_in",))),
        Projection("h->o", "h", "o", Dense(w_out),
                   delay=Delays(np.array([0, 4, 1, 7]) * DT,
                                np.array([0, 0, 1, 0, 2, 0, 0]) * DT, ("d_out",)))]
    if recurrent:
        projections.append(Projection("h->h", "h", "h", Dense(rng.normal(0, 0.4, (n_h, n_h))),
                                      delay=Delays(np.full(n_h, 3 * DT), np.zeros(n_h),
                                                   ("d_rec",))))
    return Network(input_shape=(n_in,),
                   groups=(synth.neurons("h", "lif", n_h, r=20.0, thr=1.5, bias=0.002),
                           synth.neurons("o", "lif", n_o, r=20.0, thr=1.2)),
                   projections=tuple(projections), outputs=("o",))


def spikes_in(rng, steps=30, batch=3, n=6, p=0.3):
    x = (rng.random((steps, batch, n)) < p).astype(np.int64)
    x[-2:] = 1                 # spikes whose delayed arrival falls after the last step
    return x


def odd_exponent(prog, name="h->o"):
    """The projection's weights made odd and positive with weight_exp = −1 (its target's
    threshold scaled to match): Lava floors each delay's sum, not the total, so the emulator
    must too."""
    p = next(p for p in prog.projections if p.name == name)
    w = np.abs(p.conn.to_dense())
    w = np.where(w != 0, (w // 2) * 2 + 1, 0).astype(np.int64)
    conn = Sparse.from_dense(w) if p.conn.kind == "sparse" else Dense(w)
    q = replace(p, conn=conn, weight_exp=-1, sign_mode="excitatory")
    g = prog.group(p.dst)
    g = replace(g, vth=max(1, g.vth >> (p.weight_exp + 1)))
    return replace(prog, projections=tuple(q if r is p else r for r in prog.projections),
                   groups=tuple(g if h.name == g.name else h for h in prog.groups))


def test_a_delayed_spike_arrives_one_step_plus_its_delay_later():
    """What Lava's DelayDense does (module docstring): sent at step t, integrated at
    t + 1 + d, with Lava's Dense's own one step for d = 0."""
    prog = compile_network(delayed_network(np.random.default_rng(5)), dt=DT)
    for j, d in enumerate([0, 1, 2, 3, 0, 5]):
        x = np.zeros((12, 1, 6), np.int64)
        x[2, 0, j] = 1
        u = EmulatorBackend("step").simulate(prog, x, record_state=True).u["h"][:, 0]
        assert np.flatnonzero(np.abs(u).sum(axis=1))[0] == 2 + 1 + d


@pytest.mark.parametrize("sparse", [False, True])
def test_layer_major_equals_step_major_with_delays(monkeypatch, sparse):
    import neurocc.backends.emulator.layered as layered

    rng = np.random.default_rng(6)
    prog = odd_exponent(compile_network(delayed_network(rng, sparse=sparse), dt=DT))
    assert prog.projections[-1].conn.kind == ("sparse" if sparse else "dense")
    x = spikes_in(rng)
    ref = EmulatorBackend("step").simulate(prog, payloads(prog, x), record_state=True)
    assert all(ref.spikes[g].sum() > 5 for g in ("h", "o"))
    for block in (None, 7 * 3, 3 * 7 * 3):          # one block, one step, three steps a block
        if block:
            monkeypatch.setattr(layered, "BLOCK_VALUES", block)
        got = EmulatorBackend("layer").simulate(prog, payloads(prog, x), record_state=True)
        for k in ref.spikes:
            np.testing.assert_array_equal(got.spikes[k], ref.spikes[k])
            np.testing.assert_array_equal(got.u[k], ref.u[k])
            np.testing.assert_array_equal(got.v[k], ref.v[k])
            if prog.group(k).always_updated:      # its liveness counts nothing: not kept
                assert got.live[k] is None
            else:
                np.testing.assert_array_equal(got.live[k], ref.live[k])


def with_random_delays(prog, rng, longest: int):
    """Every non-conv projection of ``prog`` given random row and column delays."""
    def delayed(p):
        if p.conn.kind == "conv" or rng.random() < 0.2:
            return p
        n_post, n_pre = p.conn.shape
        return replace(p, delay=Delays(rng.integers(0, longest // 2 + 1, n_post),
                                       rng.integers(0, longest // 2 + 1, n_pre), ("d",)))
    return replace(prog, projections=tuple(delayed(p) for p in prog.projections))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), extreme=st.booleans(), graded=st.booleans(),
       steps=st.integers(1, 12), longest=st.integers(1, 9),
       synapses=st.sampled_from(["dense", "events"]), block=st.sampled_from([1, 7, 1 << 22]))
def test_layer_major_equals_step_major_on_random_delayed_programs(seed, extreme, graded, steps,
                                                                  longest, synapses, block):
    import neurocc.backends.emulator.layered as layered

    rng = np.random.default_rng(seed)
    prog = with_random_delays(synth.random_program(seed, extreme=extreme, recurrent=False,
                                                   autonomous=False, graded=graded),
                              rng, longest)
    x = payloads(prog, synth.random_input(seed, prog, steps=steps, batch=2))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(layered, "EVENT_DENSITY", 0.0 if synapses == "dense" else 1.1)
        m.setattr(layered, "BLOCK_VALUES", block)
        fast = EmulatorBackend("layer").simulate(prog, x, True)
    slow = EmulatorBackend("step").simulate(prog, x, True)
    for k in slow.spikes:
        for what in ("spikes", "live", "v", "u"):
            if what == "live" and prog.group(k).always_updated:
                assert fast.live[k] is None           # counts nothing there: not kept
                continue
            np.testing.assert_array_equal(getattr(fast, what)[k], getattr(slow, what)[k],
                                          err_msg=f"{what} of {k}")
    assert fast.saturation == slow.saturation


def test_recurrent_delayed_programs_run_step_major():
    rng = np.random.default_rng(7)
    prog = compile_network(delayed_network(rng, recurrent=True), dt=DT)
    be = EmulatorBackend()
    trace = be.simulate(prog, payloads(prog, spikes_in(rng)))
    assert be.last_schedule == "step" and trace.spikes["h"].sum() > 5


# --------------------------------------------------------------------------- float reference


def test_reference_follows_nir_delay_semantics():
    """NIR: y(t) = x(t − τ). An IF layer (v ← v + I, unit gain) behind a column Delay and a
    row Delay, simulated here by hand from the NIR graph with neurocc's one step per hop."""
    rng = np.random.default_rng(8)
    # weights 0, 1, 2 become 0, 127, 254 and the threshold 2.5 exactly 40640 (vth)
    w = np.array([[2, 1, 0, 2], [0, 2, 2, 1], [1, 2, 0, 2], [2, 0, 1, 1], [2, 2, 0, 0]], float)
    col, row = np.array([0, 2, 1, 3]), np.array([1, 0, 4, 0, 2])
    g = graph({"dc": nir.Delay(col * DT), "fc": nir.Linear(w),
               "dr": nir.Delay(row * DT), "l1": if_(5, 2.5)},
              [("in", "dc"), ("dc", "fc"), ("fc", "dr"), ("dr", "l1"), ("l1", "out")], 4, 5)
    prog = compile_nir(g, dt=DT)
    T, B = 40, 3
    x = (rng.random((T, B, 4)) < 0.4).astype(float)
    trace = ReferenceBackend().simulate(prog, x)
    v, want = np.zeros((B, 5)), np.zeros((T, B, 5), bool)
    for t in range(1, T):                      # held at step 0 (hop depth 1)
        for i in range(5):
            for j in range(4):
                src = t - 1 - row[i] - col[j]
                if src >= 0:
                    v[:, i] += w[i, j] * x[src, :, j]
        want[t] = v > 2.5
        v[want[t]] = 0.0
    assert want.sum() > 20
    np.testing.assert_array_equal(trace.spikes["l1"], want)

    # ... and the emulator agrees where every value is exactly representable
    assert prog.report.projections["<input>->l1"].weight_max_abs_error == 0
    emu = EmulatorBackend().simulate(prog, x.astype(np.int64))
    np.testing.assert_array_equal(emu.spikes["l1"], want)


# --------------------------------------------------------------------------- artifact, costs


def test_artifact_round_trip_keeps_delays(tmp_path):
    rng = np.random.default_rng(9)
    prog = compile_network(delayed_network(rng, recurrent=True, sparse=True), dt=DT)
    prog.save(tmp_path / "p.neurocc")
    back = neurocc.load(tmp_path / "p.neurocc")
    for a, b in zip(prog.projections + prog.network.projections,
                    back.projections + back.network.projections):
        np.testing.assert_array_equal(a.delay.row, b.delay.row)
        np.testing.assert_array_equal(a.delay.col, b.delay.col)
        assert a.delay.nodes == b.delay.nodes
    x = spikes_in(rng)
    for be in ("emulator", "reference"):
        r1, r2 = prog.run(x, backend=be), back.run(x, backend=be)
        for k in r1.trace.spikes:
            np.testing.assert_array_equal(r1.trace.spikes[k], r2.trace.spikes[k])


def test_artifacts_from_before_delays_still_load(tmp_path):
    """An older program: no ``delay`` entries and no ``delay_bits`` in its stored config."""
    from neurocc.compiler.targets.loihi.artifact import from_payload, to_payload

    net = delayed_network(np.random.default_rng(10))
    net = replace(net, projections=tuple(replace(p, delay=None) for p in net.projections))
    prog = compile_network(net, dt=DT)
    meta, arrays = to_payload(prog)
    assert all("delay" not in m for m in meta["projections"])
    del meta["hw"]["numerics"]["delay_bits"]
    old = from_payload(meta, arrays, "old.neurocc")
    assert all(p.delay is None for p in old.projections) and old.max_delay == 0
    assert old.numerics == prog.numerics
    assert old.hw.sources["numerics.delay_bits"]["assumption"]


def test_counting_charges_a_delayed_spike_when_it_is_sent():
    """Synaptic work happens when the spike reaches the core (the result waits in the
    delay buffer), so an input spike on the last step is counted though it arrives later."""
    prog = compile_network(delayed_network(np.random.default_rng(11)), dt=DT)
    x = np.zeros((5, 1, 6), np.int64)
    x[-1, 0, 5] = 1                      # delay 5 steps: arrives after the drained run ends
    res = prog.run(x)
    fan_out = int(np.count_nonzero(prog.incoming("h")[0].conn.to_dense()[:, 5]))
    assert res.activity.synops["in->h"] == fan_out > 0
    assert res.trace.spikes["h"].sum() == 0


def test_delays_take_synaptic_memory():
    prog = compile_network(delayed_network(np.random.default_rng(12), sparse=True), dt=DT)
    for p in prog.projections:
        bits = synapse_bits_per_neuron(p, prog.hw)
        plain = synapse_bits_per_neuron(replace(p, delay=None), prog.hw)
        per = p.conn.shape[1] if p.conn.kind == "dense" else np.diff(p.conn.indptr)
        np.testing.assert_array_equal(bits - plain, per * prog.numerics.delay_bits)


# --------------------------------------------------------------------------- Lava


@pytest.mark.lava
@pytest.mark.parametrize("case", ["feed-forward", "recurrent", "graded"])
def test_lava_delay_dense_and_sparse_equal_the_emulator(case):
    """Feed-forward (dense + sparse, a negative exponent on odd weights), with a delayed
    recurrent edge, and graded input payloads through a delayed input projection; three
    samples whose last spikes are still in flight when each ends."""
    pytest.importorskip("lava.magma", reason="lava-nc is not importable (it needs Python 3.10)")
    from neurocc.backends.diff import compare_traces, render_diff
    from neurocc.backends.lava import LavaBackend
    from neurocc.compiler.ir import GradedInput

    rng = np.random.default_rng(13 + len(case))
    graded = case == "graded"
    prog = compile_network(delayed_network(rng, recurrent=case == "recurrent",
                                           sparse=case == "feed-forward"), dt=DT,
                           input_encoding=GradedInput(1.0) if graded else None)
    if case == "feed-forward":
        prog = odd_exponent(prog)
    x = rng.random((25, 3, 6)) * (rng.random((25, 3, 6)) < 0.5) if graded else spikes_in(rng)
    feed = payloads(prog, x)
    emu = EmulatorBackend().simulate(prog, feed, True)
    assert all(emu.spikes[g].sum() > 5 for g in ("h", "o"))
    lava = LavaBackend(timeout_s=300).simulate(prog, feed, True)
    d = compare_traces(prog, emu, lava, "emulator", "lava")
    assert d["identical"], render_diff(d)
    assert set(d["quantities"]) == {"spikes", "v", "u"}
