"""Energy and latency per inference: counted events × the hardware config's constants.

    E = Σ synops·E_synop(kind) + N·steps·E_access + active·E_update
        + spikes·E_spike + messages·E_message + hops_ew·E_ew + hops_ns·E_ns
        + crossings·E_chip                                 (dynamic)
        + P_static·chips·T_inference                       (static, kept separate)

Hops and crossings follow the placement's dimension-order routes
(``compiler/passes/route.py``): a message's tile hops (east-west, north-south) and its
chip-to-chip crossings are separate events with separate energies. A neuron is *active*
(charged ``E_update``) in a step where its membrane was nonzero before the step, a synaptic
event is delivered to it (sent the step before, plus the synapse's delay: the step the soma
integrates it), or its bias is nonzero: SANA-FE's rule, with which the access/update split
was calibrated.

One inference is one sample run for all its steps (input steps plus the drain); its latency
is the sum of its steps (``cost/latency.py``: two chains per core, the barrier by tiles in
use), ``latency_s``. When the activity was counted with ``schedule=True``
(``cost.activity.count_trace``), ``latency_scheduled_s`` (``scheduled_per_inference_s`` in
the breakdown) is the same sum with every message in order, as SANA-FE's default
``detailed`` model times it. Static power is charged per chip in use for the whole inference
at ``latency_s``, and reported apart: dynamic energy is the figure comparable with SANA-FE
and with measurements that subtract idle power.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurocc.compiler.ir.graph import INPUT
from neurocc.cost.activity import Activity
from neurocc.cost.latency import CORE_TERMS, barrier, step_time, tiles_used

ASSUMPTIONS = (
    "one inference = one sample for all executed steps (input steps + pipeline drain)",
    "a core's step lasts as long as the longer of its two chains (messages received + "
    "synaptic events; neuron accesses, updates, spikes and messages sent), SANA-FE's simple "
    "model; the serial sum of both is reported as an upper bound",
    "a step lasts max(busiest core, busiest link's messages x hop latency) + the longest "
    "message route + the barrier for the tiles in use (several chips: the same table at "
    "their total tiles, no published multi-chip figure)",
    "latency_per_inference_s is this two-chain sum, which ignores when messages are sent "
    "(a lower bound but for the route term); scheduled_per_inference_s, when counted "
    "(ActivityCounter(schedule=True)), orders every message as SANA-FE's detailed model "
    "does: a core's messages leave as its neuron walk reaches them, a receiver takes them "
    "first come first served, SANA-FE's congestion heuristic; a sender blocks while a link "
    "holds the config's latency.link_buffer_messages (16 in the shipped configs, SANA-FE's "
    "loihi.yaml figure; an assumption on Loihi 2); a step lasts at least as long as its "
    "busiest link's messages x the link's per-message time",
    "every neuron is accessed every step; it is 'active' (update energy) in a step where its "
    "membrane was nonzero before the step, a synaptic event is delivered to it (sent the "
    "step before, plus any synaptic delay), or its bias is nonzero (SANA-FE's rule); "
    "backends that do not trace the membrane give a lower bound",
    "one message per spike and destination core; dimension-order (x then y) routing over "
    "the tiles of all chips; a step between chips is a chip crossing, not a tile hop",
    "input spikes enter the mesh at the config's mesh.input_core (host link not modelled)",
    "static power is charged per chip in use for the whole inference",
    "I/O and host energy are not included",
)

TERMS = ("synaptic_ops", "neuron_updates", "spikes", "messages", "routing_hops",
         "chip_crossings", "static")


@dataclass
class Estimate:
    """Per-inference energy (J) and latency (s), with breakdowns."""

    energy_j: float
    breakdown_j: dict
    by_layer_j: dict
    latency_s: float
    latency_breakdown_s: dict
    counts: dict
    per_core: list
    chips: int
    busiest_link: dict | None = None
    latency_scheduled_s: float | None = None

    @property
    def static_j(self) -> float:
        """Static (leakage) energy per inference: static power × chips × latency."""
        return self.breakdown_j["static"]

    @property
    def dynamic_j(self) -> float:
        """Energy of the counted events per inference (everything but static)."""
        return self.energy_j - self.static_j

    def to_dict(self) -> dict:
        return {
            "energy_per_inference_j": self.energy_j,
            "energy_dynamic_per_inference_j": self.dynamic_j,
            "energy_static_per_inference_j": self.static_j,
            "energy_breakdown_j": self.breakdown_j,
            "energy_by_layer_j": self.by_layer_j,
            "latency_per_inference_s": self.latency_s,
            "latency_scheduled_per_inference_s": self.latency_scheduled_s,
            "latency_breakdown_s": self.latency_breakdown_s,
            "counts_per_inference": self.counts,
            "chips_used": self.chips,
            "busiest_link": self.busiest_link,
        }


def core_joules(hw) -> np.ndarray:
    """``(len(CORE_TERMS),)`` joules per event of each core term: the energy a core spends
    itself. Hops and chip crossings are spent on links, static power per chip, so a core's
    energy leaves them out."""
    e = hw.energy
    per = {"neurons": e.neuron_access_j, "active": e.neuron_update_j, "spikes": e.spike_out_j,
           "synops_dense": e.synop_dense_j, "synops_sparse": e.synop_sparse_j,
           "synops_conv": e.synop_conv_j, "msgs_out": e.message_out_j, "msgs_in": 0.0}
    return np.array([per[t] for t in CORE_TERMS])


def estimate(program, act: Activity) -> Estimate:
    """Energy and latency per inference (averaged over the batch)."""
    hw = program.hw
    e = hw.energy
    B = act.batch
    routes = act.routes or program.routes
    e_syn = {"dense": e.synop_dense_j, "sparse": e.synop_sparse_j, "conv": e.synop_conv_j}
    chips = program.chips_used

    by_layer, totals = {}, dict.fromkeys(TERMS, 0.0)
    counts = {"spikes": 0.0, "synaptic_ops": 0.0, "neuron_updates": 0.0,
              "active_neuron_updates": 0.0, "messages": 0.0, "hops": 0.0,
              "chip_crossings": 0.0, "input_events": act.input_events / B}
    sources = [(g.name, act.spikes[g.name]) for g in program.groups]
    sources.append((INPUT, act.input_per_channel))
    for name, spk in sources:
        layer = by_layer.setdefault(name, dict.fromkeys(TERMS[:-1], 0.0))
        msgs = float(spk @ routes.msgs[name]) / B
        hew = float(spk @ routes.hops_ew[name]) / B
        hns = float(spk @ routes.hops_ns[name]) / B
        cross = float(spk @ routes.chips[name]) / B
        if name != INPUT:
            layer["spikes"] = float(spk.sum()) / B * e.spike_out_j
            counts["spikes"] += float(spk.sum()) / B
        layer["messages"] = msgs * e.message_out_j
        layer["routing_hops"] = hew * e.hop_ew_j + hns * e.hop_ns_j
        layer["chip_crossings"] = cross * e.chip_crossing_j
        counts["messages"] += msgs
        counts["hops"] += hew + hns
        counts["chip_crossings"] += cross
    for p in program.projections:
        n = act.synops[p.name] / B
        by_layer[p.dst]["synaptic_ops"] += n * e_syn[act.synops_kind[p.name]]
        counts["synaptic_ops"] += n
    for g in program.groups:
        access = g.n * act.steps_run
        active = act.active_updates[g.name] / B
        by_layer[g.name]["neuron_updates"] = access * e.neuron_access_j + active * e.neuron_update_j
        counts["neuron_updates"] += access
        counts["active_neuron_updates"] += active
    for layer in by_layer.values():
        for k, val in layer.items():
            totals[k] += val

    stacked = np.stack(act.step_parts) if act.step_parts else np.zeros((0, 4, B))
    tiles = tiles_used(program)
    sync = barrier(hw, tiles)
    compute = float(step_time(stacked).sum(axis=0).mean()) if len(stacked) else 0.0
    serial = float(step_time(stacked, serial=True).sum(axis=0).mean()) if len(stacked) else 0.0
    latency = compute + sync * act.steps_run
    scheduled = None                 # SANA-FE detailed-equivalent, when counted with it
    if act.step_scheduled and len(act.step_scheduled) == act.steps_run:
        scheduled = float(np.stack(act.step_scheduled).sum(axis=0).mean()) \
            + sync * act.steps_run
    parts = stacked.sum(axis=0).mean(axis=1) if len(stacked) else np.zeros(4)
    totals["static"] = e.static_power_w * chips * latency
    energy = float(sum(totals.values()))
    per_core = []
    joules = core_joules(hw)
    for c in program.placement.cores_used:   # events and their energy per inference per core
        events = act.core_work[c] / B
        per_core.append({"core": int(c), **{t: float(events[i])
                                            for i, t in enumerate(CORE_TERMS)},
                         "energy_j": float(events @ joules)})
    names = {INPUT: "input"}
    breakdown = {"busiest_core_and_routes": compute, "barrier_sync": sync * act.steps_run,
                 "steps": act.steps_run, "barrier_per_step": sync, "tiles_used": tiles,
                 "serial_upper_bound_s": serial + sync * act.steps_run,
                 "busiest_core_s": float(parts[0]), "busiest_core_serial_s": float(parts[3]),
                 "busiest_link_s": float(parts[1]), "longest_route_s": float(parts[2])}
    if scheduled is not None:
        breakdown["scheduled_per_inference_s"] = scheduled
    return Estimate(
        energy_j=energy, breakdown_j=totals,
        by_layer_j={names.get(k, k): {**v, "total": float(sum(v.values()))}
                    for k, v in by_layer.items()},
        latency_s=latency, latency_scheduled_s=scheduled,
        latency_breakdown_s=breakdown,
        counts=counts, per_core=per_core, chips=chips,
        busiest_link=_busiest_link(routes, act, B))


def _busiest_link(routes, act: Activity, batch: int) -> dict | None:
    """The link that carried the most messages in the run (per inference)."""
    load = act.link_load
    if load is None or not load.size or load.max() <= 0:
        return None
    k = int(np.argmax(load))
    return {**routes.mesh.describe(k), "messages_per_inference": float(load[k]) / batch}
