"""Calibration: fit a hardware config's per-event constants to measured runs.

A *measurement file* (JSON, ``"format": "neurocc-measurements/1"``) lists runs. Each run
gives what was measured per inference and, where neurocc can count them, the events:

    {"format": "neurocc-measurements/1",
     "description": "...", "source": "where the measurements come from",
     "latency_constants_s": {"synop_dense_s": 3.8e-9, ...},   # those model_compute_s used
     "runs": [{
        "name": "digits, 20 images",
        "counts": {"synop_dense_j": 25183.0, "neuron_access_j": 9624.0, ...},
        "energy_j": 1.33e-6, "energy_includes_static": false,
        "latency_s": 8.09e-5, "model_compute_s": 7.5e-5, "steps": 11, "barrier_key": 1,
        "chips": 1, "static_power_w": 0.232, "model_dynamic_j": 1.2e-6}]}

- ``counts``: events per inference keyed by the ``[energy]`` constant they multiply, as
  neurocc counts them (``run_counts``; ``static_power_w``'s count is chips × seconds, used
  when ``energy_includes_static`` is true). ``energy_j``: measured energy per inference.
- ``latency_s``: measured time per inference; ``model_compute_s``: neurocc's time of the
  same run without the barrier, computed with ``latency_constants_s``; ``steps`` and the
  ``barrier_s`` table key the run's tiles look up. neurocc's step time is homogeneous in the
  per-event latencies (the max of chains, links and routes scales with them), so
  ``latency = scale · model_compute_s + steps · barrier[key]`` is exactly linear in the scale
  and the barrier entries.
- ``static_power_w`` (per chip, measured at idle) and ``model_dynamic_j`` (neurocc's dynamic
  energy for the run) serve runs without ``counts``: the *summary* fit, for published
  board-level figures (static power per chip; one dynamic scale when predictions exist).

Energy constants are fitted by non-negative least squares on relative errors (each run's
row divided by its measured energy, so a small run counts as much as a large one). A
constant no run exercises, or whose events the runs cannot separate from others (the column
is a combination of other columns), is not fitted: the fit refuses, naming them, unless they
are held at the base config's values (``hold``), and those stay labelled as from the base.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurocc.api.errors import NeuroccError
from neurocc.hw_configs import HardwareSpec, from_dict, load_hw

FORMAT = "neurocc-measurements/1"
ENERGY_TERMS = ("synop_dense_j", "synop_sparse_j", "synop_conv_j", "neuron_access_j",
                "neuron_update_j", "spike_out_j", "message_out_j", "hop_ew_j", "hop_ns_j",
                "chip_crossing_j")
"""The ``[energy]`` constants a per-event fit can determine (``static_power_w`` apart)."""
LATENCY_TERMS = ("synop_dense_s", "synop_sparse_s", "synop_conv_s", "neuron_access_s",
                 "neuron_update_s", "spike_out_s", "message_out_s", "message_in_s", "hop_ew_s",
                 "hop_ns_s", "chip_crossing_s")
"""The per-event ``[latency]`` constants the latency fit scales together."""
RANK_TOL = 1e-9
"""Singular values below this × the largest count as zero (the columns are scaled to unit
norm first, so the tolerance is relative)."""


class CalibrationError(NeuroccError):
    """Measurements that cannot be read or cannot determine what was asked."""


# --------------------------------------------------------------------------- counting


def run_counts(result) -> dict:
    """One measurement entry (without the measured values) from a ``RunResult``: events per
    inference for every energy constant, neurocc's compute time, steps and barrier key."""

    prog, act, B = result.program, result.activity, result.batch
    est = result.estimate
    routes = act.routes or prog.routes
    from neurocc.compiler.ir.graph import INPUT

    c = dict.fromkeys(ENERGY_TERMS, 0.0)
    for name, spk in [(g.name, act.spikes[g.name]) for g in prog.groups] + \
            [(INPUT, act.input_per_channel)]:
        c["message_out_j"] += float(spk @ routes.msgs[name]) / B
        c["hop_ew_j"] += float(spk @ routes.hops_ew[name]) / B
        c["hop_ns_j"] += float(spk @ routes.hops_ns[name]) / B
        c["chip_crossing_j"] += float(spk @ routes.chips[name]) / B
        if name != INPUT:
            c["spike_out_j"] += float(spk.sum()) / B
    for p in prog.projections:
        c[f"synop_{act.synops_kind[p.name]}_j"] += act.synops[p.name] / B
    for g in prog.groups:
        c["neuron_access_j"] += float(g.n * act.steps_run)
        c["neuron_update_j"] += act.active_updates[g.name] / B
    lat = est.latency_breakdown_s
    table = sorted(prog.hw.latency.barrier_s)
    key = max((k for k, _ in table if lat["tiles_used"] >= k), default=table[0][0])
    return {"counts": c, "model_compute_s": lat["busiest_core_and_routes"],
            "steps": int(act.steps_run), "barrier_key": key, "chips": int(est.chips),
            "model_dynamic_j": est.dynamic_j, "model_latency_s": est.latency_s,
            "static_count": float(est.chips * est.latency_s)}


def measurement_file(runs: list[dict], hw: HardwareSpec, description: str,
                     source: str) -> dict:
    """A measurement file's contents: ``runs`` (``run_counts`` entries plus the measured
    ``energy_j`` / ``latency_s``), with ``hw``'s latency constants recorded."""
    return {"format": FORMAT, "description": description, "source": source,
            "hw": hw.name,
            "latency_constants_s": {k: getattr(hw.latency, k) for k in LATENCY_TERMS},
            "runs": runs}


# --------------------------------------------------------------------------- reading


def load_measurements(path: str | Path) -> dict:
    """Read and check a measurement file; one ``CalibrationError`` line on any problem."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise CalibrationError(f"measurement file '{p}' does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CalibrationError(f"measurement file '{p}' is not readable JSON ({e}); see "
                               "neurocc calibrate --help for the format") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CalibrationError(f"measurement file '{p}' lacks \"format\": \"{FORMAT}\"; see "
                               "neurocc calibrate --help for the format")
    runs = data.get("runs")
    if not isinstance(runs, list) or not runs:
        raise CalibrationError(f"measurement file '{p}' has no runs; give a list \"runs\"")
    for i, r in enumerate(runs):
        what = f"measurement file '{p}', run {i} ({r.get('name', 'unnamed')})" \
            if isinstance(r, dict) else f"measurement file '{p}', run {i}"
        if not isinstance(r, dict):
            raise CalibrationError(f"{what} is not an object")
        for k in ("energy_j", "latency_s", "static_power_w", "model_dynamic_j",
                  "model_compute_s", "chips", "steps"):
            if k in r and not _finite(r[k]):
                raise CalibrationError(f"{what}: {k} = {r[k]!r} must be a finite number >= 0")
        counts = r.get("counts", {})
        if not isinstance(counts, dict):
            raise CalibrationError(f"{what}: counts must be an object term -> events")
        bad = [k for k in counts if k not in ENERGY_TERMS + ("static_power_w",)]
        if bad:
            raise CalibrationError(f"{what}: unknown count term(s) {', '.join(bad)}; use "
                                   f"{', '.join(ENERGY_TERMS)}")
        for k, v in counts.items():
            if not _finite(v):
                raise CalibrationError(f"{what}: count {k} = {v!r} must be a finite number >= 0")
    data["path"] = str(p)
    return data


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
        and v >= 0


# --------------------------------------------------------------------------- fitting


@dataclass
class Fit:
    """The outcome of ``calibrate``: fitted values, what was kept and why, residuals."""

    values: dict                     # "section.field" -> fitted value
    kept: dict = field(default_factory=dict)        # "section.field" -> why it was not fitted
    residuals: dict = field(default_factory=dict)   # "energy" / "latency" / "static" -> stats
    per_run: list = field(default_factory=list)
    mode: str = "events"
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"mode": self.mode, "fitted": self.values, "kept_from_base": self.kept,
                "residuals": self.residuals, "per_run": self.per_run, "notes": self.notes}


def _nnls(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        from scipy.optimize import nnls
    except ImportError:
        raise CalibrationError("neurocc calibrate needs scipy for its non-negative least "
                               "squares; pip install 'neurocc[calibrate]'") from None
    return nnls(A, b)[0]


def unseparable(A: np.ndarray) -> list[list[int]]:
    """Groups of column indices of ``A`` that the rows cannot separate: each column whose unit
    vector is not in ``A``'s row space, grouped with the columns it is tied to (the nonzero
    entries of the null space in its row). Columns are scaled to unit norm first."""
    norms = np.linalg.norm(A, axis=0)
    live = norms > 0
    As = A[:, live] / norms[live]
    idx = np.flatnonzero(live)
    if As.shape[1] == 0:
        return []
    _, s, vt = np.linalg.svd(As, full_matrices=True)
    rank = int(np.sum(s > RANK_TOL * s.max())) if s.size else 0
    null = vt[rank:].T                    # (n_cols, n_null)
    if null.shape[1] == 0:
        return []
    weight = np.linalg.norm(null, axis=1)
    bad = np.flatnonzero(weight > 1e-6)
    groups, seen = [], set()
    for j in bad:
        if j in seen:
            continue
        tied = {int(k) for k in bad if abs(null[j] @ null[k]) > 1e-6}
        seen |= tied
        groups.append(sorted(int(idx[k]) for k in tied))
    return groups


def fit_energy(runs: list[dict], base: HardwareSpec, hold: tuple[str, ...] = ()) -> tuple:
    """NNLS of the per-event energies (and static power, for runs whose energy includes it).
    Returns ``(values, kept, residuals, per_run)``."""
    terms = list(ENERGY_TERMS)
    with_static = any(r.get("energy_includes_static") for r in runs)
    if with_static:
        terms.append("static_power_w")
    A = np.zeros((len(runs), len(terms)))
    b = np.array([float(r["energy_j"]) for r in runs])
    for i, r in enumerate(runs):
        for j, t in enumerate(terms):
            if t == "static_power_w":
                A[i, j] = float(r["counts"].get(t, r.get("chips", 1) * r.get("latency_s", 0)))
                if not r.get("energy_includes_static"):
                    A[i, j] = 0.0
            else:
                A[i, j] = float(r["counts"].get(t, 0.0))
    if np.any(b <= 0):
        raise CalibrationError("a run's measured energy_j is 0: the relative fit needs "
                               "positive energies; drop that run")
    kept, fixed = {}, {}
    for j, t in enumerate(terms):
        if not A[:, j].any():
            kept[f"energy.{t}"] = "no run exercises it (zero events in every run)"
            fixed[j] = getattr(base.energy, t)
    for t in hold:
        j = terms.index(t.removeprefix("energy.")) if t.removeprefix("energy.") in terms else None
        if j is not None and j not in fixed:
            kept[f"energy.{terms[j]}"] = "held at the base config's value (--hold)"
            fixed[j] = getattr(base.energy, terms[j])
    free = [j for j in range(len(terms)) if j not in fixed]
    groups = unseparable(A[:, free] / b[:, None])
    if groups:
        names = "; ".join(" + ".join(terms[free[k]] for k in g) for g in groups)
        raise CalibrationError(
            f"the {len(runs)} run(s) cannot separate {names}: their events vary together "
            "in every run; add runs where they vary independently, or hold them at the base "
            "config's values with --hold " + ",".join(terms[free[k]] for g in groups
                                                      for k in g))
    if not free:
        raise CalibrationError("no energy constant can be fitted: every term is unexercised "
                               "or held; give runs with counts")
    rhs = b - sum(A[:, j] * v for j, v in fixed.items())
    Aw = A[:, free] / b[:, None]
    scale = np.linalg.norm(Aw, axis=0)
    x = _nnls(Aw / scale, rhs / b) / scale
    values = {f"energy.{terms[j]}": float(x[k]) for k, j in enumerate(free)}
    full = np.zeros(len(terms))
    full[free] = x
    for j, v in fixed.items():
        full[j] = v
    pred = A @ full
    rel = (pred - b) / b
    per_run = [{"name": r.get("name", f"run {i}"), "measured_energy_j": float(b[i]),
                "fitted_energy_j": float(pred[i]), "relative_error": float(rel[i])}
               for i, r in enumerate(runs)]
    for k, j in enumerate(free):
        if x[k] == 0.0:
            kept.pop(f"energy.{terms[j]}", None)
    res = {"runs": len(runs), "rms_relative": float(np.sqrt(np.mean(rel ** 2))),
           "max_abs_relative": float(np.max(np.abs(rel))),
           "dof": int(len(runs) - len(free))}
    return values, kept, res, per_run


def fit_latency(runs: list[dict], base: HardwareSpec, constants: dict | None) -> tuple:
    """``latency = scale · model_compute_s + steps · barrier[key]``: least squares (relative,
    non-negative) for the scale and one barrier entry per key the runs use."""
    use = [r for r in runs if "latency_s" in r and "model_compute_s" in r and "steps" in r]
    if not use:
        return {}, {"latency.*": "no run has latency_s, model_compute_s and steps"}, {}, []
    keys = sorted({r.get("barrier_key") for r in use}, key=lambda k: (k is None, k))
    if None in keys:
        raise CalibrationError("a run with latency_s has no barrier_key; give the barrier_s "
                               "table key its tiles in use look up (run_counts records it)")
    A = np.zeros((len(use), 1 + len(keys)))
    b = np.array([float(r["latency_s"]) for r in use])
    for i, r in enumerate(use):
        A[i, 0] = r["model_compute_s"]
        A[i, 1 + keys.index(r["barrier_key"])] = r["steps"]
    groups = unseparable(A / b[:, None])
    if groups:
        names = ["per-event latency scale" if k == 0 else f"barrier at {keys[k - 1]} tiles"
                 for g in groups for k in g]
        raise CalibrationError(f"the {len(use)} timed run(s) cannot separate "
                               f"{' and '.join(names)}: give runs with other step counts or "
                               "other amounts of work per step")
    Aw = A / b[:, None]
    s = np.linalg.norm(Aw, axis=0)
    x = _nnls(Aw / s, np.ones(len(use))) / s
    pred = A @ x
    rel = (pred - b) / b
    ref = constants or {k: getattr(base.latency, k) for k in LATENCY_TERMS}
    values = {f"latency.{k}": float(x[0] * ref[k]) for k in LATENCY_TERMS}
    table = {k: v for k, v in base.latency.barrier_s}
    for k, key in enumerate(keys):
        table[key] = float(x[1 + k])
    values["latency.barrier_s"] = [[_key(k), v] for k, v in sorted(table.items())]
    kept = {}
    untouched = [k for k in sorted(table) if k not in keys]
    if untouched:
        kept["latency.barrier_s"] = ("entries for " + ", ".join(f"{_key(k)}" for k in untouched)
                                     + " tiles kept from the base config (no run used them)")
    res = {"runs": len(use), "scale_of_per_event_latencies": float(x[0]),
           "rms_relative": float(np.sqrt(np.mean(rel ** 2))),
           "max_abs_relative": float(np.max(np.abs(rel))), "dof": int(len(use) - A.shape[1])}
    per_run = [{"name": r.get("name", f"run {i}"), "measured_latency_s": float(b[i]),
                "fitted_latency_s": float(pred[i]), "relative_error": float(rel[i])}
               for i, r in enumerate(use)]
    return values, kept, res, per_run


def _key(k):
    return int(k) if float(k).is_integer() else float(k)


def fit_summary(runs: list[dict], base: HardwareSpec) -> Fit:
    """Runs without event counts (published board figures): static power per chip from the
    measured idle power, and one scale of every per-event energy from the runs that carry
    neurocc's ``model_dynamic_j`` for the same network. Nothing else can be fixed."""
    values, kept, res, notes = {}, {}, {}, []
    static = [(r, float(r["static_power_w"])) for r in runs if "static_power_w" in r]
    if static:
        p = np.array([v for _, v in static])
        mean = float(p.mean())
        values["energy.static_power_w"] = mean
        res["static"] = {"runs": len(p), "values_w": p.tolist(), "mean_w": mean,
                         "max_abs_relative": float(np.max(np.abs(p - mean)) / mean),
                         "dof": len(p) - 1}
    else:
        kept["energy.static_power_w"] = "no run measured static power"
    dyn = [r for r in runs if "model_dynamic_j" in r and "energy_j" in r]
    if dyn:
        m = np.array([_dynamic(r) for r in dyn])
        pred = np.array([float(r["model_dynamic_j"]) for r in dyn])
        ok = (m > 0) & (pred > 0)
        if ok.any():
            scale = float(np.sum(m[ok] / pred[ok]) / ok.sum())   # mean ratio: relative LS
            for t in ENERGY_TERMS:
                values[f"energy.{t}"] = scale * getattr(base.energy, t)
            rel = scale * pred[ok] / m[ok] - 1
            res["energy"] = {"runs": int(ok.sum()), "dynamic_scale": scale,
                             "max_abs_relative": float(np.max(np.abs(rel))),
                             "dof": int(ok.sum() - 1)}
    if not any(k.startswith("energy.") and k != "energy.static_power_w" for k in values):
        for t in ENERGY_TERMS:
            kept[f"energy.{t}"] = ("kept from the base config: no run carries neurocc's "
                                   "event counts or model_dynamic_j for the measured network, "
                                   "so no dynamic scale can be fitted")
        notes.append("measured dynamic energy per inference cannot be turned into per-event "
                     "constants without the events of the same network")
    kept["latency.*"] = ("kept from the base config: board step rates include host I/O and "
                         "synchronisation that the per-event latencies do not model, and no "
                         "run carries neurocc's modelled time for the same network")
    return Fit(values=values, kept=kept, residuals=res, mode="summary", notes=notes,
               per_run=[{"name": r.get("name", f"run {i}"),
                         **{k: r[k] for k in ("energy_j", "static_power_w", "latency_s")
                            if k in r}} for i, r in enumerate(runs)])


def _dynamic(r: dict) -> float:
    """A run's measured dynamic energy: ``dynamic_energy_j`` when given, else ``energy_j``
    less static power × chips × latency when it includes static."""
    if "dynamic_energy_j" in r:
        return float(r["dynamic_energy_j"])
    e = float(r["energy_j"])
    if r.get("energy_includes_static"):
        e -= float(r.get("static_power_w", 0)) * float(r.get("chips", 1)) * \
            float(r.get("latency_s", 0))
    return e


def calibrate(measurements: str | Path | dict, hw: str | Path | HardwareSpec,
              hold: tuple[str, ...] = ()) -> Fit:
    """Fit ``hw``'s constants to ``measurements`` (a file path or ``load_measurements``
    result). Runs with ``counts`` are fitted per event (energy by NNLS, latency by its scale
    and barrier); without, the summary fit. Raises ``CalibrationError`` when the data cannot
    determine what is asked."""
    data = measurements if isinstance(measurements, dict) else load_measurements(measurements)
    base = hw if isinstance(hw, HardwareSpec) else load_hw(hw)
    runs = data["runs"]
    counted = [r for r in runs if r.get("counts")]
    if not counted:
        return fit_summary(runs, base)
    if len(counted) != len(runs):
        raise CalibrationError(f"{len(runs) - len(counted)} of {len(runs)} runs have no "
                               "counts; give counts for every run or for none (summary fit)")
    missing = [r.get("name", str(i)) for i, r in enumerate(runs) if "energy_j" not in r]
    if missing:
        raise CalibrationError(f"run(s) {', '.join(missing)} have counts but no energy_j; "
                               "give the measured energy per inference")
    bad_hold = [h for h in hold if h.removeprefix("energy.") not in ENERGY_TERMS +
                ("static_power_w",)]
    if bad_hold:
        raise CalibrationError(f"--hold {','.join(bad_hold)}: not an energy constant; choose "
                               f"from {', '.join(ENERGY_TERMS)}, static_power_w")
    values, kept, res, per_run = fit_energy(runs, base, tuple(hold))
    lv, lk, lres, lper = fit_latency(runs, base, data.get("latency_constants_s"))
    values.update(lv)
    kept.update(lk)
    if not any(r.get("energy_includes_static") for r in runs):
        kept["energy.static_power_w"] = ("kept from the base config: the measured energies "
                                         "are dynamic only")
    fit = Fit(values=values, kept=kept, residuals={"energy": res}, mode="events",
              per_run=per_run)
    if lres:
        fit.residuals["latency"] = lres
        for row, lrow in zip(fit.per_run, lper):
            row.update(lrow)
    return fit


# --------------------------------------------------------------------------- writing


def calibrated_config(fit: Fit, base: HardwareSpec, path_label: str, n_runs: int,
                      name: str | None = None) -> dict:
    """The base config's TOML table with the fitted values in, each fitted constant's source
    naming the file, the runs and the residual; kept constants say why they were kept."""
    import copy

    raw = copy.deepcopy(base.raw)
    raw["name"] = name or f"{base.name}-calibrated"
    raw["description"] = f"{base.description}; calibrated by neurocc calibrate from " \
                         f"{path_label} ({n_runs} run(s))"
    for key, value in fit.values.items():
        sec, fname = key.split(".")
        kind = "latency" if sec == "latency" else (
            "static" if fname == "static_power_w" and "static" in fit.residuals else "energy")
        r = fit.residuals.get(kind, {})
        resid = (f"rms relative residual {r['rms_relative']:.2e}, max {r['max_abs_relative']:.2e}"
                 if "rms_relative" in r else
                 f"max relative deviation {r.get('max_abs_relative', 0):.2e}")
        entry = dict(raw[sec][fname])
        entry["value"] = value
        entry["source"] = (f"fitted by neurocc calibrate from {path_label} ({n_runs} runs, "
                           f"{resid}, {r.get('dof', 0)} degree(s) of freedom; mode "
                           f"{fit.mode}); was {_fmt(base.value(key))}: {entry['source']}")
        entry["assumption"] = False
        raw[sec][fname] = entry
    for key, why in fit.kept.items():
        sec, fname = key.split(".")
        names = [fname] if fname != "*" else list(raw[sec])
        for f in names:
            if f"{sec}.{f}" in fit.values and key != "latency.barrier_s":
                continue
            entry = dict(raw[sec][f])
            if "neurocc calibrate" not in entry["source"]:
                entry["source"] = f"not fitted by neurocc calibrate from {path_label} " \
                                  f"({why}): {entry['source']}"
            else:
                entry["source"] += f"; {why}"
            raw[sec][f] = entry
    return raw


def _fmt(v) -> str:
    return json.dumps(v) if isinstance(v, (list, tuple)) else f"{v:g}"


def to_toml(raw: dict, header: str = "") -> str:
    """A hardware config table as TOML text (inline tables for every value)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    top = [k for k, v in raw.items() if not isinstance(v, dict)]
    for k in top:
        lines.append(f"{k} = {_toml_value(raw[k])}")
    for sec, table in raw.items():
        if not isinstance(table, dict):
            continue
        lines.append("")
        lines.append(f"[{sec}]")
        for k, v in table.items():
            lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise CalibrationError(f"cannot write the non-finite value {v} to a config")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise CalibrationError(f"cannot write a {type(v).__name__} to a config")


def write_calibrated(measurements: str | Path, hw: str | Path, output: str | Path,
                     hold: tuple[str, ...] = (), name: str | None = None) -> dict:
    """``neurocc calibrate``: fit, check that the written config loads, write it atomically.
    Returns the fit's dictionary with the output path."""
    from neurocc.api.files import check_writable, write_atomic

    check_writable(output, "the calibrated config")
    data = load_measurements(measurements)
    base = load_hw(hw)
    fit = calibrate(data, base, hold)
    label = Path(measurements).name
    raw = calibrated_config(fit, base, label, len(data["runs"]), name)
    text = to_toml(raw, header=_header(fit, base, label, data))
    from_dict(_reparse(text), str(output))      # refuse to write a config that would not load
    write_atomic(output, text.encode(), "the calibrated config")
    return {**fit.to_dict(), "output": str(output), "base": base.name, "name": raw["name"]}


def _reparse(text: str) -> dict:
    from neurocc.hw_configs import tomllib

    return tomllib.loads(text)


def _header(fit: Fit, base: HardwareSpec, label: str, data: dict) -> str:
    lines = [f"Calibrated from {label} by neurocc calibrate (mode: {fit.mode}), base config "
             f"'{base.name}'.", f"Measurements: {data.get('description', '')}",
             f"Their source: {data.get('source', 'not stated')}"]
    for k, r in fit.residuals.items():
        lines.append(f"{k} residuals: " + ", ".join(f"{a} {b:.3g}" if isinstance(b, float)
                                                   else f"{a} {b}" for a, b in r.items()
                                                   if not isinstance(b, list)))
    for k, why in fit.kept.items():
        lines.append(f"not fitted: {k}: {why}")
    lines += fit.notes
    return "\n".join(lines)


def render_fit(out: dict) -> str:
    """Text summary of ``write_calibrated``'s result."""
    lines = [f"calibrated '{out['base']}' as '{out['name']}' (mode {out['mode']}):"]
    for k, v in out["fitted"].items():
        if k.startswith("latency.") and k != "latency.barrier_s":
            continue
        lines.append(f"  {k:<28} {v if isinstance(v, list) else f'{v:.4g}'}")
    if "latency" in out["residuals"]:
        s = out["residuals"]["latency"]["scale_of_per_event_latencies"]
        lines.append(f"  latency.* per-event          x {s:.4g} of the measurement file's")
    for k, r in out["residuals"].items():
        lines.append(f"  residual {k}: " + ", ".join(
            f"{a} {b:.3g}" if isinstance(b, float) else f"{a} {b}" for a, b in r.items()
            if not isinstance(b, list)))
    for k, why in out["kept_from_base"].items():
        lines.append(f"  kept {k}: {why}")
    lines.append(f"wrote {out['output']}")
    return "\n".join(lines)


__all__ = ["CalibrationError", "ENERGY_TERMS", "FORMAT", "Fit", "LATENCY_TERMS", "calibrate",
           "calibrated_config", "load_measurements", "measurement_file", "render_fit",
           "run_counts", "to_toml", "unseparable", "write_calibrated"]
