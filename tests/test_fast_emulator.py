"""The fast paths against the readable definition, bit for bit.

The layer-major schedule (``backends/emulator/layered.py``: all steps of a block group by
group, compiled neuron kernel, dense or event-driven synapses), its numpy twins, and the
block activity counter must give exactly what the step-major emulator and the per-step
counter give: spikes, u, v, liveness, every saturation counter, every activity total and
every step's latency parts, on generated programs (quirky fixed-point numbers included).
"""

from dataclasses import replace

import hypothesis
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurocc.cost.activity as activity
from neurocc.backends import run
from neurocc.backends.emulator import EmulatorBackend, kernels, layered
from neurocc.backends.run import payloads
from neurocc.compiler.ir import INPUT, LIF, Conv, GradedInput, Network, Projection
from neurocc.compiler.linalg import (
    conv2d,
    conv_events,
    conv_events_py,
    conv_out_hw,
    conv_taps,
    spike_lists_py,
)
from neurocc.compiler.pipeline import compile_network
from neurocc.cost.activity import ActivityCounter

from synth import random_input, random_program


def assert_same_trace(a, b, prog):
    """``b`` (layer-major) equals ``a``; its liveness is left out exactly for the groups
    updated every step, where it counts nothing."""
    assert a.spikes.keys() == b.spikes.keys()
    for n in a.spikes:
        np.testing.assert_array_equal(a.spikes[n], b.spikes[n], err_msg=f"spikes of {n}")
        if prog.group(n).always_updated and a.live[n] is not None:
            assert b.live[n] is None, f"liveness of always-updated {n} recorded"
            continue
        np.testing.assert_array_equal(a.live[n], b.live[n], err_msg=f"liveness of {n}")
    for field in ("v", "u"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.keys() == y.keys()
        for n in x:
            np.testing.assert_array_equal(x[n], y[n], err_msg=f"{field} of {n}")
    assert a.saturation == b.saturation


def feedforward_program(seed: int, extreme: bool, graded: bool | None = None):
    return random_program(seed, extreme=extreme, recurrent=False, autonomous=False,
                          graded=graded)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), extreme=st.booleans(), graded=st.booleans(),
       steps=st.integers(1, 9), batch=st.integers(1, 4),
       synapses=st.sampled_from(["dense", "table", "events", "auto"]),
       block=st.sampled_from([1, 7, 1 << 22]))
def test_layer_major_equals_step_major(seed, extreme, graded, steps, batch, synapses,
                                       block):
    prog = feedforward_program(seed, extreme, graded)
    assert layered.is_feedforward(prog)
    x = payloads(prog, random_input(seed, prog, steps=steps, batch=batch))
    density = {"dense": 0.0, "table": 0.0, "events": 1.1, "auto": layered.EVENT_DENSITY}[
        synapses]
    with pytest.MonkeyPatch.context() as m:
        m.setattr(layered, "EVENT_DENSITY", density)
        if synapses == "dense":
            m.setattr(layered, "TABLE_BYTES", 0)       # GEMM, not the pattern tables
        m.setattr(layered, "BLOCK_VALUES", block)      # 1: one step per block
        fast = EmulatorBackend("layer").simulate(prog, x, True)
    assert_same_trace(EmulatorBackend("step").simulate(prog, x, True), fast, prog)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), extreme=st.booleans(), graded=st.booleans())
def test_numpy_twins_equal_the_compiled_kernels(seed, extreme, graded):
    """Without numba the same numbers come out (the twins run in the loop here)."""
    prog = feedforward_program(seed, extreme, graded)
    x = payloads(prog, random_input(seed, prog, steps=6, batch=3))
    compiled = EmulatorBackend("layer").simulate(prog, x, True)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(kernels, "lif_block", kernels.lif_block_py)
        m.setattr(kernels, "events", kernels.events_py)
        m.setattr(layered, "EVENT_DENSITY", 1.1)
        twin = EmulatorBackend("layer").simulate(prog, x, True)
    assert_same_trace(compiled, twin, prog)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(kernels, "nibble_sums", kernels.nibble_sums_py)
        m.setattr(kernels, "lif_table", kernels.lif_table_py)
        m.setattr(layered, "EVENT_DENSITY", 0.0)
        twin = EmulatorBackend("layer").simulate(prog, x, True)
    assert_same_trace(compiled, twin, prog)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), extreme=st.booleans(), steps=st.integers(1, 9),
       block=st.sampled_from([1, 7, 1 << 22]))
def test_rows_summed_from_the_table_in_the_kernel_equal_step_major(seed, extreme, steps,
                                                                    block):
    """Where a group's only input is a table projection (kernels.lif_table: each row's sums
    made as the kernel reaches it, the block's last step's carried into the next block),
    against the step-major definition, and against the same schedule without the fusion."""
    prog = feedforward_program(seed, extreme, False)
    x = payloads(prog, random_input(seed, prog, steps=steps, batch=3))
    calls = []
    with pytest.MonkeyPatch.context() as m:
        m.setattr(layered, "EVENT_DENSITY", 0.0)       # every table projection by its table
        m.setattr(layered, "BLOCK_VALUES", block)
        m.setattr(kernels, "lif_table", lambda *a: calls.append(1) or kernels._lif_table_nb(*a))
        fast = EmulatorBackend("layer").simulate(prog, x, True)
        m.setattr(layered.LayerMajor, "_table_input", lambda *a: None)
        unfused = EmulatorBackend("layer").simulate(prog, x, True)
    assert_same_trace(EmulatorBackend("step").simulate(prog, x, True), fast, prog)
    assert_same_trace(unfused, fast, prog)
    hypothesis.note(f"{len(calls)} fused kernel calls")
    hypothesis.event("fused" if calls else "no group fed by one table projection alone")


def test_digits_first_layer_sums_its_rows_in_the_kernel():
    from neurocc.compiler.pipeline import compile_nir
    from neurocc.models.digits import COMPILE, NIR_PATH, data

    prog = compile_nir(NIR_PATH, hw="loihi2", **COMPILE)
    x = payloads(prog, data.test_inputs()[0][:, :5])
    calls = []
    with pytest.MonkeyPatch.context() as m:
        m.setattr(kernels, "lif_table", lambda *a: calls.append(1) or kernels._lif_table_nb(*a))
        fast = EmulatorBackend("layer").simulate(prog, x, True)
    assert calls
    assert_same_trace(EmulatorBackend("step").simulate(prog, x, True), fast, prog)


@pytest.mark.parametrize("n_pre", [1, 3, 4, 5, 8, 9, 64, 67])
def test_pattern_tables_sum_every_spike_pattern(n_pre):
    """``nibble_table``/``nibble_sums``, compiled and numpy, equal the integer product for
    every fan-in around the 4- and 8-input boundaries, extreme int8 weights included."""
    rng = np.random.default_rng(n_pre)
    w = rng.integers(-128, 128, (n_pre, 9)).astype(np.int16)
    w[0] = 127
    s = rng.random((60, n_pre)) < 0.4
    s[0] = True                                      # every input spiking
    s[1] = False
    want = s.astype(np.int64) @ w.astype(np.int64)
    table = kernels.nibble_table(w, np.int16)
    assert kernels.nibble_codes(s).shape == (60, -(-n_pre // 4))
    for sums in (kernels.nibble_sums, kernels.nibble_sums_py):
        for x in (s, s.astype(np.int8)):             # spikes, or 0/1 payloads
            np.testing.assert_array_equal(sums(x, table, np.empty((60, 9), np.int16)), want)


def test_digits_input_layer_uses_the_pattern_table():
    """The choice is automatic: binary spikes, denser than EVENT_DENSITY, into a projection
    whose sums fit int16 and whose table fits TABLE_BYTES (the digits input layer); not a
    projection whose sums could leave int16."""
    from neurocc.compiler.pipeline import compile_nir
    from neurocc.models.digits import COMPILE, NIR_PATH

    prog = compile_nir(NIR_PATH, hw="loihi2", **COMPILE)
    emu = layered.LayerMajor(prog, 2)
    first = [s for s, p in zip(emu.syn, prog.projections) if p.src == INPUT][0]
    assert first.table is not None and first.table.dtype == np.int16
    assert all(s.table is None for s, p in zip(emu.syn, prog.projections)
               if layered.sum_bound(p.conn, 1)[0] >= layered.INT16_EXACT)


def test_auto_schedule_is_layer_major_only_without_cycles():
    be = EmulatorBackend()
    ff = feedforward_program(3, False)
    rec = random_program(3, extreme=False, recurrent=True)
    assert not layered.is_feedforward(rec)
    for prog, expect in ((ff, "layer"), (rec, "step")):
        be.simulate(prog, payloads(prog, random_input(0, prog, steps=3, batch=2)))
        assert be.last_schedule == expect
    with pytest.raises(ValueError, match="without cycles"):
        layered.LayerMajor(rec, 2)


@pytest.mark.parametrize("events", [False, True])
def test_large_convolution_paths_equal_step_major(events):
    """A conv too large for an explicit matrix: im2col or each spike's kernel taps in the
    emulator, the per-neuron pattern (by im2col or by taps) in the counter."""
    rng = np.random.default_rng(5)
    c = Conv(weight=rng.normal(0, 0.6, (8, 3, 3, 3)), in_shape=(3, 32, 32),
             out_shape=(8, 32, 32), padding=(1, 1))
    assert c.shape[0] * c.shape[1] > layered.SMALL_CONV
    n = c.shape[0]
    g = LIF("conv", "conv", c.out_shape, bias=np.zeros(n), tau_mem=np.full(n, 1e-3),
            r=np.full(n, 10.0), v_leak=np.zeros(n), v_threshold=np.ones(n))
    net = Network((3, 32, 32), (g,), (Projection("p", INPUT, "conv", c, ("c",)),), ("conv",))
    prog = compile_network(net, hw="loihi2")
    x = (rng.random((4, 2, 3, 32, 32)) < 0.3).astype(np.uint8)
    p = payloads(prog, x)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(layered, "CONV_EVENT_DENSITY", 1.1 if events else 0.0)
        m.setattr(activity, "CONV_EVENTS", 1.1 if events else 0.0)
        be = EmulatorBackend("layer")
        fast = be.simulate(prog, p, True)
        res = run(prog, x, backend=be)
    assert_same_trace(EmulatorBackend("step").simulate(prog, p, True), fast, prog)
    assert_counts_equal_per_step(prog, x, res)   # per step: by im2col (30 % density)


def assert_same_activity(a, b):
    for f in ("spikes", "synops", "active_updates"):
        for k in getattr(a, f):
            np.testing.assert_array_equal(getattr(a, f)[k], getattr(b, f)[k], err_msg=f)
    for f in ("input_events", "input_per_channel", "core_work", "link_load"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    np.testing.assert_array_equal(np.stack(a.step_parts), np.stack(b.step_parts))


def assert_counts_equal_per_step(prog, x, res=None):
    res = res or run(prog, x)
    names = [g.name for g in prog.groups]
    per_step = ActivityCounter(prog, res.batch)
    p = payloads(prog, x)
    live = res.trace.liveness(names)
    for t in range(p.shape[0]):
        per_step.step(p[t], {n: res.trace.spikes[n][t] for n in names},
                      {n: None if live[n] is None else live[n][t] for n in names})
    a, b = res.activity, per_step.result()
    assert_same_activity(a, b)
    assert a.steps_run == b.steps_run == p.shape[0]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), extreme=st.booleans(), twin=st.booleans(),
       sparse_rows=st.sampled_from([0.0, 1.1]))
def test_block_counting_equals_step_by_step(seed, extreme, twin, sparse_rows):
    """One block of all steps and rows (compiled or numpy) counts what per-step counting
    counts, recurrent programs included; the block counts every source spike by spike
    (spike lists, event tables), the per-step count every source densely (vectorized
    passes, products; with ``twin``, numpy's)."""
    prog = random_program(seed, extreme=extreme)
    x = random_input(seed, prog, steps=5, batch=3)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(activity, "SPARSE_ROWS", sparse_rows)  # products, or event by event
        m.setattr(activity, "SPIKE_LIST_DENSITY", 1.1)
        m.setattr(activity, "TABLE_EVENT_COST", 1e9)
        res = run(prog, x)                   # compiled, one block
    with pytest.MonkeyPatch.context() as m:
        m.setattr(activity, "SPIKE_LIST_DENSITY", 0.0)
        m.setattr(activity, "TABLE_EVENT_COST", 0.0)
        if twin:
            m.setattr(activity, "_source_rows", activity._source_rows_py)
            m.setattr(activity, "spike_lists", spike_lists_py)
            m.setattr(activity, "_bit_counts", activity._bit_counts_py)
        assert_counts_equal_per_step(prog, x, res)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), ku=st.sampled_from([0, 1, 2048, 4095, 4096]),
       kv=st.sampled_from([0, 1, 3000, 4096]), shift=st.integers(-8, 7),
       reset=st.sampled_from(["zero", "subtract", "none"]), spiking=st.booleans())
def test_neuron_kernel_at_the_wrap_and_saturation_boundaries(seed, ku, kv, shift, reset,
                                                             spiking):
    """Inputs and states drawn at ±2^23 (u's wrap), ±(2^23 − 1) (v's saturation) and
    ±2^31 (Lava's int32 current): the compiled kernel equals its numpy twin, with the state
    in int64 or int32, and without the wrap and saturation checks where the bounds allow."""
    rng = np.random.default_rng(seed)
    smax, T, B, n = 1 << 23, 4, 2, 16
    edges = np.array([0, 1, -1, smax, -smax, smax - 1, 1 - smax, smax + 1, -smax - 1,
                      2**31 - 1, -(2**31), 2**31, 5 << 17, -(5 << 17)], dtype=np.int64)

    def draw(shape, scale=1):
        pick = rng.choice(edges, shape) // scale + rng.integers(-2, 3, shape)
        return np.where(rng.random(shape) < 0.5, pick, rng.integers(-smax, smax, shape))

    acc = draw((T, B, n), 64 << max(shift, 0))
    carry = draw((B, n), 64 << max(shift, 0))
    u0 = np.clip(draw((B, n)), 1 - smax, smax)
    v0 = np.clip(draw((B, n)), 1 - smax, smax - 1)
    s0 = rng.random((B, n)) < 0.5
    vth = int(rng.integers(1, 1 << 17)) << 6
    bias = rng.integers(-(1 << 12), 1 << 12, n)
    outs = []
    # the kernel without wrap and saturation checks, on what LayerMajor._bounded allows: no
    # u decay, v from rest, |v| < (|u| + |bias| + vth) / (1 − kv/4096) below the saturation
    rho = kv / 4096
    sub = vth if reset == "subtract" else 0
    budget = 0.99 * (smax - 1) * (1 - rho) - np.abs(bias).max() - sub
    bounded = ku == 0 and rho < 1 and budget > 64 << max(shift, 0) and rng.random() < 0.5
    if bounded:
        lim = int(budget) // (64 << max(shift, 0))
        acc, carry = np.clip(acc, -lim, lim), np.clip(carry, -lim, lim)
        v0 = np.zeros_like(v0)
    runs = [(kernels.lif_block, np.int64, False), (kernels.lif_block, np.int32, bounded),
            (kernels.lif_block_py, np.int64, False), (kernels.lif_block_py, np.int32, False)]
    for kernel, state_type, free in runs:
        state = [u0.astype(state_type), v0.astype(state_type), s0.copy()]
        o = [np.empty((T, B, n), np.bool_), np.empty((T, B, n), np.int64),
             np.empty((T, B, n), np.int64), np.empty((T, B, n), np.bool_)]
        counts = kernel(carry, acc, *state, ku, kv, bias, vth, smax, 12, 0,
                        reset == "subtract", reset == "zero", spiking, *o, True, True, True,
                        shift, free)
        outs.append(([int(c) for c in counts], o + [x.astype(np.int64) for x in state]))
    for other in outs[1:]:
        assert other[0] == outs[0][0]
        for a, b in zip(outs[0][1], other[1]):
            np.testing.assert_array_equal(a, b)


def counted_both_ways(prog, x):
    """``prog``'s activity on ``x`` with alike sources counted from their spikes per row,
    and by the general pass; and which sources took the first way."""
    fast = run(prog, x).activity
    with pytest.MonkeyPatch.context() as m:
        m.setattr(activity, "UNIFORM_SOURCES", False)
        general = run(prog, x).activity
    c = ActivityCounter(prog, 1)
    alike = [s for s, u in c.uniform.items()
             if u is not None and (s == INPUT or c.all_biased[s])]
    return fast, general, alike


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), extreme=st.booleans())
def test_alike_sources_count_what_the_general_pass_counts(seed, extreme):
    """A source whose neurons all send the same messages over the same route from one core,
    counted from its spikes per row (``activity._uniform_rows``), counts exactly what the
    per-neuron pass (``_source_rows``) counts."""
    prog = random_program(seed, extreme=extreme)
    fast, general, _ = counted_both_ways(prog, random_input(seed, prog, steps=5, batch=3))
    assert_same_activity(fast, general)


def test_digits_counts_every_source_from_its_spikes_per_row():
    from neurocc.compiler.pipeline import compile_nir
    from neurocc.models.digits import COMPILE, NIR_PATH, data

    prog = compile_nir(NIR_PATH, hw="loihi2", **COMPILE)
    fast, general, alike = counted_both_ways(prog, data.test_inputs()[0][:, :40])
    assert len(alike) == len(prog.groups) + 1            # the input and every layer
    assert_same_activity(fast, general)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_message_tracing_fallback_counts_what_the_maps_count(seed):
    """Sources too large for the per-neuron message maps trace their messages pair by
    pair, in pieces: the same counts."""
    prog = random_program(seed, extreme=False)
    x = random_input(seed, prog, steps=4, batch=3)
    mapped = run(prog, x)
    prog.__dict__.pop("_activity_plans", None)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(activity, "INCIDENCE_ENTRIES", 0)     # no maps, one row per piece
        traced = run(prog, x)
        (_, plan), = prog.__dict__.pop("_activity_plans").values()
    assert all(v is None for v in plan["to_core"].values())
    assert all(v is None for v in plan["to_links"].values())
    np.testing.assert_array_equal(mapped.activity.core_work, traced.activity.core_work)
    np.testing.assert_array_equal(mapped.activity.link_load, traced.activity.link_load)
    np.testing.assert_array_equal(np.stack(mapped.activity.step_parts),
                                  np.stack(traced.activity.step_parts))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), c=st.integers(1, 4), hw=st.tuples(st.integers(1, 9),
       st.integers(1, 9)), k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       pad=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       dil=st.tuples(st.integers(1, 2), st.integers(1, 2)), groups=st.sampled_from([1, 2]))
def test_event_driven_convolution_equals_conv2d(seed, c, hw, k, stride, pad, dil, groups):
    rng = np.random.default_rng(seed)
    c_in, c_out = c * groups, 2 * groups
    out_hw = conv_out_hw(hw, k, stride, pad, dil)
    if min(out_hw) < 1:
        return
    w = rng.integers(-300, 300, (c_out, c, *k))
    s = rng.random((3, c_in * hw[0] * hw[1])) < 0.4
    want = np.rint(conv2d(s.reshape(3, c_in, *hw).astype(float), w, stride, pad, dil,
                          groups)).astype(np.int64).reshape(3, -1)
    geometry = [np.asarray(v) for v in ((c_in, *hw), (c_out, *out_hw), stride, pad, dil)]
    for kernel in (conv_events, conv_events_py):
        got = kernel(s, conv_taps(w, np.int16), *geometry, groups,
                     np.zeros((3, c_out * out_hw[0] * out_hw[1]), np.int32))
        np.testing.assert_array_equal(got, want)


def test_graded_payloads_of_magnitude_one_never_take_the_spike_path():
    """A graded input whose payloads are only −1, 0 and 1 looks binary by its bound, but a
    −1 is not a spike: such programs must stay on the products (a regression)."""
    for seed in range(4):
        prog = feedforward_program(seed, False, graded=True)
        prog = replace(prog, input_encoding=GradedInput(max=1.0, bits=24, scale=1.0))
        assert prog.input_encoding.max_payload == 1
        raw = np.random.default_rng(seed).choice([-1.0, 0.0, 1.0], (5, 3, *prog.input_shape))
        x = payloads(prog, raw)
        assert x.min() == -1 and x.max() == 1
        with pytest.MonkeyPatch.context() as m:
            m.setattr(layered, "EVENT_DENSITY", 1.1)
            fast = EmulatorBackend("layer").simulate(prog, x, True)
        assert_same_trace(EmulatorBackend("step").simulate(prog, x, True), fast, prog)


@pytest.mark.parametrize("shape", [(3960, 3, 2), (7, 1, 1), (100, 40, 60), (5, 3, 0), (0, 2, 1)])
def test_step_latency_compiled_equals_its_numpy_twin(shape):
    """``latency.step_parts`` (compiled) and ``step_parts_py``: the same float operations in
    the same order, so the same bits (a chunked run must equal one chunk)."""
    from neurocc.cost.latency import step_parts, step_parts_py

    rng = np.random.default_rng(sum(shape))
    R, C, L = shape
    work = rng.integers(0, 1000, (R, C, 8)) * rng.random((R, C, 8))
    links = rng.integers(0, 100, (R, L)).astype(float)
    route, per_event, t_link = rng.random(R), rng.random(8) * 1e-9, rng.random(L) * 1e-9
    np.testing.assert_array_equal(step_parts(work, links, route, per_event, t_link),
                                  step_parts_py(work, links, route, per_event, t_link))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), extreme=st.booleans())
def test_liveness_left_out_where_it_counts_nothing(seed, extreme):
    """The layer-major emulator records no liveness for groups whose every neuron has a bias
    (updated every step anyway): counting its trace gives exactly what counting the
    step-major trace, which records every group's, gives; and membranes stay traced."""
    from neurocc.cost.activity import count_trace

    prog = feedforward_program(seed, extreme)
    x = payloads(prog, random_input(seed, prog, steps=5, batch=3))
    full = EmulatorBackend("step").simulate(prog, x, True)
    lean = EmulatorBackend("layer").simulate(prog, x, True)
    assert all((lean.live[g.name] is None) == g.always_updated for g in prog.groups)
    a, b = count_trace(prog, x, full), count_trace(prog, x, lean)
    assert a.membrane_traced and b.membrane_traced
    for f in ("spikes", "synops", "active_updates"):
        for k in getattr(a, f):
            np.testing.assert_array_equal(getattr(a, f)[k], getattr(b, f)[k], err_msg=f)
    np.testing.assert_array_equal(a.core_work, b.core_work)
    np.testing.assert_array_equal(np.stack(a.step_parts), np.stack(b.step_parts))
