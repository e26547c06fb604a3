"""The digits model of the zoo: a small convolutional spiking network on 8 x 8 digits.

``data`` (numpy only) gives the split, the spike encoding and the decoding rule; ``model``,
``train`` and ``evaluate`` need torch and snnTorch and are imported on first use, so that
``from neurocc.models.digits import test_inputs, decode`` works without them.

Training is ``neurocc.models.digits.train.train`` (or ``python -m neurocc.models.digits.train``);
it is not re-exported here because the name ``train`` is already the submodule.
"""

from .data import DT, RESET, STEPS, decode, encode, load_split, test_inputs

__all__ = [
    "DT",
    "RESET",
    "STEPS",
    "build",
    "build_from_nir",
    "decode",
    "encode",
    "float_accuracy",
    "load_split",
    "test_inputs",
]


def __getattr__(name: str):
    if name in ("build", "build_from_nir"):
        from . import model
        return getattr(model, name)
    if name == "float_accuracy":
        from .evaluate import float_accuracy
        return float_accuracy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
