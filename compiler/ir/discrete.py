"""The discretized network: per-step factors of every group (the output of ``discretize``).

Per time step of ``dt`` seconds, every neuron of a group runs::

    U ← (1 − decay_u)·U + Σ_p W_p x_p          (decay_u = 1 for kinds without a current)
    v ← (1 − decay_v)·v + U + bias
    spike ← v > threshold

with the input gains folded into the rows of the projections' weights ``W_p`` (units: the
normalised membrane per input event). A ``DiscreteProjection`` holds those weights as the
IR's and the row scale, multiplied out a chunk at a time when they are read, so that the
compiler never holds a second full-size float copy of every weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from neurocc.compiler.ir.connectivity import Connectivity, Conv, Dense
from neurocc.compiler.ir.delays import Delays
from neurocc.compiler.ir.graph import Network, incoming_index
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
class DiscreteProjection:
    """A projection at time step ``dt``: weights ``W = diag(row_scale) · W_ir``, the IR's
    weights ``source`` with each post neuron's row scaled by its input gain (a conv's
    ``row_scale`` is uniform within each output channel). ``scaled(a, b)`` computes stored
    values ``a:b`` (in the flat order of ``source.values``) and ``conn`` the whole
    connectivity, with the same products ``scale_rows`` forms, bit for bit. ``delay`` in
    whole steps, or None."""

    name: str
    src: str
    dst: str
    source: Connectivity
    row_scale: np.ndarray
    nir_nodes: tuple[str, ...] = ()
    delay: Delays | None = None

    @property
    def conn(self) -> Connectivity:
        """The scaled connectivity, built whole (a full-size copy of the weights)."""
        return self.source.scale_rows(self.row_scale)

    @property
    def size(self) -> int:
        """Stored values."""
        return int(self.source.values.size)

    @cached_property
    def _rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ptr, scale)``: flat values ``ptr[r]:ptr[r+1]`` share the factor ``scale[r]``."""
        c = self.source
        if isinstance(c, Dense):
            return np.arange(c.shape[0] + 1, dtype=np.int64) * c.shape[1], self.row_scale
        if isinstance(c, Conv):
            k = int(np.prod(c.weight.shape[1:]))
            return (np.arange(c.weight.shape[0] + 1, dtype=np.int64) * k,
                    self.row_scale.reshape(c.out_shape)[:, 0, 0])
        return c.indptr, self.row_scale

    def scaled(self, a: int, b: int) -> np.ndarray:
        """Scaled values ``a:b``, flat."""
        ptr, scale = self._rows
        r0 = int(np.searchsorted(ptr, a, "right")) - 1
        r1 = int(np.searchsorted(ptr, b, "left"))
        counts = np.clip(ptr[r0 + 1:r1 + 1], a, b) - np.clip(ptr[r0:r1], a, b)
        return self.source.values.reshape(-1)[a:b] * np.repeat(scale[r0:r1], counts)


@dataclass(frozen=True, eq=False)
class DiscreteNetwork:
    """The discretized groups and projections of ``network`` at time step ``dt`` (s);
    ``warnings`` says where discretization is approximate."""

    network: Network
    groups: tuple[DiscreteGroup, ...]
    projections: tuple[DiscreteProjection, ...]
    dt: float
    warnings: tuple[str, ...] = ()

    def group(self, name: str) -> DiscreteGroup:
        return next(g for g in self.groups if g.name == name)

    def incoming(self, name: str) -> tuple[DiscreteProjection, ...]:
        return self._incoming.get(name, ())

    @cached_property
    def _incoming(self) -> dict[str, tuple[DiscreteProjection, ...]]:
        return incoming_index(self.projections)
