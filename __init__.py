"""neurocc: compile spiking networks (NIR) to Loihi-style chips, emulate them bit-exactly on
the CPU, and estimate their energy and latency per inference.

The public API, in the order a user meets it::

    import neurocc

    prog = neurocc.compile("model.nir", hw="loihi2")      # or an snnTorch module + input
    res = neurocc.run(prog, x)                            # x: (steps, batch, *input_shape)
    report = neurocc.report(res)                          # energy, latency, per layer/core
    neurocc.save(prog, "model.neurocc")                   # a program artifact; neurocc.load

Names are resolved on first use, so ``import neurocc`` stays cheap (numpy only).
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

_EXPORTS = {
    "compile": ("neurocc.api.compile", "compile"),
    "compare": ("neurocc.api.compare", "compare"),
    "compile_nir": ("neurocc.compiler.pipeline", "compile_nir"),
    "compile_network": ("neurocc.compiler.pipeline", "compile_network"),
    "read_nir": ("neurocc.compiler.frontend", "read_nir"),
    "run": ("neurocc.backends.run", "run"),
    "report": ("neurocc.reports.run", "run_report"),
    "save": ("neurocc.compiler.artifact", "save"),
    "load": ("neurocc.compiler.artifact", "load"),
    "load_hw": ("neurocc.hw_configs", "load_hw"),
    "hardware": ("neurocc.hw_configs", "available"),
    "backends": ("neurocc.backends.base", "available"),
    "CompileOptions": ("neurocc.compiler.passes.base", "CompileOptions"),
    "SpikeInput": ("neurocc.compiler.ir.encoding", "SpikeInput"),
    "GradedInput": ("neurocc.compiler.ir.encoding", "GradedInput"),
    "NeuroccError": ("neurocc.api.errors", "NeuroccError"),
}


def __getattr__(name: str):
    if name in _EXPORTS:
        module, attr = _EXPORTS[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'neurocc' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_EXPORTS])


__all__ = ["__version__", *_EXPORTS]
