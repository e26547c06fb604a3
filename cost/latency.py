"""Latency: how long a time step and an inference take, from counted events.

Two estimates, both from the same events (a core's events in a step, ``CORE_TERMS``, times
their latencies, ``[latency]`` of the hardware config):

**Two chains** (``step_parts``; ``latency_per_inference_s``). A core's work forms two chains
that run side by side, as in SANA-FE's ``simple`` model:

- the **message chain**: messages received and the synaptic events they cause;
- the **neuron chain**: every neuron accessed, every active neuron updated, every spike
  and every message sent.

A core's step lasts as long as the longer chain; the serial sum of both is reported as an
upper bound. A step lasts

    max(busiest core's longer chain, busiest link's messages × the link's per-message time)
    + the longest route of a message sent that step + the barrier,

where the barrier comes from the ``barrier_s`` table keyed by the tiles in use (step lookup,
as SANA-FE's ``ts_sync_delay_table``). An inference is the sum over its steps
(``cost/energy.py``). The chains ignore when a message is sent: a receiving core may start
on a message only once it exists, so this is close to a lower bound.

**Scheduled**: every message in its order, as SANA-FE's default ``detailed`` model has it
(``cost/schedule.py``; ``scheduled_per_inference_s``, opt-in).
"""

from __future__ import annotations

import numpy as np

from neurocc.api.jit import numba  # None without neurocc[fast]: numpy's step_parts_py

CORE_TERMS = ("neurons", "active", "spikes", "synops_dense", "synops_sparse", "synops_conv",
              "msgs_out", "msgs_in")
"""The events of a core's step, in the column order of the counters' arrays."""

_SECONDS = ("neuron_access_s", "neuron_update_s", "spike_out_s", "synop_dense_s",
            "synop_sparse_s", "synop_conv_s", "message_out_s", "message_in_s")
"""The ``[latency]`` constant of each of ``CORE_TERMS``."""

MESSAGE_CHAIN = ("synops_dense", "synops_sparse", "synops_conv", "msgs_in")
"""Terms of the message (receive) chain; the others form the neuron chain."""

PARTS = ("core", "link", "route", "core_serial")
"""The per-step latency parts ``step_parts`` returns, in order."""


def seconds_per_event(hw) -> np.ndarray:
    """``(len(CORE_TERMS),)`` seconds of core work per event of each term."""
    return np.array([getattr(hw.latency, k) for k in _SECONDS])


_RECEIVE = np.array([t in MESSAGE_CHAIN for t in CORE_TERMS])


def step_parts(work: np.ndarray, links: np.ndarray, route_s: np.ndarray,
               per_event: np.ndarray, t_link: np.ndarray) -> np.ndarray:
    """``step_parts_py``, compiled when numba is there (one pass over the rows instead of
    ~20 numpy passes: 0.43 → ~0.05 ms a digits run), with the same float operations in the
    same order (tested equal)."""
    if _step_parts_nb is None:
        return step_parts_py(work, links, route_s, per_event, t_link)
    out = np.empty((4, len(work)))
    _step_parts_nb(np.ascontiguousarray(work, np.float64), np.ascontiguousarray(links,
                   np.float64), _RECEIVE, np.asarray(per_event, np.float64),
                   np.asarray(t_link, np.float64), out)
    out[2] = route_s
    return out


def step_parts_py(work: np.ndarray, links: np.ndarray, route_s: np.ndarray,
                  per_event: np.ndarray, t_link: np.ndarray) -> np.ndarray:
    """One step's latency parts per sample, ``(4, B)`` seconds (``PARTS``): the busiest
    core's longer chain, the busiest link's messages × its per-message time, the longest
    route, and the busiest core's serial sum of both chains (an upper bound).

    ``work`` ``(B, n_cores, len(CORE_TERMS))`` events; ``links`` ``(B, n_links)`` messages
    on links whose per-message times are ``t_link``; ``route_s`` ``(B,)``; ``per_event``
    from ``seconds_per_event``."""
    # each chain term by term, in CORE_TERMS order: the same sums whatever the number of
    # rows (a BLAS product may round otherwise for another row count, and chunked runs must
    # equal one chunk), and no masked copies of ``work``
    msg_chain = np.zeros(work.shape[:2])
    neuron_chain = np.zeros(work.shape[:2])
    for k, receive in enumerate(_RECEIVE):
        (msg_chain if receive else neuron_chain)[...] += work[..., k] * per_event[k]
    core_t = np.maximum(msg_chain, neuron_chain).max(axis=1)
    serial_t = (msg_chain + neuron_chain).max(axis=1)
    link_t = (links * t_link[None, :]).max(axis=1) if links.size else np.zeros(len(core_t))
    return np.stack([core_t, link_t, route_s, serial_t])


def _step_parts_loop(work, links, receive, per_event, t_link, out):
    # per row: each core's two chains summed term by term in CORE_TERMS order from 0.0
    # (step_parts_py's order), the busiest core's longer chain and serial sum, the busiest
    # link; out[2] (the route) is the caller's
    R, C, K = work.shape
    for r in range(R):
        core = 0.0
        serial = 0.0
        for c in range(C):
            m = 0.0
            n = 0.0
            for k in range(K):
                if receive[k]:
                    m += work[r, c, k] * per_event[k]
                else:
                    n += work[r, c, k] * per_event[k]
            core = max(core, max(m, n)) if c else max(m, n)
            serial = max(serial, m + n) if c else m + n
        link = 0.0
        for j in range(links.shape[1]):
            x = links[r, j] * t_link[j]
            link = max(link, x) if j else x
        out[0, r] = core
        out[1, r] = link
        out[3, r] = serial


_step_parts_nb = None if numba is None else \
    numba.njit(cache=True, nogil=True)(_step_parts_loop)


def step_time(parts: np.ndarray, serial: bool = False) -> np.ndarray:
    """``(..., 4, B)`` parts → ``(..., B)`` seconds without the barrier; ``serial`` uses the
    upper bound (both chains of a core one after the other)."""
    core = parts[..., 3 if serial else 0, :]
    return np.maximum(core, parts[..., 1, :]) + parts[..., 2, :]


def barrier(hw, tiles: int) -> float:
    """Barrier time per step with ``tiles`` tiles in use, from ``latency.barrier_s``: the
    entry with the largest key ≤ ``tiles`` (SANA-FE's step lookup). Several chips use the
    same table at their total tiles in use: an assumption (no published multi-chip
    figure), listed in ``cost.energy.ASSUMPTIONS``."""
    table = sorted(hw.latency.barrier_s)
    value = table[0][1]
    for key, t in table:
        if tiles >= key:
            value = t
    return float(value)


def tiles_used(program) -> int:
    """Distinct tiles (over all chips) holding at least one core of the program."""
    cores = np.unique(program.placement.slices[:, 3])
    return int(len(np.unique(cores // program.hw.mesh.cores_per_tile)))
