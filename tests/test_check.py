"""``neurocc check``: the CI guard. Budgets files, exit codes (0 pass, 1 a budget fails,
3 does not fit, 2 bad budgets file), the table and the JUnit XML CI servers read."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import neurocc
from neurocc.api.errors import InputError
from neurocc.reports.check import parse_budgets, render_junit, render_table, run_check

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = 24

GENEROUS = """\
model = "digits"
hw = "loihi2"
samples = {samples}

[budgets]
accuracy_min = 0.5
energy_per_inference_j_max = 1e-3
dynamic_energy_per_inference_j_max = 1e-3
latency_per_inference_s_max = 1.0
cores_max = 64
chips_max = 1
spikes_per_inference_max = 1e5
emulator_vs_reference_rel_l1_max = 1.0
"""


def neurocc_cli(*args, cwd=None):
    p = subprocess.run([sys.executable, "-m", "neurocc", *map(str, args)], capture_output=True,
                       text=True, cwd=cwd, timeout=300)
    return p.returncode, p.stdout, p.stderr


def one_line(stderr: str, prefix: str = "neurocc: error: ") -> str:
    lines = [x for x in stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith(prefix), stderr
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def junit_cases(path: Path):
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    return root, [(s.get("name"), c) for s in root.iter("testsuite") for c in s.iter("testcase")]


def test_generous_budgets_pass_with_a_junit_report(tmp_path):
    b = write(tmp_path / "ci.toml", GENEROUS.format(samples=SAMPLES))
    code, out, err = neurocc_cli("check", b, "--junit", tmp_path / "out.xml")
    assert code == 0, err
    assert err == ""
    assert "PASS" in out and "energy_per_inference_j_max" in out and "wrote" in out
    root, cases = junit_cases(tmp_path / "out.xml")
    assert len(cases) == 8
    assert root.get("tests") == "8" and root.get("failures") == "0" and root.get("errors") == "0"
    assert not any(c.find("failure") is not None or c.find("error") is not None
                   for _, c in cases)
    assert {c.get("name") for _, c in cases} == {
        "accuracy_min", "energy_per_inference_j_max", "dynamic_energy_per_inference_j_max",
        "latency_per_inference_s_max", "cores_max", "chips_max", "spikes_per_inference_max",
        "emulator_vs_reference_rel_l1_max"}


def test_a_too_tight_budget_fails_with_exit_1_and_says_measured_and_limit(tmp_path):
    b = write(tmp_path / "tight.toml", 'model = "digits"\nhw = "loihi2"\nsamples = 8\n\n'
              "[budgets]\naccuracy_min = 0.1\nenergy_per_inference_j_max = 1e-12\n")
    code, out, err = neurocc_cli("check", b, "--junit", tmp_path / "j.xml", "--json")
    assert code == 1, err
    line = one_line(err, "neurocc: check failed: ")
    assert "energy_per_inference_j_max" in line and "accuracy_min" not in line
    rep = json.loads(out)
    assert rep["passed"] is False and rep["exit_code"] == 1
    (bad,) = [r for r in rep["results"] if r["status"] == "fail"]
    assert bad["budget"] == "energy_per_inference_j_max" and bad["margin"] < 0
    assert bad["measured"] > bad["limit"] == 1e-12
    root, cases = junit_cases(tmp_path / "j.xml")
    assert root.get("failures") == "1" and len(cases) == 2
    (failure,) = [c.find("failure") for _, c in cases if c.find("failure") is not None]
    msg = failure.get("message")
    assert "measured" in msg and "limit" in msg and "1 pJ" in msg
    assert repr(bad["measured"]) in failure.text and "1e-12" in failure.text


def test_several_hw_configs_give_test_cases_for_each(tmp_path):
    b = write(tmp_path / "multi.toml", 'name = "digits-ci"\nmodel = "digits"\n'
              'hw = ["loihi1", "loihi2"]\nsamples = 8\n\n'
              "[budgets]\ncores_max = 64\nenergy_per_inference_j_max = 1e-3\n")
    out = run_check(b)
    assert out["passed"] and out["exit_code"] == 0 and out["hw"] == ["loihi1", "loihi2"]
    e1, e2 = (c["measured"]["energy_per_inference_j"] for c in out["configs"])
    assert e1 != e2                            # the configs' costs, not one copied twice
    assert "loihi1" in render_table(out) and "loihi2" in render_table(out)
    root = ET.fromstring(render_junit(out))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["digits-ci.loihi1", "digits-ci.loihi2"]
    assert [len(s.findall("testcase")) for s in suites] == [2, 2]
    assert root.get("tests") == "4"


def test_a_config_that_does_not_fit_exits_3_with_junit_errors(tmp_path):
    tiny = (ROOT / "hw_configs" / "tiny.toml").read_text()
    small = tiny.replace("chips_per_system = { value = 4,", "chips_per_system = { value = 1,")
    small = small.replace("chip_mesh        = { value = [2, 2]", "chip_mesh        = { value = "
                          "[1, 1]")
    assert small != tiny
    write(tmp_path / "one_chip.toml", small)
    b = write(tmp_path / "fit.toml", 'model = "digits"\nhw = ["one_chip.toml", "loihi2"]\n'
              "samples = 4\n\n[budgets]\ncores_max = 64\n")
    code, out, err = neurocc_cli("check", b, "--junit", tmp_path / "fit.xml", cwd=ROOT)
    assert code == 3, err
    assert "chips" in one_line(err)
    root, cases = junit_cases(tmp_path / "fit.xml")
    assert root.get("errors") == "1" and len(cases) == 2
    assert [c.find("error") is not None for _, c in cases] == [True, False]


def test_a_nir_model_with_labels_is_scored_by_argmax(tmp_path):
    from neurocc.models import zoo

    digits = zoo.get("digits")
    x, y = digits.test_inputs()
    np.save(tmp_path / "x.npy", x[:, :10])
    np.save(tmp_path / "y.npy", y[:10])
    zoo.export("digits", tmp_path / "m.nir")
    b = write(tmp_path / "nir.toml", 'model = "m.nir"\ndt = 1e-4\nreset = "zero"\n'
              'hw = "loihi2"\ninputs = "x.npy"\nlabels = "y.npy"\n\n'
              "[budgets]\naccuracy_min = 0.0\n")
    out = run_check(b)
    prog = neurocc.compile(str(tmp_path / "m.nir"), hw="loihi2", **digits.COMPILE)
    expected = digits.score(prog.run(x[:, :10]), y[:10])["accuracy"]
    assert out["results"][0]["measured"] == pytest.approx(expected)
    assert out["samples"] == 10 and out["passed"]


BAD = [
    ('model = "digits"\nhw = "loihi2"\nfoo = 1\n[budgets]\ncores_max = 1\n',
     ["unknown key 'foo'", "allowed", "samples"]),
    ('model = "digits"\nhw = "loihi2"\n[budgets]\nenergy_max = 1\n',
     ["budgets.energy_max", "allowed", "energy_per_inference_j_max"]),
    ('model = "digits"\nhw = "loihi2"\n[budgets]\ncores_max = "four"\n',
     ["budgets.cores_max", "must be a finite number", "string"]),
    ('model = "digits"\nhw = "loihi2"\nsamples = 2.5\n[budgets]\ncores_max = 1\n',
     ["'samples'", "whole number"]),
    ('model = "digits"\nhw = ["loihi2", 7]\n[budgets]\ncores_max = 1\n', ["'hw'", "integer"]),
    ('model = "digits"\nhw = "loihi9"\n[budgets]\ncores_max = 1\n', ["loihi9", "loihi2"]),
    ('model = "digits"\nhw = "loihi2"\ndt = 1e-3\n[budgets]\ncores_max = 1\n',
     ["'dt'", ".nir model only"]),
    ('model = "missing.nir"\nhw = "loihi2"\ninputs = "x.npy"\n[budgets]\ncores_max = 1\n',
     ["missing.nir", "does not exist"]),
    ('model = "digits"\nhw = "loihi2"\n', ["[budgets]", "accuracy_min"]),
    ('model = "digits"\nhw = "loihi2"\n[budgets]\nr2_min = 0.5\n', ["r2_min", "accuracy_min"]),
    ('model = "digits"\nhw = "loihi2"\n[budgets\n', ["not valid TOML"]),
]


@pytest.mark.parametrize("text, words", BAD)
def test_bad_budgets_files_are_refused_naming_the_key(tmp_path, text, words):
    b = write(tmp_path / "bad.toml", text)
    with pytest.raises(InputError) as e:
        parse_budgets(b)
    msg = str(e.value)
    assert "\n" not in msg and "bad.toml" in msg
    for w in words:
        assert w in msg, msg


def test_the_cli_refuses_bad_budgets_with_exit_2_and_one_line(tmp_path):
    b = write(tmp_path / "bad.toml", BAD[1][0])
    code, out, err = neurocc_cli("check", b, "--junit", tmp_path / "never.xml")
    assert code == 2 and out == ""
    assert "budgets.energy_max" in one_line(err)
    assert not (tmp_path / "never.xml").exists()
    code, _, err = neurocc_cli("check", tmp_path / "absent.toml")
    assert code == 2 and "does not exist" in one_line(err)
    ok = write(tmp_path / "ok.toml", GENEROUS.format(samples=2))
    code, _, err = neurocc_cli("check", ok, "--junit", tmp_path / "no_dir" / "j.xml")
    assert code == 2 and "no_dir" in one_line(err)


def test_version_and_help_list_every_command():
    code, out, err = neurocc_cli("--version")
    assert code == 0 and out.strip() == f"neurocc {neurocc.__version__}"
    code, out, _ = neurocc_cli("--help")
    assert code == 0
    for cmd in ("demo", "compile", "run", "info", "diff", "hw", "zoo", "check"):
        assert any(line.split()[:1] == [cmd] and len(line.split()) > 1
                   for line in out.splitlines()), cmd
    assert "--version" in out
