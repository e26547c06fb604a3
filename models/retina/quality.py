"""Reconstruction quality of the retina (numpy only): variance explained and bits.

- ``r2``: fraction of the test patches' pixel variance explained,
  ``1 − Σ (x̂ − x)² / Σ (x − x̄)²`` over all pixels of all patches (x̄ the test mean).
- ``bits``: a Gaussian-channel estimate of the information the reconstruction keeps about a
  patch. In the basis of the patches' principal components (decorrelated, for Gaussian
  patches independent), the information a component ``k`` keeps is that of a Gaussian channel
  with the observed correlation ``ρ_k`` between the true and the reconstructed coefficient,
  ``−½ log2(1 − ρ_k²)`` bits; ``bits`` is their sum. It is exact for jointly Gaussian signal
  and reconstruction with independent components, an estimate otherwise.
"""

from __future__ import annotations

import numpy as np


def quality(reconstruction: np.ndarray, patches: np.ndarray) -> dict:
    """``reconstruction`` and ``patches``: ``(N, …)`` luminance (any matching shape)."""
    x = np.asarray(patches, np.float64).reshape(len(patches), -1)
    r = np.asarray(reconstruction, np.float64).reshape(len(x), -1)
    mse = float(np.mean((r - x) ** 2))
    xc = x - x.mean(0)
    r2 = 1.0 - mse / float(np.mean(xc**2))
    _, vecs = np.linalg.eigh(xc.T @ xc / len(x))
    xk, rk = xc @ vecs, (r - r.mean(0)) @ vecs
    sx, sr = xk.std(0), rk.std(0)
    ok = (sx > 0) & (sr > 0)
    rho = np.zeros(xk.shape[1])
    rho[ok] = np.mean((xk[:, ok] - xk[:, ok].mean(0)) * (rk[:, ok] - rk[:, ok].mean(0)), 0) \
        / (sx[ok] * sr[ok])
    bits = float(np.sum(-0.5 * np.log2(np.clip(1 - rho**2, 1e-12, 1.0))))
    return {"r2": float(r2), "mse": mse, "bits": bits}
