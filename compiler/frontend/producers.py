"""What other NIR producers mean by what they write, where it is not what NIR says.

NIR records neither the time step nor the reset rule, and some exporters write parameters
that NIR's own equations read otherwise. ``neurocc.compile(path, producer="spyx")`` takes
the producer's time step and reset rule as defaults and applies its corrections, each one
measured against the producer's own simulation (``tests/test_nir_producers.py``: with the
correction, the float reference equals the producer spike for spike):

- **Norse 1.1** writes ``tau = dt·τ`` (``dt / tau_inv``, its dt = 1e-3 s), so NIR's Euler
  step ``dt'/tau`` equals Norse's for ``dt' = 1e-6``; it resets to zero at once. Its
  ``CubaLIF`` adds the input to the current unscaled but writes ``w_in = 1`` (NIR's default),
  where NIR needs ``w_in = tau_syn/dt``: corrected where ``w_in`` is 1.
- **Spyx 1.0** writes ``r = beta`` where NIR needs ``r = 1/(1 − beta) = tau/dt``
  (corrected where ``r`` equals ``1 − dt/tau``), and flattens a conv layer's output in
  (H, W, C) order while declaring (C, H, W): the columns of the Affine/Linear after such a
  Flatten are put back in (C, H, W) order. dt = 1 (its ``to_nir`` default), subtractive reset.
- **snnTorch 1.0**, **SpikingJelly 2.0**: what they write is NIR; the defaults only (dt 1e-4;
  subtract / zero).
- **Sinabs 3.1**, **Rockpool 3.1**: their LIFs decay exactly (exp) and scale or time their
  input and reset differently from NIR's forward-Euler LIF; no reading of NIR's equations
  reproduces them, so only the defaults are set and the compiler warns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neurocc.api.errors import NeuroccError


def _norse(graph, dt: float) -> list[str]:
    fixed = []
    for name, node in graph.nodes.items():
        if type(node).__name__ == "CubaLIF" and np.all(np.asarray(node.w_in) == 1):
            node.w_in = np.asarray(node.tau_syn, dtype=np.float64) / dt
            fixed.append(name)
    return [f"producer norse: w_in = tau_syn/dt on CubaLIF node(s) {', '.join(fixed)} (Norse "
            "adds its input to the current unscaled but writes w_in = 1)"] if fixed else []


def _spyx(graph, dt: float) -> list[str]:
    notes, fixed = [], []
    for name, node in graph.nodes.items():
        if type(node).__name__ == "LIF":
            tau = np.asarray(node.tau, dtype=np.float64)
            beta = 1.0 - dt / tau
            if np.allclose(np.asarray(node.r, dtype=np.float64), beta, rtol=1e-6):
                node.r = tau / dt
                fixed.append(name)
    if fixed:
        notes.append(f"producer spyx: r = tau/dt on LIF node(s) {', '.join(fixed)} (Spyx "
                     "writes r = beta)")
    preds = {}
    for src, dst in graph.edges:
        preds.setdefault(dst, []).append(src)
    for name, node in graph.nodes.items():
        if type(node).__name__ not in ("Affine", "Linear"):
            continue
        flat = (preds.get(name) or [None])[0]
        if flat is None or type(graph.nodes[flat]).__name__ != "Flatten":
            continue
        shape = _shape_into(graph, preds, flat)
        w = np.asarray(node.weight)
        if shape is None or len(shape) != 3 or w.shape[1] != int(np.prod(shape)):
            continue
        c, h, wd = shape
        order = np.arange(c * h * wd).reshape(h, wd, c).transpose(2, 0, 1).ravel()
        node.weight = w[:, order]            # column (c, h, w) read from Spyx's (h, w, c)
        notes.append(f"producer spyx: columns of node '{name}' put back in (C, H, W) order "
                     f"after Flatten '{flat}' (Spyx flattens (H, W, C))")
    return notes


def _shape_into(graph, preds, node_name):
    """The (C, H, W) shape flowing into ``node_name``: its producer's declared shape."""
    for p in preds.get(node_name, []):
        n = graph.nodes[p]
        for attr in ("tau", "v_threshold", "r"):
            v = getattr(n, attr, None)
            if v is not None and np.ndim(v) == 3:
                return tuple(int(d) for d in np.shape(v))
    return None


def _warn(what: str) -> Callable:
    def fix(graph, dt):
        if not any(type(n).__name__ in ("LIF", "CubaLIF") for n in graph.nodes.values()):
            return []                        # its IAF is NIR's IF: nothing differs
        return [f"producer {what}: its LIF decays exactly and scales or resets its input "
                "unlike NIR's forward-Euler LIF; neurocc follows NIR, so the results can differ "
                "from the producer's own simulation"]
    return fix


@dataclass(frozen=True)
class Producer:
    """A producer's time step (s), reset rule, correction ``fix(graph, dt) -> notes``."""

    dt: float
    reset: str
    fix: Callable | None = None
    note: str = ""


PRODUCERS: dict[str, Producer] = {
    "norse": Producer(1e-6, "zero", _norse, "dt = 1e-6: Norse writes tau = dt·τ with dt = 1e-3"),
    "spyx": Producer(1.0, "subtract", _spyx, "dt = 1 (Spyx's to_nir default)"),
    "snntorch": Producer(1e-4, "subtract", None, "export_to_nir's dt; Leaky's default reset"),
    "spikingjelly": Producer(1e-4, "zero", None, "export_to_nir(dt=1e-4); hard reset to 0"),
    "sinabs": Producer(1.0, "subtract", _warn("sinabs"), "time constants in steps"),
    "rockpool": Producer(1e-3, "subtract", _warn("rockpool"), "LIFTorch's default dt"),
}
"""Producer → its time step, reset rule and corrections (see the module docstring)."""


def producer(name: str) -> Producer:
    if name not in PRODUCERS:
        raise NeuroccError(f"producer {name!r} unknown; known: {', '.join(PRODUCERS)} (or leave "
                           "it unset to read the file as plain NIR)")
    return PRODUCERS[name]


def corrected(graph, name: str, dt: float):
    """``graph`` (a ``nir.NIRGraph``, changed in place) with producer ``name``'s corrections
    for compile time step ``dt``, and the notes saying what was changed."""
    fix = producer(name).fix
    notes = fix(graph, dt) if fix else []
    graph._neurocc_warnings = list(getattr(graph, "_neurocc_warnings", [])) + notes
    return graph


__all__ = ["PRODUCERS", "Producer", "corrected", "producer"]
