"""Data, input encoding and output decoding of the digits model (numpy and scikit-learn only).

The data set is scikit-learn's copy of the UCI optical digits: 1,797 grey-scale images of
8 x 8 pixels with intensities 0..16, ten classes. It ships with scikit-learn, so nothing is
downloaded. Images are scaled to [0, 1] and split once, stratified and seeded, into
1,437 training and 360 test images.

Encoding (Bernoulli rate code): at every time step t and pixel i, independently,

    s[t, i] = 1  with probability  x[i]   (x[i] in [0, 1] the pixel intensity)

drawn with ``numpy.random.default_rng(seed)``, so a seed fixes the spike trains exactly.

Decoding: the predicted class is the output neuron with the most spikes over all time steps;
ties go to the lowest index (``numpy.argmax``). See :func:`decode`.

Nothing here imports torch: a compiler or emulator test can build the exact test inputs
without the training stack.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

STEPS = 8
"""Time steps per sample (one step = ``DT`` seconds of model time)."""

DT = 1e-4
"""Seconds per time step that snnTorch's NIR export assumes (beta = 1 - DT / tau)."""

RESET = "zero"
"""Reset rule the model was trained with: on a spike the membrane is set to 0."""

TEST_SEED = 2024
"""Seed of the one fixed encoding of the test split used for every reported accuracy."""

SPLIT_SEED = 0
TEST_FRACTION = 0.2
INPUT_SHAPE = (1, 8, 8)
NUM_CLASSES = 10

ENCODING = (
    "Bernoulli rate code: spike with probability = pixel intensity / 16 at each step, "
    "independently per pixel and step; numpy default_rng(seed)"
)


def load_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return one split of the digits data.

    Args:
        split: ``"train"`` (1,437 images) or ``"test"`` (360 images).

    Returns:
        images: float32 ``(N, 1, 8, 8)``, intensities in [0, 1].
        labels: int64 ``(N,)``, classes 0..9.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32).reshape(-1, *INPUT_SHAPE)
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=labels
    )
    if split == "train":
        return x_train, y_train
    return x_test, y_test


def encode(
    images: np.ndarray, steps: int, seed: int | np.random.Generator
) -> np.ndarray:
    """Bernoulli rate-code ``images`` into spike trains.

    Args:
        images: ``(N, 1, 8, 8)`` intensities in [0, 1] (the spike probability per step).
        steps: number of time steps T.
        seed: an int (the same int always gives the same spikes) or a numpy ``Generator``
            (consumed, as used by training to draw fresh spikes every epoch).

    Returns:
        uint8 spikes ``(T, N, 1, 8, 8)``, values 0 or 1.
    """
    rng = np.random.default_rng(seed)
    draws = rng.random((steps, *images.shape), dtype=np.float32)
    return (draws < images[None]).astype(np.uint8)


def test_inputs(steps: int = STEPS, seed: int = TEST_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The fixed encoded test split: every reported accuracy is measured on these spikes.

    Returns:
        spikes: uint8 ``(T, 360, 1, 8, 8)``.
        labels: int64 ``(360,)``.
    """
    images, labels = load_split("test")
    return encode(images, steps, seed), labels


def decode(counts: np.ndarray) -> np.ndarray:
    """Predicted classes from output spike counts.

    Args:
        counts: ``(N, 10)`` spikes of each output neuron summed over all time steps.

    Returns:
        int64 ``(N,)``: ``argmax`` over the 10 outputs; ties go to the lowest index.
    """
    return np.argmax(np.asarray(counts), axis=-1).astype(np.int64)
