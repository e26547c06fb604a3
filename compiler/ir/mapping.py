"""The mapping of a network onto cores and chips: the outputs of partition, place and route.

- ``Partitioning``: every group cut into core-sized slices (``compiler/passes/partition.py``);
- ``Placement``: the core of every slice (``compiler/passes/place.py``);
- ``Routes``: where every source's spikes go and at what cost (``compiler/passes/route.py``).

Resources (synapses, memory, axons) are counted as ``compiler/resources.py`` defines them;
mesh geometry is ``compiler/mesh.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:   # the mapping types only hold these; resources.py imports the IR
    from neurocc.compiler.mesh import LinkMesh
    from neurocc.compiler.resources import FanIn, SliceSources, SourceIndex


@dataclass(frozen=True, eq=False)
class Partitioning:
    """The slices ``(group, start, stop)`` (rows of an ``(n_slices, 3)`` int64 array, by group
    then start), the distinct sources each listens to, and which limit ended each slice."""

    slices: np.ndarray
    sources: SliceSources
    index: SourceIndex
    limited_by: tuple[str, ...]
    fan: list[FanIn]
    group_names: tuple[str, ...]
    group_nodes: tuple[str, ...]

    def layer_stats(self) -> dict:
        """Per layer: cores used and how many slices each limit ended."""
        out = {n: {"cores": 0, "limited_by": {}} for n in self.group_names}
        for (g, _, _), why in zip(self.slices, self.limited_by):
            d = out[self.group_names[int(g)]]
            d["cores"] += 1
            d["limited_by"][why] = d["limited_by"].get(why, 0) + 1
        return out


@dataclass(frozen=True, eq=False)
class Placement:
    """Where every neuron lives.

    ``slices`` rows are ``(group index, start, stop, core)``: neurons ``start:stop`` of a group
    sit on global core ``core``; a group's slices are contiguous and in order. Global core
    ``c`` is on chip ``c // cores_per_chip``. ``strategy`` names how it was chosen.
    """

    slices: np.ndarray
    strategy: str = "in-order"
    stats: dict = field(default_factory=dict)

    def group_slices(self, gi: int) -> np.ndarray:
        return self.slices[self.slices[:, 0] == gi]

    @property
    def cores_used(self) -> np.ndarray:
        return np.unique(self.slices[:, 3])


@dataclass(frozen=True, eq=False)
class Routes:
    """Routing of every source (group name or ``INPUT``). Per source, arrays of shape
    ``(n_src,)``, for one spike of that neuron: ``msgs`` messages (= output axons),
    ``hops_ew`` / ``hops_ns`` tile hops and ``chips`` chip crossings summed over its
    messages, ``fanout`` synapses driven, ``longest_s`` latency of its longest route (s).

    ``pair_src`` (global source id) and ``pair_core`` list every (source, destination core)
    pair once; ``src_core`` is the core of every global source; ``link_load`` the messages
    per link if every source spikes once (a static traffic estimate)."""

    index: SourceIndex
    msgs: dict
    hops_ew: dict
    hops_ns: dict
    chips: dict
    fanout: dict
    longest_s: dict
    pair_src: np.ndarray
    pair_core: np.ndarray
    src_core: np.ndarray
    mesh: LinkMesh
    link_load: np.ndarray

    def pairs_of(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(source neuron index within ``name``, destination core)`` of its pairs."""
        off = self.index.offset(name)
        n = self.index.sizes[self.index.names.index(name)]
        m = (self.pair_src >= off) & (self.pair_src < off + n)
        return self.pair_src[m] - off, self.pair_core[m]

    def busiest_link(self) -> dict | None:
        if not len(self.link_load) or self.link_load.max() <= 0:
            return None
        k = int(np.argmax(self.link_load))
        return {**self.mesh.describe(k), "messages": float(self.link_load[k])}

    def totals(self) -> dict:
        """Messages, hops and crossings if every source neuron spikes once."""
        s = {k: float(sum(v.sum() for v in getattr(self, k).values()))
             for k in ("msgs", "hops_ew", "hops_ns", "chips")}
        return {"messages": s["msgs"], "hops_ew": s["hops_ew"], "hops_ns": s["hops_ns"],
                "chip_crossings": s["chips"], "busiest_link": self.busiest_link()}
