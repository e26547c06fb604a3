"""``neurocc check``: a CI guard. Budgets (``reports/budgets.py``: a budgets file, a
``[tool.neurocc]`` table in ``pyproject.toml`` and options, merged) name a model, one or more
hardware configs, the inputs and the limits; ``check`` compiles, runs the emulator, measures
every budget on every config and says which pass.

``run_check`` returns a dict (the CLI's ``--json``); ``render_table`` and ``render_junit``
render it.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from neurocc.api.errors import InputError, NeuroccError, ResourceError
from neurocc.api.files import load_array
from neurocc.reports.budgets import (
    COST_BUDGETS,
    REFERENCE_QUANTITIES,
    Budget,
    CheckSpec,
    load_budgets,
    parse_budgets,
)

PASSED, FAILED, NOT_FIT = 0, 1, 3
"""Exit status of ``neurocc check``: every budget passed; a budget failed; a hardware
config does not fit the network (takes precedence over a failed budget). A failed budget is
1 as the CLI contract (ARCHITECTURE.md) has it, like a linter's or a test runner's: a CI job
fails on it, and an internal error (also 1) says "internal error" instead of the table."""


# --------------------------------------------------------------------------- evaluation


def _data(spec: CheckSpec):
    """``(x, targets)`` of the check, cut to ``samples``; targets may be ``None``."""
    targets = None
    if spec.inputs is None:
        from neurocc.models import zoo

        x, targets = zoo.get(spec.model).test_inputs()
    else:
        x = load_array(spec.inputs, "inputs")
        if x.ndim < 2:
            raise InputError(f"inputs '{spec.inputs}' have shape {x.shape}; expected (steps, "
                             "batch, *input_shape)")
        if spec.labels is not None:
            targets = load_array(spec.labels, "labels")
            if spec.zoo is False and (targets.ndim != 1
                                      or not np.issubdtype(targets.dtype, np.integer)):
                raise InputError(f"labels '{spec.labels}' must be a 1-D array of class indices, "
                                 f"got {targets.dtype} {targets.shape}")
            if targets.ndim == 1:
                from neurocc.backends.run import check_axes

                check_axes(None, x.shape, batch=len(targets))
            if len(targets) != x.shape[1]:
                raise InputError(f"labels '{spec.labels}' have {len(targets)} entries but the "
                                 f"inputs have {x.shape[1]} samples (axis 1); give one label "
                                 "per sample")
    if spec.samples is not None:
        if spec.samples > x.shape[1]:
            raise InputError(f"'samples' = {spec.samples} (from {', '.join(spec.sources)}) "
                             f"but the inputs have {x.shape[1]}; lower it or give more inputs")
        x = x[:, :spec.samples]
        targets = None if targets is None else targets[:spec.samples]
    return x, targets


def _quality(spec: CheckSpec, res, targets) -> dict:
    if spec.zoo:
        from neurocc.models import zoo

        return dict(zoo.get(spec.model).score(res, targets))
    counts = np.asarray(res.output_spike_counts)
    if counts.shape[1] == 0:
        raise InputError("accuracy_min is the argmax of output spike counts but the model has "
                         "no spiking outputs; check it another way (e.g. "
                         "emulator_vs_reference_rel_l1_max)")
    return {"accuracy": float(np.mean(np.argmax(counts, axis=1) == targets))}


def _margin(b: Budget, measured: float, limit: float) -> tuple[float, float | None]:
    """Headroom: positive when the budget passes, negative when it fails (absolute and
    relative to the limit; the relative one is ``None`` for a zero limit)."""
    m = limit - measured if b.kind == "max" else measured - limit
    return m, (m / abs(limit) if limit else None)


def _measure(spec: CheckSpec, hw: str, x, targets) -> dict:
    import neurocc
    from neurocc.reports.run import counts_agreement

    names = {b.quantity for b, _ in spec.budgets}
    t0 = time.perf_counter()
    model = spec.model
    if spec.zoo:
        from neurocc.models import zoo

        model = str(zoo.get(spec.model).NIR_PATH)
    prog = neurocc.compile(model, hw=hw, **spec.compile_kwargs)
    compile_s = time.perf_counter() - t0
    res = prog.run(x)
    rep = res.to_dict()
    measured = {
        "energy_per_inference_j": rep["energy_per_inference_j"],
        "dynamic_energy_per_inference_j": rep["energy_dynamic_per_inference_j"],
        "latency_per_inference_s": rep["latency_per_inference_s"],
        "cores": rep["cores_used"], "chips": rep["chips_used"],
        "spikes_per_inference": rep["spikes_per_inference"],
    }
    if names & set(REFERENCE_QUANTITIES):
        ref = prog.run(x, backend="reference")
        a, b = res.output_spike_counts, ref.output_spike_counts
        measured["emulator_vs_reference_rel_l1"] = counts_agreement(a, b)["relative_l1"]
        if "float_agreement" in names:
            if a.shape[1] == 0:
                raise InputError("float_agreement_min compares predicted classes (argmax of "
                                 "output spike counts) but the model has no spiking outputs; "
                                 "use emulator_vs_reference_rel_l1_max")
            measured["float_agreement"] = float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))
    if targets is not None and names - set(measured):
        measured.update({k: float(v) for k, v in _quality(spec, res, targets).items()
                         if isinstance(v, (int, float, np.floating, np.integer))})
    return {"hw": rep["hw"], "hw_ref": hw, "fits": True, "error": None,
            "measured": {k: float(v) for k, v in measured.items()},
            "compile_s": compile_s, "run_s": time.perf_counter() - t0 - compile_s}


def run_check(spec: CheckSpec | str | Path) -> dict:
    """Compile for every config, run the emulator, evaluate every budget.

    Returns ``passed``, ``exit_code`` (0, 1 or 3), ``name``, ``budgets_file``, ``model``,
    ``samples``, ``steps``, ``configs`` (per config: ``hw``, ``fits``, ``error``, ``measured``,
    times) and ``results`` (per config and budget: ``hw``, ``budget``, ``quantity``, ``kind``,
    ``limit``, ``measured``, ``unit``, ``status`` pass/fail/error, ``margin``, ``margin_rel``,
    ``message``, ``source``: the file or option that set the budget).
    """
    if not isinstance(spec, CheckSpec):
        spec = parse_budgets(spec)
    x, targets = _data(spec)
    configs, results = [], []
    t_start = time.perf_counter()
    for hw in spec.hw:
        t0 = time.perf_counter()
        try:
            cfg = _measure(spec, hw, x, targets)
        except ResourceError as e:
            from neurocc.hw_configs import load_hw

            cfg = {"hw": load_hw(hw).name, "hw_ref": hw, "fits": False, "error": str(e),
                   "measured": {}, "compile_s": time.perf_counter() - t0, "run_s": 0.0}
        except NeuroccError as e:                 # same class and exit status, with the hw
            if len(spec.hw) > 1 and e.args:
                e.args = (f"hw {hw}: {e.args[0]}", *e.args[1:])
            raise
        if any(c["hw"] == cfg["hw"] for c in configs):     # two configs of the same name
            cfg["hw"] = hw
        configs.append(cfg)
        for b, limit in spec.budgets:
            r = {"hw": cfg["hw"], "budget": b.key, "source": spec.origin.get(b.key, ""),
                 "quantity": b.quantity, "kind": b.kind,
                 "limit": limit, "unit": b.unit, "measured": None, "margin": None,
                 "margin_rel": None}
            if not cfg["fits"]:
                r.update(status="error", message=f"does not fit {cfg['hw']}: {cfg['error']}")
            elif b.quantity not in cfg["measured"]:
                raise RuntimeError(f"the run did not measure '{b.quantity}' for budget "
                                   f"'{b.key}'")           # a bug, not the user's: exit 1
            else:
                v = cfg["measured"][b.quantity]
                ok = v <= limit if b.kind == "max" else v >= limit
                r["measured"] = v
                r["margin"], r["margin_rel"] = _margin(b, v, limit)
                op = ("<=" if ok else ">") if b.kind == "max" else (">=" if ok else "<")
                r.update(status="pass" if ok else "fail",
                         message=f"{b.quantity} on {cfg['hw']}: measured {_fmt(v, b.unit)} "
                         f"{op} limit {_fmt(limit, b.unit)} ({b.key})")
            results.append(r)
    fits = all(c["fits"] for c in configs)
    passed = fits and all(r["status"] == "pass" for r in results)
    return {"passed": passed, "exit_code": PASSED if passed else (FAILED if fits else NOT_FIT),
            "name": spec.name, "budgets_file": str(spec.path or ""),
            "sources": list(spec.sources), "model": spec.model,
            "zoo": spec.zoo, "samples": int(x.shape[1]), "steps": int(x.shape[0]),
            "hw": [c["hw"] for c in configs], "configs": configs, "results": results,
            "wall_s": time.perf_counter() - t_start}


# --------------------------------------------------------------------------- rendering


def _fmt(v: float | None, unit: str) -> str:
    from neurocc.reports.run import fmt_j, fmt_s

    if v is None:
        return "-"
    if unit == "J":
        return fmt_j(v)
    if unit == "s":
        return fmt_s(v)
    if float(v).is_integer() and abs(v) < 1e9:
        return str(int(v))
    return f"{v:.4g}"


def _fmt_margin(r: dict) -> str:
    if r["margin"] is None:
        return "-"
    if r["margin_rel"] is not None:
        return f"{r['margin_rel'] * 100:+.1f}%"
    return f"{r['margin']:+.4g}"


def failures(out: dict) -> list[dict]:
    return [r for r in out["results"] if r["status"] != "pass"]


def render_table(out: dict) -> str:
    """The check as a table: measured vs limit, margin (headroom: + passes, − fails), result."""
    src = f"zoo model {out['model']}" if out["zoo"] else out["model"]
    lines = [f"neurocc check: {src}, {out['samples']} sample(s) x {out['steps']} steps, hw "
             f"{', '.join(out['hw'])}",
             f"settings from {', '.join(out['sources'])} (options > budgets file > "
             "pyproject.toml)"]
    head = (f"{'hw':<10} {'budget':<36} {'measured':>12}    {'limit':>12} {'margin':>9}  "
            "result  from")
    lines += [head, "-" * len(head)]
    for r in out["results"]:
        op = "<=" if r["kind"] == "max" else ">="
        lines.append(f"{r['hw'][:10]:<10} {r['budget']:<36} {_fmt(r['measured'], r['unit']):>12}"
                     f" {op:>2} {_fmt(r['limit'], r['unit']):>12} {_fmt_margin(r):>9}  "
                     f"{r['status'].upper():<6}  {r['source']}")
    for c in out["configs"]:
        if not c["fits"]:
            lines.append(f"{c['hw']}: does not fit: {c['error']}")
    bad = failures(out)
    n = len(out["results"])
    lines.append(f"{n} budget check(s) on {len(out['configs'])} hw config(s): {n - len(bad)} "
                 f"passed, {sum(r['status'] == 'fail' for r in bad)} failed, "
                 f"{sum(r['status'] == 'error' for r in bad)} error(s); "
                 f"{'PASS' if out['passed'] else 'FAIL'}")
    return "\n".join(lines)


def render_junit(out: dict) -> bytes:
    """JUnit XML (one ``testsuite`` per hw config, one ``testcase`` per budget) as GitLab,
    GitHub and Jenkins read it: a failed budget is a ``<failure>`` with measured and limit, a
    config the network does not fit gives ``<error>`` test cases."""
    results = out["results"]
    root = ET.Element("testsuites", {
        "name": f"neurocc check {out['name']}", "tests": str(len(results)),
        "failures": str(sum(r["status"] == "fail" for r in results)),
        "errors": str(sum(r["status"] == "error" for r in results)),
        "time": f"{out['wall_s']:.3f}"})
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    for c in out["configs"]:
        rs = [r for r in results if r["hw"] == c["hw"]]
        secs = c["compile_s"] + c["run_s"]
        suite = ET.SubElement(root, "testsuite", {
            "name": f"{out['name']}.{c['hw']}", "tests": str(len(rs)),
            "failures": str(sum(r["status"] == "fail" for r in rs)),
            "errors": str(sum(r["status"] == "error" for r in rs)), "skipped": "0",
            "time": f"{secs:.3f}", "timestamp": stamp})
        props = ET.SubElement(suite, "properties")
        for k, v in (("model", out["model"]), ("hw", c["hw_ref"]),
                     ("samples", out["samples"]), ("steps", out["steps"]),
                     ("budgets_file", out["budgets_file"]),
                     ("budget_sources", ", ".join(out["sources"]))):
            ET.SubElement(props, "property", {"name": k, "value": str(v)})
        for r in rs:
            case = ET.SubElement(suite, "testcase", {
                "classname": f"neurocc.check.{out['name']}.{c['hw']}", "name": r["budget"],
                "time": f"{secs / max(len(rs), 1):.3f}"})
            if r["status"] == "fail":
                f = ET.SubElement(case, "failure", {"message": r["message"],
                                                    "type": "BudgetExceeded"})
                unit = f" {r['unit']}" if r["unit"] else ""
                f.text = (f"measured: {r['measured']!r}{unit}\nlimit: {r['kind']} "
                          f"{r['limit']!r}{unit}\nmargin: {r['margin']!r}{unit}\n")
            elif r["status"] == "error":
                e = ET.SubElement(case, "error", {"message": r["message"],
                                                  "type": "ResourceError"})
                e.text = c["error"]
            else:
                ET.SubElement(case, "system-out").text = r["message"]
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


__all__ = ["COST_BUDGETS", "FAILED", "NOT_FIT", "PASSED", "Budget", "CheckSpec", "failures",
           "load_budgets", "parse_budgets", "render_junit", "render_table", "run_check"]
