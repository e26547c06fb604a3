"""Where ``neurocc check`` gets its budgets: a budgets file, a ``[tool.neurocc]`` table in
the project's ``pyproject.toml``, and command-line options, merged key by key.

Precedence: **options > budgets file > pyproject.toml**. A key given in several places
takes the value of the strongest one; every budget remembers where it came from (the table
and the JSON say so). The pyproject table is the nearest ``pyproject.toml`` holding a
``[tool.neurocc]`` table, searched from the current directory upward (as ruff and black
look for their settings); ``--no-pyproject`` skips it.

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
    float_agreement_min = 0.95

In ``pyproject.toml`` the same keys sit under ``[tool.neurocc]`` and
``[tool.neurocc.budgets]``. Relative paths (``model``, ``inputs``, ``labels``, a ``.toml``
hw) are read relative to the directory of the file that gave them (the current directory
for options). Unknown keys and wrong types are errors: ``InputError`` (exit 2), one line
naming the key, the file and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from neurocc.api.errors import ConfigError, InputError


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
    Budget("float_agreement_min", "float_agreement", "min", "",
           "fraction of samples whose predicted class (argmax of output spike counts) is the "
           "same in fixed point (emulator) and in float (reference)"),
)
COST_BUDGETS = {b.key: b for b in _COST_BUDGETS}
REFERENCE_QUANTITIES = ("emulator_vs_reference_rel_l1", "float_agreement")
"""Quantities that need a run of the float reference beside the emulator's."""

TOP_KEYS = ("name", "model", "hw", "inputs", "labels", "samples", "dt", "reset",
            "graded_input", "budgets")
NIR_ONLY = ("dt", "reset", "graded_input")

# Command-line options: (option, key, type, metavar, help). Top-level keys, then budgets.
TOP_OPTIONS = (
    ("--model", "model", str, "NAME_OR_NIR", "a zoo model name or a .nir path"),
    ("--hw", "hw", str, "A,B", "hardware configs, names or .toml paths, separated by commas"),
    ("--input", "inputs", str, "X.npy", "input array (steps, batch, *input_shape); default: "
     "a zoo model's test set"),
    ("--labels", "labels", str, "Y.npy", "class index per sample (batch,), for "
     "--accuracy-min"),
    ("--samples", "samples", int, "N", "use the first N samples"),
    ("--dt", "dt", float, "SECONDS", ".nir model: time step (NIR does not record it)"),
    ("--reset", "reset", str, "RULE", ".nir model: reset rule, zero or subtract"),
    ("--graded-input", "graded_input", float, "MAX", ".nir model: graded inputs in "
     "[-MAX, MAX]"),
    ("--name", "name", str, "NAME", "names the JUnit test suites"),
)
BUDGET_OPTIONS = (
    ("--accuracy-min", "accuracy_min", float, "FRACTION", "minimum accuracy (a zoo model's "
     "accuracy; a .nir model: argmax of output spike counts against --labels)"),
    ("--energy-max", "energy_per_inference_j_max", float, "J",
     "maximum energy per inference, static included"),
    ("--dynamic-energy-max", "dynamic_energy_per_inference_j_max", float, "J",
     "maximum dynamic energy per inference"),
    ("--latency-max", "latency_per_inference_s_max", float, "SECONDS",
     "maximum latency per inference"),
    ("--cores-max", "cores_max", int, "N", "maximum cores used"),
    ("--chips-max", "chips_max", int, "N", "maximum chips used"),
    ("--agreement-min", "float_agreement_min", float, "FRACTION", "minimum fraction of "
     "samples whose predicted class is the same in fixed point and in float"),
)


@dataclass(frozen=True)
class Source:
    """Where a setting came from: a budgets file, a pyproject table or an option."""

    kind: str                 # "options", "file" or "pyproject"
    path: Path | None         # the file (None for options)
    option: str = ""          # the option that gave it ("--cores-max"), for options

    @property
    def where(self) -> str:
        """How error messages name it."""
        if self.kind == "file":
            return f"budgets file '{self.path}'"
        if self.kind == "pyproject":
            return f"[tool.neurocc] in '{self.path}'"
        return f"option {self.option}"

    @property
    def label(self) -> str:
        """How the table names it: the file's name, or the option."""
        return self.option if self.kind == "options" else self.path.name

    @property
    def base(self) -> Path:
        """The directory relative paths are read from."""
        return self.path.resolve().parent if self.path is not None else Path.cwd()

    def key(self, key: str, budget: bool = False) -> str:
        """A key as it is written in this source."""
        if self.kind == "options":
            return self.option
        prefix = "tool.neurocc." if self.kind == "pyproject" else ""
        return f"{prefix}budgets.{key}" if budget else f"{prefix}{key}"


@dataclass
class CheckSpec:
    """Validated budgets, merged from every source."""

    path: Path | None
    """The budgets file, else the pyproject.toml, else None (options only)."""
    name: str
    model: str
    """The zoo model name, or the resolved .nir path."""
    zoo: bool
    hw: list[str]
    """Config names or resolved .toml paths, in the given order."""
    inputs: Path | None
    labels: Path | None
    samples: int | None
    compile_kwargs: dict
    budgets: list[tuple[Budget, float]] = field(default_factory=list)
    origin: dict[str, str] = field(default_factory=dict)
    """Budget key → where it came from (a file name or an option)."""
    sources: list[str] = field(default_factory=list)
    """Every source used, strongest first, as the table's header names them."""


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


def _read_toml(p: Path, where: str) -> dict:
    from neurocc.hw_configs import tomllib

    if not p.exists():
        raise InputError(f"{where} does not exist; give a TOML file with model, hw and a "
                         "[budgets] table (see neurocc check --help)")
    if p.is_dir():
        raise InputError(f"{where} is a directory; give a TOML file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{where} is not UTF-8 text; give a TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{where} is not valid TOML: {' '.join(str(e).split())}; fix the "
                         "syntax there") from None


def find_pyproject(start: str | Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.neurocc]`` table, from ``start`` (default:
    the current directory) upward; None if there is none."""
    d = Path(start or Path.cwd()).resolve()
    for folder in (d, *d.parents):
        p = folder / "pyproject.toml"
        if p.is_file():
            raw = _read_toml(p, f"'{p}'")
            if "neurocc" in raw.get("tool", {}):
                return p
    return None


def _layer(raw: dict, source: Source) -> tuple[dict, dict]:
    """A file's or table's settings, checked for unknown keys: (top-level, budgets), each
    key → (value, source)."""
    unknown = [k for k in raw if k not in TOP_KEYS]
    if unknown:
        hint = ""
        if unknown[0] in COST_BUDGETS or unknown[0].endswith(("_min", "_max")):
            table = "[tool.neurocc.budgets]" if source.kind == "pyproject" else "[budgets]"
            hint = f" (budgets go in the {table} table, after the top-level keys)"
        raise InputError(f"{source.where}: unknown key '{source.key(unknown[0])}'{hint}; "
                         f"allowed: {', '.join(TOP_KEYS)}")
    top = {k: (v, source) for k, v in raw.items() if k != "budgets"}
    table = raw.get("budgets", {})
    if not isinstance(table, dict):
        raise InputError(f"{source.where}: '{source.key('budgets')}' must be a table "
                         f"([budgets]), got {_show(table)}")
    return top, {k: (v, source) for k, v in table.items()}


def options_layer(options: dict[str, object], budgets: list[str] = ()) -> tuple[dict, dict]:
    """Settings given as options: ``options`` maps option ("--cores-max") → value (None:
    not given); ``budgets`` are ``--budget KEY=VALUE`` strings, for any budget key."""
    names = {o: (k, True) for o, k, *_ in BUDGET_OPTIONS}
    names.update({o: (k, False) for o, k, *_ in TOP_OPTIONS})
    top, table = {}, {}
    for opt, v in options.items():
        if v is None:
            continue
        key, is_budget = names[opt]
        if key == "hw":
            v = [h.strip() for h in str(v).split(",")]
        (table if is_budget else top)[key] = (v, Source("options", None, opt))
    for item in budgets:
        where = f"option --budget {item}"
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InputError(f"{where}: give KEY=VALUE, e.g. --budget cores_max=4")
        try:
            number = float(value)
        except ValueError:
            raise InputError(f"{where}: the value must be a number, got {value.strip()!r}; "
                             f"e.g. --budget {key}=4") from None
        table[key] = (int(number) if number.is_integer() and "." not in value
                      and "e" not in value.lower() else number,
                      Source("options", None, f"--budget {key}"))
    return top, table


def load_budgets(path: str | Path | None = None, options: dict | None = None,
                 budget_items: list[str] = (), pyproject: bool | str | Path = True,
                 cwd: str | Path | None = None) -> CheckSpec:
    """Budgets merged from a ``[tool.neurocc]`` table (``pyproject=True``: the nearest one
    from ``cwd`` upward; a path: that file; False: none), a budgets file ``path`` and
    options (``options_layer``), the later overriding the earlier key by key."""
    layers: list[tuple[dict, dict]] = []
    main: Source | None = None
    if pyproject:
        pp = find_pyproject(cwd) if pyproject is True else Path(pyproject)
        if pp is not None:
            src = Source("pyproject", pp)
            raw = _read_toml(pp, f"'{pp}'").get("tool", {}).get("neurocc")
            if not isinstance(raw, dict):
                raise InputError(f"'{pp}': 'tool.neurocc' must be a table ([tool.neurocc]), "
                                 f"got {_show(raw)}")
            layers.append(_layer(raw, src))
            main = src
    if path is not None:
        src = Source("file", Path(path))
        layers.append(_layer(_read_toml(src.path, src.where), src))
        main = src
    opt_top, opt_budgets = options_layer(options or {}, budget_items)
    if opt_top or opt_budgets:
        layers.append((opt_top, opt_budgets))
    if not layers:
        raise InputError("no budgets: give a BUDGETS.toml, a [tool.neurocc] table in "
                         f"pyproject.toml (none found from '{Path(cwd or Path.cwd()).resolve()}' "
                         "upward), or options such as --model digits --hw loihi2 --cores-max 4")
    top: dict = {}
    budgets: dict = {}
    for t, b in layers:
        top.update(t)
        budgets.update(b)
    return _validate(top, budgets, main)


def parse_budgets(path: str | Path) -> CheckSpec:
    """Read and validate one budgets file alone (no pyproject, no options)."""
    return load_budgets(path, pyproject=False)


def _validate(top: dict, table: dict, main: Source | None) -> CheckSpec:
    """Check the merged settings (key → (value, source)); one ``InputError`` per problem,
    naming the source of the key at fault."""

    def src(key: str) -> Source:
        return top[key][1] if key in top else (main or Source("options", None, f"--{key}"))

    def err(key: str, msg: str) -> InputError:
        return InputError(f"{src(key).where}: {msg}")

    def q(key: str) -> str:               # the key as its source spells it
        return src(key).key(key)

    def missing(key: str, what: str) -> InputError:
        flag = {k: o for o, k, *_ in TOP_OPTIONS}[key]
        where = main.where if main else "the command line"
        return InputError(f"{where}: missing '{key}': give {what} ({key} = ... in the file, "
                          f"or {flag})")

    def rel(key: str, v: str) -> Path:
        p = Path(v).expanduser()
        return p if p.is_absolute() else src(key).base / p

    def get(key: str, kind, what: str, default=None):
        if key not in top:
            return default
        v = top[key][0]
        ok = _is_number(v) if kind == "number" else (isinstance(v, kind)
                                                     and not isinstance(v, bool))
        if not ok:
            raise err(key, f"'{q(key)}' must be {what}, got {_show(v)}")
        return v

    # ---- the model
    from neurocc.models import zoo

    model = get("model", str, "a zoo model name or a .nir path")
    if not model:
        raise missing("model", f"a zoo model name ({', '.join(zoo.names())}) or a .nir path")
    is_zoo = model in zoo.REGISTRY
    if not is_zoo and not model.endswith(".nir"):
        raise err("model", f"'{q('model')}' = {model!r} is neither a zoo model "
                  f"({', '.join(zoo.names())}) nor a .nir path")
    compile_kwargs: dict = {}
    if is_zoo:
        bad = [k for k in NIR_ONLY if k in top]
        if bad:
            raise err(bad[0], f"'{q(bad[0])}' applies to a .nir model only; the zoo model "
                      f"'{model}' brings its own dt and reset: remove it")
        zm = zoo.get(model)
        if not Path(zm.NIR_PATH).exists():
            raise err("model", f"zoo model '{model}' has no committed artifact {zm.NIR_PATH}; "
                      f"run neurocc zoo train {model} first")
        compile_kwargs.update(zm.COMPILE)
        quality = _quality_budgets(zm.METRIC)
        model_ref = model
    else:
        nir_path = rel("model", model)
        if not nir_path.is_file():
            raise err("model", f"model file '{nir_path}' does not exist; check the path "
                      "(relative paths are read from the directory of the file naming them)")
        model_ref = str(nir_path)
        quality = _quality_budgets("accuracy")
        dt = get("dt", "number", "a time step in seconds (a number > 0)")
        if dt is not None:
            if not (math.isfinite(dt) and dt > 0):
                raise err("dt", f"'{q('dt')}' must be a time step in seconds > 0, got {dt!r}")
            compile_kwargs["dt"] = float(dt)
        from neurocc.compiler.passes.base import RESETS

        reset = get("reset", str, f"one of {', '.join(RESETS)}")
        if reset is not None:
            if reset not in RESETS:
                raise err("reset", f"'{q('reset')}' must be one of {', '.join(RESETS)}, got "
                          f"{reset!r}")
            compile_kwargs["reset"] = reset
        graded = get("graded_input", "number", "the graded input's MAX (a number > 0)")
        if graded is not None:
            if not (math.isfinite(graded) and graded > 0):
                raise err("graded_input", f"'{q('graded_input')}' must be a number > 0, got "
                          f"{graded!r}")
            from neurocc.compiler.ir import GradedInput

            compile_kwargs["input_encoding"] = GradedInput(max=float(graded))

    # ---- the hardware
    if "hw" not in top:
        raise missing("hw", "a config name (neurocc hw), a .toml path, or a list of them")
    hw_raw = top["hw"][0]
    hw_list = [hw_raw] if isinstance(hw_raw, str) else hw_raw
    if not isinstance(hw_list, list) or not hw_list:
        raise err("hw", f"'{q('hw')}' must be a config name, a .toml path or a non-empty list "
                  f"of them, got {_show(hw_raw)}")
    for h in hw_list:
        if not isinstance(h, str) or not h:
            raise err("hw", f"every entry of '{q('hw')}' must be a config name or a .toml "
                      f"path, got {_show(h)}")
    from neurocc.hw_configs import load_hw

    hws: list[str] = []
    for h in hw_list:
        ref = str(rel("hw", h)) if h.endswith(".toml") else h
        try:
            load_hw(ref)
        except ConfigError as e:
            raise err("hw", f"hw '{h}': {e}") from None
        if ref in hws:
            raise err("hw", f"hw '{h}' is listed twice; list each config once")
        hws.append(ref)

    # ---- the inputs
    default_name = main.path.stem if main and main.kind == "file" else (
        main.path.resolve().parent.name if main else "check")
    name = get("name", str, "a string") or default_name
    inputs = get("inputs", str, "a .npy path")
    labels = get("labels", str, "a .npy path")
    inputs_p = rel("inputs", inputs) if inputs else None
    labels_p = rel("labels", labels) if labels else None
    if not is_zoo and inputs_p is None:
        raise missing("inputs", "an input array (.npy, shape (steps, batch, *input_shape)) for "
                      "a .nir model")
    if labels_p is not None and inputs_p is None:
        raise err("labels", f"'{q('labels')}' needs inputs: give inputs too, or drop labels "
                  "(a zoo model's test set brings its own targets)")
    for key, p in (("inputs", inputs_p), ("labels", labels_p)):
        if p is not None and not p.is_file():
            raise err(key, f"{key} file '{p}' does not exist; check the path (relative paths "
                      "are read from the directory of the file naming them)")
    samples = get("samples", int, "a whole number of samples >= 1")
    if samples is not None and samples < 1:
        raise err("samples", f"'{q('samples')}' must be >= 1, got {samples}; give a whole "
                  "number of samples or leave it out (all)")

    # ---- the budgets
    allowed = {**quality, **COST_BUDGETS}
    if not table:
        where = main.where if main else "the command line"
        raise InputError(f"{where}: missing table [budgets]; give at least one of "
                         f"{', '.join(allowed)} (or options such as --cores-max 4)")
    budgets, origin = [], {}
    for key, (v, s) in table.items():
        shown = s.key(key, budget=True)
        if key not in allowed:
            hint = ""
            if key.endswith("_min") and key not in quality and key not in COST_BUDGETS:
                whose = f"zoo model '{model}'" if is_zoo else "a .nir model"
                hint = f" (the quality budget of {whose} is {', '.join(quality)})"
            raise InputError(f"{s.where}: unknown budget '{shown}'{hint}; allowed: "
                             f"{', '.join(allowed)}")
        b = allowed[key]
        if not _is_number(v) or not math.isfinite(v):
            raise InputError(f"{s.where}: '{shown}' must be a finite number, got {_show(v)}")
        if b.kind == "max" and v < 0:
            raise InputError(f"{s.where}: '{shown}' must be >= 0 (a limit on {b.description}), "
                             f"got {v!r}")
        if b in quality.values() and not is_zoo and labels_p is None:
            raise InputError(f"{s.where}: '{shown}' needs labels (a .npy of class indices: "
                             "labels = ... or --labels): a .nir model's accuracy is the argmax "
                             "of its output spike counts against them")
        if b in quality.values() and is_zoo and inputs_p is not None and labels_p is None:
            raise InputError(f"{s.where}: '{shown}' with inputs needs labels (the targets of "
                             "those inputs)")
        budgets.append((b, float(v)))
        origin[key] = s.label
    used = {s.label: None for _, (_, s) in sorted(
        [*top.items(), *table.items()],
        key=lambda kv: ("options", "file", "pyproject").index(kv[1][1].kind))}
    return CheckSpec(path=main.path if main else None, name=name, model=model_ref, zoo=is_zoo,
                     hw=hws, inputs=inputs_p, labels=labels_p, samples=samples,
                     compile_kwargs=compile_kwargs, budgets=budgets, origin=origin,
                     sources=list(used))


def add_options(parser) -> None:
    """The budget options of ``neurocc check`` on an argparse parser."""
    for opt, key, typ, metavar, text in TOP_OPTIONS + BUDGET_OPTIONS:
        parser.add_argument(opt, dest=f"opt_{key}", type=typ, metavar=metavar, default=None,
                            help=text)
    parser.add_argument("--budget", dest="budget_items", action="append", default=[],
                        metavar="KEY=VALUE", help="any budget by its file key, e.g. "
                        "spikes_per_inference_max=500 or r2_min=0.5 (repeatable)")


def options_from_args(args) -> dict:
    """Option → value of the budget options parsed by ``add_options``."""
    return {opt: getattr(args, f"opt_{key}") for opt, key, *_ in TOP_OPTIONS + BUDGET_OPTIONS}


__all__ = ["BUDGET_OPTIONS", "COST_BUDGETS", "TOP_OPTIONS", "Budget", "CheckSpec", "Source",
           "add_options", "find_pyproject", "load_budgets", "options_from_args",
           "parse_budgets"]
