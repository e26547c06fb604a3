"""numba, when installed (``pip install 'neurocc[fast]'``), for the emulator's and the
activity counter's compiled loops; ``None`` otherwise (their numpy twins then run).

Those loops touch seven or more arrays; LLVM's default budget of runtime alias checks (8) is
too small to vectorize them, which costs ~3x (measured on the neuron kernel: 4.4 → 1.6 ns per
neuron-step). The budget is a process-wide LLVM option, read when a function is compiled,
and may be set only once: it is set here, on first import.
"""

from __future__ import annotations

try:
    import llvmlite.binding as _llvm
    import numba
except ImportError:  # pragma: no cover - installs without the [fast] extra
    numba = None
else:
    _llvm.set_option("", "-runtime-memory-check-threshold=64")

__all__ = ["numba"]
