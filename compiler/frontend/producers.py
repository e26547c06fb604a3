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
- **Sinabs 3.1** and **Rockpool 3.1** decay exactly, ``a = exp(−dt/τ)`` per step (Sinabs:
  τ in steps, ``exp(−1/τ)``), and subtract the threshold *before* the next step's decay
  (``v ← a·(v − θ) + input``), where NIR's forward Euler with neurocc's subtract gives
  ``v ← a'·v + input − θ``. Both are put in NIR's form exactly: ``tau' = dt/(1 − a)`` (so
  ``1 − dt/tau' = a``), ``r``/``w_in`` for the producer's input gain, and a self-connection
  adding back ``(1 − a)·θ`` one step after each spike (NIR ``Scale`` node
  ``<neuron>_reset``, ``_reset_loop``: one synapse per neuron, on the chip and in the
  frontend, which reads a lone Scale as a sparse diagonal; the Conv2d, Affine or Linear
  feeding the layer is still taken as it is). They spike at ``v >= θ``, neurocc at
  ``v > θ``: equal unless a membrane lands exactly on the threshold.

  - **Sinabs** ``LIF`` (τ in steps, dt = 1) is written as ``LIF(tau, r=1, v_leak=0)``; it
    computes ``v ← a·v + (1 − a)·x`` (``norm_input=True``, its default, not recorded in the
    file). Corrected: ``tau'``, ``r`` stays 1, self-connection ``θ/r``. Its ``IAF`` is NIR's
    ``IF`` (nothing to correct); an ``LI`` (``ExpLeak``, ``norm_input=False``) is read as
    NIR's and warned about, since no recorded simulation measures a correction.
  - **Rockpool** ``LIFNeuronTorch`` → ``LIF(tau, r = tau·a/dt)``, computing ``v ← a·v + x``:
    ``tau'``, ``r = 1/(1 − a)``, self-connection ``(1 − a)·θ``. ``LIFTorch`` →
    ``CubaLIF(tau_syn, tau_mem, r = tau_mem·a/dt)``, no ``w_in``, computing
    ``i ← b·(i + x)``, ``v ← a·v + i``: ``tau_mem'``, ``r = 1/(1 − a)``,
    ``tau_syn' = dt/(1 − b)``, ``w_in = b/(1 − b)``. A CubaLIF's inputs all pass through
    its current, which would keep a decaying share of the self-connection's ``(1 − a)·θ``;
    a relay (``<neuron>_relay``, ``_relay_loop``: one spike-copying LIF per neuron, one step
    later) sends the opposite share back, so the sum reaches the membrane in one step only
    (on the chip: one more neuron and three more synapses per neuron). Corrected where
    ``r`` is what the exporter writes for the compile ``dt`` (and ``w_in`` is 1). The
    exporter writes ``v_leak = 0`` whatever the neuron's ``bias`` (a bias is lost) and its
    ``LI`` (``ExpSynTorch``) is read as NIR's and warned about.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neurocc.api.errors import NeuroccError

RELAY_THRESHOLD = 0.25
"""A relay neuron's threshold: its membrane is ``spike in − threshold·own spike before`` (it
forgets all else each step), so it copies every spike for any threshold in (0, 1/2)."""


NEURONS = frozenset({"LIF", "CubaLIF", "LI", "CubaLI"})
"""NIR neuron types that decay: where Sinabs' and Rockpool's exact decay differs from NIR's."""


def _f64(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float64)


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


def _fresh(graph, base: str) -> str:
    name, k = base, 1
    while name in graph.nodes:
        name, k = f"{base}{k}", k + 1
    return name


def _reset_loop(graph, name: str, weight) -> list[str]:
    """Adds ``name → Scale(weight) → name``: each spike adds ``weight`` to the neuron's input
    one step later. Returns the node added."""
    import nir

    loop = _fresh(graph, f"{name}_reset")
    graph.nodes[loop] = nir.Scale(scale=_f64(weight))
    graph.edges += [(name, loop), (loop, name)]
    return [loop]


def _relay_loop(graph, name: str, weight, dt: float) -> list[str]:
    """Adds ``name → relay LIF → Scale(weight) → name``: each spike adds ``weight`` to the
    neuron's input two steps later. The relay has ``tau = dt`` (``dt/tau = 1``: its membrane
    is its input minus ``RELAY_THRESHOLD`` after its own spike, nothing else kept), so it
    fires exactly one step after each spike it receives. Returns the nodes added."""
    import nir

    relay, back = _fresh(graph, f"{name}_relay"), _fresh(graph, f"{name}_relay_reset")
    zero = np.array(0.0)
    graph.nodes[relay] = nir.LIF(tau=np.array(dt), r=np.array(1.0), v_leak=zero,
                                 v_threshold=np.array(RELAY_THRESHOLD), v_reset=zero)
    graph.nodes[back] = nir.Scale(scale=_f64(weight))
    graph.edges += [(name, relay), (relay, back), (back, name)]
    return [relay, back]


def _sinabs(graph, dt: float) -> list[str]:
    fixed, added, other = [], [], []
    for name, node in list(graph.nodes.items()):
        kind = type(node).__name__
        if kind == "LIF" and np.all(_f64(node.r) == 1) and np.all(_f64(node.v_leak) == 0) \
                and np.all(_f64(node.tau) > 0):
            a = np.exp(-1.0 / _f64(node.tau))         # Sinabs: tau in steps
            node.tau = dt / (1.0 - a)
            added += _reset_loop(graph, name, _f64(node.v_threshold) / _f64(node.r))
            fixed.append(name)
        elif kind in NEURONS:
            other.append(name)
    notes = []
    if fixed:
        notes.append(
            f"producer sinabs: LIF node(s) {', '.join(fixed)}: tau = dt/(1 − exp(−1/tau)) "
            "(Sinabs decays by exp(−1/tau) per step, tau in steps, and scales its input by "
            "1 − exp(−1/tau): norm_input=True, its default, which the file does not record) and "
            f"a self-connection of weight v_threshold/r (node(s) {', '.join(added)}: Sinabs "
            "subtracts the threshold before the next step's decay, NIR's subtract comes after "
            "it)")
    if other:
        notes.append(_uncorrected("sinabs", other, "the correction is measured only for what "
                                  "sinabs.to_nir writes for a LIF: LIF with r = 1, v_leak = 0"))
    return notes


def _rockpool(graph, dt: float) -> list[str]:
    fixed: dict[str, list[str]] = {"LIF": [], "CubaLIF": []}
    added: dict[str, list[str]] = {"LIF": [], "CubaLIF": []}
    other = []
    for name, node in list(graph.nodes.items()):
        kind = type(node).__name__
        if kind not in NEURONS:
            continue
        if not _rockpool_wrote(node, dt):
            other.append(name)
            continue
        theta = _f64(node.v_threshold)
        if kind == "LIF":                             # LIFNeuronTorch: v = a·v + x
            a = np.exp(-dt / _f64(node.tau))
            node.tau, node.r = dt / (1.0 - a), 1.0 / (1.0 - a)
            added[kind] += _reset_loop(graph, name, (1.0 - a) * theta)
        else:                                         # LIFTorch: i = b·(i + x), v = a·v + i
            a, b = np.exp(-dt / _f64(node.tau_mem)), np.exp(-dt / _f64(node.tau_syn))
            node.tau_mem, node.r = dt / (1.0 - a), 1.0 / (1.0 - a)
            node.tau_syn, node.w_in = dt / (1.0 - b), b / (1.0 - b)
            added[kind] += _reset_loop(graph, name, (1.0 - a) * theta / b)
            added[kind] += _relay_loop(graph, name, -(1.0 - a) * theta, dt)
        fixed[kind].append(name)
    notes = []
    if fixed["LIF"]:
        notes.append(
            f"producer rockpool: LIF node(s) {', '.join(fixed['LIF'])}: tau = dt/(1 − a), "
            "r = 1/(1 − a) with a = exp(−dt/tau), and self-connection(s) "
            f"{', '.join(added['LIF'])} of weight (1 − a)·v_threshold (LIFNeuronTorch computes "
            "v = a·(v − spikes·v_threshold) + x, its exporter writes r = tau·a/dt; NIR's "
            "subtract comes after the decay)")
    if fixed["CubaLIF"]:
        notes.append(
            f"producer rockpool: CubaLIF node(s) {', '.join(fixed['CubaLIF'])}: tau_mem = "
            "dt/(1 − a), r = 1/(1 − a), tau_syn = dt/(1 − b), w_in = b/(1 − b) with a, b = "
            "exp(−dt/tau_mem), exp(−dt/tau_syn), and self-connections (nodes "
            f"{', '.join(added['CubaLIF'])}) of weight (1 − a)·v_threshold/b and, one step "
            "later through a relay LIF per neuron, −(1 − a)·v_threshold (LIFTorch computes "
            "i = b·(i + x), v = a·(v − spikes·v_threshold) + i, its exporter writes "
            "r = tau_mem·a/dt and no w_in; NIR's subtract comes after the decay, and the relay "
            "takes back out of the current what the first self-connection leaves there)")
    if other:
        notes.append(_uncorrected(
            "rockpool", other, "not what Rockpool's exporter writes for a LIFNeuronTorch or "
            "LIFTorch stepped at this dt: LIF or CubaLIF without w_in, r = tau·exp(−dt/tau)/dt"
            + _rockpool_dt(graph, other)))
    return notes


def _rockpool_wrote(node, dt: float) -> bool:
    """Whether ``node`` is what Rockpool's exporter writes for a LIFNeuronTorch (LIF) or
    LIFTorch (CubaLIF, no w_in) stepped at ``dt``: ``r = tau·exp(−dt/tau)/dt``."""
    kind = type(node).__name__
    if kind not in ("LIF", "CubaLIF") or (kind == "CubaLIF" and np.any(_f64(node.w_in) != 1)):
        return False
    tau = _f64(node.tau if kind == "LIF" else node.tau_mem)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return bool(np.all(tau > 0)) and np.allclose(_f64(node.r), tau * np.exp(-dt / tau) / dt,
                                                     rtol=1e-5)


def _rockpool_dt(graph, names) -> str:
    """The time step Rockpool's exporter wrote the first LIF/CubaLIF among ``names`` for:
    r = exp(−u)/u with u = dt/tau, solved for u by Newton's method (monotonic in u > 0)."""
    for name in names:
        node = graph.nodes[name]
        tau = getattr(node, "tau_mem", getattr(node, "tau", None))
        r = getattr(node, "r", None)
        if type(node).__name__ not in ("LIF", "CubaLIF") or tau is None or r is None or \
                np.any(_f64(getattr(node, "w_in", 1)) != 1):
            continue
        tau, r = float(_f64(tau).ravel()[0]), float(_f64(r).ravel()[0])
        if not (np.isfinite(tau) and np.isfinite(r) and tau > 0 and r > 0):
            continue
        u = 1.0 / r if r > 1 else 1.0
        for _ in range(60):
            u = max(u - (np.log(u) + u + np.log(r)) / (1.0 / u + 1.0), u / 10)
        return f"; node '{name}' fits dt = {u * tau:.6g} s: compile with that dt"
    return ""


def _uncorrected(what: str, names: list[str], why: str) -> str:
    return (f"producer {what}: node(s) {', '.join(names)} read as NIR's forward-Euler "
            f"neurons, uncorrected ({why}); {what} decays by exp(−dt/tau), so the results can "
            f"differ from {what}'s own simulation")


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
    "sinabs": Producer(1.0, "subtract", _sinabs, "time constants in steps"),
    "rockpool": Producer(1e-3, "subtract", _rockpool, "LIFTorch's default dt"),
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
