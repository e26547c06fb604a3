"""What a slice of neurons costs a core, and which spike sources it listens to.

Partition, place, route and ``neurocc info`` all count resources with these definitions
(``hw_configs/README.md`` repeats them):

- **synapse**: a nonzero integer weight after quantization. Weights that round to zero are
  not stored and receive no messages.
- **synaptic memory** of a core (bits), summed over the projections into its neurons:
  sparse: ``nonzero synapses × (weight bits + synapse_index_bits)``; dense: every post neuron
  stores a full row, ``n_pre × weight bits`` (zeros included: that is the dense encoding);
  conv with ``conv_kernel_shared``: the kernels of the output channels the core holds, each
  once, ``channels × (C_in/groups · kH · kW) × weight bits``; conv without sharing: expanded
  to sparse synapses (the taps that land inside the input), each ``weight bits +
  synapse_index_bits``. Weight bits are the projection's ``num_weight_bits``, plus
  ``delay_bits`` when it has synaptic delays (an assumption: ``hw_configs/README.md``).
- **source**: one presynaptic neuron of a group, or one input channel. Sources are numbered
  globally by ``SourceIndex``: input channels first, then every group's neurons in order.
- **input axons** of a core: the distinct sources with at least one synapse onto a neuron of
  the core (one axon serves every projection from that source into the core).
- **output axons** of a core: the distinct (source neuron on the core, destination core)
  pairs; a neuron whose synapses reach three cores uses three output axons, and each of its
  spikes sends three messages.

A slice is a contiguous range ``start:stop`` of one group's neurons; all the work here is on
contiguous row windows of the projections' nonzero patterns, so no dense
``(n_src, n_cores)`` matrix and no expanded conv matrix is ever built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurocc.compiler.ir.connectivity import Conv, Dense, Sparse
from neurocc.compiler.ir.graph import INPUT, incoming_index
from neurocc.hw_configs import HardwareSpec

WINDOW_ENTRIES = 1 << 21
"""Largest number of (row, tap) candidates a conv window expands at once (working memory of
this compiler, not a chip limit)."""


# --------------------------------------------------------------------------- source numbering


@dataclass(frozen=True, eq=False)
class SourceIndex:
    """Global ids of spike sources: input channels ``[0, n_inputs)``, then each group."""

    names: tuple[str, ...]
    sizes: tuple[int, ...]

    @classmethod
    def build(cls, groups, n_inputs: int) -> SourceIndex:
        return cls((INPUT,) + tuple(g.name for g in groups),
                   (int(n_inputs),) + tuple(int(g.n) for g in groups))

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)

    def offset(self, name: str) -> int:
        return int(self.offsets[self.names.index(name)])

    @property
    def total(self) -> int:
        return int(sum(self.sizes))

    def split(self, values: np.ndarray) -> dict:
        """A global ``(total,)`` array → ``{source name: (n,) view}``."""
        off = self.offsets
        return {n: values[off[i]:off[i + 1]] for i, n in enumerate(self.names)}


def n_inputs_of(projections) -> int:
    return max((p.conn.shape[1] for p in projections if p.src == INPUT), default=0)


# --------------------------------------------------------------------------- patterns


class _SparsePattern:
    def __init__(self, conn: Sparse):
        self.c = conn
        self.zeros = np.flatnonzero(conn.data == 0)   # stored but zero: not synapses

    def rows(self) -> np.ndarray:
        c = self.c
        out = np.diff(c.indptr).astype(np.int64)
        if len(self.zeros):
            zr = np.searchsorted(c.indptr, self.zeros, "right") - 1
            out -= np.bincount(zr, minlength=len(out))
        return out

    def cols(self) -> np.ndarray:
        c = self.c
        out = np.bincount(c.indices, minlength=c.n_pre).astype(np.int64)
        if len(self.zeros):
            out -= np.bincount(c.indices[self.zeros], minlength=c.n_pre)
        return out

    def window(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        c = self.c
        s, e = int(c.indptr[a]), int(c.indptr[b])
        cols = c.indices[s:e]
        rows = np.repeat(np.arange(b - a, dtype=np.int64), np.diff(c.indptr[a:b + 1]))
        if len(self.zeros):
            keep = c.data[s:e] != 0
            if not keep.all():
                rows, cols = rows[keep], cols[keep]
        return rows, cols.astype(np.int64, copy=False)


class _DensePattern:
    def __init__(self, conn: Dense):
        self.c = conn

    def rows(self) -> np.ndarray:
        return np.count_nonzero(self.c.weight, axis=1).astype(np.int64)

    def cols(self) -> np.ndarray:
        return np.count_nonzero(self.c.weight, axis=0).astype(np.int64)

    def window(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        r, c = np.nonzero(self.c.weight[a:b])
        return r.astype(np.int64), c.astype(np.int64)


class _ConvPattern:
    """A conv's synapses computed from its kernel by index arithmetic, never expanded."""

    def __init__(self, conn: Conv):
        self.c = conn
        w = conn.weight
        c_out, self.cpg, self.kh, self.kw = w.shape
        self.P = int(conn.out_shape[1] * conn.out_shape[2])
        self.opg = c_out // conn.groups
        nz = (w != 0).reshape(c_out, -1)
        self.T = max(1, int(nz.sum(axis=1).max(initial=0)))
        self.tv = np.zeros((c_out, self.T), dtype=bool)
        self.tk = np.zeros((c_out, self.T), dtype=np.int64)
        self.ti = np.zeros((c_out, self.T), dtype=np.int64)
        self.tj = np.zeros((c_out, self.T), dtype=np.int64)
        for co in range(c_out):
            k, i, j = np.nonzero(w[co] != 0)
            self.tv[co, :len(k)] = True
            self.tk[co, :len(k)], self.ti[co, :len(k)], self.tj[co, :len(k)] = k, i, j

    def _valid(self, axis: int) -> np.ndarray:
        c = self.c
        n_out, n_in = c.out_shape[1 + axis], c.in_shape[1 + axis]
        k = self.kh if axis == 0 else self.kw
        pos = (np.arange(n_out)[:, None] * c.stride[axis] - c.padding[axis]
               + np.arange(k)[None, :] * c.dilation[axis])
        return ((pos >= 0) & (pos < n_in)).astype(np.int64)

    def rows(self) -> np.ndarray:
        nz = (self.c.weight != 0).sum(axis=1).astype(np.int64)       # (C_out, kH, kW)
        return np.einsum("cij,hi,wj->chw", nz, self._valid(0), self._valid(1)).ravel()

    def cols(self) -> np.ndarray:
        out = np.zeros(self.c.shape[1], dtype=np.int64)
        n = self.c.shape[0]
        step = max(1, WINDOW_ENTRIES // self.T)
        for a in range(0, n, step):
            _, cols = self.window(a, min(n, a + step))
            out += np.bincount(cols, minlength=len(out))
        return out

    def window(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        step = max(1, WINDOW_ENTRIES // self.T)
        if b - a > step:
            parts = [self.window(s, min(b, s + step)) for s in range(a, b, step)]
            return (np.concatenate([r + (s - a) for (r, _), s in zip(parts, range(a, b, step))]),
                    np.concatenate([c for _, c in parts]))
        c = self.c
        _, H, W = c.in_shape
        r = np.arange(a, b, dtype=np.int64)
        ch, pos = np.divmod(r, self.P)
        oh, ow = np.divmod(pos, c.out_shape[2])
        ih = oh[:, None] * c.stride[0] - c.padding[0] + self.ti[ch] * c.dilation[0]
        iw = ow[:, None] * c.stride[1] - c.padding[1] + self.tj[ch] * c.dilation[1]
        ok = self.tv[ch] & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
        ci = (ch // self.opg)[:, None] * self.cpg + self.tk[ch]
        src = (ci * H + ih) * W + iw
        rows = np.broadcast_to((r - a)[:, None], ok.shape)[ok]
        return rows, src[ok]


PATTERNS = {Sparse: _SparsePattern, Dense: _DensePattern, Conv: _ConvPattern}


def pattern(conn):
    """The nonzero-synapse pattern of a connectivity: ``rows()`` synapses per post neuron,
    ``cols()`` per pre neuron, ``window(a, b)`` the (row − a, pre index) pairs of post
    neurons ``a:b`` in row order."""
    return PATTERNS[type(conn)](conn)


# --------------------------------------------------------------------------- fan-in of a group


def weight_bits(p, hw: HardwareSpec) -> int:
    """Bits one stored weight of projection ``p`` takes: its precision, plus the config's
    ``delay_bits`` when the projection has synaptic delays (an ASSUMPTION about Loihi's
    synapse encoding, ``hw_configs/README.md``)."""
    delay = getattr(p, "delay", None)
    extra = int(getattr(hw.numerics, "delay_bits", 0)) if delay is not None else 0
    return int(p.num_weight_bits) + extra


def synapse_bits(p, hw: HardwareSpec) -> int:
    """Bits one stored sparse (or expanded conv) synapse of projection ``p`` takes."""
    return weight_bits(p, hw) + hw.core.synapse_index_bits


def kernel_bits_per_channel(p, hw: HardwareSpec) -> int:
    """Bits of one output channel's shared conv kernel (0 when kernels are not shared)."""
    if isinstance(p.conn, Conv) and hw.core.conv_kernel_shared:
        return int(np.prod(p.conn.weight.shape[1:])) * int(p.num_weight_bits)
    return 0


def synapse_bits_per_neuron(p, hw: HardwareSpec, rows: np.ndarray | None = None) -> np.ndarray:
    """Synaptic memory each post neuron of ``p`` needs apart from shared kernels (bits,
    ``(n_post,)``)."""
    conn = p.conn
    if isinstance(conn, Dense):
        return np.full(conn.shape[0], conn.shape[1] * weight_bits(p, hw), dtype=np.int64)
    if isinstance(conn, Conv) and hw.core.conv_kernel_shared:
        return np.zeros(conn.shape[0], dtype=np.int64)
    rows = pattern(conn).rows() if rows is None else rows
    return rows * synapse_bits(p, hw)


class FanIn:
    """The synapses into one group, ready for slicing: per-neuron memory and fan-in as prefix
    sums, shared conv kernels per channel, and row windows of global source ids."""

    def __init__(self, group, incoming, index: SourceIndex, hw: HardwareSpec,
                 scratch: np.ndarray | None = None):
        self.group = group
        # (total,) int64 work array shared by the fan-ins of one network, kept at NOT_SEEN
        self.scratch = _scratch(index) if scratch is None else scratch
        self.n = group.n
        self.parts = []
        bits = np.zeros(self.n, dtype=np.int64)
        fanin = np.zeros(self.n, dtype=np.int64)
        self.kernels = []          # (projection, neurons per channel, bits per channel)
        for p in incoming:
            pat = pattern(p.conn)
            rows = pat.rows()
            fanin += rows
            bits += synapse_bits_per_neuron(p, hw, rows)
            kb = kernel_bits_per_channel(p, hw)
            if kb:
                self.kernels.append((p, pat.P, kb))
            self.parts.append((p, index.offset(p.src), pat))
        self.bits = bits
        self.fanin = fanin
        self.bits_prefix = np.concatenate([[0], np.cumsum(bits)])
        self.fanin_prefix = np.concatenate([[0], np.cumsum(fanin)])

    def kernel_bits(self, a: int, b: int) -> int:
        """Shared-kernel bits of a core holding neurons ``a:b``."""
        return sum(((b - 1) // P - a // P + 1) * kb for _, P, kb in self.kernels) if b > a else 0

    def memory(self, a: int, b: int) -> int:
        """Synaptic memory (bits) of a core holding neurons ``a:b``."""
        return int(self.bits_prefix[b] - self.bits_prefix[a]) + self.kernel_bits(a, b)

    def memory_upto(self, a: int, hi: int) -> np.ndarray:
        """Memory of ``a:r+1`` for every ``r`` in ``a:hi`` (non-decreasing), ``(hi − a,)``."""
        r = np.arange(a, hi, dtype=np.int64)
        mem = self.bits_prefix[a + 1:hi + 1] - self.bits_prefix[a]
        for _, P, kb in self.kernels:
            mem = mem + (r // P - a // P + 1) * kb
        return mem

    def neuron_memory(self) -> np.ndarray:
        """Memory one neuron alone needs, ``(n,)``."""
        out = self.bits.copy()
        for _, _, kb in self.kernels:
            out += kb
        return out

    def window(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Synapses into neurons ``a:b``: ``(row − a, global source id)`` in row order."""
        rows, srcs = [], []
        for _, off, pat in self.parts:
            r, c = pat.window(a, b)
            if len(r):
                rows.append(r)
                srcs.append(c + off)
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        if len(rows) == 1:
            return rows[0], srcs[0]
        r, s = np.concatenate(rows), np.concatenate(srcs)
        order = np.argsort(r, kind="stable")
        return r[order], s[order]

    def first_sources(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Distinct sources of neurons ``a:b`` (sorted) and the first row (− a) using each."""
        rows, src = self.window(a, b)
        if not len(src):
            return src, rows
        # The earliest position of every source, without sorting the window: a scatter-min
        # into the shared work array, read back, then reset.
        pos = np.arange(len(src))
        np.minimum.at(self.scratch, src, pos)
        first = self.scratch[src] == pos
        self.scratch[src] = NOT_SEEN
        uniq, frow = src[first], rows[first]
        order = np.argsort(uniq)
        return uniq[order], frow[order]

    def sources(self, a: int, b: int) -> np.ndarray:
        """Distinct global sources of neurons ``a:b``, sorted: the core's input axons."""
        return self.first_sources(a, b)[0]


NOT_SEEN = np.iinfo(np.int64).max


def _scratch(index: SourceIndex) -> np.ndarray:
    return np.full(index.total, NOT_SEEN, dtype=np.int64)


def fanins(groups, projections, index: SourceIndex, hw: HardwareSpec) -> list[FanIn]:
    scratch = _scratch(index)
    into = incoming_index(projections)
    return [FanIn(g, into.get(g.name, ()), index, hw, scratch)
            for g in groups]


# --------------------------------------------------------------------------- slices


@dataclass(frozen=True, eq=False)
class SliceSources:
    """The distinct sources (input axons) of every slice, as compressed rows: slice ``k``
    listens to global sources ``ids[indptr[k]:indptr[k+1]]``."""

    indptr: np.ndarray
    ids: np.ndarray

    @classmethod
    def from_lists(cls, lists) -> SliceSources:
        counts = np.array([len(x) for x in lists], dtype=np.int64)
        ids = np.concatenate(lists).astype(np.int64) if lists else np.zeros(0, np.int64)
        return cls(np.concatenate([[0], np.cumsum(counts)]), ids)

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.indptr)

    def of(self, k: int) -> np.ndarray:
        return self.ids[self.indptr[k]:self.indptr[k + 1]]

    def slice_ids(self) -> np.ndarray:
        """The slice of every entry of ``ids``."""
        return np.repeat(np.arange(len(self.indptr) - 1), self.counts)


def slice_sources(fan: list[FanIn], slices: np.ndarray) -> SliceSources:
    """Distinct sources of every slice ``(group, start, stop)`` row."""
    return SliceSources.from_lists([fan[int(g)].sources(int(a), int(b))
                                    for g, a, b in slices[:, :3]])


def out_degree(src: SliceSources, total: int) -> np.ndarray:
    """Output axons every source uses: the number of slices (cores) it reaches, ``(total,)``."""
    return np.bincount(src.ids, minlength=total).astype(np.int64)


def fanout(projections, index: SourceIndex) -> np.ndarray:
    """Synapses each source drives per spike (all projections), ``(total,)``."""
    out = np.zeros(index.total, dtype=np.int64)
    for p in projections:
        off = index.offset(p.src)
        out[off:off + p.conn.shape[1]] += pattern(p.conn).cols()
    return out
