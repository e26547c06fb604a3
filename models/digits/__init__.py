"""The digits model of the zoo: a small convolutional spiking network on 8 x 8 digits.

``data`` (numpy only) gives the split, the spike encoding and the decoding rule; ``model``,
``training`` and ``evaluate`` need torch and snnTorch and are imported on first use, so that
``from neurocc.models.digits import test_inputs, decode`` works without them. This package
is a ``neurocc.models.zoo.ZooModel``.
"""

from __future__ import annotations

from pathlib import Path

from neurocc.models.common import accuracy
from neurocc.models.digits.data import (
    DT,
    ENCODING,
    RESET,
    STEPS,
    decode,
    encode,
    load_split,
    test_inputs,
)
from neurocc.models.zoo import ARTIFACTS

TASK = "classification"
METRIC = "accuracy"
ARTIFACT_DIR = ARTIFACTS / "digits"
NIR_PATH = ARTIFACT_DIR / "model.nir"
METRICS_PATH = ARTIFACT_DIR / "metrics.json"
COMPILE = {"dt": DT, "reset": RESET}
"""How the model was trained, for ``compile_nir``: NIR records neither dt nor the reset."""


def score(result, labels) -> dict:
    """Accuracy of a ``neurocc.backends.run`` result: argmax of output spike counts."""
    return {"accuracy": accuracy(decode(result.output_spike_counts), labels)}


def float_score(nir_path: str | Path | None = None, n: int | None = None) -> dict:
    """Accuracy of the float snnTorch network rebuilt from ``nir_path`` (default: the
    committed artifact) on the whole test split (it is small; ``n`` is ignored), with the
    output spike ``counts`` ``(N, 10)``."""
    from neurocc.models.digits.evaluate import float_accuracy

    r = float_accuracy(nir_path)
    return {"accuracy": r["accuracy"], "samples": r["n"], "counts": r["counts"]}


def train(seed: int = 0, out_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Train from scratch and write ``model.nir`` + ``metrics.json`` (see :mod:`.training`)."""
    from neurocc.models.digits.training import train as _train

    return _train(seed=seed, out_dir=out_dir or ARTIFACT_DIR, progress=progress)


def __getattr__(name: str):
    if name in ("build", "build_from_nir"):
        from neurocc.models.digits import model
        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ARTIFACT_DIR", "COMPILE", "DT", "ENCODING", "METRIC", "METRICS_PATH", "NIR_PATH",
           "RESET", "STEPS", "TASK", "build", "build_from_nir", "decode", "encode", "float_score",
           "load_split", "score", "test_inputs", "train"]
