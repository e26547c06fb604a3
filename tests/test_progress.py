"""Progress bars: drawn on a terminal (a pseudo-terminal here) or when forced, never off a
terminal, never with --quiet, never on stdout; the bar's finer chunks change no result."""

import importlib.util
import json
import os
import pty
import select
import subprocess
import sys

import numpy as np
import pytest

import neurocc
from neurocc.models import zoo
from neurocc.reports import progress
from neurocc.reports.progress import PassClock, Progress


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The digits program and its whole test set: 2.3 M neuron-steps, enough to chunk
    (``parallel.MIN_NEURON_STEPS``)."""
    d = tmp_path_factory.mktemp("progress")
    zm = zoo.get("digits")
    prog = neurocc.compile(str(zm.NIR_PATH), hw="loihi2", **zm.COMPILE)
    prog.save(d / "d.neurocc")
    x, _ = zm.test_inputs()
    np.save(d / "x.npy", x)
    return d, prog, x


def run_on_pty(args, cwd, env_extra=None):
    """``neurocc ARGS`` with stderr on a pseudo-terminal and stdout on a pipe."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != progress.ENV}
    env.update(env_extra or {})
    p = subprocess.Popen([sys.executable, "-m", "neurocc", *map(str, args)], cwd=cwd,
                         stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                         env=env)
    os.close(slave)
    err = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:                      # the child closed the terminal
            break
        if not chunk:
            break
        err += chunk
    out = p.stdout.read().decode()
    p.wait(timeout=60)
    os.close(master)
    return p.returncode, out, err.decode(errors="replace")


def test_a_terminal_sees_a_run_bar_and_stdout_stays_clean_json(digits):
    d, _, x = digits
    code, out, err = run_on_pty(["run", "d.neurocc", "--input", "x.npy", "--json"], d)
    assert code == 0, err
    assert "run emulator" in err and f"{x.shape[1]}/{x.shape[1]} samples" in err
    assert "\r" in err and err.count("/360 samples") >= 3           # 0, some, all
    rep = json.loads(out)                                            # nothing else on stdout
    assert rep["batch"] == x.shape[1]


def test_quiet_or_no_terminal_draws_nothing(digits):
    d, _, _ = digits
    code, out, err = run_on_pty(["run", "d.neurocc", "--input", "x.npy", "--quiet"], d)
    assert code == 0 and "samples" not in err and "\r" not in err
    env = {k: v for k, v in os.environ.items() if k != progress.ENV}
    p = subprocess.run([sys.executable, "-m", "neurocc", "run", "d.neurocc", "--input",
                        "x.npy"], cwd=d, capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0 and p.stderr == ""                      # a pipe: unchanged
    assert "\r" not in p.stdout and "energy per inference" in p.stdout


def test_the_bar_cuts_finer_chunks_and_every_number_stays_the_same(digits, monkeypatch,
                                                                   capsys):
    _, prog, x = digits
    from neurocc.backends import parallel
    monkeypatch.setattr(parallel, "MIN_NEURON_STEPS", 1 << 19)     # parts of 2^19 or more
    monkeypatch.setenv(progress.ENV, "0")
    plain = prog.run(x, workers=1)
    monkeypatch.setenv(progress.ENV, "1")
    monkeypatch.setattr(progress, "REDRAW_S", 0.0)                  # draw every chunk
    shown = prog.run(x, workers=1)
    err = capsys.readouterr().err
    assert "run emulator" in err and err.count("samples") >= 3      # more than one chunk
    np.testing.assert_array_equal(plain.output_spike_counts, shown.output_spike_counts)
    assert plain.to_dict()["energy_breakdown_j"] == shown.to_dict()["energy_breakdown_j"]
    assert prog.run(x[:, :4], progress=False) is not None
    assert "run emulator" not in capsys.readouterr().err


def test_progress_rules(monkeypatch, capsys):
    monkeypatch.setenv(progress.ENV, "1")
    with Progress(3, "job", unit="epochs") as bar:
        bar.update(1, "first")
        bar.update(1)
    err = capsys.readouterr().err
    assert "job" in err and "0/3 epochs" in err and "first" in err
    assert err.endswith("\n")                                        # closed early: newline
    assert Progress(3, "off", enabled=False).enabled is False
    progress.set_quiet(True)
    try:
        assert Progress(3, "quiet").enabled is False
    finally:
        progress.set_quiet(False)
    monkeypatch.setenv(progress.ENV, "0")
    assert progress.enabled(True) is False
    monkeypatch.delenv(progress.ENV)
    assert progress.enabled() is False                               # captured: not a tty
    assert capsys.readouterr().err == ""


def test_a_terminal_sees_every_compiler_pass_with_its_time(digits):
    d, _, _ = digits
    code, out, err = run_on_pty(["compile", zoo.get("digits").NIR_PATH, "--hw", "loihi2",
                                 "-o", "p.neurocc"], d)
    assert code == 0, err
    from neurocc.compiler.passes.base import CompileOptions
    from neurocc.compiler.pipeline import default_pipeline
    from neurocc.hw_configs import load_hw

    names = default_pipeline(load_hw("loihi2"), CompileOptions()).names
    lines = [ln.rsplit("\r", 1)[-1] for ln in err.replace("\r\n", "\n").split("\n")]
    done = [ln.split()[1:-2] for ln in lines if ln.startswith("compile: ")]
    assert done == [["read", "+", names[0]]] + [[n] for n in names[1:]], err
    code, out, err = run_on_pty(["compile", zoo.get("digits").NIR_PATH, "--hw", "loihi2",
                                 "-o", "q.neurocc", "--quiet"], d)
    assert code == 0 and "compile:" not in err


def test_a_long_pass_is_redrawn_while_it_runs(monkeypatch, capsys):
    """The compile clock ticks through a pass (here 0.3 s, ticks every 0.05 s), ends each
    pass's line, draws nothing between passes, and ends a line an error left open."""
    import time
    from types import SimpleNamespace

    monkeypatch.setenv(progress.ENV, "1")
    slow, quick = SimpleNamespace(name="quantize"), SimpleNamespace(name="route")
    with PassClock(tick_s=0.05) as clock:
        clock.started(slow)
        time.sleep(0.3)
        clock(slow, None)
        time.sleep(0.2)                                  # between passes: nothing drawn
        clock.started(quick)
        time.sleep(0.12)
    err = capsys.readouterr().err
    first, rest = err.split("\n", 1)
    ticks = first.split("\r")[1:]
    assert len(ticks) >= 4 and all("read + quantize" in t for t in ticks), err
    times = [float(t.split()[-2]) for t in ticks]
    assert times == sorted(times) and times[-1] >= 0.3
    assert rest.strip("\r").startswith("compile: route") and rest.endswith("\n")
    with PassClock(enabled=False) as off:
        off.started(slow)
        time.sleep(0.1)
    assert capsys.readouterr().err == ""


@pytest.mark.lava
@pytest.mark.skipif(importlib.util.find_spec("lava") is None, reason="lava-nc not installed")
def test_a_lava_run_shows_its_phases_when_forced(digits):
    d, _, x = digits
    np.save(d / "small.npy", x[:, :2])
    env = {**os.environ, progress.ENV: "1"}
    p = subprocess.run([sys.executable, "-m", "neurocc", "run", "d.neurocc", "--input",
                        "small.npy", "--backend", "lava", "--json"], cwd=d, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "run lava" in p.stderr and "4/4 phases" in p.stderr
    assert "compiling and running" in p.stderr
    json.loads(p.stdout)
