"""``neurocc calibrate``: per-event constants fitted to measured runs by non-negative least
squares; known constants recovered (synthetic measurements, SANA-FE runs), unseparable data
refused by name, the written config loads and compiles; the summary fit for the published
Loihi 2 PilotNet figures."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neurocc
from neurocc.backends import run
from neurocc.cost.calibrate import (
    ENERGY_TERMS,
    FORMAT,
    LATENCY_TERMS,
    CalibrationError,
    calibrate,
    load_measurements,
    measurement_file,
    run_counts,
    write_calibrated,
)
from neurocc.hw_configs import HERE, load_hw, override

import synth

ROOT = Path(__file__).resolve().parent.parent
SANAFE_RUNS = ROOT / "tests" / "fixtures" / "calibration" / "sanafe_runs.json"
PILOTNET = HERE / "measurements" / "lava_dl_pilotnet.json"
SEEDS = (0, 2, 3, 10, 12, 25, 29)


def _programs():
    base = load_hw("loihi2")
    spread = override(base, {"core.neurons_per_core": 3}, "spread")
    for seed in SEEDS:
        for hw in (base, spread):
            prog = synth.random_program(seed, reset="zero", graded=False, extreme=False,
                                        cubalif=False, hw=hw)
            yield seed, prog, synth.random_input(seed, prog, 12, 4)


@pytest.fixture(scope="module")
def counted():
    return [(seed, run_counts(run(prog, x))) for seed, prog, x in _programs()]


def test_counts_times_constants_are_the_dynamic_estimate():
    for _, prog, x in list(_programs())[:6]:
        res = run(prog, x)
        c = run_counts(res)
        e = sum(c["counts"][t] * getattr(prog.hw.energy, t) for t in ENERGY_TERMS)
        assert e == pytest.approx(res.estimate.dynamic_j, rel=1e-12)
        assert c["model_compute_s"] + c["steps"] * dict(prog.hw.latency.barrier_s)[
            c["barrier_key"]] == pytest.approx(res.estimate.latency_s, rel=1e-12)


def _synthetic(counted, energy: dict, static_w: float, scale: float, barrier: dict,
               with_static: bool = True) -> dict:
    runs = []
    for seed, c in counted:
        e = sum(c["counts"][t] * energy[t] for t in ENERGY_TERMS)
        lat = scale * c["model_compute_s"] + c["steps"] * barrier[c["barrier_key"]]
        if with_static:
            e += static_w * c["chips"] * lat
        runs.append({"name": f"seed {seed}", **c, "energy_j": e, "latency_s": lat,
                     "energy_includes_static": with_static})
    return measurement_file(runs, load_hw("loihi2"), "synthetic", "test")


def test_recovers_known_constants_from_synthetic_measurements(counted):
    rng = np.random.default_rng(1)
    hw = load_hw("loihi2")
    true = {t: getattr(hw.energy, t) * rng.uniform(0.3, 3.0) for t in ENERGY_TERMS}
    barrier = {1: 0.9e-6, 2: 1.3e-6, 4: 2.1e-6}
    data = _synthetic(counted, true, 0.123, 0.61, barrier)
    fit = calibrate(data, "loihi1")
    for t in ENERGY_TERMS:
        if t == "chip_crossing_j":
            assert f"energy.{t}" in fit.kept and "no run exercises" in fit.kept[f"energy.{t}"]
            continue
        assert fit.values[f"energy.{t}"] == pytest.approx(true[t], rel=1e-6), t
    assert fit.values["energy.static_power_w"] == pytest.approx(0.123, rel=1e-6)
    assert fit.residuals["energy"]["rms_relative"] < 1e-9
    assert fit.residuals["latency"]["scale_of_per_event_latencies"] == pytest.approx(0.61)
    table = dict(map(tuple, fit.values["latency.barrier_s"]))
    for k, v in barrier.items():
        assert table[k] == pytest.approx(v, rel=1e-6)
    assert table[29] == 1.8e-6 and "29" in fit.kept["latency.barrier_s"]
    ref = hw.latency
    assert fit.values["latency.synop_dense_s"] == pytest.approx(0.61 * ref.synop_dense_s)


def test_unseparable_constants_are_refused_by_name(counted):
    hw = load_hw("loihi2")
    energy = {t: getattr(hw.energy, t) for t in ENERGY_TERMS}
    data = _synthetic(counted[:1], energy, 0.1, 1.0, {1: 1e-6, 2: 1e-6, 4: 1e-6},
                      with_static=False)
    with pytest.raises(CalibrationError, match=r"the 1 run\(s\) cannot separate .*"
                       r"synop_dense_j .*; add runs where they vary independently, or hold "
                       "them at the base config's values with --hold"):
        calibrate(data, "loihi2")
    # Two constants whose events are proportional in every run: named together.
    runs = [{"name": str(i), "counts": {"neuron_access_j": n, "neuron_update_j": 2 * n,
                                        "spike_out_j": float(i)}, "energy_j": 1e-9 * (i + n)}
            for i, n in enumerate((10.0, 20.0, 35.0, 50.0))]
    data = {"format": FORMAT, "runs": runs}
    with pytest.raises(CalibrationError, match="neuron_access_j \\+ neuron_update_j"):
        calibrate(data, "loihi2")
    fit = calibrate(data, "loihi2", hold=("neuron_update_j",))
    assert "energy.neuron_update_j" in fit.kept and "energy.neuron_access_j" in fit.values


def test_sanafe_runs_recover_sanafe_constants():
    """The committed SANA-FE runs (scripts/sanafe_measurements.py): the fit lands on SANA-FE's
    loihi.yaml figures (= loihi2.toml's energy and latency sections). neurocc counts the
    events SANA-FE charges (a neuron update on the step the soma integrates a synaptic
    event, not the step it was sent), so every energy constant comes back exactly, the
    small ones (hops) included; with the update a step early, SANA-FE's energies sat
    0.02-0.4 % below the counts and the hop constants absorbed it (+10 %)."""
    fit = calibrate(SANAFE_RUNS, "tiny")          # the base's own values do not matter
    ref = load_hw("loihi2")
    for t in ENERGY_TERMS[:-1]:
        assert fit.values[f"energy.{t}"] == pytest.approx(getattr(ref.energy, t),
                                                          rel=1e-9), t
    assert "energy.chip_crossing_j" in fit.kept and "energy.static_power_w" in fit.kept
    assert fit.residuals["energy"]["max_abs_relative"] < 1e-12
    assert fit.residuals["latency"]["scale_of_per_event_latencies"] == pytest.approx(1, abs=5e-3)
    table = dict(map(tuple, fit.values["latency.barrier_s"]))
    for k, v in ref.latency.barrier_s:
        assert table[k] == pytest.approx(v, rel=0.01)


def test_the_committed_sanafe_file_is_what_the_script_makes():
    pytest.importorskip("sanafe")
    spec = importlib.util.spec_from_file_location("sm", ROOT / "scripts" /
                                                  "sanafe_measurements.py")
    sm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sm)
    fresh = sm.runs()
    committed = json.loads(SANAFE_RUNS.read_text())["runs"]
    assert [r["name"] for r in fresh] == [r["name"] for r in committed]
    for a, b in zip(fresh, committed):
        assert a["energy_j"] == pytest.approx(b["energy_j"], rel=1e-12)
        assert a["latency_s"] == pytest.approx(b["latency_s"], rel=1e-12)
        assert a["counts"] == pytest.approx(b["counts"], rel=1e-12)


def test_written_config_loads_compiles_and_costs_with_the_fitted_values(tmp_path):
    out = tmp_path / "my_chip.toml"
    res = write_calibrated(SANAFE_RUNS, "loihi2", out)
    hw = load_hw(out)
    assert hw.name == "loihi2-calibrated" == res["name"]
    assert hw.energy.synop_dense_j == res["fitted"]["energy.synop_dense_j"]
    src = hw.sources["energy.synop_dense_j"]
    assert src["source"].startswith("fitted by neurocc calibrate from sanafe_runs.json "
                                    "(16 runs, rms relative residual")
    assert not src["assumption"]
    kept = hw.sources["energy.chip_crossing_j"]["source"]
    assert kept.startswith("not fitted by neurocc calibrate") and "no run exercises" in kept
    assert hw.sources["energy.chip_crossing_j"]["assumption"]
    prog = synth.random_program(3, reset="zero", graded=False, extreme=False, hw=hw)
    r = run(prog, synth.random_input(3, prog, 8, 2))
    c = run_counts(r)
    assert r.estimate.dynamic_j == pytest.approx(
        sum(c["counts"][t] * getattr(hw.energy, t) for t in ENERGY_TERMS))
    from neurocc.models import digits
    assert neurocc.compile_nir(digits.NIR_PATH, hw=str(out), **digits.COMPILE).hw.name == \
        "loihi2-calibrated"


def test_pilotnet_summary_fixes_static_power_only(tmp_path):
    fit = calibrate(PILOTNET, "loihi2")
    assert fit.mode == "summary"
    assert fit.values == {"energy.static_power_w": pytest.approx((0.232078 + 0.281775) / 2)}
    assert fit.residuals["static"]["max_abs_relative"] == pytest.approx(0.0967, abs=1e-3)
    assert all(f"energy.{t}" in fit.kept for t in ENERGY_TERMS)
    assert "host I/O" in fit.kept["latency.*"]
    out = tmp_path / "pn.toml"
    write_calibrated(PILOTNET, "loihi2", out)
    hw = load_hw(out)
    assert hw.energy.static_power_w == pytest.approx(0.2569265)
    assert hw.energy.synop_dense_j == load_hw("loihi2").energy.synop_dense_j
    for k in LATENCY_TERMS:
        assert "not fitted" in hw.sources[f"latency.{k}"]["source"]
    # With neurocc's modelled dynamic energy for the same network, one dynamic scale.
    data = load_measurements(PILOTNET)
    data["runs"][0]["model_dynamic_j"] = 0.5e-3
    scaled = calibrate(data, "loihi2")
    s = scaled.residuals["energy"]["dynamic_scale"]
    assert s == pytest.approx(1.093544e-3 / 0.5e-3)
    assert scaled.values["energy.synop_dense_j"] == pytest.approx(s * 35.5e-12)


@pytest.mark.parametrize("text, match", [
    ("{", "is not readable JSON"),
    ('{"runs": []}', 'lacks "format": "neurocc-measurements/1"'),
    ('{"format": "neurocc-measurements/1", "runs": []}', "has no runs"),
    ('{"format": "neurocc-measurements/1", "runs": [{"counts": {"synops": 1}, '
     '"energy_j": 1}]}', "unknown count term\\(s\\) synops"),
    ('{"format": "neurocc-measurements/1", "runs": [{"counts": {"spike_out_j": -1}, '
     '"energy_j": 1}]}', "count spike_out_j = -1 must be a finite number >= 0"),
    ('{"format": "neurocc-measurements/1", "runs": [{"counts": {"spike_out_j": 1}}]}',
     "have counts but no energy_j"),
])
def test_bad_measurement_files_are_one_line_errors(tmp_path, text, match):
    p = tmp_path / "m.json"
    p.write_text(text)
    with pytest.raises(CalibrationError, match=match):
        calibrate(p, "loihi2")


def test_cli(tmp_path):
    out = tmp_path / "c.toml"
    cmd = [sys.executable, "-m", "neurocc", "calibrate", str(SANAFE_RUNS), "--hw", "loihi2",
           "-o", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "energy.synop_dense_j" in p.stdout and out.exists()
    bad = subprocess.run(cmd[:4] + [str(tmp_path / "none.json"), "-o", str(out)],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "does not exist" in bad.stderr
    held = subprocess.run(cmd + ["--hold", "bogus_j"], capture_output=True, text=True)
    assert held.returncode == 2 and "--hold bogus_j: not an energy constant" in held.stderr
