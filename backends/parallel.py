"""Samples split into chunks: every core of this machine, or a Dask cluster.

Samples of a batch never interact, so a run splits along the batch axis into chunks that
run independently and are put back together: spikes, membranes and liveness concatenated
along the batch axis, every activity total summed (integer counts in float64, so the sums
are exact in any order), every step's per-sample latency parts concatenated. The result is
identical to one process; ``tests/test_parallel.py`` checks it, on threads and on a Dask
``LocalCluster`` the test starts.

- Locally (``workers``, default: every core the process may use) the chunks run on
  threads, the calling one among them (``_share``), with a short GIL switch interval
  (``SWITCH_INTERVAL_S``): the emulator's compiled kernels release the GIL and numpy's
  products run in BLAS, which is held to one thread per chunk meanwhile
  (``threadpoolctl``, part of the ``fast`` extra), so chunks do not fight over the cores.
  Each chunk's trace is copied into the run's arrays as it ends (``base.TraceJoin``).
  Small runs stay in one thread:
  chunking pays only past ``MIN_NEURON_STEPS``; their BLAS is held to one thread too (on
  small products its threads cost more than they give: the digits split ran in 2.2× the
  time of one thread with them), as is ``workers=1``'s. Only a large run that cannot be
  split (one sample) leaves BLAS its threads.
- ``scheduler`` (``tcp://host:port``, or a ``distributed.Client``) sends the chunks to a Dask
  cluster (``pip install 'neurocc[cluster]'``), one per worker thread; the program is
  scattered to the workers once.
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

from neurocc.api.errors import BackendUnavailable, NeuroccError

CONNECT_TIMEOUT_S = 10
"""How long to try reaching a Dask scheduler before saying it cannot be reached."""
MIN_NEURON_STEPS = 1 << 21
"""Runs with fewer neuron-steps (samples × steps × neurons) stay in one thread: below this a
chunk's fixed cost (~0.7 ms of Python and small arrays on the digits model, much of it under
the GIL) outweighs what the second core gives. Measured on the digits model, medians of 30
alternated runs, one thread against two: 0.67× at 0.52 M neuron-steps, 0.84× at 0.84 M,
0.93× at 1.16 M, 1.24× at 2.32 M (the whole split)."""


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def plan_chunks(batch: int, neuron_steps: int, workers: int | None) -> int:
    """How many chunks to split a batch into locally: ``workers`` when given (at most one
    sample per chunk), otherwise every usable core when the run is large enough."""
    if workers is not None:
        if workers < 1:
            raise NeuroccError(f"workers must be at least 1, got {workers}")
        return max(1, min(workers, batch))
    if neuron_steps < MIN_NEURON_STEPS:
        return 1
    return max(1, min(usable_cores(), batch))


def split(batch: int, chunks: int) -> list[slice]:
    """Every chunk's samples, contiguous and in order, as slices (a chunk's input is then a
    view, not a copy), sized as ``np.array_split`` sizes them."""
    size, extra = divmod(batch, max(1, chunks))
    out, at = [], 0
    for k in range(max(1, chunks)):
        n = size + (k < extra)
        if n:
            out.append(slice(at, at + n))
        at += n
    return out


_controller: list = [None, -1]       # threadpoolctl's controller, and len(sys.modules) then


def blas_limit(threads: int | None):
    """A context holding BLAS (and OpenMP) to ``threads`` threads, or a no-op for None.

    threadpoolctl's ``threadpool_limits`` finds the loaded libraries anew on every call
    (0.2–0.5 ms, 3–7 % of a digits run); the controller is kept and found again only when
    modules were imported since (a new library may have come with them)."""
    if threads is None:
        return nullcontext()
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - without the fast extra: no BLAS limit
        return nullcontext()
    if _controller[0] is None or _controller[1] != len(sys.modules):
        _controller[:] = [ThreadpoolController(), len(sys.modules)]
    libs = getattr(_controller[0], "lib_controllers", None)
    if libs is None:  # pragma: no cover - a threadpoolctl without per-library controllers
        return _controller[0].limit(limits=threads)
    return _Limit(libs, threads)


class _Limit:
    """Each library held to ``threads`` threads while inside, and given back what it had:
    threadpoolctl's own ``limit`` asks every library for its whole state on the way in and
    out (under the GIL, before the chunks' threads can start: 40-80 µs of a digits run)."""

    def __init__(self, libs, threads: int):
        self.libs, self.threads, self.changed = libs, threads, []

    def __enter__(self):
        for lib in self.libs:
            before = lib.num_threads
            if before != self.threads:
                lib.set_num_threads(self.threads)
                self.changed.append((lib, before))
        return self

    def __exit__(self, *exc):
        for lib, before in reversed(self.changed):
            lib.set_num_threads(before)
        self.changed = []
        return False


def run_local(job, parts: list, chunks: int, blas_threads: int | None = 1) -> list:
    """``job(part)`` for every part on ``chunks`` threads, BLAS held to ``blas_threads``
    threads meanwhile (None: as BLAS likes; one chunk of a large run, where BLAS's own
    threads are the only parallelism left)."""
    with blas_limit(blas_threads):
        if chunks == 1 or threading.current_thread().name.startswith(_POOL_PREFIX):
            return [job(p) for p in parts]    # a chunk's own run: no waiting on its pool
        with _switching():
            return _share(job, parts, chunks)


def _share(job, parts: list, threads: int) -> list:
    """``job(part)`` for every part, in order, the parts taken one at a time by ``threads``
    threads: the calling thread and ``threads − 1`` of the pool (so no chunk waits for a pool
    thread to wake before the first can start: 0.1-0.2 ms on this machine)."""
    out: list = [None] * len(parts)
    left = iter(range(len(parts)))
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                i = next(left, None)
            if i is None:
                return
            out[i] = job(parts[i])

    helpers = [_pool(threads - 1).submit(work) for _ in range(min(threads, len(parts)) - 1)]
    try:
        work()
    finally:
        errors = [f.exception() for f in helpers]    # waits for every helper
    for e in errors:
        if e is not None:
            raise e
    return out


SWITCH_INTERVAL_S = 1e-4
"""Python's GIL switch interval while chunks run on threads (the default is 5 ms). A chunk
whose compiled kernel has ended waits for the GIL while another chunk runs Python between
its kernels; with a shorter interval it gets it sooner. Measured on the digits split, 60
runs each, alternated: median 5.76 ms at 5 ms, 5.47 ms at 0.1 ms, 5.58 ms at 0.02 ms. Only a
choice of speed; the interval is the process's, set while any run's chunks are running and
given back after."""
_switch = {"runs": 0, "before": None}
_switch_lock = threading.Lock()


class _switching:
    """``SWITCH_INTERVAL_S`` while inside (nested and concurrent runs share it)."""

    def __enter__(self):
        with _switch_lock:
            if _switch["runs"] == 0:
                _switch["before"] = sys.getswitchinterval()
                sys.setswitchinterval(min(SWITCH_INTERVAL_S, _switch["before"]))
            _switch["runs"] += 1
        return self

    def __exit__(self, *exc):
        with _switch_lock:
            _switch["runs"] -= 1
            if _switch["runs"] == 0:
                sys.setswitchinterval(_switch["before"])
        return False


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()
_POOL_PREFIX = "neurocc-chunk"


def _pool(threads: int) -> ThreadPoolExecutor:
    """A pool of ``threads`` threads kept for the process's next runs (starting and joining
    two threads cost about as much as a fifth of the digits split's run). Its threads are
    idle between runs and end with the process."""
    with _POOLS_LOCK:
        if threads not in _POOLS:
            _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix=_POOL_PREFIX)
        return _POOLS[threads]


def run_on_cluster(scheduler, fn, program, parts_for, on_done=None, **kwargs) -> list:
    """``fn(program, part, **kwargs)`` for every part of ``parts_for(chunks)`` on a Dask
    cluster (one chunk per worker thread), results in order; ``on_done(part)`` as each
    chunk finishes (a progress bar)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise BackendUnavailable(
            "running on a Dask cluster needs dask.distributed; install it with "
            "pip install 'neurocc[cluster]'") from None
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S) if own else scheduler
    except (OSError, TimeoutError, ValueError) as e:
        raise NeuroccError(f"could not reach the Dask scheduler at {scheduler}: {e}; check "
                           "the address (tcp://host:port) or run without --scheduler") from None
    try:
        workers = client.scheduler_info()["workers"].values()
        threads = max(1, sum(int(w.get("nthreads", 1)) for w in workers))
        prog = client.scatter(program, broadcast=True)
        parts = parts_for(threads)
        futures = [client.submit(fn, prog, p, pure=False, **kwargs) for p in parts]
        if on_done is not None:
            part_of = {f.key: p for f, p in zip(futures, parts)}
            for f in as_completed(futures):
                on_done(part_of[f.key])
        return client.gather(futures)
    finally:
        if own:
            client.close()
