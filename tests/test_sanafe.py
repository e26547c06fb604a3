"""The SANA-FE backend: bit-exact against the emulator where SANA-FE's Loihi model can express
the program, a one-line refusal where it cannot, and its energy and latency beside neurocc's.

Latency (issue 13's criteria, checked on every program here): per step, neurocc's two-chain
time is within 10 % of SANA-FE's ``simple`` model; per inference, neurocc's scheduled
estimate (``ActivityCounter(schedule=True)``) is within 10 % of SANA-FE's default
``detailed`` model. Measured: the two-chain step equals ``simple``'s to rounding, plus the
longest message route ``simple`` leaves out (0-1.6 % of a step); the scheduled estimate
equals ``detailed`` to rounding on one tile, where SANA-FE is repeatable."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sanafe")

import neurocc  # noqa: E402
import neurocc.cost.latency as latency  # noqa: E402
import neurocc.cost.schedule as schedule  # noqa: E402
from neurocc.api.errors import NeuroccError  # noqa: E402
from neurocc.backends import payloads, run  # noqa: E402
from neurocc.backends.base import get_backend  # noqa: E402
from neurocc.backends.sanafe import SanafeBackend  # noqa: E402
from neurocc.cost.activity import count_trace  # noqa: E402
from neurocc.cost.energy import estimate  # noqa: E402
from neurocc.hw_configs import load_hw, override  # noqa: E402
from neurocc.models import digits  # noqa: E402

import synth  # noqa: E402

QUANTITIES = ("spikes", "v", "u")
CRITERION = 0.10
"""Issue 13: per-step latency within 10 % of SANA-FE's simple model, latency per inference
within 10 % of its default (detailed) model."""
SANAFE_LINK_BUFFER = 16
"""Messages per link buffer in SANA-FE's loihi.yaml (``link_buffer_size: 16``), above which
its detailed model blocks a sender; the configs' ``latency.link_buffer_messages``."""


def steps_two_chain(prog, res) -> np.ndarray:
    """neurocc's two-chain time of every step, barrier included, ``(steps, B)`` s."""
    return latency.step_time(np.stack(res.activity.step_parts)) + \
        latency.barrier(prog.hw, latency.tiles_used(prog))


def scheduled(prog, x, res, link_buffer=None):
    """neurocc's scheduled estimate of the emulator run ``res``: every step ``(steps, B)``
    with the barrier, and the estimate (``latency_scheduled_s``)."""
    act = count_trace(prog, payloads(prog, x), res.trace, schedule=True,
                      link_buffer=link_buffer)
    steps = np.stack(act.step_scheduled) + latency.barrier(prog.hw, latency.tiles_used(prog))
    return steps, estimate(prog, act)


def sanafe_latency(prog, x, timing_model):
    """SANA-FE's ``(steps, B)`` step times and its latency per inference."""
    be = SanafeBackend(timing_model=timing_model)
    run(prog, x, backend=be)
    rep = be.last_report
    return np.array(rep["latency_per_step_s"]), rep["latency_per_inference_s"]


def check_latency(prog, x, emu, exact: bool) -> dict:
    """Issue 13's two latency criteria on one program, asserted; with ``exact`` (one tile,
    where SANA-FE is repeatable) the scheduled estimate must equal SANA-FE's detailed model
    step by step. Returns what was measured."""
    simple, _ = sanafe_latency(prog, x, "simple")
    detailed, per_inference = sanafe_latency(prog, x, "detailed")
    two = steps_two_chain(prog, emu)
    sched, est = scheduled(prog, x, emu)
    step_rel = two / simple - 1
    assert np.abs(step_rel).max() <= CRITERION, step_rel
    assert est.latency_scheduled_s == pytest.approx(sched.sum(axis=0).mean(), rel=1e-12)
    assert est.latency_breakdown_s["scheduled_per_inference_s"] == est.latency_scheduled_s
    assert est.latency_s == pytest.approx(emu.estimate.latency_s, rel=1e-12)
    assert est.latency_scheduled_s == pytest.approx(per_inference, rel=CRITERION)
    if exact:
        np.testing.assert_allclose(sched, detailed, rtol=1e-9)
    return {"two_chain_vs_simple_per_step": (float(step_rel.min()), float(step_rel.max())),
            "scheduled_vs_detailed": est.latency_scheduled_s / per_inference - 1,
            "two_chain_vs_detailed": emu.estimate.latency_s / per_inference - 1}


def same_traces(prog, a, b) -> dict:
    """Per quantity: every group's array identical (u and v where both recorded them)."""
    out = {}
    for q in QUANTITIES:
        ta, tb = getattr(a.trace, q), getattr(b.trace, q)
        out[q] = all(np.array_equal(ta[g.name], tb[g.name]) for g in prog.groups
                     if g.name in ta and g.name in tb)
    return out


@pytest.fixture(scope="module")
def digits_runs():
    prog = neurocc.compile_nir(digits.NIR_PATH, **digits.COMPILE)
    x = digits.test_inputs()[0][:, :20]
    emu = run(prog, x, backend="emulator", record_state=True)
    be = get_backend("sanafe")
    sfe = run(prog, x, backend=be, record_state=True)
    return prog, x, emu, sfe, be.last_report


# Seeds of random programs SANA-FE can express: zero reset, no current decay, binary input;
# conv, sparse, recurrent, skip, autonomous biased layers and LI readouts among them.
SEEDS = (0, 2, 3, 10, 12, 25, 29)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_programs_are_bit_exact_and_cost_the_same(seed):
    """Same spikes, u and v; and the same dynamic energy to rounding. These programs have
    unbiased layers, so the update rule's timing shows: SANA-FE's soma charges an update on
    the step it integrates a synaptic event (the step after it was sent). Counting it on
    the send step, as neurocc once did, put SANA-FE 0.02-0.4 % below neurocc here."""
    prog = synth.random_program(seed, reset="zero", graded=False, extreme=False, cubalif=False)
    x = synth.random_input(seed, prog, 12, 4)
    emu = run(prog, x, backend="emulator", record_state=True)
    be = get_backend("sanafe")
    sfe = run(prog, x, backend=be, record_state=True)
    assert same_traces(prog, emu, sfe) == dict.fromkeys(QUANTITIES, True)
    assert sum(int(emu.trace.spikes[g.name].sum()) for g in prog.groups) > 0
    rep, c = be.last_report, emu.estimate.counts
    assert rep["energy_per_inference_j"] == pytest.approx(emu.estimate.dynamic_j, rel=1e-9)
    # SANA-FE's update counter also counts its input units' firings (which cost nothing)
    assert rep["neuron_updates_per_inference"] == pytest.approx(
        c["active_neuron_updates"] + c["input_events"], rel=1e-12)
    # latency: both criteria; exact where the program sits on one tile (seeds 0, 3, 10;
    # the others use 2-3 tiles and came out exact too, but SANA-FE need not repeat there)
    m = check_latency(prog, x, emu, exact=latency.tiles_used(prog) == 1)
    assert m["two_chain_vs_simple_per_step"][0] >= -1e-12   # + the route simple omits


def test_subtractive_reset_without_leak_is_bit_exact():
    prog = synth.random_program(67, reset="subtract", graded=False, extreme=False,
                                cubalif=False)
    assert all(g.dv == 0 for g in prog.groups if g.spiking)
    x = synth.random_input(67, prog, 12, 4)
    emu = run(prog, x, backend="emulator", record_state=True)
    sfe = run(prog, x, backend="sanafe", record_state=True)
    assert same_traces(prog, emu, sfe) == dict.fromkeys(QUANTITIES, True)


def test_digits_is_bit_exact(digits_runs):
    prog, _, emu, sfe, _ = digits_runs
    assert same_traces(prog, emu, sfe) == dict.fromkeys(QUANTITIES, True)
    assert np.array_equal(emu.output_spike_counts, sfe.output_spike_counts)


def test_digits_energy_and_latency_beside_neurocc(digits_runs):
    """Measured on 20 test images (2026-12-03; the same on all 360): SANA-FE's dynamic energy
    per inference 1.33082 µJ, neurocc's 1.33082 µJ (equal to 1e-14 relative: the same
    per-event costs charged on the same events; SANA-FE's update counter also counts the
    153.75 input-unit firings, which cost 0 J). Latency per inference: neurocc's two-chain
    80.94 µs = SANA-FE 'simple' 80.94 µs, step by step (every core on one tile: no route);
    SANA-FE 'detailed' (its default) 95.2055 µs = neurocc's scheduled estimate 95.2055 µs,
    step by step to 1e-15. Of the 14.26 µs between the two models, 5.08 come from order
    alone (a core's messages leave as its neuron walk reaches the spiking neurons, and the
    next core cannot take one before it is sent: 86.02 µs) and 9.18 from SANA-FE's
    congestion heuristic (the input's messages queued at core 0 slow core 0's own messages
    out through the same port); no sender blocks."""
    prog, x, emu, _, rep = digits_runs
    assert rep["energy_per_inference_j"] == pytest.approx(emu.estimate.dynamic_j, rel=1e-9)
    c = emu.estimate.to_dict()["counts_per_inference"]
    assert rep["synaptic_events_per_inference"] == pytest.approx(c["synaptic_ops"], rel=1e-9)
    assert rep["messages_per_inference"] == pytest.approx(c["messages"], rel=1e-9)
    assert rep["neurons_fired_per_inference"] == pytest.approx(
        c["spikes"] + c["input_events"], rel=1e-9)
    assert rep["timing_model"] == "detailed"
    m = check_latency(prog, x, emu, exact=True)
    assert m["two_chain_vs_simple_per_step"] == pytest.approx((0, 0), abs=1e-12)
    assert m["two_chain_vs_detailed"] == pytest.approx(80.94 / 95.2055 - 1, abs=1e-4)
    assert rep["latency_per_inference_s"] == pytest.approx(95.2055e-6, rel=1e-6)


@pytest.mark.parametrize("case", ["digits, 64 neurons per core", "seed 25, 3 neurons per core"])
def test_latency_over_many_tiles(case):
    """Placements over 3-16 tiles: messages cross links and meet in router buffers. SANA-FE's
    detailed model is not repeatable here (a neuron's messages leave in the order of its
    destination cores' memory addresses; measured on seed 25: 29.135-29.138 µs over six
    runs, neurocc's scheduled estimate 28.92 µs, -0.75 %; digits: 72.57-72.73 µs against
    neurocc's 72.80 µs), so only the criteria hold, not equality."""
    base = load_hw("loihi2")
    if case.startswith("digits"):
        prog = neurocc.compile_nir(digits.NIR_PATH, hw=override(
            base, {"core.neurons_per_core": 64}, "spread"), **digits.COMPILE)
        x = digits.test_inputs()[0][:, :4]
    else:
        prog = synth.random_program(25, reset="zero", graded=False, extreme=False,
                                    cubalif=False, hw=override(
                                        base, {"core.neurons_per_core": 3}, "spread"))
        x = synth.random_input(25, prog, 12, 4)
    assert latency.tiles_used(prog) >= 3
    emu = run(prog, x, record="all")
    m = check_latency(prog, x, emu, exact=False)
    assert abs(m["scheduled_vs_detailed"]) < 0.03
    assert 0 <= m["two_chain_vs_simple_per_step"][0] <= m["two_chain_vs_simple_per_step"][1] \
        < 0.02                                       # the longest route, at most ~1.6 %


def test_blocked_senders_with_sanafe_link_buffers():
    """A saturated input (90 % of the pixels spike every step) queues up to 64 messages at
    core 0: SANA-FE blocks senders once the messages along a route exceed (hops + 1) link
    buffers of 16 messages (860 blocked messages here). With the configs' buffer size
    (``latency.link_buffer_messages = 16``, SANA-FE's ``link_buffer_size``) neurocc's schedule
    equals SANA-FE's step by step (one tile: repeatable); with senders that never block it
    is 8.9 % low (131.59 against 144.48 µs per inference), and the two-chain 20 % low
    (115.60 µs)."""
    prog = neurocc.compile_nir(digits.NIR_PATH, **digits.COMPILE)
    assert prog.hw.latency.link_buffer_messages == SANAFE_LINK_BUFFER
    x0 = digits.test_inputs()[0][:, :4]
    x = (np.random.default_rng(0).random(x0.shape) < 0.9).astype(x0.dtype)
    emu = run(prog, x, record="all")
    detailed, per_inference = sanafe_latency(prog, x, "detailed")
    blocked, est = scheduled(prog, x, emu)                       # the config's buffers
    np.testing.assert_allclose(blocked, detailed, rtol=1e-9)
    assert per_inference == pytest.approx(144.4804e-6, rel=1e-6)
    free, est_free = scheduled(prog, x, emu, link_buffer=float("inf"))
    assert (free <= blocked * (1 + 1e-12)).all()
    assert est_free.latency_scheduled_s / per_inference - 1 == pytest.approx(-0.0892, abs=1e-3)
    assert emu.estimate.latency_s / per_inference - 1 == pytest.approx(-0.200, abs=1e-3)


def test_scheduled_estimate_is_opt_in_and_the_numpy_twin_agrees(digits_runs, monkeypatch):
    """Counting does not schedule unless asked (it visits every message, several times the
    cost of the rest of the counting); the numpy twin of the soma walk and the plain-Python
    scheduler give the compiled kernels' times to rounding."""
    prog, x, emu, _, _ = digits_runs
    assert emu.activity.step_scheduled == []
    assert emu.estimate.latency_scheduled_s is None
    assert "scheduled_per_inference_s" not in emu.estimate.latency_breakdown_s
    fast, _ = scheduled(prog, x[:, :3], run(prog, x[:, :3], record="all"))
    kernel = getattr(schedule._schedule_kernel, "py_func", schedule._schedule_kernel)
    monkeypatch.setattr(schedule, "_walk", schedule._walk_py)
    monkeypatch.setattr(schedule, "_schedule_kernel", kernel)
    slow, _ = scheduled(prog, x[:, :3], run(prog, x[:, :3], record="all"))
    np.testing.assert_allclose(slow, fast, rtol=1e-12)


def test_diff_command_exits_0(tmp_path):
    prog = synth.random_program(12, reset="zero", graded=False, extreme=False, cubalif=False)
    prog.save(tmp_path / "p.neurocc")
    np.save(tmp_path / "x.npy", synth.random_input(12, prog, 10, 3))
    p = subprocess.run([sys.executable, "-m", "neurocc", "diff", tmp_path / "p.neurocc",
                        "--input", tmp_path / "x.npy", "--a", "emulator", "--b", "sanafe"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Executed steps" not in p.stdout        # SANA-FE's progress lines are swallowed


@pytest.mark.parametrize("options, says", [
    ({"seed": 40, "reset": "subtract"}, r"subtractive reset with dv=\d+: SANA-FE subtracts"),
    ({"seed": 3, "reset": "zero", "cubalif": True}, r"current decay du=\d+"),
    ({"seed": 1, "reset": "zero", "graded": True}, "graded input"),
    ({"seed": 7, "reset": "zero"}, r"weight exponent -\d+: Lava floors"),
    ({"seed": 4, "reset": "zero"}, "membrane of layer 'l2' went past the 24-bit limit"),
    ({"seed": 0, "reset": "zero", "hw": "tiny"}, "SANA-FE's Loihi is 8x4 tiles"),
])
def test_inexpressible_programs_are_refused_in_one_line(options, says):
    seed = options.pop("seed")
    options = {"graded": False, "cubalif": False, **options}
    prog = synth.random_program(seed, extreme=False, **options)
    x = synth.random_input(seed, prog, 12, 4)
    with pytest.raises(NeuroccError, match=says) as e:
        run(prog, x, backend="sanafe")
    assert "\n" not in str(e.value) and "sanafe" in str(e.value)
