"""The fixed part of the olfactory circuit and its NIR graph (numpy and nir only).

::

    receptors (50, input spikes)
      │ Affine: one-to-one, weight W_ORN_PN                      (fixed)
    PN  projection neurons, LIF (50)
      │ Affine: each KC samples KC_INPUTS random PNs, weight W_PN_KC  (fixed, sparse)
    KC  Kenyon cells, LIF (N_KC) ◄──────────────┐
      │ Affine: all KCs → every APL, W_KC_APL   │ Affine: every APL → all KCs, −w_inh
    APL inhibitory population, LIF (N_APL) ─────┘ (fixed global feedback inhibition)
    KC
      │ Affine: trained readout (N_CLASSES × N_KC, bias)
    output LIF (N_CLASSES)

The APL is a small population rather than one neuron so that its inhibition is graded: APL
neuron ``j`` has threshold ``(j + 1)·APL_THETA``, so the number of APL spikes in a step grows
with the number of KC spikes that drive it, like a rectified-linear function of KC activity.

Every neuron follows snnTorch's ``Leaky`` with zero reset per time step,
``v[t] = β·v[t−1]·(1 − s[t−1]) + I[t]``, ``s[t] = v[t] > θ``, exported with snnTorch's
convention ``τ = dt/(1−β)``, ``r = 1/(1−β)``, ``v_leak = 0``. On the chip (and in
:mod:`.model`), every projection delays by one step, so the feedback loop KC → APL → KC closes
after two steps.

The graph is written with the ``nir`` package directly: snnTorch's exporter can express
neither the fixed sparse expansion as such nor a recurrent loop with the chip's timing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import nir
import numpy as np

from neurocc.models.olfaction.data import DT, N_CLASSES, N_RECEPTORS


@dataclass(frozen=True)
class Circuit:
    """Parameters of the fixed circuit (dimensionless model units; β per time step)."""

    n_kc: int = 2000
    kc_inputs: int = 6
    n_apl: int = 8
    beta_pn: float = 0.875
    beta_kc: float = 0.75
    beta_apl: float = 0.5
    beta_out: float = 0.875
    w_orn_pn: float = 0.7
    w_pn_kc: float = 0.457
    w_kc_apl: float = 0.21
    apl_theta: float = 1.0
    w_inh: float = 0.5
    """Inhibition per APL spike on every KC: the knob that sets KC sparseness."""
    threshold: float = 1.0

    def with_inhibition(self, w_inh: float) -> Circuit:
        return replace(self, w_inh=float(w_inh))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Weights:
    """Fixed weight matrices ``(n_post, n_pre)`` of a circuit instance."""

    orn_pn: np.ndarray
    pn_kc: np.ndarray
    kc_apl: np.ndarray
    apl_kc: np.ndarray
    apl_threshold: np.ndarray  # (n_apl,)


def fixed_weights(c: Circuit, seed: int) -> Weights:
    """Draw the random PN → KC expansion (``kc_inputs`` distinct PNs per KC) from ``seed``."""
    rng = np.random.default_rng(seed)
    pn_kc = np.zeros((c.n_kc, N_RECEPTORS), dtype=np.float32)
    for k in range(c.n_kc):
        pn_kc[k, rng.choice(N_RECEPTORS, c.kc_inputs, replace=False)] = c.w_pn_kc
    return Weights(
        orn_pn=np.eye(N_RECEPTORS, dtype=np.float32) * c.w_orn_pn,
        pn_kc=pn_kc,
        kc_apl=np.full((c.n_apl, c.n_kc), c.w_kc_apl, dtype=np.float32),
        apl_kc=np.full((c.n_kc, c.n_apl), -c.w_inh, dtype=np.float32),
        apl_threshold=(np.arange(1, c.n_apl + 1) * c.apl_theta).astype(np.float32),
    )


def _lif(beta: float, threshold: np.ndarray) -> nir.LIF:
    threshold = np.asarray(threshold, dtype=np.float32)
    n = threshold.shape
    return nir.LIF(
        tau=np.full(n, DT / (1 - beta), dtype=np.float32),
        r=np.full(n, 1 / (1 - beta), dtype=np.float32),
        v_leak=np.zeros(n, dtype=np.float32),
        v_threshold=threshold,
        v_reset=np.zeros(n, dtype=np.float32),
    )


def _affine(w: np.ndarray, b: np.ndarray | None = None) -> nir.Affine:
    w = np.asarray(w, dtype=np.float32)
    b = np.zeros(w.shape[0], dtype=np.float32) if b is None else np.asarray(b, np.float32)
    return nir.Affine(weight=w, bias=b)


def to_nir(c: Circuit, w: Weights, readout_w: np.ndarray, readout_b: np.ndarray) -> nir.NIRGraph:
    """The whole circuit as a NIR graph (node names are the layer names in reports)."""
    thr = c.threshold
    nodes = {
        "input": nir.Input(input_type=np.array([N_RECEPTORS])),
        "orn_pn": _affine(w.orn_pn),
        "pn": _lif(c.beta_pn, np.full(N_RECEPTORS, thr)),
        "pn_kc": _affine(w.pn_kc),
        "kc": _lif(c.beta_kc, np.full(c.n_kc, thr)),
        "kc_apl": _affine(w.kc_apl),
        "apl": _lif(c.beta_apl, w.apl_threshold),
        "apl_kc": _affine(w.apl_kc),
        "readout": _affine(readout_w, readout_b),
        "out": _lif(c.beta_out, np.full(N_CLASSES, thr)),
        "output": nir.Output(output_type=np.array([N_CLASSES])),
    }
    edges = [("input", "orn_pn"), ("orn_pn", "pn"), ("pn", "pn_kc"), ("pn_kc", "kc"),
             ("kc", "kc_apl"), ("kc_apl", "apl"), ("apl", "apl_kc"), ("apl_kc", "kc"),
             ("kc", "readout"), ("readout", "out"), ("out", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def from_nir(graph: nir.NIRGraph) -> tuple[Circuit, Weights, np.ndarray, np.ndarray]:
    """Read a graph written by :func:`to_nir` back: ``(circuit, weights, readout_w, readout_b)``.

    The circuit's β come from the LIF time constants (β = 1 − dt/τ); its scalar weights
    are informative only, the matrices in ``weights`` are what the graph holds.
    """
    n = graph.nodes

    def beta(node) -> float:
        return round(float(1.0 - DT / np.asarray(node.tau, dtype=np.float64).ravel()[0]), 6)

    w = Weights(orn_pn=np.asarray(n["orn_pn"].weight, np.float32),
                pn_kc=np.asarray(n["pn_kc"].weight, np.float32),
                kc_apl=np.asarray(n["kc_apl"].weight, np.float32),
                apl_kc=np.asarray(n["apl_kc"].weight, np.float32),
                apl_threshold=np.asarray(n["apl"].v_threshold, np.float32))
    c = Circuit(
        n_kc=w.pn_kc.shape[0], kc_inputs=int((w.pn_kc[0] != 0).sum()), n_apl=w.kc_apl.shape[0],
        beta_pn=beta(n["pn"]), beta_kc=beta(n["kc"]), beta_apl=beta(n["apl"]),
        beta_out=beta(n["out"]), w_orn_pn=float(w.orn_pn.max()), w_pn_kc=float(w.pn_kc.max()),
        w_kc_apl=float(w.kc_apl.max()), apl_theta=float(w.apl_threshold[0]),
        w_inh=float(-w.apl_kc.min()),
        threshold=float(np.asarray(n["kc"].v_threshold).ravel()[0]))
    return c, w, np.asarray(n["readout"].weight, np.float32), \
        np.asarray(n["readout"].bias, np.float32)
