"""Generated odours for the olfaction model (numpy only; nothing is downloaded).

An odour class ``c`` is a prototype affinity profile ``a_c`` over the ``N_RECEPTORS``
receptor types: each receptor's affinity is drawn from an exponential distribution and the
profile is scaled to a maximum of 1 (broad, overlapping tuning, as measured for insect
olfactory receptors). One trial of class ``c`` is::

    a      = a_c · exp(JITTER · ξ),  ξ ~ N(0, 1) per receptor   (trial-to-trial variation)
    conc   ~ log-uniform on [CONC_MIN, CONC_MAX]                  (concentration)
    p_i    = P_SPONT + (P_MAX − P_SPONT) · conc·a_i / (conc·a_i + K_HALF)   (per-step rate)
    s[t,i] = 1 with probability p_i, independently per step and receptor

so the receptor layer is a Bernoulli rate code with a saturating (Hill, n = 1) dose-response
curve. The prototypes come from a fixed seed (``ODOUR_SEED``): the task is the same for every
training seed.

Decoding: the predicted class is the output neuron with the most spikes over the response
window (:func:`decode`; ties to the lowest index).
"""

from __future__ import annotations

import numpy as np

N_RECEPTORS = 50
N_CLASSES = 10
STEPS = 30
"""Time steps an odour is presented (one step = ``DT`` seconds of model time)."""
DT = 1e-4
RESET = "zero"

ODOUR_SEED = 12345
TRAIN_PER_CLASS = 300
TEST_PER_CLASS = 100
TRAIN_SEED = 1
TEST_SEED = 2024

JITTER = 0.6
CONC_MIN, CONC_MAX = 0.3, 3.0
K_HALF = 1.0
P_SPONT, P_MAX = 0.02, 0.5

ENCODING = (
    "Bernoulli rate code per receptor: p = P_SPONT + (P_MAX - P_SPONT) * c*a/(c*a + K_HALF), "
    f"P_SPONT={P_SPONT}, P_MAX={P_MAX}, K_HALF={K_HALF}; concentration c log-uniform on "
    f"[{CONC_MIN}, {CONC_MAX}]; affinity a = prototype * exp({JITTER} * N(0,1))"
)


def prototypes(seed: int = ODOUR_SEED) -> np.ndarray:
    """``(N_CLASSES, N_RECEPTORS)`` affinity profiles, each with maximum 1."""
    rng = np.random.default_rng(seed)
    a = rng.exponential(1.0, (N_CLASSES, N_RECEPTORS))
    return a / a.max(axis=1, keepdims=True)


def rates(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-step receptor spike probabilities of ``n_per_class`` trials of every class.

    Returns:
        p: float32 ``(N, N_RECEPTORS)`` spike probability per step, N = n_per_class·N_CLASSES.
        labels: int64 ``(N,)``.
        conc: float32 ``(N,)`` concentration of each trial.
    """
    rng = np.random.default_rng(seed)
    proto = prototypes()
    labels = np.repeat(np.arange(N_CLASSES), n_per_class)
    a = proto[labels] * np.exp(JITTER * rng.standard_normal((len(labels), N_RECEPTORS)))
    conc = np.exp(rng.uniform(np.log(CONC_MIN), np.log(CONC_MAX), len(labels)))
    drive = conc[:, None] * a
    p = P_SPONT + (P_MAX - P_SPONT) * drive / (drive + K_HALF)
    order = rng.permutation(len(labels))
    return p[order].astype(np.float32), labels[order].astype(np.int64), \
        conc[order].astype(np.float32)


def encode(p: np.ndarray, steps: int, seed: int | np.random.Generator) -> np.ndarray:
    """Bernoulli spikes uint8 ``(steps, N, N_RECEPTORS)`` with per-step probabilities ``p``."""
    rng = np.random.default_rng(seed)
    return (rng.random((steps, *p.shape), dtype=np.float32) < p[None]).astype(np.uint8)


def train_set(steps: int = STEPS, seed: int = TRAIN_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Encoded training odours: uint8 ``(steps, 3000, 50)`` and labels ``(3000,)``."""
    p, labels, _ = rates(TRAIN_PER_CLASS, seed)
    return encode(p, steps, seed + 1000), labels


def test_inputs(steps: int = STEPS, seed: int = TEST_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The fixed encoded test odours every reported number uses: uint8 ``(steps, 1000, 50)``
    and labels int64 ``(1000,)``."""
    p, labels, _ = rates(TEST_PER_CLASS, seed)
    return encode(p, steps, seed + 1000), labels


def decode(counts: np.ndarray) -> np.ndarray:
    """Predicted classes ``(N,)`` from output spike counts ``(N, N_CLASSES)``: argmax, ties
    to the lowest index."""
    return np.argmax(np.asarray(counts), axis=-1).astype(np.int64)
