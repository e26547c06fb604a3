"""Place: assign every slice a core so that spike traffic × distance is low.

Traffic is estimated without running the network: slice ``i`` sends slice ``j`` one message
per spike of every source neuron of ``i`` that has synapses on ``j`` (``w_ij`` = the number
of such neurons, as if every neuron spiked once); input channels send from
``mesh.input_core``. The distance between two cores is the routing energy of one message,
``hops_ew·E_ew + hops_ns·E_ns + crossings·E_chip`` from the config, as integers so that every
comparison is exact and the result is the same on every machine. The objective is

    Σ_{i,j} w_ij · d(core_i, core_j) + Σ_j w_in,j · d(input_core, core_j).

Strategies:

- ``in-order``: slice ``k`` on core ``k``, chip-major (the naive baseline);
- ``greedy``: use the fewest chips (chosen compactly around the input core's chip); then
  repeatedly take the unplaced slice with the most traffic to the placed ones (ties: lowest
  index) and put it on the free core that costs least (ties: lowest core);
- ``greedy+swap`` (default): greedy, then local search: for every slice in turn, the best
  swap with another slice or move to a free core, taken when it lowers the objective; passes
  repeat until a pass gains less than 0.1 %, ``max_passes`` is reached, or ``REFINE_WORK``
  cost entries were updated (only very densely connected partitions get there).

No randomness is involved: the same partition always gives the same placement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neurocc.api.errors import NeuroccError, ResourceError
from neurocc.compiler.ir.mapping import Partitioning, Placement
from neurocc.compiler.mesh import path_counts
from neurocc.compiler.passes.base import CompileState, Pass
from neurocc.compiler.passes.partition import capacity_violation
from neurocc.hw_configs import HardwareSpec

STRATEGIES = ("in-order", "greedy", "greedy+swap")
COST_RESOLUTION = 1000
"""Integer cost units per the cheapest nonzero routing event (exactness, not hardware)."""
REFINE_WORK = 1 << 29
"""Most cost-matrix entries the local search may update (a few seconds on one core); it
stops early on very densely connected partitions. A count, not a clock: deterministic."""


@dataclass(frozen=True, eq=False)
class TrafficGraph:
    """Estimated messages between slices: directed edges ``src → dst`` with ``w`` messages
    (self edges included), and ``host[j]`` messages from the input channels into slice j."""

    src: np.ndarray
    dst: np.ndarray
    w: np.ndarray
    host: np.ndarray

    @classmethod
    def build(cls, part: Partitioning) -> TrafficGraph:
        n = len(part.slices)
        index = part.index
        ids = part.sources.ids
        dst = part.sources.slice_ids()
        n_in = index.sizes[0]
        inp = ids < n_in
        host = np.bincount(dst[inp], minlength=n).astype(np.int64)
        starts = index.offsets[part.slices[:, 0] + 1] + part.slices[:, 1]
        s = np.searchsorted(starts, ids[~inp], "right") - 1
        key, w = np.unique(s * n + dst[~inp], return_counts=True)
        i, j = np.divmod(key, n)
        return cls(i, j, w.astype(np.int64), host)

    def undirected(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Edges ``(i < j, weight)`` with both directions summed; self edges dropped."""
        m = self.src != self.dst
        lo, hi = np.minimum(self.src[m], self.dst[m]), np.maximum(self.src[m], self.dst[m])
        n = int(max(self.src.max(initial=0), self.dst.max(initial=0))) + 1
        key, inv = np.unique(lo * n + hi, return_inverse=True)
        w = np.bincount(inv, self.w[m], len(key)).astype(np.int64)
        i, j = np.divmod(key, n)
        return i, j, w


def cost_weights(hw: HardwareSpec, graph: TrafficGraph | None = None) -> tuple[int, int, int]:
    """Integer costs of an east-west hop, a north-south hop and a chip crossing,
    proportional to their energies (all 1 when the config gives no routing energy). The
    resolution is lowered, if needed, so that any total cost of ``graph`` stays below 2^52
    (exact in float64)."""
    e = hw.energy
    vals = (e.hop_ew_j, e.hop_ns_j, e.chip_crossing_j)
    pos = [v for v in vals if v > 0]
    if not pos:
        return 1, 1, 1
    m = hw.mesh
    longest = (m.chip_mesh[0] * m.tile_mesh[0] + m.chip_mesh[1] * m.tile_mesh[1])
    traffic = 1 if graph is None else int(graph.w.sum() + graph.host.sum()) + 1
    resolution = COST_RESOLUTION
    while resolution > 1 and traffic * longest * resolution * max(vals) / min(pos) >= 2**52:
        resolution //= 10
    return tuple(max(1, round(v / min(pos) * resolution)) if v > 0 else 0 for v in vals)


def traffic_cost(graph: TrafficGraph, cores: np.ndarray, hw: HardwareSpec) -> dict:
    """Estimated messages, hops, crossings and routing energy for one spike of every neuron."""
    a = np.concatenate([cores[graph.src], np.full(len(graph.host), hw.mesh.input_core)])
    b = np.concatenate([cores[graph.dst], cores])
    w = np.concatenate([graph.w, graph.host])
    ew, ns, cr = path_counts(a, b, hw)
    t = {"messages": int(w.sum()), "hops_ew": int(w @ ew), "hops_ns": int(w @ ns),
         "chip_crossings": int(w @ cr)}
    t["hops"] = t["hops_ew"] + t["hops_ns"]
    e = hw.energy
    t["routing_energy_j"] = (t["hops_ew"] * e.hop_ew_j + t["hops_ns"] * e.hop_ns_j
                             + t["chip_crossings"] * e.chip_crossing_j)
    return t


def choose_chips(k: int, hw: HardwareSpec) -> list[int]:
    """``k`` chips packed around the input core's chip (Manhattan distance in the chip
    mesh; ties: lowest chip)."""
    m = hw.mesh
    cy, cx = np.divmod(np.arange(m.chips_per_system), m.chip_mesh[0])
    chosen = [m.input_core // m.cores_per_chip]
    dist = np.zeros(m.chips_per_system, dtype=np.int64)
    while len(chosen) < k:
        c = chosen[-1]
        dist += np.abs(cx - cx[c]) + np.abs(cy - cy[c])
        d = dist.copy()
        d[chosen] = np.iinfo(np.int64).max
        chosen.append(int(np.argmin(d)))
    return sorted(chosen)


class _Search:
    """Greedy construction and swap/move refinement over the tiles of the chosen chips.

    The cores of one tile cost the same (they share a router), so the search places slices
    on tiles with ``capacity`` free cores each. ``C[m, t]`` is what slice ``m`` would pay (to
    its placed neighbours and the host) on tile ``t``; it is updated incrementally as slices
    move. Costs are integers held in float64: every sum stays below 2^53, so the arithmetic
    is exact and its order cannot change a decision."""

    def __init__(self, graph: TrafficGraph, n: int, tiles: np.ndarray, hw: HardwareSpec):
        m = hw.mesh
        first = tiles * m.cores_per_tile                          # a core of every tile
        wew, wns, wcr = cost_weights(hw, graph)
        self.D = np.empty((len(first), len(first)))                # (n_t, n_t)
        rows = max(1, (1 << 22) // max(len(first), 1))    # a block of rows at a time
        for r in range(0, len(first), rows):
            ew, ns, cr = path_counts(first[r:r + rows, None], first[None, :], hw)
            self.D[r:r + rows] = ew * wew + ns * wns + cr * wcr
        hew, hns, hcr = path_counts(m.input_core, first, hw)
        self.C = graph.host[:, None] * (hew * wew + hns * wns + hcr * wcr)[None, :] \
            .astype(np.float64)
        i, j, w = graph.undirected()
        s = np.concatenate([i, j])
        t = np.concatenate([j, i])
        ww = np.concatenate([w, w]).astype(np.float64)
        order = np.lexsort((t, s))                 # neighbour lists in index order
        self.nb_ptr = np.concatenate([[0], np.cumsum(np.bincount(s, minlength=n))])
        self.nb, self.nbw = t[order], ww[order]
        self.n = n
        self.pos = np.full(n, -1, dtype=np.int64)
        self.free = np.full(len(tiles), m.cores_per_tile, dtype=np.int64)
        self.host = graph.host

    def nbrs(self, i: int):
        a, b = self.nb_ptr[i], self.nb_ptr[i + 1]
        return self.nb[a:b], self.nbw[a:b]

    def _shift(self, i: int, old: int, new: int) -> None:
        """Slice ``i`` moved from tile ``old`` (−1: unplaced) to ``new``."""
        nb, w = self.nbrs(i)
        if len(nb):
            delta = (self.D[new] - self.D[old]) if old >= 0 else self.D[new]
            self.C[nb] += np.outer(w, delta)

    def greedy(self) -> None:
        attach = self.host.astype(np.float64)
        placed = np.zeros(self.n, dtype=bool)
        for _ in range(self.n):
            i = int(np.argmax(np.where(placed, -1.0, attach)))
            k = int(np.argmin(np.where(self.free > 0, self.C[i], np.inf)))
            self.pos[i], placed[i] = k, True
            self.free[k] -= 1
            self._shift(i, -1, k)
            nb, w = self.nbrs(i)
            attach[nb] += w

    def total(self) -> float:
        """The objective (each edge appears in the costs of both its ends)."""
        cur = self.C[np.arange(self.n), self.pos]
        s = np.repeat(np.arange(self.n), np.diff(self.nb_ptr))
        nb = np.bincount(s, self.nbw * self.D[self.pos[s], self.pos[self.nb]], self.n)
        return float(nb.sum() / 2 + (cur - nb).sum())

    def refine(self, max_passes: int) -> dict:
        n = self.n
        rows = np.arange(n)
        passes = moves = swaps = work = 0
        stopped = "max_passes"
        n_t = self.C.shape[1]
        deg = np.diff(self.nb_ptr)
        cur = self.C[rows, self.pos]                 # what every slice pays where it is

        def settle(i):   # cur of i and its neighbours after i moved
            nb, _ = self.nbrs(i)
            cur[nb] = self.C[nb, self.pos[nb]]
            cur[i] = self.C[i, self.pos[i]]

        for _ in range(max_passes):
            before = self.total()
            passes += 1
            for i in range(n):
                if work > REFINE_WORK:
                    break
                p = int(self.pos[i])
                # swap i ↔ j: each pays at the other's tile; an edge i–j keeps its length
                delta = self.C[i, self.pos] - cur[i] + self.C[:, p] - cur
                nb, w = self.nbrs(i)
                delta[nb] += 2 * w * self.D[p, self.pos[nb]]
                delta[i] = 0
                j = int(np.argmin(delta))
                best, move_to = delta[j], -1
                md = np.where(self.free > 0, self.C[i] - cur[i], np.inf)
                k = int(np.argmin(md))
                if md[k] < best:
                    best, move_to = md[k], k
                if best >= 0:
                    continue
                if move_to >= 0:
                    self.free[p] += 1
                    self.free[move_to] -= 1
                    self.pos[i] = move_to
                    self._shift(i, p, move_to)
                    settle(i)
                    moves += 1
                    work += int(deg[i]) * n_t
                else:
                    q = int(self.pos[j])
                    self.pos[i], self.pos[j] = q, p
                    self._shift(i, p, q)
                    self._shift(j, q, p)
                    settle(i)
                    settle(j)
                    swaps += 1
                    work += int(deg[i] + deg[j]) * n_t
            if work > REFINE_WORK:
                stopped = "work limit"
                break
            gain = before - self.total()
            if gain * COST_RESOLUTION <= before:   # < 0.1 % better: stop
                stopped = "converged"
                break
        return {"passes": passes, "moves": moves, "swaps": swaps, "stopped": stopped}

    def cores(self, tiles: np.ndarray, cores_per_tile: int) -> np.ndarray:
        """Global cores: a tile's slices take its cores in slice order."""
        order = np.lexsort((np.arange(self.n), self.pos))
        rank = np.empty(self.n, dtype=np.int64)
        sorted_pos = self.pos[order]
        starts = np.searchsorted(sorted_pos, sorted_pos, "left")
        rank[order] = np.arange(self.n) - starts
        return tiles[self.pos] * cores_per_tile + rank


@dataclass(frozen=True)
class Place(Pass):
    """The place pass: a core for every slice (``state.placement``)."""

    hw: HardwareSpec
    strategy: str = "greedy+swap"
    max_passes: int = 20
    name: ClassVar[str] = "place"

    def run(self, state: CompileState) -> CompileState:
        return state.with_(placement=self.place(state.partition))

    def place(self, part: Partitioning) -> Placement:
        """The placement of ``part`` (the pass's work, callable alone)."""
        if self.strategy not in STRATEGIES:
            raise NeuroccError(f"placement strategy '{self.strategy}' unknown; use one of "
                               f"{', '.join(STRATEGIES)}")
        hw, m = self.hw, self.hw.mesh
        n = len(part.slices)
        if n > m.n_cores:
            raise ResourceError(capacity_violation(part, hw))
        graph = TrafficGraph.build(part)
        in_order = np.arange(n, dtype=np.int64)
        search = {}
        if self.strategy == "in-order" or n == 0:
            cores = in_order
        else:
            chips = choose_chips(-(-n // m.cores_per_chip), hw)
            tiles = (np.array(chips)[:, None] * m.tiles_per_chip
                     + np.arange(m.tiles_per_chip)[None, :]).ravel()
            s = _Search(graph, n, tiles, hw)
            s.greedy()
            if self.strategy == "greedy+swap":
                search = s.refine(self.max_passes)
            cores = s.cores(tiles, m.cores_per_tile)
        stats = {"estimate": "messages if every source neuron spikes once",
                 "layers": part.layer_stats(),
                 "traffic": traffic_cost(graph, cores, hw),
                 "in_order_traffic": traffic_cost(graph, in_order, hw), **search}
        base = stats["in_order_traffic"]
        stats["hops_reduction_vs_in_order"] = _reduction(stats["traffic"]["hops"] +
                                                         stats["traffic"]["chip_crossings"],
                                                         base["hops"] + base["chip_crossings"])
        stats["routing_energy_reduction_vs_in_order"] = _reduction(
            stats["traffic"]["routing_energy_j"], base["routing_energy_j"])
        slices = np.column_stack([part.slices, cores]).astype(np.int64).reshape(-1, 4)
        return Placement(slices, self.strategy, stats)


def _reduction(new: float, old: float) -> float:
    return 0.0 if old == 0 else round(1.0 - new / old, 6)
