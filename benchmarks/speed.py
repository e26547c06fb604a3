"""Speed, measured side by side in one run: emulator vs Lava, emulator vs snnTorch, and the
emulator against this machine's own GEMM roofline, on the digits test split.

Only ratios are meant to be quoted: the machines are shared and noisy. Every timing is the
minimum of ``repeats`` runs. Writes ``benchmarks/results/speed.json`` and ``speed.md``.

    python -m neurocc.benchmarks.speed [--lava-samples 80] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from neurocc.backends import run
from neurocc.compiler.ir import Conv, Sparse
from neurocc.compiler.pipeline import compile_nir
from neurocc.models.digits import NIR_PATH as NIR

RESULTS = Path(__file__).resolve().parent / "results"


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def gemm_flops(n: int = 1024, repeats: int = 5) -> float:
    """This machine's float64 GEMM rate (FLOP/s), the roofline for the emulator's matmuls."""
    a = np.random.default_rng(0).random((n, n))
    b = np.random.default_rng(1).random((n, n))
    a @ b
    return 2 * n**3 / best_of(lambda: a @ b, repeats)


def dense_macs(prog, batch: int, steps: int) -> float:
    """Multiply-accumulates of the emulator's synapse phase if every synapse is computed
    (what it does: dense matmuls — small convs as their explicit matrix — and im2col
    convolutions over all inputs, every step)."""
    from neurocc.backends.emulator.engine import SMALL_CONV

    total = 0
    for p in prog.projections:
        c = p.conn
        if isinstance(c, Conv) and c.shape[0] * c.shape[1] <= SMALL_CONV:
            total += c.shape[0] * c.shape[1]
        elif isinstance(c, Conv):
            total += int(np.prod(c.out_shape)) * int(np.prod(c.weight.shape[1:]))
        elif isinstance(c, Sparse):
            total += c.shape[0] * c.n_pre if c.shape[0] * c.n_pre <= 2**24 else c.data.size
        else:
            total += c.weight.size
    return float(total) * batch * steps


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lava-samples", type=int, default=80)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    from neurocc.models.digits import data

    x, labels = data.test_inputs()
    prog = compile_nir(NIR, hw="loihi2")
    steps_run = x.shape[0] + prog.depth
    out: dict = {"machine": {"python": platform.python_version(), "cpu_count": 2,
                             "numpy": np.__version__},
                 "workload": {"model": "digits", "samples": int(x.shape[1]),
                              "steps": int(x.shape[0]), "steps_run": steps_run,
                              "neurons": prog.n_neurons}}

    # emulator: the whole split, backend time only (run() also counts activity)
    from neurocc.backends import payloads
    from neurocc.backends.emulator import EmulatorBackend

    payload = payloads(prog, x)
    be = EmulatorBackend()
    t_emu = best_of(lambda: be.simulate(prog, payload), a.repeats)
    t_emu_full = best_of(lambda: run(prog, x), a.repeats)
    flops = gemm_flops()
    macs = dense_macs(prog, x.shape[1], steps_run)
    out["emulator"] = {"backend_s": t_emu, "run_with_activity_counting_s": t_emu_full,
                       "sample_steps_per_s": x.shape[1] * steps_run / t_emu,
                       "dense_equivalent_macs": macs,
                       "achieved_flops": 2 * macs / t_emu,
                       "gemm_roofline_flops": flops,
                       "fraction_of_gemm_roofline": 2 * macs / t_emu / flops}

    # snnTorch: the float model on the same inputs
    try:
        import torch

        from neurocc.models.digits.evaluate import score
        from neurocc.models.digits.model import build_from_nir

        torch.set_num_threads(2)
        net = build_from_nir(NIR)
        t_torch = best_of(lambda: score(net, x, labels), a.repeats)
        out["snntorch"] = {"s": t_torch, "ratio_snntorch_over_emulator": t_torch / t_emu}
    except ImportError as e:
        out["snntorch"] = {"skipped": str(e)}

    # Lava: one runtime per run (every sample multiplexed in time). Two batch sizes give both
    # the whole-run ratio and the marginal (steady-state) cost per sample, start-up excluded.
    try:
        small, large = max(1, a.lava_samples // 4), a.lava_samples
        t_lava = {n: best_of(lambda n=n: run(prog, x[:, :n], backend="lava"), 1)
                  for n in (small, large)}
        t_emu_sub = {n: best_of(lambda n=n: run(prog, x[:, :n]), a.repeats)
                     for n in (small, large)}
        same = np.array_equal(run(prog, x[:, :large], backend="lava").output_spike_counts,
                              run(prog, x[:, :large]).output_spike_counts)
        per_lava = (t_lava[large] - t_lava[small]) / (large - small)
        per_emu = (t_emu_sub[large] - t_emu_sub[small]) / (large - small)
        out["lava"] = {"samples": large, "s": t_lava[large],
                       "emulator_same_subset_s": t_emu_sub[large],
                       "ratio_lava_over_emulator": t_lava[large] / t_emu_sub[large],
                       "lava_startup_s": t_lava[small] - small * per_lava,
                       "marginal_s_per_sample": {"lava": per_lava, "emulator": per_emu},
                       "ratio_marginal_per_sample": per_lava / per_emu if per_emu > 0
                       else None,
                       "outputs_identical": bool(same)}
    except Exception as e:  # noqa: BLE001 - record why Lava could not be measured
        out["lava"] = {"skipped": f"{type(e).__name__}: {e}"}

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "speed.json").write_text(json.dumps(out, indent=1))
    (RESULTS / "speed.md").write_text(render(out))
    print(render(out))
    return out


def render(o: dict) -> str:
    e = o["emulator"]
    w = o["workload"]
    lines = [f"Speed on the digits test split ({w['samples']} samples × {w['steps_run']} steps, "
             f"{w['neurons']} neurons); best of repeated runs, ratios measured side by side:", "",
             "| comparison | ratio |", "|---|---|"]
    if "ratio_lava_over_emulator" in o.get("lava", {}):
        L = o["lava"]
        lines.append(f"| Lava (Loihi2SimCfg fixed_pt, {L['samples']} samples, one runtime) / "
                     f"emulator, same samples | {L['ratio_lava_over_emulator']:.0f}× slower "
                     f"(outputs identical: {L['outputs_identical']}) |")
        if L.get("ratio_marginal_per_sample"):
            lines.append(f"| Lava / emulator, marginal time per extra sample (Lava start-up "
                         f"excluded) | {L['ratio_marginal_per_sample']:.0f}× slower |")
    if "ratio_snntorch_over_emulator" in o.get("snntorch", {}):
        lines.append(f"| snnTorch float (CPU, 2 threads) / emulator | "
                     f"{o['snntorch']['ratio_snntorch_over_emulator']:.2f}× |")
    lines.append(f"| emulator achieved FLOP/s / float64 GEMM roofline | "
                 f"{e['fraction_of_gemm_roofline']:.1%} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
