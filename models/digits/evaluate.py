"""Float (snnTorch) accuracy of the digits model, recomputed from a ``.nir`` file alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from neurocc.models.common import accuracy, torch_setup
from neurocc.models.digits import NIR_PATH
from neurocc.models.digits.data import STEPS, decode, test_inputs
from neurocc.models.digits.model import build_from_nir, run

LAYERS = ("conv_lif", "hidden_lif", "output_lif")
"""Names used in reports for the three spiking layers, input side first."""


def score(net: nn.Sequential, spikes: np.ndarray, labels: np.ndarray) -> dict:
    """Run ``net`` on encoded inputs and classify with :func:`~.data.decode`.

    The whole batch is simulated at once, so the floating-point summation order (and so
    every spike) is the same wherever this is called: in training and from the file.

    Args:
        spikes: uint8 ``(T, N, 1, 8, 8)``.
        labels: int64 ``(N,)``.

    Returns:
        ``accuracy`` (fraction), ``predictions`` int64 ``(N,)``, ``counts`` int64 ``(N, 10)``
        output spikes per sample summed over the T steps, ``layer_spikes`` {layer name:
        total spikes over all N samples and T steps}, ``n`` (N).
    """
    with torch.no_grad():
        out, totals = run(net, torch.from_numpy(spikes))
    counts = out.sum(0).round().to(torch.int64).numpy()
    predictions = decode(counts)
    return {
        "accuracy": accuracy(predictions, labels),
        "predictions": predictions,
        "counts": counts,
        "layer_spikes": {
            name: round(float(t.sum())) for name, t in zip(LAYERS, totals, strict=True)
        },
        "n": len(labels),
    }


def float_accuracy(nir_path: str | Path | None = None, steps: int = STEPS) -> dict:
    """Accuracy of the float snnTorch network rebuilt from ``nir_path`` on the test split.

    Args:
        nir_path: the ``.nir`` file; default the committed ``models/artifacts/digits``.
        steps: time steps per sample (must match training to reproduce ``metrics.json``).

    Returns:
        See :func:`score`; classification is ``decode(counts)``: argmax of output spike
        counts over all steps, ties to the lowest class index.
    """
    restore = torch_setup()  # same threads as training, so the same summation order
    try:
        net = build_from_nir(NIR_PATH if nir_path is None else nir_path)
        spikes, labels = test_inputs(steps)
        return score(net, spikes, labels)
    finally:
        restore()
