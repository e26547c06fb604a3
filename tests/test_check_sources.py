"""``neurocc check``'s budget sources: options, a budgets file and ``[tool.neurocc]`` in the
nearest pyproject.toml, merged (options > file > pyproject); every budget says where it came
from; bad keys and types are one line naming the key, the file and the fix; the README's CI
job runs as written."""

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from neurocc.api.errors import InputError
from neurocc.reports.budgets import find_pyproject, load_budgets

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

PYPROJECT = """\
[project]
name = "my-snn"

[tool.neurocc]
model = "digits"
hw = "loihi2"
samples = 6

[tool.neurocc.budgets]
cores_max = 64
chips_max = 1
accuracy_min = 0.1
"""


def cli(*args, cwd):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
           f"{os.environ.get('PATH', '')}"}
    p = subprocess.run([sys.executable, "-m", "neurocc", *map(str, args)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def one_line(stderr: str) -> str:
    lines = [x for x in stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    return tmp_path, sub


def test_pyproject_is_found_from_a_subdirectory_and_other_pyprojects_are_skipped(project):
    root, sub = project
    (root / "src" / "pyproject.toml").write_text('[project]\nname = "inner"\n')
    assert find_pyproject(sub) == root / "pyproject.toml"
    spec = load_budgets(cwd=sub)
    assert spec.path == root / "pyproject.toml" and spec.name == root.name
    assert {b.key: v for b, v in spec.budgets} == {"cores_max": 64, "chips_max": 1,
                                                   "accuracy_min": 0.1}
    assert set(spec.origin.values()) == {"pyproject.toml"}
    assert find_pyproject(sub.parent.parent.parent) is None or \
        find_pyproject(sub.parent.parent.parent) != root / "pyproject.toml"


def test_options_beat_the_file_which_beats_pyproject(project, monkeypatch):
    root, sub = project
    (sub / "ci.toml").write_text('model = "digits"\nhw = "loihi1"\n\n[budgets]\n'
                                 "cores_max = 32\nlatency_per_inference_s_max = 1.0\n")
    monkeypatch.chdir(sub)
    spec = load_budgets(sub / "ci.toml", {"--cores-max": 16, "--hw": "loihi1,loihi2"},
                        ["spikes_per_inference_max=1e5"], cwd=sub)
    limits = {b.key: v for b, v in spec.budgets}
    assert limits == {"cores_max": 16, "chips_max": 1, "accuracy_min": 0.1,
                      "latency_per_inference_s_max": 1.0, "spikes_per_inference_max": 1e5}
    assert spec.origin == {"cores_max": "--cores-max", "chips_max": "pyproject.toml",
                           "accuracy_min": "pyproject.toml",
                           "latency_per_inference_s_max": "ci.toml",
                           "spikes_per_inference_max": "--budget spikes_per_inference_max"}
    assert spec.hw == ["loihi1", "loihi2"] and spec.samples == 6      # samples: pyproject
    assert spec.sources.index("--cores-max") < spec.sources.index("ci.toml") \
        < spec.sources.index("pyproject.toml")
    assert load_budgets(sub / "ci.toml", pyproject=False, cwd=sub).origin == {
        "cores_max": "ci.toml", "latency_per_inference_s_max": "ci.toml"}


def test_the_table_and_json_say_where_each_budget_came_from(project):
    root, sub = project
    code, out, err = cli("check", "--cores-max", "1", "--json", cwd=sub)
    assert code == 1, err
    rep = json.loads(out)
    src = {r["budget"]: r["source"] for r in rep["results"]}
    assert src == {"cores_max": "--cores-max", "chips_max": "pyproject.toml",
                   "accuracy_min": "pyproject.toml"}
    assert "cores_max" in one_line(err)
    code, out, err = cli("check", cwd=sub)
    assert code == 0, err
    assert re.search(r"cores_max .* PASS +pyproject\.toml", out), out
    assert "settings from pyproject.toml" in out
    code, out, err = cli("check", "--no-pyproject", cwd=sub)
    assert code == 2 and "no budgets" in one_line(err) and "--cores-max" in err


def test_options_alone_make_a_check(tmp_path):
    code, out, err = cli("check", "--model", "digits", "--hw", "loihi2", "--samples", "6",
                         "--chips-max", "1", "--agreement-min", "0.5", cwd=tmp_path)
    assert code == 0, err
    assert re.search(r"float_agreement_min .* PASS +--agreement-min", out), out
    code, out, err = cli("check", "--model", "digits", "--cores-max", "4", cwd=tmp_path)
    assert code == 2 and "missing 'hw'" in one_line(err) and "--hw" in err


BAD_PYPROJECT = [
    ('[tool.neurocc]\nmodel = "digits"\nhw = "loihi2"\ncores_max = 4\n',
     ["tool.neurocc.cores_max", "[tool.neurocc.budgets]", "pyproject.toml"]),
    ('[tool.neurocc]\nmodel = "digits"\nhw = "loihi2"\n[tool.neurocc.budgets]\ncores = 4\n',
     ["tool.neurocc.budgets.cores", "allowed", "cores_max", "pyproject.toml"]),
    ('[tool.neurocc]\nmodel = "digits"\nhw = "loihi2"\n[tool.neurocc.budgets]\n'
     'cores_max = "4"\n', ["tool.neurocc.budgets.cores_max", "finite number", "string"]),
    ('[tool.neurocc]\nmodel = "digits"\nhw = "loihi2"\nsamples = "all"\n'
     "[tool.neurocc.budgets]\ncores_max = 4\n", ["tool.neurocc.samples", "whole number"]),
    ('tool = { neurocc = 3 }\n', ["tool.neurocc", "must be a table"]),
    ('[tool.neurocc\n', ["pyproject.toml", "not valid TOML"]),
]


@pytest.mark.parametrize("text, words", BAD_PYPROJECT)
def test_bad_pyproject_tables_are_one_line_naming_key_and_file(tmp_path, text, words):
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(InputError) as e:
        load_budgets(cwd=tmp_path)
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg


@pytest.mark.parametrize("args, words", [
    (["--budget", "cores_max"], ["--budget cores_max", "KEY=VALUE"]),
    (["--budget", "cores_max=four"], ["--budget cores_max=four", "must be a number"]),
    (["--budget", "energy=1"], ["--budget energy", "unknown budget", "allowed"]),
    (["--cores-max", "-1"], ["--cores-max", "must be >= 0"]),
    (["--accuracy-min", "0.5", "--model", "retina"], ["--accuracy-min", "r2_min"]),
])
def test_bad_options_name_the_option(project, args, words):
    root, sub = project
    code, out, err = cli("check", *args, cwd=sub)
    line = one_line(err)
    assert code == 2 and out == ""
    for w in words:
        assert w in line, line


def test_a_file_key_of_the_wrong_type_names_the_file_not_pyproject(project):
    root, sub = project
    (sub / "ci.toml").write_text('hw = 4\n')
    with pytest.raises(InputError, match=r"budgets file '.*ci\.toml': 'hw' must be"):
        load_budgets(sub / "ci.toml", cwd=sub)


def _readme_ci() -> tuple[str, str, list[str]]:
    block = re.search(r"<!-- ci:start -->\n(.*?)<!-- ci:end -->", README.read_text(), re.S)[1]
    block = textwrap.dedent(block)
    toml = re.search(r"```toml\n(.*?)```", block, re.S)[1]
    yaml_text = re.search(r"```yaml\n(.*?)```", block, re.S)[1]
    import yaml

    steps = yaml.safe_load(yaml_text)["jobs"]["neurocc-check"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert runs[0].startswith("pip install"), runs
    return toml, runs[0], runs[1:]


def _install_as_the_snippet_does(install: str, target: Path) -> None:
    """The snippet's install line with its one placeholder, the repository's URL, pointed at
    this checkout: neurocc is built from git (the committed tree, as a CI runner gets it;
    the directory itself when there is no .git) into ``target``, without its dependencies,
    which this environment has, and without the network."""
    reqs = shlex.split(install)[2:]
    url = "git+https://github.com/OWNER/neurocc"
    assert reqs[0] == f"neurocc @ {url}", install
    for other in reqs[1:]:                   # the rest must be what this environment has
        assert importlib.util.find_spec({"scikit-learn": "sklearn"}.get(other, other)), other
    src = f"git+file://{ROOT}" if (ROOT / ".git").exists() else str(ROOT)
    p = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--no-build-isolation", "--target", str(target), src],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr


def test_readme_ci_job_runs_verbatim_and_fails_on_a_breach(tmp_path):
    toml, install, commands = _readme_ci()
    site = tmp_path / "site"
    _install_as_the_snippet_does(install, site)
    job = tmp_path / "job"
    job.mkdir()
    (job / "pyproject.toml").write_text(toml)
    env = {**os.environ, "PYTHONPATH": str(site),        # the installed copy, not this tree
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    where = subprocess.run([sys.executable, "-c", "import neurocc; print(neurocc.__file__)"],
                           cwd=job, env=env, capture_output=True, text=True, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(site), where
    for c in commands:                       # everything after the install, as written
        p = subprocess.run(["bash", "-ec", c], cwd=job, env=env, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, (c, p.stdout, p.stderr)
    root = ET.parse(job / "neurocc-check.xml").getroot()
    assert root.get("failures") == "0" and int(root.get("tests")) == 12
    # the same job with a budget the model breaks fails with exit 1, naming it
    (job / "pyproject.toml").write_text(toml.replace("cores_max = 4", "cores_max = 1"))
    p = subprocess.run(["bash", "-ec", commands[0]], cwd=job, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and "cores_max" in p.stderr
