"""``neurocc check``: a CI guard. A budgets file (TOML) names a model, one or more hardware
configs, the inputs and the budgets; ``check`` compiles, runs the emulator, measures every
budget on every config and says which pass.

A budgets file, every key but ``model``, ``hw`` and one budget optional::

    name = "digits-ci"             # names the JUnit suites (default: the file's stem)
    model = "digits"               # a zoo model name, or a .nir path
    hw = ["loihi1", "loihi2"]      # a config name or .toml path, or a list of them
    samples = 100                  # the first N input samples (default: all)
    # inputs = "x.npy"             # (steps, batch, *input_shape); default: the zoo test set
    # labels = "y.npy"             # (batch,) class indices, for accuracy_min
    # dt = 1e-4                    # .nir models only: NIR records neither dt
    # reset = "zero"               # ... nor the reset rule ("zero" or "subtract")
    # graded_input = 1.0           # .nir models only: graded inputs in [-MAX, MAX]

    [budgets]
    accuracy_min = 0.95            # a zoo model: its METRIC + "_min" (retina: r2_min)
    energy_per_inference_j_max = 5e-5
    dynamic_energy_per_inference_j_max = 2e-6
    latency_per_inference_s_max = 1e-3
    cores_max = 4
    chips_max = 1
    spikes_per_inference_max = 500
    emulator_vs_reference_rel_l1_max = 0.2

Relative paths (``model``, ``inputs``, ``labels``, a ``.toml`` hw) are read relative to the
budgets file's directory. Unknown keys are errors. ``parse_budgets`` raises ``InputError``
(exit 2) with one line naming the key and what is allowed; ``run_check`` returns a dict
(the CLI's ``--json``); ``render_table`` and ``render_junit`` render it.
"""

from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurocc.api.errors import ConfigError, InputError, NeuroccError, ResourceError
from neurocc.api.files import load_array

PASSED, FAILED, NOT_FIT = 0, 5, 3
"""Exit status of ``neurocc check``: every budget passed; a budget failed; a hardware
config does not fit the network (takes precedence over a failed budget)."""


@dataclass(frozen=True)
class Budget:
    key: str
    """The key in ``[budgets]``: the measured quantity + ``_min`` or ``_max``."""
    quantity: str
    kind: str            # "max" (measured <= limit) or "min" (measured >= limit)
    unit: str
    description: str


_COST_BUDGETS = (
    Budget("energy_per_inference_j_max", "energy_per_inference_j", "max", "J",
           "total (static + dynamic) energy per inference"),
    Budget("dynamic_energy_per_inference_j_max", "dynamic_energy_per_inference_j", "max", "J",
           "dynamic energy per inference"),
    Budget("latency_per_inference_s_max", "latency_per_inference_s", "max", "s",
           "latency per inference"),
    Budget("cores_max", "cores", "max", "", "cores used"),
    Budget("chips_max", "chips", "max", "", "chips used"),
    Budget("spikes_per_inference_max", "spikes_per_inference", "max", "",
           "spikes per inference, all layers"),
    Budget("emulator_vs_reference_rel_l1_max", "emulator_vs_reference_rel_l1", "max", "",
           "relative L1 distance of the emulator's output spike counts from the float "
           "reference's"),
)
COST_BUDGETS = {b.key: b for b in _COST_BUDGETS}

TOP_KEYS = ("name", "model", "hw", "inputs", "labels", "samples", "dt", "reset",
            "graded_input", "budgets")
NIR_ONLY = ("dt", "reset", "graded_input")


@dataclass
class CheckSpec:
    """A validated budgets file."""

    path: Path
    name: str
    model: str
    """The zoo model name, or the resolved .nir path."""
    zoo: bool
    hw: list[str]
    """Config names or resolved .toml paths, in the file's order."""
    inputs: Path | None
    labels: Path | None
    samples: int | None
    compile_kwargs: dict
    budgets: list[tuple[Budget, float]] = field(default_factory=list)


def _type_name(v) -> str:
    return {bool: "a boolean", str: "a string", int: "an integer", float: "a number",
            list: "a list", dict: "a table"}.get(type(v), type(v).__name__)


def _show(v) -> str:
    return f"{_type_name(v)} {v!r}" if not isinstance(v, (dict, list)) else _type_name(v)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _quality_budgets(metric: str) -> dict[str, Budget]:
    return {f"{metric}_min": Budget(f"{metric}_min", metric, "min", "",
                                    f"{metric} on the inputs")}


def parse_budgets(path: str | Path) -> CheckSpec:
    """Read and validate a budgets file; raise ``InputError`` (one line) on any problem."""
    try:
        import tomllib
    except ImportError:                       # Python < 3.11
        import tomli as tomllib

    p = Path(path)
    where = f"budgets file '{p}'"
    if not p.exists():
        raise InputError(f"{where} does not exist; give a TOML file with model, hw and a "
                         "[budgets] table (see neurocc check --help)")
    if p.is_dir():
        raise InputError(f"{where} is a directory; give a TOML file")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{where} is not UTF-8 text; give a TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{where} is not valid TOML: {' '.join(str(e).split())}") from None
    base = p.resolve().parent

    def err(msg: str) -> InputError:
        return InputError(f"{where}: {msg}")

    def rel(v: str) -> Path:
        q = Path(v).expanduser()
        return q if q.is_absolute() else base / q

    unknown = [k for k in raw if k not in TOP_KEYS]
    if unknown:
        hint = ""
        if unknown[0] in COST_BUDGETS or unknown[0].endswith(("_min", "_max")):
            hint = " (budgets go in the [budgets] table, after the top-level keys)"
        raise err(f"unknown key '{unknown[0]}'{hint}; allowed top-level keys: "
                  f"{', '.join(TOP_KEYS)}")

    def get(key: str, kind, what: str, default=None):
        if key not in raw:
            return default
        v = raw[key]
        ok = _is_number(v) if kind == "number" else (isinstance(v, kind)
                                                     and not isinstance(v, bool))
        if not ok:
            raise err(f"'{key}' must be {what}, got {_show(v)}")
        return v

    # ---- the model
    from neurocc.models import zoo

    model = get("model", str, "a zoo model name or a .nir path")
    if not model:
        raise err(f"missing key 'model': give a zoo model name ({', '.join(zoo.names())}) or "
                  "a .nir path")
    is_zoo = model in zoo.REGISTRY
    if not is_zoo and not model.endswith(".nir"):
        raise err(f"'model' = {model!r} is neither a zoo model ({', '.join(zoo.names())}) nor "
                  "a .nir path")
    compile_kwargs: dict = {}
    if is_zoo:
        bad = [k for k in NIR_ONLY if k in raw]
        if bad:
            raise err(f"'{bad[0]}' applies to a .nir model only; the zoo model '{model}' "
                      "brings its own dt and reset")
        zm = zoo.get(model)
        if not Path(zm.NIR_PATH).exists():
            raise err(f"zoo model '{model}' has no committed artifact {zm.NIR_PATH}; run "
                      f"neurocc zoo train {model} first")
        compile_kwargs.update(zm.COMPILE)
        quality = _quality_budgets(zm.METRIC)
        model_ref = model
    else:
        nir_path = rel(model)
        if not nir_path.is_file():
            raise err(f"model file '{nir_path}' does not exist")
        model_ref = str(nir_path)
        quality = _quality_budgets("accuracy")
        dt = get("dt", "number", "a time step in seconds (a number > 0)")
        if dt is not None:
            if not (math.isfinite(dt) and dt > 0):
                raise err(f"'dt' must be a time step in seconds > 0, got {dt!r}")
            compile_kwargs["dt"] = float(dt)
        from neurocc.compiler.passes.base import RESETS

        reset = get("reset", str, f"one of {', '.join(RESETS)}")
        if reset is not None:
            if reset not in RESETS:
                raise err(f"'reset' must be one of {', '.join(RESETS)}, got {reset!r}")
            compile_kwargs["reset"] = reset
        graded = get("graded_input", "number", "the graded input's MAX (a number > 0)")
        if graded is not None:
            if not (math.isfinite(graded) and graded > 0):
                raise err(f"'graded_input' must be a number > 0, got {graded!r}")
            from neurocc.compiler.ir import GradedInput

            compile_kwargs["input_encoding"] = GradedInput(max=float(graded))

    # ---- the hardware
    if "hw" not in raw:
        raise err("missing key 'hw': give a config name (neurocc hw), a .toml path, or a list "
                  "of them")
    hw_raw = raw["hw"]
    hw_list = [hw_raw] if isinstance(hw_raw, str) else hw_raw
    if not isinstance(hw_list, list) or not hw_list:
        raise err(f"'hw' must be a config name, a .toml path or a non-empty list of them, got "
                  f"{_show(hw_raw)}")
    for h in hw_list:
        if not isinstance(h, str) or not h:
            raise err(f"every entry of 'hw' must be a config name or a .toml path, got "
                      f"{_show(h)}")
    from neurocc.hw_configs import load_hw

    hws: list[str] = []
    for h in hw_list:
        ref = str(rel(h)) if h.endswith(".toml") else h
        try:
            load_hw(ref)
        except ConfigError as e:
            raise err(f"hw '{h}': {e}") from None
        if ref in hws:
            raise err(f"hw '{h}' is listed twice")
        hws.append(ref)

    # ---- the inputs
    name = get("name", str, "a string") or p.stem
    inputs = get("inputs", str, "a .npy path")
    labels = get("labels", str, "a .npy path")
    inputs_p = rel(inputs) if inputs else None
    labels_p = rel(labels) if labels else None
    if not is_zoo and inputs_p is None:
        raise err("missing key 'inputs': a .nir model needs an input array (.npy, shape "
                  "(steps, batch, *input_shape))")
    if labels_p is not None and inputs_p is None:
        raise err("'labels' needs 'inputs' (a zoo model's test set brings its own targets)")
    for key, q in (("inputs", inputs_p), ("labels", labels_p)):
        if q is not None and not q.is_file():
            raise err(f"{key} file '{q}' does not exist")
    samples = get("samples", int, "a whole number of samples >= 1")
    if samples is not None and samples < 1:
        raise err(f"'samples' must be >= 1, got {samples}")

    # ---- the budgets
    table = raw.get("budgets")
    allowed = {**quality, **COST_BUDGETS}
    if table is None:
        raise err(f"missing table [budgets]; give at least one of {', '.join(allowed)}")
    if not isinstance(table, dict):
        raise err(f"'budgets' must be a table ([budgets]), got {_show(table)}")
    if not table:
        raise err(f"[budgets] is empty; give at least one of {', '.join(allowed)}")
    budgets = []
    for key, v in table.items():
        if key not in allowed:
            hint = ""
            if key.endswith("_min") and key not in quality:
                whose = f"zoo model '{model}'" if is_zoo else "a .nir model"
                hint = f" (the quality budget of {whose} is {', '.join(quality)})"
            raise err(f"unknown budget 'budgets.{key}'{hint}; allowed: {', '.join(allowed)}")
        b = allowed[key]
        if not _is_number(v) or not math.isfinite(v):
            raise err(f"'budgets.{key}' must be a finite number, got {_show(v)}")
        if b.kind == "max" and v < 0:
            raise err(f"'budgets.{key}' must be >= 0 (a limit on {b.description}), got {v!r}")
        if b in quality.values() and not is_zoo and labels_p is None:
            raise err(f"'budgets.{key}' needs 'labels' (a .npy of class indices): a .nir "
                      "model's accuracy is the argmax of its output spike counts against them")
        if b in quality.values() and is_zoo and inputs_p is not None and labels_p is None:
            raise err(f"'budgets.{key}' with 'inputs' needs 'labels' (the targets of those "
                      "inputs)")
        budgets.append((b, float(v)))
    return CheckSpec(path=p, name=name, model=model_ref, zoo=is_zoo, hw=hws, inputs=inputs_p,
                     labels=labels_p, samples=samples, compile_kwargs=compile_kwargs,
                     budgets=budgets)


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
            if len(targets) != x.shape[1]:
                raise InputError(f"labels '{spec.labels}' have {len(targets)} entries but the "
                                 f"inputs have {x.shape[1]} samples (axis 1)")
    if spec.samples is not None:
        if spec.samples > x.shape[1]:
            raise InputError(f"budgets file '{spec.path}': 'samples' = {spec.samples} but the "
                             f"inputs have {x.shape[1]}")
        x = x[:, :spec.samples]
        targets = None if targets is None else targets[:spec.samples]
    return x, targets


def _quality(spec: CheckSpec, res, targets) -> dict:
    if spec.zoo:
        from neurocc.models import zoo

        return dict(zoo.get(spec.model).score(res, targets))
    counts = np.asarray(res.output_spike_counts)
    if counts.ndim != 2:
        raise InputError(f"accuracy needs output spike counts (batch, classes), got shape "
                         f"{counts.shape}")
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
    if "emulator_vs_reference_rel_l1" in names:
        ref = prog.run(x, backend="reference")
        measured["emulator_vs_reference_rel_l1"] = counts_agreement(
            res.output_spike_counts, ref.output_spike_counts)["relative_l1"]
    if targets is not None and names - set(measured):
        measured.update({k: float(v) for k, v in _quality(spec, res, targets).items()
                         if isinstance(v, (int, float, np.floating, np.integer))})
    return {"hw": rep["hw"], "hw_ref": hw, "fits": True, "error": None,
            "measured": {k: float(v) for k, v in measured.items()},
            "compile_s": compile_s, "run_s": time.perf_counter() - t0 - compile_s}


def run_check(spec: CheckSpec | str | Path) -> dict:
    """Compile for every config, run the emulator, evaluate every budget.

    Returns ``passed``, ``exit_code`` (0, 3 or 5), ``name``, ``budgets_file``, ``model``,
    ``samples``, ``steps``, ``configs`` (per config: ``hw``, ``fits``, ``error``, ``measured``,
    times) and ``results`` (per config and budget: ``hw``, ``budget``, ``quantity``, ``kind``,
    ``limit``, ``measured``, ``unit``, ``status`` pass/fail/error, ``margin``, ``margin_rel``,
    ``message``).
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
            r = {"hw": cfg["hw"], "budget": b.key, "quantity": b.quantity, "kind": b.kind,
                 "limit": limit, "unit": b.unit, "measured": None, "margin": None,
                 "margin_rel": None}
            if not cfg["fits"]:
                r.update(status="error", message=f"does not fit {cfg['hw']}: {cfg['error']}")
            elif b.quantity not in cfg["measured"]:
                raise NeuroccError(f"the run did not measure '{b.quantity}' for budget "
                                   f"'{b.key}'")
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
            "name": spec.name, "budgets_file": str(spec.path), "model": spec.model,
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
    lines = [f"neurocc check {out['budgets_file']}: {src}, {out['samples']} sample(s) x "
             f"{out['steps']} steps, hw {', '.join(out['hw'])}"]
    head = (f"{'hw':<10} {'budget':<36} {'measured':>12}    {'limit':>12} {'margin':>9}  "
            "result")
    lines += [head, "-" * len(head)]
    for r in out["results"]:
        op = "<=" if r["kind"] == "max" else ">="
        lines.append(f"{r['hw'][:10]:<10} {r['budget']:<36} {_fmt(r['measured'], r['unit']):>12}"
                     f" {op:>2} {_fmt(r['limit'], r['unit']):>12} {_fmt_margin(r):>9}  "
                     f"{r['status'].upper()}")
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
                     ("budgets_file", out["budgets_file"])):
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
           "parse_budgets", "render_junit", "render_table", "run_check"]
