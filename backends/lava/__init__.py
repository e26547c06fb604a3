"""The Lava backend: every compiled program runs as real Lava 0.10 processes, spike for spike
equal to the emulator.

The caller's process never imports Lava. ``simulate`` saves the program and the payloads to
a temporary job directory and runs ``worker.py`` in a child process with a timeout
(``runner.py``); the worker builds the Lava process graph (``build.py``, with neurocc's own
process models in ``processes.py``), runs the whole batch in one Lava runtime
(time-multiplexed: sample ``b`` occupies Lava steps ``b·T + 1 … b·T + T``), and writes the
recordings back once.

``on_chip=True`` runs with ``Loihi2HwCfg`` on a Loihi 2 system; it needs Intel's
proprietary ``lava-loihi`` extension.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from neurocc.api.errors import BackendError, BackendUnavailable, NeuroccError
from neurocc.backends.base import Trace
from neurocc.compiler.artifact import save

if sys.version_info[:2] != (3, 10):
    raise ImportError(f"lava-nc 0.10 runs on Python 3.10 only, this is "
                      f"{sys.version_info[0]}.{sys.version_info[1]}")
if importlib.util.find_spec("lava") is None or importlib.util.find_spec("lava.magma") is None:
    raise ImportError("lava-nc is not installed (it needs Python 3.10)")


def loihi_installed() -> bool:
    """Whether Intel's lava-loihi extension (needed for ``Loihi2HwCfg``) is importable."""
    from lava.utils.loihi import is_installed

    return bool(is_installed())


class LavaBackend:
    """Runs programs as Lava processes in a child process.

    ``on_chip``: run on Loihi 2 hardware (``Loihi2HwCfg``) instead of the bit-accurate CPU
    models (``Loihi2SimCfg(select_tag="fixed_pt")``). ``timeout_s``: seconds before the run
    is abandoned and its processes killed.
    """

    name = "lava"
    traces_membrane_on_request = True
    """``run`` asks for every membrane (``record_state``): the energy model needs to know
    which were nonzero."""

    def __init__(self, on_chip: bool = False, timeout_s: float = 600.0):
        if timeout_s is None or not timeout_s > 0:
            raise NeuroccError(f"the Lava timeout must be a positive number of seconds, "
                               f"got {timeout_s!r}")
        self.on_chip = bool(on_chip)
        self.timeout_s = float(timeout_s)
        self.last_timings: dict = {}
        """Seconds spent in the last ``simulate``: ``total_s`` (everything), and from the
        worker ``import_and_load_s``, ``build_s``, ``compile_and_run_s``, ``stop_s``,
        ``read_back_s``, ``worker_s``; ``lava_steps`` = steps_run × batch."""

    def simulate(self, program, x: np.ndarray, record_state: bool = False) -> Trace:
        """``x``: int payloads ``(steps_run, batch, n_in)``; returns every group's spikes, ``v``
        of the non-spiking outputs, and u/v of every group with ``record_state``."""
        from neurocc.backends.lava.runner import run_worker
        from neurocc.compiler.targets.loihi.numerics import LAVA

        if getattr(program, "target", None) != "loihi":
            raise BackendUnavailable(f"the Lava backend runs Loihi programs; this program "
                                     f"targets '{getattr(program, 'target', '?')}'")
        if program.numerics != LAVA:
            diff = ", ".join(f"{k} {getattr(program.numerics, k)} (Lava: {getattr(LAVA, k)})"
                             for k in LAVA.field_names()
                             if getattr(program.numerics, k) != getattr(LAVA, k))
            raise BackendUnavailable(
                f"program for '{program.hw.name}' uses number formats Lava 0.10's models do "
                f"not implement: {diff}; run it on the emulator, which honours them, or "
                "compile for a config with Lava's widths")
        if self.on_chip and not loihi_installed():
            raise BackendUnavailable(
                "--on-chip needs Intel's lava-loihi extension, which is not installed; it is "
                "available to Intel Neuromorphic Research Community (INRC) members only "
                "(join via intel.com/neuromorphic) — run without --on-chip to use Lava's "
                "bit-accurate CPU models")
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[2] != program.n_inputs:
            raise BackendError(f"Lava backend: payloads have shape {x.shape}, expected "
                               f"(steps, batch, {program.n_inputs})")
        steps, batch = x.shape[:2]
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="neurocc-lava-") as tmp:
            job = Path(tmp)
            save(program, job / "program.npz")
            np.save(job / "x.npy", np.ascontiguousarray(x, dtype=np.int64))
            (job / "job.json").write_text(json.dumps(
                {"record_state": bool(record_state), "on_chip": self.on_chip}))
            run_worker(job, self.timeout_s)
            with np.load(job / "result.npz") as z:
                arrays = {k: z[k] for k in z.files}
            timings = job / "timings.json"
            self.last_timings = json.loads(timings.read_text()) if timings.exists() else {}
        self.last_timings["total_s"] = time.perf_counter() - t0
        spikes, v, u = {}, {}, {}
        for key, a in arrays.items():
            kind, name = key.split("/", 1)
            {"spikes": spikes, "v": v, "u": u}[kind][name] = a
        missing = [g.name for g in program.groups if g.name not in spikes]
        if missing:
            raise BackendError(f"Lava returned no spikes for {', '.join(missing)}")
        for g in program.groups:
            if spikes[g.name].shape != (steps, batch, g.n):
                raise BackendError(f"Lava returned spikes of shape {spikes[g.name].shape} "
                                   f"for '{g.name}', expected {(steps, batch, g.n)}")
        return Trace(spikes=spikes, v=v, u=u, saturation=None, fixed_point=True)


__all__ = ["LavaBackend", "loihi_installed"]
