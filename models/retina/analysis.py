"""What emerged in a trained retina: cell types, ON/OFF, receptive-field sizes, tiling; plots.

A cell type's receptive field is its convolution kernel (all cells of a type share it and sit
on the type's mosaic lattice, spacing ``STRIDE`` pixels). For each type:

- ``polarity``: ON if the kernel's largest-magnitude weight is positive (the cell fires for
  light at its centre), OFF if negative;
- ``centre_radius_px``: RMS radius of the centre (the kernel's weights of the centre's sign,
  weighted by their squared value, around their weighted centroid);
- ``surround_ratio``: Σ|opposite-sign weights| / Σ|centre-sign weights| (0: no surround,
  about 1: a balanced centre-surround field that ignores uniform light);
- ``coverage``: π·r² / STRIDE², how many cells of the type cover a point (≥ 1 tiles the
  image without gaps);
- ``spikes_per_cell``: mean spikes per cell per test image; a type is *active* when its cells
  fire at least ``ACTIVE_SPIKES`` times per image on average.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from neurocc.models.retina.model import STRIDE, Retina, cell_centres, grid_size

ACTIVE_SPIKES = 0.05


@torch.no_grad()
def analyse(net: Retina, n: int = 500) -> dict:
    """Per-type statistics and a summary (see the module docstring)."""
    from neurocc.models.retina import data

    x, _ = data.test_inputs()
    _, counts = net(torch.from_numpy(x[:, :n]))
    g = grid_size(net.patch)
    per_type = counts.reshape(len(counts), net.types, g * g).mean(dim=(0, 2)).numpy()
    kernels = net.conv.weight.detach().numpy()[:, 0]
    types = []
    for k, w in enumerate(kernels):
        peak = np.unravel_index(np.argmax(np.abs(w)), w.shape)
        sign = 1.0 if w[peak] > 0 else -1.0
        centre = np.clip(sign * w, 0, None)
        surround = np.clip(-sign * w, 0, None)
        rr, cc = np.indices(w.shape)
        m = centre**2
        r0, c0 = (rr * m).sum() / m.sum(), (cc * m).sum() / m.sum()
        radius = float(np.sqrt((((rr - r0) ** 2 + (cc - c0) ** 2) * m).sum() / m.sum()))
        types.append({
            "type": k, "polarity": "ON" if sign > 0 else "OFF",
            "centre_radius_px": round(radius, 3),
            "surround_ratio": round(float(surround.sum() / centre.sum()), 3),
            "centre_offset_px": [round(float(r0 - (w.shape[0] - 1) / 2), 2),
                                 round(float(c0 - (w.shape[1] - 1) / 2), 2)],
            "coverage": round(float(np.pi * radius**2 / STRIDE**2), 3),
            "bias": round(float(net.conv.bias[k]), 4),
            "spikes_per_cell": round(float(per_type[k]), 4),
            "active": bool(per_type[k] >= ACTIVE_SPIKES),
        })
    active = [t for t in types if t["active"]]
    summary = {
        "types": len(types), "active_types": len(active),
        "on_types": sum(t["polarity"] == "ON" for t in active),
        "off_types": sum(t["polarity"] == "OFF" for t in active),
        "centre_radius_px_active": sorted(t["centre_radius_px"] for t in active),
        "per_type": types,
    }
    return {"summary": summary, "kernels": kernels, "per_type_spikes": per_type}


def plot_all(net: Retina, cells: dict, out_dir: Path) -> list[Path]:
    return [plot_receptive_fields(cells, out_dir / "receptive_fields.png"),
            plot_mosaics(net, cells, out_dir / "mosaics.png"),
            plot_reconstructions(net, out_dir / "reconstructions.png")]


@torch.no_grad()
def plot_reconstructions(net: Retina, path: Path, n: int = 6) -> Path:
    """Test patches, their input spike counts, the ganglion-cell counts per active type and
    the float model's reconstruction."""
    plt = _mpl()
    from neurocc.models.retina import data

    x, patches = data.test_inputs()
    rec, counts = net(torch.from_numpy(x[:, :n]))
    rec = rec.numpy().reshape(n, net.patch, net.patch) + data.mean_luminance()
    g = grid_size(net.patch)
    counts = counts.numpy().reshape(n, net.types, g, g)
    active = [k for k in range(net.types) if counts[:, k].sum() > 0]
    cols = 3 + len(active)
    fig, axes = plt.subplots(n, cols, figsize=(1.3 * cols, 1.35 * n))
    titles = ["patch", "input spikes", "reconstruction"] + [f"type {k} spikes" for k in active]
    for i in range(n):
        panels = [patches[i, 0], x[:, i, 0].sum(0), rec[i]] + [counts[i, k] for k in active]
        for j, img in enumerate(panels):
            ax = axes[i, j]
            if j == 0 or j == 2:
                ax.imshow(img, cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(img, cmap="magma", vmin=0)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=6)
    fig.suptitle("Retina: test patches, spikes and float reconstructions", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_receptive_fields(cells: dict, path: Path) -> Path:
    """One panel per cell type (its kernel) and the radial profiles of the active types."""
    plt = _mpl()
    kernels, types = cells["kernels"], cells["summary"]["per_type"]
    k = len(kernels)
    fig, axes = plt.subplots(2, k, figsize=(1.7 * k, 3.9),
                             gridspec_kw={"height_ratios": [1, 0.8]})
    for i, (w, t) in enumerate(zip(kernels, types, strict=True)):
        lim = float(np.abs(w).max())
        ax = axes[0, i]
        ax.imshow(w, cmap="RdBu_r" if t["active"] else "Greys", vmin=-lim, vmax=lim)
        ax.set_xticks([])
        ax.set_yticks([])
        state = "" if t["active"] else " (silent)"
        ax.set_title(f"type {i}: {t['polarity']}{state}\nr={t['centre_radius_px']:.1f}px "
                     f"{t['spikes_per_cell']:.2f} sp", fontsize=7)
        ax = axes[1, i]
        c = (np.array(w.shape) - 1) / 2 + np.array(t["centre_offset_px"])
        rr, cc = np.indices(w.shape)
        d = np.hypot(rr - c[0], cc - c[1]).ravel()
        color = "0.6" if not t["active"] else "C3" if t["polarity"] == "ON" else "C0"
        ax.plot(d, w.ravel(), ".", ms=3, color=color)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylim(-lim * 1.05, lim * 1.05)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("distance from centre (px)", fontsize=6)
    axes[1, 0].set_ylabel("weight", fontsize=7)
    fig.suptitle("Retina: learned receptive fields, one kernel per cell type (each scaled to "
                 "its own maximum; red positive, blue negative; grey: silent type)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_mosaics(net: Retina, cells: dict, path: Path) -> Path:
    """Each active type's mosaic over the patch: one circle of the type's centre radius per
    cell, at the cell's centre (plus the centre offset the kernel learned)."""
    plt = _mpl()
    from matplotlib.patches import Circle

    types = [t for t in cells["summary"]["per_type"] if t["active"]]
    centres = cell_centres(net.patch).reshape(-1, 2)
    n = max(len(types), 1)
    fig, axes = plt.subplots(1, n + 1, figsize=(2.2 * (n + 1), 2.6))
    axes = np.atleast_1d(axes)
    for ax, t in zip(axes[:-1], types, strict=False):
        _draw_mosaic(ax, centres, [t], Circle, net.patch)
        ax.set_title(f"type {t['type']} {t['polarity']}\ncoverage {t['coverage']:.2f}",
                     fontsize=7)
    _draw_mosaic(axes[-1], centres, types, Circle, net.patch)
    axes[-1].set_title("all active types", fontsize=7)
    fig.suptitle("Mosaics: each type tiles the patch on a lattice of spacing "
                 f"{STRIDE} px (circles: centre radius)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _draw_mosaic(ax, centres, types, circle, patch):
    ax.add_patch(_rect(patch))
    for t in types:
        color = "C3" if t["polarity"] == "ON" else "C0"
        off = np.array(t["centre_offset_px"])
        for r, c in centres + off:
            ax.add_patch(circle((c, r), t["centre_radius_px"], fill=False, color=color,
                                lw=0.8, alpha=0.8))
    ax.set_xlim(-4, patch + 3)
    ax.set_ylim(patch + 3, -4)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _rect(patch):
    from matplotlib.patches import Rectangle

    return Rectangle((-0.5, -0.5), patch, patch, fill=False, color="k", lw=1)


def plot_information_energy(rows: list[dict], path: Path) -> Path:
    """The information-energy curve: bits and R² (emulator) against the dynamic energy per
    image on Loihi 2, with the synaptic ops behind it and the cell types that survive."""
    plt = _mpl()
    rows = sorted(rows, key=lambda r: r["price"])
    e_tot = np.array([r["emulator_energy_j"] for r in rows]) * 1e6
    static = np.array([r["emulator_energy_breakdown_j"].get("static", 0.0) for r in rows]) * 1e6
    e_dyn = e_tot - static
    labels = [f"{r['price']:g}" for r in rows]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.7))
    for ax, key, name in ((axes[0], "emulator_bits", "bits per patch (Gaussian-channel est.)"),
                          (axes[1], "emulator_r2", "variance explained R²")):
        y = np.array([r[key] for r in rows])
        ax.plot(e_dyn, y, "o-", color="C2" if key.endswith("bits") else "C0")
        for x, v, lab in zip(e_dyn, y, labels, strict=True):
            ax.annotate(lab, (x, v), fontsize=6, textcoords="offset points", xytext=(3, -8))
        ax.set_xlabel("dynamic energy per image (µJ, emulator, Loihi 2)", fontsize=8)
        ax.set_ylabel(name, fontsize=8)
    axes[0].set_title(f"static power adds {static.min():.0f}-{static.max():.0f} µJ per image",
                      fontsize=7)
    ax = axes[2]
    syn = [r.get("emulator_synops_by_projection", {}) for r in rows]
    names = sorted({k for s in syn for k in s})
    xs = np.arange(len(rows))
    bottom = np.zeros(len(rows))
    for k in names:
        vals = np.array([s.get(k, 0.0) for s in syn]) / 1e3
        ax.bar(xs, vals, bottom=bottom, label=k.replace("<input>", "photoreceptors"))
        bottom += vals
    ax.set_xticks(xs, labels, fontsize=6, rotation=45)
    ax.set_xlabel("energy price (1/J)", fontsize=8)
    ax.set_ylabel("synaptic ops per image (thousands)", fontsize=8)
    ax.legend(fontsize=6)
    ax = axes[3]
    on = np.array([r["on_types"] for r in rows])
    off = np.array([r["off_types"] for r in rows])
    ax.bar(xs, on, color="C3", label="ON types")
    ax.bar(xs, off, bottom=on, color="C0", label="OFF types")
    ax.set_xticks(xs, labels, fontsize=6, rotation=45)
    ax.set_xlabel("energy price (1/J)", fontsize=8)
    ax.set_ylabel("active cell types", fontsize=8)
    ax.legend(fontsize=6)
    fig.suptitle("Retina: information-energy curve over the energy price (point labels: "
                 "price per joule)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
