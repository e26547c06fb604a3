"""Route: deterministic dimension-order routing over the tiles of all chips
(geometry in ``compiler/mesh.py``).

A spike of a source neuron sends one message to every core it has synapses on (its output
axons); messages to its own core or its own tile make no hops. Input channels send from
``mesh.input_core``. Link loads count messages per directed link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neurocc.compiler.ir.mapping import Routes
from neurocc.compiler.mesh import LinkMesh, path_counts
from neurocc.compiler.passes.base import CompileState, Pass
from neurocc.compiler.resources import SliceSources, SourceIndex, fanins, fanout, slice_sources
from neurocc.hw_configs import HardwareSpec


def source_cores(index: SourceIndex, slices_cores: np.ndarray, hw: HardwareSpec) -> np.ndarray:
    """Core of every global source; input channels sit at ``mesh.input_core``."""
    out = np.full(index.total, hw.mesh.input_core, dtype=np.int64)
    off = index.offsets
    for g, a, b, c in slices_cores:
        out[off[g + 1] + a:off[g + 1] + b] = c
    return out


PAIRS_AT_ONCE = 1 << 22
"""(source, core) pairs routed at once (working memory, not a limit): at a billion synapses
the per-pair temporaries of one pass over all 18 M pairs took 2.7 GB."""


def build_routes(index: SourceIndex, sources: SliceSources, slices_cores: np.ndarray,
                 hw: HardwareSpec, fan_out: np.ndarray) -> Routes:
    """Routes from the distinct sources of every slice and the slice's core."""
    src_core = source_cores(index, slices_cores, hw)
    pair_src = sources.ids
    pair_core = np.repeat(slices_cores[:, 3], sources.counts)
    lat = hw.latency
    total = index.total
    mesh = LinkMesh(hw)
    longest = np.zeros(total)
    hops = [np.zeros(total) for _ in range(3)]           # east-west, north-south, chips
    link_load = np.zeros(mesh.n_links)
    # Every sum is of whole numbers below 2^53, so summing by chunks changes no bit.
    for s in range(0, len(pair_src), PAIRS_AT_ONCE):
        src, core = pair_src[s:s + PAIRS_AT_ONCE], pair_core[s:s + PAIRS_AT_ONCE]
        a = src_core[src]
        counts = path_counts(a, core, hw)
        ew, ns, cr = counts
        np.maximum.at(longest, src, ew * lat.hop_ew_s + ns * lat.hop_ns_s
                      + cr * lat.chip_crossing_s)
        for h, c in zip(hops, counts):
            h += np.bincount(src, c, total)
        link_load += mesh.loads(a, core, np.ones(len(src)))
    split = index.split
    return Routes(
        index=index,
        msgs=split(np.bincount(pair_src, minlength=total).astype(np.float64)),
        hops_ew=split(hops[0]), hops_ns=split(hops[1]), chips=split(hops[2]),
        fanout=split(fan_out.astype(np.float64)), longest_s=split(longest),
        pair_src=pair_src, pair_core=pair_core, src_core=src_core, mesh=mesh,
        link_load=link_load)


@dataclass(frozen=True)
class Route(Pass):
    """The route pass: routes of the partitioned, placed network."""

    hw: HardwareSpec
    name: ClassVar[str] = "route"

    def run(self, state: CompileState) -> CompileState:
        part, low = state.partition, state.lowered
        return state.with_(routes=build_routes(part.index, part.sources, state.placement.slices,
                                               self.hw, fanout(low.projections, part.index)))


def route(groups, projections, placement, hw: HardwareSpec, n_inputs: int) -> Routes:
    """Routes of a compiled program (recomputes each slice's sources from its synapses)."""
    index = SourceIndex.build(groups, n_inputs)
    fan = fanins(groups, projections, index, hw)
    src = slice_sources(fan, placement.slices)
    return build_routes(index, src, placement.slices, hw, fanout(projections, index))
