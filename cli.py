"""The neurocc command line: the contract scripts and CI jobs rely on.

    neurocc demo [--json] [--retrain] [--hw NAME]
    neurocc compile MODEL.nir --hw NAME_OR_TOML [--dt SECONDS] [--reset zero|subtract] -o PROGRAM
    neurocc run PROGRAM --input X.npy [--backend emulator|lava|reference] [--json] [-o OUT.npz]
    neurocc info PROGRAM [--json]
    neurocc hw [NAME_OR_TOML] [--json]

Exit status: 0 ok, 2 bad input (file, graph, options), 3 does not fit the hardware,
1 internal error. Errors are one line on stderr; no traceback for user errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from neurocc.errors import InputError, NeuroccError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        print(f"neurocc: error: {message} (see neurocc {self.prog.split()[-1]} --help)"
              if " " in self.prog else f"neurocc: error: {message} (see neurocc --help)",
              file=sys.stderr)
        raise SystemExit(2)


def _json_out(obj) -> None:
    print(json.dumps(obj, indent=1, default=_default))


def _default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


# --------------------------------------------------------------------------- commands


def cmd_compile(a) -> int:
    from neurocc.compiler.pipeline import compile_nir
    from neurocc.compiler.program import save
    from neurocc.summary import program_summary, render_summary

    enc = {"kind": "graded", "max": a.graded_input} if a.graded_input else None
    prog = compile_nir(a.model, hw=a.hw, dt=a.dt, reset=a.reset, input_encoding=enc)
    save(prog, a.output)
    summary = program_summary(prog)
    summary["program"] = str(a.output)
    if a.json:
        _json_out(summary)
    else:
        print(render_summary(summary))
        print(f"wrote {a.output}")
    return 0


def _load_input(path: str) -> np.ndarray:
    p = Path(path)
    if not p.exists():
        raise InputError(f"input file '{p}' does not exist")
    try:
        return np.load(p, allow_pickle=False)
    except Exception as e:
        raise InputError(f"cannot read input '{p}' as a .npy array ({type(e).__name__}); save "
                         "it with numpy.save, shape (steps, batch, *input_shape)") from None


def cmd_run(a) -> int:
    from neurocc.backends import run
    from neurocc.compiler.program import load
    from neurocc.report import render_run, run_report

    prog = load(a.program)
    x = _load_input(a.input)
    options = {}
    if a.backend == "lava":
        options = {"on_chip": a.on_chip, "timeout_s": a.timeout}
    elif a.on_chip:
        raise NeuroccError("--on-chip applies to --backend lava only")
    res = run(prog, x, backend=a.backend, drain=not a.no_drain, **options)
    rep = run_report(res)
    if a.output:
        arrays = {"output_spike_counts": res.output_spike_counts}
        for o, arr in res.outputs.items():
            arrays[f"output_{o}"] = arr
        for g in prog.groups:
            arrays[f"spike_counts_{g.name}"] = res.trace.spikes[g.name].sum(axis=0)
        np.savez(a.output, **arrays)
    if a.json:
        _json_out(rep)
    else:
        print(render_run(rep))
        if a.output:
            print(f"wrote {a.output}")
    return 0


def cmd_info(a) -> int:
    from neurocc.compiler.program import load
    from neurocc.summary import program_summary, render_summary

    prog = load(a.program)
    summary = program_summary(prog, detail=True)
    if a.json:
        _json_out(summary)
    else:
        print(render_summary(summary))
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
        _json_out({"name": hw.name, "description": hw.description, "values": {
            k: {"value": getattr(getattr(hw, k.split(".")[0]), k.split(".")[1]), **v}
            for k, v in hw.sources.items()}})
        return 0
    print(f"{hw.name}: {hw.description}")
    for k, v in hw.sources.items():
        val = getattr(getattr(hw, k.split(".")[0]), k.split(".")[1])
        flag = "  [assumption]" if v["assumption"] else ""
        print(f"  {k:<38} {val!s:<14} {v['unit']}{flag}\n      source: {v['source']}")
    return 0


def cmd_demo(a) -> int:
    from neurocc.demo import demo, render_demo

    out = demo(hw=a.hw, retrain=a.retrain, progress=not a.json)
    if a.json:
        _json_out(out)
    else:
        print(render_demo(out))
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="neurocc", description="Compile spiking networks (NIR) to Loihi-style "
                "chips, emulate them bit-exactly, and estimate energy and latency.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    d = sub.add_parser("demo", help="the digits model: compile, emulate, cost")
    d.add_argument("--json", action="store_true", help="print one JSON object")
    d.add_argument("--hw", default="loihi2", help="hardware config (default loihi2)")
    d.add_argument("--retrain", action="store_true", help="retrain the model first (~1-2 min)")
    d.set_defaults(fn=cmd_demo)

    c = sub.add_parser("compile", help="compile a .nir file to a program")
    c.add_argument("model", help="NIR file (.nir)")
    c.add_argument("--hw", default="loihi2", help="hardware config name or .toml path")
    c.add_argument("--dt", type=float, default=1e-4, help="time step in seconds (default 1e-4,"
                   " snnTorch's export convention)")
    c.add_argument("--reset", choices=("zero", "subtract"), default="zero",
                   help="reset rule the model was trained with (NIR cannot say; default zero)")
    c.add_argument("--graded-input", type=float, metavar="MAX", default=None,
                   help="inputs are graded values in [-MAX, MAX] (graded spikes) instead of 0/1")
    c.add_argument("-o", "--output", required=True, help="program file to write")
    c.add_argument("--json", action="store_true")
    c.set_defaults(fn=cmd_compile)

    r = sub.add_parser("run", help="run a program on an input array")
    r.add_argument("program")
    r.add_argument("--input", required=True, help=".npy array (steps, batch, *input_shape)")
    r.add_argument("--backend", choices=("emulator", "lava", "reference"), default="emulator")
    r.add_argument("--on-chip", action="store_true", help="lava: run on Loihi 2 hardware")
    r.add_argument("--timeout", type=float, default=600.0, help="lava: seconds before giving up")
    r.add_argument("--no-drain", action="store_true",
                   help="do not run the pipeline depth's extra zero-input steps")
    r.add_argument("--json", action="store_true")
    r.add_argument("-o", "--output", help="write output spikes and counts to this .npz")
    r.set_defaults(fn=cmd_run)

    i = sub.add_parser("info", help="describe a compiled program")
    i.add_argument("program")
    i.add_argument("--json", action="store_true")
    i.set_defaults(fn=cmd_info)

    h = sub.add_parser("hw", help="list hardware configs or show one with its sources")
    h.add_argument("name", nargs="?")
    h.add_argument("--json", action="store_true")
    h.set_defaults(fn=cmd_hw)

    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
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
