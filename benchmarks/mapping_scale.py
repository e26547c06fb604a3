"""How compile time and memory grow with network size, up to ten Loihi 2 chips' worth.

    python -m neurocc.benchmarks.mapping_scale            # all cases, ~7 min on 2 cores
    python -m neurocc.benchmarks.mapping_scale --case 1/8

The network is synthetic and built directly as IR: ``LAYERS`` layers of LIF neurons in a chain,
the input feeding the first, each neuron with ``FAN_IN`` sparse synapses from a window of
``4·FAN_IN`` neighbouring neurons of the previous layer (local, like retinotopic or cortical
wiring; a layer's first and last neurons wrap around). The full size is Intel's figure for
one Loihi 2 chip: 2^20 neurons and 105 M synapses.

Under ``loihi2.toml``'s assumed memory model (128 KB per core, 8-bit weight + 12-bit index per
sparse synapse) those synapses need ~1,960 cores, i.e. 16 chips: Intel's "~120 M synapses per
chip" presumes ~1-bit synapses. So the size series is compiled for ``loihi2`` with the system
enlarged to 16 chips (4 × 4, an override labelled as an assumption), the Kapoho Point case is
the half-size network on the stock 8-chip ``loihi2``, and the full-size network on the stock
system is the does-not-fit case (how long the error takes, and its message). A last case
draws every neuron's sources at random from the whole previous layer: input and output
axons then bind instead of memory, and every slice talks to every slice of the next layer
(the placer's worst case).

The billion-synapse case is the full-size network ten times over, "10× today's 1 M neurons
/ 105 M synapses" read as ten times both: 10 M neurons with the same 100 synapses each (1.05
billion), on a 160-chip system (16 × 10). Every neuron keeps its wiring, so the series
measures one network growing. 1 M neurons with 1,000 synapses each would be another
network: a core's memory then holds ~53 neurons instead of ~535, each listening to ~4,040
distinct sources, next to the 4,096 input axons. It needs ~13 GB at its peak, so ``main``
runs it only when ``BIG_NEEDS_GB`` are free, and every case under an address-space cap.

Each case runs in a fresh process, so its peak resident memory (``ru_maxrss``) is its own.
Results go to ``benchmarks/results/mapping_scale.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from neurocc.api.jsonable import jsonable

LAYERS = 8
FAN_IN = 100
FULL_LAYER = 1 << 17          # 8 layers × 131,072 = 1,048,576 neurons
RESULTS = Path(__file__).resolve().parent / "results"

CASES = {  # name: (fraction of the full network, chips in the system or None for stock,
    #         local windows or random sources)
    "1/8": (1 / 8, 16, True), "1/4": (1 / 4, 16, True), "1/2": (1 / 2, 16, True),
    "1": (1.0, 16, True),
    "kapoho-point 1/2": (1 / 2, None, True), "kapoho-point 1 (does not fit)": (1.0, None, True),
    "random 1/16": (1 / 16, 16, False),
    "10 (1 billion synapses)": (10.0, 160, True),
}
BIG = ("10 (1 billion synapses)",)
"""Cases ``main`` runs only with ``--big`` (minutes, and ~16 GB of memory)."""


def chip_mesh(chips: int) -> tuple[int, int]:
    """The most nearly square ``(x, y)`` mesh of ``chips`` chips, ``x ≥ y``: 16 → 4 × 4,
    160 → 16 × 10."""
    y = max(d for d in range(1, int(chips ** 0.5) + 1) if chips % d == 0)
    return chips // y, y


def synthetic(n_layer: int, layers: int = LAYERS, fan_in: int = FAN_IN, seed: int = 0,
              local: bool = True):
    """The benchmark network as IR (``Sparse`` projections, int32 indices, float32 weights).
    ``local=False`` draws every neuron's sources at random from the whole previous layer."""
    from neurocc.compiler.ir import INPUT, LIF, Network, Projection, Sparse

    rng = np.random.default_rng(seed)
    groups, projections, src = [], [], INPUT
    window = 4 * fan_in
    for i in range(layers):
        n = n_layer
        g = LIF(f"l{i}", f"lif{i}", (n,), bias=np.zeros(n), tau_mem=np.full(n, 1e-3),
                r=np.full(n, 10.0), v_leak=np.zeros(n), v_threshold=np.ones(n))
        # fan_in distinct sources: one per bucket of 4 across the window, jittered
        offset = (np.arange(fan_in) * 4)[None, :] + rng.integers(0, 4, (n, fan_in)) \
            - window // 2
        idx = ((np.arange(n)[:, None] + offset) % n).astype(np.int32)
        if not local:
            idx = rng.integers(0, n, (n, fan_in), dtype=np.int32)
        idx.sort(axis=1)
        indptr = np.arange(n + 1, dtype=np.int64) * fan_in
        data = rng.standard_normal(n * fan_in, dtype=np.float32) * np.float32(0.1)
        projections.append(Projection(f"p{i}", src, g.name,
                                      Sparse(indptr, idx.ravel(), data, n), (f"affine{i}",)))
        groups.append(g)
        src = g.name
    return Network((n_layer,), tuple(groups), tuple(projections), (src,))


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6   # KB on Linux


def run_case(name: str) -> dict:
    """Compile one case with the default pipeline, timing each pass (this process only)."""
    from neurocc.api.errors import ResourceError
    from neurocc.compiler.passes.base import CompileOptions, CompileState
    from neurocc.compiler.pipeline import default_pipeline
    from neurocc.hw_configs import load_hw, override

    frac, chips, local = CASES[name]
    hw = load_hw("loihi2")
    if chips:
        hw = override(hw, {"mesh.chips_per_system": chips, "mesh.chip_mesh": chip_mesh(chips)},
                      source=f"benchmark system of {chips} Loihi 2 chips")
    out = {"case": name, "hw": hw.name, "chips_per_system": hw.mesh.chips_per_system,
           "chip_mesh": list(hw.mesh.chip_mesh), "seconds": {}}
    sec = out["seconds"]
    t = time.perf_counter()
    net = synthetic(int(FULL_LAYER * frac), local=local)
    sec["build_ir"] = time.perf_counter() - t
    out["neurons"] = sum(g.n for g in net.groups)
    out["synapses"] = sum(len(p.conn.data) for p in net.projections)
    out["rss_after_build_gb"] = _rss_gb()

    options = CompileOptions(dt=1e-4)
    pipeline = default_pipeline(hw, options)
    clock = [time.perf_counter()]

    def timed(p, state):   # called after every pass
        now = time.perf_counter()
        sec[p.name] = now - clock[0]
        clock[0] = now

    state = CompileState(hw=hw, options=options, network=net)
    try:
        state = pipeline.run(state, timed)
    except ResourceError as e:   # the pass that raised is timed too
        failed = pipeline.names[len(sec) - 1]
        sec[failed] = time.perf_counter() - clock[0]
        out["does_not_fit"] = str(e)
    else:
        placed, routes = state.placement, state.routes
        st = placed.stats
        out.update(cores=len(placed.slices), chips_used=int(len(np.unique(
            placed.slices[:, 3] // hw.mesh.cores_per_chip))),
            traffic=st["traffic"], in_order_traffic=st["in_order_traffic"],
            hops_reduction_vs_in_order=st["hops_reduction_vs_in_order"],
            routing_energy_reduction_vs_in_order=st["routing_energy_reduction_vs_in_order"],
            refine={k: st[k] for k in ("passes", "moves", "swaps", "stopped")},
            busiest_link=routes.busiest_link(),
            limited_by=_limits(st["layers"]))
    sec["compile_total"] = sum(v for k, v in sec.items() if k != "build_ir")
    out["peak_rss_gb"] = _rss_gb()
    return out


def _limits(layers: dict) -> dict:
    total = {}
    for d in layers.values():
        for k, v in d["limited_by"].items():
            total[k] = total.get(k, 0) + v
    return total


def markdown(results: list[dict], machine: dict) -> str:
    lines = [
        "# Mapping at scale",
        "",
        f"`python -m neurocc.benchmarks.mapping_scale` on {machine['cpus']} CPU(s) "
        f"(1-min load average {machine['load_average_before_after'][0]:.1f} before, "
        f"{machine['load_average_before_after'][1]:.1f} after: other jobs share the machine), "
        f"Python {machine['python']}, numpy {machine['numpy']}. Synthetic chain of "
        f"{LAYERS} LIF layers, {FAN_IN} local sparse synapses per neuron (see the module "
        "docstring). Seconds per pass; peak resident memory of the whole process "
        "(IR build included; the IR alone, float32 weights and int32 indices, is ~8 bytes "
        "per synapse). Traffic: messages × (hops + chip crossings) if every neuron "
        "spikes once, greedy+swap placement versus in-order. The last case is ten times the "
        "full size (10 M neurons × 100 synapses, over a billion synapses) on a 160-chip "
        f"system; it runs when {BIG_NEEDS_GB} GB of memory are free.",
        "",
        "| case | system | neurons | synapses | IR built (time, peak RSS) | sub-populations "
        "| discretize | quantize | partition | place | route | compile total | peak RSS "
        "| cores / chips | hops+crossings vs in-order | routing energy vs in-order |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = r["seconds"]

        def f(k, s=s):
            return f"{s[k]:.1f}" if k in s else "–"

        system = f"{r['hw']} × {r['chips_per_system']} chips"
        if "not_run" in r:
            lines.append(f"| {r['case']} | {system} | {r['neurons']:,} | {r['synapses']:,} | "
                         + "– | " * 9 + f"{r['not_run']} | – | – |")
            continue
        if "does_not_fit" in r:
            fit, hops, energy = "does not fit", "–", "–"
        else:
            fit = f"{r['cores']} / {r['chips_used']}"
            hops = f"−{r['hops_reduction_vs_in_order']:.0%}"
            energy = f"−{r['routing_energy_reduction_vs_in_order']:.0%}"
        lines.append(
            f"| {r['case']} | {system} | {r['neurons']:,} | "
            f"{r['synapses']:,} | {s['build_ir']:.1f} s, {r['rss_after_build_gb']:.2f} GB | "
            f"{f('subpopulations')} | {f('discretize')} | {f('quantize')} | {f('partition')} | "
            f"{f('place')} | {f('route')} | {s['compile_total']:.1f} | "
            f"{r['peak_rss_gb']:.2f} GB | {fit} | {hops} | {energy} |")
    errors = [r for r in results if "does_not_fit" in r]
    for r in errors:
        lines += ["", f"Does-not-fit message ({r['case']}, after "
                      f"{r['seconds']['compile_total']:.1f} s):", "", f"> {r['does_not_fit']}"]
    return "\n".join(lines) + "\n"


BIG_NEEDS_GB = 16
"""Memory the 1-billion-synapse case needs free to start (it peaks near 13 GB)."""
CAP_BYTES = 20 * 10**9
"""Address-space cap of every case's process (``RLIMIT_AS``): a case that grows past it
fails alone instead of taking a shared machine down."""


def _available_gb() -> float:
    with open("/proc/meminfo") as f:
        info = dict(line.split(":", 1) for line in f)
    return int(info["MemAvailable"].split()[0]) / 1e6


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP_BYTES, CAP_BYTES))


def _not_run(name: str, why: str) -> dict:
    frac, chips, _ = CASES[name]
    return {"case": name, "hw": "loihi2", "chips_per_system": chips or 8,
            "neurons": LAYERS * int(FULL_LAYER * frac),
            "synapses": LAYERS * int(FULL_LAYER * frac) * FAN_IN, "seconds": {},
            "not_run": why}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", choices=list(CASES), help="run one case and print its JSON")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    if a.case:
        print(json.dumps(jsonable(run_case(a.case))))
        return 0
    results = []
    load_before = os.getloadavg()[0]
    for name in CASES:
        free = _available_gb()
        if name in BIG and free < BIG_NEEDS_GB:
            results.append(_not_run(name, f"skipped: {free:.1f} GB of memory available, the "
                                          f"case needs {BIG_NEEDS_GB} GB"))
            print(f"{name:<32} {results[-1]['not_run']}", flush=True)
            continue
        p = subprocess.run([sys.executable, "-m", "neurocc.benchmarks.mapping_scale",
                            "--case", name], capture_output=True, text=True,
                           preexec_fn=_cap)
        if p.returncode:
            last = (p.stderr.strip().splitlines() or ["no message"])[-1]
            results.append(_not_run(name, f"failed under the {CAP_BYTES / 1e9:.0f} GB cap: "
                                          f"{last}"))
            print(f"{name:<32} {results[-1]['not_run']}", flush=True)
            continue
        results.append(json.loads(p.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"{name:<32} {r['seconds']['compile_total']:6.1f} s  "
              f"{r['peak_rss_gb']:5.2f} GB  " + ("does not fit" if "does_not_fit" in r else
                                                  f"{r['cores']} cores"), flush=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(),
               "numpy": np.__version__, "platform": platform.platform(),
               "load_average_before_after": [load_before, os.getloadavg()[0]]}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "mapping_scale.json").write_text(
        json.dumps({"machine": machine, "layers": LAYERS, "fan_in": FAN_IN,
                    "results": results}, indent=1) + "\n")
    (a.out / "mapping_scale.md").write_text(markdown(results, machine))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
