"""The CLI contract: commands, JSON fields, exit codes and one-line errors."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import nir
import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location("tp", Path(__file__).with_name("test_program.py"))
_tp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tp)


def neurocc(*args, cwd=None):
    p = subprocess.run([sys.executable, "-m", "neurocc", *map(str, args)], capture_output=True,
                       text=True, cwd=cwd, timeout=300)
    return p.returncode, p.stdout, p.stderr


def one_line_error(stderr: str) -> str:
    lines = [x for x in stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("neurocc: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    nir.write(d / "m.nir", _tp.small_graph())
    x = (np.random.default_rng(0).random((12, 3, 1, 5, 5)) < 0.5).astype(np.uint8)
    np.save(d / "x.npy", x)
    return d


def test_compile_run_info(model):
    prog = model / "m.neurocc"
    code, out, err = neurocc("compile", model / "m.nir", "--hw", "loihi2", "-o", prog)
    assert code == 0, err
    assert "wrote" in out and prog.exists()
    code, out, err = neurocc("run", prog, "--input", model / "x.npy", "--json", "-o",
                             model / "out.npz")
    assert code == 0, err
    rep = json.loads(out)
    for key in ("backend", "hw", "steps", "batch", "output_spike_counts", "layers", "synops",
                "energy_per_inference_j", "energy_breakdown_j", "latency_per_inference_s",
                "wall_s"):
        assert key in rep, key
    assert rep["backend"] == "emulator" and rep["hw"] == "loihi2"
    assert rep["steps"] == 12 and rep["batch"] == 3
    assert np.array(rep["output_spike_counts"]).shape == (3, 4)
    assert {L["name"] for L in rep["layers"]} == {"l1", "l2"}
    assert all({"name", "neurons", "spikes"} <= set(L) for L in rep["layers"])
    assert rep["energy_per_inference_j"] == pytest.approx(sum(rep["energy_breakdown_j"].values()))
    assert rep["energy_per_inference_j"] > 0 and rep["latency_per_inference_s"] > 0
    assert rep["semantics"]["dt_s"] == 1e-4 and rep["semantics"]["reset"] == "zero"
    saved = np.load(model / "out.npz")
    np.testing.assert_array_equal(saved["output_spike_counts"], rep["output_spike_counts"])
    assert saved["output_l2"].shape == (12, 3, 4)
    code, out, err = neurocc("info", prog, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["hw"] == "loihi2" and info["neurons"] == 79 and info["cores_used"] >= 1
    code, out, err = neurocc("run", prog, "--input", model / "x.npy", "--backend", "reference")
    assert code == 0 and "backend reference" in out
    # the samples split over threads: the same report
    code, out, err = neurocc("run", prog, "--input", model / "x.npy", "--json", "--workers", 3)
    assert code == 0, err
    chunked = json.loads(out)
    assert chunked.pop("wall_s") >= 0 and rep.pop("wall_s") >= 0
    assert chunked == rep
    code, out, err = neurocc("run", prog, "--input", model / "x.npy", "--workers", 0)
    assert code == 2 and "workers must be at least 1" in one_line_error(err)


def test_a_program_with_embedded_float_weights_runs_the_reference_without_its_nir(model,
                                                                                 tmp_path):
    import shutil

    shutil.copy(model / "m.nir", tmp_path / "m.nir")
    args = ("--input", model / "x.npy", "--backend", "reference", "--json")
    for flag, name in (([], "plain.neurocc"), (["--embed-float-weights"], "full.neurocc")):
        code, out, err = neurocc("compile", tmp_path / "m.nir", "-o", tmp_path / name, *flag)
        assert code == 0, err
    code, want, err = neurocc("run", tmp_path / "plain.neurocc", *args)
    assert code == 0, err
    (tmp_path / "m.nir").unlink()
    code, out, err = neurocc("run", tmp_path / "plain.neurocc", *args)
    assert code == 2 and "--embed-float-weights" in one_line_error(err)
    code, out, err = neurocc("run", tmp_path / "full.neurocc", *args)
    assert code == 0, err
    a, b = json.loads(want), json.loads(out)
    assert a.pop("wall_s") >= 0 and b.pop("wall_s") >= 0
    assert a["output_spike_counts"] == b["output_spike_counts"]


def test_dt_and_reset_options_are_recorded(model):
    prog = model / "s.neurocc"
    code, _, err = neurocc("compile", model / "m.nir", "--hw", "loihi1", "--dt", "2e-4",
                           "--reset", "subtract", "-o", prog)
    assert code == 0, err
    code, out, _ = neurocc("info", prog, "--json")
    sem = json.loads(out)["semantics"]
    assert sem["dt_s"] == 2e-4 and sem["reset"] == "subtract"


@pytest.mark.parametrize("args, pattern", [
    (("compile", "missing.nir", "-o", "p"), "NIR file 'missing.nir' does not exist"),
    (("compile", "x.npy", "-o", "p"), "cannot read NIR file 'x.npy'"),
    (("compile", "m.nir", "--hw", "loihi9", "-o", "p"), "unknown hardware 'loihi9'"),
    (("compile", "m.nir", "--reset", "half", "-o", "p"), "invalid choice: 'half'"),
    (("run", "m.nir", "--input", "x.npy"), "corrupted or not a neurocc program"),
    (("run", "m.neurocc", "--input", "nope.npy"), "input file 'nope.npy' does not exist"),
    (("run", "m.neurocc", "--input", "m.nir"), "cannot read input 'm.nir' as a .npy array"),
])
def test_bad_input_is_one_line_and_exit_2(model, args, pattern):
    if not (model / "m.neurocc").exists():
        neurocc("compile", model / "m.nir", "-o", model / "m.neurocc")
    code, _, err = neurocc(*args, cwd=model)
    assert code == 2, err
    assert pattern in one_line_error(err)


def test_wrong_input_shape(model, tmp_path):
    neurocc("compile", model / "m.nir", "-o", tmp_path / "p")
    np.save(tmp_path / "bad.npy", np.zeros((4, 2, 8)))
    code, _, err = neurocc("run", tmp_path / "p", "--input", tmp_path / "bad.npy")
    assert code == 2
    assert "the program expects (steps, batch, 1, 5, 5)" in one_line_error(err)


def test_network_too_big_is_exit_3(tmp_path):
    n = 3000
    rng = np.random.default_rng(0)
    g = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([n])),
               "fc": nir.Affine(weight=rng.normal(size=(n, n)), bias=np.zeros(n)),
               "lif": nir.LIF(tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n),
                              v_threshold=np.ones(n)),
               "out": nir.Output(output_type=np.array([n]))},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")])
    nir.write(tmp_path / "big.nir", g)
    code, _, err = neurocc("compile", tmp_path / "big.nir", "--hw", "tiny", "-o", tmp_path / "p")
    assert code == 3, err
    line = one_line_error(err)
    assert "tiny" in line and "chips" in line


def test_hw_command_lists_sources():
    code, out, _ = neurocc("hw")
    assert code == 0 and "loihi1" in out and "loihi2" in out
    code, out, _ = neurocc("hw", "loihi2", "--json")
    values = json.loads(out)["values"]
    assert all(v["source"] for v in values.values())
    assert values["energy.synop_dense_j"]["assumption"] is True


@pytest.mark.parametrize("output, says", [
    (".", "it is a directory"),
    ("missing/dir/p.neurocc", "does not exist; create it first"),
])
def test_unwritable_output_is_refused_before_compiling(model, tmp_path, output, says):
    code, out, err = neurocc("compile", model / "m.nir", "-o", output, cwd=tmp_path)
    assert code == 2 and says in one_line_error(err)
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-2"])
def test_graded_input_maximum_must_be_positive_and_finite(model, tmp_path, value):
    code, out, err = neurocc("compile", model / "m.nir", "--graded-input", value, "-o",
                             tmp_path / "p.neurocc")
    assert code == 2 and "positive finite number" in one_line_error(err)


def test_failed_compile_leaves_the_existing_program_and_no_temporary(model, tmp_path):
    good = tmp_path / "p.neurocc"
    assert neurocc("compile", model / "m.nir", "-o", good)[0] == 0
    before = good.read_bytes()
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5")
    code, _, err = neurocc("compile", bad, "-o", good)
    assert code == 2 and good.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.nir", "p.neurocc"]


def test_run_writes_arrays_under_the_exact_name_given(model, tmp_path):
    prog = tmp_path / "p.neurocc"
    assert neurocc("compile", model / "m.nir", "-o", prog)[0] == 0
    np.save(tmp_path / "x.npy", np.zeros((3, 1, 1, 5, 5), dtype=np.uint8))
    code, out, err = neurocc("run", prog, "--input", tmp_path / "x.npy", "-o",
                             tmp_path / "out.bin")
    assert code == 0, err
    assert (tmp_path / "out.bin").exists() and not (tmp_path / "out.bin.npz").exists()
    assert "output_spike_counts" in np.load(tmp_path / "out.bin")


def test_compare_puts_configs_side_by_side_and_says_what_does_not_fit(model, tmp_path):
    import re

    from neurocc.hw_configs import HERE

    text = (HERE / "tiny.toml").read_text()
    small = re.sub(r"(neurons_per_core\s*=\s*\{\s*value\s*=\s*)\d+", r"\g<1>2", text)
    (tmp_path / "small.toml").write_text(small)
    code, out, err = neurocc("compare", model / "m.nir", "--hw",
                             f"loihi1,loihi2,{tmp_path / 'small.toml'}", "--input",
                             model / "x.npy", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["hw"] for r in rows][:2] == ["loihi1", "loihi2"]
    for r in rows[:2]:
        assert r["fits"] and r["energy_j"] == pytest.approx(r["dynamic_j"] + r["static_j"])
        assert r["edp_js"] == pytest.approx(r["energy_j"] * r["latency_s"])
    assert rows[0]["dynamic_j"] == pytest.approx(rows[1]["dynamic_j"])  # same per-event costs
    assert rows[0]["static_j"] != rows[1]["static_j"]
    assert not rows[2]["fits"] and "neurons" in rows[2]["does_not_fit"]
    code, out, err = neurocc("compare", model / "m.nir", "--input", model / "x.npy")
    assert code == 0 and "dynamic" in out.splitlines()[0] and "loihi2" in out


def test_run_scheduled_latency_reports_both_figures(model):
    prog = model / "s.neurocc"
    assert neurocc("compile", model / "m.nir", "-o", prog)[0] == 0
    code, out, err = neurocc("run", prog, "--input", model / "x.npy", "--json",
                             "--scheduled-latency")
    assert code == 0, err
    rep = json.loads(out)
    sched = rep["latency_breakdown_s"]["scheduled_per_inference_s"]
    assert rep["latency_per_inference_s"] <= sched <= rep["latency_breakdown_s"][
        "serial_upper_bound_s"] + rep["latency_breakdown_s"]["barrier_sync"]
    code, out, err = neurocc("run", prog, "--input", model / "x.npy", "--scheduled-latency")
    assert code == 0 and "as SANA-FE's detailed model" in out, err
    code, out, err = neurocc("run", prog, "--input", model / "x.npy")
    assert code == 0 and "SANA-FE's detailed" not in out
