"""Latency: how long a time step and an inference take, from counted events.

A core's work in a step is the sum of its events times their latencies
(``[latency]`` of the hardware config): every neuron accessed, every active neuron updated,
every synaptic event by encoding, every spike, every message sent and received. A step lasts

    max(busiest core's work, busiest link's messages × the link's per-message time)
    + the longest route of a message sent that step + the barrier of the chips in use,

and an inference is the sum over its steps (``cost/energy.py``).
"""

from __future__ import annotations

import math

import numpy as np

CORE_TERMS = ("neurons", "active", "spikes", "synops_dense", "synops_sparse", "synops_conv",
              "msgs_out", "msgs_in")
"""The events of a core's step, in the column order of the counters' arrays."""

_SECONDS = ("neuron_access_s", "neuron_update_s", "spike_out_s", "synop_dense_s",
            "synop_sparse_s", "synop_conv_s", "message_out_s", "message_in_s")
"""The ``[latency]`` constant of each of ``CORE_TERMS``."""


def seconds_per_event(hw) -> np.ndarray:
    """``(len(CORE_TERMS),)`` seconds of core work per event of each term."""
    return np.array([getattr(hw.latency, k) for k in _SECONDS])


def step_parts(work: np.ndarray, links: np.ndarray, route_s: np.ndarray, hw) -> np.ndarray:
    """One step's latency parts per sample, ``(3, B)`` seconds: the busiest core's work, the
    busiest link's messages × its per-message time, and the longest route.

    ``work`` ``(B, n_cores, len(CORE_TERMS))`` events; ``links`` ``(B, n_links)`` messages;
    ``route_s`` ``(B,)``."""
    from neurocc.compiler.mesh import LinkMesh

    core_t = (work @ seconds_per_event(hw)).max(axis=1)
    t_link = LinkMesh(hw).seconds_per_message()
    link_t = (links * t_link[None, :]).max(axis=1) if links.size else np.zeros(len(core_t))
    return np.stack([core_t, link_t, route_s])


def step_time(parts: np.ndarray) -> np.ndarray:
    """``(..., 3, B)`` parts → ``(..., B)`` seconds without the barrier."""
    return np.maximum(parts[..., 0, :], parts[..., 1, :]) + parts[..., 2, :]


def barrier(hw, chips: int) -> float:
    """Barrier time per step for ``chips`` chips in use, from ``latency.barrier_s``,
    interpolated in log2(chips) and clamped at the table's ends."""
    table = sorted(hw.latency.barrier_s)
    if chips <= table[0][0]:
        return table[0][1]
    for (c0, t0), (c1, t1) in zip(table, table[1:]):
        if chips <= c1:
            f = (math.log2(chips) - math.log2(c0)) / (math.log2(c1) - math.log2(c0))
            return t0 + f * (t1 - t0)
    return table[-1][1]
