"""The subpopulations pass: a layer whose neurons have different time constants becomes one
population per distinct pair of quantized decays.

Lava's LIF (and so the chip's neuron program as neurocc drives it) shares ``du`` and ``dv``
across a population. snnTorch's ``learn_beta=True``, Norse and Rockpool train one time
constant per neuron, so the compiler groups a layer's neurons by the decays they quantize
to, ``dv = round(dt/tau_mem · 2^decay_bits)`` and ``du = round(dt/tau_syn · 2^decay_bits) − 1``,
and makes each group a population of its own: its incoming projections take their rows,
its outgoing projections their columns (a shared conv kernel is expanded to the synapses it
stands for, since a sub-population is not an image). Every later pass, and every backend,
then sees ordinary populations, so the emulator stays bit-exact with Lava by construction.

Within a population the time constant is the first neuron's; ``r`` (and ``w_in``) are
rescaled so that every neuron keeps its own input gain ``r·dt/tau`` exactly, and only the
decay is shared, which the chip quantizes to that same integer anyway.

Resources: each population is partitioned on its own, so a layer of k decay classes takes
at least k core slices. That is conservative: Loihi 1 allowed several compartment profiles
per core (nengo-loihi's per-core decay profiles), and whether a Loihi 2 neuron program reads
per-neuron decays is not public; neurocc does not pack classes into one core.

An output layer that is split is reassembled in its neurons' original order by
``backends.run`` (``Network.meta["subpopulations"]``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from neurocc.compiler.ir.connectivity import Conv, Dense, Sparse
from neurocc.compiler.ir.delays import Delays
from neurocc.compiler.ir.graph import INPUT, Network, Projection
from neurocc.compiler.ir.neurons import Neurons
from neurocc.compiler.passes.base import CompileState, Pass

MAX_EXPANDED = 1 << 24
"""Largest conv → explicit synapses expansion (values) when a conv touches a split layer."""


def _quantized(tau: np.ndarray, dt: float, unity: int, offset: int) -> np.ndarray:
    with np.errstate(divide="ignore"):
        a = np.where(np.isinf(tau), 0.0, dt / tau)
    return np.clip(np.round(a * unity) - offset, 0, unity - 1).astype(np.int64)


def decay_classes(g: Neurons, dt: float, unity: int) -> np.ndarray:
    """``(n,)`` class label per neuron: equal labels, equal quantized ``(du, dv)``."""
    keys = []
    if hasattr(g, "tau_mem"):
        keys.append(_quantized(g.tau_mem, dt, unity, 0))
    if hasattr(g, "tau_syn"):
        keys.append(_quantized(g.tau_syn, dt, unity, 1))
    if not keys:
        return np.zeros(g.n, dtype=np.int64)
    _, labels = np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True)
    return labels.ravel()


def _uniform_within(g: Neurons, idx: np.ndarray, name: str,
                    shape: tuple[int, ...] | None = None) -> Neurons:
    """The sub-population ``idx`` of ``g`` with one time constant (the first neuron's) and
    ``r``/``w_in`` rescaled so each neuron's input gain is unchanged."""
    values = {k: np.asarray(getattr(g, k))[idx].copy() for k in g.parameters()}
    if "tau_mem" in values:
        tau = values["tau_mem"]
        ref = tau[0]
        if np.isfinite(ref) and np.all(np.isfinite(tau)):
            values["r"] = values["r"] * ref / tau
            values["tau_mem"] = np.full(len(idx), ref)
    if "tau_syn" in values:
        ts = values["tau_syn"]
        values["w_in"] = values["w_in"] * ts[0] / ts
        values["tau_syn"] = np.full(len(idx), ts[0])
    return type(g)(name=name, nir_node=g.nir_node, shape=shape or (len(idx),), **values)


def _rows_cols(conn, rows: np.ndarray | None, cols: np.ndarray | None):
    """``conn`` restricted to post neurons ``rows`` and pre neurons ``cols`` (None: all),
    as Dense or Sparse; None when no synapse is left."""
    if isinstance(conn, Conv):
        conn = Sparse.from_dense(conn.to_dense())
    if isinstance(conn, Dense):
        w = conn.weight
        w = w if rows is None else w[rows]
        w = w if cols is None else w[:, cols]
        return Dense(np.ascontiguousarray(w)) if np.any(w) else None
    indptr, indices, data = conn.indptr, conn.indices, conn.data
    r = np.arange(conn.shape[0]) if rows is None else rows
    counts = indptr[r + 1] - indptr[r]
    row_of = np.repeat(np.arange(len(r)), counts)
    # the stored synapses of rows r, in order: each row's start plus its offset within it
    take = indptr[r][row_of] + np.arange(len(row_of)) - (np.cumsum(counts) - counts)[row_of]
    idx, vals = indices[take], data[take]
    n_pre = conn.n_pre
    if cols is not None:
        remap = np.full(conn.n_pre, -1, dtype=np.int64)
        remap[cols] = np.arange(len(cols))
        keep = remap[idx] >= 0
        row_of, idx, vals = row_of[keep], remap[idx[keep]], vals[keep]
        n_pre = len(cols)
    if not len(vals):
        return None
    new_ptr = np.zeros(len(r) + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of, minlength=len(r)), out=new_ptr[1:])
    return Sparse(new_ptr, idx.astype(np.int64), vals, n_pre)


def _delays_of(d: Delays | None, rows: np.ndarray | None,
               cols: np.ndarray | None) -> Delays | None:
    """The delays ``d`` of the synapses ``rows`` × ``cols`` (None: all) of a projection."""
    if d is None:
        return None
    return Delays(d.row if rows is None else d.row[rows], d.col if cols is None else d.col[cols],
                  d.nodes)


def split_network(net: Network, dt: float, unity: int) -> Network:
    """``net`` with every layer of several decay classes split into sub-populations."""
    parts: dict[str, list[tuple[str, np.ndarray]]] = {}
    groups: list[Neurons] = []
    for g in net.groups:
        labels = decay_classes(g, dt, unity)
        classes = np.unique(labels)
        if len(classes) == 1:
            uniform = all(np.all(np.asarray(getattr(g, k)) == np.asarray(getattr(g, k))[0])
                          for k in ("tau_mem", "tau_syn") if hasattr(g, k))
            groups.append(g if uniform else
                          _uniform_within(g, np.arange(g.n), g.name, tuple(g.shape)))
            continue
        parts[g.name] = []
        for c in classes:
            idx = np.flatnonzero(labels == c)
            name = f"{g.name}#{int(c)}"
            parts[g.name].append((name, idx))
            groups.append(_uniform_within(g, idx, name))
    if not parts:
        return replace(net, groups=tuple(groups))
    projections = []
    for p in net.projections:
        srcs = parts.get(p.src, [(p.src, None)]) if p.src != INPUT else [(INPUT, None)]
        dsts = parts.get(p.dst, [(p.dst, None)])
        if len(srcs) == 1 and len(dsts) == 1:
            projections.append(p)
            continue
        if isinstance(p.conn, Conv) and p.conn.shape[0] * p.conn.shape[1] > MAX_EXPANDED:
            from neurocc.api.errors import UnsupportedError

            split = " and ".join(f"'{g}' into {len(parts[g])}" for g in (p.src, p.dst)
                                 if g in parts)
            nodes = ", ".join(f"'{n}'" for n in p.nir_nodes) or "?"
            post, pre = p.conn.shape
            raise UnsupportedError(
                f"projection '{p.name}' (NIR node {nodes}): its conv as explicit synapses is "
                f"a {post} × {pre} matrix, {post * pre:,} values > 2^24 = {MAX_EXPANDED:,}, "
                f"because the time constants split layer {split} sub-populations; give the "
                "layer one time constant, or use a smaller conv")
        for s_name, cols in srcs:
            for d_name, rows in dsts:
                conn = _rows_cols(p.conn, rows, cols)
                if conn is not None:
                    projections.append(Projection(f"{p.name}[{s_name}->{d_name}]", s_name,
                                                  d_name, conn, p.nir_nodes,
                                                  _delays_of(p.delay, rows, cols)))
    outputs = tuple(n for o in net.outputs for n in ([x for x, _ in parts[o]] if o in parts
                                                      else [o]))
    meta = dict(net.meta)
    meta["subpopulations"] = {g: [(n, idx.tolist()) for n, idx in ps]
                              for g, ps in parts.items()}
    return Network(input_shape=net.input_shape, groups=tuple(groups),
                   projections=tuple(projections), outputs=outputs,
                   input_name=net.input_name, meta=meta)


@dataclass(frozen=True)
class SplitDecays(Pass):
    """``state.network`` with per-neuron time constants split into sub-populations."""

    dt: float
    decay_bits: int
    name: ClassVar[str] = "subpopulations"

    def run(self, state: CompileState) -> CompileState:
        dt = self.dt
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not 0 < dt < np.inf:
            return state            # the discretize pass refuses the dt with its reason
        return state.with_(network=split_network(state.network, self.dt,
                                                 1 << self.decay_bits))


__all__ = ["SplitDecays", "decay_classes", "split_network"]
