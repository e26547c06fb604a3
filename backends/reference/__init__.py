"""The float reference: forward-Euler simulation of the IR in float64, straight from the
NIR parameters (time constants, r, v_leak, thresholds, weights), without any quantization.

It follows NIR's equations with the program's ``dt`` and reset rule, and the chip's timing
(every projection delays by one step, plus its NIR ``Delay`` in whole steps: ``y(t) =
x(t − τ)``), so its outputs align with the fixed-point backends'.
Like the emulator, each group is held at zero until the sample's first input reaches it (its
hop depth), so a feed-forward network's spike trains are exactly snnTorch's (which has no
per-layer delay) shifted by each layer's depth.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from neurocc.backends.base import Trace
from neurocc.compiler.ir.connectivity import Conv, Sparse
from neurocc.compiler.ir.graph import INPUT
from neurocc.compiler.ir.neurons import IF, LI, LIF, CubaLI, CubaLIF, Neurons, Threshold
from neurocc.compiler.linalg import conv2d

DENSE_LIMIT = 1 << 22
"""Largest ``Sparse`` connection (post × pre values, 32 MiB as float64) the reference
multiplies as its dense matrix; a larger one is summed over its stored synapses only
(``_csr``), so a 20,000-neuron self-connection costs its 20,000 synapses, not 3.2 GB. The
two sums are equal where every row has one synapse (a diagonal), and equal to float
rounding otherwise (another summation order)."""

CSR_BLOCK = 1 << 20
"""Products (samples × synapses) ``_csr`` holds at a time: its working memory, not a limit."""


def _product(conn, batch: int) -> Callable[[np.ndarray], np.ndarray]:
    """``x (batch, n_pre) ↦ x Wᵀ (batch, n_post)`` for connectivity ``conn``: a conv as a
    convolution, a ``Sparse`` above ``DENSE_LIMIT`` over its stored synapses, any other as
    its dense matrix (built once, not every step)."""
    if isinstance(conn, Conv):
        def convolve(x):
            y = conv2d(x.reshape(len(x), *conn.in_shape), conn.weight, conn.stride,
                       conn.padding, conn.dilation, conn.groups)
            return y.reshape(len(x), -1)
        return convolve
    if isinstance(conn, Sparse) and conn.shape[0] * conn.shape[1] > DENSE_LIMIT:
        return _csr(conn, batch)
    w = conn.to_dense().T
    return lambda x: x @ w


def _csr(conn: Sparse, batch: int) -> Callable[[np.ndarray], np.ndarray]:
    """``x Wᵀ`` for a ``Sparse`` ``W``, row by row: each post neuron's stored synapses
    ``data[k]·x[:, indices[k]]`` summed in storage order (``np.add.reduceat``), a block of
    rows of at most ``CSR_BLOCK`` products at a time. Memory: O(synapses + block)."""
    ptr, n_post = conn.indptr, conn.shape[0]
    rows = np.flatnonzero(np.diff(ptr))             # rows with synapses (reduceat needs them)
    per_block = max(1, CSR_BLOCK // max(batch, 1))
    blocks, i = [], 0
    while i < len(rows):                            # rows[i:j], at least one row a block
        stop = ptr[rows[i]] + per_block
        j = max(i + 1, int(np.searchsorted(ptr[rows + 1], stop, "right")))
        blocks.append((rows[i:j], int(ptr[rows[i]]), int(ptr[rows[j - 1] + 1])))
        i = j

    def product(x):
        out = np.zeros((len(x), n_post))
        for r, a, b in blocks:
            terms = x[:, conn.indices[a:b]] * conn.data[a:b]
            out[:, r] = np.add.reduceat(terms, ptr[r] - a, axis=1)
        return out

    return product


def _delay_parts(p, dt: float) -> list:
    """A delayed projection as ``[(delay in steps, the synapses of that delay), ...]``."""
    steps = p.delay.to_steps(dt, f"projection '{p.name}'")
    if steps is None:
        return [(0, p.conn)]
    return steps.classes(p.conn)


def _leaky(nrn: _Neurons, drive: np.ndarray) -> np.ndarray:
    """``v + dt/τ·(v_leak − v + r·I)``; snnTorch's β = 1 (τ = r = ∞) integrates ``I``."""
    g, dt = nrn.g, nrn.dt
    perfect = np.isinf(g.tau_mem) & np.isinf(g.r)
    with np.errstate(invalid="ignore", divide="ignore"):
        leak = np.where(perfect, 0.0, dt / g.tau_mem)
        return nrn.v + leak * (g.v_leak - nrn.v) + np.where(perfect, drive, leak * g.r * drive)


def _integrate(nrn: _Neurons, drive: np.ndarray) -> np.ndarray:
    """``v + dt·r·I``."""
    return nrn.v + nrn.dt * nrn.g.r * drive


def _memoryless(nrn: _Neurons, drive: np.ndarray) -> np.ndarray:
    """``I``: a threshold unit keeps nothing from the step before."""
    return drive


MEMBRANE = {LIF: _leaky, CubaLIF: _leaky, LI: _leaky, CubaLI: _leaky, IF: _integrate,
            Threshold: _memoryless}
"""Neuron kind → its forward-Euler membrane step (NIR's equations, ``compiler/ir/neurons``)."""


class _Neurons:
    """Forward Euler for one group: current (current-based kinds), membrane, spike, reset."""

    def __init__(self, g: Neurons, dt: float, reset: str, batch: int):
        self.g, self.dt, self.reset = g, dt, reset
        self.v = np.zeros((batch, g.n))
        self.i_syn = np.zeros((batch, g.n))
        self.s = np.zeros((batch, g.n), dtype=bool)
        self.membrane = MEMBRANE[type(g)]

    def step(self, current: np.ndarray) -> np.ndarray:
        g, dt = self.g, self.dt
        drive = current + g.bias
        if g.has_current:
            self.i_syn = self.i_syn + dt / g.tau_syn * (-self.i_syn + g.w_in * drive)
            drive = self.i_syn
        v = self.membrane(self, drive)
        if g.spiking and self.reset == "subtract":
            v = v - self.s * g.v_threshold
        s = v > g.v_threshold if g.spiking else np.zeros_like(v, dtype=bool)
        if g.spiking and self.reset == "zero":
            v = np.where(s, 0.0, v)
        self.v, self.s = v, s
        return s


class ReferenceBackend:
    name = "reference"
    chunkable = True      # samples are independent: run() may split them into chunks
    wants_float_input = True

    def simulate(self, program, x: np.ndarray, record_state: bool = False) -> Trace:
        net = program.network
        steps, batch = x.shape[:2]
        neurons = [_Neurons(g, program.dt, program.reset, batch) for g in net.groups]
        buf = {p.name: np.zeros((batch, p.conn.shape[0])) for p in net.projections}
        spikes = {g.name: np.zeros((steps, batch, g.n), dtype=bool) for g in net.groups}
        v = {n: np.zeros((steps, batch, net.group(n).n))
             for n in program.recorded_membranes(record_state)}
        depths = program.hop_depths
        # NIR Delay nodes: what reaches a delayed projection's target at step t waits in
        # ring[t % (longest delay + 1)]; the projection is summed once per delay
        delayed = {p.name: [(d, _product(conn, batch)) for d, conn in
                            _delay_parts(p, program.dt)]
                   for p in net.projections if p.delay is not None}
        ring = {k: np.zeros((max(d for d, _ in parts) + 1, batch, buf[k].shape[1]))
                for k, parts in delayed.items()}
        product = {p.name: _product(p.conn, batch) for p in net.projections
                   if p.delay is None}
        for t in range(steps):
            out = {INPUT: x[t].astype(np.float64)}
            for nrn in neurons:
                if t < depths.get(nrn.g.name, 0):   # held until the input arrives
                    out[nrn.g.name] = nrn.s
                    continue
                current = sum((buf[p.name] for p in net.incoming(nrn.g.name)),
                              np.zeros((batch, nrn.g.n)))
                out[nrn.g.name] = nrn.step(current)
                spikes[nrn.g.name][t] = out[nrn.g.name]
                if nrn.g.name in v:
                    v[nrn.g.name][t] = nrn.v
            for p in net.projections:
                if p.name not in delayed:
                    buf[p.name] = product[p.name](out[p.src].astype(np.float64))
                    continue
                r = ring[p.name]
                for d, apply in delayed[p.name]:       # arrives at step t + 1 + d
                    r[(t + 1 + d) % len(r)] += apply(out[p.src].astype(np.float64))
                buf[p.name] = r[(t + 1) % len(r)].copy()
                r[(t + 1) % len(r)] = 0.0
        return Trace(spikes=spikes, v=v, saturation=None, fixed_point=False)


__all__ = ["ReferenceBackend"]
