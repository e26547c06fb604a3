"""What a compiled program is: layers, fixed-point parameters, rounding errors, placement and
per-core utilisation (``neurocc compile`` and ``neurocc info``)."""

from __future__ import annotations

import numpy as np

from neurocc.compiler.mapping import conv_kernel_bits, synapse_bits_per_neuron
from neurocc.compiler.program import Program
from neurocc.report import semantics


def core_usage(prog: Program) -> list[dict]:
    """Per core: neurons and synaptic memory used versus the config's limits."""
    hw = prog.hw
    rows = []
    for gi, a, b, core in prog.placement.slices:
        g = prog.groups[gi]
        incoming = [p for p in prog.projections if p.dst == g.name]
        bits = sum(int(synapse_bits_per_neuron(p, hw)[a:b].sum()) + conv_kernel_bits(p, hw)
                   for p in incoming)
        rows.append({"core": int(core), "chip": int(core) // hw.mesh.cores_per_chip,
                     "layer": g.name, "neurons": [int(a), int(b)],
                     "neurons_used": int(b - a), "neurons_limit": hw.core.neurons_per_core,
                     "synaptic_memory_bits": bits,
                     "synaptic_memory_limit": hw.core.synaptic_memory_bits_per_core})
    return rows


def program_summary(prog: Program, detail: bool = False) -> dict:
    layers = []
    for g in prog.groups:
        rep = prog.report.get("layers", {}).get(g.name, {})
        layers.append({"name": g.name, "nir_node": g.nir_node, "kind": g.kind,
                       "shape": list(g.shape), "neurons": g.n, "du": g.du, "dv": g.dv,
                       "vth": g.vth if g.spiking else None, "bias_exp": g.bias_exp,
                       "scale_limited_by": rep.get("scale_limited_by"),
                       "threshold_rel_error": rep.get("threshold_rel_error")})
    projections = []
    for p in prog.projections:
        rep = prog.report.get("projections", {}).get(p.name, {})
        w = p.conn.data if p.conn.kind == "sparse" else p.conn.weight
        projections.append({"name": p.name, "src": p.src, "dst": p.dst, "kind": p.conn.kind,
                            "nir_nodes": list(p.nir_nodes), "shape": list(p.conn.shape),
                            "weight_exp": p.weight_exp, "sign_mode": p.sign_mode,
                            "nonzero_weights": int(np.count_nonzero(w)),
                            "weight_rms_rel_error": rep.get("weight_rms_rel_error")})
    usage = core_usage(prog)
    out = {
        "hw": prog.hw.name, "semantics": semantics(prog), "input_shape": list(prog.input_shape),
        "outputs": list(prog.outputs), "pipeline_depth": prog.depth,
        "neurons": prog.n_neurons, "layers": layers, "projections": projections,
        "cores_used": int(len(prog.placement.cores_used)), "chips_used": prog.chips_used,
        "placement_strategy": prog.placement.strategy,
        "warnings": prog.report.get("warnings", []), "source": prog.source,
    }
    if detail:
        out["per_core"] = usage
        out["hw_assumptions"] = prog.hw.assumptions
    return out


def render_summary(s: dict) -> str:
    sem = s["semantics"]
    lines = [f"program for {s['hw']}: {s['neurons']} neurons in {len(s['layers'])} layers, "
             f"{s['cores_used']} core(s) on {s['chips_used']} chip(s); dt = {sem['dt_s']:g} s, "
             f"reset = {sem['reset']}, pipeline depth {s['pipeline_depth']} steps",
             f"{'layer':<12}{'kind':<9}{'neurons':>8}{'du':>6}{'dv':>6}{'vth':>8}  scale limited by"]
    for L in s["layers"]:
        vth = "-" if L["vth"] is None else str(L["vth"])
        lines.append(f"{L['name'][:11]:<12}{L['kind']:<9}{L['neurons']:>8}{L['du']:>6}"
                     f"{L['dv']:>6}{vth:>8}  {L['scale_limited_by']}")
    lines.append(f"{'projection':<22}{'kind':<8}{'exp':>4}{'nonzero':>9}  weight rms error")
    for p in s["projections"]:
        err = p["weight_rms_rel_error"]
        lines.append(f"{p['name'][:21]:<22}{p['kind']:<8}{p['weight_exp']:>4}"
                     f"{p['nonzero_weights']:>9}  {'-' if err is None else f'{err:.2%}'}")
    for c in s.get("per_core", []):
        lines.append(f"core {c['core']:>4} (chip {c['chip']}): {c['layer']}[{c['neurons'][0]}:"
                     f"{c['neurons'][1]}] neurons {c['neurons_used']}/{c['neurons_limit']}, "
                     f"synaptic memory {c['synaptic_memory_bits']}/{c['synaptic_memory_limit']} bits")
    for w in s["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)
