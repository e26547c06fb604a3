"""The digits network in snnTorch, and its reconstruction from the exported NIR graph.

Architecture (shapes without the batch dimension)::

    input spikes (1, 8, 8)
    Conv2d(1 -> 8, 3x3, padding 1, bias)   -> (8, 8, 8)
    Leaky                                  512 neurons
    AvgPool2d(2)                           -> (8, 4, 4)
    Flatten                                -> 128
    Linear(128 -> 64, bias)
    Leaky                                  64 neurons
    Linear(64 -> 10, bias)
    Leaky (output)                         10 neurons

Every ``Leaky`` follows snnTorch's discrete-time rule, per time step (one step = ``DT``)::

    v[t] = beta * v[t-1] * (1 - s[t-1]) + I[t]        (zero reset)
    s[t] = 1 if v[t] > threshold else 0                (strictly greater)

with beta = 0.875 and threshold = 1.0 for every neuron. Both are fixed per-neuron tensors of
the layer's full output shape (snnTorch's NIR export needs tensors, and fixed values keep
the exported constants exact). beta = 1 - 1/8 is exact in binary, so a fixed-point chip
can represent the decay without rounding. The export maps each ``Leaky`` to a NIR ``LIF``
with tau = DT / (1 - beta), r = 1 / (1 - beta), v_leak = 0, v_reset = 0; the export does not
record the reset rule, which is why the model is trained with the zero reset that NIR's
``v_reset = 0`` describes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

from neurocc.models.digits.data import DT, INPUT_SHAPE, NUM_CLASSES

CHANNELS = 8
HIDDEN = 64
BETA = 0.875
THRESHOLD = 1.0
SURROGATE_SLOPE = 25.0


def _leaky(shape: tuple[int, ...], beta: torch.Tensor | float = BETA,
           threshold: torch.Tensor | float = THRESHOLD, output: bool = False) -> snn.Leaky:
    """A zero-reset ``Leaky`` with fixed per-neuron beta and threshold of ``shape``."""
    beta_t = torch.as_tensor(beta, dtype=torch.float32).expand(shape).clone()
    thr_t = torch.as_tensor(threshold, dtype=torch.float32).expand(shape).clone()
    return snn.Leaky(
        beta=beta_t,
        threshold=thr_t,
        spike_grad=surrogate.fast_sigmoid(slope=SURROGATE_SLOPE),
        init_hidden=True,
        learn_beta=False,
        learn_threshold=False,
        reset_mechanism="zero",
        output=output,
    )


def build(channels: int = CHANNELS, hidden: int = HIDDEN) -> nn.Sequential:
    """The untrained digits network (weights drawn from torch's global generator)."""
    _, height, width = INPUT_SHAPE
    pooled = channels * (height // 2) * (width // 2)
    return nn.Sequential(
        nn.Conv2d(INPUT_SHAPE[0], channels, 3, padding=1),
        _leaky((channels, height, width)),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(pooled, hidden),
        _leaky((hidden,)),
        nn.Linear(hidden, NUM_CLASSES),
        _leaky((NUM_CLASSES,), output=True),
    )


def reset_state(net: nn.Module) -> None:
    """Zero the membrane of every ``Leaky`` in ``net`` and drop its batch shape."""
    for module in net.modules():
        if isinstance(module, snn.Leaky):
            module.mem = torch.zeros(0, device=module.mem.device)


def run(net: nn.Sequential, spikes: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Simulate ``net`` from zero state on a batch of spike trains.

    Args:
        net: a network as returned by :func:`build` or :func:`build_from_nir`.
        spikes: ``(T, N, 1, 8, 8)`` input spikes (any float or integer dtype).

    Returns:
        out: ``(T, N, 10)`` output spikes (float, differentiable through the surrogate).
        per_layer: for each ``Leaky`` in order, ``(N,)`` spikes of that layer summed over
            its neurons and all T steps (float, differentiable).
    """
    reset_state(net)
    totals: list = [0.0] * sum(isinstance(m, snn.Leaky) for m in net)
    out = []
    for x in spikes.float():
        layer = 0
        for module in net:
            x = module(x)
            if isinstance(x, tuple):  # the output Leaky returns (spk, mem)
                x = x[0]
            if isinstance(module, snn.Leaky):
                totals[layer] = totals[layer] + x.flatten(1).sum(1)
                layer += 1
        out.append(x)
    return torch.stack(out), totals


# ---------------------------------------------------------------- NIR -> snnTorch


class NIRImportError(ValueError):
    """The NIR graph is not one this module can rebuild as a digits network."""


def _conv2d(node: nir.Conv2d, dt: float) -> nn.Module:
    weight = np.asarray(node.weight, dtype=np.float32)
    cout, cin, kh, kw = weight.shape
    if isinstance(node.padding, str):
        raise NIRImportError(f"Conv2d padding {node.padding!r} unsupported; need integers")
    conv = nn.Conv2d(cin, cout, (kh, kw), stride=tuple(node.stride),
                     padding=tuple(node.padding), dilation=tuple(node.dilation),
                     groups=int(node.groups), bias=True)
    conv.weight.data = torch.from_numpy(weight.copy())
    conv.bias.data = torch.from_numpy(np.asarray(node.bias, dtype=np.float32).copy())
    return conv


def _avgpool2d(node: nir.AvgPool2d, dt: float) -> nn.Module:
    if np.any(np.asarray(node.padding) != 0):
        raise NIRImportError(f"AvgPool2d padding {node.padding} unsupported; need 0")
    # Files store a square kernel as a scalar; torch wants two values for 2-D pooling.
    kernel = tuple(int(k) for k in np.broadcast_to(node.kernel_size, (2,)))
    stride = tuple(int(s) for s in np.broadcast_to(node.stride, (2,)))
    return nn.AvgPool2d(kernel, stride)


def _flatten(node: nir.Flatten, dt: float) -> nn.Module:
    # NIR indices exclude the batch dimension; torch's include it.
    start = node.start_dim + 1 if node.start_dim >= 0 else node.start_dim
    end = node.end_dim + 1 if node.end_dim >= 0 else node.end_dim
    return nn.Flatten(start, end)


def _affine(node: nir.Affine, dt: float) -> nn.Module:
    weight = np.asarray(node.weight, dtype=np.float32)
    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=True)
    linear.weight.data = torch.from_numpy(weight.copy())
    linear.bias.data = torch.from_numpy(np.asarray(node.bias, dtype=np.float32).copy())
    return linear


def _linear(node: nir.Linear, dt: float) -> nn.Module:
    weight = np.asarray(node.weight, dtype=np.float32)
    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    linear.weight.data = torch.from_numpy(weight.copy())
    return linear


def _lif(node: nir.LIF, dt: float) -> nn.Module:
    """Invert snnTorch's export: beta = 1 - dt / tau; requires r = tau / dt, v_leak = 0."""
    tau = np.asarray(node.tau, dtype=np.float64)
    r = np.asarray(node.r, dtype=np.float64)
    if np.any(np.asarray(node.v_leak) != 0):
        raise NIRImportError("LIF with v_leak != 0 has no snn.Leaky equivalent")
    if node.v_reset is not None and np.any(np.asarray(node.v_reset) != 0):
        raise NIRImportError("LIF with v_reset != 0 has no zero-reset snn.Leaky equivalent")
    if not np.allclose(r * dt, tau, rtol=1e-5):
        raise NIRImportError(f"LIF input gain r*dt/tau != 1 (dt={dt}); not an snn.Leaky")
    beta = (1.0 - dt / tau).astype(np.float32)
    threshold = np.asarray(node.v_threshold, dtype=np.float32)
    return _leaky(beta.shape, torch.from_numpy(beta), torch.from_numpy(threshold))


_FROM_NIR: dict[type, Callable[[nir.NIRNode, float], nn.Module]] = {
    nir.Conv2d: _conv2d,
    nir.AvgPool2d: _avgpool2d,
    nir.Flatten: _flatten,
    nir.Affine: _affine,
    nir.Linear: _linear,
    nir.LIF: _lif,
}


def chain(graph: nir.NIRGraph) -> list[str]:
    """Node names of a feed-forward chain graph from its ``Input`` to its ``Output``.

    Follows ``graph.edges``; never relies on the order of ``graph.nodes`` (read back
    alphabetically from files).
    """
    inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise NIRImportError(f"expected one Input node, found {len(inputs)}")
    successors: dict[str, list[str]] = {}
    for src, dst in graph.edges:
        successors.setdefault(src, []).append(dst)
    order = [inputs[0]]
    while not isinstance(graph.nodes[order[-1]], nir.Output):
        nxt = successors.get(order[-1], [])
        if len(nxt) != 1:
            raise NIRImportError(f"node {order[-1]!r} has {len(nxt)} successors; need a chain")
        if nxt[0] in order:
            raise NIRImportError(f"cycle through node {nxt[0]!r}; recurrence unsupported")
        order.append(nxt[0])
    return order


def build_from_nir(graph: nir.NIRGraph | str | Path, dt: float = DT) -> nn.Sequential:
    """Rebuild the snnTorch network from a NIR graph (or the path of a ``.nir`` file).

    Weights, biases, beta (= 1 - dt / tau) and thresholds are copied from the NIR nodes;
    every LIF becomes a zero-reset ``snn.Leaky``, the last one with ``output=True``.
    ``dt`` (seconds per step) is not stored in NIR and must match the export (1e-4).
    """
    if not isinstance(graph, nir.NIRGraph):
        graph = nir.read(str(graph))
    layers = []
    for name in chain(graph)[1:-1]:
        node = graph.nodes[name]
        make = _FROM_NIR.get(type(node))
        if make is None:
            raise NIRImportError(f"NIR node {name!r}: type {type(node).__name__} unsupported")
        layers.append(make(node, dt))
    if not layers or not isinstance(layers[-1], snn.Leaky):
        raise NIRImportError("the graph must end in a LIF layer")
    layers[-1].output = True
    return nn.Sequential(*layers)
