"""Run the Lava worker in its own session and never leave anything behind.

Lava starts one OS process per Lava process (plus a shared-memory manager and Python's
resource tracker) and is known to hang instead of failing. The worker therefore runs as a
subprocess in a new session (its own process group). Whatever happens — success, error,
timeout, Ctrl-C in the caller — ``kill_group`` ends every process of that group: first
everything except the resource tracker, so that the tracker, once all its clients are
gone, unlinks the shared-memory blocks they leaked; then the tracker itself if it lingers.
Only the group's own processes are signalled, by process id.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from neurocc.api.errors import BackendError


def _stat(pid: int) -> tuple[str, int, int] | None:
    """``(state, ppid, pgrp)`` of a process from ``/proc``, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2])


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st and st[2] == pgid and st[0] not in ("Z", "X"):
                out.append(int(entry))
    return out


JOB_ENV = "NEUROCC_LAVA_JOB"
"""Set to the job directory in the worker's environment, which every process it starts
inherits (Lava's processes, the shared-memory manager, the resource tracker): it finds them
even if one left the process group."""


def job_processes(jobdir: Path | str) -> list[int]:
    """Live processes whose environment marks them as belonging to ``jobdir``'s run."""
    marker = f"{JOB_ENV}={jobdir}\0".encode()
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                env = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue
            st = _stat(int(entry))
            if marker in env and st and st[0] not in ("Z", "X"):
                out.append(int(entry))
    return out


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    end = time.monotonic() + timeout_s
    alive = list(pids)
    while alive and time.monotonic() < end:
        time.sleep(0.02)
        alive = [p for p in alive if (st := _stat(p)) and st[0] not in ("Z", "X")]
    return alive


def kill_group(proc: subprocess.Popen, jobdir: Path | str | None = None) -> int:
    """Kill every process in ``proc``'s session group (and every process marked with
    ``jobdir``) and reap ``proc``; returns how many processes had to be killed."""
    pgid = proc.pid

    def members() -> list[int]:
        found = set(group_members(pgid))
        if jobdir is not None:
            found.update(job_processes(jobdir))
        return sorted(found)

    killed: set[int] = set()
    end = time.monotonic() + 10.0
    # Kill until nothing but the resource tracker is left: a process forked while we scan
    # shows up on the next round, and once the worker is dead nothing forks any more.
    while time.monotonic() < end:
        others = [p for p in members() if "resource_tracker" not in cmdline(p)]
        if not others and proc.poll() is not None:
            break
        _signal(others, signal.SIGKILL)
        killed.update(others)
        time.sleep(0.02)
    if proc.poll() is None:  # pragma: no cover - SIGKILL cannot be ignored
        proc.kill()
        try:
            proc.wait(timeout=10)  # bounded: a process stuck in the kernel must not hang us
        except subprocess.TimeoutExpired:
            pass
    # The tracker exits by itself (after unlinking the shared memory its dead clients
    # leaked) once they are all gone; give it a moment, then make sure.
    left = _wait_gone(members(), 3.0)
    _signal(left, signal.SIGKILL)
    _wait_gone(left, 2.0)
    return len(killed | set(left))


LOADING = "importing Lava and loading the program"


def run_worker(jobdir: Path, timeout_s: float, progress: bool | None = None) -> None:
    """Run ``python -m neurocc.backends.lava.worker jobdir``; raise ``BackendError`` (one
    line) on failure or after ``timeout_s`` seconds, with the whole process tree killed.
    ``progress``: a bar of the worker's phases on stderr (a terminal only; see
    ``reports/progress.py``)."""
    from neurocc.backends.lava.worker import PHASES
    from neurocc.reports.progress import Progress

    with Progress(PHASES, "run lava", progress, unit="phases", eta=False) as bar:
        bar.update(0, LOADING)
        _run_worker(jobdir, timeout_s, bar)
        bar.update(PHASES, "done")


def _run_worker(jobdir: Path, timeout_s: float, bar) -> None:
    log = open(jobdir / "worker.log", "wb")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "neurocc.backends.lava.worker", str(jobdir)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore", JOB_ENV: str(jobdir)})
    except OSError as e:
        log.close()
        raise BackendError(f"cannot start the Lava worker: {e}") from None
    previous = _raise_on_sigterm()
    end = time.monotonic() + timeout_s
    actor_error = jobdir / "actor_error.txt"
    phases = jobdir / "phase"
    seen = 0
    try:
        while (rc := proc.poll()) is None:
            if bar.enabled:                      # follow the worker's phases; tick the clock
                names = phases.read_text().splitlines() if phases.exists() else []
                bar.update(len(names) - seen, names[-1] if names else LOADING)
                seen = len(names)
            if actor_error.exists():
                # A Lava process failed; Lava would now wait forever.
                kill_group(proc, jobdir)
                raise BackendError(f"Lava failed: {_first_line(actor_error)}")
            if time.monotonic() > end:
                n = kill_group(proc, jobdir)
                raise BackendError(
                    f"Lava did not finish within {timeout_s:g} s (timeout); killed its {n} "
                    "processes; raise --timeout for long runs, or check the program")
            time.sleep(0.05)
    finally:
        # Success, error, timeout, Ctrl-C or SIGTERM: nothing of the group survives.
        kill_group(proc, jobdir)
        log.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if rc != 0 or not (jobdir / "result.npz").exists():
        raise BackendError(f"Lava failed: {_failure_reason(jobdir, rc)}")


def _raise_on_sigterm():
    """Turn SIGTERM into ``SystemExit(143)`` while we wait (Python's default would end the
    process without running ``finally``, orphaning Lava's processes). Returns the previous
    handler, or None when not in the main thread (where signal handlers cannot be set)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, handler)


def _first_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[0] if lines else ""


def _failure_reason(jobdir: Path, rc: int) -> str:
    for name in ("actor_error.txt", "error.txt"):
        if line := _first_line(jobdir / name):
            return line
    try:
        lines = (jobdir / "worker.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    if rc < 0:
        return f"the worker was killed by signal {-rc}"
    return lines[-1] if lines else f"the worker exited with status {rc}"
