"""Compare two backends on the same program and input, step by step.

``diff(program, x, a, b)`` runs both with ``record_state=True`` and returns a dict saying
whether they agree, how much was compared, and where they first differ (``neurocc diff``
prints it). Spikes are always compared; u and v only where both backends recorded them in
the same units (both fixed point: the float reference's membrane is in model units).
"""

from __future__ import annotations

import numpy as np

from neurocc.backends.base import Trace
from neurocc.backends.run import run

QUANTITIES = ("spikes", "v", "u")
"""Order of comparison at one step: a spike difference is reported before the state that
caused it."""


def compare_traces(program, ta: Trace, tb: Trace, a: str = "a",
                   b: str = "b") -> dict:
    """Compare two traces of the same run (arrays ``(steps_run, batch, n)``).

    Returns ``identical``, ``steps``, ``batch``, ``quantities`` compared, ``values_compared``,
    ``spikes_compared`` (spike entries, i.e. steps × batch × neurons), ``spikes`` (how many
    spikes ``a`` produced), ``differences`` (group → quantity → number of differing entries)
    and ``first_difference`` (``None`` or the earliest ``step``, then group in program order,
    then quantity, ``sample``, ``neuron``, with both values).
    """
    same_units = ta.fixed_point == tb.fixed_point
    quantities = ["spikes"] + [q for q in ("v", "u") if same_units]
    first = None
    counts: dict = {}
    values = spike_entries = spikes = 0
    steps = batch = 0
    compared = set()
    for gi, g in enumerate(program.groups):
        for q in quantities:
            xa, xb = getattr(ta, q).get(g.name), getattr(tb, q).get(g.name)
            if xa is None or xb is None:
                continue
            if xa.shape != xb.shape:
                raise ValueError(f"{q} of '{g.name}': {a} has shape {xa.shape}, {b} {xb.shape}")
            steps, batch = xa.shape[:2]
            compared.add(q)
            values += xa.size
            if q == "spikes":
                spike_entries += xa.size
                spikes += int(np.count_nonzero(xa))
            bad = np.asarray(xa) != np.asarray(xb)
            n_bad = int(np.count_nonzero(bad))
            if not n_bad:
                continue
            counts.setdefault(g.name, {})[q] = n_bad
            t, s, i = (int(k) for k in np.argwhere(bad)[0])   # row-major: earliest step
            key = (t, gi, QUANTITIES.index(q), s, i)
            if first is None or key < first[0]:
                first = (key, {"step": t, "sample": s, "layer": g.name, "neuron": i,
                               "quantity": q, a: _py(xa[t, s, i]), b: _py(xb[t, s, i])})
    return {"identical": first is None, "a": a, "b": b, "steps": steps, "batch": batch,
            "quantities": [q for q in quantities if q in compared],
            "values_compared": values, "spikes_compared": spike_entries, "spikes": spikes,
            "differences": counts, "first_difference": first[1] if first else None}


def _py(v):
    return bool(v) if isinstance(v, (bool, np.bool_)) else (
        int(v) if np.issubdtype(np.asarray(v).dtype, np.integer) else float(v))


def diff(program, x: np.ndarray, a: str = "emulator", b: str = "lava",
         drain: bool = True, options_a: dict | None = None,
         options_b: dict | None = None) -> dict:
    """Run ``x`` ``(steps, batch, *input_shape)`` on backends ``a`` and ``b`` (names) with
    state recording and compare them (``compare_traces``); adds each backend's wall time
    in seconds under ``wall_s``."""
    ra = run(program, x, backend=a, drain=drain, record_state=True, **(options_a or {}))
    rb = run(program, x, backend=b, drain=drain, record_state=True, **(options_b or {}))
    out = compare_traces(program, ra.trace, rb.trace, a, b)
    out["wall_s"] = {a: ra.wall_s, b: rb.wall_s} if a != b else {a: ra.wall_s}
    out["input_steps"] = ra.steps
    return out


def render_diff(d: dict) -> str:
    """One line for ``neurocc diff``."""
    a, b = d["a"], d["b"]
    what = ", ".join(d["quantities"])
    if d["identical"]:
        return (f"identical: {a} and {b} agree on {what} at every step — {d['steps']} steps × "
                f"{d['batch']} samples, {d['spikes_compared']:,} spike entries compared "
                f"({d['spikes']:,} spikes), {d['values_compared']:,} values in all")
    f = d["first_difference"]
    total = sum(sum(c.values()) for c in d["differences"].values())
    return (f"differ: first at step {f['step']}, sample {f['sample']}, layer '{f['layer']}', "
            f"neuron {f['neuron']}: {f['quantity']} {a}={f[a]} {b}={f[b]}; {total:,} of "
            f"{d['values_compared']:,} values differ ({what} compared over {d['steps']} steps "
            f"× {d['batch']} samples)")


__all__ = ["compare_traces", "diff", "render_diff"]
