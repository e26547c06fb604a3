"""Partition: cut every group into core-sized slices that respect every per-core limit.

A slice is a contiguous range of one group's neurons and takes one core. Slices are cut
greedily from the start of the group, each as long as all of these allow
(definitions in ``compiler/resources.py`` and ``hw_configs/README.md``):

1. neurons ≤ ``neurons_per_core``;
2. synaptic memory ≤ ``synaptic_memory_bits_per_core``;
3. input axons (distinct sources) ≤ ``input_axons_per_core``;
4. output axons (distinct (neuron, destination core) pairs) ≤ ``output_axons_per_core``.

1–3 depend only on the group's own incoming synapses. 4 depends on how the groups the slice
feeds are cut, so it is enforced afterwards, to a fixed point: a slice with too many output
axons is split (which never breaks 1–3), and since splitting a group can give the neurons
that feed it more destination cores, the check repeats until nothing changes.

Every violation that no split can fix (one neuron alone exceeds a limit; the slices need
more cores than the system has) is collected and raised at once as a ``ResourceError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neurocc.api.errors import ResourceError
from neurocc.compiler.ir.graph import incoming_index
from neurocc.compiler.ir.mapping import Partitioning
from neurocc.compiler.passes.base import CompileState, Pass
from neurocc.compiler.resources import (
    FanIn,
    SliceSources,
    SourceIndex,
    fanins,
    n_inputs_of,
    out_degree,
    synapse_bits,
)
from neurocc.hw_configs import HardwareSpec

WINDOW_SYNAPSES = 1 << 20
"""Synapses examined at once when looking for a slice's end (working memory, not a limit)."""
WINDOW_ROWS = 1 << 6
"""Smallest window (neurons) grown by doubling when the window is large."""
CHECKED_NEURONS = 1 << 6
"""Neurons with the largest fan-in whose distinct sources are counted up front."""

LIMITS = ("neurons", "synaptic memory", "input axons", "output axons", "end of layer")


def _where(g) -> str:
    return f"layer '{g.name}' (NIR node '{g.nir_node}')"


@dataclass(frozen=True)
class Partition(Pass):
    """The partition pass: cuts the lowered groups into slices (``state.partition``)."""

    hw: HardwareSpec
    name: ClassVar[str] = "partition"

    def run(self, state: CompileState) -> CompileState:
        low = state.lowered
        return state.with_(partition=self.cut(low.groups, low.projections,
                                              state.network.n_inputs))

    def cut(self, groups, projections, n_inputs: int | None = None) -> Partitioning:
        """Slices of ``groups`` fed by ``projections`` (the pass's work, callable alone)."""
        n_inputs = n_inputs_of(projections) if n_inputs is None else n_inputs
        index = SourceIndex.build(groups, n_inputs)
        fan = fanins(groups, projections, index, self.hw)
        violations: list[str] = []
        per_group: list[list[tuple[int, int, str, np.ndarray]]] = []
        for g, f in zip(groups, fan):
            problems = self._single_neuron_checks(g, f, projections)
            violations += problems
            per_group.append([] if problems else self._cut(g, f, violations))
        per_group = self._output_axons(groups, fan, index, per_group, violations)
        rows, why, lists = [], [], []
        for gi, cuts in enumerate(per_group):
            for a, b, reason, srcs in cuts:
                rows.append((gi, a, b))
                why.append(reason)
                lists.append(srcs)
        slices = np.array(rows, dtype=np.int64).reshape(-1, 3)
        part = Partitioning(slices, SliceSources.from_lists(lists), index, tuple(why), fan,
                            tuple(g.name for g in groups), tuple(g.nir_node for g in groups))
        # Layers that could not be cut count with a lower bound on their cores.
        failed = {gi: self._min_cores(g, f) for gi, (g, f) in enumerate(zip(groups, fan))
                  if g.n and not per_group[gi]}
        capacity = capacity_violation(part, self.hw, failed)
        if capacity:
            violations.append(capacity)
        if violations:
            raise ResourceError(violations)
        return part

    def _min_cores(self, g, f: FanIn) -> int:
        core = self.hw.core
        return max(-(-g.n // core.neurons_per_core),
                   -(-int(f.bits_prefix[-1]) // core.synaptic_memory_bits_per_core))

    # ------------------------------------------------------------------ limits 1-3

    def _single_neuron_checks(self, g, f: FanIn, projections) -> list[str]:
        """Limits that one neuron alone breaks: no split can help."""
        core = self.hw.core
        out = []
        if g.n == 0:
            return out
        mem = f.neuron_memory()
        worst = int(np.argmax(mem))
        if mem[worst] > core.synaptic_memory_bits_per_core:
            out.append(
                f"{_where(g)}: neuron {worst} needs {int(mem[worst])} bits of synaptic memory "
                f"> {core.synaptic_memory_bits_per_core} bits per {self.hw.name} core "
                f"({_memory_terms(g, projections, self.hw)}); reduce its fan-in, its weight "
                "precision, or the conv kernel size")
        cand = np.flatnonzero(f.fanin > core.input_axons_per_core)
        if len(cand):
            # Synapses bound distinct sources from above; count exactly for the largest.
            order = cand[np.argsort(-f.fanin[cand], kind="stable")][:CHECKED_NEURONS]
            counts = [(len(f.sources(int(r), int(r) + 1)), int(r)) for r in order]
            n_src, r = max(counts, key=lambda t: (t[0], -t[1]))
            if n_src > core.input_axons_per_core:
                out.append(
                    f"{_where(g)}: neuron {r} receives from {n_src} distinct sources > "
                    f"{core.input_axons_per_core} input axons per {self.hw.name} core; reduce "
                    f"its fan-in to at most {core.input_axons_per_core} sources (sparser "
                    "weights or a "
                    "smaller source layer)")
        return out

    def _cut(self, g, f: FanIn, violations: list[str]) -> list:
        """Greedy contiguous slices for limits 1-3: ``[(start, stop, limited_by, sources)]``."""
        core = self.hw.core
        npc, budget, axons = (core.neurons_per_core, core.synaptic_memory_bits_per_core,
                              core.input_axons_per_core)
        cuts, a, n, prev = [], 0, g.n, 0
        while a < n:
            hi = min(n, a + npc)
            b_mem = a + int(np.searchsorted(f.memory_upto(a, hi), budget, "right"))
            # Input axons cannot bind while the window holds at most `axons` synapses.
            syn = f.fanin_prefix[a + 1:b_mem + 1] - f.fanin_prefix[a]
            safe = a + int(np.searchsorted(syn, axons, "right"))
            # The window of rows to examine: the previous slice's length and a bit more (slices
            # of a layer tend to be alike), or up to the memory bound when that is small;
            # doubled until the axon limit is found inside it.
            if safe >= b_mem:
                end = b_mem
            elif prev:
                end = min(b_mem, a + max(prev + prev // 4 + 1, WINDOW_ROWS))
            elif syn[-1] <= WINDOW_SYNAPSES:
                end = b_mem
            else:
                end = min(b_mem, a + max(2 * (safe - a), WINDOW_ROWS))
            while True:
                uniq, first = f.first_sources(a, end)
                cum = np.cumsum(np.bincount(first, minlength=end - a))
                k = int(np.searchsorted(cum, axons, "right"))
                if k < end - a or end == b_mem:
                    break
                end = min(b_mem, a + 2 * (end - a))
            b = a + k
            if b == a:  # not caught by the sampled single-neuron check
                violations.append(
                    f"{_where(g)}: neuron {a} receives from {int(cum[0])} distinct sources > "
                    f"{axons} input axons per {self.hw.name} core; reduce its fan-in")
                return []
            if b < b_mem:
                reason = "input axons"
            elif b_mem < hi:
                reason = "synaptic memory"
            elif hi < n:
                reason = "neurons"
            else:
                reason = "end of layer"
            cuts.append((a, b, reason, uniq[first < k]))
            a, prev = b, b - a
        return cuts

    # ------------------------------------------------------------------ limit 4

    def _output_axons(self, groups, fan, index: SourceIndex, per_group, violations):
        limit = self.hw.core.output_axons_per_core
        off = index.offsets
        reported = set()
        while True:
            lists = [c[3] for cuts in per_group for c in cuts]
            degree = out_degree(SliceSources.from_lists(lists), index.total)
            changed = False
            for gi, cuts in enumerate(per_group):
                g = groups[gi]
                deg = degree[off[gi + 1]:off[gi + 2]]
                if g.n and deg.max(initial=0) > limit:
                    if gi not in reported:
                        worst = int(np.argmax(deg))
                        violations.append(
                            f"{_where(g)}: neuron {worst} sends to {int(deg[worst])} cores > "
                            f"{limit} output axons per {self.hw.name} core (one per "
                            "destination core); reduce its fan-out or let its target layers "
                            "use fewer, fuller cores")
                        reported.add(gi)
                    continue
                new = []
                for a, b, reason, srcs in cuts:
                    if int(deg[a:b].sum()) <= limit:
                        new.append((a, b, reason, srcs))
                        continue
                    changed = True
                    cum = np.cumsum(deg[a:b])
                    s, base = a, 0
                    while s < b:
                        e = a + int(np.searchsorted(cum, base + limit, "right"))
                        new.append((s, e, "output axons" if e < b else reason,
                                    fan[gi].sources(s, e)))
                        base = int(cum[e - a - 1])
                        s = e
                per_group[gi] = new
            if not changed:
                return per_group


def _memory_terms(g, projections, hw: HardwareSpec) -> str:
    """How one neuron's synaptic memory is counted, per incoming projection kind."""
    terms = []
    for p in incoming_index(projections).get(g.name, ()):
        if p.conn.kind == "dense":
            terms.append(f"'{p.name}' dense: {p.conn.shape[1]} × {p.num_weight_bits}-bit "
                         "weights")
        elif p.conn.kind == "conv" and hw.core.conv_kernel_shared:
            terms.append(f"'{p.name}' conv: one shared kernel of "
                         f"{int(np.prod(p.conn.weight.shape[1:]))} × "
                         f"{p.num_weight_bits}-bit weights")
        else:
            terms.append(f"'{p.name}' {p.conn.kind}: {synapse_bits(p, hw)} bits per synapse "
                         f"({p.num_weight_bits}-bit weight + {hw.core.synapse_index_bits}-bit "
                         "index)")
    return "; ".join(terms)


def capacity_violation(part: Partitioning, hw: HardwareSpec,
                       at_least: dict | None = None) -> str | None:
    """The message when the slices need more cores than the system has, else ``None``.
    ``at_least`` maps the index of a group that could not be cut to a lower bound on its
    cores."""
    m = hw.mesh
    at_least = at_least or {}
    stats = part.layer_stats()
    for gi, k in at_least.items():
        stats[part.group_names[gi]] = {"cores": k, "limited_by": {"neurons or memory": k}}
    n = sum(s["cores"] for s in stats.values())
    if n <= m.n_cores:
        return None
    chips = -(-n // m.cores_per_chip)
    bound = "at least " if at_least else ""
    layers = []
    for name, node in sorted(zip(part.group_names, part.group_nodes),
                             key=lambda t: -stats[t[0]]["cores"]):
        s = stats[name]
        if s["cores"] > 1:
            why = max(s["limited_by"], key=s["limited_by"].get)
            layers.append(f"layer '{name}' (NIR node '{node}') split across {s['cores']} "
                          f"cores (mostly by {why})")
    return (f"network needs {bound}{chips} chips, the {hw.name} system has "
            f"{m.chips_per_system}: {bound}{n} cores at {m.cores_per_chip} per chip; "
            + ", ".join(layers[:8])
            + "; use a system with more chips (mesh.chips_per_system) or a smaller network")
