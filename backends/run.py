"""``run``: one entry point for every backend — input checks and encoding, draining,
aligning outputs to the input's time axis, and counting activity."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from neurocc.api.errors import InputError, NeuroccError
from neurocc.backends import heap, parallel
from neurocc.backends.base import Backend, Trace, TraceJoin, concat_traces, get_backend
from neurocc.backends.inputs import join_inputs
from neurocc.compiler.ir.encoding import SpikeInput
from neurocc.cost.activity import Activity, ActivityCounter, merge_activity
from neurocc.cost.activity import prepare as prepare_counting
from neurocc.reports.progress import Progress


@dataclass(eq=False)
class RunResult:
    """One run. ``outputs``: output group → ``(steps, B, n)`` aligned to the input's time
    axis (spikes, or the membrane in model units for non-spiking readouts); ``activity``
    the counted events; ``estimate`` the energy and latency per inference they imply.
    ``to_dict()`` is the report ``neurocc run --json`` prints."""

    backend: str
    program: object
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
        concatenated in the model's order; a layer split into sub-populations is counted
        in its neurons' original order)."""
        parts = [self.outputs[o].sum(axis=0) for o, spiking in output_layers(self.program)
                 if spiking]
        return np.concatenate(parts, axis=1) if parts else np.zeros((self.batch, 0))

    @cached_property
    def estimate(self):
        """Energy (total, dynamic, static; per term, layer and core) and latency per
        inference: a ``neurocc.cost.energy.Estimate``."""
        from neurocc.cost.energy import estimate

        return estimate(self.program, self.activity)

    @property
    def energy_j(self) -> float:
        """Energy per inference (J), static included."""
        return self.estimate.energy_j

    @property
    def latency_s(self) -> float:
        """Latency per inference (s)."""
        return self.estimate.latency_s

    @property
    def spikes_per_layer(self) -> dict[str, float]:
        """Spikes per inference of every layer."""
        return {g.name: self.activity.total_spikes(g.name) / self.batch
                for g in self.program.groups}

    def to_dict(self, baseline: bool = False) -> dict:
        """The run report (``neurocc run --json``); ``baseline`` adds ``ann_baseline``: the
        same network as an ANN on CPU, GPU and an int8 accelerator (``run --baseline``)."""
        from neurocc.reports.run import run_report

        return run_report(self, baseline=baseline)

    @property
    def output_membranes(self) -> dict:
        return {o: self.outputs[o] for o, spiking in output_layers(self.program)
                if not spiking}


def output_layers(program) -> list[tuple[str, bool]]:
    """The model's output layers in order, ``(name, spiking)``: a layer the compiler split
    into sub-populations (``compiler/passes/subpopulations.py``) appears once, by its own
    name."""
    split = program.network.meta.get("subpopulations", {})
    part_of = {n: g for g, ps in split.items() for n, _ in ps}
    out, seen = [], set()
    for o in program.outputs:
        name = part_of.get(o, o)
        if name not in seen:
            seen.add(name)
            out.append((name, program.group(o).spiking))
    return out


def _reassemble(program, outputs: dict) -> dict:
    """Output arrays of split layers put back together in their neurons' original order."""
    split = program.network.meta.get("subpopulations", {})
    for g, ps in split.items():
        if not any(n in outputs for n, _ in ps):
            continue
        first = outputs[ps[0][0]]
        n = sum(len(idx) for _, idx in ps)
        whole = np.zeros((*first.shape[:2], n), dtype=first.dtype)
        for name, idx in ps:
            whole[:, :, np.asarray(idx, dtype=np.int64)] = outputs.pop(name)
        outputs[g] = whole
    return outputs


def encode_input(program, x: np.ndarray) -> np.ndarray:
    """Check ``x`` ``(steps, batch, *input_shape)`` against the program and turn it into
    integer payloads ``(steps, batch, n_in)``: 0/1 spikes (int8), or graded values rounded
    to ``round(x · scale)`` with the program's payload scale (int64). A dict of arrays by
    Input name is joined first (``backends/inputs.py``)."""
    x = join_inputs(program, x)
    try:
        x = np.asarray(x)
    except ValueError:
        raise InputError("input is ragged (rows of different lengths); give an array "
                         "(steps, batch, *input_shape)") from None
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
        bad = np.argwhere(~np.isfinite(x.reshape(x.shape[0], x.shape[1], -1)))
        t, b, i = (int(v) for v in bad[0])
        raise InputError(f"input holds {len(bad)} NaN or inf value(s), the first at step {t}, "
                         f"sample {b}, input {i}; replace them before running")
    steps, batch = x.shape[:2]
    if steps < 1 or batch < 1:
        raise InputError(f"input has shape {x.shape}: it needs at least one step and one sample")
    check_axes(program, x.shape)
    flat = x.reshape(steps, batch, -1)
    enc = program.input_encoding
    if isinstance(enc, SpikeInput):
        # (unsigned input cannot go below 0: one pass fewer for the usual uint8 spikes)
        if flat.dtype != np.bool_ and ((flat.dtype.kind != "u" and flat.min() < 0) or
                                       flat.max() > 1 or (flat.dtype.kind == "f" and not
                                                          np.all((flat == 0) | (flat == 1)))):
            bad = flat[(flat != 0) & (flat != 1)].ravel()[0]
            raise InputError(
                f"input holds graded value {bad!r} but the program was compiled for binary "
                "spikes; encode it as 0/1 spikes or recompile with --graded-input MAX")
        return flat.astype(np.int8)       # 0/1: the smallest exact payload
    lim = enc.payload_limit
    if np.max(np.abs(flat)) > enc.max * (1 + 1e-9):
        raise InputError(f"input magnitude {np.max(np.abs(flat)):g} exceeds the graded-input "
                         f"maximum {enc.max:g} the program was compiled for; scale the input down "
                         "or recompile with a larger --graded-input")
    return np.clip(np.rint(flat * enc.scale), -lim, lim).astype(np.int64)


def check_axes(program, shape: tuple, batch: int | None = None) -> None:
    """Refuse an input whose (steps, batch) axes look swapped, by one of two rules that
    never fire on a correctly laid-out input: the program knows its step count (compiled
    with ``steps``) and axis 1 has it while axis 0 does not; or the caller knows the batch
    (``batch``, e.g. from labels) and axis 0 has it while axis 1 does not."""
    known = (getattr(getattr(program, "network", None), "meta", None) or {}).get("steps")
    shown = tuple(int(d) for d in shape)
    fix = "swap them with x.swapaxes(0, 1) (neurocc wants (steps, batch, *input_shape), time " \
          "first like snnTorch)"
    if known is not None and shape[1] == known != shape[0]:
        raise InputError(f"input has shape {shown}: axis 1 has the program's {known} time "
                         f"steps, so it looks like (batch, steps); {fix}, or, if it really is "
                         f"{shape[0]} steps of {shape[1]} samples, compile without --steps")
    if batch is not None and shape[0] == batch != shape[1]:
        raise InputError(f"input has shape {shown} but there are {batch} labels: axis 0 has "
                         f"the batch, so it looks like (batch, steps); {fix}")


def pad_drain(a: np.ndarray, depth: int) -> np.ndarray:
    """``a`` ``(steps, batch, n)`` followed by ``depth`` all-zero steps."""
    if not depth:
        return a
    return np.concatenate([a, np.zeros((depth, *a.shape[1:]), dtype=a.dtype)])


def payloads(program, x: np.ndarray) -> np.ndarray:
    """What ``run`` feeds a fixed-point backend: ``encode_input`` plus the drain steps."""
    return pad_drain(encode_input(program, x), program.depth)


RECORD_LIMIT = 1 << 30
"""Bytes of spikes and liveness (one byte each per neuron, step and sample) above which
``record="auto"`` keeps only the output layers: a larger run streams, counting every event
block by block without holding every spike of every step."""
RECORDS = ("auto", "all", "outputs")
PROGRESS_PARTS = 20
"""At most this many sample chunks when a progress bar is shown (a step of 5 %)."""


def run(program, x: np.ndarray, backend: str | Backend = "emulator",
        drain: bool = True, record_state: bool = False, *, workers: int | None = None,
        scheduler=None, record: str = "auto", progress: bool | None = None,
        scheduled_latency: bool = False, **options) -> RunResult:
    """Run ``x`` ``(steps, batch, *input_shape)`` on a backend and count what happened.

    With ``drain`` (the default) the network runs ``depth`` more steps with zero input, so
    every input step reaches the outputs; outputs are then aligned to the input's time axis
    (output step ``t`` is the response to input step ``t``).

    Samples are split into chunks (``backends/parallel.py``; results identical to one
    chunk) for backends that allow it (emulator, reference): ``workers`` threads on this
    machine (default: every usable core once the run is large enough; 1 for one thread),
    or every worker thread of a Dask cluster given its ``scheduler`` address
    (``tcp://host:port``) or a ``distributed.Client``.

    ``record``: ``all`` keeps every layer's spikes in ``trace``; ``outputs`` only the output
    layers' (the emulator then counts every event block by block and forgets the rest:
    memory bounded by the block, not the run); ``auto`` (default) keeps all unless that
    would exceed ``RECORD_LIMIT``. Activity, energy and outputs are the same either way.

    ``progress``: a bar of samples done on stderr (``reports/progress.py``: on a terminal
    only, never with ``False`` or the CLI's ``--quiet``), for local emulator and reference
    runs large enough to chunk (``parallel.MIN_NEURON_STEPS``); the samples are then cut
    into up to ``PROGRESS_PARTS`` chunks of at least that size, so the bar moves. On a Dask
    cluster the bar moves as each worker's chunk comes back.

    ``scheduled_latency``: also time every step with every message in order, as SANA-FE's
    default ``detailed`` model does (``cost/schedule.py``; the estimate's
    ``latency_scheduled_s``, ``scheduled_per_inference_s`` in the report). Off by default:
    it visits every message (140–210 ns each, several times the rest of the counting).
    """
    if record not in RECORDS:
        raise NeuroccError(f"record must be one of {', '.join(RECORDS)}, got {record!r}")
    heap.steady()                            # no page faults for every run's arrays
    be = get_backend(backend, **options) if isinstance(backend, str) else backend
    x = join_inputs(program, x)
    encoded = encode_input(program, x)
    steps, batch = encoded.shape[:2]
    raw = None
    if getattr(be, "wants_float_input", False):   # the float reference gets the raw input
        raw = np.asarray(x, dtype=np.float64).reshape(steps, batch, -1)
    chunkable = getattr(be, "chunkable", False)
    if scheduler is not None and not chunkable:
        raise NeuroccError(f"backend '{be.name}' runs in one process; --scheduler works with "
                           "the emulator and the reference backends")
    neuron_steps = batch * (steps + program.depth) * max(program.n_neurons, 1)
    every = record == "all" or (record == "auto" and 2 * neuron_steps <= RECORD_LIMIT)
    keep = None if every or record_state else set(program.outputs)
    t0 = time.perf_counter()
    join = None                              # local chunks: their traces joined as they end
    if scheduler is not None:
        def parts_for(n):
            return [(encoded[:, i], None if raw is None else raw[:, i])
                    for i in parallel.split(batch, min(n, batch))]

        name = backend if isinstance(backend, str) else be.name
        with Progress(batch, f"run {be.name} on the cluster", progress,
                      unit="samples") as bar:
            chunks = parallel.run_on_cluster(scheduler, _remote_chunk, program, parts_for,
                                             on_done=lambda part: bar.update(
                                                 part[0].shape[1]),
                                             backend=name, options=options, drain=drain,
                                             record_state=record_state, keep=keep,
                                             scheduled=scheduled_latency)
    else:
        n = parallel.plan_chunks(batch, neuron_steps, workers) if chunkable else 1
        if n > 1:
            prepare_counting(program, scheduled_latency)   # once, before threads share it
        parts = parallel.split(batch, n)
        shown = chunkable and neuron_steps >= parallel.MIN_NEURON_STEPS
        bar = Progress(batch, f"run {be.name}", progress if shown else False, unit="samples")
        if bar.enabled:
            parts = parallel.split(batch, min(batch, max(n, min(
                PROGRESS_PARTS, neuron_steps // parallel.MIN_NEURON_STEPS))))

        join = TraceJoin(batch) if len(parts) > 1 else None

        def job(i):
            out = _chunk(program, be, encoded[:, i], None if raw is None else raw[:, i], drain,
                         record_state, keep, scheduled_latency)
            if join is not None:
                join.add(out[1], i)
            bar.update(i.stop - i.start)
            return out

        # one chunk of a large run that could not be split: BLAS's threads are all that
        # is left to parallelize (workers=1 asks for one thread)
        alone = n == 1 and workers is None and neuron_steps >= parallel.MIN_NEURON_STEPS
        with bar:
            chunks = parallel.run_local(job, parts, n, None if alone else 1)
    wall = time.perf_counter() - t0
    outputs, trace, activity = _merge(program, chunks, join)
    return RunResult(backend=be.name, program=program, steps=steps, batch=batch,
                     steps_run=steps + (program.depth if drain else 0), outputs=outputs,
                     trace=trace, activity=activity, wall_s=wall)


def _remote_chunk(program, part, backend: str, options: dict, drain: bool,
                  record_state: bool, keep=None, scheduled: bool = False):
    """One chunk on a Dask worker; the routes it was counted with stay behind (the caller's
    program has them)."""
    encoded, raw = part
    out = _chunk(program, get_backend(backend, **options), encoded, raw, drain, record_state,
                 keep, scheduled)
    out[2].routes = None
    return out


def _chunk(program, be, encoded, raw, drain: bool, record_state: bool, keep=None,
           scheduled: bool = False):
    """Simulate and count one chunk of samples: (outputs, trace, activity). With ``keep`` (a
    set of groups) a backend that can stream counts each block as it is made and keeps only
    those groups' spikes; ``scheduled`` also times every step message by message."""
    steps, batch = encoded.shape[:2]
    depth = program.depth if drain else 0
    # a chunk's samples come as a view of the whole batch: contiguous once padded (or here)
    payload = np.ascontiguousarray(pad_drain(encoded, depth))
    feed = payload if raw is None else np.ascontiguousarray(pad_drain(raw, depth))
    state = record_state or getattr(be, "traces_membrane_on_request", False)
    if keep is not None and getattr(be, "streams", False):
        counter = ActivityCounter(program, batch, schedule=scheduled)
        trace = be.simulate(program, feed, state, counter=counter, keep=keep)
        return _outputs(program, trace, steps, drain), trace, counter.result()
    trace = be.simulate(program, feed, state)
    outputs = _outputs(program, trace, steps, drain)
    counter = ActivityCounter(program, batch, schedule=scheduled)
    counter.count(payload, trace.spikes, trace.liveness([g.name for g in program.groups]),
                  trace.lists)
    trace.lists = None                       # counted: not kept with the result
    return outputs, trace, counter.result()


def _outputs(program, trace, steps: int, drain: bool) -> dict:
    """Output layers aligned to the input's time axis (split layers put back together)."""
    depths = program.hop_depths
    outputs = {}
    for o in program.outputs:
        d = depths.get(o, 0) if drain else 0
        g = program.group(o)
        if g.spiking:
            outputs[o] = trace.spikes[o][d:d + steps]
        else:
            v = trace.v[o][d:d + steps].astype(np.float64)
            outputs[o] = v / g.v_scale[None, None, :] if trace.fixed_point else v
    return _reassemble(program, outputs)


def _merge(program, chunks: list, join: TraceJoin | None = None):
    """Chunks (in sample order) put back together as one run (their traces already copied
    into ``join``'s arrays, when given)."""
    if len(chunks) == 1:
        outputs, trace, act = chunks[0]
    else:
        outputs = {k: np.concatenate([c[0][k] for c in chunks], axis=1) for k in chunks[0][0]}
        traces = [c[1] for c in chunks]
        trace = join.trace(traces) if join is not None else concat_traces(traces)
        act = merge_activity([c[2] for c in chunks])
    if act.routes is None:
        act.routes = program.routes
    return outputs, trace, act
