"""Route: deterministic dimension-order routing over the tiles of all chips.

The system is one grid of tiles: chip ``(cx, cy)`` of the ``chip_mesh`` holds tiles
``(cx·TX + tx, cy·TY + ty)`` for its ``tile_mesh`` ``(TX, TY)``; a tile's router serves its
``cores_per_tile`` cores. A message from core ``a`` to core ``b`` travels first along x (on
``a``'s row), then along y (on ``b``'s column). Each step between neighbouring tiles uses one
directed link; a step between tiles of different chips is a **chip crossing** (a
chip-to-chip link), any other step a **hop** (east-west for x, north-south for y). So

    hops_ew = |Δx| − |Δcx|,  hops_ns = |Δy| − |Δcy|,  chip crossings = |Δcx| + |Δcy|.

A spike of a source neuron sends one message to every core it has synapses on (its output
axons); messages to its own core or its own tile make no hops. Input channels send from
``mesh.input_core``. Link loads count messages per directed link; links are numbered
``direction · GX·GY + y · GX + x`` for the link leaving tile ``(x, y)`` in direction
``+x, −x, +y, −y`` (``GX``, ``GY``: tiles in the whole system).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurocc.compiler.ir import INPUT
from neurocc.compiler.resources import (SliceSources, SourceIndex, fanins, fanout,
                                        slice_sources)
from neurocc.hw_configs import HardwareSpec

DIRECTIONS = ("+x", "-x", "+y", "-y")


def core_xy(cores, hw: HardwareSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Global tile coordinates ``(x, y)`` and chip coordinates ``(cx, cy)`` of global cores."""
    m = hw.mesh
    cores = np.asarray(cores, dtype=np.int64)
    chip, local = np.divmod(cores, m.cores_per_chip)
    tile = local // m.cores_per_tile
    tx, ty = tile % m.tile_mesh[0], tile // m.tile_mesh[0]
    cx, cy = chip % m.chip_mesh[0], chip // m.chip_mesh[0]
    return cx * m.tile_mesh[0] + tx, cy * m.tile_mesh[1] + ty, cx, cy


def path_counts(a, b, hw: HardwareSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """East-west hops, north-south hops and chip crossings from cores ``a`` to cores ``b``
    (broadcast), under dimension-order routing."""
    xa, ya, cxa, cya = core_xy(a, hw)
    xb, yb, cxb, cyb = core_xy(b, hw)
    dcx, dcy = np.abs(cxb - cxa), np.abs(cyb - cya)
    return np.abs(xb - xa) - dcx, np.abs(yb - ya) - dcy, dcx + dcy


@dataclass(frozen=True, eq=False)
class LinkMesh:
    """The directed links of the system's tile grid and what a message costs on each."""

    hw: HardwareSpec

    @property
    def grid(self) -> tuple[int, int]:
        m = self.hw.mesh
        return m.chip_mesh[0] * m.tile_mesh[0], m.chip_mesh[1] * m.tile_mesh[1]

    @property
    def n_links(self) -> int:
        gx, gy = self.grid
        return 4 * gx * gy

    def is_chip_link(self) -> np.ndarray:
        """``(n_links,)`` True where the link joins two chips."""
        gx, gy = self.grid
        tx, ty = self.hw.mesh.tile_mesh
        x = np.arange(gx)[None, :].repeat(gy, 0)
        y = np.arange(gy)[:, None].repeat(gx, 1)
        out = np.stack([(x + 1) % tx == 0, x % tx == 0, (y + 1) % ty == 0, y % ty == 0])
        exists = np.stack([x < gx - 1, x > 0, y < gy - 1, y > 0])
        return (out & exists).ravel()

    def seconds_per_message(self) -> np.ndarray:
        """``(n_links,)``: time a link is busy per message (its hop or crossing latency)."""
        lat = self.hw.latency
        gx, gy = self.grid
        t = np.repeat([lat.hop_ew_s, lat.hop_ew_s, lat.hop_ns_s, lat.hop_ns_s], gx * gy)
        return np.where(self.is_chip_link(), lat.chip_crossing_s, t)

    def loads(self, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Messages on every link when message ``i`` goes from core ``a[i]`` to ``b[i]``
        ``w[..., i]`` times; ``w`` may have leading batch dimensions → ``(..., n_links)``."""
        gx, gy = self.grid
        w = np.asarray(w, dtype=np.float64)
        lead = w.shape[:-1]
        if w.shape[-1] == 0:
            return np.zeros((*lead, self.n_links))
        w2 = w.reshape(-1, w.shape[-1])
        nb = w2.shape[0]
        xa, ya, _, _ = core_xy(a, self.hw)
        xb, yb, _, _ = core_xy(b, self.hw)
        out = np.zeros((nb, 4, gy, gx))
        # Along x on row ya, then along y on column xb; difference arrays, then prefix sums.
        for d, (line, lo, hi, n_line, length) in enumerate((
                (ya, xa, xb, gy, gx), (ya, xb + 1, xa + 1, gy, gx),
                (xb, ya, yb, gx, gy), (xb, yb + 1, ya + 1, gx, gy))):
            m = (xb > xa, xb < xa, yb > ya, yb < ya)[d]
            if not m.any():
                continue
            size = n_line * (length + 1)
            base = (np.arange(nb) * size)[:, None]
            ww = w2[:, m]
            start = (base + (line[m] * (length + 1) + lo[m])[None, :]).ravel()
            stop = (base + (line[m] * (length + 1) + hi[m])[None, :]).ravel()
            diff = (np.bincount(start, ww.ravel(), nb * size)
                    - np.bincount(stop, ww.ravel(), nb * size))
            acc = np.cumsum(diff.reshape(nb, n_line, length + 1), axis=2)[:, :, :length]
            out[:, d] = acc if d < 2 else acc.transpose(0, 2, 1)
        return out.reshape(*lead, self.n_links)

    def describe(self, link: int) -> dict:
        """Where a link is: its direction, and the chip and tile it leaves and enters."""
        gx, gy = self.grid
        tx, ty = self.hw.mesh.tile_mesh
        d, rest = divmod(int(link), gx * gy)
        y, x = divmod(rest, gx)
        x2, y2 = x + (1, -1, 0, 0)[d], y + (0, 0, 1, -1)[d]

        def at(x, y):
            return {"chip": (y // ty) * self.hw.mesh.chip_mesh[0] + x // tx,
                    "tile": [x % tx, y % ty]}

        return {"link": int(link), "direction": DIRECTIONS[d], "from": at(x, y),
                "to": at(x2, y2), "chip_to_chip": bool(self.is_chip_link()[link])}


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
class Route:
    """The route pass: routes of a partitioned, placed network."""

    hw: HardwareSpec
    name = "route"

    def run(self, part, placement, projections) -> Routes:
        return build_routes(part.index, part.sources, placement.slices, self.hw,
                            fanout(projections, part.index))


def route(groups, projections, placement, hw: HardwareSpec, n_inputs: int) -> Routes:
    """Routes of a compiled program (recomputes each slice's sources from its synapses)."""
    index = SourceIndex.build(groups, n_inputs)
    fan = fanins(groups, projections, index, hw)
    src = slice_sources(fan, placement.slices)
    return build_routes(index, src, placement.slices, hw, fanout(projections, index))


__all__ = ["INPUT", "LinkMesh", "Route", "Routes", "core_xy", "path_counts", "route"]
