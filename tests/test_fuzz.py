"""Fuzzing: whatever a user feeds neurocc — hostile graphs, damaged files, bad inputs, edited
configs — it either works or raises one ``NeuroccError``; it never crashes with another
exception. Seeds are fixed, so a failure is reproducible by its case number."""

import copy
import zipfile

import nir
import numpy as np
import pytest

import neurocc
from neurocc.api.errors import NeuroccError
from neurocc.compiler.pipeline import compile_nir
from neurocc.hw_configs import HERE, load_hw

CASES = 150
VALID_CASES = 20


def lif(shape, rng):
    return nir.LIF(tau=np.full(shape, 2e-3), r=np.ones(shape), v_leak=np.zeros(shape),
                   v_threshold=np.full(shape, float(rng.uniform(0.5, 2))))


def base_graph(rng):
    """A small valid graph: conv → LIF → pool → flatten → affine → LIF."""
    conv = nir.Conv2d(input_shape=(6, 6), weight=rng.normal(0, 1, (2, 1, 3, 3)), stride=1,
                      padding=1, dilation=1, groups=1, bias=np.zeros(2))
    return {
        "nodes": {"in": nir.Input(input_type={"input": np.array([1, 6, 6])}), "conv": conv,
                  "l1": lif((2, 6, 6), rng),
                  "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                        padding=np.array([0, 0])),
                  "flat": nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=0),
                  "fc": nir.Affine(weight=rng.normal(0, 1, (4, 18)), bias=np.zeros(4)),
                  "l2": lif((4,), rng), "out": nir.Output(output_type={"output": np.array([4])})},
        "edges": [("in", "conv"), ("conv", "l1"), ("l1", "pool"), ("pool", "flat"),
                  ("flat", "fc"), ("fc", "l2"), ("l2", "out")],
    }


DT = 1e-4
"""The campaign's ``dt`` (seconds, neurocc's default): Delay nodes are whole steps of it."""


def neurons(shape, rng):
    """A layer of ``shape``: a LIF (at times with one tau per neuron, so that it becomes
    sub-populations), a CubaLIF, an IF or a Threshold."""
    kind = rng.integers(4)
    if kind == 0:
        tau = np.full(shape, 2e-3)
        if rng.random() < 0.3:
            tau = rng.choice([2e-3, 5e-3, 1e-2], shape)
        return nir.LIF(tau=tau, r=np.ones(shape), v_leak=np.zeros(shape),
                       v_threshold=np.full(shape, float(rng.uniform(0.5, 2))))
    if kind == 1:
        return nir.CubaLIF(tau_mem=np.full(shape, 2e-3), tau_syn=np.full(shape, 1e-3),
                           r=np.ones(shape), v_leak=np.zeros(shape),
                           v_threshold=np.full(shape, 1.0), w_in=np.ones(shape))
    if kind == 2:
        return nir.IF(r=np.ones(shape), v_threshold=np.full(shape, 1.0))
    return nir.Threshold(threshold=np.full(shape, float(rng.uniform(0.2, 1))))


def valid_graph(rng) -> dict:
    """A random valid graph (``{"nodes", "edges"}``, as ``base_graph``): an optional Conv2d
    (and pool) or Conv1d front end, then affine layers of random widths and neuron kinds, an
    LI or LIF readout. At times a second Input feeds a hidden layer through its own Affine,
    and a projection goes through a Delay node of 0–63 steps where a synapse gets one delay
    (``compiler/frontend/delays.py``): before its weights (one per source value unless a pool
    lies before) or after them (one per destination neuron), or uniform; not from the Inputs
    when there are two (they share one input projection, which neurocc does not delay)."""
    nodes, edges = {}, []
    two_inputs = rng.random() < 0.2

    def project(src, linear, dst, shape_in, shape_out, per_value_in=True):
        """``src`` → ``linear`` → ``dst``, one projection: in a third of the cases through a
        Delay before or after ``linear``."""
        where = int(rng.integers(6))
        if where > 1 or (two_inputs and src in ("in", "in2")):
            edges.extend([(src, linear), (linear, dst)])
            return
        a, b, shape = (src, linear, shape_in) if where == 0 else (linear, dst, shape_out)
        uniform = rng.random() < 0.5 or (where == 0 and not per_value_in)
        steps = rng.integers(0, 64, 1 if uniform else shape)
        nodes[f"d_{b}"] = nir.Delay(delay=np.broadcast_to(steps * DT, shape).astype(float))
        edges.extend([(a, f"d_{b}"), (f"d_{b}", b), (linear, dst) if where == 0 else
                      (src, linear)])

    front = rng.random()
    pooled = False
    if front < 0.4:
        c, h = int(rng.integers(1, 3)), int(rng.integers(4, 9))
        nodes["in"] = nir.Input(input_type={"input": np.array([c, h, h])})
        co, k = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        pad = int(rng.integers(0, 2))
        nodes["conv"] = nir.Conv2d(input_shape=(h, h), weight=rng.normal(0, 1, (co, c, k, k)),
                                   stride=1, padding=pad, dilation=1, groups=1,
                                   bias=np.zeros(co))
        ho = h + 2 * pad - k + 1
        shape = (co, ho, ho)
        nodes["l0"] = neurons(shape, rng)
        project("in", "conv", "l0", (c, h, h), shape)
        prev = "l0"
        if ho % 2 == 0 and rng.random() < 0.5:
            nodes["pool"] = nir.AvgPool2d(kernel_size=np.array([2, 2]),
                                          stride=np.array([2, 2]), padding=np.array([0, 0]))
            edges.append((prev, "pool"))
            prev, shape, pooled = "pool", (co, ho // 2, ho // 2), True
    elif front < 0.6:
        c, n = int(rng.integers(1, 4)), int(rng.integers(4, 13))
        nodes["in"] = nir.Input(input_type={"input": np.array([c, n])})
        co, k, stride = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
        pad = int(rng.integers(0, 2))
        nodes["conv"] = nir.Conv1d(input_shape=n, weight=rng.normal(0, 1, (co, c, k)),
                                   stride=stride, padding=pad, dilation=1, groups=1,
                                   bias=np.zeros(co))
        shape = (co, (n + 2 * pad - k) // stride + 1)
        nodes["l0"] = neurons(shape, rng)
        project("in", "conv", "l0", (c, n), shape)
        prev = "l0"
    if front < 0.6:
        nodes["flat"] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0)
        edges.append((prev, "flat"))
        prev, n = "flat", int(np.prod(shape))
    else:
        n = int(rng.integers(1, 40))
        nodes["in"] = nir.Input(input_type={"input": np.array([n])})
        prev = "in"
    widths = []
    for i in range(int(rng.integers(1, 4))):
        m = int(rng.integers(1, 40))
        nodes[f"fc{i}"] = nir.Affine(weight=rng.normal(0, 1.5 / np.sqrt(n), (m, n)),
                                     bias=rng.normal(0, 0.1, m) * (rng.random() < 0.5))
        nodes[f"n{i}"] = neurons((m,), rng)
        project(prev, f"fc{i}", f"n{i}", (n,), (m,), per_value_in=not (i == 0 and pooled))
        prev, n = f"n{i}", m
        widths.append(m)
    if two_inputs:                          # a second Input, into one hidden layer
        j, k = int(rng.integers(len(widths))), int(rng.integers(1, 10))
        nodes["in2"] = nir.Input(input_type={"input": np.array([k])})
        nodes["fc_in2"] = nir.Affine(weight=rng.normal(0, 1.5 / np.sqrt(k), (widths[j], k)),
                                     bias=np.zeros(widths[j]))
        project("in2", "fc_in2", f"n{j}", (k,), (widths[j],))
    if rng.random() < 0.3:
        m = int(rng.integers(1, 10))
        nodes["ro_fc"] = nir.Affine(weight=rng.normal(0, 1, (m, n)), bias=np.zeros(m))
        nodes["ro"] = nir.LI(tau=np.full(m, 2e-3), r=np.ones(m), v_leak=np.zeros(m))
        project(prev, "ro_fc", "ro", (n,), (m,))
        prev, n = "ro", m
    nodes["out"] = nir.Output(output_type={"output": np.array([n])})
    edges.append((prev, "out"))
    return {"nodes": nodes, "edges": edges}


def valid_case(case: int, tmp) -> str:
    """Case ``case``'s valid graph compiled from memory and again after ``nir.write`` /
    ``nir.read``, and run on the same input (a dict by Input name when it has several):
    "ok" when the two programs' synapses, weight exponents, delays, outputs and energy are
    equal and every Delay node of a nonzero delay reached a projection, else "mismatch"."""
    from neurocc.backends.inputs import input_slices

    rng = np.random.default_rng(case)
    graph = graph_of(valid_graph(rng))
    a = compile_nir(graph, hw="loihi2", dt=DT)
    path = tmp / f"v{case % 8}.nir"
    nir.write(path, graph)
    b = compile_nir(path, hw="loihi2", dt=DT)
    same = len(a.projections) == len(b.projections) and all(
        np.array_equal(p.conn.to_dense(), q.conn.to_dense()) and p.weight_exp == q.weight_exp
        and (p.delay is None) == (q.delay is None)
        and (p.delay is None or np.array_equal(p.delay.row, q.delay.row)
             and np.array_equal(p.delay.col, q.delay.col))
        for p, q in zip(a.projections, b.projections))
    delayed = {k for k, v in graph.nodes.items()
               if isinstance(v, nir.Delay) and np.any(np.rint(np.asarray(v.delay) / DT))}
    kept = {k for p in a.projections if p.delay is not None for k in p.delay.nodes}
    same = same and delayed <= kept
    x = {s["name"]: (rng.random((6, 2, *s["shape"])) < 0.4).astype(np.uint8)
         for s in input_slices(a)}
    x = x if len(x) > 1 else next(iter(x.values()))
    ra, rb = a.run(x), b.run(x)
    same = same and all(np.array_equal(ra.outputs[k], rb.outputs[k]) for k in ra.outputs)
    same = same and ra.energy_j == rb.energy_j
    return "ok" if same else "mismatch"


def test_valid_graphs_compile_run_and_survive_a_round_trip(tmp_path):
    """A bounded share of the campaign's valid graphs (Conv2d, Conv1d, every neuron kind,
    Delays, several Inputs): each compiles, runs and is the same after nir.write/nir.read."""
    bad = []
    for case in range(VALID_CASES):
        try:
            if valid_case(case, tmp_path) != "ok":
                bad.append(f"case {case}: mismatch")
        except Exception as e:  # noqa: BLE001 - a refusal of a valid graph is a finding too
            bad.append(f"case {case}: {type(e).__name__}: {str(e)[:120]}")
    assert not bad, "\n".join(bad[:20])


HOSTILE = [None, "3", 0, -1, 2**40, np.nan, np.inf, 1e300, (), [1, 2, 3], np.array([]),
           np.zeros((2, 2, 2, 2, 2)), np.array([1 + 2j]), object()]


def _pick(rng, xs):
    return xs[int(rng.integers(len(xs)))]


ODD_DELAYS = [np.array([np.nan]), np.array([-DT]), np.array([64 * DT]), np.array([1.5 * DT]),
              np.array([1e300]), np.array(["a"]), np.zeros(0), np.full((2, 2), DT),
              np.array([1j * DT]), np.array([3 * DT]), None, "3"]
ODD_CONV1D = [0, -1, 3, (1, 2), "same", "valid", "full", np.ones((2, 1, 2, 2)), None, 2**40,
              np.nan, np.zeros(0)]
ODD_SHAPES = [[4], [18], [0], [3, 2], [1, 4], [2, 6, 6], [-1], [1], [36], [2, 18]]


def _layers(nodes, *types):
    return sorted(k for k, v in nodes.items() if type(v).__name__ in types)


def mutate(g, rng):
    """``g`` with one mutation: any graph (``base_graph`` or ``valid_graph``), whatever an
    earlier mutation left of it."""
    nodes, edges = g["nodes"], g["edges"]
    pairs = [e for e in edges if isinstance(e, tuple) and len(e) == 2
             and all(isinstance(k, str) for k in e)]
    what = rng.integers(0, 11)
    if what == 0:                           # a node attribute replaced by something hostile
        k = str(rng.choice(sorted(nodes)))
        attrs = [a for a in getattr(nodes[k], "__dict__", {})
                 if not a.startswith("_") and a != "metadata"]
        if attrs:
            setattr(nodes[k], str(rng.choice(attrs)), HOSTILE[rng.integers(len(HOSTILE))])
    elif what == 1:                         # an array attribute damaged in place
        k = str(rng.choice(sorted(nodes)))
        for a, v in list(getattr(nodes[k], "__dict__", {}).items()):
            if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.size:
                v = v.copy()
                v.flat[rng.integers(v.size)] = rng.choice([np.nan, np.inf, -np.inf, 1e30])
                setattr(nodes[k], a, v)
                break
    elif what == 2:                         # a duplicated, dropped or reversed edge
        i = rng.integers(len(edges))
        choice = rng.integers(3)
        if choice == 0:
            edges.append(edges[i])
        elif choice == 1:
            edges.pop(i)
        else:
            edges[i] = edges[i][::-1]
    elif what == 3:                         # an edge to or from nowhere, or not a pair
        odd = [("ghost", "l2"), ("l2", "in"), ("in",), "in->l2", (1, 2)]
        edges.append(odd[int(rng.integers(len(odd)))])
    elif what == 4:                         # a node that is not a NIR node
        odd = [None, 3, "LIF", {"tau": 1}]
        nodes[str(rng.choice(sorted(nodes)))] = odd[int(rng.integers(len(odd)))]
    elif what == 5 and hasattr(nodes.get("fc"), "weight"):   # weights of the wrong shape
        nodes["fc"].weight = rng.normal(0, 1, tuple(rng.integers(1, 30, rng.integers(1, 4))))
    elif what == 6 and pairs:               # a long chain of Scale nodes on an edge
        a, b = ("fc", "l2") if ("fc", "l2") in edges else _pick(rng, pairs)
        n = int(rng.integers(50, 400))
        chain = [f"s{i}" for i in range(n)]
        for c in chain:
            nodes[c] = nir.Scale(scale=np.ones(4 if (a, b) == ("fc", "l2") else 1))
        edges.remove((a, b))
        edges.extend([(a, chain[0]), *zip(chain, chain[1:]), (chain[-1], b)])
    elif what == 7 and pairs:               # a Delay node on an edge, odd at times
        a, b = _pick(rng, pairs)
        node = nir.Delay(delay=np.full(int(rng.integers(1, 80)), int(rng.integers(64)) * DT))
        if rng.random() < 0.7:
            node.delay = _pick(rng, ODD_DELAYS)
        nodes["dly"] = node
        edges.remove((a, b))
        edges.extend([(a, "dly"), ("dly", b)])
    elif what == 8:                         # a neuron layer replaced by a Threshold
        layers = _layers(nodes, "LIF", "CubaLIF", "IF", "LI", "Threshold")
        if layers:
            k = _pick(rng, layers)
            node = nir.Threshold(threshold=np.full(np.shape(getattr(nodes[k], "r", 1.0)), 1.0))
            if rng.random() < 0.5:
                node.threshold = _pick(rng, [*HOSTILE, np.full(int(rng.integers(1, 80)), 1.0)])
            nodes[k] = node
    elif what == 9:                         # a conv replaced by a Conv1d, its input reshaped
        convs = _layers(nodes, "Conv2d", "Conv1d")
        inputs = _layers(nodes, "Input")
        if convs:
            c, n = int(rng.integers(1, 4)), int(rng.integers(1, 40))
            node = nir.Conv1d(input_shape=n, weight=rng.normal(0, 1, (2, c, 3)), stride=1,
                              padding=1, dilation=1, groups=1, bias=np.zeros(2))
            if rng.random() < 0.5:
                setattr(node, _pick(rng, ["stride", "padding", "dilation", "groups",
                                          "input_shape", "bias", "weight"]),
                        _pick(rng, ODD_CONV1D))
            nodes[convs[0]] = node
            if inputs and rng.random() < 0.7:
                shape = _pick(rng, [[c, n], [n], [1, n], [c, n, 1], [c * n], [0, n]])
                nodes[inputs[0]] = nir.Input(input_type={"input": np.array(shape)})
    elif what == 10:                        # a second Input node, odd at times
        nodes["in_b"] = nir.Input(input_type={"input": np.array(_pick(rng, ODD_SHAPES))})
        k = str(rng.choice(sorted(nodes)))
        choice = rng.integers(4)
        if choice == 0:
            edges.append(("in_b", k))
        elif choice == 1:                   # through an Affine of its size into a layer
            n_in = int(np.prod(nodes["in_b"].input_type["input"]))
            m = int(np.size(getattr(nodes[k], "v_threshold", getattr(nodes[k], "r", 1))))
            nodes["fc_b"] = nir.Affine(weight=rng.normal(0, 1, (m, max(n_in, 1))),
                                       bias=np.zeros(m))
            edges.extend([("in_b", "fc_b"), ("fc_b", k)])
        elif choice == 2:                   # an edge into it
            edges.append((k, "in_b"))
    return g


def graph_of(g):
    return nir.NIRGraph(nodes=g["nodes"], edges=g["edges"], type_check=False)


def hostile_graph(case: int):
    """Case ``case``'s graph: the base graph (even cases) or a random valid graph (odd) with
    one or two mutations, or None when nir itself refuses to build it (not our input)."""
    rng = np.random.default_rng(case)
    g = base_graph(rng) if case % 2 == 0 else valid_graph(rng)
    for _ in range(int(rng.integers(1, 3))):
        g = mutate(g, rng)
    try:
        return graph_of(g)
    except Exception:  # noqa: BLE001
        return None


@pytest.mark.parametrize("block", range(3))
def test_hostile_graphs_are_compiled_or_refused(block):
    crashes = []
    for case in range(block * CASES, (block + 1) * CASES):
        graph = hostile_graph(case)
        if graph is None:
            continue
        try:
            compile_nir(graph, hw="loihi2")
        except NeuroccError:
            pass
        except Exception as e:   # noqa: BLE001 - that is the finding
            crashes.append(f"case {case}: {type(e).__name__}: {str(e)[:120]}")
    assert not crashes, "\n".join(crashes[:20])


def damaged(data: bytes, case: int, kind: int) -> bytes:
    """``data`` truncated (kind 0), with 1–19 bytes changed (1), or random bytes (2)."""
    r = np.random.default_rng(case)
    b = bytearray(data)
    if kind == 0:
        return bytes(b[: int(r.integers(0, len(b)))])
    if kind == 1:
        for i in r.integers(0, len(b), int(r.integers(1, 20))):
            b[i] = int(r.integers(0, 256))
        return bytes(b)
    return r.integers(0, 256, int(r.integers(0, 4000)), dtype=np.uint8).tobytes()


def test_damaged_nir_and_program_files_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    nir.write(tmp_path / "ok.nir", graph_of(base_graph(rng)))
    prog = neurocc.compile(tmp_path / "ok.nir")
    prog.save(tmp_path / "ok.neurocc")
    crashes = []
    for name in ("ok.nir", "ok.neurocc"):
        data = (tmp_path / name).read_bytes()
        for case in range(60):
            p = tmp_path / f"bad{case}{name[2:]}"
            p.write_bytes(damaged(data, case, case % 3))
            try:
                if name.endswith(".nir"):
                    compile_nir(p)
                else:
                    neurocc.load(p)
            except NeuroccError:
                pass
            except Exception as e:  # noqa: BLE001
                crashes.append(f"{name} case {case}: {type(e).__name__}: {str(e)[:100]}")
    assert not crashes, "\n".join(crashes[:20])


def test_program_edited_and_resigned_is_refused(tmp_path):
    """Deleting header fields and recomputing the checksum: a clear ArtifactError."""
    import hashlib
    import json

    from neurocc.compiler import artifact

    rng = np.random.default_rng(1)
    prog = compile_nir(graph_of(base_graph(rng)))
    path = prog.save(tmp_path / "p.neurocc")
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    header = json.loads(files["header.json"])
    crashes = []
    for i, key in enumerate(sorted(header)):
        for j, change in enumerate((None, "x", [], {})):
            h = copy.deepcopy(header)
            if change is None:
                del h[key]
            else:
                h[key] = change
            meta = json.dumps(h, sort_keys=True).encode()
            arrays = {n[:-4]: np.load(__import__("io").BytesIO(files[n]))
                      for n in files if n.endswith(".npy")}
            digest = artifact._digest(meta, arrays)
            out = tmp_path / f"e{i}_{j}.neurocc"
            with zipfile.ZipFile(out, "w") as z:
                z.writestr("header.json", meta)
                z.writestr("sha256", digest.encode())
                for n in files:
                    if n.endswith(".npy"):
                        z.writestr(n, files[n])
            try:
                neurocc.load(out)
            except NeuroccError:
                pass
            except Exception as e:  # noqa: BLE001
                crashes.append(f"{key} -> {change!r}: {type(e).__name__}: {str(e)[:100]}")
    assert hashlib  # the checksum is recomputed above, so only validation can catch these
    assert not crashes, "\n".join(crashes[:20])


def test_bad_input_arrays_are_refused_with_the_place_named():
    rng = np.random.default_rng(2)
    prog = compile_nir(graph_of(base_graph(rng)))
    good = (rng.random((4, 2, 1, 6, 6)) < 0.5).astype(np.uint8)
    nan = good.astype(float)
    nan[2, 1, 0, 3, 3] = np.nan
    bad = [good[0], good.reshape(4, 2, 36), good.astype(str), [[1, 2], [3]], nan,
           good * 2.5, -good, np.zeros((0, 2, 1, 6, 6)), np.zeros((4, 0, 1, 6, 6)), None,
           "x.npy", good.astype(complex), np.full(good.shape, 1e300)]
    crashes = []
    for i, x in enumerate(bad):
        try:
            prog.run(x)
        except NeuroccError as e:
            if i == 4:
                assert "step 2" in str(e) and "sample 1" in str(e), str(e)
        except Exception as e:  # noqa: BLE001
            crashes.append(f"input {i}: {type(e).__name__}: {str(e)[:100]}")
    assert not crashes, "\n".join(crashes)


def two_input_graph(rng):
    """A small valid graph of two Inputs: 'a' (2, 8) → Conv1d → LIF → flatten → Affine, and
    'b' (5,) → Affine, both into one LIF (4)."""
    return graph_of({
        "nodes": {"a": nir.Input(input_type={"input": np.array([2, 8])}),
                  "b": nir.Input(input_type={"input": np.array([5])}),
                  "ca": nir.Conv1d(input_shape=8, weight=rng.normal(0, 1, (2, 2, 3)), stride=1,
                                   padding=1, dilation=1, groups=1, bias=np.zeros(2)),
                  "la": lif((2, 8), rng),
                  "flat": nir.Flatten(input_type={"input": np.array([2, 8])}, start_dim=0),
                  "fa": nir.Affine(weight=rng.normal(0, 1, (4, 16)), bias=np.zeros(4)),
                  "fb": nir.Affine(weight=rng.normal(0, 1, (4, 5)), bias=np.zeros(4)),
                  "l2": lif((4,), rng), "out": nir.Output(output_type={"output": np.array([4])})},
        "edges": [("a", "ca"), ("ca", "la"), ("la", "flat"), ("flat", "fa"), ("fa", "l2"),
                  ("b", "fb"), ("fb", "l2"), ("l2", "out")]})


def odd_inputs(case: int):
    """Case ``case``'s input for ``two_input_graph``'s program: a dict by Input name with up
    to two things wrong (a key missing or unknown, a value of the wrong shape, steps, dtype or
    kind), or no dict at all."""
    r = np.random.default_rng(case)
    steps, batch = int(r.integers(1, 6)), int(r.integers(1, 4))
    x = {"a": (r.random((steps, batch, 2, 8)) < 0.5).astype(np.uint8),
         "b": (r.random((steps, batch, 5)) < 0.5).astype(np.uint8)}
    good = dict(x)
    flat = np.concatenate([x["a"].reshape(steps, batch, -1), x["b"]], axis=2)
    for _ in range(int(r.integers(1, 3))):
        what = int(r.integers(6))
        k = "ab"[int(r.integers(2))]
        if what == 0:
            x.pop(k, None)
        elif what == 1:
            x[_pick(r, ["c", 3, None, ("a",), ""])] = good["a"]
        elif what == 2:                     # a value of another shape, steps or batch
            shape = list(good[k].shape)
            shape[int(r.integers(len(shape)))] += int(r.integers(1, 3))
            x[k] = np.zeros(shape, dtype=np.uint8)
        elif what == 3:                     # a value of another dtype or kind
            a = good[k]
            x[k] = _pick(r, [a.astype(float) * np.nan, a * 2.5, -a.astype(int),
                             a.astype(complex), a.astype(str), a.astype(object), None, "x.npy",
                             [[1, 2], [3]], a[0], float(1), np.zeros((0, batch, 5))])
        elif what == 4:                     # no dict: a list, the flat array, a wrong width
            return _pick(r, [list(x.values()), flat, flat[:, :, 1:], tuple(x.values())])
    return x


def test_bad_input_dicts_are_refused():
    """A program of two Inputs run with odd dicts: it works or raises one NeuroccError."""
    prog = compile_nir(two_input_graph(np.random.default_rng(4)))
    crashes = []
    for case in range(CASES):
        try:
            prog.run(odd_inputs(case))
        except NeuroccError as e:
            if "\n" in str(e):
                crashes.append(f"case {case}: not one line: {e}")
        except Exception as e:  # noqa: BLE001
            crashes.append(f"case {case}: {type(e).__name__}: {str(e)[:100]}")
    assert not crashes, "\n".join(crashes[:20])


def test_edited_hardware_configs_are_loaded_or_refused(tmp_path):
    import re

    text = (HERE / "tiny.toml").read_text()
    values = list(re.finditer(r"value = ([^,}]+(?:\[[^\]]*\])?[^,}]*)", text))
    hostile = ['"8"', "0", "-1", "1e400", "nan", "true", "[100000, 100000]", "[]", "2.5",
               "-0.0", '"35.5e-12"', "{}", "99999999999999999999"]
    rng = np.random.default_rng(3)
    graph = graph_of(base_graph(rng))
    crashes = []
    for case in range(CASES):
        r = np.random.default_rng(case)
        m = values[int(r.integers(len(values)))]
        bad = text[:m.start(1)] + str(r.choice(hostile)) + text[m.end(1):]
        p = tmp_path / f"hw{case}.toml"
        p.write_text(bad)
        try:
            hw = load_hw(p)
            prog = compile_nir(graph, hw=hw)
            prog.run(np.ones((2, 1, 1, 6, 6), dtype=np.uint8)).to_dict()
        except NeuroccError:
            pass
        except Exception as e:  # noqa: BLE001
            crashes.append(f"case {case} ({m.group(0)[:40]} -> {bad[m.start(1):][:12]}): "
                           f"{type(e).__name__}: {str(e)[:100]}")
    (tmp_path / "latin1.toml").write_bytes(text.encode() + b"\n# caf\xe9\n")
    for weird in (tmp_path / "latin1.toml", "", "/", tmp_path, tmp_path / "none.toml"):
        try:
            load_hw(weird)
        except NeuroccError:
            pass
        except Exception as e:  # noqa: BLE001
            crashes.append(f"--hw {weird!r}: {type(e).__name__}: {e}")
    assert not crashes, "\n".join(crashes[:20])


def test_a_damaged_chunk_index_is_refused_instead_of_hanging(tmp_path):
    """Fuzz campaign finding: one flipped byte in a .nir file's chunk index made libhdf5 loop
    forever inside nir.read (SIGALRM cannot interrupt it). The file is committed; it must be
    refused in one line, fast. A child process with a timeout guards against a regression."""
    import subprocess
    import sys
    from pathlib import Path

    bad = Path(__file__).parent / "fixtures" / "damaged_chunk_index.nir"
    p = subprocess.run([sys.executable, "-m", "neurocc", "compile", str(bad), "-o",
                        str(tmp_path / "p.neurocc")], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2, p.stderr
    assert "is damaged" in p.stderr and "re-export it" in p.stderr
    assert not (tmp_path / "p.neurocc").exists()


def _pool_stride_zero(g, rng):
    g["nodes"]["pool"].stride = np.array([0, 0])


def _conv_negative_padding(g, rng):
    g["nodes"]["conv"].padding = -1


def _bias_too_long(g, rng):
    g["nodes"]["fc"].bias = np.zeros(5)


def _second_input_of_another_size(g, rng):
    g["edges"].append(("in", "l2"))


@pytest.mark.parametrize("damage, says", [
    (_pool_stride_zero, r"node 'pool' \(AvgPool2d\): stride \(0, 0\) must be at least 1"),
    (_conv_negative_padding, r"node 'conv' \(Conv2d\): padding \(-1, -1\) must be at least 0"),
    (_bias_too_long, r"node 'fc' \(Affine\): bias has 5 values but the weight has 4 rows"),
    (_second_input_of_another_size,
     r"node 'l2' \(LIF\): has 4 neurons but receives 36 values from node 'in'"),
])
def test_fuzz_campaign_crashes_are_now_named_refusals(damage, says):
    """Pinned from the 10,500-case campaign (tests/fuzz_campaign.py): each was a
    ZeroDivisionError, a broadcast error or an IndexError."""
    from neurocc.api.errors import FrontendError

    g = base_graph(np.random.default_rng(0))
    damage(g, None)
    with pytest.raises(FrontendError, match=says):
        compile_nir(graph_of(g))


def test_an_integer_too_large_for_the_chip_arithmetic_is_refused(tmp_path):
    import re

    from neurocc.api.errors import ConfigError

    text = (HERE / "tiny.toml").read_text()
    m = re.search(r"(cores_per_tile\s*=\s*\{\s*value\s*=\s*)(\d+)", text)
    bad = text[:m.start(2)] + "99999999999999999999" + text[m.end(2):]
    (tmp_path / "big.toml").write_text(bad)
    with pytest.raises(ConfigError, match=r"cores_per_tile = 99999999999999999999 must be an "
                                          r"integer of at most 2147483647"):
        load_hw(tmp_path / "big.toml")


def _delay_of_1e300_s(g, rng):
    g["nodes"]["dly"] = nir.Delay(delay=np.array([1e300]))
    g["edges"].remove(("pool", "flat"))
    g["edges"] += [("pool", "dly"), ("dly", "flat")]


def _if_with_an_infinite_r(g, rng):
    g["nodes"]["l2"] = nir.IF(r=np.array([1.0, np.inf, 1.0, 1.0]), v_threshold=np.ones(4))


@pytest.mark.parametrize("damage, says", [
    (_delay_of_1e300_s, r"^projection 'l1->l2' \(NIR Delay node 'dly'\): delay 1e\+300 s "
                        r"\(destination neuron 0\) is 1e\+304 steps at dt = 0\.0001 s, more "
                        r"than 2\^31"),
    (_if_with_an_infinite_r, r"^node 'l2' \(IF\): 'r' holds inf; give finite values$"),
])
def test_campaign_findings_in_the_new_readers_are_refused(damage, says):
    """Pinned from the campaign once its mutations put Delay and Threshold nodes, Conv1d and
    second Inputs into graphs: both compiled without a word. A Delay of 1e300 s wrapped round
    to a negative int64 delay (past the 63-step check), an IF with r = inf gave NaN biases."""
    g = base_graph(np.random.default_rng(0))
    damage(g, None)
    with pytest.raises(NeuroccError, match=says):
        compile_nir(graph_of(g))


def _delayed(taus, dt):
    """in (2) → fc → a uniform Delay of 3 steps → lif (tau per neuron) → out."""
    n = len(taus)
    return nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([n])}),
        "fc": nir.Affine(weight=np.eye(n) * 5, bias=np.zeros(n)),
        "d": nir.Delay(delay=np.array([3 * dt])),
        "lif": nir.LIF(tau=np.array(taus), r=np.ones(n), v_leak=np.zeros(n),
                       v_threshold=np.ones(n)),
        "out": nir.Output(output_type={"output": np.array([n])})},
        edges=[("in", "fc"), ("fc", "d"), ("d", "lif"), ("lif", "out")], type_check=False)


def test_a_delay_into_a_layer_of_several_time_constants_is_kept():
    """Found building the campaign's Delay cases (its check that every Delay node reaches a
    projection fails without the fix): the sub-populations pass rebuilt a split layer's
    projections without their delays, so its spikes came 3 steps early."""
    x = np.zeros((8, 1, 2), dtype=np.uint8)
    x[0] = 1
    for taus in ([2e-3, 2e-3], [2e-3, 4e-3]):
        prog = compile_nir(_delayed(taus, 1e-3), dt=1e-3)
        assert all(p.delay is not None and p.delay.nodes == ("d",) for p in prog.projections)
        for backend in ("emulator", "reference"):
            spikes = prog.run(x, backend=backend).outputs["lif"]
            assert np.flatnonzero(spikes.any(axis=(1, 2))).tolist() == [3], (taus, backend)


def test_a_conv1d_on_one_channel_compiles():
    """Found by the campaign's Conv1d cases: a Conv1d with one input channel on its (1, L)
    Input was refused ("expects a (C, L) input, receives shape (L,)"), the frontend having
    read the 1 as a batch dimension. It compiles, spike for spike the same conv with a
    second, all-zero channel."""
    def graph(c, w):
        return nir.NIRGraph(nodes={
            "in": nir.Input(input_type={"input": np.array([c, 8])}),
            "c": nir.Conv1d(input_shape=8, weight=w, stride=1, padding=1, dilation=1,
                            groups=1, bias=np.zeros(2)),
            "lif": lif((2, 8), np.random.default_rng(0)),
            "out": nir.Output(output_type={"output": np.array([2, 8])})},
            edges=[("in", "c"), ("c", "lif"), ("lif", "out")], type_check=False)

    w = np.random.default_rng(1).normal(0, 20, (2, 1, 3))
    one = compile_nir(graph(1, w))
    two = compile_nir(graph(2, np.concatenate([w, np.zeros_like(w)], axis=1)))
    x = (np.random.default_rng(2).random((10, 2, 8)) < 0.5).astype(np.uint8)
    a = one.run(x).outputs["lif"]
    b = two.run(np.stack([x, np.zeros_like(x)], axis=2)).outputs["lif"]
    assert a.any() and np.array_equal(a, b)
