"""``neurocc demo``: the whole chain on a zoo model (digits by default), measured, in one
command.

snnTorch model (committed ``.nir``) → float quality in snnTorch → compile for a Loihi chip →
bit-exact emulator on the held-out test split → quality, spike-count agreement with the float
model, spikes and synaptic ops per layer, energy and latency per inference, and the hardware
assumptions behind them. Everything model-specific comes through the ``ZooModel`` protocol.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from neurocc.backends.run import run
from neurocc.compiler.pipeline import compile_nir
from neurocc.cost.energy import ASSUMPTIONS
from neurocc.models import zoo
from neurocc.reports.run import counts_agreement, fmt_j, fmt_s, run_report


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(msg, file=sys.stderr, flush=True)


def demo(hw: str = "loihi2", retrain: bool = False, progress: bool = True,
         out_dir: str | Path | None = None, model: str = "digits") -> dict:
    zm = zoo.get(model)
    out_dir = Path(out_dir or f"out/{model}")
    nir_path, metrics_path = Path(zm.NIR_PATH), Path(zm.METRICS_PATH)
    timings = {}
    if retrain:
        _log(progress, f"retraining the {model} model into {out_dir} ...")
        t0 = time.perf_counter()
        zm.train(seed=0, out_dir=out_dir, progress=progress)
        timings["train_s"] = time.perf_counter() - t0
        nir_path, metrics_path = out_dir / "model.nir", out_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    x, labels = zm.test_inputs()
    metric = zm.METRIC

    # 1. the float model, as trained: snnTorch rebuilt from the .nir file
    _log(progress, "float model (snnTorch, rebuilt from the .nir file) on the test split ...")
    t0 = time.perf_counter()
    try:
        flt = zm.float_score(nir_path)
        float_source = "snnTorch, rebuilt from the .nir file"
    except ImportError:  # torch not installed: the float NIR reference stands in
        flt = None
        float_source = "unavailable (torch not installed)"
    timings["snntorch_s"] = time.perf_counter() - t0

    # 2. compile for the chip
    _log(progress, f"compiling for {hw} ...")
    t0 = time.perf_counter()
    compile_kw = {k: metrics.get(k, v) for k, v in zm.COMPILE.items()}
    prog = compile_nir(nir_path, hw=hw, **compile_kw)
    timings["compile_s"] = time.perf_counter() - t0

    # 3. the bit-exact emulator and the float reference on the whole test split
    _log(progress, f"emulating {x.shape[1]} test samples × {x.shape[0]} steps ...")
    fixed = run(prog, x, backend="emulator", record="all")   # per-layer agreement below
    timings["emulator_s"] = fixed.wall_s
    ref = run(prog, x, backend="reference", record="all")
    timings["reference_s"] = ref.wall_s

    decode = getattr(zm, "decode", None)
    rep = run_report(fixed)
    layers = []
    for L in rep["layers"]:
        a = fixed.trace.spikes[L["name"]].sum(axis=0)
        b = ref.trace.spikes[L["name"]].sum(axis=0)
        layers.append({**{k: L[k] for k in ("name", "nir_node", "kind", "neurons",
                                             "spikes_per_inference", "synops_in_per_inference",
                                             "energy_per_inference_j", "saturation")},
                       "shape": list(prog.group(L["name"]).shape),
                       "float_spikes_per_inference": float(b.sum()) / x.shape[1],
                       "agreement_with_float": counts_agreement(a, b)})
    out = {
        "model": model, "metric": metric,
        "hw": prog.hw.name, "hw_description": prog.hw.description,
        "test_samples": int(x.shape[1]), "steps": int(x.shape[0]),
        "encoding": getattr(zm, "ENCODING", "rate code"),
        "semantics": rep["semantics"],
        "float_accuracy": flt[metric] if flt else None,
        "float_accuracy_source": float_source,
        "float_accuracy_committed": metrics.get(f"float_test_{metric}"),
        "reference_accuracy": zm.score(ref, labels)[metric],
        "emulator_accuracy": zm.score(fixed, labels)[metric],
        "prediction_agreement_emulator_vs_float": (
            float(np.mean(decode(fixed.output_spike_counts) == decode(ref.output_spike_counts)))
            if decode else None),
        "output_counts_vs_snntorch": (counts_agreement(fixed.output_spike_counts,
                                                       flt["counts"])
                                      if flt and "counts" in flt else None),
        "layers": layers,
        "spikes_per_inference": rep["spikes_per_inference"],
        "synops_per_inference": rep["synops_per_inference"],
        "energy_per_inference_j": rep["energy_per_inference_j"],
        "energy_breakdown_j": rep["energy_breakdown_j"],
        "energy_dynamic_per_inference_j": rep["energy_dynamic_per_inference_j"],
        "energy_static_per_inference_j": rep["energy_static_per_inference_j"],
        "latency_per_inference_s": rep["latency_per_inference_s"],
        "latency_breakdown_s": rep["latency_breakdown_s"],
        "cores_used": rep["cores_used"], "chips_used": rep["chips_used"],
        "quantization": prog.report.to_dict(),
        "model_assumptions": list(ASSUMPTIONS),
        "hw_assumptions": {k: v for k, v in rep["hw_constants"].items() if v["assumption"]},
        "hw_constants": rep["hw_constants"],
        "timings_s": timings,
    }
    return out


def render_demo(d: dict) -> str:
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    sem = d["semantics"]
    lines = [
        f"neurocc demo — digits (scikit-learn, {d['test_samples']} held-out test images, "
        f"{d['steps']} steps each) on {d['hw']}",
        f"  {d['hw_description']}",
        f"  dt = {sem['dt_s']:g} s, reset = {sem['reset']}, {sem['discretization']}; "
        f"{sem['fixed_point']}",
        "",
        f"{d['metric']:<10} float (snnTorch)   {pct(d['float_accuracy'])}   "
        f"(committed metrics: {pct(d['float_accuracy_committed'])})",
        f"           float NIR reference {pct(d['reference_accuracy'])}",
        f"           emulator (Loihi fixed point) {pct(d['emulator_accuracy'])}   "
        f"predictions equal to float: {pct(d['prediction_agreement_emulator_vs_float'])}",
    ]
    if d["output_counts_vs_snntorch"]:
        c = d["output_counts_vs_snntorch"]
        lines.append(f"           output spike counts vs snnTorch: {pct(c['exact_fraction'])} of "
                     f"samples identical, relative L1 {c['relative_l1']:.3f}, r = "
                     f"{c['pearson_r']:.4f}")
    lines += ["", f"{'layer (NIR node, shape)':<24}{'spikes/inf':>11}{'(float)':>9}"
                  f"{'synops/inf':>12}{'energy/inf':>12}  count agreement (rel. L1)"]
    for L in d["layers"]:
        label = f"{L['name'][:8]} {L['kind'].upper()} {'x'.join(map(str, L['shape']))}"
        lines.append(f"{label[:23]:<24}{L['spikes_per_inference']:>11.1f}"
                     f"{L['float_spikes_per_inference']:>9.1f}{L['synops_in_per_inference']:>12.1f}"
                     f"{fmt_j(L['energy_per_inference_j']):>12}  "
                     f"{L['agreement_with_float']['relative_l1']:.3f}")
    b = d["energy_breakdown_j"]
    lines += [
        "",
        f"energy per inference  {fmt_j(d['energy_per_inference_j'])}  = dynamic "
        f"{fmt_j(d['energy_dynamic_per_inference_j'])} ("
        + " + ".join(f"{k.replace('_', ' ')} {fmt_j(v)}" for k, v in b.items()
                     if v and k != "static")
        + f") + static {fmt_j(d['energy_static_per_inference_j'])}",
        f"latency per inference {fmt_s(d['latency_per_inference_s'])}  "
        f"({d['latency_breakdown_s']['steps']} steps on {d['cores_used']} core(s), "
        f"{d['chips_used']} chip(s); barrier {fmt_s(d['latency_breakdown_s']['barrier_per_step'])}"
        f"/step; serial upper bound {fmt_s(d['latency_breakdown_s']['serial_upper_bound_s'])})",
        f"spikes {d['spikes_per_inference']:.0f}, synaptic ops {d['synops_per_inference']:.0f} "
        "per inference",
        "",
        "assumptions of the model:",
        *[f"  - {a}" for a in d["model_assumptions"]],
        f"hardware constants marked as assumptions in {d['hw']}.toml "
        f"({len(d['hw_assumptions'])}; see neurocc hw {d['hw']}):",
        *[f"  - {k} = {v['value']} {v['unit']}: {v['source']}"
          for k, v in list(d["hw_assumptions"].items())[:6]],
    ]
    if len(d["hw_assumptions"]) > 6:
        lines.append(f"  - ... and {len(d['hw_assumptions']) - 6} more")
    t = d["timings_s"]
    lines.append("")
    lines.append("wall time: " + ", ".join(f"{k[:-2]} {v:.2f} s" for k, v in t.items()))
    return "\n".join(lines)
