"""A conventional baseline: the same network as a non-spiking ANN, one pass per inference, on
an fp32 processor, an int8 accelerator, a CPU and a GPU, beside neurocc's SNN estimate.

MACs are counted the NeuroBench way (``cost/neurobench.py``): every Linear / Conv layer of
the float model (NIR ``Affine``, ``Linear``, ``Conv2d``) does its *dense* count of
multiply-accumulates — ``weights.size`` for a fully connected layer, the all-ones
convolution's sum for a conv (zero padding contributes nothing) — and pooling, flattening,
biases and activations cost no MAC. NeuroBench's ``Dense`` is that count summed over the
SNN's ``T`` input steps; the ANN runs once, so its MACs are ``Dense / T``.

    E_ops(platform)  = MACs · (E_mult + E_add)  +  memory
    memory           = ceil(params · bytes / 8) · E_read(params' array)
                       + activation_accesses · ceil(activations · bytes / 8) · E_read(array)
    E_system(device) = (MACs + activations) · E_op(device)          (Degnan's whole system)

The per-operation rows (Horowitz 2014, 45 nm) are arithmetic plus a lower bound on memory
traffic (each parameter read once, each activation written and read once), so they favour
the ANN; the whole-system rows (Degnan 2016) count one operation per MAC and per neuron
activation, as keras-spiking and snntoolbox do. Every figure, with its source, comes from
``hw_configs/baselines/conventional.toml``. ``PITFALLS`` are stated with every comparison.
"""

from __future__ import annotations

import math
from pathlib import Path

from neurocc.api.errors import ConfigError
from neurocc.hw_configs import tomllib

BASELINES = Path(__file__).resolve().parent.parent / "hw_configs" / "baselines" / \
    "conventional.toml"

PITFALLS = (
    "time steps multiply SNN work: the SNN runs every input step plus the drain, the ANN one "
    "pass; an SNN wins only at low activity (Davidson & Furber 2021; Dampfhoffer et al. 2023)",
    "int8 vs fp32: an fp32 MAC costs ~15x an int8 one (Horowitz 2014); comparing an fp32 ANN "
    "with an 8-bit-weight chip inflates the gap, so the int8 accelerator row is the fair one",
    "static power: the SNN total includes the chip's static power x latency (an assumption "
    "on Loihi 2); Horowitz's per-operation rows include none, Degnan's whole-system rows do: "
    "compare dynamic with per-operation, total with whole-system",
    "process nodes differ: Horowitz is 45 nm, Loihi 1 14 nm, Loihi 2 Intel 4 (whose per-event "
    "costs neurocc assumes equal to Loihi 1's)",
    "conventions: one MAC = one operation (NeuroBench), not two (snntoolbox); the SNN's "
    "synaptic events are counted on the chip's fused projections (cost/neurobench.py)",
    "GPU whole-system energy is at full throughput (large batches); one inference at batch 1 "
    "costs much more per operation",
)

PLATFORMS = ("fp32_horowitz", "int8_accelerator_horowitz", "cpu_whole_system",
             "gpu_whole_system", "arm_whole_system")
"""The baseline rows, in report order."""


def load_baselines(path: str | Path = BASELINES) -> dict:
    """``section.field`` → ``{"value", "unit", "source", "assumption"}`` of the baseline
    figures; refuses a value without a source, as the hardware loader does."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"baseline figures '{p}' cannot be read ({e}); reinstall neurocc "
                          "or fix the file") from None
    out = {}
    for sec, table in raw.items():
        if not isinstance(table, dict):
            continue
        for name, entry in table.items():
            if not (isinstance(entry, dict) and "value" in entry and entry.get("source")):
                raise ConfigError(f"baseline figures '{p}': [{sec}] {name} needs a value and a "
                                  "source (an inline table { value, unit, source })")
            out[f"{sec}.{name}"] = {"value": entry["value"], "unit": entry.get("unit", ""),
                                    "source": entry["source"],
                                    "assumption": bool(entry.get("assumption", False))}
    return out


def ann_counts(graph) -> dict:
    """The ANN's work for one inference (one pass) from a NIR graph (or ``.nir`` path):
    ``macs`` (NeuroBench's dense count of one step), ``params`` (weights and biases of the
    connection layers), ``activations`` (outputs of the connection layers), ``largest_layer``
    (the most values one layer reads and writes) and ``by_layer`` MACs."""
    from neurocc.compiler.frontend.nir import _load
    from neurocc.cost.neurobench import _Graph

    g = _Graph(_load(graph)[0])
    by_layer = {k: int(g.dense_ops_per_sample[k]) for k in g.connections}
    params = acts = largest = 0
    for k in g.connections:
        node = g.nodes[k]
        w = node.weight
        bias = getattr(node, "bias", None)
        params += int(w.size) + (int(math.prod(bias.shape)) if bias is not None and
                                 getattr(bias, "shape", None) else 0)
        n_out = int(math.prod(g.shape[k]))
        n_in = int(math.prod(g.shape[g.preds[k][0]]))
        acts += n_out
        largest = max(largest, n_in + n_out)
    return {"macs": int(sum(by_layer.values())), "params": params, "activations": acts,
            "largest_layer": largest, "by_layer": by_layer}


def _sram(fig: dict, n_bytes: int) -> tuple[float, str]:
    """Joules per 64-bit read of the smallest Horowitz array holding ``n_bytes``, and its
    name; DRAM beyond ``memory_model.fits_on_chip_bytes``."""
    v = {k: e["value"] for k, e in fig.items()}
    for key, size in (("sram_8kb_j", 8 << 10), ("sram_32kb_j", 32 << 10),
                      ("sram_1mb_j", 1 << 20)):
        if n_bytes <= size and n_bytes <= v["memory_model.fits_on_chip_bytes"]:
            return v[f"horowitz_45nm.{key}"], key.removesuffix("_j").replace("_", " ")
    return v["horowitz_45nm.dram_j"], "dram"


def ann_energy(counts: dict, figures: dict | None = None) -> dict:
    """Energy per inference of the ANN with ``counts`` (``ann_counts``) on every platform of
    ``PLATFORMS``: ``energy_j``, its parts, the joules per MAC used and where they come
    from."""
    fig = figures or load_baselines()
    v = {k: e["value"] for k, e in fig.items()}
    macs, params, acts = counts["macs"], counts["params"], counts["activations"]
    reads_w = v["memory_model.weight_reads_per_inference"]
    acc = v["memory_model.activation_accesses"]
    out = {}
    for name, bytes_per, mac_j, mac_src in (
            ("fp32_horowitz", 4, v["horowitz_45nm.fp32_mult_j"] + v["horowitz_45nm.fp32_add_j"],
             "fp32 multiply + fp32 add"),
            ("int8_accelerator_horowitz", 1,
             v["horowitz_45nm.int8_mult_j"] + v[f"horowitz_45nm.int{_acc_bits(v)}_add_j"],
             f"int8 multiply + int{_acc_bits(v)} add")):
        w_read, w_mem = _sram(fig, params * bytes_per)
        a_read, a_mem = _sram(fig, counts["largest_layer"] * bytes_per)
        mem_w = reads_w * math.ceil(params * bytes_per / 8) * w_read
        mem_a = acc * math.ceil(acts * bytes_per / 8) * a_read
        arith = macs * mac_j
        out[name] = {"energy_j": arith + mem_w + mem_a, "arithmetic_j": arith,
                     "memory_j": mem_w + mem_a, "per_mac_j": mac_j,
                     "what": f"{mac_src} per MAC (Horowitz 2014, 45 nm); parameters read once "
                             f"from {w_mem}, activations from {a_mem}; no static power",
                     "includes_static": False}
    for name, key, dev in (("cpu_whole_system", "cpu_op_j", "Intel i7 CPU"),
                           ("gpu_whole_system", "gpu_op_j", "GTX Titan Black GPU"),
                           ("arm_whole_system", "arm_op_j", "ARM Cortex-A")):
        e_op = v[f"whole_system.{key}"]
        out[name] = {"energy_j": (macs + acts) * e_op, "per_mac_j": e_op,
                     "what": f"{dev}, whole system: one operation per MAC and per activation "
                             "(Degnan et al. 2016); static power included",
                     "includes_static": True}
    return out


def _acc_bits(v: dict) -> int:
    bits = int(v["int8_accelerator.accumulator_bits"])
    if bits not in (8, 32):
        raise ConfigError(f"baseline figures: int8_accelerator.accumulator_bits = {bits}; "
                          "Horowitz gives int8 and int32 adds only, use 8 or 32")
    return bits


def baseline(program, result=None, *, graph=None, figures: dict | None = None) -> dict:
    """The ANN baseline of ``program`` beside the SNN's estimate in ``result`` (a
    ``RunResult``, optional): MACs per inference, energy per platform, the SNN's dynamic and
    total energy, ratios, the pitfalls and every figure with its source.

    ``graph`` defaults to the ``.nir`` file the program was compiled from. A program
    compiled from an in-memory graph or a torch module has none: the result then says
    ``available: False`` and why."""
    if graph is None:
        graph = (getattr(program, "source", None) or {}).get("nir")
        if graph is None or graph == "<NIRGraph>" or not Path(graph).is_file():
            return {"available": False,
                    "reason": "the program was not compiled from a .nir file that still "
                              "exists: the ANN's MACs are counted on the NIR graph"}
    fig = figures or load_baselines()
    counts = ann_counts(graph)
    rows = ann_energy(counts, fig)
    out = {"available": True,
           "convention": "NeuroBench dense MACs of one pass (Dense / T); one MAC = one op",
           "ann": {k: counts[k] for k in ("macs", "params", "activations")},
           "ann_macs_by_layer": counts["by_layer"], "platforms": rows,
           "pitfalls": list(PITFALLS), "figures": fig}
    if result is not None:
        est = result.estimate
        synops = float(sum(result.activity.synops.values())) / result.batch
        snn = {"dynamic_j": est.dynamic_j, "total_j": est.energy_j, "static_j": est.static_j,
               "synaptic_ops_per_inference": synops, "input_steps": int(result.steps),
               "steps_run": int(result.steps_run), "hw": program.hw.name}
        out["snn"] = snn
        out["neurobench_dense_T_steps"] = counts["macs"] * int(result.steps)
        out["synops_over_ann_macs"] = synops / counts["macs"] if counts["macs"] else None
        out["ann_over_snn"] = {
            k: {"vs_dynamic": r["energy_j"] / snn["dynamic_j"] if snn["dynamic_j"] else None,
                "vs_total": r["energy_j"] / snn["total_j"] if snn["total_j"] else None}
            for k, r in rows.items()}
    return out


def render_baseline(b: dict) -> list[str]:
    """Text lines of a ``baseline`` dictionary, for the run report."""
    from neurocc.reports.run import fmt_j

    if not b.get("available"):
        return [f"ANN baseline: not available ({b['reason']})"]
    a = b["ann"]
    lines = [f"ANN baseline (same network, one pass; {b['convention']}): {a['macs']:,} MACs, "
             f"{a['params']:,} parameters per inference"]
    snn = b.get("snn")
    for k in PLATFORMS:
        r = b["platforms"][k]
        ratio = ""
        if snn:
            cmp_to = "total" if r["includes_static"] else "dynamic"
            x = b["ann_over_snn"][k][f"vs_{cmp_to}"]
            ratio = f"  = {x:.3g}x the SNN's {cmp_to}" if x is not None else ""
        lines.append(f"  {k:<26} {fmt_j(r['energy_j']):>10}{ratio}")
    if snn:
        lines.append(f"  SNN on {snn['hw']:<19} {fmt_j(snn['dynamic_j']):>10} dynamic, "
                     f"{fmt_j(snn['total_j'])} total ({snn['synaptic_ops_per_inference']:,.0f} "
                     f"synaptic events over {snn['steps_run']} steps = "
                     f"{b['synops_over_ann_macs']:.2f}x the ANN's MACs)")
    lines.append("  pitfalls: " + "; ".join(b["pitfalls"][:3]))
    return lines


__all__ = ["BASELINES", "PITFALLS", "PLATFORMS", "ann_counts", "ann_energy", "baseline",
           "load_baselines", "render_baseline"]
