"""Natural-image patches for the retina model (numpy, Pillow via scikit-learn; no downloads).

Images:

- scikit-learn's two sample photographs (``china.jpg``, ``flower.jpg``, 427 × 640 RGB, they
  ship inside the package), turned into luminance ``Y = 0.299 R + 0.587 G + 0.114 B`` on the
  JPEG's own (gamma-encoded) scale in [0, 1] and block-averaged 2 × 2 to 213 × 320, which
  removes compression artefacts and gives a patch more scene;
- ``N_PINK`` generated images with a 1/f amplitude spectrum (the average spectrum of
  natural scenes), from Gaussian noise with a fixed seed, mapped to mean 0.45 and standard
  deviation 0.18 and clipped to [0, 1].

Every image is split by columns: the left ``1 − TEST_FRACTION`` gives training patches, the
right part test patches, so no test pixel is ever seen in training. Patches are ``PATCH ×
PATCH`` pixels at seeded random positions.

Encoding (Bernoulli rate code): at every step ``t`` and pixel ``i``, independently,
``s[t, i] = 1`` with probability ``x[i]`` (the luminance). The code is itself noisy: with
``STEPS`` steps a pixel's count estimates its luminance with variance ``x(1 − x)/STEPS``,
the photoreceptor noise of efficient-coding models.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

PATCH = 16
STEPS = 16
DT = 1e-4
RESET = "zero"
N_PINK = 4
PINK_SIZE = 192
PINK_SEED = 7
TEST_FRACTION = 0.2
N_TRAIN = 8000
N_TEST = 1000
TRAIN_SEED = 1
TEST_SEED = 2024
INPUT_SHAPE = (1, PATCH, PATCH)

ENCODING = ("Bernoulli rate code: spike with probability = luminance in [0, 1] at each step, "
            "independently per pixel and step; numpy default_rng(seed)")


def _natural() -> list[np.ndarray]:
    from sklearn.datasets import load_sample_images

    out = []
    for img in load_sample_images().images:
        y = (img[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])) / 255.0
        h, w = (y.shape[0] // 2) * 2, (y.shape[1] // 2) * 2
        out.append(y[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)))
    return out


def pink_noise(size: int, rng: np.random.Generator) -> np.ndarray:
    """One ``size × size`` image with a 1/f amplitude spectrum, mean 0.45, std 0.18,
    clipped to [0, 1]."""
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij"))
    f[0, 0] = 1.0
    spectrum = np.fft.fft2(rng.standard_normal((size, size))) / f
    spectrum[0, 0] = 0.0
    img = np.real(np.fft.ifft2(spectrum))
    img = (img - img.mean()) / img.std()
    return np.clip(0.45 + 0.18 * img, 0.0, 1.0)


@lru_cache(maxsize=1)
def images() -> tuple[np.ndarray, ...]:
    """The natural images followed by the generated 1/f images, float64 in [0, 1]."""
    rng = np.random.default_rng(PINK_SEED)
    return tuple(_natural() + [pink_noise(PINK_SIZE, rng) for _ in range(N_PINK)])


def patches(split: str, n: int, seed: int) -> np.ndarray:
    """``n`` patches float32 ``(n, 1, PATCH, PATCH)`` from ``split`` ("train" or "test"),
    drawn evenly from every image at seeded random positions."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    rng = np.random.default_rng(seed)
    imgs = images()
    out = []
    for k, img in enumerate(imgs):
        h, w = img.shape
        cut = round(w * (1 - TEST_FRACTION))
        lo, hi = (0, cut - PATCH) if split == "train" else (cut, w - PATCH)
        m = n // len(imgs) + (1 if k < n % len(imgs) else 0)
        rows = rng.integers(0, h - PATCH + 1, m)
        cols = rng.integers(lo, hi + 1, m)
        out.extend(img[r:r + PATCH, c:c + PATCH] for r, c in zip(rows, cols, strict=True))
    arr = np.stack(out)[rng.permutation(n)]
    return arr[:, None].astype(np.float32)


@lru_cache(maxsize=1)
def mean_luminance() -> float:
    """Mean training-patch luminance: the decoder reconstructs ``x − mean_luminance()`` (the
    constant is known to any observer and carries no information)."""
    return float(patches("train", N_TRAIN, TRAIN_SEED).mean())


def encode(x: np.ndarray, steps: int, seed: int | np.random.Generator) -> np.ndarray:
    """Bernoulli spikes uint8 ``(steps, *x.shape)`` with probability ``x`` per step."""
    rng = np.random.default_rng(seed)
    return (rng.random((steps, *x.shape), dtype=np.float32) < x[None]).astype(np.uint8)


def test_inputs(steps: int = STEPS, seed: int = TEST_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The fixed encoded test patches every reported number uses.

    Returns:
        spikes: uint8 ``(steps, N_TEST, 1, PATCH, PATCH)``.
        patches: float32 ``(N_TEST, 1, PATCH, PATCH)``, the luminance to reconstruct.
    """
    x = patches("test", N_TEST, seed)
    return encode(x, steps, seed + 1000), x
