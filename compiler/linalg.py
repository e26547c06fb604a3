"""Small numpy kernels shared by the frontend, the reference simulator and the emulator.

Convolution uses PyTorch's cross-correlation convention on ``(B, C, H, W)`` arrays. Integer
inputs are computed in float64 BLAS and cast back by the emulator: exact while every partial
sum stays below ``FLOAT64_EXACT`` (2^53), which the emulator checks per projection.
"""

from __future__ import annotations

import numpy as np

from neurocc.api.jit import numba

FLOAT64_EXACT = 2**53


def pair(v) -> tuple[int, int]:
    """``3`` or ``[3]`` or ``(3, 3)`` → ``(3, 3)``; anything but one or two whole numbers is
    a ``ValueError``."""
    if np.iscomplexobj(v):
        raise ValueError(f"{v!r} is complex, not one or two whole numbers")
    a = np.atleast_1d(np.asarray(v, dtype=np.float64)).ravel()
    if a.size not in (1, 2) or not np.all(np.isfinite(a)) or np.any(a != np.round(a)) \
            or np.any(np.abs(a) > 2**31):
        raise ValueError(f"{v!r} is not one or two whole numbers")
    a = a.astype(np.int64)
    if a.size == 1:
        return (int(a[0]), int(a[0]))
    return (int(a[0]), int(a[1]))


def conv_out_hw(hw, kernel, stride, padding, dilation) -> tuple[int, int]:
    return tuple(
        (hw[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
        for i in range(2)
    )


def _im2col(x: np.ndarray, kh: int, kw: int, stride, padding, dilation) -> np.ndarray:
    """``(B, C, H, W)`` → ``(B, C, kh*kw, Ho*Wo)`` patches."""
    b, c, h, w = x.shape
    ho, wo = conv_out_hw((h, w), (kh, kw), stride, padding, dilation)
    if padding != (0, 0):
        x = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    cols = np.empty((b, c, kh * kw, ho * wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dilation[0], j * dilation[1]
            patch = x[:, :, r0 : r0 + stride[0] * (ho - 1) + 1 : stride[0],
                      c0 : c0 + stride[1] * (wo - 1) + 1 : stride[1]]
            cols[:, :, i * kw + j, :] = patch.reshape(b, c, ho * wo)
    return cols


def conv2d(x: np.ndarray, weight: np.ndarray, stride=(1, 1), padding=(0, 0),
           dilation=(1, 1), groups: int = 1, dtype=np.float64) -> np.ndarray:
    """Cross-correlation of ``x`` ``(B, C_in, H, W)`` with ``weight``
    ``(C_out, C_in // groups, kH, kW)`` → ``(B, C_out, H_out, W_out)``, computed in
    ``dtype`` (float64 by default; float32 is exact for integer sums below 2^24)."""
    x = np.asarray(x, dtype=dtype)
    b, c_in, h, w = x.shape
    c_out, cpg, kh, kw = weight.shape
    ho, wo = conv_out_hw((h, w), (kh, kw), stride, padding, dilation)
    cols = _im2col(x, kh, kw, stride, padding, dilation)            # (B, C_in, K, P)
    cols = cols.reshape(b, groups, cpg * kh * kw, ho * wo)          # (B, G, cpg*K, P)
    wg = np.asarray(weight, dtype=dtype).reshape(groups, c_out // groups, cpg * kh * kw)
    out = np.matmul(wg[None], cols)                                  # (B, G, C_out/G, P)
    return out.reshape(b, c_out, ho, wo)


def pool_kernel(channels: int, kernel: tuple[int, int], average: bool) -> np.ndarray:
    """Depthwise kernel ``(C, 1, kh, kw)`` that sums (or averages) each channel's window."""
    k = np.ones((channels, 1, *kernel))
    return k / (kernel[0] * kernel[1]) if average else k


def conv_matrix(conv) -> np.ndarray:
    """Expand a ``Conv`` connectivity to its dense ``(n_out, n_in)`` matrix."""
    n_in = int(np.prod(conv.in_shape))
    eye = np.eye(n_in).reshape(n_in, *conv.in_shape)
    out = conv2d(eye, conv.weight, conv.stride, conv.padding, conv.dilation, conv.groups)
    return out.reshape(n_in, -1).T.copy()


def conv_events_py(s, w_t, in_shape, out_shape, stride, padding, dilation, groups, out):
    """Event-driven convolution of binary rows, in place: for every nonzero ``s[r, j]``
    (input ``j`` of ``in_shape`` ``(C, H, W)``, flattened) add its kernel taps to ``out[r]``
    (``out_shape`` ``(O, HO, WO)``, flattened). ``w_t`` is the kernel as ``(C // groups,
    KH, KW, O)``. The same sums as ``conv2d`` (cross-correlation), exact in ``out``'s
    integer type; numpy twin of the compiled ``conv_events``."""
    C, H, W = in_shape
    n_out, HO, WO = out_shape
    cpg, KH, KW, _ = w_t.shape
    opg = n_out // groups
    for r, j in zip(*np.nonzero(s)):
        c, y, x = j // (H * W), (j // W) % H, j % W
        g, ci = divmod(c, cpg)
        for ky in range(KH):
            ty = y + padding[0] - ky * dilation[0]
            if ty < 0 or ty % stride[0] or ty // stride[0] >= HO:
                continue
            for kx in range(KW):
                tx = x + padding[1] - kx * dilation[1]
                if tx < 0 or tx % stride[1] or tx // stride[1] >= WO:
                    continue
                o = np.arange(g * opg, (g + 1) * opg)
                out[r, o * HO * WO + (ty // stride[0]) * WO + tx // stride[1]] += \
                    w_t[ci, ky, kx, g * opg:(g + 1) * opg]
    return out


def _conv_events_nb(s, w_t, in_shape, out_shape, stride, padding, dilation, groups, out):
    C, H, W = in_shape
    n_out, HO, WO = out_shape
    cpg, KH, KW, _ = w_t.shape
    opg = n_out // groups
    plane = HO * WO
    for r in range(s.shape[0]):
        for j in range(s.shape[1]):
            if s[r, j]:
                c = j // (H * W)
                y = (j // W) % H
                x = j % W
                g = c // cpg
                ci = c - g * cpg
                for ky in range(KH):
                    ty = y + padding[0] - ky * dilation[0]
                    if ty < 0 or ty % stride[0] != 0 or ty // stride[0] >= HO:
                        continue
                    oy = ty // stride[0]
                    for kx in range(KW):
                        tx = x + padding[1] - kx * dilation[1]
                        if tx < 0 or tx % stride[1] != 0 or tx // stride[1] >= WO:
                            continue
                        base = oy * WO + tx // stride[1]
                        for o in range(g * opg, (g + 1) * opg):
                            out[r, o * plane + base] += w_t[ci, ky, kx, o]
    return out


if numba is not None:
    conv_events = numba.njit(cache=True, nogil=True)(_conv_events_nb)
else:  # pragma: no cover - without the fast extra
    conv_events = conv_events_py


def spike_lists_py(bits, nnz: int) -> tuple[np.ndarray, np.ndarray]:
    """The nonzero entries of ``bits`` ``(R, n)`` row by row: ``ptr`` ``(R + 1,)`` and the
    column of each, ``idx`` (row ``r``'s are ``idx[ptr[r]:ptr[r + 1]]``, in order); ``nnz``
    their number, which the caller has counted already. The emulator makes them for a
    layer's sparse spikes (its event-driven synapses read them) and the activity counter
    reads the same lists, so the spikes of a layer are listed once."""
    r, idx = np.nonzero(bits)
    ptr = np.zeros(len(bits) + 1, np.int64)
    np.cumsum(np.bincount(r, minlength=len(bits)), out=ptr[1:])
    return ptr, idx.astype(np.int64)


def _spike_lists_nb(bits, nnz):
    # one branch-free pass: every spike's column, row by row; the write past the last
    # spike needs one slot more
    R, n = bits.shape
    ptr = np.zeros(R + 1, np.int64)
    idx = np.empty(nnz + 1, np.int64)
    m = 0
    for r in range(R):
        e = bits[r]
        for j in range(n):
            idx[m] = j
            m += e[j] != 0
        ptr[r + 1] = m
    return ptr, idx[:m]


GATHER = 0x0102040810204080
"""Times a word of eight 0/1 bytes, its top byte holds them as 8 bits (byte ``k`` as bit
``k``: the partial products never overlap, so nothing carries)."""


def _spike_lists_words_nb(bits, nnz):
    # bool rows of whole 8-byte words: 8 words gathered into a 64-bit mask (one multiply
    # per word) whose set bits are visited one by one (trailing zeros), so that a silent
    # stretch costs a few instructions per 8 columns, not a store per column (digits'
    # 512-neuron layer at 4 %: 0.93 -> 0.53 ms)
    R, n = bits.shape
    nw = n // 8
    words = bits.reshape(R * n).view(np.uint64)
    ptr = np.zeros(R + 1, np.int64)
    idx = np.empty(nnz, np.int64)
    gather = np.uint64(GATHER)
    top = np.uint64(56)
    m = 0
    for r in range(R):
        base = r * nw
        for w0 in range(0, nw, 8):
            mask = np.uint64(0)
            if w0 + 8 <= nw:                # a whole 64 columns: unrolled
                for k in range(8):
                    mask |= ((words[base + w0 + k] * gather) >> top) << np.uint64(8 * k)
            else:
                for k in range(nw - w0):
                    mask |= ((words[base + w0 + k] * gather) >> top) << np.uint64(8 * k)
            while mask != np.uint64(0):
                idx[m] = 8 * w0 + trailing_zeros(mask)
                m += 1
                mask &= mask - np.uint64(1)
        ptr[r + 1] = m
    return ptr, idx


if numba is not None:
    from numba.cpython.unsafe.numbers import trailing_zeros

    _spike_lists_bytes = numba.njit(cache=True, nogil=True)(_spike_lists_nb)
    _spike_lists_words = numba.njit(cache=True, nogil=True)(_spike_lists_words_nb)

    def spike_lists(bits, nnz: int) -> tuple[np.ndarray, np.ndarray]:
        """``spike_lists_py``, compiled: by whole words for contiguous bool rows of a
        multiple of 8 (a bool is one byte, 0 or 1), byte by byte otherwise."""
        if bits.dtype == np.bool_ and bits.shape[1] % 8 == 0 and bits.flags.c_contiguous:
            return _spike_lists_words(bits, nnz)
        return _spike_lists_bytes(bits, nnz)
else:  # pragma: no cover - without the fast extra
    spike_lists = spike_lists_py


def _column_counts_nb(idx, n):
    # np.bincount's count, outside the GIL (the other chunks' threads wait on it)
    out = np.zeros(n, np.int64)
    for j in idx:
        out[j] += 1
    return out


column_counts = numba.njit(cache=True, nogil=True)(_column_counts_nb) if numba is not None \
    else (lambda idx, n: np.bincount(idx, minlength=n))
"""``column_counts(idx, n)``: how often each of ``0 .. n − 1`` occurs in ``idx`` (each
neuron's spikes, from its spike lists)."""


def join_lists(parts: list) -> tuple[np.ndarray, np.ndarray]:
    """Spike lists of consecutive blocks of rows as one (``spike_lists``'s ``(ptr, idx)``)."""
    if len(parts) == 1:
        return parts[0]
    ptrs, offset = [np.zeros(1, np.int64)], 0
    for ptr, _ in parts:
        ptrs.append(ptr[1:] + offset)
        offset += int(ptr[-1])
    return np.concatenate(ptrs), np.concatenate([idx for _, idx in parts])


def rows_of_lists(lists, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``r0 .. r1 − 1`` of spike lists ``(ptr, idx)``, as lists of their own."""
    ptr, idx = lists
    a, b = int(ptr[r0]), int(ptr[r1])
    return ptr[r0:r1 + 1] - a, idx[a:b]


def conv_geometry(conn) -> tuple[np.ndarray, ...]:
    """A ``Conv``'s shapes and (h, w) pairs as ``conv_events`` takes them: in_shape,
    out_shape, stride, padding, dilation (int64 arrays)."""
    return tuple(np.asarray(v, np.int64) for v in (
        conn.in_shape, conn.out_shape, conn.stride, conn.padding, conn.dilation))


def conv_taps(weight: np.ndarray, dtype) -> np.ndarray:
    """A conv kernel ``(O, C // groups, KH, KW)`` as ``conv_events`` reads it,
    ``(C // groups, KH, KW, O)`` contiguous, in ``dtype``."""
    return np.ascontiguousarray(np.asarray(weight).transpose(1, 2, 3, 0), dtype=dtype)
