"""Neuron kinds of the IR: one frozen dataclass per kind, its equation in the docstring.

All kinds share ``name``, ``nir_node``, ``shape`` and ``bias``; a group of shape
``(C, H, W)`` has ``n = C·H·W`` neurons in C (row-major) order, the order PyTorch's
``flatten`` uses. Every parameter is an array of shape ``(n,)`` in NIR's continuous-time
units: time constants in seconds (``inf``: no leak), ``bias`` a constant input current
(from Affine biases) added to the summed synaptic input ``I_in``.

On a spike, ``v`` is reset either to 0 ("zero", NIR's ``v_reset = 0``) or by subtracting the
threshold one step later ("subtract", snnTorch's default); the rule is a compile option
because NIR cannot express it.

To add a kind: a class here (registered in ``NEURON_TYPES``), its forward-Euler rule in
``compiler/passes/discretize.py`` and its float step in ``backends/reference``; the NIR
frontend finds it by ``nir_type``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import ClassVar

import numpy as np


@dataclass(frozen=True, eq=False)
class Neurons:
    """Base of every kind: identity, shape and the constant input current ``bias`` (n,)."""

    name: str
    nir_node: str
    shape: tuple[int, ...]
    bias: np.ndarray

    kind: ClassVar[str] = ""
    """Short name used in reports and artifacts (``lif``, ``cubalif``, ...)."""
    nir_type: ClassVar[str] = ""
    """The NIR node type this kind is read from."""
    spiking: ClassVar[bool] = True
    """False for readouts whose membrane ``v`` is their output (they never spike)."""
    has_current: ClassVar[bool] = False
    """True for kinds with a synaptic current state ``I`` (current-based)."""
    has_memory: ClassVar[bool] = True
    """False for memoryless kinds (``Threshold``), whose potential is their input."""

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))

    @classmethod
    def parameters(cls) -> tuple[str, ...]:
        """Names of the per-neuron parameter arrays (every field but name, node, shape)."""
        return tuple(f.name for f in fields(cls) if f.name not in ("name", "nir_node", "shape"))

    def with_bias(self, bias: np.ndarray) -> Neurons:
        return replace(self, bias=np.asarray(bias, dtype=np.float64))


@dataclass(frozen=True, eq=False)
class LIF(Neurons):
    """Leaky integrate-and-fire::

        tau_mem dv/dt = v_leak - v + r·(I_in + bias);   spike when v > v_threshold
    """

    tau_mem: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    v_threshold: np.ndarray

    kind: ClassVar[str] = "lif"
    nir_type: ClassVar[str] = "LIF"


@dataclass(frozen=True, eq=False)
class CubaLIF(Neurons):
    """Current-based LIF (the membrane integrates the new current)::

        tau_syn dI/dt = -I + w_in·(I_in + bias)
        tau_mem dv/dt = v_leak - v + r·I;   spike when v > v_threshold
    """

    tau_syn: np.ndarray
    w_in: np.ndarray
    tau_mem: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    v_threshold: np.ndarray

    kind: ClassVar[str] = "cubalif"
    nir_type: ClassVar[str] = "CubaLIF"
    has_current: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class IF(Neurons):
    """Integrate-and-fire (no leak)::

        dv/dt = r·(I_in + bias);   spike when v > v_threshold
    """

    r: np.ndarray
    v_threshold: np.ndarray

    kind: ClassVar[str] = "if"
    nir_type: ClassVar[str] = "IF"


@dataclass(frozen=True, eq=False)
class LI(Neurons):
    """Leaky integrator, a non-spiking readout whose membrane is its output::

        tau_mem dv/dt = v_leak - v + r·(I_in + bias)
    """

    tau_mem: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray

    kind: ClassVar[str] = "li"
    nir_type: ClassVar[str] = "LI"
    spiking: ClassVar[bool] = False


@dataclass(frozen=True, eq=False)
class CubaLI(Neurons):
    """Current-based leaky integrator (non-spiking readout)::

        tau_syn dI/dt = -I + w_in·(I_in + bias)
        tau_mem dv/dt = v_leak - v + r·I
    """

    tau_syn: np.ndarray
    w_in: np.ndarray
    tau_mem: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray

    kind: ClassVar[str] = "cubali"
    nir_type: ClassVar[str] = "CubaLI"
    spiking: ClassVar[bool] = False
    has_current: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Threshold(Neurons):
    """A memoryless threshold unit (NIR's ``Threshold``): its potential is its input::

        v = I_in + bias;   spike when v > v_threshold

    On Loihi it is a LIF whose membrane decays fully every step (``dv = 4095``: 1/4096 of a
    sub-threshold potential carries into the next step) and resets to zero; under the
    subtractive reset it would carry ``−v_threshold`` into the next step, so it compiles with
    ``reset = "zero"`` only.
    """

    v_threshold: np.ndarray

    kind: ClassVar[str] = "threshold"
    nir_type: ClassVar[str] = "Threshold"
    has_memory: ClassVar[bool] = False


NEURON_TYPES: dict[str, type[Neurons]] = {
    c.kind: c for c in (LIF, CubaLIF, IF, LI, CubaLI, Threshold)}
"""Every neuron kind by its ``kind`` name."""
