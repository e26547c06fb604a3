"""The child process that runs Lava: ``python -m neurocc.backends.lava.worker JOBDIR``.

``JOBDIR`` holds ``program.npz`` (a saved program), ``x.npy`` (int payloads
``(steps_run, batch, n_in)``) and ``job.json`` (``record_state``, ``on_chip``). On success the
worker writes ``result.npz`` (see ``build.run_program``); on failure ``error.txt`` with one
line. It always leaves with ``os._exit``: after an error Lava's own processes may still be
alive, and a normal interpreter exit would wait for them forever. The parent kills the
whole process group afterwards in any case.

Lava's compiler imports every module in this directory while it looks for process models,
so nothing here may run at import time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
import traceback


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def _watch_parent(parent: int, jobdir: str) -> None:
    """If our caller dies without cleaning up (e.g. SIGKILL), end Lava's processes and
    ourselves instead of leaving them hanging. The resource tracker is spared: it unlinks
    the shared memory the others leaked, then exits by itself."""
    from neurocc.backends.lava.runner import cmdline, group_members

    while os.getppid() == parent:
        time.sleep(0.5)
    me = os.getpid()
    for pid in group_members(os.getpgid(0)):
        if pid != me and "resource_tracker" not in cmdline(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    shutil.rmtree(jobdir, ignore_errors=True)
    os._exit(3)


def _report(jobdir: str, name: str, line: str) -> None:
    """Write a one-line report once (the first error wins)."""
    try:
        with open(os.path.join(jobdir, name), "x") as f:
            f.write(line + "\n")
    except OSError:
        pass


def _report_lava_process_errors(jobdir: str) -> None:
    """Lava hangs when one of its processes raises: the process tells the runtime and waits,
    and the runtime waits for the step to finish. Make every Lava process write its first
    error to ``actor_error.txt`` so that the caller can stop at once with that message
    instead of waiting for the timeout. (The worker is a dedicated process, so patching
    Lava's classes here affects nothing else; its processes are forked from here.)"""
    from lava.magma.core.model.py.model import PyLoihiProcessModel
    from lava.magma.runtime.message_infrastructure.multiprocessing import SystemProcess

    def guard(fn, where):
        def guarded(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as e:
                _report(jobdir, "actor_error.txt", f"{where(args)}: {_one_line(e)}")
                raise
        return guarded

    def model_name(args):
        model = args[0]
        proc = getattr(model, "proc_params", None) or {}
        name = proc.get("name") if hasattr(proc, "get") else None
        return f"{type(model).__name__}" + (f" ('{name}')" if name else "") + \
            f" at time step {getattr(model, 'time_step', '?')}"

    PyLoihiProcessModel._spike = guard(PyLoihiProcessModel._spike, model_name)
    run = SystemProcess.run

    def run_guarded(self):
        self._target = guard(self._target, lambda args: "a Lava process")
        run(self)

    SystemProcess.run = run_guarded


PHASES = 4
"""Phases the worker reports in ``JOBDIR/phase`` (one line each, appended): the parent's
progress bar (``runner.run_worker``) follows them."""


def _phase(jobdir: str, name: str) -> None:
    with open(os.path.join(jobdir, "phase"), "a") as f:
        f.write(name + "\n")


def main(jobdir: str) -> int:
    t0 = time.perf_counter()
    threading.Thread(target=_watch_parent, args=(os.getppid(), jobdir), daemon=True).start()
    try:
        import numpy as np

        from neurocc.backends.lava.build import run_program
        from neurocc.compiler.artifact import load

        _report_lava_process_errors(jobdir)
        with open(os.path.join(jobdir, "job.json")) as f:
            job = json.load(f)
        program = load(os.path.join(jobdir, "program.npz"))
        x = np.load(os.path.join(jobdir, "x.npy"), allow_pickle=False)
        timings = {"import_and_load_s": time.perf_counter() - t0}
        _phase(jobdir, "building the Lava process graph")
        out = run_program(program, x, bool(job["record_state"]), jobdir,
                          on_chip=bool(job.get("on_chip", False)), timings=timings,
                          phase=lambda name: _phase(jobdir, name))
        tmp = os.path.join(jobdir, "result.tmp.npz")
        np.savez(tmp, **out)
        os.replace(tmp, os.path.join(jobdir, "result.npz"))
        timings["worker_s"] = time.perf_counter() - t0
        with open(os.path.join(jobdir, "timings.json"), "w") as f:
            json.dump(timings, f)
        return 0
    except BaseException as e:  # noqa: BLE001 - report anything, then leave
        traceback.print_exc()
        _report(jobdir, "error.txt", _one_line(e))
        return 1


if __name__ == "__main__":
    code = main(sys.argv[1])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
