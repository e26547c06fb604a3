"""Generate the README's ANN-baseline and calibration tables; nothing in them is typed by hand.

- ANN baseline: the digits model compiled for loihi2, run on the emulator over all 360 test
  samples, ``RunResult.to_dict(baseline=True)`` (= ``neurocc run --baseline --json``).
- Calibration: ``neurocc.cost.calibrate.calibrate`` on the committed SANA-FE runs
  (``tests/fixtures/calibration/sanafe_runs.json``, from ``scripts/sanafe_measurements.py``)
  against SANA-FE's own figures, and on the lava-dl PilotNet figures.

Replaces the text between ``<!-- energy-tables:start -->`` and ``<!-- energy-tables:end -->``
in ``README.md``.

    .venv/bin/python scripts/energy_tables.py [--no-readme]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- energy-tables:start -->", "<!-- energy-tables:end -->"



def _pct(e: float) -> str:
    """A relative error as a signed percentage, 0 when it rounds to zero (no "-0.00%")."""
    return f"{(0.0 if abs(e) < 5e-5 else e):+.2%}"

def _j(x: float) -> str:
    from neurocc.reports.run import fmt_j

    return fmt_j(x)


def baseline_table() -> str:
    from neurocc.backends import run
    from neurocc.compiler.pipeline import compile_nir
    from neurocc.models import digits

    prog = compile_nir(str(digits.NIR_PATH), **digits.COMPILE)
    x = digits.test_inputs()[0]
    b = run(prog, x).to_dict(baseline=True)["ann_baseline"]
    snn, rows = b["snn"], b["platforms"]
    label = {"fp32_horowitz": "ANN, fp32 arithmetic + SRAM (Horowitz 2014, 45 nm)",
             "int8_accelerator_horowitz": "ANN, int8 accelerator: int8 × int32 + SRAM "
                                          "(Horowitz 2014)",
             "cpu_whole_system": "ANN, CPU whole system (Degnan 2016, i7)",
             "gpu_whole_system": "ANN, GPU whole system (Degnan 2016, Titan Black, full "
                                 "throughput)",
             "arm_whole_system": "ANN, ARM whole system (Degnan 2016, Cortex-A: an edge "
                                 "device)"}
    out = [f"Digits, {x.shape[1]} test samples × {x.shape[0]} steps (+ drain, "
           f"{snn['steps_run']} steps run): the ANN does {b['ann']['macs']:,} MACs per "
           f"inference (NeuroBench Dense {b['neurobench_dense_T_steps']:,} / "
           f"{snn['input_steps']} steps), the SNN {snn['synaptic_ops_per_inference']:,.0f} "
           f"synaptic events ({b['synops_over_ann_macs']:.2f}× the MACs).", "",
           "| per inference | energy | ANN / SNN |", "|---|---|---|",
           f"| SNN on loihi2, dynamic (neurocc) | {_j(snn['dynamic_j'])} | |",
           f"| SNN on loihi2, total with static power (an assumption) | {_j(snn['total_j'])} "
           "| |"]
    for k, r in rows.items():
        cmp_to = "total" if r["includes_static"] else "dynamic"
        out.append(f"| {label[k]} | {_j(r['energy_j'])} | "
                   f"{b['ann_over_snn'][k]['vs_' + cmp_to]:.3g}× the SNN's {cmp_to} |")
    return "\n".join(out)


def calibration_table() -> str:
    from neurocc.cost.calibrate import ENERGY_TERMS, calibrate
    from neurocc.hw_configs import HERE, load_hw

    ref = load_hw("loihi2")           # its [energy]/[latency] are SANA-FE's loihi.yaml figures
    fit = calibrate(ROOT / "tests" / "fixtures" / "calibration" / "sanafe_runs.json", "tiny")
    out = ["| constant | SANA-FE loihi.yaml | fitted from 16 SANA-FE runs | error |",
           "|---|---|---|---|"]
    for t in ENERGY_TERMS:
        key = f"energy.{t}"
        if key in fit.values:
            a, v = getattr(ref.energy, t), fit.values[key]
            out.append(f"| {t} | {a * 1e12:.4g} pJ | {v * 1e12:.4g} pJ | {_pct(v / a - 1)} |")
        else:
            out.append(f"| {t} | {getattr(ref.energy, t) * 1e12:.4g} pJ | not fitted "
                       f"({fit.kept[key]}) | |")
    table = dict(map(tuple, fit.values["latency.barrier_s"]))
    for k, v in ref.latency.barrier_s:
        if table[k] != v:
            out.append(f"| barrier, {k}+ tiles | {v * 1e6:.3g} µs | {table[k] * 1e6:.4g} µs | "
                       f"{_pct(table[k] / v - 1)} |")
    s = fit.residuals["latency"]["scale_of_per_event_latencies"]
    out.append(f"| per-event latencies (one scale) | 1 | {s:.4f} | {_pct(s - 1)} |")
    e, lat = fit.residuals["energy"], fit.residuals["latency"]
    pn = calibrate(HERE / "measurements" / "lava_dl_pilotnet.json", "loihi2")
    st = pn.residuals["static"]
    return "\n".join(out) + (
        f"\n\nEnergy residual: rms {e['rms_relative']:.2%}, max {e['max_abs_relative']:.2%} "
        f"relative over {e['runs']} runs ({e['dof']} degrees of freedom); latency: rms "
        f"{lat['rms_relative']:.2%}, max {lat['max_abs_relative']:.2%}. PilotNet (lava-dl, "
        f"two single-chip Loihi 2 runs, no event counts): static power per chip "
        f"{st['mean_w']:.4f} W from {', '.join(f'{v:.4f}' for v in st['values_w'])} W "
        f"(±{st['max_abs_relative']:.1%}); every per-event constant and latency kept.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-readme", action="store_true")
    a = ap.parse_args(argv)
    text = (f"{START}\n**ANN baseline** (`neurocc run --baseline`; generated by "
            f"`python scripts/energy_tables.py`)\n\n{baseline_table()}\n\n**Calibration** "
            f"(`neurocc calibrate`; same script)\n\n{calibration_table()}\n{END}")
    print(text)
    if not a.no_readme:
        p = ROOT / "README.md"
        s = p.read_text()
        if START not in s:
            print("README.md has no energy-tables markers", file=sys.stderr)
            return 1
        p.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: text, s,
                            flags=re.S))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
