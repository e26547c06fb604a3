"""Speed, measured side by side in one run: the emulator against Lava, against snnTorch and
against this machine's own GEMM rate, on the workloads issue 9 names.

    python -m neurocc.benchmarks.speed [--lava-samples 260] [--lava-repeats 2] [--repeats 3]
                                       [--quick]

Only ratios are meant to be quoted: the machines are shared and noisy. Every timing is the
minimum of ``repeats`` runs, after one warm-up run (numba compiles its kernels once per
machine and caches them; the first run of a program also builds its message maps).
"Emulator" is ``run()``: simulation *and* activity counting, every spike identical to the
step-major definition (``tests/test_fast_emulator.py``). snnTorch runs the same architecture
in float32 on 2 threads, in ``torch.no_grad``. Workloads:

- digits: the zoo's digits model on its test split (360 samples × 8 steps + 3 drain);
- mlp: 784-512-512-10 LIF, batch 256, 25 steps, 20 % input spikes (issue 9's MNIST-sized
  case), random weights;
- dense4096: 4096-4096-4096 LIF, batch 256, 8 steps, at 2 %, 10 % and 50 % input spikes;
- conv: a conv stack on 3×32×32 inputs (3→16 3×3, 16→16 3×3 stride 2, 4096→10), batch 256,
  8 steps, at the same three input rates;
- synapses: one 4096×4096 projection's synaptic phase alone, dense GEMM against
  event-driven accumulation, from 0.5 % to 50 % spike density, and where they cross.

Writes ``benchmarks/results/speed.json`` and ``speed.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from neurocc.backends import run
from neurocc.backends.parallel import usable_cores
from neurocc.compiler.pipeline import compile_nir
from neurocc.models.digits import NIR_PATH as NIR

RESULTS = Path(__file__).resolve().parent / "results"


def best_of(fn, repeats: int, warm: bool = True) -> float:
    if warm:
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def gemm_flops(dtype, n: int = 1024, repeats: int = 5) -> float:
    """This machine's GEMM rate (FLOP/s) in ``dtype`` on all cores: the roofline."""
    a = np.random.default_rng(0).random((n, n)).astype(dtype)
    b = np.random.default_rng(1).random((n, n)).astype(dtype)
    return 2 * n**3 / best_of(lambda: a @ b, repeats)


# --------------------------------------------------------------------------- workloads


def _torch():
    import torch

    torch.set_num_threads(2)
    return torch


def mlp_module(sizes, gain: float, seed: int = 0):
    """An snnTorch ``Sequential`` of Linear + Leaky layers (subtract reset, beta 0.9)."""
    torch = _torch()
    import snntorch as snn

    torch.manual_seed(seed)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        lin = torch.nn.Linear(a, b, bias=False)
        with torch.no_grad():
            lin.weight.normal_(0.0, gain / np.sqrt(a))
        layers += [lin, snn.Leaky(beta=0.9, init_hidden=True, output=False)]
    layers[-1] = snn.Leaky(beta=0.9, init_hidden=True, output=True)
    return torch.nn.Sequential(*layers)


def conv_module(seed: int = 0):
    torch = _torch()
    import snntorch as snn

    torch.manual_seed(seed)
    nn = torch.nn
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), snn.Leaky(beta=0.9, init_hidden=True),
        nn.Conv2d(16, 16, 3, stride=2, padding=1, bias=False),
        snn.Leaky(beta=0.9, init_hidden=True), nn.Flatten(),
        nn.Linear(16 * 16 * 16, 10, bias=False),   # 4096 sources: one core's input axons
        snn.Leaky(beta=0.9, init_hidden=True, output=True))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = int(np.prod(m.weight.shape[1:]))
                m.weight.normal_(0.0, 3.0 / np.sqrt(fan_in))
    return net


def snntorch_forward(net, x: np.ndarray) -> None:
    """The float model over all steps (the hidden state reset first)."""
    torch = _torch()
    from snntorch import utils

    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    with torch.no_grad():
        utils.reset(net)
        for t in range(len(xt)):
            net(xt[t])


def spikes(shape, rate: float, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < rate).astype(np.uint8)


def dense_macs(prog, batch: int, steps: int) -> float:
    """Multiply-accumulates if every synapse is computed every step (the dense-equivalent
    work of the synaptic phase)."""
    total = sum(p.conn.shape[0] * p.conn.shape[1] if p.conn.kind != "conv" else
                int(np.prod(p.conn.out_shape)) * int(np.prod(p.conn.weight.shape[1:]))
                for p in prog.projections)
    return float(total) * batch * steps


def emulator_vs_snntorch(prog, net, x, repeats: int, gemm_f32: float) -> dict:
    """The emulator's whole run() against snnTorch's forward pass on ``x``, on all cores and
    on one chunk, and its dense-equivalent work against the float32 GEMM rate."""
    t_emu = best_of(lambda: run(prog, x), repeats)
    t_one = best_of(lambda: run(prog, x, workers=1), repeats)
    t_torch = best_of(lambda: snntorch_forward(net, x), repeats)
    res = run(prog, x)
    steps_run = x.shape[0] + prog.depth
    rates = {g: round(res.activity.total_spikes(g) / (res.batch * steps_run *
                                                       prog.group(g).n), 4)
             for g in res.activity.groups}
    return {"emulator_s": t_emu, "emulator_one_thread_s": t_one, "snntorch_s": t_torch,
            "speedup_over_snntorch": t_torch / t_emu,
            "parallel_speedup": t_one / t_emu,
            "spike_rate_per_layer": rates,
            "dense_equivalent_flop_fraction_of_f32_gemm":
                2 * dense_macs(prog, x.shape[1], steps_run) / t_emu / gemm_f32}


def lava_marginal(prog, x, small: int, large: int, repeats: int,
                  lava_repeats: int = 1) -> dict:
    """Lava's marginal time per extra sample (start-up excluded: the difference between
    runs of ``small`` and ``large`` samples, each the best of ``lava_repeats``) against the
    emulator's, on the same two subsets and on the whole batch end to end, and whether the
    outputs are identical (Lava's largest run against the emulator's)."""
    # the emulator first: Lava's runtime processes take a while to end after a run, and
    # timed beside them the emulator ran ~40 % slower
    # best of 10: a few ms each, and best of 5 still strayed by 40 % on this machine
    t_emu = {n: best_of(lambda n=n: run(prog, x[:, :n]), max(repeats, 10))
             for n in (small, large)}
    per_emu_full = best_of(lambda: run(prog, x), max(repeats, 10)) / x.shape[1]
    t_lava, out = {}, None
    for n in (small, large):
        for _ in range(lava_repeats):
            t = time.perf_counter()
            res = run(prog, x[:, :n], backend="lava")
            t_lava[n] = min(t_lava.get(n, np.inf), time.perf_counter() - t)
        out = res.output_spike_counts
    same = np.array_equal(out, run(prog, x[:, :large]).output_spike_counts)
    per_lava = (t_lava[large] - t_lava[small]) / (large - small)
    per_emu = (t_emu[large] - t_emu[small]) / (large - small)
    return {"samples": [small, large], "lava_repeats": lava_repeats,
            "lava_s": t_lava[large], "emulator_s": t_emu[large],
            "ratio_whole_run": t_lava[large] / t_emu[large],
            "lava_startup_s": t_lava[small] - small * per_lava,
            "marginal_s_per_sample": {"lava": per_lava, "emulator": per_emu,
                                      "emulator_whole_batch": per_emu_full},
            "ratio_marginal_per_sample": per_lava / per_emu if per_emu > 0 else None,
            "ratio_marginal_vs_emulator_whole_batch": per_lava / per_emu_full,
            "outputs_identical": bool(same)}


def digits_profile(prog, x) -> dict:
    """Where one thread's run() time goes: simulation against counting."""
    from neurocc.backends import payloads
    from neurocc.backends.emulator import EmulatorBackend
    from neurocc.backends.parallel import blas_limit
    from neurocc.cost.activity import ActivityCounter

    p = payloads(prog, x)
    be = EmulatorBackend()
    trace = be.simulate(prog, p)
    names = [g.name for g in prog.groups]

    def count():
        c = ActivityCounter(prog, x.shape[1])
        c.count(p, trace.spikes, trace.liveness(names), trace.lists)   # as run() counts

    with blas_limit(1):
        t_sim = best_of(lambda: be.simulate(prog, p), 5)
        t_count = best_of(count, 5)
    t_step = best_of(lambda: run(prog, x, workers=1, schedule="step"), 3)
    t_run = best_of(lambda: run(prog, x, workers=1), 5)
    return {"simulate_s": t_sim, "count_s": t_count, "run_one_thread_s": t_run,
            "step_major_definition_run_s": t_step,
            "speedup_over_step_major_definition": t_step / t_run,
            "parts_s": run_parts(prog, x)}


PARTS = (
    ("neuron kernels, rows summed from a pattern table", "backends.emulator.kernels",
     "lif_table"),
    ("neuron kernels, from a block of sums", "backends.emulator.kernels", "lif_block"),
    ("synaptic sums (events, tables, products)", "backends.emulator.layered",
     "SynapseBlock.__call__"),
    ("listing a layer's sparse spikes", "backends.emulator.layered", "spike_lists"),
    ("counting, all of it", "cost.activity", "ActivityCounter._rows"),
    ("counting: per row and core, neuron by neuron (spikes, messages, routes, updates)",
     "cost.activity", "_source_rows"),
    ("counting: per row and core, alike sources from their spikes per row", "cost.activity",
     "_uniform_rows"),
    ("counting: per-spike table sums (synapses, messages per core)", "cost.activity",
     "_event_sums"),
    ("counting: step latency", "cost.activity", "step_parts"),
)
"""Where ``run_parts`` times a one-thread run: (label, module, attribute it wraps)."""


def run_parts(prog, x, runs: int = 20) -> dict:
    """Mean seconds a one-thread ``run()`` of ``x`` spends in each of ``PARTS`` (wrapped in
    a timer for the measurement, unwrapped after; nested parts count in their parent too),
    and in the whole run."""
    import importlib

    spent = {label: 0.0 for label, _, _ in PARTS}
    undo = []
    for label, module, attr in PARTS:
        owner = importlib.import_module(f"neurocc.{module}")
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        fn = getattr(owner, name)

        def timed(*a, _fn=fn, _label=label, **k):
            t = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                spent[_label] += time.perf_counter() - t

        setattr(owner, name, timed)
        undo.append((owner, name, fn))
    try:
        run(prog, x, workers=1)
        spent = dict.fromkeys(spent, 0.0)
        t = time.perf_counter()
        for _ in range(runs):
            run(prog, x, workers=1)
        whole = (time.perf_counter() - t) / runs
    finally:
        for owner, name, fn in reversed(undo):
            setattr(owner, name, fn)
    return {"run": whole, **{k: v / runs for k, v in spent.items()}}


def pattern_table(prog, x, repeats: int) -> dict:
    """The digits input layer's synaptic sums (binary spikes, ~22 % dense) from its pattern
    table (``layered.TABLE_BYTES``, four inputs a table row, int16) against the float32
    GEMM the emulator would run without it, one thread, equal results checked."""
    from neurocc.backends import payloads
    from neurocc.backends.emulator import layered
    from neurocc.backends.parallel import blas_limit

    syn = [b for b, p in zip(layered.LayerMajor(prog, x.shape[1]).syn, prog.projections)
           if p.src == "<input>"][0]
    s = payloads(prog, x).reshape(-1, prog.n_inputs)
    with blas_limit(1):
        t_table = best_of(lambda: syn(s, True), max(repeats, 5))
        t_gemm = best_of(lambda: syn._product(s), max(repeats, 5))
        same = bool(np.array_equal(syn(s, True), syn._product(s)))
    return {"table_s": t_table, "gemm_s": t_gemm, "speedup": t_gemm / t_table,
            "table_bytes": int(syn.table.nbytes) if syn.table is not None else None,
            "density": float(np.count_nonzero(s) / s.size), "rows": int(len(s)),
            "equal": same}


def synapse_paths(repeats: int, densities=(0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5)):
    """One 4096 × 4096 projection, 8 steps × 256 samples of binary spikes: the dense GEMM
    path against event-driven accumulation, and the density where they cross."""
    from neurocc.backends.emulator import kernels, layered
    from neurocc.compiler.ir import Dense
    from neurocc.compiler.linalg import spike_lists
    from neurocc.compiler.targets.loihi.numerics import LAVA
    from neurocc.compiler.targets.loihi.program import LoihiProjection

    rng = np.random.default_rng(0)
    n, rows = 4096, 8 * 256
    w = rng.integers(-254, 255, (n, n)) // 2 * 2
    p = LoihiProjection("p", "a", "b", Dense(w.astype(np.int64)), 0, "mixed")

    class _Program:                       # only what SynapseBlock reads
        pass

    syn = layered.SynapseBlock(_Program(), p, LAVA, 1, False)
    f32 = gemm_flops(np.float32)
    out = []
    sf = (rng.random((rows, n)) < 0.1).astype(np.float32)
    t_gemm = best_of(lambda: sf @ syn.wT, repeats)      # the bare product, same shape
    for d in densities:
        s = rng.random((rows, n)) < d
        t_dense = best_of(lambda: s.astype(np.float32) @ syn.wT, repeats)
        t_ev = best_of(lambda: kernels.events(*spike_lists(s, np.count_nonzero(s)),
                                              syn.event_wT, np.empty((rows, n), np.int32)),
                       repeats) if kernels.HAVE_NUMBA else None  # listing the spikes included
        events = float(s.sum()) * n
        out.append({"density": d, "dense_s": t_dense, "events_s": t_ev,
                    "dense_fraction_of_f32_gemm": 2.0 * rows * n * n / t_dense / f32,
                    "dense_fraction_of_same_shape_gemm": t_gemm / t_dense,
                    "events_per_s_one_core": events / t_ev if t_ev else None,
                    "auto_choice": "events" if d < layered.EVENT_DENSITY else "dense"})
    cross = None
    for a, b in zip(out, out[1:]):
        if a["events_s"] and a["events_s"] <= a["dense_s"] and b["events_s"] > b["dense_s"]:
            ra, rb = np.log(a["events_s"] / a["dense_s"]), np.log(b["events_s"] / b["dense_s"])
            cross = float(np.exp(np.log(a["density"]) + (np.log(b["density"]) -
                                                         np.log(a["density"])) * ra / (ra - rb)))
    return {"shape": [rows, n, n], "rows": out, "crossover_density": cross,
            "event_density_constant": layered.EVENT_DENSITY}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lava-samples", type=int, default=260,
                    help="Lava's larger digits subset (the smaller is 20 samples); its "
                         "marginal time per sample is the difference, so a larger one is "
                         "less at the mercy of Lava's noisy start-up")
    ap.add_argument("--lava-repeats", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="skip Lava and the large workloads")
    a = ap.parse_args(argv)
    import neurocc
    from neurocc.api.jit import numba
    from neurocc.models.digits import data

    out: dict = {"machine": {"python": platform.python_version(), "cores": usable_cores(),
                             "numpy": np.__version__,
                             "numba": None if numba is None else numba.__version__,
                             "gemm_f32_flops": gemm_flops(np.float32),
                             "gemm_f64_flops": gemm_flops(np.float64)}}

    # digits: the zoo model on its test split
    x, labels = data.test_inputs()
    prog = compile_nir(NIR, hw="loihi2")
    from neurocc.models.digits.model import build_from_nir

    f32 = out["machine"]["gemm_f32_flops"]
    # a ~10 ms workload on a shared machine: best of 10 runs each side, not 3
    d = emulator_vs_snntorch(prog, build_from_nir(NIR), x, max(a.repeats, 10), f32)
    d.update(digits_profile(prog, x))
    d["pattern_table"] = pattern_table(prog, x, a.repeats)
    d["workload"] = {"samples": int(x.shape[1]), "steps": int(x.shape[0]),
                     "steps_run": int(x.shape[0] + prog.depth), "neurons": prog.n_neurons}
    if not a.quick:
        try:
            d["lava"] = lava_marginal(prog, x, 20, max(21, a.lava_samples), a.repeats,
                                      a.lava_repeats)
        except Exception as e:  # noqa: BLE001 - record why Lava could not be measured
            d["lava"] = {"skipped": f"{type(e).__name__}: {e}"}
    out["digits"] = d

    # mlp: 784-512-512-10
    net = mlp_module([784, 512, 512, 10], gain=3.0)
    xm = spikes((25, 256, 784), 0.2)
    prog = neurocc.compile(net, sample=np.zeros((1, 784), np.float32))
    m = emulator_vs_snntorch(prog, net, xm, a.repeats, f32)
    if not a.quick:
        try:
            m["lava"] = lava_marginal(prog, xm, 2, 6, 1)
        except Exception as e:  # noqa: BLE001
            m["lava"] = {"skipped": f"{type(e).__name__}: {e}"}
    out["mlp"] = m

    if not a.quick:
        for name, build, shape in (
                ("dense4096", lambda: mlp_module([4096, 4096, 4096], gain=4.0), (4096,)),
                ("conv", conv_module, (3, 32, 32))):
            net = build()
            prog = neurocc.compile(net, sample=np.zeros((1, *shape), np.float32))
            rows = {}
            for rate in (0.02, 0.1, 0.5):
                xr = spikes((8, 256, *shape), rate)
                r = emulator_vs_snntorch(prog, net, xr, a.repeats, f32)
                rows[f"{rate:g}"] = r
            out[name] = {"neurons": prog.n_neurons,
                         "synapses": int(sum(p.conn.values.size for p in prog.projections)),
                         "by_input_rate": rows}
        out["synapses"] = synapse_paths(a.repeats)

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "speed.json").write_text(json.dumps(out, indent=1))
    (RESULTS / "speed.md").write_text(render(out))
    print(render(out))
    return out


def _x(v: float) -> str:
    return f"{v:.2f}×" if v < 10 else f"{v:.0f}×"


def render(o: dict) -> str:
    M = o["machine"]
    d = o["digits"]
    w = d["workload"]
    lines = [
        f"Speed, measured side by side in one run on {M['cores']} cores (numpy "
        f"{M['numpy']}, numba {M['numba']}); float32 GEMM roofline "
        f"{M['gemm_f32_flops'] / 1e9:.0f} GFLOP/s, float64 {M['gemm_f64_flops'] / 1e9:.0f} "
        "(numpy's 1024³ product on all cores; larger shapes run somewhat faster). "
        "Emulator = `run()`, simulation and activity counting, spikes identical to the "
        "step-major definition; best of repeated runs.", "",
        "### Targets of issue 9", "", "| target | measured | met |", "|---|---|---|"]

    def row(target, value, met):
        lines.append(f"| {target} | {value} | {'yes' if met else 'no'} |")

    L = d.get("lava", {})
    if "ratio_marginal_per_sample" in L:
        r = L["ratio_marginal_vs_emulator_whole_batch"]
        m = L["marginal_s_per_sample"]
        row("digits: ≥ 1000× faster end to end than Lava's marginal per-sample time",
            f"{_x(r)}: Lava {m['lava'] * 1e3:.1f} ms per extra sample (runs of "
            f"{L['samples'][0]} and {L['samples'][1]} samples, best of "
            f"{L.get('lava_repeats', 1)}) against the emulator's whole split, "
            f"{m['emulator_whole_batch'] * 1e6:.1f} µs a sample; "
            f"{_x(L['ratio_marginal_per_sample'])} against the emulator's own marginal "
            f"time on the same subsets; outputs identical: {L['outputs_identical']}",
            r >= 1000)
    row("digits: ≥ 2× faster than snnTorch's float32 forward pass",
        f"{_x(d['speedup_over_snntorch'])} ({w['samples']} samples × {w['steps_run']} steps)",
        d["speedup_over_snntorch"] >= 2)
    if "synapses" in o:
        S = o["synapses"]
        dense = min(r["dense_fraction_of_f32_gemm"] for r in S["rows"])
        same = min(r["dense_fraction_of_same_shape_gemm"] for r in S["rows"])
        row("large layers: dense accumulation ≥ 50 % of the float32 GEMM rate",
            f"{dense:.0%} of the 1024³ roofline, {same:.0%} of a bare product of the same "
            "shape (4096 × 4096 projection, 2048 rows, conversion included)", dense >= 0.5)
        ev = [r["events_per_s_one_core"] for r in S["rows"] if r["events_per_s_one_core"]]
        if ev:
            row("event-driven path ≥ 10^8 synaptic events / s / core",
                f"{min(ev):.1e} – {max(ev):.1e} (one core)", min(ev) >= 1e8)
        cross = S["crossover_density"]
        row("crossover measured; the choice automatic",
            f"events win below {cross:.1%} spike density; the emulator switches below "
            f"{S['event_density_constant']:.0%}" if cross else "no crossover found",
            cross is not None)
    row("parallel: every core by default, identical results",
        f"{_x(d['parallel_speedup'])} on digits, {_x(o['mlp']['parallel_speedup'])} on the "
        f"MLP: chunks on every core against one chunk (`workers=1`: one thread, BLAS "
        f"included); identity: tests/test_parallel.py",
        d["parallel_speedup"] > 1)
    lines += ["", "### Workloads", "",
              "| workload | emulator vs snnTorch float32 | chunks vs one chunk | "
              "dense-equivalent FLOP/s vs f32 GEMM | spike rates per layer |",
              "|---|---|---|---|---|"]

    def wl(name, r):
        rates = ", ".join(f"{v:.1%}" for v in r["spike_rate_per_layer"].values())
        lines.append(f"| {name} | {_x(r['speedup_over_snntorch'])} | "
                     f"{_x(r['parallel_speedup'])} | "
                     f"{r['dense_equivalent_flop_fraction_of_f32_gemm']:.0%} | {rates} |")

    wl(f"digits ({w['samples']} × {w['steps_run']} steps, {w['neurons']} neurons)", d)
    wl("MLP 784-512-512-10 (256 × 25 steps, 20 % input)", o["mlp"])
    for name, label in (("dense4096", "4096-4096-4096"), ("conv", "conv 3×32×32")):
        if name in o:
            for rate, r in o[name]["by_input_rate"].items():
                wl(f"{label} (256 × 8 steps, {float(rate):.0%} input)", r)
    lines += ["", "faster than snnTorch when above 1×.", ""]
    lines += ["### Where the digits run's time goes (one thread)", "",
              f"simulation {d['simulate_s'] * 1e3:.1f} ms, activity counting "
              f"{d['count_s'] * 1e3:.1f} ms; the layer-major run is "
              f"{_x(d['speedup_over_step_major_definition'])} faster than the step-major "
              "definition (`schedule=\"step\"`).", ""]
    parts = d.get("parts_s")
    if parts:
        lines += ["| one-thread `run()`, timed by part (timers included) | ms |", "|---|---|",
                  f"| whole run | {parts['run'] * 1e3:.2f} |"]
        lines += [f"| {k} | {v * 1e3:.2f} |" for k, v in parts.items() if k != "run"]
        lines += ["", "The rest is numpy and Python between them (allocating, reshaping, "
                  "the counter's per-source products), the chunking and the merge.", ""]
    P = d.get("pattern_table")
    if P and P["table_bytes"]:
        lines += [f"Its input layer's sums ({P['rows']} rows of 64 binary inputs, "
                  f"{P['density']:.0%} spikes) from the layer's pattern table "
                  f"({P['table_bytes'] / 1024:.0f} KiB, `layered.TABLE_BYTES`): "
                  f"{_x(P['speedup'])} faster than the float32 GEMM, one thread, equal: "
                  f"{P['equal']}.", ""]
    for key, label in (("digits", "digits"), ("mlp", "MLP")):
        L = o[key].get("lava", {})
        if "ratio_whole_run" in L:
            lines.append(f"Lava (Loihi2SimCfg fixed_pt) on {label}: whole run "
                         f"{_x(L['ratio_whole_run'])} slower, marginal per sample "
                         f"{_x(L['ratio_marginal_per_sample'])} slower (samples "
                         f"{L['samples'][0]} and {L['samples'][1]}), outputs identical: "
                         f"{L['outputs_identical']}.")
        elif "skipped" in L:
            lines.append(f"Lava on {label}: not measured ({L['skipped']}).")
    if "synapses" in o:
        S = o["synapses"]
        lines += ["", "### One 4096 × 4096 projection's synaptic phase (2048 rows)", "",
                  "| spike density | dense GEMM vs f32 roofline | event-driven, events/s "
                  "(one core) | events / dense time | emulator picks |",
                  "|---|---|---|---|---|"]
        for r in S["rows"]:
            ev = r["events_per_s_one_core"]
            lines.append(f"| {r['density']:.1%} | {r['dense_fraction_of_f32_gemm']:.0%} | "
                         f"{ev:.2e} | {r['events_s'] / r['dense_s']:.2f} | "
                         f"{r['auto_choice']} |" if ev else
                         f"| {r['density']:.1%} | {r['dense_fraction_of_f32_gemm']:.0%} | – | "
                         f"– | dense |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
