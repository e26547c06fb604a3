"""Geometry of the system's mesh: where a core sits, how far two cores are, and the directed
links of the tile grid (shared by place, route and the cost model).

The system is one grid of tiles: chip ``(cx, cy)`` of the ``chip_mesh`` holds tiles
``(cx·TX + tx, cy·TY + ty)`` for its ``tile_mesh`` ``(TX, TY)``; a tile's router serves its
``cores_per_tile`` cores. A message from core ``a`` to core ``b`` travels first along x (on
``a``'s row), then along y (on ``b``'s column). Each step between neighbouring tiles uses one
directed link; a step between tiles of different chips is a **chip crossing** (a
chip-to-chip link), any other step a **hop** (east-west for x, north-south for y). So

    hops_ew = |Δx| − |Δcx|,  hops_ns = |Δy| − |Δcy|,  chip crossings = |Δcx| + |Δcy|.

Links are numbered ``direction · GX·GY + y · GX + x`` for the link leaving tile ``(x, y)``
in direction ``+x, −x, +y, −y`` (``GX``, ``GY``: tiles in the whole system).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurocc.hw_configs import HardwareSpec

DIRECTIONS = ("+x", "-x", "+y", "-y")


def core_xy(cores, hw: HardwareSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Global tile coordinates ``(x, y)`` and chip coordinates ``(cx, cy)`` of global cores."""
    m = hw.mesh
    cores = np.asarray(cores, dtype=np.int64)
    chip, local = np.divmod(cores, m.cores_per_chip)
    tile = local // m.cores_per_tile
    tx, ty = tile % m.tile_mesh[0], tile // m.tile_mesh[0]
    cx, cy = chip % m.chip_mesh[0], chip // m.chip_mesh[0]
    return cx * m.tile_mesh[0] + tx, cy * m.tile_mesh[1] + ty, cx, cy


def path_counts(a, b, hw: HardwareSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """East-west hops, north-south hops and chip crossings from cores ``a`` to cores ``b``
    (broadcast), under dimension-order routing."""
    xa, ya, cxa, cya = core_xy(a, hw)
    xb, yb, cxb, cyb = core_xy(b, hw)
    dcx, dcy = np.abs(cxb - cxa), np.abs(cyb - cya)
    return np.abs(xb - xa) - dcx, np.abs(yb - ya) - dcy, dcx + dcy


@dataclass(frozen=True, eq=False)
class LinkMesh:
    """The directed links of the system's tile grid and what a message costs on each."""

    hw: HardwareSpec

    @property
    def grid(self) -> tuple[int, int]:
        m = self.hw.mesh
        return m.chip_mesh[0] * m.tile_mesh[0], m.chip_mesh[1] * m.tile_mesh[1]

    @property
    def n_links(self) -> int:
        gx, gy = self.grid
        return 4 * gx * gy

    def is_chip_link(self) -> np.ndarray:
        """``(n_links,)`` True where the link joins two chips."""
        gx, gy = self.grid
        tx, ty = self.hw.mesh.tile_mesh
        x = np.arange(gx)[None, :].repeat(gy, 0)
        y = np.arange(gy)[:, None].repeat(gx, 1)
        out = np.stack([(x + 1) % tx == 0, x % tx == 0, (y + 1) % ty == 0, y % ty == 0])
        exists = np.stack([x < gx - 1, x > 0, y < gy - 1, y > 0])
        return (out & exists).ravel()

    def seconds_per_message(self) -> np.ndarray:
        """``(n_links,)``: time a link is busy per message (its hop or crossing latency)."""
        lat = self.hw.latency
        gx, gy = self.grid
        t = np.repeat([lat.hop_ew_s, lat.hop_ew_s, lat.hop_ns_s, lat.hop_ns_s], gx * gy)
        return np.where(self.is_chip_link(), lat.chip_crossing_s, t)

    def path_links(self, a, b) -> tuple[np.ndarray, np.ndarray]:
        """Every link of every route: ``(message i, link)`` pairs for messages from cores
        ``a[i]`` to ``b[i]`` (x first on ``a``'s row, then y on ``b``'s column) — the links
        ``loads`` charges, listed instead of summed."""
        gx, gy = self.grid
        xa, ya, _, _ = core_xy(a, self.hw)
        xb, yb, _, _ = core_xy(b, self.hw)
        out_i, out_l = [], []
        for start, delta, fixed, along_x in ((xa, xb - xa, ya, True), (ya, yb - ya, xb, False)):
            n = np.abs(delta)
            i = np.repeat(np.arange(len(start)), n)
            k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)   # 0.. within a leg
            forward = np.repeat(delta > 0, n)
            pos = np.where(forward, np.repeat(start, n) + k, np.repeat(start, n) - k)
            line = np.repeat(fixed, n)
            d = np.where(forward, 0, 1) + (0 if along_x else 2)
            x, y = (pos, line) if along_x else (line, pos)
            out_i.append(i)
            out_l.append(d * gx * gy + y * gx + x)
        return np.concatenate(out_i), np.concatenate(out_l)

    def loads(self, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Messages on every link when message ``i`` goes from core ``a[i]`` to ``b[i]``
        ``w[..., i]`` times; ``w`` may have leading batch dimensions → ``(..., n_links)``."""
        gx, gy = self.grid
        w = np.asarray(w, dtype=np.float64)
        lead = w.shape[:-1]
        if w.shape[-1] == 0:
            return np.zeros((*lead, self.n_links))
        w2 = w.reshape(-1, w.shape[-1])
        nb = w2.shape[0]
        xa, ya, _, _ = core_xy(a, self.hw)
        xb, yb, _, _ = core_xy(b, self.hw)
        out = np.zeros((nb, 4, gy, gx))
        # Along x on row ya, then along y on column xb; difference arrays, then prefix sums.
        for d, (line, lo, hi, n_line, length) in enumerate((
                (ya, xa, xb, gy, gx), (ya, xb + 1, xa + 1, gy, gx),
                (xb, ya, yb, gx, gy), (xb, yb + 1, ya + 1, gx, gy))):
            m = (xb > xa, xb < xa, yb > ya, yb < ya)[d]
            if not m.any():
                continue
            size = n_line * (length + 1)
            base = (np.arange(nb) * size)[:, None]
            ww = w2[:, m]
            start = (base + (line[m] * (length + 1) + lo[m])[None, :]).ravel()
            stop = (base + (line[m] * (length + 1) + hi[m])[None, :]).ravel()
            diff = (np.bincount(start, ww.ravel(), nb * size)
                    - np.bincount(stop, ww.ravel(), nb * size))
            acc = np.cumsum(diff.reshape(nb, n_line, length + 1), axis=2)[:, :, :length]
            out[:, d] = acc if d < 2 else acc.transpose(0, 2, 1)
        return out.reshape(*lead, self.n_links)

    def describe(self, link: int) -> dict:
        """Where a link is: its direction, and the chip and tile it leaves and enters."""
        gx, gy = self.grid
        tx, ty = self.hw.mesh.tile_mesh
        d, rest = divmod(int(link), gx * gy)
        y, x = divmod(rest, gx)
        x2, y2 = x + (1, -1, 0, 0)[d], y + (0, 0, 1, -1)[d]

        def at(x, y):
            return {"chip": (y // ty) * self.hw.mesh.chip_mesh[0] + x // tx,
                    "tile": [x % tx, y % ty]}

        return {"link": int(link), "direction": DIRECTIONS[d], "from": at(x, y),
                "to": at(x2, y2), "chip_to_chip": bool(self.is_chip_link()[link])}
