"""Synaptic delays of a projection, in the compact form NIR ``Delay`` nodes produce.

Synapse ``i ← j`` (post ``i``, pre ``j``) of a delayed projection delivers the spike the
source sent at step ``t`` at step ``t + 1 + row[i] + col[j]``: the projection's one step of
synaptic latency (``graph.Projection``) plus its delay. A Delay node right after the source
gives ``col`` (one delay per source neuron), one right before the destination ``row`` (one per
destination neuron), a uniform one anywhere on the only path a constant (``row`` filled);
several add up. ``per_synapse`` expands it to the one-value-per-synapse form Lava's
``DelayDense``/``DelaySparse`` take (``weight_delay``).

Units: seconds in the IR (``Network``, what the frontend reads), whole time steps (int64)
from ``discretize`` on (``to_steps``), like weights, which are float in the IR and integers
after lowering.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurocc.api.errors import QuantizationError

STEP_TOLERANCE = 1e-4
"""How far (in steps) a delay may lie from a whole number of steps and still be taken as
that number: a float32 delay of 63 steps is off by at most 63 · 2^-24 ≈ 4e-6 steps, and a dt
like 1e-4 s is not exact in binary either; anything farther is a genuinely fractional delay,
which a chip with whole-step delays cannot express."""

MAX_STEPS = 2**31
"""Delays are counted in whole steps up to this (far past any chip's delay field); a longer
one is refused here, before a cast to int64 could wrap it round to a negative number."""


@dataclass(frozen=True, eq=False)
class Delays:
    """Per-synapse delays ``d[i, j] = row[i] + col[j]`` of one projection.

    ``row`` ``(n_post,)`` and ``col`` ``(n_pre,)``: seconds in the IR, whole steps (int64)
    after ``to_steps``. ``nodes`` names the NIR Delay nodes they came from (for messages)."""

    row: np.ndarray
    col: np.ndarray
    nodes: tuple[str, ...] = ()

    @property
    def max(self):
        """The longest delay of any synapse (a bound: the synapse may not exist)."""
        return self.row.max(initial=0) + self.col.max(initial=0)

    def per_synapse(self, conn) -> np.ndarray:
        """One delay per stored weight, aligned with ``conn.values``: ``(n_post, n_pre)`` for
        a dense matrix, ``(nnz,)`` for CSR. A conv (shared kernel) has no per-synapse form."""
        if conn.kind == "dense":
            return self.row[:, None] + self.col[None, :]
        if conn.kind == "sparse":
            return self.row[conn.rows] + self.col[conn.indices]
        raise TypeError("a shared-kernel convolution has no per-synapse delays; the compiler "
                        "stores delayed convolutions as dense or sparse synapses")

    def to_steps(self, dt: float, where: str) -> Delays | None:
        """The delays in whole steps of ``dt`` seconds, or None when all are 0. A delay that
        is not a whole number of steps (within ``STEP_TOLERANCE``) is refused, naming it."""
        out = []
        for part, what in ((self.row, "destination neuron"), (self.col, "source neuron")):
            s = np.asarray(part, dtype=np.float64) / dt

            def refuse(where_bad, why):      # the first offending delay, named in steps
                i = int(where_bad[0])
                raise QuantizationError(f"{where}: delay {part[i]:g} s ({what} {i}) is "
                                        f"{s[i]:.4g} steps at dt = {dt:g} s{why}")

            huge = np.flatnonzero(~(np.abs(s) < MAX_STEPS))     # also inf: beyond int64 casts
            if len(huge):
                refuse(huge, ", more than 2^31 (no chip holds such a delay); shorten the "
                       "delay, or compile with a larger --dt")
            whole = np.rint(s)
            bad = np.flatnonzero(np.abs(s - whole) > STEP_TOLERANCE)
            if len(bad):
                refuse(bad, "; delays must be whole steps: compile with a dt that divides "
                       "every delay (--dt), or round the delays in the model")
            out.append(whole.astype(np.int64))
        row, col = out
        if not row.any() and not col.any():
            return None
        return Delays(row, col, self.nodes)

    def classes(self, conn) -> list[tuple[int, object]]:
        """``conn`` split by delay: ``[(k, the synapses delayed by k steps), ...]`` in
        increasing ``k`` (each a connectivity of the same shape and kind; conv is taken as
        its dense matrix). Their sum is ``conn``."""
        from neurocc.compiler.ir.connectivity import Dense, Sparse

        if conn.kind == "conv":
            conn = Dense(conn.to_dense())
        d = self.per_synapse(conn)
        present = np.unique(d[conn.values != 0])    # delays of zero weights do not matter
        out = []
        for k in present if len(present) else [0]:
            mask = d == k
            if conn.kind == "dense":
                out.append((int(k), Dense(np.where(mask, conn.weight, 0))))
            else:
                counts = np.bincount(conn.rows[mask], minlength=conn.shape[0])
                indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
                out.append((int(k), Sparse(indptr, conn.indices[mask], conn.data[mask],
                                           conn.n_pre)))
        return out


__all__ = ["Delays", "MAX_STEPS", "STEP_TOLERANCE"]
