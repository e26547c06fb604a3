"""Backends run a compiled program on a batch of inputs; ``run`` is the one entry point.

A backend implements ``simulate(program, x, record_state) -> Trace`` on integer input
payloads ``x`` of shape ``(steps_run, batch, n_in)`` (already padded for draining). ``run``
does everything around it the same way for every backend: input checks and encoding,
draining, aligning outputs to the input's time axis, and counting activity.

The registry is explicit and lazy: a backend's module (and its optional SDK) is imported only
when that backend is asked for. Only ``backends/lava`` imports Lava.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from neurocc.activity import Activity, ActivityCounter
from neurocc.compiler.ir import hop_depths
from neurocc.compiler.program import Program
from neurocc.errors import BackendUnavailable, InputError, NeuroccError

REGISTRY = {
    "emulator": ("neurocc.backends.emulator", "EmulatorBackend"),
    "reference": ("neurocc.backends.reference", "ReferenceBackend"),
    "lava": ("neurocc.backends.lava", "LavaBackend"),
}


@dataclass
class Trace:
    """What a backend produced. ``spikes``: group → ``(steps_run, B, n)`` bool, for every
    group. ``v``/``u``: group → ``(steps_run, B, n)`` in the backend's own units (integers for
    fixed point, model units for the reference), recorded when asked (``v`` always for
    non-spiking output groups). ``saturation``: group → counters, when the backend knows."""

    spikes: dict
    v: dict = field(default_factory=dict)
    u: dict = field(default_factory=dict)
    saturation: dict | None = None
    fixed_point: bool = True


class Backend(Protocol):
    name: str

    def simulate(self, program: Program, x: np.ndarray, record_state: bool) -> Trace: ...


def available() -> list[str]:
    return list(REGISTRY)


def get_backend(name: str, **options) -> Backend:
    if name not in REGISTRY:
        raise NeuroccError(f"unknown backend '{name}'; choose one of {', '.join(REGISTRY)}")
    module, cls = REGISTRY[name]
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise BackendUnavailable(
            f"backend '{name}' is not available: {e}; install it with "
            f"pip install 'neurocc[{name}]'") from None
    return getattr(mod, cls)(**options)


@dataclass
class RunResult:
    """One run. ``outputs``: output group → ``(steps, B, n)`` aligned to the input's time
    axis (spikes, or the membrane in model units for non-spiking readouts)."""

    backend: str
    program: Program
    steps: int
    batch: int
    steps_run: int
    outputs: dict
    trace: Trace
    activity: Activity
    wall_s: float

    @property
    def output_spike_counts(self) -> np.ndarray:
        """``(B, n_out)``: spikes of every spiking output neuron over the run (outputs
        concatenated in program order)."""
        parts = [self.outputs[o].sum(axis=0) for o in self.program.outputs
                 if self.program.group(o).spiking]
        return np.concatenate(parts, axis=1) if parts else np.zeros((self.batch, 0))

    @property
    def output_membranes(self) -> dict:
        return {o: self.outputs[o] for o in self.program.outputs
                if not self.program.group(o).spiking}


def encode_input(program: Program, x: np.ndarray) -> np.ndarray:
    """Check ``x`` ``(steps, batch, *input_shape)`` against the program and turn it into
    integer payloads ``(steps, batch, n_in)``: 0/1 spikes, or graded values rounded to
    ``round(x · scale)`` with the program's payload scale."""
    x = np.asarray(x)
    shape = tuple(program.input_shape)
    as_shaped = x.ndim == 2 + len(shape) and tuple(x.shape[2:]) == shape
    already_flat = x.ndim == 3 and x.shape[2] == int(np.prod(shape))   # (steps, batch, n_in)
    if not (as_shaped or already_flat):
        raise InputError(
            f"input has shape {x.shape}; the program expects (steps, batch, "
            f"{', '.join(map(str, shape))}) — time first, like snnTorch")
    if x.dtype.kind not in "biuf":
        raise InputError(f"input has dtype {x.dtype}; use numbers (bool, int or float)")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise InputError("input holds NaN or inf values")
    steps, batch = x.shape[:2]
    if steps < 1 or batch < 1:
        raise InputError(f"input has shape {x.shape}: it needs at least one step and one sample")
    flat = x.reshape(steps, batch, -1)
    enc = program.input_encoding
    if enc["kind"] == "spikes":
        if not np.all((flat == 0) | (flat == 1)):
            bad = flat[(flat != 0) & (flat != 1)].ravel()[0]
            raise InputError(
                f"input holds graded value {bad!r} but the program was compiled for binary "
                "spikes; encode it as 0/1 spikes or recompile with --graded-input MAX")
        return flat.astype(np.int64)
    lim = (1 << (enc["bits"] - 1)) - 1
    scale = enc["scale"]
    if np.max(np.abs(flat)) > enc["max"] * (1 + 1e-9):
        raise InputError(f"input magnitude {np.max(np.abs(flat)):g} exceeds the graded-input "
                         f"maximum {enc['max']:g} the program was compiled for")
    return np.clip(np.rint(flat * scale), -lim, lim).astype(np.int64)


def pad_drain(a: np.ndarray, depth: int) -> np.ndarray:
    """``a`` ``(steps, batch, n)`` followed by ``depth`` all-zero steps."""
    if not depth:
        return a
    return np.concatenate([a, np.zeros((depth, *a.shape[1:]), dtype=a.dtype)])


def payloads(program: Program, x: np.ndarray) -> np.ndarray:
    """What ``run`` feeds a fixed-point backend: ``encode_input`` plus the drain steps."""
    return pad_drain(encode_input(program, x), program.depth)


def run(program: Program, x: np.ndarray, backend: str | Backend = "emulator",
        drain: bool = True, record_state: bool = False, **options) -> RunResult:
    """Run ``x`` ``(steps, batch, *input_shape)`` on a backend and count what happened.

    With ``drain`` (the default) the network runs ``depth`` more steps with zero input, so
    every input step reaches the outputs; outputs are then aligned to the input's time axis
    (output step ``t`` is the response to input step ``t``).
    """
    be = get_backend(backend, **options) if isinstance(backend, str) else backend
    encoded = encode_input(program, x)
    steps, batch = encoded.shape[:2]
    depth = program.depth if drain else 0
    payload = pad_drain(encoded, depth)
    feed = payload
    if getattr(be, "wants_float_input", False):   # the float reference gets the raw input
        feed = pad_drain(np.asarray(x, dtype=np.float64).reshape(steps, batch, -1), depth)
    t0 = time.perf_counter()
    trace = be.simulate(program, feed, record_state)
    wall = time.perf_counter() - t0
    depths = hop_depths(program.network)
    outputs = {}
    for o in program.outputs:
        d = depths.get(o, 0) if drain else 0
        g = program.group(o)
        if g.spiking:
            outputs[o] = trace.spikes[o][d:d + steps]
        else:
            v = trace.v[o][d:d + steps].astype(np.float64)
            outputs[o] = v / g.v_scale[None, None, :] if trace.fixed_point else v
    counter = ActivityCounter(program, batch)
    for t in range(payload.shape[0]):
        counter.step(payload[t], {g.name: trace.spikes[g.name][t] for g in program.groups})
    return RunResult(backend=be.name, program=program, steps=steps, batch=batch,
                     steps_run=payload.shape[0], outputs=outputs, trace=trace,
                     activity=counter.result(), wall_s=wall)
