"""The olfaction model of the zoo: an insect mushroom-body circuit that classifies odours.

50 receptor types → 50 projection neurons (LIF) → 2,000 Kenyon cells through a fixed sparse
random expansion (each KC samples 6 PNs), kept sparse by global feedback inhibition from an
APL-like inhibitory population (KC → APL → KC), → a trained Affine + LIF readout with one
output neuron per odour class. See :mod:`.circuit` for the equations and the NIR graph,
:mod:`.data` for the generated odours.

``data`` and ``circuit`` need only numpy and nir; training and the float model (``train``,
``float_score``) import torch and snnTorch on first use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurocc.models.olfaction.data import DT, RESET, STEPS, decode, test_inputs
from neurocc.models.zoo import ARTIFACTS

TASK = "classification"
METRIC = "accuracy"
ARTIFACT_DIR = ARTIFACTS / "olfaction"
NIR_PATH = ARTIFACT_DIR / "model.nir"
METRICS_PATH = ARTIFACT_DIR / "metrics.json"
COMPILE = {"dt": DT, "reset": RESET}
"""How the model was trained, for ``compile_nir``: NIR records neither dt nor the reset."""


def score(result, labels) -> dict:
    """Accuracy of a ``neurocc.backends.run`` result: argmax of output spike counts."""
    pred = decode(result.output_spike_counts)
    return {"accuracy": float(np.mean(pred == np.asarray(labels)))}


def float_score(nir_path: str | Path | None = None, n: int | None = None) -> dict:
    """Accuracy and KC sparseness of the float (snnTorch, chip timing) model rebuilt from
    ``nir_path`` (default: the committed artifact) on the first ``n`` test odours."""
    import nir
    import torch

    from neurocc.models.common import torch_setup
    from neurocc.models.olfaction.circuit import from_nir
    from neurocc.models.olfaction.model import Readout
    from neurocc.models.olfaction.training import evaluate

    restore = torch_setup()
    try:
        c, w, rw, rb = from_nir(nir.read(str(nir_path or NIR_PATH)))
        ro = Readout(c.n_kc, c.beta_out, c.threshold)
        ro.fc.weight.data = torch.from_numpy(rw.copy())
        ro.fc.bias.data = torch.from_numpy(rb.copy())
        x, y = test_inputs()
        if n is not None:
            x, y = x[:, :n], y[:n]
        r = evaluate(c, w, ro, x, y)
        return {k: v for k, v in r.items() if k != "counts"} | {"samples": len(y)}
    finally:
        restore()


def train(seed: int = 0, out_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Train the readout and write ``model.nir`` + ``metrics.json`` (see :mod:`.training`)."""
    from neurocc.models.olfaction.training import train as _train

    return _train(seed, out_dir, progress)


def sweep(seed: int = 0, out_dir: str | Path | None = None, progress: bool = True) -> list:
    """The inhibition sweep: KC sparseness against accuracy and energy (``sweep.json`` and a
    PNG in ``out_dir``)."""
    from neurocc.models.olfaction.training import sweep as _sweep

    return _sweep(seed, out_dir, progress)


__all__ = [
    "ARTIFACT_DIR",
    "COMPILE",
    "METRIC",
    "METRICS_PATH",
    "NIR_PATH",
    "STEPS",
    "TASK",
    "decode",
    "float_score",
    "score",
    "sweep",
    "test_inputs",
    "train",
]
