"""NIR frontend: what it accepts, how it fuses linear chains, and how it refuses bad graphs."""

import nir
import numpy as np
import pytest

from neurocc.api.errors import FrontendError, UnsupportedError
from neurocc.compiler.frontend import SUPPORTED, read_nir
from neurocc.compiler.ir import INPUT, Conv, Dense, back_edges, hop_depths
from neurocc.compiler.linalg import conv2d
from neurocc.compiler.pipeline import compile_nir


def lif(n, beta=0.9, thr=1.0, shape=None):
    shape = shape or (n,)
    dt = 1e-4
    return nir.LIF(tau=np.full(shape, dt / (1 - beta)), r=np.full(shape, 1 / (1 - beta)),
                   v_leak=np.zeros(shape), v_threshold=np.full(shape, thr))


def mlp(rng, sizes=(6, 5, 3)):
    nodes = {"in": nir.Input(input_type=np.array([sizes[0]]))}
    edges, prev = [], "in"
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        nodes[f"fc{i}"] = nir.Affine(weight=rng.normal(size=(b, a)), bias=rng.normal(size=b))
        nodes[f"lif{i}"] = lif(b)
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["out"] = nir.Output(output_type=np.array([sizes[-1]]))
    edges.append((prev, "out"))
    return nir.NIRGraph(nodes=nodes, edges=edges)


def test_mlp_groups_and_projections():
    g = mlp(np.random.default_rng(0))
    net = read_nir(g)
    assert [x.name for x in net.groups] == ["lif0", "lif1"]
    assert net.outputs == ("lif1",)
    p0 = net.incoming("lif0")[0]
    assert p0.src == INPUT and isinstance(p0.conn, Dense)
    np.testing.assert_allclose(p0.conn.weight, g.nodes["fc0"].weight)
    # Affine biases become the destination group's constant input current
    np.testing.assert_allclose(net.group("lif0").bias, g.nodes["fc0"].bias)
    assert net.depth() == 2


def test_node_order_does_not_matter(tmp_path):
    """Files read back alphabetically: names chosen so alphabetical ≠ topological."""
    rng = np.random.default_rng(1)
    nodes = {"z_in": nir.Input(input_type=np.array([4])),
             "a_fc": nir.Affine(weight=rng.normal(size=(3, 4)), bias=np.zeros(3)),
             "m_lif": lif(3), "b_fc": nir.Linear(weight=rng.normal(size=(2, 3))),
             "c_lif": lif(2), "0_out": nir.Output(output_type=np.array([2]))}
    edges = [("z_in", "a_fc"), ("a_fc", "m_lif"), ("m_lif", "b_fc"), ("b_fc", "c_lif"),
             ("c_lif", "0_out")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    nir.write(tmp_path / "g.nir", graph)
    a, b = read_nir(graph), read_nir(tmp_path / "g.nir")
    assert a.outputs == b.outputs == ("c_lif",)
    for pa, pb in zip(a.projections, b.projections):
        assert (pa.src, pa.dst) == (pb.src, pb.dst)
        np.testing.assert_array_equal(pa.conn.to_dense(), pb.conn.to_dense())


def test_conv_pool_flatten_affine_fuse_to_one_dense_projection():
    rng = np.random.default_rng(2)
    w_conv = rng.normal(size=(2, 1, 3, 3))
    w_fc = rng.normal(size=(3, 2 * 3 * 3))
    nodes = {
        "in": nir.Input(input_type=np.array([1, 6, 6])),
        "conv": nir.Conv2d(input_shape=(6, 6), weight=w_conv, stride=1, padding=1, dilation=1,
                           groups=1, bias=np.zeros(2)),
        "l1": lif(72, shape=(2, 6, 6)),
        "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=0),
        "fc": nir.Affine(weight=w_fc, bias=np.zeros(3)),
        "l2": lif(3), "out": nir.Output(output_type=np.array([3])),
    }
    edges = [("in", "conv"), ("conv", "l1"), ("l1", "pool"), ("pool", "flat"), ("flat", "fc"),
             ("fc", "l2"), ("l2", "out")]
    net = read_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))
    conv = net.incoming("l1")[0]
    assert isinstance(conv.conn, Conv) and conv.conn.out_shape == (2, 6, 6)
    fused = net.incoming("l2")[0]
    assert isinstance(fused.conn, Dense) and set(fused.nir_nodes) == {"pool", "flat", "fc"}
    # the fused matrix is the composition: fc ∘ flatten ∘ avgpool
    x = rng.random((5, 2, 6, 6))
    pooled = x.reshape(5, 2, 3, 2, 3, 2).mean(axis=(3, 5)).reshape(5, -1)
    np.testing.assert_allclose(x.reshape(5, -1) @ fused.conn.weight.T, pooled @ w_fc.T,
                               atol=1e-12)
    # and the conv keeps PyTorch's cross-correlation convention
    y = conv2d(x[:, :1], w_conv, padding=(1, 1))
    np.testing.assert_allclose(y.reshape(5, -1), x[:, :1].reshape(5, -1) @
                               conv.conn.to_dense().T, atol=1e-12)


def test_recurrent_edge_is_a_back_edge():
    rng = np.random.default_rng(3)
    g = mlp(rng, (4, 3))
    g.nodes["rec"] = nir.Linear(weight=rng.normal(size=(3, 3)))
    g.edges += [("lif0", "rec"), ("rec", "lif0")]
    net = read_nir(g)
    assert {p.name for p in net.projections} == {"<input>->lif0", "lif0->lif0"}
    assert back_edges(net) == {"lif0->lif0"}
    assert hop_depths(net) == {"lif0": 1}


def test_nested_subgraph_is_inlined():
    rng = np.random.default_rng(4)
    inner = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])),
                                "lif": lif(3), "w": nir.Linear(weight=rng.normal(size=(3, 3))),
                                "output": nir.Output(output_type=np.array([3]))},
                         edges=[("input", "lif"), ("lif", "w"), ("w", "lif"), ("lif", "output")],
                         type_check=False)
    outer = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([2])),
                                "fc": nir.Affine(weight=rng.normal(size=(3, 2)), bias=np.zeros(3)),
                                "rnn": inner, "out": nir.Output(output_type=np.array([3]))},
                         edges=[("in", "fc"), ("fc", "rnn"), ("rnn", "out")], type_check=False)
    net = read_nir(outer)
    assert [g.name for g in net.groups] == ["rnn.lif"]
    assert {(p.src, p.dst) for p in net.projections} == {(INPUT, "rnn.lif"),
                                                         ("rnn.lif", "rnn.lif")}


# ----------------------------------------------------------------------------- refusals


def test_unsupported_node_lists_supported_types():
    g = mlp(np.random.default_rng(5))
    g.nodes["fc1"] = nir.I(r=np.ones(3))
    with pytest.raises(UnsupportedError, match=r"node 'fc1' has unsupported type I; "
                                               r"supported: .*LIF"):
        read_nir(g)
    assert {"CubaLIF", "Conv1d", "Conv2d", "Threshold"} <= set(SUPPORTED)


def test_nan_weights_are_named():
    g = mlp(np.random.default_rng(6))
    g.nodes["fc1"].weight[0, 0] = np.nan
    with pytest.raises(FrontendError, match=r"node 'fc1' \(Affine\): 'weight' holds 1 NaN/inf"):
        read_nir(g)


def test_negative_time_constant():
    g = mlp(np.random.default_rng(7))
    g.nodes["lif0"].tau[:] = -1e-3
    with pytest.raises(FrontendError, match=r"node 'lif0' \(LIF\): tau must be > 0 s"):
        read_nir(g)


def test_nan_time_constant():
    g = mlp(np.random.default_rng(7))
    g.nodes["lif1"].tau[1] = np.nan
    with pytest.raises(FrontendError, match=r"node 'lif1' \(LIF\): 'tau_mem' holds NaN"):
        read_nir(g)


def test_shape_mismatch_names_both_nodes():
    g = mlp(np.random.default_rng(8))
    g.nodes["fc1"] = nir.Affine(weight=np.ones((4, 5)), bias=np.zeros(4))
    with pytest.raises(FrontendError, match=r"node 'lif1' \(LIF\): has 3 neurons but receives 4 "
                                            r"values from node 'fc1'"):
        read_nir(g)


def test_no_path_from_input_to_output():
    rng = np.random.default_rng(9)
    nodes = {"in": nir.Input(input_type=np.array([3])), "a": lif(3), "b": lif(3),
             "w": nir.Linear(weight=rng.normal(size=(3, 3))),
             "w2": nir.Linear(weight=rng.normal(size=(3, 3))),
             "out": nir.Output(output_type=np.array([3]))}
    edges = [("in", "w"), ("w", "a"), ("b", "w2"), ("w2", "b"), ("b", "out")]
    with pytest.raises(FrontendError, match=r"no path from Input 'in' to Output 'out'"):
        read_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))


def test_nonzero_reset_potential_is_unsupported():
    g = mlp(np.random.default_rng(10))
    g.nodes["lif0"].v_reset[:] = 0.5
    with pytest.raises(UnsupportedError, match=r"v_reset = 0.5; Loihi's LIF resets to 0"):
        read_nir(g)


def test_output_fed_by_linear_node():
    rng = np.random.default_rng(11)
    nodes = {"in": nir.Input(input_type=np.array([3])), "a": lif(3),
             "w": nir.Linear(weight=rng.normal(size=(3, 3))),
             "w2": nir.Linear(weight=rng.normal(size=(2, 3))),
             "out": nir.Output(output_type=np.array([2]))}
    edges = [("in", "w"), ("w", "a"), ("a", "w2"), ("w2", "out")]
    with pytest.raises(UnsupportedError, match=r"Output 'out' is fed by node 'w2' \(Linear\), "
                                               r"not a neuron"):
        read_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))


def test_linear_loop_without_neuron():
    rng = np.random.default_rng(12)
    nodes = {"in": nir.Input(input_type=np.array([3])), "a": lif(3),
             "w": nir.Linear(weight=rng.normal(size=(3, 3))),
             "w2": nir.Linear(weight=rng.normal(size=(3, 3))),
             "out": nir.Output(output_type=np.array([3]))}
    edges = [("in", "w"), ("w", "w2"), ("w2", "w"), ("w", "a"), ("a", "out")]
    with pytest.raises(FrontendError, match="loop of linear nodes with no neuron"):
        read_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))


def test_corrupted_file(tmp_path):
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(FrontendError, match=r"cannot read NIR file '.*bad.nir'"):
        read_nir(bad)
    with pytest.raises(FrontendError, match="does not exist"):
        read_nir(tmp_path / "missing.nir")


def two_input_graph(rng):
    """Two Inputs: 'audio' (2, 10) through a Conv1d into its own layer, and 'video' (5,)
    into a layer that also hears the audio layer; two Outputs."""
    return nir.NIRGraph(nodes={
        "audio": nir.Input(input_type={"input": np.array([2, 10])}),
        "video": nir.Input(input_type={"input": np.array([5])}),
        "ca": nir.Conv1d(input_shape=10, weight=rng.normal(0, 1, (3, 2, 3)), stride=1,
                         padding=1, dilation=1, groups=1, bias=np.zeros(3)),
        "la": lif(30, shape=(3, 10)),
        "fa": nir.Flatten(input_type={"input": np.array([3, 10])}, start_dim=0),
        "fa2": nir.Affine(weight=rng.normal(0, 1, (4, 30)), bias=np.zeros(4)),
        "fv": nir.Affine(weight=rng.normal(0, 1.5, (4, 5)), bias=rng.normal(0, 0.1, 4)),
        "lv": lif(4), "fo": nir.Affine(weight=rng.normal(0, 1, (3, 4)), bias=np.zeros(3)),
        "lo": lif(3), "out": nir.Output(output_type={"output": np.array([3])}),
        "out2": nir.Output(output_type={"output": np.array([4])})},
        edges=[("audio", "ca"), ("ca", "la"), ("la", "fa"), ("fa", "fa2"), ("fa2", "lv"),
               ("video", "fv"), ("fv", "lv"), ("lv", "fo"), ("fo", "lo"), ("lo", "out"),
               ("lv", "out2")], type_check=False)


def test_several_inputs_share_one_input_space_and_run_from_a_dict(tmp_path):
    """Each Input takes its slice of one flat input space (name order); the program equals,
    spike for spike, the single-Input graph whose Affine/Conv columns sit at those slices."""
    import neurocc

    rng = np.random.default_rng(13)
    g = two_input_graph(rng)
    nir.write(tmp_path / "two.nir", g)
    prog = neurocc.compile(tmp_path / "two.nir")
    assert prog.input_shape == (25,)
    assert prog.network.meta["inputs"] == [{"name": "audio", "shape": [2, 10], "offset": 0},
                                           {"name": "video", "shape": [5], "offset": 20}]
    assert prog.network.outputs == ("lo", "lv")
    # the same network with one Input (25,): Conv1d and Affine written as slices of it
    ca, fv = g.nodes["ca"], g.nodes["fv"]
    conv = np.zeros((30, 20))
    for i in range(20):
        e = np.zeros((1, 2, 1, 10))
        e.reshape(-1)[i] = 1
        conv[:, i] = conv2d(e, ca.weight[:, :, None, :], (1, 1), (0, 1), (1, 1)).ravel()
    one = nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([25])}),
        "ca": nir.Affine(weight=np.hstack([conv, np.zeros((30, 5))]), bias=np.zeros(30)),
        "la": lif(30), "fa2": g.nodes["fa2"],
        "fv": nir.Affine(weight=np.hstack([np.zeros((4, 20)), fv.weight]), bias=fv.bias),
        "lv": lif(4), "fo": g.nodes["fo"], "lo": lif(3),
        "out": nir.Output(output_type={"output": np.array([3])}),
        "out2": nir.Output(output_type={"output": np.array([4])})},
        edges=[("in", "ca"), ("ca", "la"), ("la", "fa2"), ("fa2", "lv"), ("in", "fv"),
               ("fv", "lv"), ("lv", "fo"), ("fo", "lo"), ("lo", "out"), ("lv", "out2")])
    audio = (rng.random((20, 3, 2, 10)) < 0.4).astype(np.uint8)
    video = (rng.random((20, 3, 5)) < 0.4).astype(np.uint8)
    flat = np.concatenate([audio.reshape(20, 3, -1), video], axis=2)
    ref = prog.run({"video": video, "audio": audio}, backend="reference")
    want = neurocc.compile(one).run(flat, backend="reference")
    assert want.output_spike_counts.sum() > 20
    np.testing.assert_array_equal(ref.output_spike_counts, want.output_spike_counts)
    # the emulator takes the dict, the flat array, and a .npz through the CLI alike
    emu = prog.run({"video": video, "audio": audio})
    np.testing.assert_array_equal(emu.output_spike_counts, prog.run(flat).output_spike_counts)
    prog.save(tmp_path / "two.neurocc")
    np.savez(tmp_path / "x.npz", audio=audio, video=video)
    from neurocc.cli import main

    assert main(["run", str(tmp_path / "two.neurocc"), "--input", str(tmp_path / "x.npz"),
                 "--json", "-o", str(tmp_path / "o.npz")]) == 0
    out = np.load(tmp_path / "o.npz")
    np.testing.assert_array_equal(out["output_spike_counts"], emu.output_spike_counts)


def test_several_inputs_refusals_name_the_inputs():
    import neurocc

    rng = np.random.default_rng(14)
    prog = neurocc.compile(two_input_graph(rng))
    audio = np.zeros((5, 2, 2, 10))
    with pytest.raises(neurocc.NeuroccError, match=r"input dict has keys \['audio'\], but the "
                       r"program's Input nodes are \['audio', 'video'\] \(missing: video\); "
                       r"give one array"):
        prog.run({"audio": audio})
    with pytest.raises(neurocc.NeuroccError, match=r"input 'video' has shape \(5, 2, 6\); Input "
                       r"node 'video' expects \(steps, batch, 5\)"):
        prog.run({"audio": audio, "video": np.zeros((5, 2, 6))})
    with pytest.raises(neurocc.NeuroccError, match=r"input 'video' has 4 steps and 2 samples, "
                       r"input 'audio' 5 and 2: give every Input the same"):
        prog.run({"audio": audio, "video": np.zeros((4, 2, 5))})
    g = two_input_graph(rng)
    g.nodes["idle"] = nir.Input(input_type={"input": np.array([3])})
    with pytest.raises(FrontendError, match=r"Input 'idle' feeds nothing; connect it or remove"):
        read_nir(g)


def test_a_wide_linear_costs_memory_in_its_synapses_not_their_square(tmp_path):
    """A Linear with 200,000 inputs: read without expanding anything, then refused by the
    partitioner with exit code 3 (it cannot fit one core's fan-in), in bounded memory."""
    import subprocess
    import sys

    n = 200_000
    w = np.random.default_rng(0).normal(0, 0.01, (4, n)).astype(np.float32)
    g = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([n])), nir.Linear(weight=w),
        nir.LIF(tau=np.full(4, 1e-3), r=np.full(4, 10.0), v_leak=np.zeros(4),
                v_threshold=np.ones(4)), nir.Output(output_type=np.array([4])))
    path = tmp_path / "wide.nir"
    nir.write(path, g)
    script = ("import resource, sys\nfrom neurocc.cli import main\n"
              f"rc = main(['compile', {str(path)!r}, '-o', {str(tmp_path / 'p')!r}])\n"
              "print(rc, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    rc, rss_kb = map(int, out.stdout.split())
    assert rc == 3, out.stderr
    assert "input axons" in out.stderr and "reduce its fan-in" in out.stderr
    assert out.stderr.count("\n") == 1
    assert rss_kb < 1.5e6          # a 200,000² identity alone would be 298 GiB


def _producer_style_graph(batch_dim: bool, scalar: bool, nd0: bool = False):
    """The conventions other producers write: a batch dimension of 1 in Input/Output types,
    neuron parameters as one value for the whole layer."""
    w = np.random.default_rng(2).normal(0, 1, (5, 20))
    one = (lambda v: np.array(v)) if nd0 else (lambda v: np.array([v]))
    lif = (nir.LIF(tau=one(0.01), r=one(1.0), v_leak=one(0.0), v_threshold=one(1.0)) if scalar
           else nir.LIF(tau=np.full(5, 0.01), r=np.ones(5), v_leak=np.zeros(5),
                        v_threshold=np.ones(5)))
    shape_in, shape_out = ([1, 20], [1, 5]) if batch_dim else ([20], [5])
    return nir.NIRGraph(
        nodes={"in": nir.Input(input_type={"input": np.array(shape_in)}),
               "fc": nir.Affine(weight=w, bias=np.zeros(5)), "lif": lif,
               "out": nir.Output(output_type={"output": np.array(shape_out)})},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")], type_check=False)


@pytest.mark.parametrize("batch_dim, scalar", [(True, False), (False, True), (True, True)])
def test_files_with_batch_dims_and_scalar_parameters_read_like_plain_ones(tmp_path, batch_dim,
                                                                          scalar):
    path = tmp_path / "p.nir"
    nir.write(path, _producer_style_graph(batch_dim, scalar))
    net = read_nir(path)
    plain = read_nir(_producer_style_graph(False, False))
    assert net.input_shape == (20,) and [g.shape for g in net.groups] == [(5,)]
    for a, b in zip(net.groups, plain.groups):
        for key in a.parameters():
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


def test_zero_dimensional_parameters_in_memory_broadcast_too():
    net = read_nir(_producer_style_graph(False, True, nd0=True))
    assert [g.shape for g in net.groups] == [(5,)]


def _fuzz_base(seed=0):
    from test_fuzz import base_graph  # tests/ is on the path (conftest.py)

    return base_graph(np.random.default_rng(seed))


def _graph(g):
    return nir.NIRGraph(nodes=g["nodes"], edges=g["edges"], type_check=False)


def test_an_edge_into_the_input_is_refused_not_ignored():
    g = _fuzz_base()
    g["edges"].append(("l2", "in"))
    with pytest.raises(FrontendError, match=r"edge \(l2 → in\) goes into the Input node 'in'.*"
                                            r"remove it"):
        read_nir(_graph(g))


def test_a_wrong_declared_output_shape_is_refused_not_ignored():
    g = _fuzz_base()
    g["nodes"]["out"] = nir.Output(output_type={"output": np.array([7])})
    with pytest.raises(FrontendError, match=r"Output node 'out' declares shape \(7,\) but "
                                            r"receives 4 values from node 'l2'.*output_type"):
        read_nir(_graph(g))
    g["nodes"]["out"] = nir.Output(output_type={"output": np.array([1, 4])})  # batch dim: fine
    read_nir(_graph(g))


def test_nir_file_versions(tmp_path):
    """Another NIR major version is refused; a file naming none is read as 1.x with a
    warning the program carries (and neurocc compile prints)."""
    import h5py

    from neurocc.api.errors import UnsupportedError

    for name, version in (("none.nir", None), ("two.nir", "2.0.0"), ("ok.nir", "1.0.8")):
        nir.write(tmp_path / name, _graph(_fuzz_base()))
        with h5py.File(tmp_path / name, "a") as f:
            del f["version"]
            if version:
                f["version"] = version
    assert compile_nir(tmp_path / "ok.nir").report.warnings == ()
    warns = compile_nir(tmp_path / "none.nir").report.warnings
    assert warns == ("NIR file 'none.nir' names no NIR version; read as NIR 1.x",)
    with pytest.raises(UnsupportedError, match=r"'two.nir' was written by NIR '2.0.0'; "
                                               r"neurocc reads NIR 1.x.*re-export"):
        compile_nir(tmp_path / "two.nir")


def test_non_square_conv_kernels_survive_the_nir_file(tmp_path):
    """A graph accepted in memory compiles the same after nir.write / nir.read."""
    rng = np.random.default_rng(4)
    g = _fuzz_base()
    g["nodes"]["conv"] = nir.Conv2d(input_shape=(6, 6), weight=rng.normal(0, 1, (2, 1, 3, 2)),
                                    stride=(1, 2), padding=(1, 0), dilation=1, groups=1,
                                    bias=np.zeros(2))
    g["nodes"]["l1"] = lif_node((2, 6, 3))
    g["nodes"]["pool"] = nir.AvgPool2d(kernel_size=np.array([2, 1]), stride=np.array([2, 1]),
                                       padding=np.array([0, 0]))
    g["nodes"]["flat"] = nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=0)
    direct = compile_nir(_graph(g))
    nir.write(tmp_path / "ns.nir", _graph(g))
    again = compile_nir(tmp_path / "ns.nir")
    for p, q in zip(direct.projections, again.projections):
        np.testing.assert_array_equal(p.conn.to_dense(), q.conn.to_dense())
    x = (rng.random((5, 2, 1, 6, 6)) < 0.5).astype(np.uint8)
    np.testing.assert_array_equal(direct.run(x).output_spike_counts,
                                  again.run(x).output_spike_counts)


def lif_node(shape):
    return nir.LIF(tau=np.full(shape, 2e-3), r=np.ones(shape), v_leak=np.zeros(shape),
                   v_threshold=np.ones(shape))


def conv1d_graph(rng, padding=2, groups=1):
    """Input (2, 20) → Conv1d (k 5, stride 2, dilation 2) → LIF → Output."""
    w = rng.normal(0, 1, (4, 2 // groups, 5))
    length = (20 + 2 * padding - 2 * 4 - 1) // 2 + 1
    return nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([2, 20])}),
        "c": nir.Conv1d(input_shape=20, weight=w, stride=2, padding=padding, dilation=2,
                        groups=groups, bias=rng.normal(0, 0.1, 4)),
        "lif": lif(4 * length, shape=(4, length)),
        "out": nir.Output(output_type={"output": np.array([4, length])})},
        edges=[("in", "c"), ("c", "lif"), ("lif", "out")], type_check=False), length


@pytest.mark.parametrize("groups", [1, 2])
def test_conv1d_is_a_height_one_conv_and_survives_a_file(tmp_path, groups):
    import torch

    rng = np.random.default_rng(21)
    g, length = conv1d_graph(rng, groups=groups)
    nir.write(tmp_path / "c.nir", g)
    net = read_nir(tmp_path / "c.nir")
    (p,) = net.projections
    assert isinstance(p.conn, Conv) and p.conn.in_shape == (2, 1, 20)
    assert p.conn.out_shape == (4, 1, length) and net.groups[0].shape == (4, length)
    # the shared kernel computes torch's conv1d (bias in the group's current)
    x = rng.random((3, 2, 20))
    want = torch.nn.functional.conv1d(torch.as_tensor(x), torch.as_tensor(g.nodes["c"].weight),
                                      stride=2, padding=2, dilation=2, groups=groups).numpy()
    got = conv2d(x[:, :, None, :], p.conn.weight, p.conn.stride, p.conn.padding,
                 p.conn.dilation, p.conn.groups)
    np.testing.assert_allclose(got.reshape(want.shape), want, atol=1e-12)
    np.testing.assert_allclose(net.groups[0].bias.reshape(4, length),
                               np.repeat(g.nodes["c"].bias[:, None], length, axis=1))


def test_conv1d_refusals_name_the_node_and_the_fix():
    rng = np.random.default_rng(22)
    g, _ = conv1d_graph(rng)
    g.nodes["c"].stride = np.array([2, 3])
    with pytest.raises(FrontendError, match=r"node 'c' \(Conv1d\): stride \(2, 3\) must be "
                                            r"one number"):
        read_nir(g)
    g, _ = conv1d_graph(rng)
    g.nodes["in"] = nir.Input(input_type={"input": np.array([2, 4, 5])})
    with pytest.raises(FrontendError, match=r"node 'c' \(Conv1d\): expects a \(C, L\) input, "
                                            r"receives shape \(2, 4, 5\); put a Conv1d"):
        read_nir(g)


def threshold_graph(rng, theta=0.5):
    return nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([6])}),
        "fc": nir.Affine(weight=rng.normal(0, 1, (5, 6)), bias=rng.normal(0, 0.1, 5)),
        "th": nir.Threshold(threshold=np.full(5, theta)),
        "fc2": nir.Affine(weight=rng.normal(0, 1, (3, 5)), bias=np.zeros(3)),
        "lif": lif(3),
        "out": nir.Output(output_type={"output": np.array([3])})},
        edges=[("in", "fc"), ("fc", "th"), ("th", "fc2"), ("fc2", "lif"), ("lif", "out")])


def test_threshold_is_memoryless_in_the_reference_and_dv_4095_on_the_chip(tmp_path):
    """NIR's Threshold: z = (x > theta), no state. The float reference computes exactly that
    (one step late, as every projection); on the chip it is a LIF decaying fully each step."""
    import neurocc

    rng = np.random.default_rng(23)
    g = threshold_graph(rng)
    nir.write(tmp_path / "t.nir", g)
    prog = neurocc.compile(tmp_path / "t.nir")
    th = prog.group("th")
    assert (th.kind, th.dv, th.du) == ("threshold", 4095, 4095)
    x = (rng.random((30, 4, 6)) < 0.5).astype(np.uint8)
    want = x @ g.nodes["fc"].weight.T + g.nodes["fc"].bias > 0.5
    assert 0.2 < want.mean() < 0.8
    ref = prog.run(x, backend="reference").trace.spikes["th"]
    np.testing.assert_array_equal(ref[1:31], want)
    emu = prog.run(x).trace.spikes["th"][1:31]
    assert (emu != want).mean() < 0.03         # quantization and the 1/4096 residue
    loaded = neurocc.load(prog.save(tmp_path / "t.neurocc") or tmp_path / "t.neurocc")
    np.testing.assert_array_equal(loaded.run(x).trace.spikes["th"][1:31], emu)


def test_threshold_refuses_subtractive_reset_and_a_non_positive_theta():
    import neurocc

    rng = np.random.default_rng(24)
    with pytest.raises(UnsupportedError, match=r"NIR node 'th' \(Threshold\) is memoryless.*"
                                               r"compile with reset='zero'"):
        neurocc.compile(threshold_graph(rng), reset="subtract")
    with pytest.raises(UnsupportedError, match=r"node 'th' \(Threshold\): v_threshold must be "
                                               r"> 0"):
        neurocc.compile(threshold_graph(rng, theta=0.0))


# --------------------------------------------------------------------------- lone Scale nodes


def _exported_layers(kind: str, n: int, rng, n_in=8, n_out=5, dt=1e-3):
    """Input → Linear → LIF (n) → Linear → LIF (n_out; none if 0), the neurons as Sinabs'
    (``sinabs``: LIF(tau in steps, r=1, v_leak=0)) or Rockpool's LIFTorch (``cubalif``:
    CubaLIF with r = tau·exp(−dt/tau)/dt, no w_in) exporter writes them; ``producer=`` then
    adds the self-connection (a Scale) and, on the CubaLIF, the relay."""
    gain = {"sinabs": 1.0, "cubalif": 0.03}[kind]

    def neuron(m):
        if kind == "sinabs":
            return nir.LIF(tau=np.array(4.0), r=np.array(1.0), v_leak=np.array(0.0),
                           v_threshold=np.array(0.7))
        t = np.full(m, 0.01)
        return nir.CubaLIF(tau_syn=np.full(m, 0.005), tau_mem=t, r=t * np.exp(-dt / t) / dt,
                           v_leak=np.zeros(m), v_threshold=np.full(m, 0.7))

    nodes = {"input": nir.Input({"input": np.array([n_in])}),
             "0": nir.Linear(gain * rng.normal(0.6, 1.0, (n, n_in))), "1": neuron(n),
             "output": nir.Output({"output": np.array([n_out or n])})}
    edges = [("input", "0"), ("0", "1"), ("1", "output")]
    if n_out:
        nodes.update({"2": nir.Linear(gain * rng.normal(0.5, 1.0, (n_out, n))),
                      "3": neuron(n_out)})
        edges[-1:] = [("1", "2"), ("2", "3"), ("3", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _feedforward_scales(rng):
    """A lone Scale on the input projection and one, with a Delay and a Flatten, between two
    layers: no cycle, so the emulator runs them layer-major."""
    shape = (2, 1, 3)

    def lif_(shape, thr):
        return nir.LIF(tau=np.full(shape, 1e-3), r=np.ones(shape), v_leak=np.zeros(shape),
                       v_threshold=np.full(shape, thr))

    nodes = {"in": nir.Input({"input": np.array(shape)}),
             "s0": nir.Scale(np.array([2.0, 0.0, 1.5, 3.0, 0.7, 1.1]).reshape(shape)),
             "l1": lif_(shape, 0.1), "d": nir.Delay(np.array([1, 2, 0, 3, 1, 2]).reshape(shape)
                                                    * 1e-4),
             "s1": nir.Scale(np.array([1.5, -0.5, 2.0, 0.8, 1.2, 0.9]).reshape(shape)),
             "f": nir.Flatten(input_type={"input": np.array(shape)}), "l2": lif_((6,), 0.2),
             "out": nir.Output({"output": np.array([6])})}
    edges = [("in", "s0"), ("s0", "l1"), ("l1", "d"), ("d", "s1"), ("s1", "f"), ("f", "l2"),
             ("l2", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


CASES = {"sinabs": lambda rng: (_exported_layers("sinabs", 12, rng), {"producer": "sinabs"}),
         "rockpool cubalif": lambda rng: (_exported_layers("cubalif", 12, rng),
                                          {"producer": "rockpool"}),
         "feedforward": lambda rng: (_feedforward_scales(rng), {"dt": 1e-4})}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_lone_scale_is_a_sparse_diagonal_with_the_dense_readings_program(monkeypatch, case):
    """A projection through one Scale (with Flatten / Delay pass-throughs, and beside other
    inputs of its layer, as producer='sinabs' and 'rockpool' write their self-connections)
    is its diagonal, stored sparse; the program and every backend's spikes are those of the
    dense matrix the frontend used to expand it into (``_diagonal`` switched off)."""
    import neurocc
    from neurocc.compiler.frontend import nir as frontend

    def compiled(dense: bool):
        graph, options = CASES[case](np.random.default_rng(5))
        with monkeypatch.context() as m:
            if dense:
                m.setattr(frontend, "_diagonal", lambda *args: None)
            return neurocc.compile(graph, **options), graph

    (new, graph), (old, _) = compiled(False), compiled(True)
    scales = {k for k, v in graph.nodes.items() if type(v).__name__ == "Scale"}
    scaled = {p.name for p in new.network.projections     # producers' Scales: '<lif>_reset'
              if any(k in scales or k.endswith("_reset") for k in p.nir_nodes)}
    assert len(scaled) == {"sinabs": 2, "rockpool cubalif": 4, "feedforward": 2}[case]
    dense = {p.name: p.conn for p in old.network.projections}
    for p in new.network.projections:
        want = ("sparse", "dense") if p.name in scaled else (dense[p.name].kind,) * 2
        assert (p.conn.kind, dense[p.name].kind) == want
        np.testing.assert_array_equal(p.conn.to_dense(), dense[p.name].to_dense())
        if p.name in scaled:     # one stored synapse per nonzero scale, on the diagonal
            d = p.conn.to_dense()
            assert p.conn.values.size == np.count_nonzero(d) == np.count_nonzero(np.diag(d))
    for a, b in zip(new.projections, old.projections):
        assert (a.name, a.weight_exp, a.sign_mode) == (b.name, b.weight_exp, b.sign_mode)
        np.testing.assert_array_equal(a.conn.to_dense(), b.conn.to_dense())
    assert [(g.vth, g.du, g.dv) for g in new.groups] == [(g.vth, g.du, g.dv) for g in old.groups]
    x = (np.random.default_rng(6).random((60, 3, *new.input_shape)) < 0.4).astype(np.float64)
    runs = [("reference", {}), ("emulator", {"schedule": "step"})]
    if case == "feedforward":
        runs.append(("emulator", {"schedule": "layer"}))
    for backend, options in runs:
        got, want = new.run(x, backend=backend, **options), old.run(x, backend=backend, **options)
        assert got.output_spike_counts.sum() > 0
        for g in new.groups:
            np.testing.assert_array_equal(got.trace.spikes[g.name], want.trace.spikes[g.name],
                                          err_msg=f"{backend} {options} {g.name}")


@pytest.mark.lava
def test_a_sparse_diagonal_self_connection_is_bit_exact_on_lava():
    """producer='sinabs''s self-connections, stored as Lava ``Sparse`` processes: spikes, u and
    v equal the emulator's at every step."""
    pytest.importorskip("lava.magma", reason="lava-nc is not importable (it needs Python 3.10)")
    import neurocc
    from neurocc.backends import payloads
    from neurocc.backends.diff import compare_traces, render_diff
    from neurocc.backends.emulator import EmulatorBackend
    from neurocc.backends.lava import LavaBackend

    prog = neurocc.compile(_exported_layers("sinabs", 12, np.random.default_rng(5)),
                           producer="sinabs")
    assert {p.name: p.conn.kind for p in prog.projections if p.src == p.dst} == \
        {"1->1": "sparse", "3->3": "sparse"}
    x = (np.random.default_rng(6).random((40, 2, 8)) < 0.4).astype(np.float64)
    feed = payloads(prog, x)
    emu = EmulatorBackend().simulate(prog, feed, True)
    lava = LavaBackend(timeout_s=300).simulate(prog, feed, True)
    d = compare_traces(prog, emu, lava, "emulator", "lava")
    assert d["identical"], render_diff(d)
    assert emu.spikes["1"].any() and emu.spikes["3"].any()


def _compiled_with_peak(graph, producer: str):
    """``neurocc.compile(graph, producer=...)`` and the peak of Python's allocations during
    it (tracemalloc)."""
    import tracemalloc

    import neurocc

    tracemalloc.start()
    try:
        prog = neurocc.compile(graph, producer=producer)
        return prog, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_corrected_wide_layer_costs_memory_in_its_synapses_not_their_square():
    """producer='sinabs' on a 20,000-neuron LIF layer: its self-connection (NIR Scale node
    '1_reset') is 20,000 synapses, read as a Sparse diagonal; as the dense matrix the
    frontend used to expand it into it was refused (MAX_EXPANDED_SYNAPSES), and it would
    have been 20,000² float64 = 3.2 GB."""
    n = 20_000
    graph = _exported_layers("sinabs", n, np.random.default_rng(7), n_out=0)
    prog, peak = _compiled_with_peak(graph, "sinabs")
    loop = next(p for p in prog.network.projections if p.name == "1->1")
    assert loop.nir_nodes == ("1_reset",) and loop.conn.kind == "sparse"
    np.testing.assert_array_equal(loop.conn.indices, np.arange(n))
    np.testing.assert_array_equal(loop.conn.indptr, np.arange(n + 1))
    np.testing.assert_array_equal(loop.conn.values, np.full(n, 0.7))    # v_threshold / r
    lowered = next(p for p in prog.projections if p.name == "1->1")
    assert lowered.conn.kind == "sparse" and np.count_nonzero(lowered.conn.values) == n
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MiB"     # measured ~25 MiB


def _sinabs_conv(rng, h: int, c_in=2, c_out=8):
    """Input (c_in, h, h) → Conv2d 3×3 → LIF as Sinabs' exporter writes it (tau in steps,
    r = 1, v_leak = 0, scalars: the layer takes the conv's shape); ``producer='sinabs'``
    adds the self-connection ``1_reset``, a second input of the LIF beside the conv."""
    nodes = {"input": nir.Input({"input": np.array([c_in, h, h])}),
             "0": nir.Conv2d(input_shape=(h, h), weight=rng.normal(0.2, 0.5, (c_out, c_in, 3, 3)),
                             stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(c_out)),
             "1": nir.LIF(tau=np.array(4.0), r=np.array(1.0), v_leak=np.array(0.0),
                          v_threshold=np.array(0.7)),
             "output": nir.Output({"output": np.array([c_out, h, h])})}
    return nir.NIRGraph(nodes=nodes, edges=[("input", "0"), ("0", "1"), ("1", "output")],
                        type_check=False)


def _recurrent_conv(rng, h=6):
    """Input (2, h, h) → Conv2d → LIF (3, h, h) with a recurrent Conv2d on the LIF: each conv
    is the only node between its source and the LIF, which has two inputs."""
    def conv(c_in, scale):
        return nir.Conv2d(input_shape=(h, h), weight=scale * rng.normal(0.3, 1, (3, c_in, 3, 3)),
                          stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(3))

    nodes = {"in": nir.Input({"input": np.array([2, h, h])}), "c0": conv(2, 1.0),
             "l0": lif(0, shape=(3, h, h)), "rc": conv(3, 0.3),
             "out": nir.Output({"output": np.array([3, h, h])})}
    edges = [("in", "c0"), ("c0", "l0"), ("l0", "rc"), ("rc", "l0"), ("l0", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _expanded(monkeypatch, graph, **options):
    """``graph`` compiled with every conv expanded on a basis into its dense matrix, as the
    frontend read a conv into a layer of several inputs before (``_single_node`` off)."""
    import neurocc
    from neurocc.compiler.frontend import nir as frontend

    with monkeypatch.context() as m:
        m.setattr(frontend, "_single_node", lambda *args: None)
        return neurocc.compile(graph, **options)


CONV_BESIDE = {"sinabs conv": (lambda rng: _sinabs_conv(rng, 6), {"producer": "sinabs"},
                               {"<input>->1"}),
               "recurrent conv": (_recurrent_conv, {"dt": 1e-4}, {"<input>->l0", "l0->l0"})}


@pytest.mark.parametrize("case", sorted(CONV_BESIDE))
def test_a_conv_beside_other_inputs_of_its_layer_stays_a_conv(monkeypatch, case):
    """A Conv2d that is the only node between its source and a layer stays a shared-kernel
    ``Conv`` when the layer has other inputs too (producer='sinabs''s self-connection, a
    recurrent conv): the float IR is the dense matrix it used to be expanded into, so the
    reference's spikes are unchanged; lowered, it is a Conv like any other (weight exponent
    0, Lava's Conv has none), and a corrected Sinabs layer's kernel is the plain reading's.
    (Sinabs writes scalar parameters: the layer takes the conv's shape, not its loop's.)"""
    import neurocc

    make, options, convs = CONV_BESIDE[case]
    graph = make(np.random.default_rng(5))
    prog = neurocc.compile(graph, **options)
    old = _expanded(monkeypatch, make(np.random.default_rng(5)), **options)
    kinds = {p.name: p.conn.kind for p in prog.network.projections}
    assert {k for k, v in kinds.items() if v == "conv"} == convs
    dense = {p.name: p.conn for p in old.network.projections}
    for p in prog.network.projections:
        assert dense[p.name].kind == ("dense" if p.name in convs else p.conn.kind)
        np.testing.assert_array_equal(p.conn.to_dense(), dense[p.name].to_dense())
    assert all(p.weight_exp == 0 and p.conn.kind == "conv"
               for p in prog.projections if p.name in convs)
    if case == "sinabs conv":    # both scaled to the kernel's largest mantissa: equal but
        # where w·factor lies on a rounding boundary (the factors differ in the last bits)
        plain = neurocc.compile(make(np.random.default_rng(5)), dt=1.0, reset="subtract")
        a, b = (next(p for p in q.projections if p.name == "<input>->1") for q in (prog, plain))
        assert (a.conn.kind, a.weight_exp) == (b.conn.kind, b.weight_exp) == ("conv", 0)
        step = 2       # 8-bit weights in Lava's mixed sign mode: mantissas in steps of 2
        assert np.abs(a.conn.weight - b.conn.weight).max() <= step
        assert np.count_nonzero(a.conn.weight != b.conn.weight) <= a.conn.weight.size // 20
    x = (np.random.default_rng(6).random((40, 2, *prog.input_shape)) < 0.3).astype(np.float64)
    got, want = prog.run(x, backend="reference"), old.run(x, backend="reference")
    for g in prog.groups:
        assert got.trace.spikes[g.name].any()
        np.testing.assert_array_equal(got.trace.spikes[g.name], want.trace.spikes[g.name])


def test_a_corrected_conv_layer_costs_memory_in_its_kernel_not_a_dense_matrix():
    """producer='sinabs' on a Conv2d (2 → 8 channels, 64×64) → LIF: the LIF has a second
    input (its self-connection), and the conv is still taken as it is. Expanded on a basis,
    as it was before, it would be a 32,768 × 8,192 float64 matrix (2 GiB), refused by
    MAX_EXPANDED_SYNAPSES (at 32×32: 8,192 × 2,048, 393 MiB peak)."""
    from neurocc.compiler.frontend.nir import MAX_EXPANDED_SYNAPSES

    graph = _sinabs_conv(np.random.default_rng(7), 64)
    prog, peak = _compiled_with_peak(graph, "sinabs")
    conv = next(p for p in prog.network.projections if p.name == "<input>->1")
    assert conv.conn.kind == "conv" and conv.conn.shape == (32_768, 8_192)
    assert conv.conn.shape[0] * conv.conn.shape[1] > MAX_EXPANDED_SYNAPSES
    assert {p.name: p.conn.kind for p in prog.projections} == {"<input>->1": "conv",
                                                               "1->1": "sparse"}
    assert peak < 2**31 / 16, f"peak {peak / 2**20:.0f} MiB"     # measured ~34 MiB


@pytest.mark.lava
@pytest.mark.parametrize("case", sorted(CONV_BESIDE))
def test_a_conv_beside_other_inputs_is_bit_exact_on_lava(case):
    """A Lava ``Conv`` process into a layer that a ``Sparse`` self-connection or a recurrent
    ``Conv`` feeds too: spikes, u and v equal the emulator's at every step."""
    pytest.importorskip("lava.magma", reason="lava-nc is not importable (it needs Python 3.10)")
    import neurocc
    from neurocc.backends import payloads
    from neurocc.backends.diff import compare_traces, render_diff
    from neurocc.backends.emulator import EmulatorBackend
    from neurocc.backends.lava import LavaBackend

    make, options, convs = CONV_BESIDE[case]
    prog = neurocc.compile(make(np.random.default_rng(5)), **options)
    assert {p.name for p in prog.projections if p.conn.kind == "conv"} == convs
    x = (np.random.default_rng(6).random((30, 1, *prog.input_shape)) < 0.3).astype(np.float64)
    feed = payloads(prog, x)
    emu = EmulatorBackend().simulate(prog, feed, True)
    lava = LavaBackend(timeout_s=300).simulate(prog, feed, True)
    d = compare_traces(prog, emu, lava, "emulator", "lava")
    assert d["identical"], render_diff(d)
    assert all(emu.spikes[g.name].any() for g in prog.groups)


def _scalar_lif():
    return nir.LIF(tau=np.array(1e-3), r=np.array(1.0), v_leak=np.array(0.0),
                   v_threshold=np.array(1.0))


def test_a_scalar_parameter_layer_in_a_loop_takes_the_shape_flowing_in():
    """A neuron node with scalar parameters and no declared shape takes the shape of its
    first input whose shape does not depend on its own: a self-connection, a recurrent conv
    or a loop through another such layer is passed over (they were refused as "a loop of
    linear nodes"), in chains of any length; with no other input it is refused as before."""
    rng = np.random.default_rng(0)

    def conv(c_out, c_in):
        return nir.Conv2d(input_shape=None, weight=rng.normal(size=(c_out, c_in, 3, 3)),
                          stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(c_out))

    # a's loop edges come first: its shape is looked for through b (sized by a) first
    nodes = {"in": nir.Input({"input": np.array([1, 5, 5])}), "back": nir.Scale(np.array(0.5)),
             "rec": conv(3, 3), "c0": conv(3, 1), "a": _scalar_lif(), "c1": conv(2, 3),
             "b": _scalar_lif(), "self": nir.Scale(np.array(-0.2)),
             "out": nir.Output({"output": np.array([2, 5, 5])})}
    edges = [("b", "c2"), ("c2", "back"), ("back", "a"), ("a", "rec"), ("rec", "a"),
             ("in", "c0"), ("c0", "a"), ("a", "c1"), ("c1", "b"), ("b", "self"),
             ("self", "b"), ("b", "out")]
    nodes["c2"] = conv(3, 2)
    net = read_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))
    assert {g.name: g.shape for g in net.groups} == {"a": (3, 5, 5), "b": (2, 5, 5)}
    kinds = {p.name: p.conn.kind for p in net.projections}
    assert kinds == {"<input>->a": "conv", "a->a": "conv", "a->b": "conv", "b->b": "sparse",
                     "b->a": "dense"}       # conv then Scale: a chain, expanded

    chain = {"in": nir.Input({"input": np.array([3])}),
             "out": nir.Output({"output": np.array([3])})}
    edges, prev = [], "in"
    for i in range(1200):        # deeper than Python's recursion limit: found iteratively
        chain.update({f"s{i}": nir.Scale(np.array(2.0)), f"n{i}": _scalar_lif()})
        edges += [(prev, f"s{i}"), (f"s{i}", f"n{i}")]
        prev = f"n{i}"
    net = read_nir(nir.NIRGraph(nodes=chain, edges=edges + [(prev, "out")], type_check=False))
    assert {g.shape for g in net.groups} == {(3,)}

    lone = {"in": nir.Input({"input": np.array([4])}), "fc": nir.Linear(np.ones((3, 4))),
            "l": _scalar_lif(), "out": nir.Output({"output": np.array([3])}),
            "a": _scalar_lif(), "s": nir.Scale(np.array(0.5))}      # a: only its own loop
    with pytest.raises(FrontendError, match=r"node 'a' is on a loop of linear nodes with no "
                       r"neuron to break it"):
        read_nir(nir.NIRGraph(nodes=lone, edges=[("in", "fc"), ("fc", "l"), ("l", "out"),
                                                 ("a", "s"), ("s", "a")], type_check=False))
