"""``neurocc report``: one self-contained HTML file about a program and one run of it.

``build_report`` computes everything (a plain dictionary); ``render_html`` turns it into one
HTML file with inline CSS and inline SVG figures drawn here with numpy (no matplotlib, no
network, no external JS, CSS or fonts). The sections: spike raster and firing rates per
layer; energy per inference, dynamic and static apart, per term, per layer and per core; the
core/chip map with the utilisation of every per-core resource; latency per step (the two
chains of a core side by side versus their serial sum) and the busiest core; quantization
errors and float-reference versus fixed-point agreement per layer; accuracy when labels are
given; every hardware constant with its unit and source, assumptions flagged. With
``baseline=True`` (``--baseline``) a section puts the SNN's energy per inference beside the
same network run as an ANN (``cost/baseline.py``): fp32 and int8 arithmetic (Horowitz 2014),
CPU and GPU whole systems (Degnan 2016), the MAC and synaptic-event counts, every figure
with its source and the comparison's pitfalls, all labelled as estimates.

``--png DIR`` writes the figures alone: rendered to PNG with headless Chromium when one is
installed, else as standalone ``.svg`` files (and says so).
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from neurocc.api.errors import InputError

RASTER_SAMPLES = 4
"""Samples shown side by side in the spike raster."""
RASTER_ROWS = 256
"""At most this many neuron rows in the raster over all layers (the input included)."""
BAR_ROWS = 48
"""At most this many bars in a per-core chart (the largest are shown; the tables list all)."""
TABLE_ROWS = 512
"""At most this many rows in a per-core table."""
WIDTH = 760
"""Width of every figure in CSS pixels."""

PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3",
           "#8c8c8c", "#ccb974", "#64b5cd")
STATIC_COLOUR = "#c44e52"
DYNAMIC_COLOUR = "#4c72b0"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FIGURE_TIMEOUT_S = 60.0
"""Seconds before one figure's Chromium rendering is given up."""


# --------------------------------------------------------------------------- data


def _fixed_and_reference(program, x, backend: str, main):
    """The fixed-point and float-reference runs of ``x`` (``main`` is one of them)."""
    fixed = main if backend != "reference" else program.run(x, backend="emulator",
                                                            record="all")
    ref = main if backend == "reference" else program.run(x, backend="reference",
                                                          record="all")
    return fixed, ref


def _check_labels(labels, batch: int) -> np.ndarray | None:
    if labels is None:
        return None
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != batch:
        raise InputError(f"labels have shape {tuple(y.shape)}; expected ({batch},), one class "
                         "index per sample of the input's batch axis")
    if not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y))
                and np.all(y == np.round(y))):
            raise InputError(f"labels must be integer class indices, got dtype {y.dtype}")
    return y.astype(np.int64)


def _raster(program, x, res) -> dict:
    """Spike events of a few samples, the most active neurons of each layer (all of a layer
    that fits), with the input first."""
    spikes = res.trace.spikes
    steps_run, batch = res.steps_run, res.batch
    samples = list(range(min(RASTER_SAMPLES, batch)))
    blocks = [("input", np.asarray(x).reshape(x.shape[0], x.shape[1], -1) != 0)]
    blocks += [(g.name, np.asarray(spikes[g.name], bool)) for g in program.groups]
    cap = max(8, RASTER_ROWS // len(blocks))
    layers = []
    for name, s in blocks:
        n = s.shape[2]
        counts = s.sum(axis=(0, 1))
        if n <= cap:
            shown, how = np.arange(n), "all"
        else:
            shown = np.sort(np.argsort(-counts, kind="stable")[:cap])
            how = f"the {cap} most active of {n}"
        events = []
        for b in samples:
            t, r = np.nonzero(s[:, b][:, shown])
            events.append(np.stack([t, r], axis=1).tolist())
        layers.append({"name": name, "neurons": int(n), "shown": shown.tolist(),
                       "selection": how, "steps": int(s.shape[0]), "events": events})
    return {"samples": samples, "steps_run": int(steps_run), "layers": layers}


def _firing(program, res) -> list[dict]:
    out = []
    dt = program.dt
    for g in program.groups:
        s = np.asarray(res.trace.spikes[g.name], bool)
        per_neuron = s.sum(axis=0) / s.shape[0]               # (B, n) spikes per step
        rate = float(per_neuron.mean())
        out.append({"layer": g.name, "neurons": g.n,
                    "spikes_per_inference": float(s.sum()) / res.batch,
                    "rate_per_step": rate, "rate_hz": rate / dt,
                    "max_neuron_rate_per_step": float(per_neuron.mean(axis=0).max()),
                    "silent_fraction": float(np.mean(s.sum(axis=(0, 1)) == 0))})
    return out


def _energy(rep: dict, hw) -> dict:
    terms = {k: v for k, v in rep["energy_breakdown_j"].items() if k != "static"}
    by_core = sorted(({"core": c["core"], "energy_j": c["energy_j"]} for c in rep["per_core"]),
                     key=lambda c: c["core"])
    return {"total_j": rep["energy_per_inference_j"],
            "dynamic_j": rep["energy_dynamic_per_inference_j"],
            "static_j": rep["energy_static_per_inference_j"],
            "dynamic_terms_j": terms,
            "static": {"static_power_w_per_chip": hw.energy.static_power_w,
                       "chips": rep["chips_used"], "latency_s": rep["latency_per_inference_s"],
                       "energy_j": rep["energy_static_per_inference_j"]},
            "by_layer_j": rep["energy_by_layer_j"], "by_core": by_core,
            "by_core_sum_j": float(sum(c["energy_j"] for c in by_core))}


def _latency(rep: dict, res, hw) -> dict:
    from neurocc.cost.latency import CORE_TERMS, MESSAGE_CHAIN, seconds_per_event, step_time

    lb = rep["latency_breakdown_s"]
    per_step = []
    parts = res.activity.step_parts if res.activity is not None else []
    if parts:
        st = np.stack(parts)                                    # (steps, 4, B): latency.PARTS
        two = step_time(st).mean(axis=-1)
        serial = step_time(st, serial=True).mean(axis=-1)
        mean = st.mean(axis=-1)
        for t in range(st.shape[0]):
            per_step.append({"step": t, "two_chain_s": float(two[t]),
                             "serial_s": float(serial[t]), "core_s": float(mean[t, 0]),
                             "link_s": float(mean[t, 1]), "route_s": float(mean[t, 2]),
                             "core_serial_s": float(mean[t, 3]),
                             "barrier_s": lb["barrier_per_step"]})
    sec = seconds_per_event(hw)
    receive = np.array([t in MESSAGE_CHAIN for t in CORE_TERMS])
    cores = []
    for c in rep["per_core"]:
        ev = np.array([c[t] for t in CORE_TERMS], float)
        msg, neu = float(ev[receive] @ sec[receive]), float(ev[~receive] @ sec[~receive])
        cores.append({"core": c["core"], "message_chain_s": msg, "neuron_chain_s": neu,
                      "two_chain_s": max(msg, neu), "serial_s": msg + neu})
    cores.sort(key=lambda c: c["core"])
    busiest = max(cores, key=lambda c: (c["two_chain_s"], -c["core"])) if cores else None
    return {"per_inference_s": rep["latency_per_inference_s"],
            "serial_upper_bound_s": lb["serial_upper_bound_s"],
            "two_chain_steps_sum_s": float(sum(s["two_chain_s"] for s in per_step)),
            "serial_steps_sum_s": float(sum(s["serial_s"] for s in per_step)),
            "breakdown_s": lb, "per_step": per_step, "per_core": cores,
            "busiest_core": busiest}


def _quantization(program) -> dict:
    q = program.report.to_dict()
    layers = []
    for g in program.groups:
        L = q["layers"].get(g.name)
        incoming = [{"projection": p.name, **q["projections"][p.name]}
                    for p in program.incoming(g.name) if p.name in q["projections"]]
        layers.append({"layer": g.name, "quantization": L, "incoming": incoming})
    return {"layers": layers, "projections": q["projections"], "warnings": q["warnings"]}


def _agreement(program, fixed, ref) -> list[dict]:
    from neurocc.reports.run import counts_agreement

    out = []
    for g in program.groups:
        a = np.asarray(fixed.trace.spikes[g.name]).sum(axis=0)
        b = np.asarray(ref.trace.spikes[g.name]).sum(axis=0)
        out.append({"layer": g.name, **counts_agreement(a, b),
                    "fixed_spikes_per_inference": float(a.sum()) / fixed.batch,
                    "reference_spikes_per_inference": float(b.sum()) / ref.batch})
    return out


def _accuracy(labels, fixed, ref, main) -> dict:
    def acc(res):
        pred = np.argmax(res.output_spike_counts, axis=-1)
        return pred, float(np.mean(pred == labels))

    pred, a = acc(main)
    classes = sorted(set(labels.tolist()) | set(pred.tolist()))
    per_class = []
    for c in classes:
        m = labels == c
        per_class.append({"class": int(c), "samples": int(m.sum()),
                          "accuracy": float(np.mean(pred[m] == c)) if m.any() else None})
    return {"samples": int(len(labels)), "correct": int(np.sum(pred == labels)),
            "accuracy": a, "fixed_point_accuracy": acc(fixed)[1],
            "reference_accuracy": acc(ref)[1], "per_class": per_class,
            "rule": "argmax of output spike counts (ties: lowest index)"}


def _hw_constants(hw) -> list[dict]:
    out = []
    for key, meta in hw.sources.items():
        value = hw.value(key)
        out.append({"key": key, "value": value, "unit": meta.get("unit", ""),
                    "source": meta.get("source", ""),
                    "assumption": bool(meta.get("assumption"))})
    return out


def build_report(program, x, labels=None, backend: str = "emulator",
                 baseline: bool = False) -> dict:
    """Run ``x`` on ``backend`` (and the float reference, and the emulator when ``backend``
    is the reference) and compute every number the HTML report shows; ``baseline`` adds
    the ANN baseline to the run report (``run["ann_baseline"]``, as ``run --baseline``)."""
    from neurocc.api.jsonable import jsonable
    from neurocc.backends.run import check_axes

    x = np.asarray(x)
    if labels is not None and np.ndim(labels) == 1 and x.ndim >= 2:
        check_axes(program, x.shape, batch=len(labels))       # before the runs, not after
    main = program.run(x, backend=backend, record="all")     # rasters need every layer
    y = _check_labels(labels, main.batch)
    fixed, ref = _fixed_and_reference(program, x, backend, main)
    rep = main.to_dict(baseline=baseline)
    info = program.info(detail=True)
    hw = program.hw
    m = hw.mesh
    data = {
        "title": f"neurocc report: {Path(str((program.source or {}).get('nir', 'program'))).name}"
                 f" on {hw.name}",
        "backend": backend, "fixed_point_backend": fixed.backend,
        "reference_backend": ref.backend,
        "run": rep, "info": info,
        "raster": _raster(program, x, main),
        "firing": _firing(program, main),
        "energy": _energy(rep, hw),
        "latency": _latency(rep, main, hw),
        "mesh": {"cores_per_tile": m.cores_per_tile, "tile_mesh": list(m.tile_mesh),
                 "chip_mesh": list(m.chip_mesh), "chips_per_system": m.chips_per_system,
                 "cores_per_chip": m.cores_per_chip},
        "quantization": _quantization(program),
        "agreement": _agreement(program, fixed, ref),
        "accuracy": _accuracy(y, fixed, ref, main) if y is not None else None,
        "hw_constants": _hw_constants(hw),
    }
    return jsonable(data)


# --------------------------------------------------------------------------- SVG


def _esc(s) -> str:
    return html.escape(str(s), quote=True)


def _num(v, unit: str = "") -> str:
    """A number for a label: joules and seconds in SI prefixes, others to 3 digits."""
    from neurocc.reports.run import fmt_j, fmt_s

    if v is None:
        return "-"
    if isinstance(v, (str, bool)):
        return str(v)
    if unit == "J":
        return fmt_j(v)
    if unit == "s":
        return fmt_s(v)
    if unit == "%":
        return f"{v:.3g}%"
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer()
                                           and abs(v) < 1e15):
        return f"{int(v)}"
    return f"{v:.3g}"


def _ticks(hi: float, n: int = 5) -> np.ndarray:
    """Nice tick values from 0 to at least ``hi``."""
    if not hi > 0:
        return np.array([0.0, 1.0])
    raw = hi / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(f * mag for f in (1, 2, 2.5, 5, 10) if f * mag >= raw)
    return np.arange(0, hi + step * 0.999, step)


class Svg:
    """A small SVG document: elements appended as strings, sized in CSS pixels."""

    def __init__(self, fig_id: str, width: int, height: int, title: str):
        self.id, self.w, self.h, self.title = fig_id, int(width), int(height), title
        self.items: list[str] = []

    def add(self, tag: str, text: str | None = None, tip: str | None = None, **attrs) -> None:
        a = " ".join(f'{k.rstrip("_").replace("_", "-")}="{_esc(v)}"'
                     for k, v in attrs.items() if v is not None)
        inner = (f"<title>{_esc(tip)}</title>" if tip else "") + (_esc(text) if text else "")
        self.items.append(f"<{tag} {a}>{inner}</{tag}>" if inner else f"<{tag} {a}/>")

    def text(self, x, y, s, size=11, anchor="start", **kw) -> None:
        self.add("text", s, x=f"{x:.1f}", y=f"{y:.1f}", font_size=size, text_anchor=anchor,
                 **kw)

    def render(self, standalone: bool = False) -> str:
        ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
        bg = (f'<rect x="0" y="0" width="{self.w}" height="{self.h}" fill="#ffffff"/>'
              if standalone else "")
        return (f'<svg{ns} class="fig" id="{_esc(self.id)}" width="{self.w}" '
                f'height="{self.h}" viewBox="0 0 {self.w} {self.h}" role="img" '
                f'font-family="sans-serif"><title>{_esc(self.title)}</title>{bg}'
                + "".join(self.items) + "</svg>")


def _legend_layout(names, x: float, width: float) -> list[tuple[float, int]]:
    """(x, row) of each colour key, left to right, wrapping at ``width``."""
    out, xx, row = [], x, 0
    for name in names:
        w = 14 + 6 * len(name) + 18
        if xx + w > width - 10 and xx > x:
            xx, row = x, row + 1
        out.append((xx, row))
        xx += w
    return out


def _legend(svg: Svg, names, colours, x: float, y: float) -> None:
    for name, col, (xx, row) in zip(names, colours, _legend_layout(names, x, svg.w)):
        svg.add("rect", x=f"{xx:.1f}", y=y + 16 * row - 9, width=10, height=10, fill=col)
        svg.text(xx + 14, y + 16 * row, name, size=10)


def bar_chart(fig_id: str, title: str, labels: list[str], series: dict[str, list[float]],
              unit: str = "", stacked: bool = False, colours=None, xmax: float | None = None,
              note: str = "") -> Svg:
    """Horizontal bars: one row per label, one bar per series (side by side, or stacked)."""
    names = list(series)
    vals = np.array([series[k] for k in names], float).reshape(len(names), len(labels))
    vals = np.nan_to_num(vals)
    colours = list(colours or [PALETTE[i % len(PALETTE)] for i in range(len(names))])
    per_row = 1 if stacked else len(names)
    bar_h = 14 if per_row == 1 else max(10, 16 - 2 * per_row)
    row_h = bar_h * per_row + 8
    left = 10 + 7 * min(24, max([len(str(s)) for s in labels] + [4]))
    right = 90
    top = 30
    legend_rows = 0 if len(names) == 1 else 1 + _legend_layout(names, left, WIDTH)[-1][1]
    height = top + row_h * len(labels) + 34 + 16 * legend_rows + (14 if note else 0)
    svg = Svg(fig_id, WIDTH, height, title)
    svg.text(10, 18, title, size=13, font_weight="bold")
    hi = float(vals.sum(axis=0).max() if stacked else vals.max()) if vals.size else 0.0
    ticks = _ticks(max(hi, xmax or 0.0))
    span = float(ticks[-1]) or 1.0
    plot_w = WIDTH - left - right

    def px(v):
        return left + plot_w * v / span

    bottom = top + row_h * len(labels)
    for t in ticks:
        svg.add("line", x1=f"{px(t):.1f}", x2=f"{px(t):.1f}", y1=top - 4, y2=bottom,
                stroke="#dddddd")
        svg.text(px(t), bottom + 13, _num(float(t), unit), size=9, anchor="middle",
                 fill="#555555")
    for r, lab in enumerate(labels):
        y0 = top + r * row_h + 4
        svg.text(left - 6, y0 + (row_h - 8) / 2 + 4, str(lab)[:24], size=10, anchor="end")
        acc = 0.0
        for i, name in enumerate(names):
            v = float(vals[i, r])
            x0 = px(acc) if stacked else left
            y = y0 if stacked else y0 + i * bar_h
            w = max(px(v) - left, 0.0)
            tip = f"{lab}: {name} {_num(v, unit)}"
            svg.add("rect", tip=tip, x=f"{x0:.2f}", y=f"{y:.1f}", width=f"{w:.2f}",
                    height=bar_h - 1, fill=colours[i])
            if stacked:
                acc += v
            elif len(labels) * per_row <= 80:
                svg.text(x0 + w + 3, y + bar_h - 3, _num(v, unit), size=9, fill="#333333")
        if stacked and len(labels) <= 80:
            svg.text(px(acc) + 3, y0 + bar_h - 3, _num(acc, unit), size=9, fill="#333333")
    svg.add("line", x1=left, x2=left, y1=top - 4, y2=bottom, stroke="#333333")
    if len(names) > 1:
        _legend(svg, names, colours, left, bottom + 32)
    if note:
        svg.text(10, height - 6, note, size=9, fill="#555555")
    return svg


def raster_figure(r: dict) -> Svg:
    """Small multiples: one panel per sample, layers stacked, time along x, one tick a
    spike."""
    samples, layers = r["samples"], r["layers"]
    rows = sum(len(L["shown"]) for L in layers)
    gap = 14
    row_h = max(1.0, min(4.0, 480 / max(rows, 1)))
    top, left = 44, 60
    panel_h = rows * row_h + gap * len(layers)
    height = int(top + panel_h + 40)
    k = max(len(samples), 1)
    panel_w = (WIDTH - left - 10 - 12 * (k - 1)) / k
    steps = max(L["steps"] for L in layers)
    svg = Svg("fig-raster", WIDTH, height, "Spike raster")
    svg.text(10, 18, "Spike raster (sample x layer; time step along x)", size=13,
             font_weight="bold")
    for j, b in enumerate(samples):
        x0 = left + j * (panel_w + 12)
        svg.text(x0 + panel_w / 2, 36, f"sample {b}", size=10, anchor="middle")
        y = top
        cw = panel_w / steps
        for i, L in enumerate(layers):
            h = len(L["shown"]) * row_h
            svg.add("rect", x=f"{x0:.1f}", y=f"{y:.1f}", width=f"{panel_w:.1f}",
                    height=f"{max(h, 1):.1f}", fill="#f6f6f6", stroke="#cccccc",
                    stroke_width="0.5")
            if j == 0:
                svg.text(left - 6, y + h / 2 + 4, L["name"][:8], size=10, anchor="end")
            col = PALETTE[i % len(PALETTE)]
            path = "".join(f"M{x0 + t * cw + cw * 0.15:.1f} {y + rr * row_h:.1f}"
                           f"h{cw * 0.7:.1f}v{max(row_h * 0.85, 0.8):.1f}"
                           f"h{-cw * 0.7:.1f}z" for t, rr in L["events"][j])
            if path:
                svg.add("path", d=path, fill=col,
                        tip=f"{L['name']}: {len(L['events'][j])} spikes in sample {b}")
            y += h + gap
        for t in range(0, steps, max(1, steps // 8)):
            svg.text(x0 + (t + 0.5) * cw, top + panel_h + 10, str(t), size=8,
                     anchor="middle", fill="#555555")
    sel = "; ".join(f"{L['name']}: {L['selection']}" for L in layers)
    svg.text(10, height - 8, f"neurons shown: {sel}"[:140], size=9, fill="#555555")
    return svg


def latency_figure(steps: list[dict]) -> Svg:
    """Per step: the two-chain step time against the serial bound (both without the
    barrier), with the busiest link and the longest route."""
    left, right, top = 70, 20, 30
    plot_h = 200
    height = top + plot_h + 70
    svg = Svg("fig-latency-steps", WIDTH, height, "Latency per step")
    svg.text(10, 18, "Latency per time step (mean over the batch, barrier excluded)", size=13,
             font_weight="bold")
    keys = (("two_chain_s", "two chains side by side (the model)"),
            ("serial_s", "serial sum of both chains (upper bound)"),
            ("link_s", "busiest link"), ("route_s", "longest route"))
    n = len(steps)
    vals = np.array([[s[k] for k, _ in keys] for s in steps], float).reshape(n, len(keys))
    ticks = _ticks(float(vals.max()) if vals.size else 0.0)
    span = float(ticks[-1]) or 1.0
    plot_w = WIDTH - left - right
    bottom = top + plot_h
    for t in ticks:
        y = bottom - plot_h * t / span
        svg.add("line", x1=left, x2=WIDTH - right, y1=f"{y:.1f}", y2=f"{y:.1f}",
                stroke="#dddddd")
        svg.text(left - 4, y + 3, _num(float(t), "s"), size=9, anchor="end", fill="#555555")
    cw = plot_w / max(n, 1)
    for i, s in enumerate(steps):
        xx = left + (i + 0.5) * cw
        if n <= 40 or i % max(1, n // 20) == 0:
            svg.text(xx, bottom + 13, str(s["step"]), size=9, anchor="middle", fill="#555555")
    for j, (k, name) in enumerate(keys):
        pts = " ".join(f"{left + (i + 0.5) * cw:.1f},{bottom - plot_h * v / span:.1f}"
                       for i, v in enumerate(vals[:, j]))
        dash = "4 3" if k == "serial_s" else None
        if pts:
            svg.add("polyline", points=pts, fill="none", stroke=PALETTE[j], stroke_width=2,
                    stroke_dasharray=dash)
        for i, v in enumerate(vals[:, j]):
            svg.add("circle", tip=f"step {i}: {name} {_num(float(v), 's')}",
                    cx=f"{left + (i + 0.5) * cw:.1f}", cy=f"{bottom - plot_h * v / span:.1f}",
                    r=2.5, fill=PALETTE[j])
    svg.add("line", x1=left, x2=WIDTH - right, y1=bottom, y2=bottom, stroke="#333333")
    svg.text(left + plot_w / 2, bottom + 26, "time step", size=10, anchor="middle")
    _legend(svg, [n for _, n in keys], PALETTE[:4], left, bottom + 44)
    return svg


def _heat(p: float) -> str:
    """Utilisation 0..100 % → a colour from pale yellow to dark red."""
    a = np.array([255, 237, 160])
    b = np.array([189, 0, 38])
    f = min(max(p / 100.0, 0.0), 1.0) ** 0.5
    c = (a + (b - a) * f).astype(int)
    return f"#{c[0]:02x}{c[1]:02x}{c[2]:02x}"


def chip_map_figure(mesh: dict, per_core: list[dict]) -> Svg:
    """Every chip of the system, its tiles and cores; a used core coloured by its fullest
    resource (percent of the limit), an unused one grey."""
    from neurocc.reports.summary import RESOURCES

    cpt = mesh["cores_per_tile"]
    tx, ty = mesh["tile_mesh"]
    chx, chy = mesh["chip_mesh"]
    sub_x = int(math.ceil(math.sqrt(cpt)))
    sub_y = int(math.ceil(cpt / sub_x))
    used = {r["core"]: r for r in per_core}
    chips_used = sorted({r["chip"] for r in per_core})
    shown = list(range(mesh["chips_per_system"])) if mesh["chips_per_system"] <= 16 \
        else chips_used
    cols = min(chx, len(shown)) if mesh["chips_per_system"] <= 16 else min(4, len(shown))
    rows = int(math.ceil(len(shown) / max(cols, 1)))
    chip_gap = 16
    cell = (WIDTH - 20 - chip_gap * (cols - 1)) / (cols * tx * (sub_x + 0.5))
    cell = max(2.0, min(cell, 14.0))
    tile_w, tile_h = cell * (sub_x + 0.5), cell * (sub_y + 0.5)
    chip_w, chip_h = tile_w * tx, tile_h * ty
    top = 32
    height = int(top + rows * (chip_h + chip_gap + 14) + 40)
    svg = Svg("fig-chip-map", WIDTH, height, "Core and chip map")
    svg.text(10, 18, "Core/chip map: used cores coloured by their fullest resource", size=13,
             font_weight="bold")
    for k, chip in enumerate(shown):
        cx0 = 10 + (k % cols) * (chip_w + chip_gap)
        cy0 = top + (k // cols) * (chip_h + chip_gap + 14) + 12
        n_used = sum(1 for r in per_core if r["chip"] == chip)
        svg.text(cx0, cy0 - 3, f"chip {chip}: {n_used} core(s) used", size=9)
        svg.add("rect", x=f"{cx0:.1f}", y=f"{cy0:.1f}", width=f"{chip_w:.1f}",
                height=f"{chip_h:.1f}", fill="none", stroke="#333333")
        base = chip * mesh["cores_per_chip"]
        for tile in range(tx * ty):
            tx_, ty_ = tile % tx, tile // tx
            x_t, y_t = cx0 + tx_ * tile_w, cy0 + ty_ * tile_h
            for c in range(cpt):
                core = base + tile * cpt + c
                xx = x_t + cell * 0.25 + (c % sub_x) * cell
                yy = y_t + cell * 0.25 + (c // sub_x) * cell
                r = used.get(core)
                if r is None:
                    svg.add("rect", x=f"{xx:.1f}", y=f"{yy:.1f}", width=f"{cell * 0.9:.1f}",
                            height=f"{cell * 0.9:.1f}", fill="#e4e4e4")
                    continue
                pct = max(r[f"{key}_pct"] for key, _ in RESOURCES)
                tip = (f"core {core} (chip {r['chip']}, tile {tuple(r['tile'])}), layer "
                       f"{r['layer']}[{r['neurons'][0]}:{r['neurons'][1]}]: " + ", ".join(
                           f"{key.replace('_', ' ')} {r[f'{key}_pct']:g}%"
                           for key, _ in RESOURCES))
                svg.add("rect", tip=tip, x=f"{xx:.1f}", y=f"{yy:.1f}",
                        width=f"{cell * 0.9:.1f}", height=f"{cell * 0.9:.1f}",
                        fill=_heat(pct), stroke="#222222", stroke_width="0.6")
    ly = height - 22
    for i, p in enumerate(np.linspace(0, 100, 11)):
        svg.add("rect", x=10 + 22 * i, y=ly, width=22, height=8, fill=_heat(float(p)))
        if i % 5 == 0:
            svg.text(10 + 22 * i, ly + 19, f"{p:.0f}%", size=9)
    svg.add("rect", x=270, y=ly, width=10, height=8, fill="#e4e4e4")
    svg.text(284, ly + 8, "unused core", size=9)
    if len(shown) < mesh["chips_per_system"]:
        svg.text(380, ly + 8, f"{len(shown)} of {mesh['chips_per_system']} chips drawn "
                 "(those in use)", size=9)
    return svg


def baseline_figures(b: dict | None) -> list[Svg]:
    """The ANN baseline's two charts, each comparing like with like: the SNN's dynamic energy
    with the per-operation rows (no static power in either), its total with the
    whole-system rows (static power in both). No figure when the run has no baseline."""
    if not b or not b.get("available"):
        return []
    snn, rows = b["snn"], b["platforms"]
    out = []
    for fig_id, title, snn_key, snn_label, static in (
            ("fig-baseline-ops", "Energy per inference, no static power: SNN dynamic vs ANN "
             "per operation", "dynamic_j", "SNN dynamic", False),
            ("fig-baseline-system", "Energy per inference, static power included: SNN total "
             "vs ANN whole system", "total_j", "SNN total", True)):
        ks = [k for k in rows if rows[k]["includes_static"] == static]
        out.append(bar_chart(fig_id, title, [snn_label] + [BASELINE_SHORT.get(k, k) for k in ks],
                             {"energy": [snn[snn_key]] + [rows[k]["energy_j"] for k in ks]},
                             unit="J", note="estimates from published per-operation and "
                             "whole-system figures (sources in the table below)"))
    return out


def figures(data: dict) -> list[Svg]:
    """Every figure of the report, in order."""
    from neurocc.reports.summary import RESOURCES

    figs = [raster_figure(data["raster"])]
    fr = data["firing"]
    figs.append(bar_chart("fig-firing", "Firing rate per layer (spikes per neuron per step)",
                          [f["layer"] for f in fr],
                          {"mean": [f["rate_per_step"] for f in fr],
                           "most active neuron": [f["max_neuron_rate_per_step"] for f in fr]}))
    en = data["energy"]
    figs.append(bar_chart("fig-energy-split", "Energy per inference: dynamic and static",
                          ["dynamic", "static"], {"energy": [en["dynamic_j"], en["static_j"]]},
                          unit="J", colours=[DYNAMIC_COLOUR],
                          note=f"static = {en['static']['static_power_w_per_chip']:g} W x "
                          f"{en['static']['chips']} chip(s) x "
                          f"{_num(en['static']['latency_s'], 's')} latency"))
    terms = en["dynamic_terms_j"]
    figs.append(bar_chart("fig-energy-terms", "Dynamic energy per inference by term",
                          list(terms), {"energy": list(terms.values())}, unit="J"))
    by_layer = en["by_layer_j"]
    lterms = [t for t in terms if any(v.get(t, 0.0) for v in by_layer.values())] or list(terms)
    figs.append(bar_chart("fig-energy-layers", "Dynamic energy per inference by layer",
                          list(by_layer), {t: [v.get(t, 0.0) for v in by_layer.values()]
                                           for t in lterms}, unit="J", stacked=True))
    cores = sorted(en["by_core"], key=lambda c: -c["energy_j"])[:BAR_ROWS]
    cores.sort(key=lambda c: c["core"])
    figs.append(bar_chart("fig-energy-cores", "Dynamic energy per inference by core",
                          [f"core {c['core']}" for c in cores],
                          {"energy": [c["energy_j"] for c in cores]}, unit="J",
                          note=(f"the {len(cores)} cores spending most of "
                                f"{len(en['by_core'])}" if len(cores) < len(en["by_core"])
                                else "") + "core events only; hops, crossings and static "
                          "power are spent off the cores"))
    figs.extend(baseline_figures(data["run"].get("ann_baseline")))
    pc = data["info"].get("per_core", [])
    figs.append(chip_map_figure(data["mesh"], pc))
    top = sorted(pc, key=lambda r: -max(r[f"{k}_pct"] for k, _ in RESOURCES))[:BAR_ROWS]
    top.sort(key=lambda r: r["core"])
    figs.append(bar_chart("fig-utilisation", "Utilisation per core (percent of the limit)",
                          [f"core {r['core']}" for r in top],
                          {k.replace("_", " "): [r[f"{k}_pct"] for r in top]
                           for k, _ in RESOURCES}, unit="%", xmax=100.0,
                          note=f"the {len(top)} fullest of {len(pc)} cores"
                          if len(top) < len(pc) else ""))
    lat = data["latency"]
    if lat["per_step"]:
        figs.append(latency_figure(lat["per_step"]))
    lc = sorted(lat["per_core"], key=lambda c: -c["serial_s"])[:BAR_ROWS]
    lc.sort(key=lambda c: c["core"])
    figs.append(bar_chart("fig-latency-cores", "Core work per inference: the two chains",
                          [f"core {c['core']}" for c in lc],
                          {"message chain": [c["message_chain_s"] for c in lc],
                           "neuron chain": [c["neuron_chain_s"] for c in lc]}, unit="s"))
    q = data["quantization"]
    projs = q["projections"]
    figs.append(bar_chart("fig-quant", "Weight quantization error per projection",
                          list(projs), {"RMS relative error (%)": [
                              100 * p["weight_rms_rel_error"] for p in projs.values()]},
                          unit="%"))
    ag = data["agreement"]
    figs.append(bar_chart("fig-agreement", "Float reference vs fixed point: per-neuron "
                          "spike counts per layer", [a["layer"] for a in ag],
                          {"exact fraction of samples": [a["exact_fraction"] for a in ag],
                           "Pearson r": [a["pearson_r"] for a in ag],
                           "relative L1": [a["relative_l1"] for a in ag]}, xmax=1.0))
    acc = data["accuracy"]
    if acc:
        pcs = [c for c in acc["per_class"] if c["samples"]]
        figs.append(bar_chart("fig-accuracy", f"Accuracy per class ({data['backend']})",
                              [f"class {c['class']}" for c in pcs],
                              {"accuracy": [c["accuracy"] for c in pcs]}, xmax=1.0))
    return figs


# --------------------------------------------------------------------------- HTML


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0 auto;max-width:1100px;padding:16px 24px;color:#222;background:#fff}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;
margin-top:32px}h3{font-size:15px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th{background:#f3f3f3}tr.assumption td{background:#fff6e0}
.fig{display:block;margin:10px 0;max-width:100%;height:auto}
.stats{display:flex;flex-wrap:wrap;gap:10px}
.stat{border:1px solid #ddd;border-radius:4px;padding:6px 10px;min-width:140px}
.stat b{display:block;font-size:16px}.flag{color:#a04000;font-weight:bold}
.note{color:#555;font-size:12px}nav a{margin-right:10px;font-size:13px}
"""

MEASURE_JS = """
(function(){function measure(){var out=[];var figs=document.querySelectorAll('svg.fig');
for(var i=0;i<figs.length;i++){var r=figs[i].getBoundingClientRect();
figs[i].setAttribute('data-rendered',Math.round(r.width)+'x'+Math.round(r.height));
out.push(figs[i].id+':'+Math.round(r.width)+'x'+Math.round(r.height));}
document.body.setAttribute('data-figures',out.join(' '));}
measure();window.addEventListener('load',measure);})();
"""

BASELINE_SECTION = ("baseline", "ANN baseline")
"""Shown after "energy" when the run carries the ANN baseline (``build_report(baseline=True)``,
``neurocc report --baseline``)."""
BASELINE_LABELS = {
    "fp32_horowitz": "ANN, fp32 arithmetic + SRAM (Horowitz 2014, 45 nm)",
    "int8_accelerator_horowitz": "ANN, int8 accelerator: int8 x int32 + SRAM (Horowitz 2014)",
    "cpu_whole_system": "ANN, CPU whole system (Degnan 2016, i7)",
    "gpu_whole_system": "ANN, GPU whole system (Degnan 2016, Titan Black, full throughput)",
    "arm_whole_system": "ANN, ARM whole system (Degnan 2016, Cortex-A: an edge device)"}
BASELINE_SHORT = {"fp32_horowitz": "ANN fp32", "int8_accelerator_horowitz": "ANN int8 accel.",
                  "cpu_whole_system": "ANN on CPU", "gpu_whole_system": "ANN on GPU",
                  "arm_whole_system": "ANN on ARM"}

SECTIONS = (("activity", "Spikes and firing rates"), ("energy", "Energy"),
            ("mapping", "Cores and chips"), ("latency", "Latency"),
            ("quantization", "Quantization and agreement"), ("accuracy", "Accuracy"),
            ("hardware", "Hardware constants"))


def _td(v, unit: str = "") -> str:
    """A number cell: formatted, with the exact value in ``data-v`` and the tooltip."""
    if v is None:
        return '<td class="num">-</td>'
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return f"<td>{_esc(v)}</td>"
    return f'<td class="num" data-v="{v!r}" title="{v!r}">{_esc(_num(v, unit))}</td>'


def _table(head: list[str], rows: list[list[str]], cls: list[str] | None = None) -> str:
    h = "".join(f"<th>{_esc(c)}</th>" for c in head)
    body = "".join(f'<tr class="{_esc(c)}">' + "".join(r) + "</tr>" if c else
                   "<tr>" + "".join(r) + "</tr>"
                   for r, c in zip(rows, cls or [""] * len(rows)))
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _stat(label: str, v, unit: str = "") -> str:
    exact = f' data-v="{v!r}" title="{v!r}"' if isinstance(v, (int, float)) else ""
    return f'<div class="stat"{exact}>{_esc(label)}<b>{_esc(_num(v, unit))}</b></div>'


def _section_activity(d, figs) -> str:
    rep = d["run"]
    rows = [[f"<td>{_esc(L['name'])}</td>", _td(L["neurons"]), _td(L["spikes"]),
             _td(L["spikes_per_inference"]), _td(f["rate_per_step"]), _td(f["rate_hz"]),
             _td(f["silent_fraction"]), _td(L["synops_in_per_inference"])]
            for L, f in zip(rep["layers"], d["firing"])]
    return (figs["fig-raster"] + figs["fig-firing"] + _table(
        ["layer", "neurons", "spikes", "spikes/inference", "rate (spikes/neuron/step)",
         "rate (Hz)", "silent fraction", "synops in/inference"], rows))


def _section_energy(d, figs) -> str:
    en = d["energy"]
    terms = en["dynamic_terms_j"]
    by_layer = en["by_layer_j"]
    lt = list(terms)
    layer_rows = [[f"<td>{_esc(name)}</td>", *(_td(v.get(t), "J") for t in lt),
                   _td(v.get("total"), "J")] for name, v in by_layer.items()]
    core_rows = [[_td(c["core"]), *(_td(c[t]) for t in c if t not in ("core", "energy_j")),
                  _td(c["energy_j"], "J")] for c in d["run"]["per_core"][:TABLE_ROWS]]
    core_head = ["core"] + [t for t in (d["run"]["per_core"] or [{}])[0]
                            if t not in ("core", "energy_j")] + ["energy (J)"]
    st = en["static"]
    return ('<div class="stats">' + _stat("total per inference", en["total_j"], "J")
            + _stat("dynamic per inference", en["dynamic_j"], "J")
            + _stat("static per inference", en["static_j"], "J") + "</div>"
            + figs["fig-energy-split"]
            + f'<p class="note">Static energy: {_esc(st["static_power_w_per_chip"])} W per chip'
              f' x {_esc(st["chips"])} chip(s) x {_esc(_num(st["latency_s"], "s"))} per '
              "inference.</p>"
            + figs["fig-energy-terms"]
            + _table(["term", "energy per inference"],
                     [[f"<td>{_esc(k)} (dynamic)</td>", _td(v, "J")] for k, v in terms.items()]
                     + [["<td>static</td>", _td(st["energy_j"], "J")]])
            + figs["fig-energy-layers"]
            + _table(["layer", *lt, "total"], layer_rows)
            + figs["fig-energy-cores"]
            + "<h3>Events and energy per inference per core</h3>"
            + _table(core_head, core_rows))


def _section_baseline(d, figs) -> str:
    b = d["run"]["ann_baseline"]
    if not b.get("available"):
        return f'<p class="flag">ANN baseline not available: {_esc(b["reason"])}.</p>'
    a, snn, rows = b["ann"], b["snn"], b["platforms"]      # a report always has its run
    head = ('<p><span class="flag">Estimates, not measurements:</span> the same network as a '
            "non-spiking ANN, one pass per inference, costed with published figures; neurocc's "
            "SNN energy beside it is itself an estimate from counted events.</p>"
            f'<p class="note">MACs: {_esc(b["convention"])}. Per-operation rows (Horowitz) are '
            "arithmetic plus a lower bound on memory traffic and no static power: compare them "
            "with the SNN's dynamic energy. Whole-system rows (Degnan) include static power: "
            "compare them with the SNN's total.</p>")
    stats = ('<div class="stats">' + _stat("SNN dynamic per inference", snn["dynamic_j"], "J")
             + _stat("SNN total per inference", snn["total_j"], "J")
             + _stat("SNN synaptic events per inference", snn["synaptic_ops_per_inference"])
             + _stat("ANN MACs per inference", a["macs"])
             + _stat("synaptic events / MAC", b["synops_over_ann_macs"]) + "</div>")
    empty = ["<td></td>"] * 3
    prow = [[f"<td>SNN on {_esc(snn['hw'])}, dynamic (neurocc)</td>",
             _td(snn["dynamic_j"], "J"), *empty, "<td>no</td>", *empty[:2],
             "<td>counted events x the hardware config's per-event constants</td>"],
            [f"<td>SNN on {_esc(snn['hw'])}, total with static power</td>",
             _td(snn["total_j"], "J"), *empty, "<td>yes</td>", *empty[:2],
             "<td>dynamic + static power x chips x latency (static power is an assumption "
             "on Loihi 2)</td>"]]
    for k, r in rows.items():
        cmp_to = "total" if r["includes_static"] else "dynamic"
        prow.append([f"<td>{_esc(BASELINE_LABELS.get(k, k))}</td>", _td(r["energy_j"], "J"),
                     _td(r.get("arithmetic_j"), "J"), _td(r.get("memory_j"), "J"),
                     _td(r["per_mac_j"], "J"), f"<td>{'yes' if r['includes_static'] else 'no'}"
                     f"</td><td>SNN {cmp_to}</td>", _td(b["ann_over_snn"][k][f"vs_{cmp_to}"]),
                     f"<td>{_esc(r['what'])}</td>"])
    work = [["<td>MACs per inference (ANN, one pass)</td>", _td(a["macs"])],
            ["<td>parameters (ANN weights and biases)</td>", _td(a["params"])],
            ["<td>activations per inference (ANN layer outputs)</td>", _td(a["activations"])],
            ["<td>synaptic events per inference (SNN, counted on the chip's fused "
             "projections)</td>", _td(snn["synaptic_ops_per_inference"])],
            ["<td>SNN input steps</td>", _td(snn["input_steps"])],
            ["<td>SNN steps run (input + drain)</td>", _td(snn["steps_run"])],
            ["<td>NeuroBench Dense over the input steps (MACs x steps)</td>",
             _td(b["neurobench_dense_T_steps"])],
            ["<td>synaptic events / MAC</td>", _td(b["synops_over_ann_macs"])]]
    layers = [[f"<td>{_esc(k)}</td>", _td(v)] for k, v in b["ann_macs_by_layer"].items()]
    frows, fcls = [], []
    for key, f in b["figures"].items():
        frows.append([f"<td><code>{_esc(key)}</code></td>", _td(f["value"]),
                      f"<td>{_esc(f['unit'])}</td>",
                      f"<td>{'<span class=flag>ASSUMPTION</span>' if f['assumption'] else ''}"
                      "</td>", f"<td>{_esc(f['source'])}</td>"])
        fcls.append("assumption" if f["assumption"] else "")
    pitfalls = "".join(f"<li>{_esc(t)}</li>" for t in b["pitfalls"])
    return (head + stats + figs["fig-baseline-ops"] + figs["fig-baseline-system"]
            + _table(["per inference", "energy", "arithmetic", "memory", "J per MAC (or op)",
                      "static power included", "compared with", "ANN / SNN",
                      "how it is estimated (source)"], prow)
            + "<h3>Work per inference (estimates)</h3>"
            + _table(["quantity", "value"], work)
            + _table(["ANN layer (NIR node)", "MACs per inference"], layers)
            + f"<h3>Pitfalls of the comparison</h3><ul>{pitfalls}</ul>"
            + f"<h3>Baseline figures</h3><p>{len(frows)} figures of <code>hw_configs/baselines/"
              f"conventional.toml</code>, {sum(c == 'assumption' for c in fcls)} of them "
              "neurocc's assumptions (highlighted).</p>"
            + _table(["figure", "value", "unit", "assumption", "source"], frows, fcls))


def _section_mapping(d, figs) -> str:
    from neurocc.reports.summary import RESOURCES

    info = d["info"]
    pc = info.get("per_core", [])
    use = info.get("utilisation", {})
    stats = ('<div class="stats">' + _stat("cores used", info["cores_used"])
             + _stat("chips used", info["chips_used"])
             + _stat("tiles used", d["latency"]["breakdown_s"].get("tiles_used"))
             + "".join(_stat(f"{k.replace('_', ' ')}: fullest core", v["max_pct"], "%")
                       for k, v in use.items()) + "</div>")
    rows = []
    for r in pc[:TABLE_ROWS]:
        cells = [_td(r["core"]), _td(r["chip"]), f"<td>{_esc(tuple(r['tile']))}</td>",
                 f"<td>{_esc(r['layer'])}[{r['neurons'][0]}:{r['neurons'][1]}]</td>"]
        for key, _ in RESOURCES:
            used = r["neurons_used"] if key == "neurons" else r[key]
            lim = r["synaptic_memory_limit"] if key == "synaptic_memory_bits" \
                else r[f"{key}_limit"]
            cells += [_td(used), _td(lim), _td(r[f"{key}_pct"], "%")]
        rows.append(cells)
    head = ["core", "chip", "tile", "layer[neurons]"]
    for key, _ in RESOURCES:
        k = key.replace("_", " ")
        head += [f"{k} used", f"{k} limit", f"{k} %"]
    pl = info.get("placement", {})
    more = (f'<p class="note">{len(pc) - TABLE_ROWS} more cores in <code>neurocc info '
            "--json</code>.</p>" if len(pc) > TABLE_ROWS else "")
    return (stats + f'<p class="note">placement {_esc(pl.get("strategy"))}; mesh: '
            f'{d["mesh"]["cores_per_tile"]} cores per tile, tiles {d["mesh"]["tile_mesh"]} '
            f'per chip, chips {d["mesh"]["chip_mesh"]}.</p>'
            + figs["fig-chip-map"] + figs["fig-utilisation"] + _table(head, rows) + more)


def _section_latency(d, figs) -> str:
    lat = d["latency"]
    lb = lat["breakdown_s"]
    b = lat["busiest_core"]
    steps = [[_td(s["step"]), _td(s["two_chain_s"], "s"), _td(s["serial_s"], "s"),
              _td(s["core_s"], "s"), _td(s["core_serial_s"], "s"), _td(s["link_s"], "s"),
              _td(s["route_s"], "s"), _td(s["barrier_s"], "s")] for s in lat["per_step"]]
    busiest = ("" if b is None else
               f'<p>Busiest core over the run (its events summed over all steps): <b>core '
               f'{b["core"]}</b>, {_esc(_num(b["two_chain_s"], "s"))}'
               f' of work per inference with its two chains side by side '
               f'({_esc(_num(b["serial_s"], "s"))} serial): message chain '
               f'{_esc(_num(b["message_chain_s"], "s"))}, neuron chain '
               f'{_esc(_num(b["neuron_chain_s"], "s"))}. Per step the busiest core may '
               "change, so the sum of per-step maxima above is at least this.</p>")
    return ('<div class="stats">' + _stat("latency per inference", lat["per_inference_s"], "s")
            + _stat("serial upper bound", lat["serial_upper_bound_s"], "s")
            + _stat("barrier sync", lb["barrier_sync"], "s")
            + _stat("steps", lb["steps"]) + "</div>"
            + (figs.get("fig-latency-steps", '<p class="note">This backend records no '
                        "per-step latency parts.</p>"))
            + busiest + figs["fig-latency-cores"]
            + _table(["step", "step time (two chains)", "step time (serial)", "busiest core",
                      "busiest core serial", "busiest link", "longest route", "barrier"],
                     steps)
            + _table(["latency term", "value"],
                     [[f"<td>{_esc(k)}</td>", _td(v, "" if k in ("steps", "tiles_used")
                                                  else "s")] for k, v in lb.items()]))


def _section_quantization(d, figs) -> str:
    q = d["quantization"]
    lrows = []
    for L in q["layers"]:
        z = L["quantization"] or {}
        lrows.append([f"<td>{_esc(L['layer'])}</td>", _td(z.get("scale")),
                      f"<td>{_esc(z.get('scale_limited_by', '-'))}</td>", _td(z.get("vth")),
                      _td(z.get("threshold_rel_error")), _td(z.get("decay_v_error")),
                      _td(z.get("decay_u_error")), _td(z.get("bias_max_abs_error"))])
    prows = [[f"<td>{_esc(name)}</td>", f"<td>{_esc(p['kind'])}</td>", _td(p["weight_exp"]),
              f"<td>{_esc(p['sign_mode'])}</td>", _td(p["weight_rms_rel_error"]),
              _td(p["weight_max_abs_error"]), _td(p["weights_rounded_to_zero"])]
             for name, p in q["projections"].items()]
    arows = [[f"<td>{_esc(a['layer'])}</td>", _td(a["exact_fraction"]),
              _td(a["relative_l1"]), _td(a["pearson_r"]),
              _td(a["fixed_spikes_per_inference"]), _td(a["reference_spikes_per_inference"])]
             for a in d["agreement"]]
    warn = "".join(f'<p class="flag">warning: {_esc(w)}</p>' for w in q["warnings"])
    return (_table(["layer", "scale", "scale limited by", "vth", "threshold rel. error",
                    "decay v error", "decay u error", "bias max abs error"], lrows)
            + figs["fig-quant"]
            + _table(["projection", "kind", "weight exp", "sign mode", "weight RMS rel. error",
                      "weight max abs error", "weights rounded to zero"], prows) + warn
            + f'<h3>Agreement: {_esc(d["reference_backend"])} (float) vs '
              f'{_esc(d["fixed_point_backend"])} (fixed point)</h3>'
            + figs["fig-agreement"]
            + _table(["layer", "exact fraction of samples", "relative L1", "Pearson r",
                      "fixed-point spikes/inference", "reference spikes/inference"], arows))


def _section_accuracy(d, figs) -> str:
    acc = d["accuracy"]
    if not acc:
        return '<p class="note">No labels given (<code>--labels Y.npy</code>).</p>'
    return ('<div class="stats">' + _stat(f"accuracy ({d['backend']})", acc["accuracy"])
            + _stat(f"fixed point ({d['fixed_point_backend']})", acc["fixed_point_accuracy"])
            + _stat(f"float reference ({d['reference_backend']})", acc["reference_accuracy"])
            + _stat("correct", acc["correct"]) + _stat("samples", acc["samples"]) + "</div>"
            + f'<p class="note">Rule: {_esc(acc["rule"])}.</p>' + figs["fig-accuracy"])


def _section_hardware(d) -> str:
    rows, cls = [], []
    for c in d["hw_constants"]:
        v = c["value"]
        cell = _td(v) if isinstance(v, (int, float)) and not isinstance(v, bool) \
            else f"<td>{_esc(json.dumps(v))}</td>"
        rows.append([f"<td><code>{_esc(c['key'])}</code></td>", cell,
                     f"<td>{_esc(c['unit'])}</td>",
                     f"<td>{'<span class=flag>ASSUMPTION</span>' if c['assumption'] else ''}"
                     "</td>", f"<td>{_esc(c['source'])}</td>"])
        cls.append("assumption" if c["assumption"] else "")
    n = sum(c["assumption"] for c in d["hw_constants"])
    assumptions = "".join(f"<li>{_esc(a)}</li>" for a in d["run"]["model_assumptions"])
    return (f'<p>{len(rows)} constants of <b>{_esc(d["run"]["hw"])}</b>, {n} of them '
            "assumptions (highlighted).</p>"
            + _table(["constant", "value", "unit", "assumption", "source"], rows, cls)
            + f"<h3>Cost model assumptions</h3><ul>{assumptions}</ul>"
            + f'<p class="note">Neuron updates: {_esc(d["run"]["neuron_update_rule"])}.</p>')


def render_html(data: dict) -> str:
    """The report as one self-contained HTML document (inline CSS, SVG and a tiny script
    that records each figure's rendered size in ``data-rendered``)."""
    figs = {f.id: f.render() for f in figures(data)}
    rep = data["run"]
    sem = rep["semantics"]
    body = {
        "activity": _section_activity(data, figs), "energy": _section_energy(data, figs),
        "mapping": _section_mapping(data, figs), "latency": _section_latency(data, figs),
        "quantization": _section_quantization(data, figs),
        "accuracy": _section_accuracy(data, figs), "hardware": _section_hardware(data),
    }
    shown = list(SECTIONS)
    if "ann_baseline" in rep:
        body["baseline"] = _section_baseline(data, figs)
        shown.insert([k for k, _ in shown].index("energy") + 1, BASELINE_SECTION)
    nav = "".join(f'<a href="#{k}">{_esc(t)}</a>' for k, t in shown)
    sections = "".join(f'<section id="{k}"><h2>{_esc(t)}</h2>{body[k]}</section>'
                       for k, t in shown)
    summary = ('<div class="stats">' + _stat("backend", rep["backend"])
               + _stat("samples", rep["batch"]) + _stat("steps (+ drain)", rep["steps_run"])
               + _stat("energy per inference", rep["energy_per_inference_j"], "J")
               + _stat("latency per inference", rep["latency_per_inference_s"], "s")
               + _stat("cores used", rep["cores_used"]) + "</div>"
               + f'<p class="note">dt = {sem["dt_s"]:g} s, reset = {_esc(sem["reset"])}, '
                 f'{_esc(sem["fixed_point"])}; pipeline depth {rep["pipeline_depth"]}.</p>')
    blob = json.dumps({k: v for k, v in data.items() if k != "raster"},
                      separators=(",", ":")).replace("</", "<\\/")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_esc(data['title'])}</title><style>{CSS}</style></head><body>"
            f"<h1>{_esc(data['title'])}</h1><nav>{nav}</nav>{summary}{sections}"
            f'<script type="application/json" id="neurocc-data">{blob}</script>'
            f"<script>{MEASURE_JS}</script></body></html>\n")


# --------------------------------------------------------------------------- PNG


def find_chromium() -> str | None:
    """A Chromium (or Chrome) executable on ``PATH``, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _render_png(chromium: str, svg: Svg, tmp: Path) -> bytes:
    page = tmp / f"{svg.id}.html"
    page.write_text("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>html,body{"
                    "margin:0;padding:0;background:#fff;overflow:hidden}</style></head><body>"
                    + svg.render() + "</body></html>", encoding="utf-8")
    out = tmp / f"{svg.id}.png"
    profile = tmp / f"profile-{svg.id}"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", f"--user-data-dir={profile}", f"--screenshot={out}",
           f"--window-size={svg.w},{svg.h}", page.as_uri()]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=FIGURE_TIMEOUT_S, check=False)
    if not out.exists() or out.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot of {svg.id}")
    return out.read_bytes()


def write_figures(data: dict, directory: str | Path, chromium: str | None = "auto") -> dict:
    """Write every figure to ``directory``: PNG through headless Chromium if there is one
    (``chromium="auto"`` looks on ``PATH``; None forces SVG), else standalone SVG files.
    Returns ``{"format": "png"|"svg", "files": [...], "reason": ...}``."""
    from neurocc.api.files import write_atomic

    d = Path(directory)
    figs = figures(data)
    exe = find_chromium() if chromium == "auto" else chromium
    reason = None if exe else "no chromium on PATH"
    files = []
    if exe:
        try:
            with tempfile.TemporaryDirectory(prefix="neurocc-png-") as tmp:
                with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as ex:
                    pngs = list(ex.map(lambda f: _render_png(exe, f, Path(tmp)), figs))
            for f, png in zip(figs, pngs):
                files.append(str(write_atomic(d / f"{f.id}.png", png, f"figure {f.id}")))
            return {"format": "png", "files": files, "reason": None, "chromium": exe}
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
            reason = f"chromium failed ({type(e).__name__}: {e})"
    for f in figs:
        files.append(str(write_atomic(d / f"{f.id}.svg",
                                      f.render(standalone=True).encode("utf-8"),
                                      f"figure {f.id}")))
    return {"format": "svg", "files": files, "reason": reason, "chromium": None}


# --------------------------------------------------------------------------- CLI


def add_parser(subparsers):
    """Register ``neurocc report`` on an argparse ``subparsers`` object."""
    from neurocc.backends.base import REGISTRY
    from neurocc.cli.main import HelpFormatter

    r = subparsers.add_parser(
        "report", help="one self-contained HTML report of a run: spikes, energy, cores, "
        "latency, quantization, accuracy, hardware constants",
        description="Run PROGRAM on X.npy and write one self-contained HTML file (inline "
        "SVG figures,\nno network): spike raster and firing rates; energy, dynamic and static, "
        "per term,\nlayer and core; core/chip map with utilisation; per-step latency; "
        "quantization\nerrors and float/fixed-point agreement; accuracy with --labels; every "
        "hardware\nconstant with its source; with --baseline, the same network as an ANN "
        "beside the\nSNN's energy. The float reference is run beside --backend.",
        epilog="example:\n  neurocc report digits.neurocc --input x.npy --labels y.npy "
        "-o report.html --png figures/", formatter_class=HelpFormatter)
    r.add_argument("program", help="compiled program (.neurocc)")
    r.add_argument("--input", required=True, help=".npy array (steps, batch, *input_shape)")
    r.add_argument("--labels", default=None, help=".npy integer class per sample (batch,): "
                   "adds accuracy, argmax of output spike counts (default: no accuracy)")
    r.add_argument("--backend", choices=tuple(REGISTRY), default="emulator",
                   help="backend of the run; the float reference is always run as well "
                   "(default: emulator)")
    r.add_argument("-o", "--output", required=True, help="HTML file to write")
    r.add_argument("--baseline", action="store_true",
                   help="add the ANN baseline: the same network as an ANN (one pass, NeuroBench "
                   "dense MACs) on an fp32 processor, an int8 accelerator, a CPU and a GPU, "
                   "beside the SNN's energy, every figure with its source (as run --baseline; "
                   "needs the .nir the program was compiled from)")
    r.add_argument("--png", metavar="DIR", default=None, help="also write the figures alone "
                   "to DIR (an existing directory): PNG via headless chromium if installed, "
                   "else .svg (default: none)")
    r.add_argument("--quiet", action="store_true",
                   help="no progress bars on stderr (drawn only on a terminal)")
    r.set_defaults(fn=cmd_report)
    return r


def cmd_report(args) -> int:
    """``neurocc report``: check the destinations, run, write the HTML (and figures)."""
    from neurocc.api.files import check_writable, load_array, write_atomic
    from neurocc.compiler.artifact import load

    check_writable(args.output, "the HTML report")
    png = getattr(args, "png", None)
    if png is not None:
        d = Path(png)
        if not d.is_dir():
            raise InputError(f"cannot write figures to '{png}': it is not a directory; "
                             "create it first")
        if not os.access(d, os.W_OK):
            raise InputError(f"cannot write figures to '{png}': directory is not writable")
    prog = load(args.program)
    x = load_array(args.input, "input")
    labels = load_array(args.labels, "labels") if args.labels else None
    data = build_report(prog, x, labels=labels, backend=args.backend,
                        baseline=getattr(args, "baseline", False))
    write_atomic(args.output, render_html(data).encode("utf-8"), "the HTML report")
    print(f"wrote {args.output}")
    if png is not None:
        out = write_figures(data, png)
        if out["format"] == "png":
            print(f"wrote {len(out['files'])} PNG figure(s) to {png}")
        else:
            print(f"wrote {len(out['files'])} SVG figure(s) to {png} ({out['reason']}; "
                  "install chromium for PNG)")
    return 0


__all__ = ["add_parser", "baseline_figures", "build_report", "cmd_report", "find_chromium",
           "figures", "render_html", "write_figures"]
