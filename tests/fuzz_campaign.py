"""``make fuzz``: the fuzz campaign, at least 10,000 cases in six categories, in process
through the Python API and, for 300 of them, through the real command line. Every case
must either work or raise one ``NeuroccError``; counts go to
``benchmarks/results/fuzz.{json,md}`` (the README quotes them).

    python tests/fuzz_campaign.py [--scale 1.0]

Categories (the generators are those of ``tests/test_fuzz.py``, which runs a bounded number
of the same cases in ``make test``):

- valid random NIR graphs (random sizes; LIF with one or several time constants, CubaLIF,
  IF and Threshold layers; Conv2d/pool, Conv1d and affine chains; Delay nodes of 0–63
  steps; a second Input): compiled from memory and again after ``nir.write`` /
  ``nir.read``; the two programs must be identical, keep every nonzero Delay and run
  identically, from a dict by Input name where there are two (a difference is a
  *mismatch*);
- hostile graphs: the base graph or a valid random one with one to two mutations (hostile
  attribute values, damaged arrays, odd edges, non-NIR nodes, wrong weight shapes, long
  chains, odd Delay nodes, Threshold layers, Conv1d in place of a conv, a second Input);
- damaged ``.nir`` and program files: truncated, bytes flipped, random bytes;
- bad input arrays: wrong shapes, dtypes, values (NaN, inf, graded for spikes, huge), and
  for a program of two Inputs dicts with keys missing or unknown and odd values;
- damaged hardware TOMLs: one value replaced by a hostile one, then compile and run;
- through the CLI: ``compile``, ``run``, ``info``, ``diff``, ``compare`` and ``hw`` in a
  child process with damaged or missing models, inputs, configs and options, and outputs
  that are directories, missing directories, ``/dev/full`` or an existing file (which a
  failed command must leave untouched: otherwise a *lost file*);
- through Lava: generated programs with Lava's quirks run on real Lava processes and on the
  emulator, every spike and membrane compared.

A case that takes longer than ``HANG_S`` seconds is a *hang* (SIGALRM). Seeds are the case
numbers, so every finding is reproducible.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

import nir
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_fuzz import (  # noqa: E402
    base_graph,
    damaged,
    graph_of,
    hostile_graph,
    odd_inputs,
    two_input_graph,
    valid_case,
)

import neurocc  # noqa: E402
from neurocc.api.errors import NeuroccError  # noqa: E402
from neurocc.compiler.pipeline import compile_nir  # noqa: E402
from neurocc.hw_configs import HERE as HW_DIR  # noqa: E402
from neurocc.hw_configs import load_hw  # noqa: E402

RESULTS = HERE.parent / "benchmarks" / "results"
HANG_S = 60
CASES = {"valid random NIR graphs": 2000, "hostile graphs": 3500,
         "damaged .nir and program files": 2000, "bad input arrays": 1500,
         "damaged hardware TOMLs": 1500, "through the CLI": 300, "through Lava": 8}


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


# --------------------------------------------------------------------------- generators


def case_valid(case: int, tmp: Path) -> str:
    return valid_case(case, tmp)


def case_hostile(case: int, tmp: Path) -> str:
    graph = hostile_graph(case)
    if graph is None:
        return "not built"
    compile_nir(graph, hw="loihi2")
    return "ok"


_FILES: dict = {}


def case_file(case: int, tmp: Path) -> str:
    if not _FILES:
        rng = np.random.default_rng(0)
        nir.write(tmp / "ok.nir", graph_of(base_graph(rng)))
        neurocc.compile(tmp / "ok.nir").save(tmp / "ok.neurocc")
        _FILES.update({n: (tmp / n).read_bytes() for n in ("ok.nir", "ok.neurocc")})
    name = "ok.nir" if case % 2 else "ok.neurocc"
    p = tmp / f"bad{name[2:]}"
    p.write_bytes(damaged(_FILES[name], case, (case // 2) % 3))
    if name.endswith(".nir"):
        compile_nir(p)           # NIR files carry no checksum: a changed weight is a weight
        return "ok"
    # a program file that still loads must be the program that was saved (the damage hit
    # only the container, e.g. a zip timestamp): saved again, the same bytes
    neurocc.load(p).save(tmp / "again.neurocc")
    return "ok" if (tmp / "again.neurocc").read_bytes() == _FILES["ok.neurocc"] else "mismatch"


_PROGRAM: list = []


def case_input(case: int, tmp: Path) -> str:
    """Every fourth case a dict for a program of two Inputs (``odd_inputs``), the others an
    array for the base graph's program."""
    if not _PROGRAM:
        _PROGRAM.append(compile_nir(graph_of(base_graph(np.random.default_rng(2)))))
        _PROGRAM.append(compile_nir(two_input_graph(np.random.default_rng(4))))
    if case % 4 == 3:
        _PROGRAM[1].run(odd_inputs(case))
        return "ok"
    prog = _PROGRAM[0]
    r = np.random.default_rng(case)
    shape = [int(r.integers(0, 6)), int(r.integers(0, 4)), 1, 6, 6]
    if r.random() < 0.5:                      # a wrong shape
        shape = [int(v) for v in r.integers(0, 7, int(r.integers(0, 6)))]
    dtype = r.choice(["uint8", "float64", "int64", "bool", "complex128", "str", "object"])
    x = np.asarray(r.random(shape) < 0.5)
    try:
        x = x.astype(dtype)
    except (TypeError, ValueError):
        x = x.astype(np.uint8)
    if x.dtype.kind == "f" and x.size:
        x.flat[int(r.integers(x.size))] = r.choice([np.nan, np.inf, 2.5, -1.0, 1e300])
    if r.random() < 0.1:
        x = [[1, 2], [3]] if r.random() < 0.5 else None
    prog.run(x)
    return "ok"


_TOML: dict = {}


def case_toml(case: int, tmp: Path) -> str:
    if not _TOML:
        _TOML["text"] = (HW_DIR / "tiny.toml").read_text()
        _TOML["values"] = list(re.finditer(r"value = ([^,}]+(?:\[[^\]]*\])?[^,}]*)",
                                           _TOML["text"]))
        _TOML["graph"] = graph_of(base_graph(np.random.default_rng(3)))
    hostile = ['"8"', "0", "-1", "1e400", "nan", "true", "[100000, 100000]", "[]", "2.5",
               "-0.0", '"35.5e-12"', "{}", "99999999999999999999", "1", "3", "1e-30"]
    r = np.random.default_rng(case)
    text = _TOML["text"]
    for _ in range(int(r.integers(1, 3))):
        values = list(re.finditer(r"value = ([^,}]+(?:\[[^\]]*\])?[^,}]*)", text))
        m = values[int(r.integers(len(values)))]
        text = text[:m.start(1)] + str(r.choice(hostile)) + text[m.end(1):]
    p = tmp / "hw.toml"
    p.write_text(text)
    hw = load_hw(p)
    prog = compile_nir(_TOML["graph"], hw=hw)
    prog.run(np.ones((2, 1, 1, 6, 6), dtype=np.uint8)).to_dict()
    return "ok"


_CLI: dict = {}


def case_cli(case: int, tmp: Path) -> str:
    """The real command line in a child process: any exit but 0/2/3/4 is a crash, a
    traceback or more than one line of error is a crash, a pre-existing output file that a
    failed command changed is a *lost file*."""
    import subprocess

    if not _CLI:
        rng = np.random.default_rng(0)
        nir.write(tmp / "cli.nir", graph_of(base_graph(rng)))
        neurocc.compile(tmp / "cli.nir").save(tmp / "cli.neurocc")
        np.save(tmp / "x.npy", (rng.random((4, 2, 1, 6, 6)) < 0.5).astype(np.uint8))
        np.save(tmp / "bad.npy", rng.random((4, 2, 7)))
        (tmp / "junk.nir").write_bytes(b"not hdf5")
        (tmp / "sub").mkdir()
        _CLI["ready"] = True
    r = np.random.default_rng(case)
    out = tmp / "out.bin"
    out.write_bytes(b"precious")               # must survive any failed command
    pick = lambda xs: xs[int(r.integers(len(xs)))]   # noqa: E731
    models = [tmp / "cli.nir", tmp / "junk.nir", tmp / "none.nir", tmp / "sub", tmp / "x.npy"]
    outputs = [out, tmp / "sub", tmp / "missing" / "p", "/dev/full", tmp / "fresh.neurocc"]
    inputs = [tmp / "x.npy", tmp / "bad.npy", tmp / "none.npy", tmp / "cli.nir", tmp / "sub"]
    hws = ["loihi2", "loihi1", "tiny", "", "/", str(tmp), "nosuch", str(tmp / "x.npy")]
    cmd = pick(["compile", "run", "info", "diff", "compare", "hw"])
    if cmd == "compile":
        args = ["compile", pick(models), "--hw", pick(hws), "-o", pick(outputs)]
        if r.random() < 0.5:
            args += [pick(["--dt", "--graded-input"]), pick(["0", "-1", "nan", "inf", "1e-4",
                                                             "abc", "2"])]
    elif cmd == "run":
        args = ["run", pick([tmp / "cli.neurocc", *models]), "--input", pick(inputs)]
        if r.random() < 0.5:
            args += ["-o", pick(outputs)]
        if r.random() < 0.3:
            args += [pick(["--workers", "--backend"]), pick(["0", "2", "-3", "emulator",
                                                             "nosuch"])]
    elif cmd == "info":
        args = ["info", pick([tmp / "cli.neurocc", *models])]
    elif cmd == "diff":
        args = ["diff", pick([tmp / "cli.neurocc", *models]), "--input", pick(inputs),
                "--b", "reference"]
    elif cmd == "compare":
        args = ["compare", pick(models), "--hw", pick(["loihi1,loihi2", ",", "loihi2,nosuch"]),
                "--input", pick(inputs)]
    else:
        args = ["hw", pick(hws)]
    p = subprocess.run([sys.executable, "-m", "neurocc", *map(str, args)],
                       capture_output=True, text=True, timeout=HANG_S)
    lines = [x for x in p.stderr.strip().splitlines() if x.strip()]
    failed = p.returncode != 0
    if failed and out.read_bytes() != b"precious":
        return "lost file"
    if p.returncode not in (0, 2, 3, 4) or "Traceback" in p.stderr or \
            (failed and (len(lines) != 1 or not lines[0].startswith("neurocc: error: "))):
        raise RuntimeError(f"exit {p.returncode}: {' '.join(map(str, args))}: "
                           f"{(lines or [''])[-1][:100]}")
    return "ok" if not failed else "clean refusal"


def case_lava(case: int, tmp: Path) -> str:
    """A generated program with Lava's quirks (``tests/synth.py``) through real Lava and
    the emulator: every spike and membrane must agree (a difference is a *mismatch*)."""
    from synth import random_input, random_program

    prog = random_program(10_000 + case)
    x = random_input(case, prog, steps=5, batch=2)
    lava = prog.run(x, backend="lava", record_state=True, timeout_s=HANG_S - 5)
    emu = prog.run(x, record_state=True)
    same = all(np.array_equal(lava.trace.spikes[g], emu.trace.spikes[g]) and
               np.array_equal(lava.trace.v[g], emu.trace.v[g]) for g in emu.trace.spikes)
    return "ok" if same else "mismatch"


RUNNERS = {"valid random NIR graphs": case_valid, "hostile graphs": case_hostile,
           "damaged .nir and program files": case_file, "bad input arrays": case_input,
           "damaged hardware TOMLs": case_toml, "through the CLI": case_cli,
           "through Lava": case_lava}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the cases to run")
    a = ap.parse_args(argv)
    signal.signal(signal.SIGALRM, _alarm)
    out = {"machine": {"python": platform.python_version()}, "categories": {},
           "findings": []}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="neurocc-fuzz-") as d:
        tmp = Path(d)
        for cat, n in CASES.items():
            counts = Counter()
            for case in range(int(n * a.scale)):
                signal.alarm(HANG_S)
                try:
                    counts[RUNNERS[cat](case, tmp)] += 1
                except NeuroccError:
                    counts["clean refusal"] += 1
                except Hang:
                    counts["hang"] += 1
                    out["findings"].append(f"{cat} case {case}: hang (> {HANG_S} s)")
                except Exception as e:  # noqa: BLE001 - that is the finding
                    counts["crash"] += 1
                    where = traceback.extract_tb(e.__traceback__)[-1]
                    out["findings"].append(
                        f"{cat} case {case}: {type(e).__name__}: {str(e)[:120]} "
                        f"({Path(where.filename).name}:{where.lineno})")
                finally:
                    signal.alarm(0)
            out["categories"][cat] = dict(counts)
            print(f"{cat}: {dict(counts)}", flush=True)
    out["seconds"] = time.perf_counter() - t0
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fuzz.json").write_text(json.dumps(out, indent=1))
    (RESULTS / "fuzz.md").write_text(render(out))
    print(render(out))
    return out


def render(o: dict) -> str:
    cols = ["ok", "clean refusal", "crash", "hang", "mismatch", "lost file", "not built"]
    lines = [f"Fuzz campaign (`make fuzz`: in process through the Python API, the CLI "
             f"category in child processes, the Lava one on real Lava; {o['seconds']:.0f} s "
             "on 2 cores): every case works or raises one NeuroccError.",
             "", "| category | cases | " + " | ".join(cols) + " |",
             "|---|---:|" + "---:|" * len(cols)]
    total = Counter()
    for cat, c in o["categories"].items():
        n = sum(c.values())
        total.update(c)
        total["cases"] += n
        lines.append(f"| {cat} | {n:,} | " + " | ".join(f"{c.get(k, 0):,}" for k in cols)
                     + " |")
    lines.append(f"| **all** | {total['cases']:,} | "
                 + " | ".join(f"{total.get(k, 0):,}" for k in cols) + " |")
    lines += ["", "\"not built\": nir itself refused to construct the mutated graph (not "
              "neurocc's input). \"mismatch\": a valid graph compiled or ran differently "
              "after nir.write / nir.read, or lost a Delay node on the way."]
    if o["findings"]:
        lines += ["", "Findings:", ""] + [f"- {f}" for f in o["findings"][:50]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
