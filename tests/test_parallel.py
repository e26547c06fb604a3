"""Samples split into chunks — threads here, or a Dask cluster — give exactly the run of one
chunk: outputs, every trace, every activity count, energy and latency."""

import numpy as np
import pytest

from neurocc.api.errors import NeuroccError
from neurocc.backends import parallel, run
from neurocc.compiler.pipeline import compile_nir
from neurocc.models.digits import NIR_PATH, data

from synth import random_input, random_program


def assert_same_run(a, b):
    assert a.batch == b.batch and a.steps_run == b.steps_run
    for k in a.outputs:
        np.testing.assert_array_equal(a.outputs[k], b.outputs[k])
    for field in ("spikes", "v", "u", "live"):
        x, y = getattr(a.trace, field), getattr(b.trace, field)
        if x is None or y is None:             # the reference does not trace liveness
            assert x is None and y is None
            continue
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k], err_msg=f"{field} {k}")
    assert a.trace.saturation == b.trace.saturation
    A, B = a.activity, b.activity
    for f in ("spikes", "synops", "active_updates"):
        for k in getattr(A, f):
            np.testing.assert_array_equal(getattr(A, f)[k], getattr(B, f)[k])
    for f in ("input_events", "input_per_channel", "core_work", "link_load"):
        np.testing.assert_array_equal(getattr(A, f), getattr(B, f))
    np.testing.assert_array_equal(np.stack(A.step_parts), np.stack(B.step_parts))
    da, db = a.to_dict(), b.to_dict()
    da.pop("wall_s"), db.pop("wall_s")
    assert da == db                            # energy, latency, per layer and core


@pytest.mark.parametrize("seed", range(6))
def test_chunks_on_threads_equal_one_chunk(seed):
    prog = random_program(seed)                # recurrent and graded programs included
    x = random_input(seed, prog, steps=5, batch=7)
    one = run(prog, x, workers=1, record_state=True)
    assert_same_run(one, run(prog, x, workers=3, record_state=True))   # uneven chunks
    assert_same_run(one, run(prog, x, workers=7, record_state=True))   # one sample each


def test_reference_backend_chunks_too():
    prog = random_program(11, extreme=False)
    x = random_input(11, prog, steps=4, batch=5)
    assert_same_run(run(prog, x, "reference", workers=1), run(prog, x, "reference", workers=2))


def test_process_state_given_back_after_chunked_runs():
    """Chunks on threads shorten the GIL's switch interval and hold BLAS to one thread while
    they run; both are the process's, and come back as they were, nested runs included."""
    import sys

    import threadpoolctl

    before = sys.getswitchinterval()
    blas = [lib.num_threads for lib in threadpoolctl.ThreadpoolController().lib_controllers]
    prog = random_program(3, extreme=False)
    x = random_input(3, prog, steps=3, batch=4)
    inner = []

    def job(part):
        inner.append(sys.getswitchinterval())
        return run(prog, x, workers=2).output_spike_counts    # a run inside a chunk

    parallel.run_local(job, [0, 1], 2)
    assert inner and max(inner) <= parallel.SWITCH_INTERVAL_S
    assert sys.getswitchinterval() == before
    assert [lib.num_threads for lib in
            threadpoolctl.ThreadpoolController().lib_controllers] == blas


def test_what_a_run_caches_on_the_program_is_not_sent_to_workers():
    """A run leaves its caches on the program (weights, tables, synapse blocks, plans); a
    program pickled for a cluster's workers carries none of them."""
    import pickle

    prog = random_program(4, extreme=False)
    run(prog, random_input(4, prog, steps=3, batch=2))
    cached = [k for k in prog.__dict__ if k.startswith(("_emulator_", "_activity_"))]
    assert cached and set(cached) <= set(prog.RUN_CACHES)
    sent = pickle.loads(pickle.dumps(prog))
    assert not set(sent.__dict__) & set(prog.RUN_CACHES)


def test_every_core_by_default_once_the_run_is_large():
    assert parallel.plan_chunks(360, 2_300_000, None) == min(parallel.usable_cores(), 360)
    assert parallel.plan_chunks(4, 1000, None) == 1          # small: one thread
    assert parallel.plan_chunks(3, 10**9, 8) == 3            # never more chunks than samples
    with pytest.raises(NeuroccError, match="at least 1"):
        parallel.plan_chunks(3, 10, 0)


def test_lava_refuses_a_scheduler():
    prog = random_program(1, extreme=False)
    with pytest.raises(NeuroccError, match="one process"):
        run(prog, random_input(1, prog, 3, 2), backend="lava", scheduler="tcp://127.0.0.1:1")


def test_unreachable_scheduler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT_S", 1)
    prog = random_program(2, extreme=False)
    with pytest.raises(NeuroccError, match="could not reach the Dask scheduler"):
        run(prog, random_input(2, prog, 3, 2), scheduler="tcp://127.0.0.1:1")


def test_chunks_on_a_dask_cluster_equal_one_process(monkeypatch, capsys):
    """A LocalCluster of two worker processes (so the program and the chunks really travel
    by pickle), addressed like a remote scheduler; a forced progress bar counts the samples
    as the workers' chunks come back."""
    distributed = pytest.importorskip("distributed")
    x, _ = data.test_inputs()
    x = x[:, :40]
    prog = compile_nir(NIR_PATH, hw="loihi2")
    rec = random_program(4)
    xr = random_input(4, rec, steps=5, batch=6)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        one = run(prog, x, workers=1)
        monkeypatch.setenv("NEUROCC_PROGRESS", "1")
        capsys.readouterr()
        assert_same_run(one, run(prog, x, scheduler=address))
        err = capsys.readouterr().err
        assert "run emulator on the cluster" in err and "40/40 samples" in err, err
        assert err.count("/40 samples") >= 2 and err.endswith("\n")   # drawn, then done
        monkeypatch.delenv("NEUROCC_PROGRESS")
        with distributed.Client(address) as client:          # or a client of one's own
            assert_same_run(run(rec, xr, workers=1), run(rec, xr, scheduler=client))


@pytest.mark.parametrize("seed", [0, 5, 9])
def test_streamed_run_counts_what_a_recorded_run_counts(seed):
    """``record="outputs"``: the emulator counts each block as it is made and keeps only the
    output layers; outputs, activity, energy and latency are those of the full record."""
    prog = random_program(seed)
    x = random_input(seed, prog, steps=6, batch=5)
    full = run(prog, x, record="all")
    lean = run(prog, x, record="outputs", workers=2)
    assert set(lean.trace.spikes) <= set(full.trace.spikes)
    if layered_ok(prog):
        assert set(lean.trace.spikes) == set(prog.outputs)
    for k in full.outputs:
        np.testing.assert_array_equal(full.outputs[k], lean.outputs[k])
    A, B = full.activity, lean.activity
    for f in ("input_events", "input_per_channel", "core_work", "link_load"):
        np.testing.assert_array_equal(getattr(A, f), getattr(B, f))
    np.testing.assert_array_equal(np.stack(A.step_parts), np.stack(B.step_parts))
    da, db = full.to_dict(), lean.to_dict()
    da.pop("wall_s"), db.pop("wall_s")
    assert da == db


def layered_ok(prog):
    from neurocc.backends.emulator.layered import is_feedforward

    return is_feedforward(prog)


def test_a_long_run_streams_by_default_in_bounded_memory(monkeypatch):
    """Past RECORD_LIMIT the default keeps only the outputs: peak memory follows the block,
    not the run's length."""
    import importlib
    import tracemalloc

    from neurocc.backends.emulator import layered

    run_module = importlib.import_module("neurocc.backends.run")   # not the function

    prog = random_program(3, extreme=False, recurrent=False, autonomous=False, readout=False)
    monkeypatch.setattr(layered, "BLOCK_VALUES", 1 << 12)

    def peak(steps, limit):
        monkeypatch.setattr(run_module, "RECORD_LIMIT", limit)
        x = random_input(3, prog, steps=steps, batch=4)
        tracemalloc.start()
        res = run(prog, x, workers=1)
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return res, p - x.nbytes

    recorded, p_rec = peak(3000, 1 << 40)
    streamed, p_str = peak(3000, 0)
    assert set(streamed.trace.spikes) == set(prog.outputs) != set(recorded.trace.spikes)
    assert streamed.activity.total_spikes() == recorded.activity.total_spikes()
    assert p_str < p_rec / 3, (p_str, p_rec)


def test_scheduled_latency_through_run_is_the_recount_on_any_number_of_chunks():
    """``run(..., scheduled_latency=True)`` (the CLI's ``--scheduled-latency``) times every
    step message by message in each chunk: the same figure as recounting the whole trace
    with the schedule, on one thread and on two, beside an unchanged two-chain latency."""
    from neurocc.backends import payloads
    from neurocc.cost.activity import count_trace
    from neurocc.cost.energy import estimate

    x, _ = data.test_inputs()
    x = x[:, :30]
    prog = compile_nir(NIR_PATH, hw="loihi2")
    plain = run(prog, x, workers=1)
    want = estimate(prog, count_trace(prog, payloads(prog, x), plain.trace, schedule=True))
    assert want.latency_scheduled_s > plain.estimate.latency_s       # order adds time
    for w in (1, 2):
        got = run(prog, x, workers=w, scheduled_latency=True)
        assert got.estimate.latency_scheduled_s == pytest.approx(want.latency_scheduled_s,
                                                                 rel=1e-12)
        assert got.estimate.latency_s == plain.estimate.latency_s
        assert got.to_dict()["latency_breakdown_s"]["scheduled_per_inference_s"] == \
            got.estimate.latency_scheduled_s
    assert plain.estimate.latency_scheduled_s is None
