"""Backends run a compiled program on a batch of inputs; ``run`` is the one entry point.

- ``base.py``: the ``Backend`` protocol, ``Trace`` and the lazy registry;
- ``run.py``: ``run`` (encoding, draining, alignment, activity counting) and ``RunResult``;
- ``emulator/`` (numpy, bit-exact), ``lava/`` (real Lava processes), ``reference/`` (float);
- ``diff.py``: compare two backends step by step.
"""

from neurocc.backends.base import REGISTRY, Backend, Trace, available, get_backend
from neurocc.backends.run import RunResult, encode_input, pad_drain, payloads, run

__all__ = ["REGISTRY", "Backend", "RunResult", "Trace", "available", "encode_input",
           "get_backend", "pad_drain", "payloads", "run"]
