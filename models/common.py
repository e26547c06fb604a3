"""Helpers shared by the zoo's training code: torch's setup, metric rounding, versions.

``accuracy`` needs only numpy; the rest imports torch when called."""

from __future__ import annotations

import numpy as np

TORCH_THREADS = 1
"""Torch CPU threads for zoo training and float evaluation. Fixed, because the summation
order (and so, rarely, a spike) can depend on it; one, because these networks are small:
measured on the 2-core development machine, one training step of the retina takes 0.07 s
with one thread and 0.37 s with two (thread synchronisation costs more than it saves)."""


def torch_setup(threads: int = TORCH_THREADS):
    """Fix torch's CPU threads, flush denormals (membranes decay into them and slow the CPU
    tenfold) and make its algorithms deterministic; returns a function that undoes it."""
    import torch

    old = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    torch.use_deterministic_algorithms(True)

    def restore():
        torch.set_num_threads(old[0])
        torch.use_deterministic_algorithms(old[1])
        torch.set_flush_denormal(False)

    return restore


def rounded(d: dict, digits: int = 6) -> dict:
    """``d`` with every float (also in nested dicts) rounded to ``digits`` significant
    digits, for metrics files."""
    def r(v):
        if isinstance(v, float):
            return float(f"{v:.{digits}g}")
        if isinstance(v, dict):
            return {k: r(x) for k, x in v.items()}
        return v

    return {k: r(v) for k, v in d.items()}


def versions() -> dict:
    """Versions of the training stack, for metrics files."""
    import nir
    import snntorch
    import torch

    return {"torch": torch.__version__, "snntorch": snntorch.__version__,
            "nir": nir.__version__, "numpy": np.__version__}



def accuracy(predictions, labels) -> float:
    """Fraction of ``predictions`` equal to ``labels`` (the zoo's one classification score)."""
    return float(np.mean(np.asarray(predictions) == np.asarray(labels)))
