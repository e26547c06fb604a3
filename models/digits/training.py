"""Train the digits model with BPTT and write ``model.nir`` and ``metrics.json``.

Run ``python -m neurocc.models.digits.training`` (or ``neurocc zoo train digits``) to retrain;
on the machine that trained the committed artifacts this reproduces them exactly, elsewhere
torch's CPU kernels may differ and the accuracy lands within a few points.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nir
import numpy as np
import snntorch
import torch
from snntorch.export_nir import export_to_nir

from neurocc.models.common import TORCH_THREADS, torch_setup, versions
from neurocc.models.digits import ARTIFACT_DIR
from neurocc.models.digits.data import (
    DT,
    ENCODING,
    INPUT_SHAPE,
    RESET,
    STEPS,
    TEST_SEED,
    encode,
    load_split,
    test_inputs,
)
from neurocc.models.digits.evaluate import LAYERS, score
from neurocc.models.digits.model import BETA, CHANNELS, HIDDEN, THRESHOLD, build, reset_state, run
from neurocc.reports.progress import Progress

EPOCHS = 45
BATCH_SIZE = 64
LEARNING_RATE = 1e-2
SPIKE_PENALTY = 1e-2
"""Loss weight on the hidden layers' spikes per neuron per step, to keep activity sparse.

It halves the convolutional layer's spikes at no cost in accuracy. It sits near a cliff:
0.03 (and 0.1) silence the whole network within a few epochs, because Adam turns this small
but always-negative gradient on the biases into full-size steps."""


def _loss(net: torch.nn.Sequential, spikes: torch.Tensor, labels: torch.Tensor) -> tuple:
    out, totals = run(net, spikes)
    counts = out.sum(0)  # (N, 10) output spikes over all steps
    steps = spikes.shape[0]
    hidden = [m for m in net if isinstance(m, snntorch.Leaky)][:-1]
    sizes = [int(m.beta.numel()) for m in hidden]
    rate = sum(t.mean() / (n * steps) for t, n in zip(totals[:-1], sizes, strict=True))
    loss = torch.nn.functional.cross_entropy(counts, labels) + SPIKE_PENALTY * rate
    return loss, counts


def export(net: torch.nn.Sequential) -> nir.NIRGraph:
    """NIR graph of ``net`` via snnTorch's exporter (dt and reset rule are not recorded)."""
    reset_state(net)
    with torch.no_grad():
        graph = export_to_nir(net, torch.zeros(1, *INPUT_SHAPE), ignore_dims=[0])
    reset_state(net)
    return graph


def train(
    seed: int = 0,
    out_dir: str | Path = ARTIFACT_DIR,
    epochs: int = EPOCHS,
    progress: bool = True,
    steps: int = STEPS,
) -> dict:
    """Train from scratch, evaluate on the fixed test encoding, write the artifacts.

    Args:
        seed: seeds the weight initialisation, batch order and training spike trains.
        out_dir: directory that receives ``model.nir`` and ``metrics.json``.
        epochs: passes over the 1,437 training images, each with fresh spike trains.
        progress: a bar of epochs (loss, training accuracy) on stderr, on a terminal only.
        steps: time steps per sample.

    Returns:
        The metrics written to ``metrics.json``.
    """
    # One torch thread, deterministic kernels, denormals flushed (the zoo's common setup):
    # the weights depend on the thread count, and two threads are ~1.5x slower on the
    # 2-core machine when idle and ~18x slower when another process is busy.
    restore = torch_setup()
    try:
        return _train(seed, Path(out_dir), epochs, progress, steps)
    finally:
        restore()


def _train(seed: int, out_dir: Path, epochs: int, progress: bool, steps: int) -> dict:
    torch.manual_seed(seed)
    np.random.seed(seed)
    rng = np.random.default_rng(seed)
    images, labels = load_split("train")
    y_all = torch.from_numpy(labels)
    net = build()
    optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)

    start = time.perf_counter()
    bar = Progress(epochs, "digits", progress, unit="epochs")
    for epoch in range(epochs):
        x_all = torch.from_numpy(encode(images, steps, rng))
        order = torch.from_numpy(rng.permutation(len(labels)))
        total_loss, correct = 0.0, 0
        net.train()
        for first in range(0, len(order), BATCH_SIZE):
            idx = order[first:first + BATCH_SIZE]
            loss, counts = _loss(net, x_all[:, idx], y_all[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(idx)
            correct += int((counts.argmax(1) == y_all[idx]).sum())
        scheduler.step()
        bar.update(1, f"loss {total_loss / len(labels):.4f}  train acc "
                   f"{correct / len(labels):.3f}")
    train_seconds = time.perf_counter() - start
    net.eval()

    test_spikes, test_labels = test_inputs(steps)
    result = score(net, test_spikes, test_labels)
    graph = export(net)
    out_dir.mkdir(parents=True, exist_ok=True)
    nir.write(out_dir / "model.nir", graph)

    n = result["n"]
    metrics = {
        "model": "digits",
        "seed": seed,
        "steps": steps,
        "dt": DT,
        "reset": RESET,
        "encoding": ENCODING,
        "test_encoding_seed": TEST_SEED,
        "architecture": (
            f"Conv2d(1,{CHANNELS},3,pad=1)-LIF-AvgPool2d(2)-Flatten-Linear({CHANNELS * 16},"
            f"{HIDDEN})-LIF-Linear({HIDDEN},10)-LIF; beta={BETA}, threshold={THRESHOLD}"
        ),
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "learning_rate": LEARNING_RATE,
        "spike_penalty": SPIKE_PENALTY,
        "torch_threads": TORCH_THREADS,
        "train_seconds": round(train_seconds, 1),
        "float_test_accuracy": result["accuracy"],
        "test_samples": n,
        "mean_spikes_per_sample": {
            name: result["layer_spikes"][name] / n for name in LAYERS
        },
        "versions": versions(),
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if bar.enabled:
        print(
            f"test accuracy {result['accuracy']:.4f} on {n} samples; "
            f"wrote {out_dir / 'model.nir'}",
            file=sys.stderr,
        )
    return metrics


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default=str(ARTIFACT_DIR))
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    metrics = train(args.seed, args.out_dir, args.epochs, progress=not args.quiet)
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
