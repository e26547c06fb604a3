"""The network graph: neuron groups (``compiler.ir.neurons``) joined by projections.

The IR is what the NIR frontend produces and what the passes transform. It is still
continuous-time (time constants in seconds); ``discretize`` turns it into per-step factors
and a target's lowering pass into the target's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from neurocc.compiler.ir.connectivity import Connectivity
from neurocc.compiler.ir.delays import Delays
from neurocc.compiler.ir.neurons import Neurons

INPUT = "<input>"
"""Source name of projections that are driven by the network's input."""


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from ``src`` (a group name or ``INPUT``) to group ``dst``.

    On the chip every projection is one hop and delays its signal by exactly one time step,
    plus its synaptic ``delay`` where NIR Delay nodes gave it one (``ir/delays.py``; None: no
    delay). ``nir_nodes`` names the NIR nodes (Affine, Conv2d, pooling, ...) fused into it.
    """

    name: str
    src: str
    dst: str
    conn: Connectivity
    nir_nodes: tuple[str, ...] = ()
    delay: Delays | None = None


@dataclass(frozen=True, eq=False)
class Network:
    """A whole network: groups, projections, the input shape and the output groups.

    ``outputs`` lists the groups whose spikes (or membrane, for ``li``) are the network's
    output, in the order of the NIR ``Output`` nodes (sorted by name).
    """

    input_shape: tuple[int, ...]
    groups: tuple[Neurons, ...]
    projections: tuple[Projection, ...]
    outputs: tuple[str, ...]
    input_name: str = "input"
    meta: dict = field(default_factory=dict)

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.input_shape))

    def group(self, name: str) -> Neurons:
        return self._groups[name]

    @cached_property
    def _groups(self) -> dict[str, Neurons]:
        return {g.name: g for g in self.groups}

    def incoming(self, name: str) -> tuple[Projection, ...]:
        """The projections into group ``name``, in declaration order."""
        return self._incoming.get(name, ())

    @cached_property
    def _incoming(self) -> dict[str, tuple[Projection, ...]]:
        return incoming_index(self.projections)

    def depth(self) -> int:
        """Pipeline depth in time steps: the most projections on any input→output path,
        with each recurrent loop counted zero times. Synaptic delays (NIR Delay nodes) are
        not counted: they are the model's own timing, which the outputs keep (aligned to the
        input's time axis, like NIR's), not latency the chip adds."""
        return longest_path(self)


def incoming_index(projections) -> dict[str, tuple]:
    """``{destination group: its incoming projections in order}`` for any projection list."""
    out: dict[str, list] = {}
    for p in projections:
        out.setdefault(p.dst, []).append(p)
    return {k: tuple(v) for k, v in out.items()}


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
