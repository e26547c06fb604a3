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
    """Integer weights (int16 in memory) divided by their grid step in int8 (Lava's
    mixed-sign mantissas are even), float32-exact floats in float32; loaded back in their
    own dtype with every value equal. A program compiled from an in-memory graph embeds its
    float IR weights (nothing else holds them): they then dominate the file, the chip's
    weights cost a fifth."""
    import neurocc.compiler.targets.loihi.artifact as payload

    rng = np.random.default_rng(3)
    n = 300
    prog = compile_nir(mlp_graph(rng, n), hw="loihi2")
    assert prog.projections[0].sign_mode == "mixed"
    again = load(save(prog, tmp_path / "narrow.neurocc"))
    for p, q in zip(prog.projections, again.projections):
        assert q.conn.weight.dtype == p.conn.weight.dtype == prog.numerics.weight_dtype
        np.testing.assert_array_equal(p.conn.weight, q.conn.weight)
    for p, q in zip(prog.network.projections, again.network.projections):
        assert q.conn.weight.dtype == p.conn.weight.dtype
        np.testing.assert_array_equal(p.conn.weight, q.conn.weight)
    with zipfile.ZipFile(tmp_path / "narrow.neurocc") as z:
        stored = {i.filename: i.compress_size for i in z.infolist()}
        assert np.load(z.open("p0.w.npy")).dtype == np.int8
    ints = sum(v for k, v in stored.items() if k.startswith("p0."))
    floats = sum(v for k, v in stored.items() if k.startswith("ir.p0."))
    assert ints < 0.25 * floats
    monkeypatch.setattr(payload, "_narrowest", lambda a: a)
    with zipfile.ZipFile(save(prog, tmp_path / "wide.neurocc")) as z:
        assert np.load(z.open("p0.w.npy")).dtype == np.int16     # as held in memory


def mlp_graph(rng, n):
    return nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([n])),
               "fc": nir.Affine(weight=rng.normal(size=(n, n)).astype(np.float32),
                                bias=np.zeros(n, np.float32)),
               "l": nir.LIF(tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n),
                            v_threshold=np.ones(n)),
               "out": nir.Output(output_type=np.array([n]))},
        edges=[("in", "fc"), ("fc", "l"), ("l", "out")], type_check=False)


def test_float_weights_stay_in_their_nir_file(tmp_path):
    """Compiled from a .nir file, a program leaves its float IR weights there (path, sha256
    of the file and of each projection's weights): the artifact is the chip's program, a
    fraction of the .nir. The emulator never reads them; the float reference reads them
    back on first use, from the recorded path or beside the program, and refuses, saying
    what to do, when neither holds that file."""
    import shutil

    from neurocc.compiler.targets.loihi.float_weights import NirProjection

    rng = np.random.default_rng(4)
    n = 300
    (tmp_path / "a").mkdir()
    model = tmp_path / "a" / "m.nir"
    nir.write(model, mlp_graph(rng, n))
    prog = compile_nir(model, hw="loihi2")
    path = save(prog, tmp_path / "a" / "p.neurocc")
    assert path.stat().st_size < 0.4 * model.stat().st_size
    again = load(path)
    assert all(isinstance(p, NirProjection) for p in again.network.projections)
    x = np.random.default_rng(0).random((12, 3, n)) < 0.3
    want = {b: prog.run(x, backend=b).trace.spikes["l"] for b in ("emulator", "reference")}
    np.testing.assert_array_equal(again.run(x).trace.spikes["l"], want["emulator"])
    assert save(again, tmp_path / "q.neurocc").read_bytes() == path.read_bytes()
    np.testing.assert_array_equal(again.run(x, backend="reference").trace.spikes["l"],
                                  want["reference"])
    assert save(again, tmp_path / "r.neurocc").read_bytes() == path.read_bytes()
    # moved to another directory with its .nir beside it
    (tmp_path / "b").mkdir()
    shutil.copy(path, tmp_path / "b" / "p.neurocc")
    shutil.move(model, tmp_path / "b" / "m.nir")
    moved = load(tmp_path / "b" / "p.neurocc")
    np.testing.assert_array_equal(moved.run(x, backend="reference").trace.spikes["l"],
                                  want["reference"])
    # the .nir changed: the chip's program still runs, the reference refuses
    nir.write(tmp_path / "b" / "m.nir", mlp_graph(np.random.default_rng(5), n))
    changed = load(tmp_path / "b" / "p.neurocc")
    np.testing.assert_array_equal(changed.run(x).trace.spikes["l"], want["emulator"])
    with pytest.raises(ArtifactError, match=r"float reference needs its float weights.*no "
                       r"file at '.*a/m\.nir' or '.*b/m\.nir' has its sha256.*put that \.nir "
                       r"beside the program"):
        changed.run(x, backend="reference")
    # saved with its float weights (the loaded program reads them from its .nir to embed
    # them), it runs the reference with no .nir anywhere
    embedded = save(moved, tmp_path / "e.neurocc", embed_float_weights=True)
    assert embedded.stat().st_size > 2 * path.stat().st_size
    (tmp_path / "b" / "m.nir").unlink()
    alone = load(embedded)
    assert not any(isinstance(p, NirProjection) for p in alone.network.projections)
    np.testing.assert_array_equal(alone.run(x, backend="reference").trace.spikes["l"],
                                  want["reference"])


def test_version_1_programs_still_load(tmp_path):
    """``fixtures/program_v1.neurocc`` was written before weights moved under ``values``
    (int8 grid steps) and float weights could stay in the .nir; it loads, runs, and saves
    as the current version with the same numbers."""
    from pathlib import Path

    old = load(Path(__file__).parent / "fixtures" / "program_v1.neurocc")
    # its stored config predates [latency] link_buffer_messages: filled in, and labelled
    assert old.hw.latency.link_buffer_messages == 16
    assert old.hw.sources["latency.link_buffer_messages"]["assumption"] is True
    new = load(save(old, tmp_path / "p.neurocc"))
    with zipfile.ZipFile(tmp_path / "p.neurocc") as z:
        assert json.loads(z.read("header.json"))["payload_version"] == 2
    for a, b in zip(old.projections + old.network.projections,
                    new.projections + new.network.projections):
        assert a.conn.values.dtype == b.conn.values.dtype
        np.testing.assert_array_equal(a.conn.values, b.conn.values)
    x = np.random.default_rng(0).random((15, 4, 1, 5, 5)) < 0.5
    for backend in ("emulator", "reference"):
        a, b = run(old, x, backend=backend), run(new, x, backend=backend)
        for g in old.groups:
            np.testing.assert_array_equal(a.trace.spikes[g.name], b.trace.spikes[g.name])


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


def test_newer_payload_version(program, tmp_path):
    from neurocc.compiler.targets.loihi.artifact import from_payload, to_payload

    meta, arrays = to_payload(program)
    meta["payload_version"] = 3
    with pytest.raises(ArtifactError, match="payload version 3, this neurocc reads versions "
                       "1 to 2; recompile it with this neurocc"):
        from_payload(meta, arrays, "p.neurocc")


def test_not_a_program(tmp_path):
    p = tmp_path / "x.npy"
    np.save(p, np.zeros(3))
    with pytest.raises(ArtifactError, match="corrupted or not a neurocc program"):
        load(p)
    with pytest.raises(ArtifactError, match="does not exist"):
        load(tmp_path / "missing")
