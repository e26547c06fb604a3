"""The retina model of the zoo: ganglion-cell mosaics that code natural images for energy.

Natural-image patches (scikit-learn's sample photographs and generated 1/f images), rate
coded as spikes, drive K cell types of LIF ganglion cells with learned convolutional
receptive fields (each type a mosaic); an on-chip linear decoder integrates their spikes in a
non-spiking LI readout whose membrane is the reconstructed patch. Trained with snnTorch to
reconstruct while paying, per spike, the energy the hardware config assigns to it. See
:mod:`.model` (network, energy price, NIR graph), :mod:`.data` (images, encoding),
:mod:`.quality` (R² and bits), :mod:`.analysis` (what emerged, plots).

``data`` and ``quality`` need only numpy (and Pillow via scikit-learn); training and the
float model import torch and snnTorch on first use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurocc.models.retina.data import DT, RESET, STEPS, mean_luminance, test_inputs
from neurocc.models.retina.quality import quality
from neurocc.models.zoo import ARTIFACTS

TASK = "reconstruction"
METRIC = "r2"
ARTIFACT_DIR = ARTIFACTS / "retina"
NIR_PATH = ARTIFACT_DIR / "model.nir"
METRICS_PATH = ARTIFACT_DIR / "metrics.json"
COMPILE = {"dt": DT, "reset": RESET}
"""How the model was trained, for ``compile_nir``: NIR records neither dt nor the reset."""
READOUT = "readout"
"""The NIR node (and layer) whose membrane is the reconstruction."""


def decode(membrane: np.ndarray) -> np.ndarray:
    """Reconstructed patches ``(N, 1, P, P)`` from the readout membrane ``(N, P·P)`` after the
    last input step (the decoder reconstructs ``x − mean_luminance``)."""
    from neurocc.models.retina.data import PATCH

    m = np.asarray(membrane, np.float64)
    return (m + mean_luminance()).reshape(len(m), 1, PATCH, PATCH)


def score(result, patches) -> dict:
    """R², mse and bits of a ``neurocc.backends.run`` result against the true ``patches``."""
    return quality(decode(result.outputs[READOUT][-1]), patches)


def float_score(nir_path: str | Path | None = None, n: int | None = None) -> dict:
    """Quality of the float snnTorch model rebuilt from ``nir_path`` (default: the committed
    artifact) on the first ``n`` test patches."""
    import nir

    from neurocc.models.common import torch_setup
    from neurocc.models.retina.model import from_nir
    from neurocc.models.retina.training import evaluate

    restore = torch_setup()
    try:
        return evaluate(from_nir(nir.read(str(nir_path or NIR_PATH))), n)
    finally:
        restore()


def train(seed: int = 0, out_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Train at the default energy price and write the artifacts (see :mod:`.training`)."""
    from neurocc.models.retina.training import train as _train

    return _train(seed, out_dir, progress)


def sweep(seed: int = 0, out_dir: str | Path | None = None, progress: bool = True) -> list:
    """The energy-price sweep: one retina per price, the information-energy curve
    (``sweep.json`` and a PNG in ``out_dir``)."""
    from neurocc.models.retina.training import sweep as _sweep

    return _sweep(seed, out_dir, progress)


__all__ = [
    "ARTIFACT_DIR",
    "COMPILE",
    "METRIC",
    "METRICS_PATH",
    "NIR_PATH",
    "READOUT",
    "STEPS",
    "TASK",
    "decode",
    "float_score",
    "score",
    "sweep",
    "test_inputs",
    "train",
]
