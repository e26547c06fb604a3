"""The backend protocol, the trace a backend returns, and the explicit, lazy registry.

A backend implements ``simulate(program, x, record_state) -> Trace`` on integer input
payloads ``x`` of shape ``(steps_run, batch, n_in)`` (already padded for draining);
``backends/run.py`` does everything around it the same way for every backend. A backend's
module (and its optional SDK) is imported only when that backend is asked for; only
``backends/lava`` imports Lava. Adding a backend is a sub-package with a class following
``Backend`` and one line in ``REGISTRY``.
"""

from __future__ import annotations

import importlib
import sys
import threading
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from neurocc.api.errors import BackendUnavailable, NeuroccError

REGISTRY = {
    "emulator": ("neurocc.backends.emulator", "EmulatorBackend"),
    "reference": ("neurocc.backends.reference", "ReferenceBackend"),
    "lava": ("neurocc.backends.lava", "LavaBackend"),
    "sanafe": ("neurocc.backends.sanafe", "SanafeBackend"),
}


@dataclass
class Trace:
    """What a backend produced. ``spikes``: group → ``(steps_run, B, n)`` bool, for every
    group. ``v``/``u``: group → ``(steps_run, B, n)`` in the backend's own units (integers for
    fixed point, model units for the reference), recorded when asked (``v`` always for
    non-spiking output groups). ``saturation``: group → counters, when the backend knows.
    ``live``: group → ``(steps_run, B, n)`` bool, the membrane was nonzero before the step
    (what the energy model charges an update for), when the backend traces it; None for a
    group updated every step anyway (``LoihiGroup.always_updated``). ``lists``:
    group → ``(ptr, idx)``, its spikes listed row by row (rows step-major: ``t·B + b``;
    ``linalg.spike_lists``) where the backend listed them anyway, for the activity counter
    to read instead of listing them again; dropped once counted."""

    spikes: dict
    v: dict = field(default_factory=dict)
    u: dict = field(default_factory=dict)
    saturation: dict | None = None
    fixed_point: bool = True
    live: dict | None = None
    lists: dict | None = None

    def liveness(self, groups) -> dict | None:
        """``live``, or derived from ``v`` when every group's membrane was recorded (``v``
        before step t is ``v`` after step t − 1; every sample starts at rest)."""
        if self.live is not None:
            return self.live
        if not all(g in self.v for g in groups):
            return None
        out = {}
        for g in groups:
            v = self.v[g]
            live = np.zeros(v.shape, dtype=bool)
            live[1:] = v[:-1] != 0
            out[g] = live
        return out


_ARRAYS = ("spikes", "v", "u", "live")


class TraceJoin:
    """Chunks' traces copied into one trace's arrays as each chunk ends (``add``, from the
    chunk's own thread: the copies run beside the other chunks, not after them all), then
    put together as ``concat_traces`` would (``trace``)."""

    def __init__(self, batch: int):
        self.batch, self.arrays, self.lock = batch, {}, threading.Lock()

    def add(self, trace: Trace, rows: slice) -> None:
        for name in _ARRAYS:
            for k, a in (getattr(trace, name) or {}).items():
                if a is None:
                    continue
                with self.lock:
                    dst = self.arrays.get((name, k))
                    if dst is None:
                        dst = self.arrays[name, k] = np.empty(
                            (a.shape[0], self.batch, *a.shape[2:]), a.dtype)
                dst[:, rows] = a

    def trace(self, traces: list[Trace]) -> Trace:
        """The whole run's trace: every chunk ``add``-ed, ``traces`` in sample order."""
        return concat_traces(traces, lambda name, k: self.arrays[name, k])


def concat_traces(traces: list[Trace], joined=None) -> Trace:
    """Traces of consecutive chunks of samples as one (concatenated along the batch axis;
    saturation counters summed); ``joined(field, group)``: the arrays already put together
    (``TraceJoin``)."""
    first = traces[0]

    def cat(field):
        d = getattr(first, field)
        if d is None:
            return None
        return {k: None if d[k] is None else joined(field, k) if joined is not None else
                np.concatenate([getattr(t, field)[k] for t in traces], axis=1) for k in d}

    sat = None
    if all(t.saturation is not None for t in traces):
        sat = {g: {k: sum(t.saturation[g][k] for t in traces) for k in c}
               for g, c in first.saturation.items()}
    return Trace(spikes=cat("spikes"), v=cat("v"), u=cat("u"), saturation=sat,
                 fixed_point=first.fixed_point,
                 live=cat("live") if all(t.live is not None for t in traces) else None)


class Backend(Protocol):
    name: str

    def simulate(self, program, x: np.ndarray, record_state: bool) -> Trace: ...


def available() -> list[str]:
    """Names of every registered backend (installed or not)."""
    return list(REGISTRY)


def get_backend(name: str, **options) -> Backend:
    if name not in REGISTRY:
        raise NeuroccError(f"unknown backend '{name}'; choose one of {', '.join(REGISTRY)}")
    module, cls = REGISTRY[name]
    try:
        mod = sys.modules.get(module) or importlib.import_module(module)
    except ImportError as e:
        raise BackendUnavailable(
            f"backend '{name}' is not available: {e}; install it with "
            f"pip install 'neurocc[{name}]'") from None
    return getattr(mod, cls)(**options)
