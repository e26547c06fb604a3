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
