"""What a compiled program is: layers, fixed-point parameters, rounding errors, placement,
routes and per-core utilisation (``neurocc compile`` and ``neurocc info``)."""

from __future__ import annotations

import numpy as np

from neurocc.compiler.mesh import core_xy
from neurocc.compiler.resources import SourceIndex, fanins, out_degree, slice_sources
from neurocc.reports.run import semantics

RESOURCES = (("neurons", "neurons_per_core"),
             ("synaptic_memory_bits", "synaptic_memory_bits_per_core"),
             ("input_axons", "input_axons_per_core"),
             ("output_axons", "output_axons_per_core"))
"""Per-core resources: the key in ``core_usage`` rows and the ``[core]`` limit in the config."""

PER_CORE_LINES = 32
"""Cores listed one per line in the text summary (all of them are in ``--json``)."""


def _analyse(prog):
    index = SourceIndex.build(prog.groups, prog.n_inputs)
    fan = fanins(prog.groups, prog.projections, index, prog.hw)
    return index, fan, slice_sources(fan, prog.placement.slices)


def core_usage(prog, analysis=None) -> list[dict]:
    """Per core: neurons, synaptic memory (bits), input and output axons, each used versus
    the config's limit and as a percentage (definitions in ``compiler/resources.py``)."""
    hw = prog.hw
    m = hw.mesh
    index, fan, src = analysis or _analyse(prog)
    slices = prog.placement.slices
    degree = out_degree(src, index.total)
    off = index.offsets
    x, y, _, _ = core_xy(slices[:, 3], hw)
    rows = []
    for k, (gi, a, b, core) in enumerate(slices):
        used = {"neurons": int(b - a),
                "synaptic_memory_bits": fan[gi].memory(int(a), int(b)),
                "input_axons": int(src.counts[k]),
                "output_axons": int(degree[off[gi + 1] + a:off[gi + 1] + b].sum())}
        row = {"core": int(core), "chip": int(core) // m.cores_per_chip,
               "tile": [int(x[k]) % m.tile_mesh[0], int(y[k]) % m.tile_mesh[1]],
               "layer": prog.groups[gi].name, "neurons": [int(a), int(b)],
               "neurons_used": used["neurons"], "neurons_limit": hw.core.neurons_per_core,
               "synaptic_memory_bits": used["synaptic_memory_bits"],
               "synaptic_memory_limit": hw.core.synaptic_memory_bits_per_core,
               "input_axons": used["input_axons"],
               "input_axons_limit": hw.core.input_axons_per_core,
               "output_axons": used["output_axons"],
               "output_axons_limit": hw.core.output_axons_per_core}
        for key, limit in RESOURCES:
            row[f"{key}_pct"] = round(100.0 * used[key] / getattr(hw.core, limit), 2)
        rows.append(row)
    return rows


def utilisation(rows: list[dict]) -> dict:
    """Per resource: the fullest core's and the mean percentage of the limit."""
    out = {}
    for key, _ in RESOURCES:
        pct = [r[f"{key}_pct"] for r in rows]
        out[key] = {"max_pct": max(pct, default=0.0),
                    "mean_pct": round(sum(pct) / len(pct), 2) if pct else 0.0}
    return out


def program_summary(prog, detail: bool = False) -> dict:
    """The program as a dictionary; ``detail`` adds per-core utilisation and routes (these
    are recomputed from the placement, which takes a few seconds for a full chip)."""
    layers = []
    for g in prog.groups:
        rep = prog.report.layers.get(g.name)
        layers.append({"name": g.name, "nir_node": g.nir_node, "kind": g.kind,
                       "shape": list(g.shape), "neurons": g.n, "du": g.du, "dv": g.dv,
                       "vth": g.vth if g.spiking else None, "bias_exp": g.bias_exp,
                       "scale_limited_by": rep.scale_limited_by if rep else None,
                       "threshold_rel_error": rep.threshold_rel_error if rep else None})
    projections = []
    for p in prog.projections:
        rep = prog.report.projections.get(p.name)
        projections.append({"name": p.name, "src": p.src, "dst": p.dst, "kind": p.conn.kind,
                            "nir_nodes": list(p.nir_nodes), "shape": list(p.conn.shape),
                            "weight_exp": p.weight_exp, "sign_mode": p.sign_mode,
                            "nonzero_weights": int(np.count_nonzero(p.conn.values)),
                            "weight_rms_rel_error": rep.weight_rms_rel_error if rep else None,
                            # synaptic delays (NIR Delay nodes), steps; 0 without
                            "max_delay_steps": 0 if getattr(p, "delay", None) is None
                            else int(p.delay.max)})
    out = {
        "hw": prog.hw.name, "semantics": semantics(prog), "input_shape": list(prog.input_shape),
        "outputs": list(prog.outputs), "pipeline_depth": prog.depth,
        "neurons": prog.n_neurons, "layers": layers, "projections": projections,
        "cores_used": int(len(prog.placement.cores_used)), "chips_used": prog.chips_used,
        "placement_strategy": prog.placement.strategy,
        "placement": _placement(prog),
        "warnings": list(prog.report.warnings), "source": prog.source,
    }
    if detail:
        usage = core_usage(prog)
        out["utilisation"] = utilisation(usage)
        out["routes"] = prog.routes.totals()
        out["busiest_link"] = out["routes"]["busiest_link"]
        out["per_core"] = usage
        out["hw_assumptions"] = prog.hw.assumptions
    return out


def _placement(prog) -> dict:
    """How the program was placed and its traffic estimate (from ``placement.stats``)."""
    st = prog.placement.stats or {}
    keep = ("estimate", "traffic", "in_order_traffic", "hops_reduction_vs_in_order",
            "routing_energy_reduction_vs_in_order", "passes", "moves", "swaps", "stopped",
            "layers")
    return {"strategy": prog.placement.strategy, **{k: st[k] for k in keep if k in st}}


def render_summary(s: dict) -> str:
    sem = s["semantics"]
    lines = [f"program for {s['hw']}: {s['neurons']} neurons in {len(s['layers'])} layers, "
             f"{s['cores_used']} core(s) on {s['chips_used']} chip(s); dt = {sem['dt_s']:g} s, "
             f"reset = {sem['reset']}, pipeline depth {s['pipeline_depth']} steps",
             f"{'layer':<12}{'kind':<9}{'neurons':>8}{'du':>6}{'dv':>6}{'vth':>8}"
             "  scale limited by"]
    for L in s["layers"]:
        vth = "-" if L["vth"] is None else str(L["vth"])
        lines.append(f"{L['name'][:11]:<12}{L['kind']:<9}{L['neurons']:>8}{L['du']:>6}"
                     f"{L['dv']:>6}{vth:>8}  {L['scale_limited_by']}")
    lines.append(f"{'projection':<22}{'kind':<8}{'exp':>4}{'nonzero':>9}  weight rms error")
    for p in s["projections"]:
        err = p["weight_rms_rel_error"]
        delay = p.get("max_delay_steps", 0)
        lines.append(f"{p['name'][:21]:<22}{p['kind']:<8}{p['weight_exp']:>4}"
                     f"{p['nonzero_weights']:>9}  {'-' if err is None else f'{err:.2%}'}"
                     + (f"  (delays up to {delay} steps)" if delay else ""))
    lines += _render_mapping(s)
    for w in s["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def _render_mapping(s: dict) -> list[str]:
    pl = s.get("placement", {})
    lines = [f"placement {pl.get('strategy', s['placement_strategy'])}: {s['cores_used']} "
             f"core(s) on {s['chips_used']} chip(s)"]
    t, base = pl.get("traffic"), pl.get("in_order_traffic")
    if t:
        line = (f"  estimated traffic if every neuron spikes once: {t['messages']} messages, "
                f"{t['hops']} tile hops, {t['chip_crossings']} chip crossings")
        if base and pl["strategy"] != "in-order":
            line += (f" (in-order: {base['hops']} hops, {base['chip_crossings']} crossings; "
                     f"{pl['hops_reduction_vs_in_order']:.0%} fewer hops + crossings)")
        lines.append(line)
    link = s.get("busiest_link")
    if link:
        f, to = link["from"], link["to"]
        kind = "chip-to-chip link" if link["chip_to_chip"] else "tile link"
        lines.append(f"  busiest link: chip {f['chip']} tile {tuple(f['tile'])} -> chip "
                     f"{to['chip']} tile {tuple(to['tile'])} ({link['direction']}, {kind}): "
                     f"{link['messages']:g} messages if every neuron spikes once")
    use = s.get("utilisation")
    if use:
        lines.append("  utilisation, fullest core / mean: " + ", ".join(
            f"{k.replace('_', ' ')} {v['max_pct']:.0f}% / {v['mean_pct']:.0f}%"
            for k, v in use.items()))
    rows = s.get("per_core", [])
    if rows:
        lines.append(f"  {'core':>5} {'chip':>4} {'tile':>7}  {'layer[neurons]':<22}"
                     f"{'neurons':>16}{'memory bits':>24}{'in axons':>18}{'out axons':>18}")
        shown = rows if len(rows) <= PER_CORE_LINES else sorted(
            rows, key=lambda r: -max(r[f"{k}_pct"] for k, _ in RESOURCES))[:PER_CORE_LINES]
        for c in shown:
            rng = f"{c['layer'][:12]}[{c['neurons'][0]}:{c['neurons'][1]}]"
            lines.append(
                f"  {c['core']:>5} {c['chip']:>4} {str(tuple(c['tile'])):>7}  {rng:<22}"
                f"{_frac(c['neurons_used'], c['neurons_limit']):>16}"
                f"{_frac(c['synaptic_memory_bits'], c['synaptic_memory_limit']):>24}"
                f"{_frac(c['input_axons'], c['input_axons_limit']):>18}"
                f"{_frac(c['output_axons'], c['output_axons_limit']):>18}")
        if len(rows) > len(shown):
            lines.append(f"  ... {len(rows) - len(shown)} more cores (the {len(shown)} fullest "
                         "are shown; --json lists all)")
    return lines


def _frac(used: int, limit: int) -> str:
    return f"{used}/{limit} {100 * used / limit:3.0f}%"
