"""The discretized network: per-step factors of every group (the output of ``discretize``).

Per time step of ``dt`` seconds, every neuron of a group runs::

    U ← (1 − decay_u)·U + Σ_p W_p x_p          (decay_u = 1 for kinds without a current)
    v ← (1 − decay_v)·v + U + bias
    spike ← v > threshold

with the input gains folded into the rows of the projections' weights ``W_p`` (units: the
normalised membrane per input event).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from neurocc.compiler.ir.graph import Network, Projection, incoming_index
from neurocc.compiler.ir.neurons import Neurons


@dataclass(frozen=True, eq=False)
class DiscreteGroup:
    """One population with per-step factors. ``threshold`` is the shared (normalised)
    threshold, ``inf`` for non-spiking groups; ``norm`` (n,) maps a neuron's model membrane
    to the normalised one (``v_norm = norm · v``). ``bias`` (n,) is added to v every step."""

    neurons: Neurons
    decay_u: float
    decay_v: float
    threshold: float
    bias: np.ndarray
    norm: np.ndarray

    @property
    def name(self) -> str:
        return self.neurons.name

    @property
    def nir_node(self) -> str:
        return self.neurons.nir_node

    @property
    def shape(self) -> tuple[int, ...]:
        return self.neurons.shape

    @property
    def spiking(self) -> bool:
        return self.neurons.spiking

    @property
    def n(self) -> int:
        return self.neurons.n


@dataclass(frozen=True, eq=False)
class DiscreteNetwork:
    """The discretized groups and projections of ``network`` at time step ``dt`` (s);
    ``warnings`` says where discretization is approximate."""

    network: Network
    groups: tuple[DiscreteGroup, ...]
    projections: tuple[Projection, ...]
    dt: float
    warnings: tuple[str, ...] = ()

    def group(self, name: str) -> DiscreteGroup:
        return next(g for g in self.groups if g.name == name)

    def incoming(self, name: str) -> tuple[Projection, ...]:
        return self._incoming.get(name, ())

    @cached_property
    def _incoming(self) -> dict[str, tuple[Projection, ...]]:
        return incoming_index(self.projections)
