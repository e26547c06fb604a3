"""Train the retina under an energy price; deploy it through neurocc; sweep the price.

    python -m neurocc.models.retina.training            # the committed artifacts
    python -m neurocc.models.retina.training --sweep    # + the information-energy curve

Loss per batch: mean squared error per pixel of the reconstruction of ``x − mean`` plus
``price · E``, with ``E`` the joules per image that the ganglion cells' spikes cost on the
hardware config (:func:`.model.spike_price`). ``price`` is in squared-luminance units per
joule: ``price = 1e5`` values a microjoule per image as much as a mean squared error of 0.1.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nir
import numpy as np
import torch

from neurocc.models.common import rounded, torch_setup, versions
from neurocc.models.retina import data
from neurocc.models.retina.model import (
    BETA,
    KERNEL,
    PADDING,
    STRIDE,
    THRESHOLD,
    TYPES,
    Retina,
    spike_price,
    to_nir,
)
from neurocc.models.retina.quality import quality
from neurocc.models.zoo import ARTIFACTS, deploy
from neurocc.reports.progress import Progress

ARTIFACT_DIR = ARTIFACTS / "retina"
HW = "loihi2"
PRICE = 1e4
"""Default energy price (per joule per image) of the committed model."""
EPOCHS = 16
BATCH_SIZE = 100
LEARNING_RATE = 3e-3
SWEEP_PRICES = (0.0, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6)
SWEEP_DEPLOY_SAMPLES = None


def fit(price: float = PRICE, seed: int = 0, progress: bool = True, epochs: int = EPOCHS,
        label: str = "retina") -> dict:
    """Train one retina at ``price``; return the model, its spike price and float metrics."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = Retina()
    cost = spike_price(net.mask.numpy(), HW)
    e_cell = torch.from_numpy(cost.per_cell_j.astype(np.float32))
    mu = data.mean_luminance()
    x_train = data.patches("train", data.N_TRAIN, data.TRAIN_SEED)
    target_all = torch.from_numpy((x_train - mu).reshape(len(x_train), -1))
    opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    bar = Progress(epochs + 1, label, progress)
    t0 = time.perf_counter()
    for _ in range(epochs):
        spikes = torch.from_numpy(data.encode(x_train, data.STEPS, rng))
        order = rng.permutation(len(x_train))
        tot_mse, tot_e = 0.0, 0.0
        for first in range(0, len(order), BATCH_SIZE):
            idx = torch.from_numpy(order[first:first + BATCH_SIZE])
            rec, counts = net(spikes[:, idx])
            mse = torch.mean((rec - target_all[idx]) ** 2)
            energy = (counts @ e_cell).mean()
            loss = mse + price * energy
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot_mse += float(mse.detach()) * len(idx)
            tot_e += float(energy.detach()) * len(idx)
        sched.step()
        bar.update(1, f"mse {tot_mse / len(order):.4f} spike energy "
                      f"{tot_e / len(order) * 1e9:.1f} nJ/image")
    net.eval()
    result = evaluate(net)
    bar.update(1, f"test r2 {result['r2']:.3f}")
    return {"net": net, "price": price, "spike_price": cost, "result": result,
            "train_seconds": time.perf_counter() - t0}


@torch.no_grad()
def evaluate(net: Retina, n: int | None = None) -> dict:
    """Float quality and activity on the fixed test patches (the first ``n``)."""
    x, patches = data.test_inputs()
    if n is not None:
        x, patches = x[:, :n], patches[:n]
    rec, counts = net(torch.from_numpy(x))
    cost = spike_price(net.mask.numpy(), HW)
    q = quality(rec.numpy() + data.mean_luminance(), patches)
    return {**q, "gc_spikes_per_image": float(counts.sum(1).mean()),
            "spike_energy_j_per_image": float((counts.numpy() @ cost.per_cell_j).mean()),
            "samples": len(patches)}


def train(seed: int = 0, out_dir: str | Path | None = None, progress: bool = True,
          price: float = PRICE) -> dict:
    """Train the default retina, write ``model.nir``, ``metrics.json`` and the receptive-field
    plots to ``out_dir`` (default: the committed artifacts) and return the metrics."""
    restore = torch_setup()
    try:
        out = Path(out_dir or ARTIFACT_DIR)
        out.mkdir(parents=True, exist_ok=True)
        fitted = fit(price, seed, progress)
        net = fitted["net"]
        nir.write(out / "model.nir", to_nir(net))
        chip = deploy("retina", HW, out / "model.nir")
        from neurocc.models.retina.analysis import analyse, plot_all

        cells = analyse(net)
        plot_all(net, cells, out)
        r = fitted["result"]
        metrics = {
            "model": "retina", "seed": seed, "steps": data.STEPS, "dt": data.DT,
            "reset": data.RESET, "encoding": data.ENCODING, "patch": data.PATCH,
            "nir_path": "hand-built with the nir package: Input -> Conv2d -> LIF (ganglion "
                        "cells) -> Flatten -> Affine (local decoder) -> LI (perfect "
                        "integrator; its membrane is the reconstruction) -> Output",
            "architecture": f"Conv2d(1,{TYPES},{KERNEL},stride={STRIDE},padding={PADDING})-LIF"
                            f"(beta={BETA},threshold={THRESHOLD})-Affine(local decoder)-LI",
            "mean_luminance": data.mean_luminance(),
            "energy_price_per_j": price, "hw_for_price": HW,
            "spike_price": fitted["spike_price"].describe(),
            "epochs": EPOCHS, "batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE,
            "train_samples": data.N_TRAIN, "test_samples": r["samples"],
            "train_seconds": round(fitted["train_seconds"], 1),
            "float_test_r2": r["r2"], "float_test_bits": r["bits"],
            "float_test_mse": r["mse"],
            "float_gc_spikes_per_image": r["gc_spikes_per_image"],
            "float_spike_energy_j_per_image": r["spike_energy_j_per_image"],
            "emulator_loihi2": rounded(chip),
            "emulator_minus_float_r2": round(chip["r2"] - r["r2"], 5),
            "cells": cells["summary"],
            "versions": versions(),
        }
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        return metrics
    finally:
        restore()


def sweep(seed: int = 0, out_dir: str | Path | None = None, progress: bool = True,
          prices=SWEEP_PRICES) -> list[dict]:
    """Train one retina per energy price; measure quality and joules per image on the
    emulator (Loihi 2); write ``sweep.json`` and ``information_energy.png``."""
    import tempfile

    from neurocc.models.retina.analysis import analyse

    restore = torch_setup()
    out = Path(out_dir or ARTIFACT_DIR)
    rows = []
    try:
        for price in prices:
            fitted = fit(price, seed, progress, label=f"price {price:g}")
            r = fitted["result"]
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.nir"
                nir.write(path, to_nir(fitted["net"]))
                chip = deploy("retina", HW, path, n=SWEEP_DEPLOY_SAMPLES)
            cells = analyse(fitted["net"])["summary"]
            rows.append({"price": price, "float_r2": r["r2"], "float_bits": r["bits"],
                         "gc_spikes_per_image": r["gc_spikes_per_image"],
                         "spike_energy_j_per_image": r["spike_energy_j_per_image"],
                         "active_types": cells["active_types"], "on_types": cells["on_types"],
                         "off_types": cells["off_types"],
                         **{f"emulator_{k}": v for k, v in rounded(chip).items()}})
    finally:
        restore()
    (out / "sweep.json").write_text(json.dumps(rows, indent=2) + "\n")
    from neurocc.models.retina.analysis import plot_information_energy

    plot_information_energy(rows, out / "information_energy.png")
    return rows


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", default=None)
    ap.add_argument("--sweep", action="store_true", help="also run the energy-price sweep")
    a = ap.parse_args()
    m = train(a.seed, a.out_dir)
    print(json.dumps({k: v for k, v in m.items() if k not in ("versions",)}, indent=1))
    if a.sweep:
        sweep(a.seed, a.out_dir)
