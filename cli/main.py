"""The neurocc command line: the contract scripts and CI jobs rely on.

    neurocc demo [--json] [--retrain] [--hw NAME]
    neurocc compile MODEL.nir --hw NAME_OR_TOML [--dt SECONDS] [--reset zero|subtract] -o PROGRAM
    neurocc run PROGRAM --input X.npy [--backend emulator|lava|reference|sanafe] [--json]
                [-o OUT.npz]
    neurocc info PROGRAM [--json]
    neurocc diff PROGRAM --input X.npy [--a emulator] [--b lava] [--json]
    neurocc hw [NAME_OR_TOML] [--json]
    neurocc zoo list [--json] | zoo train NAME [--seed N] [--sweep] | zoo export NAME -o MODEL.nir
    neurocc check BUDGETS.toml [--junit OUT.xml] [--json]
    neurocc compare MODEL.nir --hw A,B --input X.npy [--json]
    neurocc report PROGRAM --input X.npy [--labels Y.npy] [--backend emulator] -o REPORT.html
                   [--png DIR]
    neurocc completion bash
    neurocc --version

Exit status: 0 ok, 2 bad input (file, graph, options, budgets file), 3 does not fit the
hardware, 1 internal error; ``diff``: 4 when the two backends differ; ``check``: 1 when a
budget fails. Errors are one line on stderr; no traceback for user errors.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

from neurocc.api.errors import NeuroccError
from neurocc.api.files import check_writable, load_array, write_atomic
from neurocc.api.jsonable import jsonable
from neurocc.backends.base import REGISTRY as _BACKENDS
from neurocc.cli.completion import add_parser as add_completion_parser
from neurocc.compiler.frontend.producers import PRODUCERS
from neurocc.compiler.passes.base import RESETS
from neurocc.reports.html import add_parser as add_report_parser

BACKENDS = tuple(_BACKENDS)


class HelpFormatter(argparse.HelpFormatter):
    """Help that shows every option's default (unless it has none, or its text says it
    already), wraps descriptions but prints text with line breaks (examples) as written."""

    def _fill_text(self, text, width, indent):
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action):
        text = action.help or ""
        d = action.default
        if ("default" in text or d is None or d is False or d == [] or d is argparse.SUPPRESS
                or not (action.option_strings or action.nargs in ("?", "*"))):
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line, exit status 2
        print(f"neurocc: error: {message} (see neurocc {self.prog.split()[-1]} --help)"
              if " " in self.prog else f"neurocc: error: {message} (see neurocc --help)",
              file=sys.stderr)
        raise SystemExit(2)


def _json_out(obj) -> None:
    print(json.dumps(jsonable(obj), indent=1))


# --------------------------------------------------------------------------- commands


def cmd_compile(a) -> int:
    import neurocc
    from neurocc.compiler.ir import GradedInput
    from neurocc.reports.progress import PassClock
    from neurocc.reports.summary import render_summary

    check_writable(a.output, "the program")
    enc = GradedInput(max=a.graded_input) if a.graded_input is not None else None
    with PassClock(not a.quiet) as clock:
        prog = neurocc.compile(a.model, hw=a.hw, dt=a.dt, reset=a.reset, input_encoding=enc,
                               callback=clock if clock.enabled else None, steps=a.steps,
                               producer=a.producer)
    prog.save(a.output, embed_float_weights=a.embed_float_weights)
    summary = prog.info(detail=False)
    summary["program"] = str(a.output)
    if a.json:
        _json_out(summary)
    else:
        print(render_summary(summary))
        print(f"wrote {a.output}")
    return 0


def cmd_run(a) -> int:
    from neurocc.compiler.artifact import load
    from neurocc.reports.run import render_run

    if a.output:
        check_writable(a.output, "the run's arrays")
    prog = load(a.program)
    x = load_array(a.input, named=True)
    options = {}
    if a.backend == "lava":
        options = {"on_chip": a.on_chip, "timeout_s": a.timeout}
    elif a.on_chip:
        raise NeuroccError("--on-chip applies to --backend lava only")
    res = prog.run(x, backend=a.backend, drain=not a.no_drain, workers=a.workers,
                   scheduler=a.scheduler, record="all" if a.output else "auto",
                   scheduled_latency=a.scheduled_latency, **options)
    rep = res.to_dict(baseline=a.baseline)
    if a.output:
        arrays = {"output_spike_counts": res.output_spike_counts}
        for o, arr in res.outputs.items():
            arrays[f"output_{o}"] = arr
        for g in prog.groups:
            arrays[f"spike_counts_{g.name}"] = res.trace.spikes[g.name].sum(axis=0)
        buf = io.BytesIO()
        np.savez(buf, **arrays)                   # to a buffer: the name is kept as given
        write_atomic(a.output, buf.getvalue(), "the run's arrays")
    if a.json:
        _json_out(rep)
    else:
        print(render_run(rep))
        if a.output:
            print(f"wrote {a.output}")
    return 0


DIFFER = 4
"""Exit status of ``neurocc diff`` when the backends disagree (0: identical)."""


def cmd_diff(a) -> int:
    from neurocc.backends.diff import diff, render_diff
    from neurocc.compiler.artifact import load

    prog = load(a.program)
    x = load_array(a.input, named=True)
    opts = {n: ({"timeout_s": a.timeout} if n == "lava" else {}) for n in (a.a, a.b)}
    out = diff(prog, x, a.a, a.b, drain=not a.no_drain, options_a=opts[a.a],
               options_b=opts[a.b])
    if a.json:
        _json_out(out)
    else:
        print(render_diff(out))
    return 0 if out["identical"] else DIFFER


def cmd_compare(a) -> int:
    from neurocc.api.compare import compare, render_compare
    from neurocc.compiler.ir import GradedInput

    x = load_array(a.input, named=True)
    enc = GradedInput(max=a.graded_input) if a.graded_input is not None else None
    rows = compare(a.model, a.hw, x, backend=a.backend, dt=a.dt, reset=a.reset,
                   input_encoding=enc)
    if a.json:
        _json_out(rows)
    else:
        print(render_compare(rows))
    return 0


def cmd_info(a) -> int:
    from neurocc.compiler.artifact import load
    from neurocc.reports.summary import render_summary

    summary = load(a.program).info(detail=True)
    if a.json:
        _json_out(summary)
    else:
        print(render_summary(summary))
    return 0


def cmd_check(a) -> int:
    from neurocc.reports.budgets import load_budgets, options_from_args
    from neurocc.reports.check import FAILED, failures, render_junit, render_table, run_check

    if a.junit:
        check_writable(a.junit, "the JUnit report")
    spec = load_budgets(a.budgets, options_from_args(a), a.budget_items,
                        pyproject=not a.no_pyproject)
    out = run_check(spec)
    if a.junit:
        write_atomic(a.junit, render_junit(out), "the JUnit report")
    if a.json:
        _json_out(out)
    else:
        print(render_table(out))
        if a.junit:
            print(f"wrote {a.junit}")
    sys.stdout.flush()
    bad = [c for c in out["configs"] if not c["fits"]]
    if bad:
        print("neurocc: error: " + "; ".join(f"{c['hw']}: {c['error']}" for c in bad),
              file=sys.stderr)
        return 3
    if not out["passed"]:
        failed = failures(out)
        print(f"neurocc: check failed: {len(failed)} of {len(out['results'])} budget(s): "
              + "; ".join(r["message"] for r in failed), file=sys.stderr)
        return FAILED
    return 0


def cmd_calibrate(a) -> int:
    from neurocc.cost.calibrate import render_fit, write_calibrated

    hold = tuple(h for h in (a.hold or "").split(",") if h)
    out = write_calibrated(a.measurements, a.hw, a.output, hold=hold, name=a.name)
    if a.json:
        _json_out(out)
    else:
        print(render_fit(out))
    return 0


def cmd_hw(a) -> int:
    from neurocc.hw_configs import available, load_hw

    if not a.name:
        for n in available():
            hw = load_hw(n)
            print(f"{n:<10} {hw.description}")
        return 0
    hw = load_hw(a.name)
    if a.json:
        _json_out({"name": hw.name, "description": hw.description, "target": hw.target,
                   "values": {k: {"value": hw.value(k), **v} for k, v in hw.sources.items()}})
        return 0
    print(f"{hw.name}: {hw.description}")
    for k, v in hw.sources.items():
        val = hw.value(k)
        flag = "  [assumption]" if v["assumption"] else ""
        print(f"  {k:<38} {val!s:<14} {v['unit']}{flag}\n      source: {v['source']}")
    return 0


def cmd_demo(a) -> int:
    from neurocc.cli.demo import demo, render_demo

    out = demo(hw=a.hw, retrain=a.retrain, progress=not (a.json or a.quiet))
    if a.json:
        _json_out(out)
    else:
        print(render_demo(out))
    return 0


def _zoo_model(name: str):
    from neurocc.models import zoo

    return zoo.get(name)


def _needs_models_extra(e: ImportError) -> NeuroccError:
    return NeuroccError(f"training needs the models extra ({e}); install it with "
                        "pip install 'neurocc[models]'")


def cmd_zoo_list(a) -> int:
    from neurocc.models import zoo

    rows = []
    for name, entry in zoo.REGISTRY.items():
        art = zoo.ARTIFACTS / name
        metrics = {}
        if (art / "metrics.json").exists():
            metrics = json.loads((art / "metrics.json").read_text())
        quality = {k: v for k, v in metrics.items()
                   if k.startswith("float_test_") and isinstance(v, float)}
        rows.append({"name": name, "module": entry.module, "description": entry.description,
                     "nir": str(art / "model.nir") if (art / "model.nir").exists() else None,
                     "float_test": quality})
    if a.json:
        _json_out(rows)
        return 0
    for r in rows:
        q = ", ".join(f"{k.removeprefix('float_test_')} {v:.3f}"
                      for k, v in r["float_test"].items())
        state = f"committed ({q})" if r["nir"] else "not trained (neurocc zoo train NAME)"
        print(f"{r['name']:<10} {r['description']}\n{'':<10} {state}")
    return 0


def cmd_zoo_train(a) -> int:
    model = _zoo_model(a.name)
    if a.sweep and not hasattr(model, "sweep"):
        raise NeuroccError(f"zoo model '{a.name}' has no sweep; --sweep applies to retina "
                           "and olfaction")
    try:
        metrics = model.train(seed=a.seed, out_dir=a.out_dir, progress=not a.json)
        if a.sweep:
            metrics = {**metrics, "sweep": model.sweep(seed=a.seed, out_dir=a.out_dir,
                                                       progress=not a.json)}
    except ImportError as e:
        raise _needs_models_extra(e) from None
    if a.json:
        _json_out(metrics)
        return 0
    out = Path(a.out_dir) if a.out_dir else Path(model.ARTIFACT_DIR)
    shown = {k: v for k, v in metrics.items() if k.startswith(("float_test", "train_seconds",
                                                               "emulator_minus"))}
    print(f"{a.name}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in shown.items()))
    print(f"wrote {out}")
    return 0


def cmd_zoo_export(a) -> int:
    import shutil
    import tempfile

    from neurocc.models import zoo

    if not a.retrain:
        print(f"wrote {zoo.export(a.name, a.output)}")
        return 0
    model = _zoo_model(a.name)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            model.train(seed=a.seed, out_dir=tmp, progress=True)
        except ImportError as e:
            raise _needs_models_extra(e) from None
        Path(a.output).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(tmp) / "model.nir", a.output)
    print(f"wrote {a.output}")
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from neurocc import __version__

    p = _Parser(prog="neurocc", description="Compile spiking networks (NIR) to Loihi-style "
                "chips, emulate them bit-exactly, and estimate energy and latency.",
                epilog="exit status: 0 ok, 1 internal error, 2 bad input, 3 does not fit the "
                "hardware, 4 diff: the backends differ; check: 1 a budget failed")
    p.add_argument("--version", action="version", version=f"neurocc {__version__}",
                   help="print the version and exit")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser, metavar="COMMAND")

    d = sub.add_parser("demo", help="the digits model: compile, emulate, cost",
                       epilog="example:\n  neurocc demo --hw loihi1")
    d.add_argument("--json", action="store_true", help="print one JSON object")
    d.add_argument("--hw", default="loihi2", help="hardware config")
    d.add_argument("--retrain", action="store_true", help="retrain the model first (~1-2 min)")
    d.add_argument("--quiet", action="store_true",
                   help="no progress bars on stderr (drawn only on a terminal)")
    d.set_defaults(fn=cmd_demo)

    c = sub.add_parser("compile", help="compile a .nir file to a program",
                       epilog="example:\n  neurocc compile digits.nir --hw loihi2 --reset zero "
                       "-o digits.neurocc")
    c.add_argument("model", help="NIR file (.nir)")
    c.add_argument("--hw", default="loihi2", help="hardware config name (neurocc hw) or .toml "
                   "path")
    c.add_argument("--dt", type=float, default=None, help="time step in seconds (default 1e-4,"
                   " snnTorch's export convention, or the --producer's)")
    c.add_argument("--reset", choices=RESETS, default=None,
                   help="reset rule the model was trained with (NIR cannot say; default zero, "
                   "or the --producer's)")
    c.add_argument("--producer", choices=sorted(PRODUCERS), default=None,
                   help="the tool that wrote the .nir file: its dt and reset become the "
                   "defaults and what its exporter writes unlike NIR is corrected (Norse's "
                   "CubaLIF w_in; Spyx's r and flatten order; Sinabs' and Rockpool's LIFs, "
                   "which decay exactly and subtract the threshold before the next decay: "
                   "exact decay, input gain, and a self-connection adding back "
                   "(1 - a)*threshold, a = exp(-dt/tau)); default: read as plain NIR")
    c.add_argument("--graded-input", type=float, metavar="MAX", default=None,
                   help="inputs are graded values in [-MAX, MAX] (graded spikes) instead of 0/1")
    c.add_argument("--steps", type=int, metavar="N", default=None,
                   help="time steps per sample the model was trained with (saved with the "
                   "program: run then refuses inputs that look like (batch, steps); default: "
                   "unknown, not checked)")
    c.add_argument("-o", "--output", required=True, help="program file to write")
    c.add_argument("--embed-float-weights", action="store_true",
                   help="store the float weights in the program too (by default they stay in "
                   "the .nir, which the float reference then reads: use this to run "
                   "--backend reference or report where the .nir is not)")
    c.add_argument("--json", action="store_true", help="print the program's summary as one "
                   "JSON object")
    c.add_argument("--quiet", action="store_true",
                   help="no per-pass progress on stderr (shown only on a terminal)")
    c.set_defaults(fn=cmd_compile)

    r = sub.add_parser("run", help="run a program on an input array",
                       description="Run a compiled program on an input array, count every "
                       "spike and synaptic operation, and print energy and latency per "
                       "inference.",
                       epilog="examples:\n  neurocc run digits.neurocc --input x.npy\n"
                       "  neurocc run digits.neurocc --input x.npy --backend lava --json > "
                       "run.json")
    r.add_argument("program", help="compiled program file, written by neurocc compile "
                   "(-o PROGRAM)")
    r.add_argument("--input", required=True, help=".npy array (steps, batch, *input_shape), "
                   "time first like snnTorch: 0/1 spikes, or graded values for a program "
                   "compiled with --graded-input; a graph with several Input nodes takes a "
                   ".npz (numpy.savez) of one such array per Input, by name")
    r.add_argument("--backend", choices=BACKENDS, default="emulator",
                   help="what simulates the chip: emulator (bit-exact fixed point, numpy), "
                   "lava (real Lava 0.10 processes, slow, the emulator's independent check), "
                   "reference (float64 simulation of the NIR graph, no quantization), sanafe "
                   "(SANA-FE's energy and latency model; needs neurocc[sanafe])")
    r.add_argument("--on-chip", action="store_true", help="lava: run on Loihi 2 hardware")
    r.add_argument("--timeout", type=float, default=600.0, help="lava: seconds before giving up")
    r.add_argument("--no-drain", action="store_true",
                   help="do not run the pipeline depth's extra zero-input steps")
    r.add_argument("--workers", type=int, default=None, metavar="N",
                   help="emulator/reference: threads, each a chunk of the samples (default: "
                   "every usable core once the run is large enough; 1 for one thread)")
    r.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="emulator/reference: run the sample chunks on the Dask cluster of "
                   "this scheduler (tcp://host:port; needs neurocc[cluster])")
    r.add_argument("--json", action="store_true", help="print one JSON object instead of the "
                   "text report: backend, hw, steps, batch, output_spike_counts, layers, synops, "
                   "energy_per_inference_j, energy_breakdown_j, latency_per_inference_s, wall_s "
                   "and more (the same as RunResult.to_dict())")
    r.add_argument("-o", "--output", help="write output spikes and counts to this .npz")
    r.add_argument("--baseline", action="store_true",
                   help="add the same network as an ANN (one pass, NeuroBench dense MACs) on an "
                   "fp32 processor, an int8 accelerator, a CPU and a GPU, beside the SNN's "
                   "energy, with the comparison's pitfalls (needs the .nir it was compiled from)")
    r.add_argument("--scheduled-latency", action="store_true",
                   help="also time every step with every message in order, as SANA-FE's "
                   "default (detailed) model does: scheduled_per_inference_s in the report; "
                   "slower, it visits every message")
    r.add_argument("--quiet", action="store_true",
                   help="no progress bars on stderr (drawn only on a terminal)")
    r.set_defaults(fn=cmd_run)

    m = sub.add_parser("compare", help="one model on several hardware configs, side by side",
                       description="Compile MODEL for every config in --hw, run the input on "
                       "each, and print one table: fits, cores, chips, energy per inference "
                       "(dynamic and static apart), latency and energy-delay product.",
                       epilog="example:\n  neurocc compare digits.nir --hw loihi1,loihi2 "
                       "--input x.npy")
    m.add_argument("model", help="NIR file (.nir)")
    m.add_argument("--hw", default="loihi1,loihi2",
                   help="configs separated by commas")
    m.add_argument("--input", required=True, help=".npy array (steps, batch, *input_shape)")
    m.add_argument("--dt", type=float, default=1e-4, help="time step in seconds (default 1e-4)")
    m.add_argument("--reset", choices=RESETS, default="zero",
                   help="reset rule the model was trained with (default zero)")
    m.add_argument("--graded-input", type=float, metavar="MAX", default=None,
                   help="inputs are graded values in [-MAX, MAX]")
    m.add_argument("--backend", choices=BACKENDS, default="emulator",
                   help="backend to run on (default emulator)")
    m.add_argument("--json", action="store_true", help="print the rows as JSON")
    m.add_argument("--quiet", action="store_true",
                   help="no progress bars on stderr (drawn only on a terminal)")
    m.set_defaults(fn=cmd_compare)

    i = sub.add_parser("info", help="describe a compiled program",
                       epilog="example:\n  neurocc info digits.neurocc --json")
    i.add_argument("program", help="compiled program file (neurocc compile -o PROGRAM)")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(fn=cmd_info)

    f = sub.add_parser("diff", help="run two backends and show where they first differ "
                       "(exit 0 identical, 4 differ)",
                       epilog="example:\n  neurocc diff digits.neurocc --input x.npy --a emulator "
                       "--b lava")
    f.add_argument("program", help="compiled program file (neurocc compile -o PROGRAM)")
    f.add_argument("--input", required=True, help=".npy array (steps, batch, *input_shape)")
    f.add_argument("--a", default="emulator", choices=BACKENDS, help="first backend")
    f.add_argument("--b", default="lava", choices=BACKENDS, help="second backend")
    f.add_argument("--timeout", type=float, default=600.0, help="lava: seconds before giving up")
    f.add_argument("--no-drain", action="store_true",
                   help="do not run the pipeline depth's extra zero-input steps")
    f.add_argument("--json", action="store_true", help="print one JSON object")
    f.add_argument("--quiet", action="store_true",
                   help="no progress bars on stderr (drawn only on a terminal)")
    f.set_defaults(fn=cmd_diff)

    h = sub.add_parser("hw", help="list hardware configs or show one with its sources",
                       epilog="examples:\n  neurocc hw\n  neurocc hw loihi2 --json")
    h.add_argument("name", nargs="?", help="config name or .toml path (default: list them "
                   "all)")
    h.add_argument("--json", action="store_true", help="print one JSON object")
    h.set_defaults(fn=cmd_hw)

    z = sub.add_parser("zoo", help="the sensory model zoo: list, train, export",
                       epilog="examples:\n  neurocc zoo list\n  neurocc zoo export digits -o "
                       "digits.nir")
    zs = z.add_subparsers(dest="zoo_cmd", required=True, parser_class=_Parser)
    zl = zs.add_parser("list", help="models, descriptions and committed metrics",
                       epilog="example:\n  neurocc zoo list --json")
    zl.add_argument("--json", action="store_true", help="print the rows as JSON")
    zl.set_defaults(fn=cmd_zoo_list)
    zt = zs.add_parser("train", help="train a zoo model from scratch and write its artifacts",
                       epilog="example:\n  neurocc zoo train digits --seed 1 --out-dir /tmp/d")
    zt.add_argument("name", help="model name (neurocc zoo list)")
    zt.add_argument("--seed", type=int, default=0, help="training seed (default 0: the "
                    "committed artifacts)")
    zt.add_argument("--out-dir", default=None, help="artifact directory (default: the "
                    "committed models/artifacts/NAME)")
    zt.add_argument("--sweep", action="store_true", help="retina: the energy-price sweep; "
                    "olfaction: the inhibition sweep (several trainings, ~10-20 min)")
    zt.add_argument("--json", action="store_true", help="print the metrics as JSON")
    zt.add_argument("--quiet", action="store_true",
                    help="no progress bars on stderr (drawn only on a terminal)")
    zt.set_defaults(fn=cmd_zoo_train)
    ze = zs.add_parser("export", help="write a zoo model's NIR graph",
                       epilog="example:\n  neurocc zoo export digits -o digits.nir")
    ze.add_argument("name", help="model name (neurocc zoo list)")
    ze.add_argument("-o", "--output", required=True, help=".nir file to write")
    ze.add_argument("--retrain", action="store_true",
                    help="regenerate it by training (seed --seed) instead of copying the "
                    "committed artifact")
    ze.add_argument("--seed", type=int, default=0, help="training seed with --retrain")
    ze.set_defaults(fn=cmd_zoo_export)

    k = sub.add_parser("check", help="CI guard: check accuracy, energy, latency and size "
                       "budgets (exit 0 pass, 1 fail)",
                       description="Compile the model for each hw config, run the emulator on "
                       "the inputs and check every budget. Budgets come from options, a "
                       "BUDGETS.toml and the [tool.neurocc] table of the nearest pyproject.toml "
                       "(searched from the current directory upward), merged key by key: "
                       "options > budgets file > pyproject.toml. Exit status: 0 all pass, 1 a "
                       "budget fails, 3 a config does not fit, 2 bad budgets.",
                       epilog="examples:\n  neurocc check                      # [tool.neurocc] "
                       "in pyproject.toml\n  neurocc check ci.toml --junit out.xml\n  neurocc "
                       "check --model digits --hw loihi1,loihi2 --accuracy-min 0.95 --cores-max "
                       "4", formatter_class=HelpFormatter)
    k.add_argument("budgets", metavar="BUDGETS.toml", nargs="?", default=None,
                   help="budgets file: model, hw, inputs, [budgets] (see "
                   "neurocc/reports/budgets.py; default: none)")
    k.add_argument("--no-pyproject", action="store_true",
                   help="ignore [tool.neurocc] in pyproject.toml")
    from neurocc.reports.budgets import add_options as add_budget_options

    add_budget_options(k.add_argument_group("budgets and settings as options (override the "
                                            "files)"))
    k.add_argument("--junit", metavar="OUT.xml", help="also write a JUnit XML report (one "
                   "test case per budget per hw config)")
    k.add_argument("--json", action="store_true", help="print one JSON object")
    k.add_argument("--quiet", action="store_true",
                   help="no progress bars on stderr (drawn only on a terminal)")
    k.set_defaults(fn=cmd_check)

    cal = sub.add_parser(
        "calibrate", help="fit a hardware config's per-event constants to measured runs",
        description="Fit the energy constants of --hw by non-negative least squares to "
        "measured runs (events per inference as neurocc counts them, plus measured joules and "
        "seconds), and the latency as one scale of the per-event latencies plus the barrier "
        "per tile count; write a config whose fitted constants say where they came from and "
        "with what residual. Runs without counts (published board figures) fit only static "
        "power per chip and, when they carry neurocc's modelled dynamic energy, one dynamic "
        "scale. Constants the runs cannot separate are refused by name (hold them with "
        "--hold). Format: neurocc/cost/calibrate.py; example files: "
        "tests/fixtures/calibration/sanafe_runs.json, "
        "neurocc/hw_configs/measurements/lava_dl_pilotnet.json.\n\nexample:\n"
        "  neurocc calibrate sanafe_runs.json --hw loihi2 -o my_chip.toml")
    cal.add_argument("measurements", metavar="MEASUREMENTS",
                     help="measurement file (JSON, \"format\": \"neurocc-measurements/1\")")
    cal.add_argument("--hw", default="loihi2", help="base config: its other values, and the "
                     "constants the runs cannot fit, are kept")
    cal.add_argument("-o", "--output", required=True, help="calibrated .toml to write")
    cal.add_argument("--hold", default=None, metavar="NAME[,NAME]",
                     help="energy constants to keep at the base config's values instead of "
                     "fitting (e.g. hop_ew_j,hop_ns_j)")
    cal.add_argument("--name", default=None, help="name of the calibrated config (default: "
                     "the base name + '-calibrated')")
    cal.add_argument("--json", action="store_true", help="print the fit as one JSON object")
    cal.set_defaults(fn=cmd_calibrate)

    add_report_parser(sub)
    add_completion_parser(sub)

    return p


def main(argv: list[str] | None = None) -> int:
    from neurocc.reports.progress import set_quiet

    parser = build_parser()
    a = parser.parse_args(argv)
    set_quiet(getattr(a, "quiet", False))
    try:
        return int(a.fn(a) or 0)
    except NeuroccError as e:
        print(f"neurocc: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("neurocc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # an internal error: say so, and keep the traceback for a report
        import traceback

        traceback.print_exc()
        print(f"neurocc: internal error: {type(e).__name__}: {e} — please report this",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
