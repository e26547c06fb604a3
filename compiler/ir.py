"""The compiler's intermediate representation: neuron groups joined by projections.

The IR is what the NIR frontend produces and what the passes transform. It is still
continuous-time (time constants in seconds); ``discretize`` turns it into per-step factors
and ``quantize`` into the fixed-point numbers of the target.

All state arrays are flat: a group of shape ``(C, H, W)`` has ``n = C*H*W`` neurons in
C (row-major) order, the order PyTorch's ``flatten`` uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

INPUT = "<input>"
"""Source name of projections that are driven by the network's input."""

NEURON_KINDS = ("lif", "cubalif", "if", "li", "cubali")


@dataclass(frozen=True, eq=False)
class NeuronGroup:
    """A population of neurons from one NIR neuron node.

    Continuous-time dynamics (NIR's definitions), with ``I_in`` the summed input current::

        tau_syn dI/dt = -I + w_in * I_in           (cubalif, cubali; otherwise I = I_in)
        tau_mem dv/dt = v_leak - v + r * I          (lif, cubalif, li, cubali)
              dv/dt = r * I                         (if)
        spike when v > v_threshold; then v <- 0 (reset "zero") or v <- v - v_threshold
        (reset "subtract", applied one step later like snnTorch's default)

    ``li`` and ``cubali`` never spike: their membrane ``v`` is their output.
    Every parameter is an array of shape ``(n,)``; ``tau_*`` in seconds (``inf``: no leak).
    ``bias`` is a constant input current (from Affine biases), added to ``I_in``.
    """

    name: str
    nir_node: str
    kind: str
    shape: tuple[int, ...]
    tau_mem: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    v_threshold: np.ndarray
    bias: np.ndarray
    tau_syn: np.ndarray | None = None
    w_in: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))

    @property
    def spiking(self) -> bool:
        return self.kind in ("lif", "cubalif", "if")

    @property
    def has_current(self) -> bool:
        return self.kind in ("cubalif", "cubali")


@dataclass(frozen=True, eq=False)
class Dense:
    """Dense weights ``(n_post, n_pre)``: ``I_post = weight @ x_pre``."""

    weight: np.ndarray

    kind = "dense"

    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape

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

    kind = "sparse"

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.indptr) - 1, self.n_pre)

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

    kind = "conv"

    @property
    def shape(self) -> tuple[int, int]:
        return (int(np.prod(self.out_shape)), int(np.prod(self.in_shape)))

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


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from ``src`` (a group name or ``INPUT``) to group ``dst``.

    On the chip every projection is one hop and delays its signal by exactly one time step.
    ``nir_nodes`` names the NIR nodes (Affine, Conv2d, pooling, ...) fused into it.
    """

    name: str
    src: str
    dst: str
    conn: Connectivity
    nir_nodes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Network:
    """A whole network: groups, projections, the input shape and the output groups.

    ``outputs`` lists the groups whose spikes (or membrane, for ``li``) are the network's
    output, in the order of the NIR ``Output`` nodes (sorted by name).
    """

    input_shape: tuple[int, ...]
    groups: tuple[NeuronGroup, ...]
    projections: tuple[Projection, ...]
    outputs: tuple[str, ...]
    input_name: str = "input"
    meta: dict = field(default_factory=dict)

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.input_shape))

    def group(self, name: str) -> NeuronGroup:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(name)

    def incoming(self, name: str) -> list[Projection]:
        return [p for p in self.projections if p.dst == name]

    def depth(self) -> int:
        """Pipeline depth in time steps: the most projections on any input→output path,
        with each recurrent loop counted zero times."""
        return longest_path(self)


def back_edges(net: Network) -> set[str]:
    """Names of the projections that close a recurrent loop (found by depth-first search
    from the input, then from any group it does not reach, in declaration order)."""
    succ: dict[str, list[Projection]] = {}
    for p in net.projections:
        succ.setdefault(p.src, []).append(p)
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    back: set[str] = set()
    for root in [INPUT] + [g.name for g in net.groups]:
        if state.get(root):
            continue
        stack = [(root, iter(succ.get(root, [])))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            p = next(it, None)
            if p is None:
                state[node] = 2
                stack.pop()
            elif state.get(p.dst) == 1:
                back.add(p.name)
            elif not state.get(p.dst):
                state[p.dst] = 1
                stack.append((p.dst, iter(succ.get(p.dst, []))))
    return back


def topo_order(net: Network) -> list[str]:
    """Group names in topological order of the forward (non-back) edges."""
    back = back_edges(net)
    fwd = [p for p in net.projections if p.name not in back and p.src != INPUT]
    indeg = {g.name: 0 for g in net.groups}
    for p in fwd:
        indeg[p.dst] += 1
    ready = [g.name for g in net.groups if indeg[g.name] == 0]
    order = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for p in fwd:
            if p.src == name:
                indeg[p.dst] -= 1
                if indeg[p.dst] == 0:
                    ready.append(p.dst)
    return order


def hop_depths(net: Network) -> dict[str, int]:
    """Most hops from the input to each group through forward edges (its pipeline delay)."""
    back = back_edges(net)
    dist: dict[str, int] = {}
    for name in topo_order(net):
        for p in net.incoming(name):
            if p.name in back:
                continue
            d = 1 if p.src == INPUT else (dist[p.src] + 1 if p.src in dist else None)
            if d is not None:
                dist[name] = max(dist.get(name, 0), d)
    return dist


def longest_path(net: Network) -> int:
    """Most hops on any input→output path through forward edges."""
    dist = hop_depths(net)
    return max((dist.get(o, 0) for o in net.outputs), default=0)
