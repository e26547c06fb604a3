"""Make a measurement file from SANA-FE runs, for ``neurocc calibrate`` to fit.

Every run is a program SANA-FE's Loihi model can express exactly (so its activity is the
emulator's, spike for spike): random programs from ``tests/synth.py`` and the digits model,
each compiled for ``loihi2`` as is and with fewer neurons per core (so they spread over more
tiles and exercise north-south hops and other barrier entries). neurocc counts the events
(``neurocc.cost.calibrate.run_counts``, from the emulator); SANA-FE 2.2.9 (``simple`` timing,
its two-chain model) "measures" the dynamic energy and the latency per inference. Writes
``tests/fixtures/calibration/sanafe_runs.json``.

    .venv/bin/python scripts/sanafe_measurements.py [-o PATH]

Deterministic: rerunning writes the same file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "calibration" / "sanafe_runs.json"
SEEDS = (0, 2, 3, 10, 12, 25, 29)
SPREAD = 3
"""Neurons per core of the spread-out variants (SANA-FE's check allows any number)."""


def runs() -> list[dict]:
    sys.path.insert(0, str(ROOT / "tests"))
    import neurocc
    from neurocc.backends import run
    from neurocc.backends.sanafe import SanafeBackend
    from neurocc.cost.calibrate import run_counts
    from neurocc.hw_configs import load_hw, override
    from neurocc.models import digits

    import synth

    base = load_hw("loihi2")
    spread = override(base, {"core.neurons_per_core": SPREAD},
                      f"{SPREAD} neurons per core, to spread the program over more tiles")
    cases = []
    for seed in SEEDS:
        for hw, tag in ((base, "loihi2"), (spread, f"{SPREAD}/core")):
            prog = synth.random_program(seed, reset="zero", graded=False, extreme=False,
                                        cubalif=False, hw=hw)
            cases.append((f"synth seed {seed}, {tag}", prog, synth.random_input(seed, prog,
                                                                               12, 4)))
    x = digits.test_inputs()[0][:, :4]
    for hw, tag in ((base, "loihi2"), (override(base, {"core.neurons_per_core": 64}, "64 per "
                                                "core"), "64/core")):
        cases.append((f"digits, 4 test images, {tag}",
                      neurocc.compile_nir(digits.NIR_PATH, hw=hw, **digits.COMPILE), x))
    out = []
    for name, prog, x in cases:
        t0 = time.perf_counter()
        emu = run(prog, x, backend="emulator")
        be = SanafeBackend(timing_model="simple")
        sfe = run(prog, x, backend=be)
        same = all((emu.trace.spikes[g.name] == sfe.trace.spikes[g.name]).all()
                   for g in prog.groups)
        if not same:
            raise SystemExit(f"{name}: SANA-FE's spikes differ from the emulator's")
        rep = be.last_report
        entry = {"name": name, **run_counts(emu),
                 "energy_j": rep["energy_per_inference_j"], "energy_includes_static": False,
                 "latency_s": rep["latency_per_inference_s"], "cores": len(
                     prog.placement.cores_used)}
        out.append(entry)
        print(f"{name:<34} {entry['cores']:>4} cores  {entry['energy_j']:.4g} J  "
              f"{entry['latency_s']:.4g} s  {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return out


def main(argv=None) -> int:
    from neurocc.cost.calibrate import measurement_file
    from neurocc.hw_configs import load_hw

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default=str(OUT))
    a = ap.parse_args(argv)
    import importlib.metadata

    data = measurement_file(
        runs(), load_hw("loihi2"),
        description="SANA-FE 2.2.9 runs used as measurements: dynamic energy and latency "
                    "('simple' timing) per inference of programs SANA-FE reproduces spike for "
                    "spike; counts by neurocc's emulator on loihi2 (and loihi2 with fewer "
                    "neurons per core)",
        source=f"SANA-FE {importlib.metadata.version('sanafe')} arch/loihi.yaml (SLAM-Lab, "
               "IEEE TCAD 2025), via scripts/sanafe_measurements.py")
    p = Path(a.output)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {p} ({len(data['runs'])} runs)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
