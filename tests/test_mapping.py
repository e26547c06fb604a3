"""Partition, place and route: every per-core limit, every does-not-fit message, routing counts
on hand-checkable meshes, deterministic placement, and placements that never change results."""

from dataclasses import replace

import nir
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurocc.api.errors import ResourceError
from neurocc.backends import run
from neurocc.cli import main
from neurocc.compiler.artifact import save
from neurocc.compiler.ir import INPUT, Conv, Dense, Network, Placement, Projection, Sparse
from neurocc.compiler.linalg import conv_matrix
from neurocc.compiler.mesh import LinkMesh, core_xy, path_counts
from neurocc.compiler.passes.route import route
from neurocc.compiler.pipeline import compile_network
from neurocc.compiler.resources import SourceIndex, fanins, pattern
from neurocc.compiler.targets.loihi import LoihiProjection
from neurocc.cost.energy import estimate
from neurocc.hw_configs import load_hw, override
from neurocc.reports.summary import RESOURCES, core_usage, program_summary, render_summary

import synth

TINY = load_hw("tiny")


def two_chips(**values):
    """tiny with 2 chips side by side: 2×2 tiles of one core each per chip, 8 cores."""
    return override(TINY, {"mesh.chips_per_system": 2, "mesh.chip_mesh": (2, 1), **values})


def lif(name, n):
    return synth.neurons(name, "lif", n, tau=1e-3, r=10.0, nir_node=f"node_{name}")


def chain(sizes, density=1.0, seed=0, sparse=False):
    """input sizes[0] → layers l0, l1, ... with random weights (``density`` nonzero)."""
    rng = np.random.default_rng(seed)
    groups, projections, src = [], [], INPUT
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        # magnitudes within a factor 2, so no weight rounds to zero
        w = rng.choice([-1.0, 1.0], (b, a)) * rng.uniform(0.5, 1.0, (b, a)) \
            * (rng.random((b, a)) < density)
        g = lif(f"l{i}", b)
        conn = Sparse.from_dense(w) if sparse else Dense(w)
        projections.append(Projection(f"p{i}", src, g.name, conn, (f"fc{i}",)))
        groups.append(g)
        src = g.name
    return Network((sizes[0],), tuple(groups), tuple(projections), (src,))


def check_placement(prog):
    """Slices tile every group in order, one per core, inside the system, within limits."""
    hw = prog.hw
    sl = prog.placement.slices
    for gi, g in enumerate(prog.groups):
        rows = sl[sl[:, 0] == gi]
        assert rows[0, 1] == 0 and rows[-1, 2] == g.n
        assert np.all(rows[1:, 1] == rows[:-1, 2]) and np.all(rows[:, 2] > rows[:, 1])
    assert len(np.unique(sl[:, 3])) == len(sl)
    assert sl[:, 3].min() >= 0 and sl[:, 3].max() < hw.mesh.n_cores
    for row in core_usage(prog):
        for key, _ in RESOURCES:
            assert row[f"{key}_pct"] <= 100, row


# --------------------------------------------------------------------------- partition


def test_layer_split_by_neurons_across_chips():
    prog = compile_network(chain([40, 150, 10]), TINY)
    check_placement(prog)
    layers = prog.placement.stats["layers"]
    assert layers["l0"]["cores"] == 3 and layers["l0"]["limited_by"]["neurons"] == 2
    assert prog.chips_used == 1 or len(prog.placement.slices) > TINY.mesh.cores_per_chip


def test_split_by_synaptic_memory():
    # 300 dense inputs × 8 bits = 2400 bits per neuron: 27 neurons fit 65536 bits
    prog = compile_network(chain([300, 60]), TINY)
    check_placement(prog)
    sl = prog.placement.slices
    assert list(sl[:, 2] - sl[:, 1]) == [27, 27, 6]
    assert prog.placement.stats["layers"]["l0"]["limited_by"]["synaptic memory"] == 2


def test_sparse_synapses_cost_weight_and_index_bits():
    net = chain([100, 50], density=0.1, sparse=True)
    prog = compile_network(net, TINY)
    nonzero = np.count_nonzero(prog.projections[0].conn.data)   # rounded-to-zero: not stored
    usage = core_usage(prog)
    assert sum(r["synaptic_memory_bits"] for r in usage) == nonzero * (8 + 8)


def test_split_by_input_axons():
    hw = override(TINY, {"core.input_axons_per_core": 40})
    # each neuron listens to a different window of 10 inputs: 64 neurons need ~74 sources
    n, w = 64, np.zeros((64, 200))
    for i in range(n):
        w[i, 2 * i:2 * i + 10] = 1.0
    net = Network((200,), (lif("h", n),), (Projection("p", INPUT, "h", Sparse.from_dense(w)),),
                  ("h",))
    prog = compile_network(net, hw)
    check_placement(prog)
    assert max(r["input_axons"] for r in core_usage(prog)) <= 40
    assert prog.placement.stats["layers"]["h"]["limited_by"]["input axons"] >= 1


def test_split_by_output_axons():
    hw = override(TINY, {"core.neurons_per_core": 4, "core.output_axons_per_core": 6})
    # l0's 4 neurons each feed l1's 3 cores: 12 output axons > 6, so l0 is split in two
    prog = compile_network(chain([4, 4, 12]), hw)
    check_placement(prog)
    sl = prog.placement.slices
    assert list(sl[sl[:, 0] == 0][:, 2] - sl[sl[:, 0] == 0][:, 1]) == [2, 2]
    assert prog.placement.stats["layers"]["l0"]["limited_by"] == {"output axons": 1,
                                                                  "end of layer": 1}
    assert max(r["output_axons"] for r in core_usage(prog)) == 6


def test_conv_kernels_shared_per_core_or_expanded():
    w = np.random.default_rng(0).uniform(0.5, 1.0, size=(4, 2, 3, 3))
    conv = Conv(w, (2, 8, 8), (4, 8, 8), padding=(1, 1))
    net = Network((2, 8, 8), (lif("c", 256),), (Projection("p", INPUT, "c", conv),), ("c",))
    shared = compile_network(net, TINY)
    usage = core_usage(shared)
    # 4 cores of 64 neurons = one output channel each: one 2×3×3 kernel of 8-bit weights
    assert [r["synaptic_memory_bits"] for r in usage] == [18 * 8] * 4
    expanded = compile_network(net, override(TINY, {"core.conv_kernel_shared": False}))
    dense = conv_matrix(conv)
    total = sum(r["synaptic_memory_bits"] for r in core_usage(expanded))
    assert total == np.count_nonzero(dense) * (8 + 8)


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    ((1, 1), (0, 0), (1, 1), 1), ((2, 1), (1, 2), (1, 1), 1), ((1, 2), (2, 1), (2, 1), 1),
    ((1, 1), (1, 1), (1, 1), 2)])
def test_conv_pattern_matches_its_dense_expansion(stride, padding, dilation, groups):
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4, 4 // groups, 3, 2)) * (rng.random((4, 4 // groups, 3, 2)) < 0.7)
    from neurocc.compiler.linalg import conv_out_hw

    ho, wo = conv_out_hw((7, 6), (3, 2), stride, padding, dilation)
    conv = Conv(w, (4, 7, 6), (4, ho, wo), stride, padding, dilation, groups)
    nz = conv_matrix(conv) != 0
    pat = pattern(conv)
    np.testing.assert_array_equal(pat.rows(), nz.sum(axis=1))
    np.testing.assert_array_equal(pat.cols(), nz.sum(axis=0))
    r, c = pat.window(5, 40)
    got = np.zeros((35, nz.shape[1]), dtype=bool)
    got[r, c] = True
    np.testing.assert_array_equal(got, nz[5:40])
    assert len(r) == nz[5:40].sum()          # no duplicates


def test_sparse_pattern_ignores_stored_zeros():
    sp = Sparse(np.array([0, 3, 4]), np.array([0, 1, 2, 1]), np.array([1, 0, 2, 0]), 3)
    pat = pattern(sp)
    np.testing.assert_array_equal(pat.rows(), [2, 0])
    np.testing.assert_array_equal(pat.cols(), [1, 0, 1])
    r, c = pat.window(0, 2)
    assert list(r) == [0, 0] and list(c) == [0, 2]


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 90), min_size=2, max_size=4),
       density=st.sampled_from([0.05, 0.3, 1.0]), sparse=st.booleans(),
       npc=st.integers(1, 40), mem=st.integers(200, 20000), axons=st.integers(8, 200),
       out=st.integers(4, 200), seed=st.integers(0, 3))
def test_partition_fits_every_limit_or_says_why(sizes, density, sparse, npc, mem, axons, out,
                                                seed):
    hw = override(TINY, {"core.neurons_per_core": npc, "core.synaptic_memory_bits_per_core": mem,
                         "core.input_axons_per_core": axons, "core.output_axons_per_core": out,
                         "mesh.chips_per_system": 16, "mesh.chip_mesh": (4, 4)})
    try:
        prog = compile_network(chain(sizes, density, seed, sparse), hw)
    except ResourceError as e:
        known = ("bits of synaptic memory >", "input axons per tiny core",
                 "output axons per tiny core", "chips, the tiny system has 16")
        assert e.violations and all(any(k in v for k in known) for v in e.violations), e
        return
    check_placement(prog)


# --------------------------------------------------------------------------- does not fit


def test_memory_error_names_layer_node_values_and_help():
    hw = override(TINY, {"core.synaptic_memory_bits_per_core": 1000})
    with pytest.raises(ResourceError, match=(
            r"layer 'l0' \(NIR node 'node_l0'\): neuron 0 needs 1600 bits of synaptic memory "
            r"> 1000 bits per tiny core \('p0' dense: 200 × 8-bit weights\); reduce its fan-in")):
        compile_network(chain([200, 10]), hw)


def test_sparse_memory_error_counts_index_bits():
    hw = override(TINY, {"core.synaptic_memory_bits_per_core": 1000})
    with pytest.raises(ResourceError, match=(r"needs 1600 bits of synaptic memory > 1000 bits "
                                             r"per tiny core \('p0' sparse: 16 bits per "
                                             r"synapse \(8-bit weight \+ 8-bit index\)\)")):
        compile_network(chain([100, 10], sparse=True), hw)


def test_shared_conv_kernel_too_big():
    hw = override(TINY, {"core.synaptic_memory_bits_per_core": 1000})
    conv = Conv(np.ones((2, 16, 3, 3)), (16, 4, 4), (2, 4, 4), padding=(1, 1))
    net = Network((16, 4, 4), (lif("c", 32),), (Projection("p", INPUT, "c", conv),), ("c",))
    with pytest.raises(ResourceError, match=r"1152 bits of synaptic memory > 1000 bits per tiny "
                                            r"core \('p' conv: one shared kernel of 144"):
        compile_network(net, hw)


def test_input_axon_error():
    with pytest.raises(ResourceError, match=(
            r"layer 'l0' \(NIR node 'node_l0'\): neuron 0 receives from 600 distinct sources "
            r"> 512 input axons per tiny core; reduce its fan-in to at most 512 sources")):
        compile_network(chain([600, 10]), TINY)


def test_output_axon_error():
    hw = override(TINY, {"core.neurons_per_core": 4, "core.output_axons_per_core": 2})
    with pytest.raises(ResourceError, match=(
            r"layer 'l0' \(NIR node 'node_l0'\): neuron 0 sends to 3 cores > 2 output axons "
            r"per tiny core \(one per destination core\)")):
        compile_network(chain([4, 4, 12]), hw)


def test_too_many_chips():
    # 600 neurons / 64 per core = 10 cores = 3 chips of 4 cores
    with pytest.raises(ResourceError, match=(
            r"network needs 3 chips, the tiny system has 2: 10 cores at 4 per chip; layer 'l0' "
            r"\(NIR node 'node_l0'\) split across 10 cores \(mostly by neurons\); use a system "
            r"with more chips")):
        compile_network(chain([10, 600]), two_chips())


def test_every_violation_is_listed_at_once():
    hw = override(two_chips(), {"core.synaptic_memory_bits_per_core": 4000})
    net = chain([600, 10, 2000])   # l0: memory and input axons; l2: 2000 neurons
    with pytest.raises(ResourceError) as e:
        compile_network(net, hw)
    v = e.value.violations
    assert len(v) == 3, v
    assert "layer 'l0'" in v[0] and "synaptic memory" in v[0]
    assert "layer 'l0'" in v[1] and "input axons" in v[1]
    assert v[2].startswith("network needs at least ") and "the tiny system has 2" in v[2]
    assert str(e.value).startswith("3 hardware limits exceeded: ")


def test_cli_does_not_fit_is_exit_3_one_line(tmp_path, capsys):
    n = 700
    g = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([n])),
               "fc": nir.Affine(weight=np.ones((4, n)), bias=np.zeros(4)),
               "lif": nir.LIF(tau=np.full(4, 1e-3), r=np.full(4, 10.0), v_leak=np.zeros(4),
                              v_threshold=np.ones(4)),
               "out": nir.Output(output_type=np.array([4]))},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")])
    nir.write(tmp_path / "m.nir", g)
    code = main(["compile", str(tmp_path / "m.nir"), "--hw", "tiny", "-o", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert code == 3
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "700 distinct sources > 512 input axons per tiny core" in err


# --------------------------------------------------------------------------- route


def test_path_counts_on_two_chips():
    hw = two_chips()
    # chip 0 = cores 0..3 on tiles (0,0) (1,0) (0,1) (1,1); chip 1 = cores 4..7, x + 2
    x, y, cx, cy = core_xy(np.arange(8), hw)
    assert list(x) == [0, 1, 0, 1, 2, 3, 2, 3] and list(y) == [0, 0, 1, 1] * 2
    assert list(cx) == [0] * 4 + [1] * 4 and list(cy) == [0] * 8
    ew, ns, cr = path_counts(0, np.arange(8), hw)
    assert list(ew) == [0, 1, 0, 1, 1, 2, 1, 2]
    assert list(ns) == [0, 0, 1, 1, 0, 0, 1, 1]
    assert list(cr) == [0, 0, 0, 0, 1, 1, 1, 1]


def test_routes_for_a_known_placement():
    hw = two_chips()
    g0, g1 = lif("a", 2), lif("b", 2)
    net = Network((2,), (g0, g1), (Projection("p0", INPUT, "a", Dense(np.ones((2, 2)))),
                                   Projection("p1", "a", "b", Dense(np.ones((2, 2))))), ("b",))
    prog = compile_network(net, hw)
    pl = Placement(np.array([[0, 0, 1, 0], [0, 1, 2, 5], [1, 0, 2, 7]]), "manual")
    r = route(prog.groups, prog.projections, pl, hw, 2)
    # inputs enter at core 0 (0,0): to core 0 (no hop) and core 5 (3,0): 2 hops + 1 crossing
    assert list(r.msgs[INPUT]) == [2, 2]
    assert list(r.hops_ew[INPUT]) == [2, 2] and list(r.hops_ns[INPUT]) == [0, 0]
    assert list(r.chips[INPUT]) == [1, 1]
    # a0 (core 0, (0,0)) → core 7 (3,1): x 0→3 (crossing at 1→2), then y 0→1
    # a1 (core 5, (3,0)) → core 7 (3,1): one north-south hop
    assert list(r.msgs["a"]) == [1, 1]
    assert list(r.hops_ew["a"]) == [2, 0] and list(r.hops_ns["a"]) == [1, 1]
    assert list(r.chips["a"]) == [1, 0]
    assert list(r.msgs["b"]) == [0, 0]
    assert list(r.fanout[INPUT]) == [2, 2] and list(r.fanout["a"]) == [2, 2]
    lat = hw.latency
    assert r.longest_s["a"][0] == pytest.approx(2 * lat.hop_ew_s + lat.hop_ns_s
                                                + lat.chip_crossing_s)
    # link loads: +x out of (0,0), (1,0) [chip link], (2,0) carry 3 messages; +y out of (3,0) 2
    mesh = r.mesh
    gx, gy = mesh.grid
    assert (gx, gy) == (4, 2)
    load = r.link_load.reshape(4, gy, gx)
    assert list(load[0, 0]) == [3, 3, 3, 0] and load[0, 1].sum() == 0
    assert load[2, 0, 3] == 2 and load[2].sum() == 2
    assert load[1].sum() == 0 and load[3].sum() == 0
    assert mesh.is_chip_link().reshape(4, gy, gx)[0, 0, 1]
    link = r.busiest_link()
    assert link["messages"] == 3 and link["direction"] == "+x"
    assert link["from"] == {"chip": 0, "tile": [0, 0]} and link["to"] == {"chip": 0,
                                                                         "tile": [1, 0]}
    tot = r.totals()
    assert tot["messages"] == 6 and tot["hops_ew"] == 6 and tot["hops_ns"] == 2
    assert tot["chip_crossings"] == 3


def test_chips_stacked_in_y_cross_north_south():
    hw = override(TINY, {"mesh.chips_per_system": 2, "mesh.chip_mesh": (1, 2)})
    ew, ns, cr = path_counts(0, np.arange(8), hw)   # chip 1 sits below chip 0
    assert list(ew) == [0, 1, 0, 1, 0, 1, 0, 1]
    assert list(ns) == [0, 0, 1, 1, 1, 1, 2, 2]
    assert list(cr) == [0, 0, 0, 0, 1, 1, 1, 1]


def _walk(a, b, hw):
    """Links of the x-then-y route from core a to core b, walked step by step."""
    (x0,), (y0,), _, _ = core_xy([a], hw)
    (x1,), (y1,), _, _ = core_xy([b], hw)
    gx, gy = LinkMesh(hw).grid
    tx, ty = hw.mesh.tile_mesh
    links, ew, ns, cr = [], 0, 0, 0
    x, y = x0, y0
    while x != x1:
        d = 0 if x1 > x else 1
        links.append(d * gx * gy + y * gx + x)
        nx = x + (1 if d == 0 else -1)
        if nx // tx != x // tx:
            cr += 1
        else:
            ew += 1
        x = nx
    while y != y1:
        d = 2 if y1 > y else 3
        links.append(d * gx * gy + y * gx + x)
        ny = y + (1 if d == 2 else -1)
        if ny // ty != y // ty:
            cr += 1
        else:
            ns += 1
        y = ny
    return links, ew, ns, cr


@pytest.mark.parametrize("hw", [TINY, override(TINY, {"mesh.tile_mesh": (3, 2),
                                                     "mesh.cores_per_tile": 2})])
def test_link_loads_and_counts_match_walking_the_routes(hw):
    rng = np.random.default_rng(0)
    a = rng.integers(0, hw.mesh.n_cores, 300)
    b = rng.integers(0, hw.mesh.n_cores, 300)
    w = rng.integers(0, 4, (2, 300)).astype(float)
    mesh = LinkMesh(hw)
    expect = np.zeros((2, mesh.n_links))
    ew, ns, cr = path_counts(a, b, hw)
    for i in range(300):
        links, e, n, c = _walk(a[i], b[i], hw)
        assert (e, n, c) == (ew[i], ns[i], cr[i])
        for k in links:
            expect[:, k] += w[:, i]
    np.testing.assert_array_equal(mesh.loads(a, b, w), expect)
    used_chip_links = expect.sum(axis=0)[mesh.is_chip_link()].sum()
    assert used_chip_links == (w * cr).sum()


# --------------------------------------------------------------------------- place


def layered(seed=0):
    return chain([30, 100, 100, 100, 20], density=0.3, seed=seed, sparse=True)


def test_placement_is_deterministic(tmp_path):
    a = save(compile_network(layered(), TINY), tmp_path / "a").read_bytes()
    b = save(compile_network(layered(), TINY), tmp_path / "b").read_bytes()
    assert a == b


def test_greedy_and_swaps_beat_in_order_and_use_fewest_chips():
    costs = {}
    for strategy in ("in-order", "greedy", "greedy+swap"):
        prog = compile_network(layered(), TINY, placement=strategy)
        check_placement(prog)
        t = prog.placement.stats["traffic"]
        costs[strategy] = t["routing_energy_j"]
        assert t == prog.placement.stats["traffic"]
        assert prog.chips_used == -(-len(prog.placement.slices) // TINY.mesh.cores_per_chip)
        tot = prog.route_totals
        assert tot["messages"] == t["messages"] and tot["chip_crossings"] == t["chip_crossings"]
    assert costs["greedy+swap"] <= costs["greedy"] < costs["in-order"]


def test_place_refuses_unknown_strategy():
    from neurocc.api.errors import NeuroccError

    with pytest.raises(NeuroccError, match="placement strategy 'random' unknown; use one of "
                                           "in-order, greedy, greedy"):
        compile_network(layered(), TINY, placement="random")


# --------------------------------------------------------------------------- results, cost


def single_core(prog):
    rows = [(i, 0, g.n, 0) for i, g in enumerate(prog.groups)]
    return replace(prog, placement=Placement(np.array(rows), "single-core"))


@pytest.mark.parametrize("strategy", ["greedy+swap", "in-order"])
def test_placement_never_changes_results(strategy):
    prog = compile_network(layered(), TINY, placement=strategy)
    assert prog.chips_used >= 2 and len(prog.placement.slices) > 4
    x = np.random.default_rng(0).random((25, 3, 30)) < 0.4
    a, b = run(prog, x), run(single_core(prog), x)
    for g in prog.groups:
        np.testing.assert_array_equal(a.trace.spikes[g.name], b.trace.spikes[g.name])
    np.testing.assert_array_equal(a.output_spike_counts, b.output_spike_counts)
    assert a.activity.synops == b.activity.synops
    assert a.output_spike_counts.sum() > 0
    ea, eb = estimate(prog, a.activity), estimate(single_core(prog), b.activity)
    assert eb.counts["hops"] == 0 and eb.counts["chip_crossings"] == 0
    assert ea.counts["chip_crossings"] > 0 and ea.breakdown_j["chip_crossings"] == \
        pytest.approx(ea.counts["chip_crossings"] * TINY.energy.chip_crossing_j)
    # one core still sends one message per spike and source (to itself); more cores, more
    assert ea.counts["messages"] > eb.counts["messages"] > 0
    assert ea.latency_breakdown_s["barrier_per_step"] > eb.latency_breakdown_s[
        "barrier_per_step"]
    for e in (ea, eb):
        lb = e.latency_breakdown_s
        assert lb["busiest_link_s"] >= 0 and lb["busiest_core_s"] > 0
        # per step max(core, link) + route, summed over steps
        assert lb["busiest_core_and_routes"] >= lb["busiest_core_s"] + lb["longest_route_s"] \
            - 1e-15
        assert lb["busiest_core_and_routes"] >= lb["busiest_link_s"]
    assert eb.latency_breakdown_s["longest_route_s"] == 0
    assert ea.busiest_link is not None and ea.busiest_link["messages_per_inference"] > 0


def test_step_latency_is_busiest_core_or_link_plus_route():
    prog = compile_network(layered(), TINY)
    res = run(prog, np.random.default_rng(1).random((10, 2, 30)) < 0.5)
    act = res.activity
    parts = np.stack(act.step_parts)                       # (steps, 4, B): latency.PARTS
    assert parts.shape == (act.steps_run, 4, 2) and (parts[:, 0] > 0).all()
    core, serial = parts[:, 0], parts[:, 3]
    assert (core <= serial + 1e-18).all() and (core >= serial / 2 - 1e-18).all()
    assert (core < serial).any()        # the two chains overlap somewhere
    est = estimate(prog, act)
    per_step = np.maximum(parts[:, 0], parts[:, 1]) + parts[:, 2]
    want = per_step.sum(axis=0).mean() + est.latency_breakdown_s["barrier_sync"]
    assert est.latency_s == pytest.approx(want)
    assert est.latency_breakdown_s["serial_upper_bound_s"] >= est.latency_s
    lat = TINY.latency
    mesh = LinkMesh(TINY)
    assert act.link_load.sum() > 0
    assert set(np.unique(mesh.seconds_per_message())) == {lat.hop_ew_s, lat.hop_ns_s,
                                                          lat.chip_crossing_s}


# --------------------------------------------------------------------------- info


def test_info_reports_utilisation_links_and_placement(tmp_path, capsys):
    prog = compile_network(layered(), TINY)
    s = program_summary(prog, detail=True)
    assert s["cores_used"] == len(prog.placement.slices) and s["chips_used"] >= 2
    row = s["per_core"][0]
    for key in ("neurons_used", "neurons_limit", "neurons_pct", "synaptic_memory_bits",
                "synaptic_memory_limit", "input_axons", "input_axons_limit", "output_axons",
                "output_axons_limit", "chip", "tile", "layer"):
        assert key in row
    assert s["busiest_link"]["messages"] > 0
    assert s["placement"]["strategy"] == "greedy+swap"
    assert s["placement"]["traffic"]["messages"] == s["routes"]["messages"]
    text = render_summary(s)
    assert "busiest link: chip" in text and "utilisation, fullest core" in text
    assert "in axons" in text and "fewer hops + crossings" in text
    path = save(prog, tmp_path / "p")
    assert main(["info", str(path), "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["utilisation"]["input_axons"]["max_pct"] > 0
    assert len(out["per_core"]) == out["cores_used"]


def test_sources_are_numbered_inputs_first():
    net = chain([3, 4, 5])
    prog = compile_network(net, TINY)
    idx = SourceIndex.build(prog.groups, 3)
    assert list(idx.offsets) == [0, 3, 7, 12] and idx.offset("l1") == 7
    fan = fanins(prog.groups, prog.projections, idx, TINY)
    assert list(fan[1].sources(0, 5)) == [3, 4, 5, 6]
    assert isinstance(prog.projections[0], LoihiProjection)


def test_barrier_is_a_step_lookup_by_tiles_in_use():
    from neurocc.cost.latency import barrier

    got = [barrier(TINY, t) for t in (1, 2, 3, 4, 28, 29, 200)]
    assert got == [0.6e-6, 1.0e-6, 1.0e-6, 1.4e-6, 1.4e-6, 1.8e-6, 1.8e-6]


def test_updates_are_charged_when_the_membrane_is_live_or_biased():
    """SANA-FE's rule: a neuron is updated in a step where its membrane was nonzero before
    it, an input arrived, or it has a bias; a backend that cannot see the membrane gives a
    lower bound and says so."""
    net = Network((2,), (synth.neurons("a", "lif", 3, tau=2e-2, r=50.0),
                         synth.neurons("b", "lif", 2, bias=0.5, thr=100.0)),
                  (Projection("in->a", INPUT, "a", Dense(np.ones((3, 2)))),
                   Projection("in->b", INPUT, "b", Dense(np.zeros((2, 2))))), ("a", "b"))
    prog = compile_network(net, TINY)
    x = np.zeros((6, 1, 2), dtype=np.uint8)
    x[0] = 1                                  # one input spike, then nothing
    emu = run(prog, x)
    live = emu.trace.live["a"][:, 0, 0]
    assert live[0] == 0 and live[2:].sum() >= 2   # a's membrane decays over several steps
    act = emu.activity
    assert act.membrane_traced
    steps = act.steps_run
    assert act.active_updates["b"] == 2 * steps   # biased: every step
    assert act.active_updates["a"] == 3 * (1 + live[1:].sum())  # input step, then while live
    ref = run(prog, x, backend="reference")
    assert not ref.activity.membrane_traced
    assert "lower bound" in ref.to_dict()["neuron_update_rule"]


@settings(max_examples=20, deadline=None)
@given(hw=st.sampled_from(["loihi1", "loihi2"]), seed=st.integers(0, 2**31))
def test_path_links_list_exactly_the_links_loads_charges(hw, seed):
    mesh = LinkMesh(load_hw(hw))
    rng = np.random.default_rng(seed)
    n = mesh.hw.mesh.cores_per_chip * mesh.hw.mesh.chips_per_system
    a, b = rng.integers(0, n, 300), rng.integers(0, n, 300)
    listed = np.zeros((300, mesh.n_links))
    np.add.at(listed, mesh.path_links(a, b), 1.0)
    np.testing.assert_array_equal(listed, mesh.loads(a, b, np.eye(300)))
