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


def build_routes(index: SourceIndex, sources: SliceSources, slices_cores: np.ndarray,
                 hw: HardwareSpec, fan_out: np.ndarray) -> Routes:
    """Routes from the distinct sources of every slice and the slice's core."""
    src_core = source_cores(index, slices_cores, hw)
    pair_src = sources.ids
    pair_core = np.repeat(slices_cores[:, 3], sources.counts)
    a = src_core[pair_src]
    ew, ns, cr = path_counts(a, pair_core, hw)
    lat = hw.latency
    t = ew * lat.hop_ew_s + ns * lat.hop_ns_s + cr * lat.chip_crossing_s
    total = index.total
    longest = np.zeros(total)
    np.maximum.at(longest, pair_src, t)
    split = index.split
    mesh = LinkMesh(hw)
    return Routes(
        index=index,
        msgs=split(np.bincount(pair_src, minlength=total).astype(np.float64)),
        hops_ew=split(np.bincount(pair_src, ew, total)),
        hops_ns=split(np.bincount(pair_src, ns, total)),
        chips=split(np.bincount(pair_src, cr, total)),
        fanout=split(fan_out.astype(np.float64)), longest_s=split(longest),
        pair_src=pair_src, pair_core=pair_core, src_core=src_core, mesh=mesh,
        link_load=mesh.loads(a, pair_core, np.ones(len(pair_src))))


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
