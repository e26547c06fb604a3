"""The retina: ganglion-cell mosaics in snnTorch, their price in joules, their NIR graph.

Architecture (shapes without batch), deployed whole on the chip::

    input spikes (1, 16, 16)                     luminance, Bernoulli rate code
    Conv2d(1 → K, 7×7, stride 3, padding 3)      K cell types, each a 6 × 6 mosaic
    LIF  (K, 6, 6) ganglion cells                β = 0.875, θ = 1, zero reset
    Flatten → Affine (256 × 36K, no bias)        local linear decoder: a cell writes only
                                                 to the pixels under its receptive field
    LI   (256) non-spiking readout, β = 1        perfect integrator: its membrane after the
                                                 last step is decoder · spike counts
    → Output

The reconstruction is read off the LI membrane at the last input step (on the chip: the
membrane of the readout layer). The decoder reconstructs ``x − mean_luminance`` and adds
the constant back, so nothing is decoded off-chip but that one number.

Energy of one spike of a cell ``c``, from the hardware config (not a free constant)::

    e_c = spike_out_j + message_out_j · (destination cores) + fan_out_c · synop_j

with ``fan_out_c`` the nonzero decoder weights of ``c`` (its footprint in the image) and
``synop_j`` the synaptic-event energy of the kind the compiler stores the decoder as
(sparse when at most ``SPARSE_DENSITY`` of the matrix is nonzero). The loss is::

    mean squared reconstruction error per pixel + price · Σ_c count_c · e_c   (joules/image)

The graph is written with the ``nir`` package (snnTorch's exporter has no perfect-integrator
LI with a masked decoder); the LIF follows snnTorch's export convention (τ = dt/(1 − β),
r = 1/(1 − β), v_leak = 0), the LI has τ = r = ∞ (snnTorch β = 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import nir
import numpy as np
import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

from neurocc.models.retina.data import DT, PATCH

TYPES = 8
KERNEL = 7
STRIDE = 3
PADDING = 3
BETA = 0.875
THRESHOLD = 1.0
SURROGATE_SLOPE = 5.0


def grid_size(patch: int = PATCH) -> int:
    return (patch + 2 * PADDING - KERNEL) // STRIDE + 1


def footprint_mask(types: int = TYPES, patch: int = PATCH) -> np.ndarray:
    """``(types·G·G, patch²)`` 1 where a pixel lies under a cell's receptive field (its
    ``KERNEL × KERNEL`` window, clipped to the patch). Cells are ordered (type, row, col)."""
    g = grid_size(patch)
    mask = np.zeros((types, g, g, patch, patch), dtype=np.float32)
    for i in range(g):
        for j in range(g):
            r0, c0 = i * STRIDE - PADDING, j * STRIDE - PADDING
            mask[:, i, j, max(r0, 0):r0 + KERNEL, max(c0, 0):c0 + KERNEL] = 1.0
    return mask.reshape(types * g * g, patch * patch)


def cell_centres(patch: int = PATCH) -> np.ndarray:
    """``(G, G, 2)`` pixel coordinates (row, col) of the centre of each mosaic position."""
    g = np.arange(grid_size(patch)) * STRIDE - PADDING + (KERNEL - 1) / 2
    return np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1)


@dataclass(frozen=True)
class SpikePrice:
    """Joules per spike of every ganglion cell, from a hardware config."""

    hw: str
    per_cell_j: np.ndarray       # (n_cells,)
    spike_out_j: float
    message_out_j: float
    synop_j: float
    synop_kind: str
    dest_cores: int

    def describe(self) -> str:
        fan = (self.per_cell_j - self.spike_out_j - self.message_out_j * self.dest_cores) \
            / self.synop_j
        return (f"{self.hw}: spike_out {self.spike_out_j:.3g} J + message_out "
                f"{self.message_out_j:.3g} J x {self.dest_cores} core(s) + fan-out "
                f"{fan.min():.0f}-{fan.max():.0f} x synop_{self.synop_kind} "
                f"{self.synop_j:.3g} J = {self.per_cell_j.min():.3g}-"
                f"{self.per_cell_j.max():.3g} J per spike")


def spike_price(mask: np.ndarray, hw: str = "loihi2") -> SpikePrice:
    """Energy of one spike of each cell given the decoder footprint ``mask`` (n_cells,
    n_pixels) and the hardware config ``hw``."""
    from neurocc.compiler.targets.loihi.quantize import SPARSE_DENSITY
    from neurocc.hw_configs import load_hw

    spec = load_hw(hw)
    e = spec.energy
    fan_out = (mask != 0).sum(axis=1)
    sparse = np.count_nonzero(mask) <= SPARSE_DENSITY * mask.size
    synop = e.synop_sparse_j if sparse else e.synop_dense_j
    dest = math.ceil(mask.shape[1] / spec.core.neurons_per_core)
    per = e.spike_out_j + e.message_out_j * dest + fan_out * synop
    return SpikePrice(hw, per.astype(np.float64), e.spike_out_j, e.message_out_j, synop,
                      "sparse" if sparse else "dense", dest)


class Retina(nn.Module):
    """Conv2d → LIF ganglion cells → masked linear decoder of the spike counts."""

    def __init__(self, types: int = TYPES, patch: int = PATCH):
        super().__init__()
        self.types, self.patch = types, patch
        self.conv = nn.Conv2d(1, types, KERNEL, stride=STRIDE, padding=PADDING, bias=True)
        self.gc = snn.Leaky(beta=BETA, threshold=THRESHOLD, reset_mechanism="zero",
                            spike_grad=surrogate.fast_sigmoid(slope=SURROGATE_SLOPE))
        mask = torch.from_numpy(footprint_mask(types, patch))
        self.register_buffer("mask", mask)
        self.decoder = nn.Parameter(0.01 * torch.randn(mask.shape) * mask)

    @property
    def n_cells(self) -> int:
        return self.mask.shape[0]

    def decoder_weight(self) -> torch.Tensor:
        """``(n_cells, n_pixels)`` the decoder restricted to each cell's footprint."""
        return self.decoder * self.mask

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(T, B, 1, P, P)`` spikes → reconstruction of ``x − mean`` ``(B, P·P)``
        and spike counts ``(B, n_cells)`` over the T steps."""
        steps, batch = x.shape[:2]
        current = self.conv(x.flatten(0, 1).float()).reshape(steps, batch, -1)
        v = torch.zeros(batch, self.n_cells)
        counts = torch.zeros(batch, self.n_cells)
        for cur in current.unbind(0):
            s, v = self.gc(cur, v)
            counts = counts + s
        return counts @ self.decoder_weight(), counts


def to_nir(net: Retina) -> nir.NIRGraph:
    g = grid_size(net.patch)
    shape = (net.types, g, g)
    n_pix = net.patch * net.patch
    beta = np.full(shape, BETA, dtype=np.float32)
    conv_w = net.conv.weight.detach().numpy().astype(np.float32)
    conv_b = net.conv.bias.detach().numpy().astype(np.float32)
    nodes = {
        "input": nir.Input(input_type=np.array([1, net.patch, net.patch])),
        "conv": nir.Conv2d(input_shape=(net.patch, net.patch), weight=conv_w,
                           stride=(STRIDE, STRIDE), padding=(PADDING, PADDING),
                           dilation=(1, 1), groups=1, bias=conv_b),
        "gc": nir.LIF(tau=(DT / (1 - beta)).astype(np.float32),
                      r=(1 / (1 - beta)).astype(np.float32),
                      v_leak=np.zeros(shape, np.float32),
                      v_threshold=np.full(shape, THRESHOLD, np.float32),
                      v_reset=np.zeros(shape, np.float32)),
        "flatten": nir.Flatten(start_dim=0, end_dim=-1, input_type={"input": np.array(shape)}),
        "decoder": nir.Affine(weight=net.decoder_weight().detach().numpy().T.copy(),
                              bias=np.zeros(n_pix, np.float32)),
        "readout": nir.LI(tau=np.full(n_pix, np.inf, np.float32),
                          r=np.full(n_pix, np.inf, np.float32),
                          v_leak=np.zeros(n_pix, np.float32)),
        "output": nir.Output(output_type=np.array([n_pix])),
    }
    edges = [("input", "conv"), ("conv", "gc"), ("gc", "flatten"), ("flatten", "decoder"),
             ("decoder", "readout"), ("readout", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def from_nir(graph: nir.NIRGraph) -> Retina:
    """Rebuild the float model from a graph written by :func:`to_nir`."""
    n = graph.nodes
    w = np.asarray(n["conv"].weight, np.float32)
    types = w.shape[0]
    patch = int(np.asarray(n["input"].input_type["input"]).ravel()[-1]) \
        if isinstance(n["input"].input_type, dict) else int(np.asarray(n["input"].input_type)[-1])
    net = Retina(types, patch)
    net.conv.weight.data = torch.from_numpy(w.copy())
    net.conv.bias.data = torch.from_numpy(np.asarray(n["conv"].bias, np.float32).copy())
    net.decoder.data = torch.from_numpy(np.asarray(n["decoder"].weight, np.float32).T.copy())
    return net
