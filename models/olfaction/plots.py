"""Plots of the olfaction model: the inhibition sweep and KC sparseness against concentration."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_sweep(rows: list[dict], path: Path) -> Path:
    """Accuracy and energy per odour against KC sparseness, one point per inhibition
    strength (labels: ``w_inh``)."""
    plt = _mpl()
    rows = sorted(rows, key=lambda r: r["kc_active_fraction"])
    frac = np.array([r["kc_active_fraction"] for r in rows]) * 100
    acc_f = np.array([r["float_accuracy"] for r in rows]) * 100
    acc_e = np.array([r["emulator_accuracy"] for r in rows]) * 100
    e_tot = np.array([r["emulator_energy_j"] for r in rows]) * 1e6
    static = np.array([r["emulator_energy_breakdown_j"]["static"] for r in rows]) * 1e6
    e_dyn = e_tot - static
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.7))
    ax = axes[0]
    ax.plot(frac, acc_f, "o-", label="float (snnTorch, chip timing)")
    ax.plot(frac, acc_e, "s--", label="emulator (Loihi 2 fixed point)")
    for x, y, r in zip(frac, acc_f, rows, strict=True):
        ax.annotate(f"{r['w_inh']:g}", (x, y), fontsize=7, textcoords="offset points",
                    xytext=(3, 4))
    ax.axvspan(5, 10, color="0.9", zorder=0, label="5-10 % (mushroom body)")
    ax.set_xscale("log")
    ax.set_xlabel("KCs active per odour (%)", fontsize=8)
    ax.set_ylabel("test accuracy (%)", fontsize=8)
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.plot(frac, e_dyn, "o-", color="C2", label="dynamic (events)")
    ax2 = ax.twinx()
    ax2.plot(frac, e_tot, "^:", color="C3", label="total (incl. static)")
    ax.set_xscale("log")
    ax.set_xlabel("KCs active per odour (%)", fontsize=8)
    ax.set_ylabel("dynamic energy per odour (µJ)", fontsize=8, color="C2")
    ax2.set_ylabel("total energy per odour (µJ, static × latency incl.)", fontsize=8,
                   color="C3")
    ax = axes[2]
    syn = [r.get("emulator_synops_by_projection", {}) for r in rows]
    names = sorted({k for s in syn for k in s}, key=lambda k: -max(s.get(k, 0) for s in syn))
    bottom = np.zeros(len(rows))
    xs = np.arange(len(rows))
    for k in names:
        vals = np.array([s.get(k, 0.0) for s in syn]) / 1e3
        ax.bar(xs, vals, bottom=bottom, label=k.replace("<input>", "receptors"))
        bottom += vals
    ax.set_xticks(xs, [f"{r['w_inh']:g}\n{100 * r['kc_active_fraction']:.0f}%" for r in rows],
                  fontsize=7)
    ax.set_xlabel("w_inh / KCs active", fontsize=8)
    ax.set_ylabel("synaptic ops per odour (thousands)", fontsize=8)
    ax.legend(fontsize=6)
    ax = axes[3]
    ax.plot(e_dyn, acc_e, "o", color="C1")
    for x, y, r in zip(e_dyn, acc_e, rows, strict=True):
        ax.annotate(f"w_inh {r['w_inh']:g}", (x, y), fontsize=7, textcoords="offset points",
                    xytext=(3, -9))
    ax.set_xlabel("dynamic energy per odour (µJ, emulator, Loihi 2)", fontsize=8)
    ax.set_ylabel("emulator accuracy (%)", fontsize=8)
    fig.suptitle("Olfaction: APL inhibition strength (labels: w_inh) sets KC sparseness, "
                 "which trades accuracy against energy", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_concentration(conc: np.ndarray, active: dict, path: Path) -> Path:
    """Per-odour fraction of active KCs against concentration, for each inhibition strength
    in ``active`` (label → ``(N,)`` fractions)."""
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    for i, (label, frac) in enumerate(active.items()):
        ax.plot(conc, np.asarray(frac) * 100, ".", ms=3, alpha=0.5, color=f"C{i}", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("odour concentration (a.u.)", fontsize=8)
    ax.set_ylabel("KCs active (%)", fontsize=8)
    ax.legend(fontsize=7, markerscale=3)
    ax.set_title("APL feedback keeps KC activity sparse across concentrations", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
