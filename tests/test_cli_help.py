"""A CLI that helps: every subcommand's help shows its defaults and an example; run --help
explains program, --backend and --json; inputs with swapped (steps, batch) axes are refused
in one line saying what to do (valid inputs still run); bash completion is valid bash."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

import neurocc
from neurocc.api.errors import InputError
from neurocc.cli.main import build_parser
from neurocc.models import zoo


def commands(parser, path=()):
    import argparse

    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                yield (*path, name), sub
                yield from commands(sub, (*path, name))


ALL = list(commands(build_parser()))


@pytest.mark.parametrize("path, parser", ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_subcommand_shows_an_example_and_its_defaults(path, parser):
    text = parser.format_help()
    assert "example" in text, f"neurocc {' '.join(path)} --help has no example"
    assert "neurocc " + path[0] in text.split("example")[-1]
    for a in parser._actions:
        if a.option_strings and a.default not in (None, False, [], "==SUPPRESS==") \
                and a.help and not isinstance(a.default, bool):
            assert "default" in (parser._get_formatter()._get_help_string(a)), a.dest


def test_run_help_explains_program_backend_and_json():
    text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    assert "compiled program file" in text
    for b in ("emulator (bit-exact", "lava (real Lava", "reference (float64"):
        assert b in " ".join(text.split()), b
    assert "output_spike_counts" in text and "(default: emulator)" in text


@pytest.fixture(scope="module")
def digits_x():
    zm = zoo.get("digits")
    x, y = zm.test_inputs()
    return zm, x[:, :20], y[:20]


def test_a_program_that_knows_its_steps_refuses_swapped_axes(digits_x):
    zm, x, _ = digits_x
    prog = neurocc.compile(str(zm.NIR_PATH), hw="loihi2", steps=8, **zm.COMPILE)
    with pytest.raises(InputError, match=r"input has shape \(20, 8, 1, 8, 8\): axis 1 has the "
                       r"program's 8 time steps.*x\.swapaxes\(0, 1\)"):
        prog.run(x.swapaxes(0, 1))
    assert prog.run(x).batch == 20                       # the right layout runs
    assert prog.run(x[:5]).steps == 5                    # other step counts still run
    plain = neurocc.compile(str(zm.NIR_PATH), hw="loihi2", **zm.COMPILE)
    assert plain.run(x.swapaxes(0, 1)).batch == 8        # no known steps: nothing to go by
    with pytest.raises(neurocc.NeuroccError, match="steps must be a whole number"):
        neurocc.compile(str(zm.NIR_PATH), hw="loihi2", steps=0, **zm.COMPILE)


def test_the_step_count_survives_save_and_load_and_the_cli_refuses(digits_x, tmp_path):
    zm, x, y = digits_x
    np.save(tmp_path / "xs.npy", x.swapaxes(0, 1))
    np.save(tmp_path / "y.npy", y)
    cli = [sys.executable, "-m", "neurocc"]
    p = subprocess.run([*cli, "compile", str(zm.NIR_PATH), "--steps", "8", "-o", "p.neurocc"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert neurocc.load(tmp_path / "p.neurocc").network.meta["steps"] == 8
    p = subprocess.run([*cli, "run", "p.neurocc", "--input", "xs.npy"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and "looks like (batch, steps)" in lines[0]


def test_labels_reveal_swapped_axes_in_check_and_report(digits_x, tmp_path):
    zm, x, y = digits_x
    from neurocc.reports.check import run_check
    from neurocc.reports.html import build_report

    np.save(tmp_path / "xs.npy", x.swapaxes(0, 1))
    np.save(tmp_path / "y.npy", y)
    zoo.export("digits", tmp_path / "m.nir")
    (tmp_path / "b.toml").write_text('model = "m.nir"\nhw = "loihi2"\ninputs = "xs.npy"\n'
                                     'labels = "y.npy"\n[budgets]\naccuracy_min = 0.1\n')
    with pytest.raises(InputError, match=r"there are 20 labels: axis 0 has the batch"):
        run_check(tmp_path / "b.toml")
    prog = neurocc.compile(str(zm.NIR_PATH), hw="loihi2", **zm.COMPILE)
    with pytest.raises(InputError, match=r"looks like \(batch, steps\)"):
        build_report(prog, x.swapaxes(0, 1), labels=y)


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completion_is_valid_bash_and_completes(tmp_path):
    p = subprocess.run([sys.executable, "-m", "neurocc", "completion", "bash"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    script = tmp_path / "neurocc.bash"
    script.write_text(p.stdout)
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0

    def complete(*words):
        probe = (f'source "{script}"; COMP_WORDS=({" ".join(repr(w) for w in words)}); '
                 'COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _neurocc; echo "${COMPREPLY[*]}"')
        return subprocess.run(["bash", "-c", probe], capture_output=True, text=True,
                              cwd=tmp_path).stdout.split()

    assert {"run", "check", "zoo", "completion"} <= set(complete("neurocc", ""))
    assert complete("neurocc", "zoo", "") == ["export", "list", "train", "--help", "-h"]
    assert complete("neurocc", "run", "--backend", "") == ["emulator", "reference", "lava",
                                                           "sanafe"]
    assert "--cores-max" in complete("neurocc", "check", "--co")
