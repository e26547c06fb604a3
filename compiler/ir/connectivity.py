"""How a projection's synapses are stored: dense, sparse (CSR over post neurons) or conv.

Every connectivity maps a presynaptic vector ``x`` ``(n_pre,)`` to the postsynaptic input
``W x`` ``(n_post,)``; weights are float in the IR and int64 after lowering to a target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np


@dataclass(frozen=True, eq=False)
class Dense:
    """Dense weights ``(n_post, n_pre)``: ``I_post = weight @ x_pre``."""

    weight: np.ndarray

    kind: ClassVar[str] = "dense"

    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape

    @property
    def values(self) -> np.ndarray:
        """Every stored weight (``(n_post, n_pre)``)."""
        return self.weight

    def to_dense(self) -> np.ndarray:
        return self.weight

    def map_weights(self, fn) -> Dense:
        return Dense(fn(self.weight))

    def scale_rows(self, scale: np.ndarray) -> Dense:
        return Dense(self.weight * scale[:, None])


@dataclass(frozen=True, eq=False)
class Sparse:
    """Compressed sparse rows over the post-synaptic neurons.

    Row ``i`` (a post neuron) holds weights ``data[indptr[i]:indptr[i+1]]`` from pre neurons
    ``indices[indptr[i]:indptr[i+1]]``. Only stored synapses exist on the chip.
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    n_pre: int

    kind: ClassVar[str] = "sparse"

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.indptr) - 1, self.n_pre)

    @property
    def values(self) -> np.ndarray:
        """Every stored weight (``(nnz,)``)."""
        return self.data

    @property
    def rows(self) -> np.ndarray:
        """Post index of every stored synapse, shape ``(nnz,)``."""
        return np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))

    def to_dense(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.data.dtype)
        out[self.rows, self.indices] = self.data
        return out

    def map_weights(self, fn) -> Sparse:
        return Sparse(self.indptr, self.indices, fn(self.data), self.n_pre)

    def scale_rows(self, scale: np.ndarray) -> Sparse:
        return Sparse(self.indptr, self.indices,
                      self.data * np.repeat(scale, np.diff(self.indptr)), self.n_pre)

    @classmethod
    def from_dense(cls, weight: np.ndarray) -> Sparse:
        rows, cols = np.nonzero(weight)
        indptr = np.zeros(weight.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=weight.shape[0]), out=indptr[1:])
        return cls(indptr, cols.astype(np.int64), weight[rows, cols], weight.shape[1])


@dataclass(frozen=True, eq=False)
class Conv:
    """2-D convolution with a shared kernel (PyTorch's cross-correlation convention).

    ``weight`` has shape ``(C_out, C_in // groups, kH, kW)``; ``in_shape`` and ``out_shape``
    are ``(C, H, W)``; stride, padding and dilation are ``(h, w)`` pairs.
    """

    weight: np.ndarray
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    kind: ClassVar[str] = "conv"

    @property
    def shape(self) -> tuple[int, int]:
        return (int(math.prod(self.out_shape)), int(math.prod(self.in_shape)))

    @property
    def values(self) -> np.ndarray:
        """Every stored weight: the kernel."""
        return self.weight

    def to_dense(self) -> np.ndarray:
        from neurocc.compiler.linalg import conv_matrix

        return conv_matrix(self)

    def map_weights(self, fn) -> Conv:
        return replace(self, weight=fn(self.weight))

    def scale_rows(self, scale: np.ndarray) -> Conv:
        """Scale by a per-output-channel factor; ``scale`` is per neuron and must be uniform
        within each channel (checked by the caller with ``channel_uniform``)."""
        per_channel = scale.reshape(self.out_shape)[:, 0, 0]
        return replace(self, weight=self.weight * per_channel[:, None, None, None])

    def channel_uniform(self, scale: np.ndarray) -> bool:
        s = scale.reshape(self.out_shape[0], -1)
        return bool(np.all(s == s[:, :1]))


Connectivity = Dense | Sparse | Conv
CONNECTIVITY_TYPES: dict[str, type] = {c.kind: c for c in (Dense, Sparse, Conv)}
"""Connectivity classes by ``kind`` (the name used in artifacts and reports)."""
