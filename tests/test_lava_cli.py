"""The Lava backend through the CLI: same report and arrays as the emulator, one-line errors,
``neurocc diff``, and no process left behind after a failure, a timeout or Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lava.magma", reason="lava-nc is not importable (it needs Python 3.10)")

from neurocc.backends.lava import loihi_installed  # noqa: E402
from neurocc.compiler.artifact import save  # noqa: E402
from neurocc.compiler.ir import Dense  # noqa: E402

import synth  # noqa: E402

pytestmark = pytest.mark.lava


def neurocc(*args, env=None, timeout=600):
    p = subprocess.run([sys.executable, "-m", "neurocc", *map(str, args)], capture_output=True,
                       text=True, timeout=timeout, env={**os.environ, **(env or {})})
    return p.returncode, p.stdout, p.stderr


def one_line_error(stderr: str) -> str:
    lines = [x for x in stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and lines[0].startswith("neurocc: error: ")
    return lines[0]


def lava_processes(tmpdir) -> list[str]:
    """Live (non-zombie) processes of Lava runs whose job directory is under ``tmpdir``: the
    worker carries the job directory in its command line, and it and everything it starts
    (Lava's processes, the shared-memory manager, the resource tracker) in the environment
    variable NEUROCC_LAVA_JOB."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            env = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        ours = f"NEUROCC_LAVA_JOB={tmpdir}" in env or f"lava.worker {tmpdir}" in cmd
        if ours and stat[stat.rindex(")") + 2] not in "ZX":
            found.append(f"{pid}: {cmd}")
    return found


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A compiled program with conv, pooling, dense and a recurrent layer that spikes, and an
    input batch of 3 samples."""
    d = tmp_path_factory.mktemp("lava_cli")
    prog = synth.random_program(11, conv=True, recurrent=True, readout=True, reset="subtract",
                                graded=False, n_layers=2, max_neurons=12)
    save(prog, d / "p.neurocc")
    np.save(d / "x.npy", synth.random_input(11, prog, 8, 3, rate=0.4))
    return d


def test_run_json_and_arrays_same_as_emulator(files):
    reports, arrays = {}, {}
    for be in ("emulator", "lava"):
        code, out, err = neurocc("run", files / "p.neurocc", "--input", files / "x.npy",
                                 "--backend", be, "--json", "-o", files / f"{be}.npz")
        assert code == 0, err
        reports[be] = json.loads(out)
        arrays[be] = dict(np.load(files / f"{be}.npz"))
    emu, lava = reports["emulator"], reports["lava"]
    assert (emu["backend"], lava["backend"]) == ("emulator", "lava")
    assert emu["spikes"] > 0
    for rep in (emu, lava):
        del rep["backend"], rep["wall_s"]
        for layer in rep["layers"]:
            layer.pop("saturation")       # the emulator's own counters; Lava does not count
    assert lava == emu
    assert arrays["lava"].keys() == arrays["emulator"].keys()
    for k in arrays["emulator"]:
        np.testing.assert_array_equal(arrays["lava"][k], arrays["emulator"][k], err_msg=k)


def test_diff_says_identical(files):
    code, out, err = neurocc("diff", files / "p.neurocc", "--input", files / "x.npy",
                             "--a", "emulator", "--b", "lava")
    assert code == 0, err
    assert out.startswith("identical: emulator and lava agree on spikes, v, u at every step")


@pytest.mark.skipif(loihi_installed(), reason="lava-loihi is installed here")
def test_on_chip_without_extension_is_one_line_exit_2(files):
    code, _, err = neurocc("run", files / "p.neurocc", "--input", files / "x.npy",
                           "--backend", "lava", "--on-chip")
    assert code == 2
    line = one_line_error(err)
    assert "lava-loihi" in line and "INRC" in line


def test_program_lava_cannot_represent_fails_cleanly(files, tmp_path):
    prog = synth.random_program(3, conv=False, n_layers=1, extreme=False)
    p = prog.projections[0]
    w = np.asarray(p.conn.to_dense()).copy()
    w[0, 0] = 3                                    # odd weight in a mixed-sign layer
    save(replace(prog, projections=(replace(p, conn=Dense(w), sign_mode="mixed"),
                                    *prog.projections[1:])), tmp_path / "bad.neurocc")
    np.save(tmp_path / "x.npy", synth.random_input(0, prog, 4, 2))
    code, _, err = neurocc("run", tmp_path / "bad.neurocc", "--input", tmp_path / "x.npy",
                           "--backend", "lava", env={"TMPDIR": str(tmp_path)})
    assert code == 1
    assert "Lava failed: ProgramNotLavaExact" in one_line_error(err)
    assert lava_processes(tmp_path) == []


FAULT = """
import os
if os.environ.get("NEUROCC_TEST_FAULT"):
    from neurocc.backends.lava import processes as _p
    _run = _p.PyNcLifModel.run_spk
    def run_spk(self):
        if self.time_step == 3:
            raise RuntimeError("injected fault")
        _run(self)
    _p.PyNcLifModel.run_spk = run_spk
"""


def test_error_inside_a_lava_process_fails_fast_and_leaves_nothing(files, tmp_path):
    """Lava itself would hang forever after a process raises; the backend reports the error
    at once and kills every process. The fault is injected with a ``sitecustomize``."""
    (tmp_path / "inject").mkdir()
    (tmp_path / "inject" / "sitecustomize.py").write_text(FAULT)
    env = {"TMPDIR": str(tmp_path), "NEUROCC_TEST_FAULT": "1",
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "inject"),
                                          os.environ.get("PYTHONPATH", "")])}
    t0 = time.monotonic()
    code, _, err = neurocc("run", files / "p.neurocc", "--input", files / "x.npy",
                           "--backend", "lava", "--timeout", "300", env=env)
    assert code == 1
    line = one_line_error(err)
    assert "Lava failed: PyNcLifModel" in line and "injected fault" in line
    assert time.monotonic() - t0 < 120
    assert lava_processes(tmp_path) == []


@pytest.fixture(scope="module")
def long_input(files):
    """Enough samples to keep Lava busy for minutes."""
    x = np.load(files / "x.npy")
    np.save(files / "long.npy", np.tile(x, (1, 400) + (1,) * (x.ndim - 2)))
    return files / "long.npy"


def test_timeout_kills_every_process(files, long_input, tmp_path):
    code, _, err = neurocc("run", files / "p.neurocc", "--input", long_input,
                           "--backend", "lava", "--timeout", "8", env={"TMPDIR": str(tmp_path)})
    assert code == 1
    assert "did not finish within 8 s (timeout)" in one_line_error(err)
    assert lava_processes(tmp_path) == []


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_kills_every_process(files, long_input, tmp_path, sig, status):
    # A shell started in the background (nohup, CI runners) ignores SIGINT and its children
    # inherit that; give neurocc the default disposition a terminal's Ctrl-C would meet.
    p = subprocess.Popen([sys.executable, "-m", "neurocc", "run", str(files / "p.neurocc"),
                          "--input", str(long_input), "--backend", "lava"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "TMPDIR": str(tmp_path)},
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        end = time.monotonic() + 120
        while len(lava_processes(tmp_path)) < 5:   # Lava's processes run
            assert time.monotonic() < end and p.poll() is None
            time.sleep(0.2)
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == status, err
    assert sig != signal.SIGINT or "interrupted" in err
    assert lava_processes(tmp_path) == []
