"""The report of one run: a dictionary (the CLI's ``--json``) and its text rendering."""

from __future__ import annotations

import numpy as np

from neurocc.backends.run import RunResult
from neurocc.cost.energy import ASSUMPTIONS
from neurocc.hw_configs import split_key


def semantics(program) -> dict:
    """What the numbers of a run mean: dt, reset, discretisation, whose arithmetic, input."""
    return {"dt_s": program.dt, "reset": program.reset,
            "discretization": "forward Euler (snnTorch's NIR export convention)",
            "fixed_point": program.semantics,
            "input_encoding": program.input_encoding.to_dict()}


def hw_constants(hw) -> dict:
    """Every energy/latency constant used, with unit, source and assumption flag."""
    return {key: {"value": hw.value(key), **meta} for key, meta in hw.sources.items()
            if split_key(key)[0] in ("energy", "latency")}


def run_report(res: RunResult, baseline: bool = False) -> dict:
    """The run's report; ``baseline`` adds ``ann_baseline``, the same network as an ANN on
    conventional hardware beside the SNN's energy (``cost/baseline.py``)."""
    prog = res.program
    act = res.activity
    est = res.estimate
    B = res.batch
    layers = []
    for g in prog.groups:
        synops = sum(act.synops[p.name] for p in prog.incoming(g.name))
        layers.append({
            "name": g.name, "nir_node": g.nir_node, "kind": g.kind, "neurons": g.n,
            "spikes": int(act.spikes[g.name].sum()),
            "spikes_per_inference": float(act.spikes[g.name].sum()) / B,
            "synops_in": int(synops), "synops_in_per_inference": synops / B,
            "energy_per_inference_j": est.by_layer_j[g.name]["total"],
            "saturation": (res.trace.saturation or {}).get(g.name),
        })
    synops_total = float(sum(act.synops.values()))
    out = {
        "backend": res.backend, "hw": prog.hw.name, "steps": res.steps, "batch": B,
        "steps_run": res.steps_run, "pipeline_depth": prog.depth,
        "semantics": semantics(prog),
        "output_spike_counts": res.output_spike_counts.astype(int).tolist(),
        "layers": layers,
        "synops": int(synops_total), "synops_per_inference": synops_total / B,
        "spikes": int(act.total_spikes()), "spikes_per_inference": act.total_spikes() / B,
        "energy_per_inference_j": est.energy_j,
        "energy_dynamic_per_inference_j": est.dynamic_j,
        "energy_static_per_inference_j": est.static_j,
        "energy_breakdown_j": est.breakdown_j,
        "energy_by_layer_j": est.by_layer_j,
        "latency_per_inference_s": est.latency_s,
        "latency_breakdown_s": est.latency_breakdown_s,
        "counts_per_inference": est.counts,
        "neuron_update_rule": ("membrane nonzero before the step, input or bias (SANA-FE)"
                               if act.membrane_traced else "input or bias only: this backend "
                               "does not trace the membrane, so updates are a lower bound"),
        "cores_used": int(len(prog.placement.cores_used)), "chips_used": est.chips,
        "per_core": est.per_core,
        "model_assumptions": list(ASSUMPTIONS),
        "hw_constants": hw_constants(prog.hw),
        "wall_s": res.wall_s,
    }
    if baseline:
        from neurocc.cost.baseline import baseline as ann_baseline

        out["ann_baseline"] = ann_baseline(prog, res)
    if res.output_membranes:
        out["output_membrane_final"] = {k: v[-1].tolist() for k, v in
                                        res.output_membranes.items()}
    return out


def fmt_j(x: float) -> str:
    for unit, f in (("J", 1), ("mJ", 1e-3), ("µJ", 1e-6), ("nJ", 1e-9), ("pJ", 1e-12)):
        if abs(x) >= f or unit == "pJ":
            return f"{x / f:.3g} {unit}"
    return f"{x:g} J"


def fmt_s(x: float) -> str:
    for unit, f in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(x) >= f or unit == "ns":
            return f"{x / f:.3g} {unit}"
    return f"{x:g} s"


def render_run(rep: dict) -> str:
    lines = [
        f"backend {rep['backend']} on {rep['hw']}: {rep['batch']} sample(s) × {rep['steps']} "
        f"steps (+{rep['steps_run'] - rep['steps']} drain), dt = {rep['semantics']['dt_s']:g} s, "
        f"reset = {rep['semantics']['reset']}",
        f"{'layer':<14}{'neurons':>9}{'spikes/inf':>12}{'synops/inf':>12}{'energy/inf':>12}",
    ]
    for L in rep["layers"]:
        lines.append(f"{L['name'][:13]:<14}{L['neurons']:>9}{L['spikes_per_inference']:>12.1f}"
                     f"{L['synops_in_per_inference']:>12.1f}"
                     f"{fmt_j(L['energy_per_inference_j']):>12}")
    lines.append(f"energy per inference {fmt_j(rep['energy_per_inference_j'])} = dynamic "
                 f"{fmt_j(rep['energy_dynamic_per_inference_j'])} (" + ", ".join(
                     f"{k} {fmt_j(v)}" for k, v in rep["energy_breakdown_j"].items()
                     if k != "static") + f") + static "
                 f"{fmt_j(rep['energy_static_per_inference_j'])}")
    lat = rep["latency_breakdown_s"]
    sched = lat.get("scheduled_per_inference_s")
    lines.append(f"latency per inference {fmt_s(rep['latency_per_inference_s'])} (serial upper "
                 f"bound {fmt_s(lat['serial_upper_bound_s'])}"
                 + (f"; every message in order, as SANA-FE's detailed model: {fmt_s(sched)}"
                    if sched is not None else "")
                 + f") on {rep['cores_used']} core(s), "
                 f"{rep['chips_used']} chip(s); wall {rep['wall_s']:.3f} s")
    if "ann_baseline" in rep:
        from neurocc.cost.baseline import render_baseline

        lines.extend(render_baseline(rep["ann_baseline"]))
    sat = {L["name"]: L["saturation"] for L in rep["layers"] if L["saturation"]
           and any(L["saturation"].values())}
    if sat:
        lines.append("saturation/wrap events: " + "; ".join(
            f"{k}: " + ", ".join(f"{a} {b}" for a, b in v.items() if b) for k, v in sat.items()))
    return "\n".join(lines)


def counts_agreement(a: np.ndarray, b: np.ndarray) -> dict:
    """How closely two (B, n) spike-count arrays agree."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    denom = max(float(np.abs(b).sum()), 1.0)
    return {"exact_fraction": float(np.mean(np.all(a == b, axis=1))),
            "relative_l1": float(np.abs(a - b).sum() / denom),
            "pearson_r": float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
            if a.size > 1 and a.std() > 0 and b.std() > 0 else 1.0}
