"""Train the olfactory readout, deploy the circuit through neurocc, sweep the inhibition.

Only the readout (KC → output, an Affine + LIF) is trained, with snnTorch surrogate gradients
and BPTT over the response window; the expansion and the APL inhibition are fixed. Because
the fixed part does not change, its Kenyon-cell spike trains are computed once per data set
(with the chip's timing, :mod:`.model`) and the readout trains on them.

    python -m neurocc.models.olfaction.training          # the committed artifacts
    python -m neurocc.models.olfaction.training --sweep  # + the sparseness sweep and its plot
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nir
import numpy as np
import torch

from neurocc.models.common import rounded, torch_setup, versions
from neurocc.models.olfaction import data
from neurocc.models.olfaction.circuit import Circuit, fixed_weights, to_nir
from neurocc.models.olfaction.model import FixedCircuit, Readout, kc_trains, sparseness
from neurocc.models.zoo import ARTIFACTS, deploy
from neurocc.reports.progress import Progress

ARTIFACT_DIR = ARTIFACTS / "olfaction"
EPOCHS = 8
BATCH_SIZE = 100
LEARNING_RATE = 2e-3
SWEEP_W_INH = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
SWEEP_DEPLOY_SAMPLES = None


def _fit_readout(kc: torch.Tensor, labels: np.ndarray, c: Circuit, seed: int, steps: int,
                 bar: Progress | None) -> Readout:
    torch.manual_seed(seed)
    ro = Readout(c.n_kc, c.beta_out, c.threshold)
    opt = torch.optim.Adam(ro.parameters(), lr=LEARNING_RATE)
    y = torch.from_numpy(labels)
    rng = np.random.default_rng(seed)
    for _ in range(EPOCHS):
        order = rng.permutation(len(labels))
        total, correct = 0.0, 0
        for first in range(0, len(order), BATCH_SIZE):
            idx = torch.from_numpy(order[first:first + BATCH_SIZE])
            spikes, _ = ro(kc[:, idx], steps)
            counts = spikes.sum(0)
            loss = torch.nn.functional.cross_entropy(counts, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            correct += int((counts.argmax(1) == y[idx]).sum())
        if bar:
            bar.update(1, f"loss {total / len(labels):.3f} train acc {correct / len(labels):.3f}")
    return ro


@torch.no_grad()
def evaluate(c: Circuit, w, ro: Readout, x: np.ndarray, labels: np.ndarray) -> dict:
    """Float accuracy and activity on encoded odours ``x`` ``(T, N, 50)``."""
    tr = kc_trains(FixedCircuit(c, w), x)
    spikes, _ = ro(tr["kc"], x.shape[0])
    counts = spikes.sum(0).round().to(torch.int64).numpy()
    pred = data.decode(counts)
    return {"accuracy": float(np.mean(pred == labels)), "counts": counts,
            **sparseness(tr["kc"]),
            "pn_spikes_per_odour": float(tr["pn"].sum(1).mean()),
            "apl_spikes_per_odour": float(tr["apl"].sum(1).mean())}


def fit(c: Circuit, seed: int = 0, progress: bool = True, train_n: int | None = None) -> dict:
    """Build the circuit from ``seed``, train its readout; return the pieces and the float
    test metrics (no files written)."""
    steps = data.STEPS
    w = fixed_weights(c, seed)
    x, y = data.train_set(steps, data.TRAIN_SEED + seed)
    if train_n is not None:
        x, y = x[:, :train_n], y[:train_n]
    t0 = time.perf_counter()
    bar = Progress(EPOCHS + 2, "olfaction", progress)
    kc = kc_trains(FixedCircuit(c, w), x)["kc"]
    bar.update(1, "Kenyon-cell trains of the training odours")
    ro = _fit_readout(kc, y, c, seed, steps, bar)
    del kc
    x_test, y_test = data.test_inputs()
    result = evaluate(c, w, ro, x_test, y_test)
    bar.update(1, f"test accuracy {result['accuracy']:.3f}")
    return {"circuit": c, "weights": w, "readout": ro, "result": result,
            "train_seconds": time.perf_counter() - t0}


def graph_of(fitted: dict) -> nir.NIRGraph:
    ro = fitted["readout"]
    return to_nir(fitted["circuit"], fitted["weights"], ro.fc.weight.detach().numpy(),
                  ro.fc.bias.detach().numpy())


def train(seed: int = 0, out_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Train with the default circuit, write ``model.nir`` and ``metrics.json`` to ``out_dir``
    (default: the committed ``models/artifacts/olfaction``) and return the metrics."""
    restore = torch_setup()
    try:
        out = Path(out_dir or ARTIFACT_DIR)
        out.mkdir(parents=True, exist_ok=True)
        fitted = fit(Circuit(), seed, progress)
        nir.write(out / "model.nir", graph_of(fitted))
        r = fitted["result"]
        chip = deploy("olfaction", "loihi2", out / "model.nir")
        metrics = {
            "model": "olfaction", "seed": seed, "steps": data.STEPS, "dt": data.DT,
            "reset": data.RESET, "encoding": data.ENCODING,
            "nir_path": "hand-built with the nir package (recurrent KC <-> APL loop, fixed "
                        "sparse expansion); snnTorch Leaky neurons simulated with the chip's "
                        "one-step-per-projection timing",
            "circuit": fitted["circuit"].to_dict(),
            "epochs": EPOCHS, "batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE,
            "train_samples": data.TRAIN_PER_CLASS * data.N_CLASSES,
            "test_samples": len(r["counts"]),
            "train_seconds": round(fitted["train_seconds"], 1),
            "float_test_accuracy": r["accuracy"],
            "kc_active_fraction": r["kc_active_fraction"],
            "kc_active_fraction_std": r["kc_active_fraction_std"],
            "kc_spikes_per_odour": r["kc_spikes_per_odour"],
            "pn_spikes_per_odour": r["pn_spikes_per_odour"],
            "apl_spikes_per_odour": r["apl_spikes_per_odour"],
            "emulator_loihi2": rounded(chip),
            "emulator_minus_float_accuracy_pp": round(100 * (chip["accuracy"] - r["accuracy"]),
                                                      2),
            "versions": versions(),
        }
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        plot_sparseness_vs_concentration(fitted["circuit"], seed, out / "kc_sparseness.png")
        return metrics
    finally:
        restore()


def plot_sparseness_vs_concentration(c: Circuit, seed: int, path: Path) -> Path:
    """KC activity per test odour against concentration, with and without the APL."""
    from neurocc.models.olfaction.plots import plot_concentration

    x, _ = data.test_inputs()
    conc = data.rates(data.TEST_PER_CLASS, data.TEST_SEED)[2]
    active = {}
    for label, circ in ((f"APL inhibition w_inh = {c.w_inh:g}", c),
                        ("no inhibition (w_inh = 0)", c.with_inhibition(0.0))):
        kc = kc_trains(FixedCircuit(circ, fixed_weights(circ, seed)), x)["kc"]
        active[label] = (kc.sum(0) > 0).float().mean(1).numpy()
    return plot_concentration(conc, active, path)


def sweep(seed: int = 0, out_dir: str | Path | None = None, progress: bool = True,
          values=SWEEP_W_INH) -> list[dict]:
    """Retrain the readout for each inhibition strength; measure KC sparseness, float and
    emulator accuracy and energy per odour on Loihi 2; write ``sweep.json`` and
    ``sparseness_sweep.png``."""
    import tempfile

    restore = torch_setup()
    out = Path(out_dir or ARTIFACT_DIR)
    rows = []
    try:
        for w_inh in values:
            fitted = fit(Circuit().with_inhibition(w_inh), seed, progress)
            r = fitted["result"]
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.nir"
                nir.write(path, graph_of(fitted))
                chip = deploy("olfaction", "loihi2", path, n=SWEEP_DEPLOY_SAMPLES)
            rows.append({"w_inh": w_inh, "float_accuracy": r["accuracy"],
                         "kc_active_fraction": r["kc_active_fraction"],
                         "kc_spikes_per_odour": r["kc_spikes_per_odour"],
                         "apl_spikes_per_odour": r["apl_spikes_per_odour"],
                         **{f"emulator_{k}": v for k, v in rounded(chip).items()}})
            if progress:
                print(f"w_inh {w_inh:g}: KC active {r['kc_active_fraction']:.3f}, accuracy "
                      f"{r['accuracy']:.3f} (emulator {chip['accuracy']:.3f}), energy "
                      f"{chip['energy_j'] * 1e6:.2f} uJ", flush=True)
    finally:
        restore()
    (out / "sweep.json").write_text(json.dumps(rows, indent=2) + "\n")
    from neurocc.models.olfaction.plots import plot_sweep

    plot_sweep(rows, out / "sparseness_sweep.png")
    return rows


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", default=None)
    ap.add_argument("--sweep", action="store_true", help="also run the inhibition sweep")
    a = ap.parse_args()
    print(json.dumps({k: v for k, v in train(a.seed, a.out_dir).items()
                      if k not in ("versions", "circuit")}, indent=1))
    if a.sweep:
        sweep(a.seed, a.out_dir)
