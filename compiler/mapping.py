"""Partition, place and route: which core holds which neurons, and what spike traffic costs.

- ``Partition`` cuts every group into contiguous core-sized slices (neurons and synaptic
  memory per core, from the hardware config).
- ``Place`` assigns slices to global core ids, chip-major (``in-order``).
- ``route`` computes, for every source neuron (and every input channel), how many messages a
  spike sends (one per destination core), their tile hops east-west and north-south under
  dimension-order routing, and the chip boundaries they cross.

Global core ``c`` sits on chip ``c // cores_per_chip``, tile ``(c % cores_per_chip) //
cores_per_tile``; tiles are numbered row-major over ``tile_mesh``, chips over ``chip_mesh``.
Input spikes enter at core 0 (an assumption stated in reports: the host link's position).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurocc.compiler.ir import INPUT, Conv, Sparse
from neurocc.compiler.linalg import conv_fanout
from neurocc.compiler.program import FxProjection, Placement
from neurocc.errors import ResourceError
from neurocc.hw_configs import HardwareSpec


def synapse_bits_per_neuron(p: FxProjection, hw: HardwareSpec) -> np.ndarray:
    """Synaptic memory each post neuron of ``p`` needs (bits, shape (n_post,)); conv kernels
    are counted per core by ``partition`` when the hardware shares them."""
    wb = hw.numerics.weight_bits
    n_post = p.conn.shape[0]
    if isinstance(p.conn, Sparse):
        per = np.diff(p.conn.indptr).astype(np.int64)
        return per * (wb + hw.core.synapse_index_bits)
    if isinstance(p.conn, Conv):
        if hw.core.conv_kernel_shared:
            return np.zeros(n_post, dtype=np.int64)
        taps = int(np.count_nonzero(p.conn.weight[0]))  # per output channel, upper bound
        return np.full(n_post, taps * wb, dtype=np.int64)
    return np.full(n_post, p.conn.shape[1] * wb, dtype=np.int64)


def conv_kernel_bits(p: FxProjection, hw: HardwareSpec) -> int:
    return int(p.conn.weight.size) * hw.numerics.weight_bits if isinstance(p.conn, Conv) \
        and hw.core.conv_kernel_shared else 0


@dataclass(frozen=True)
class Partition:
    """Cut groups into slices that fit one core each."""

    hw: HardwareSpec
    name = "partition"

    def run(self, groups, projections) -> list[tuple[int, int, int]]:
        core = self.hw.core
        slices, violations = [], []
        for gi, g in enumerate(groups):
            incoming = [p for p in projections if p.dst == g.name]
            per_neuron = sum((synapse_bits_per_neuron(p, self.hw) for p in incoming),
                             np.zeros(g.n, dtype=np.int64))
            kernel = sum(conv_kernel_bits(p, self.hw) for p in incoming)
            budget = core.synaptic_memory_bits_per_core - kernel
            if budget <= 0 or (g.n and per_neuron.max() > budget):
                need = int(per_neuron.max() + kernel)
                violations.append(
                    f"layer '{g.name}' (NIR node '{g.nir_node}'): one neuron needs {need} bits "
                    f"of synaptic memory > {core.synaptic_memory_bits_per_core} per core; "
                    "reduce its fan-in or weight precision")
                continue
            start = 0
            csum = np.concatenate([[0], np.cumsum(per_neuron)])
            while start < g.n:
                stop = min(g.n, start + core.neurons_per_core)
                # largest stop with memory(start:stop) <= budget
                stop = min(stop, int(np.searchsorted(csum, csum[start] + budget, "right") - 1))
                slices.append((gi, start, stop))
                start = stop
        if violations:
            raise ResourceError(violations)
        return slices


@dataclass(frozen=True)
class Place:
    """Assign slices to cores in order, chip-major."""

    hw: HardwareSpec
    name = "place"

    def run(self, slices) -> Placement:
        total = self.hw.mesh.cores_per_chip * self.hw.mesh.chips_per_system
        if len(slices) > total:
            chips = -(-len(slices) // self.hw.mesh.cores_per_chip)
            raise ResourceError(
                f"network needs {len(slices)} cores = {chips} chips, the {self.hw.name} system "
                f"has {self.hw.mesh.chips_per_system} chips of {self.hw.mesh.cores_per_chip} "
                "cores; use a larger system config or a smaller network")
        arr = np.array([(gi, a, b, c) for c, (gi, a, b) in enumerate(slices)],
                       dtype=np.int64).reshape(-1, 4)
        return Placement(arr, "in-order")


def core_xy(cores: np.ndarray, hw: HardwareSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                            np.ndarray]:
    """Global tile coordinates (x, y) and chip coordinates (cx, cy) of global core ids."""
    m = hw.mesh
    cores = np.asarray(cores, dtype=np.int64)
    chip, local = np.divmod(cores, m.cores_per_chip)
    tile = local // m.cores_per_tile
    tx, ty = tile % m.tile_mesh[0], tile // m.tile_mesh[0]
    cx, cy = chip % m.chip_mesh[0], chip // m.chip_mesh[0]
    return cx * m.tile_mesh[0] + tx, cy * m.tile_mesh[1] + ty, cx, cy


@dataclass(frozen=True, eq=False)
class Routes:
    """Per source (group name or ``INPUT``): arrays of shape ``(n_src,)``: messages per spike,
    east-west and north-south hops, chip crossings, and the longest route latency class
    (hops), for one spike of that neuron."""

    msgs: dict
    hops_ew: dict
    hops_ns: dict
    chips: dict
    fanout: dict  # synapses driven per spike
    reach: dict   # (n_src, n_cores) bool: the cores each source neuron sends a message to


def dest_pattern(p: FxProjection, dst_core: np.ndarray, n_cores: int) -> np.ndarray:
    """``(n_pre, n_cores)`` counts of nonzero synapses from each pre neuron into each core."""
    conn = p.conn
    n_post, n_pre = conn.shape
    if isinstance(conn, Sparse):
        out = np.zeros((n_pre, n_cores))
        np.add.at(out, (conn.indices[conn.data != 0], dst_core[conn.rows[conn.data != 0]]), 1)
        return out
    if isinstance(conn, Conv):
        out = np.zeros((n_pre, n_cores))
        used = np.unique(dst_core)
        if len(used) == 1:
            out[:, used[0]] = conv_fanout(conn)
            return out
        dense = conn.to_dense()
    else:
        dense = conn.weight
    nz = (dense != 0).astype(np.float64)
    agg = np.zeros((n_cores, n_post))
    agg[dst_core, np.arange(n_post)] = 1.0
    return (agg @ nz).T


def route(groups, projections, placement: Placement, hw: HardwareSpec, n_inputs: int) -> Routes:
    """Messages, hops and chip crossings per spike of every source neuron."""
    n_cores = int(placement.slices[:, 3].max()) + 1 if len(placement.slices) else 1
    core_of = {g.name: placement.core_of(i, g.n) for i, g in enumerate(groups)}
    core_of[INPUT] = np.zeros(n_inputs, dtype=np.int64)  # host link at core 0 (assumption)
    sizes = {g.name: g.n for g in groups}
    sizes[INPUT] = n_inputs
    x, y, cx, cy = core_xy(np.arange(n_cores), hw)
    patterns: dict[str, np.ndarray] = {}
    fanout: dict[str, np.ndarray] = {}
    for p in projections:
        pat = dest_pattern(p, core_of[p.dst], n_cores)
        patterns[p.src] = patterns.get(p.src, 0) + pat
        fanout[p.src] = fanout.get(p.src, 0) + pat.sum(axis=1)
    msgs, hew, hns, chips, reaches = {}, {}, {}, {}, {}
    for src, pat in patterns.items():
        reach = reaches[src] = pat > 0                       # (n_src, n_cores)
        sc = core_of[src]
        msgs[src] = reach.sum(axis=1).astype(np.int64)
        hew[src] = (reach * np.abs(x[None, :] - x[sc][:, None])).sum(axis=1)
        hns[src] = (reach * np.abs(y[None, :] - y[sc][:, None])).sum(axis=1)
        chips[src] = (reach * (np.abs(cx[None, :] - cx[sc][:, None])
                               + np.abs(cy[None, :] - cy[sc][:, None]))).sum(axis=1)
    for src in list(sizes):
        for d in (msgs, hew, hns, chips, fanout):
            d.setdefault(src, np.zeros(sizes[src]))
        reaches.setdefault(src, np.zeros((sizes[src], n_cores), dtype=bool))
    return Routes(msgs, hew, hns, chips, fanout, reaches)
