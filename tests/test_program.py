"""Compiled programs as artifacts: round trip, determinism, and damage detection."""

import json
import zipfile

import nir
import numpy as np
import pytest

from neurocc.api.errors import ArtifactError
from neurocc.backends import run
from neurocc.compiler.artifact import load, save
from neurocc.compiler.pipeline import compile_nir


def small_graph(seed=0):
    rng = np.random.default_rng(seed)
    dt, beta = 1e-4, 0.9
    def lif(n):
        return nir.LIF(tau=np.full(n, dt / (1 - beta)), r=np.full(n, 1 / (1 - beta)),
                       v_leak=np.zeros(n), v_threshold=np.ones(n))
    return nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([1, 5, 5])),
               "conv": nir.Conv2d(input_shape=(5, 5), weight=rng.normal(size=(3, 1, 3, 3)),
                                  stride=1, padding=1, dilation=1, groups=1, bias=np.full(3, .05)),
               "l1": nir.LIF(tau=np.full((3, 5, 5), dt / 0.2), r=np.full((3, 5, 5), 5.0),
                             v_leak=np.zeros((3, 5, 5)), v_threshold=np.ones((3, 5, 5))),
               "flat": nir.Flatten(input_type={"input": np.array([3, 5, 5])}, start_dim=0),
               "fc": nir.Affine(weight=rng.normal(size=(4, 75)) * 0.5, bias=np.zeros(4)),
               "l2": lif(4), "out": nir.Output(output_type=np.array([4]))},
        edges=[("in", "conv"), ("conv", "l1"), ("l1", "flat"), ("flat", "fc"), ("fc", "l2"),
               ("l2", "out")], type_check=False)


@pytest.fixture
def program():
    return compile_nir(small_graph(), hw="loihi2")


def test_round_trip_runs_identically(program, tmp_path):
    path = save(program, tmp_path / "p.neurocc")
    again = load(path)
    x = (np.random.default_rng(0).random((15, 4, 1, 5, 5)) < 0.5)
    a, b = run(program, x), run(again, x)
    for g in program.groups:
        np.testing.assert_array_equal(a.trace.spikes[g.name], b.trace.spikes[g.name])
    assert again.hw.name == "loihi2" and again.dt == program.dt and again.reset == "zero"
    # saving the loaded program gives the same bytes
    assert save(again, tmp_path / "q.neurocc").read_bytes() == path.read_bytes()


def test_weights_are_stored_narrow_and_come_back_exactly(tmp_path, monkeypatch):
    """Integer weights (int16 in memory) in int8/int16, float32-exact floats in float32;
    loaded back in their own dtype with every value equal. The float IR weights (as in the
    .nir) then dominate the file; the program's own integer weights cost a quarter of
    that."""
    import neurocc.compiler.targets.loihi.artifact as payload

    rng = np.random.default_rng(3)
    n = 300
    graph = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([n])),
               "fc": nir.Affine(weight=rng.normal(size=(n, n)).astype(np.float32),
                                bias=np.zeros(n, np.float32)),
               "l": nir.LIF(tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n),
                            v_threshold=np.ones(n)),
               "out": nir.Output(output_type=np.array([n]))},
        edges=[("in", "fc"), ("fc", "l"), ("l", "out")], type_check=False)
    prog = compile_nir(graph, hw="loihi2")
    again = load(save(prog, tmp_path / "narrow.neurocc"))
    for p, q in zip(prog.projections, again.projections):
        assert q.conn.weight.dtype == p.conn.weight.dtype == prog.numerics.weight_dtype
        np.testing.assert_array_equal(p.conn.weight, q.conn.weight)
    for p, q in zip(prog.network.projections, again.network.projections):
        assert q.conn.weight.dtype == p.conn.weight.dtype
        np.testing.assert_array_equal(p.conn.weight, q.conn.weight)
    with zipfile.ZipFile(tmp_path / "narrow.neurocc") as z:
        stored = {i.filename: i.compress_size for i in z.infolist()}
    ints = sum(v for k, v in stored.items() if k.startswith("p0."))
    floats = sum(v for k, v in stored.items() if k.startswith("ir.p0."))
    assert ints < 0.3 * floats
    monkeypatch.setattr(payload, "_narrowest", lambda a: a)
    wide = save(prog, tmp_path / "wide.neurocc").stat().st_size
    assert (tmp_path / "narrow.neurocc").stat().st_size <= wide   # int16 in memory already


def test_compiling_twice_gives_the_same_bytes(tmp_path):
    a = save(compile_nir(small_graph(), hw="loihi2"), tmp_path / "a")
    b = save(compile_nir(small_graph(), hw="loihi2"), tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()


def test_flipped_byte_fails_the_checksum(program, tmp_path):
    path = save(program, tmp_path / "p.neurocc")
    # rewrite one array with a changed value but a valid zip: only the checksum can tell
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    name = next(n for n in entries if n.endswith(".npy") and "bias_mant" in n)
    import io
    arr = np.load(io.BytesIO(entries[name]))
    arr = arr.copy()
    arr.flat[0] += 1
    buf = io.BytesIO()
    np.save(buf, arr)
    entries[name] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)
    with pytest.raises(ArtifactError, match="failed its checksum"):
        load(path)


def test_truncated_file(program, tmp_path):
    path = save(program, tmp_path / "p.neurocc")
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ArtifactError, match="corrupted or not a neurocc program"):
        load(path)


def test_wrong_version(program, tmp_path):
    path = save(program, tmp_path / "p.neurocc")
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(entries["header.json"])
    meta["version"] = 999
    entries["header.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)
    with pytest.raises(ArtifactError, match="format version 999.*recompile"):
        load(path)


def test_not_a_program(tmp_path):
    p = tmp_path / "x.npy"
    np.save(p, np.zeros(3))
    with pytest.raises(ArtifactError, match="corrupted or not a neurocc program"):
        load(p)
    with pytest.raises(ArtifactError, match="does not exist"):
        load(tmp_path / "missing")
