"""The sensory model zoo: an explicit registry of the models neurocc ships with.

Every entry names a module and a one-line description. Each model module exposes the same
small interface (the digits classifier is wrapped to it by :func:`_digits_interface`):

=====================  ==========================================================================
``TASK``               ``"classification"`` or ``"reconstruction"``
``METRIC``             name of the quality number ``score`` returns (``accuracy``, ``r2``, …)
``ARTIFACT_DIR``       committed artifacts: ``NIR_PATH`` (``model.nir``), ``METRICS_PATH``
``COMPILE``            keyword arguments for ``compile_nir`` (``dt``, ``reset``, ``input_encoding``)
``train(seed, out_dir, progress)``  train from scratch, write the artifacts, return the metrics
``test_inputs()``      ``(x, targets)``: the fixed test set, ``x`` ``(steps, N, *input_shape)``
``score(result, targets)``  quality of a ``neurocc.backends.run`` result (emulator, reference…)
``float_score(nir_path, n)``  the same quality for the float (torch) model rebuilt from a .nir
=====================  ==========================================================================

Nothing here imports torch: the models' training code is imported only when it is used.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@dataclass(frozen=True)
class ZooEntry:
    name: str
    module: str
    description: str

    def load(self):
        """The model's interface (its module, or an adapter with the same names)."""
        mod = importlib.import_module(self.module)
        adapt = _ADAPTERS.get(self.name)
        return adapt(mod) if adapt else mod


REGISTRY: dict[str, ZooEntry] = {e.name: e for e in (
    ZooEntry("digits", "neurocc.models.digits",
             "8x8 handwritten digits, conv SNN classifier (the plain baseline)"),
    ZooEntry("retina", "neurocc.models.retina",
             "natural-image patches -> ganglion-cell mosaics trained to reconstruct under an "
             "energy price"),
    ZooEntry("olfaction", "neurocc.models.olfaction",
             "insect olfaction: receptors -> PNs -> 2,000 Kenyon cells with APL feedback "
             "inhibition -> odour classes"),
)}


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str):
    """The interface of model ``name`` (raises ``NeuroccError`` for an unknown name)."""
    from neurocc.errors import NeuroccError

    if name not in REGISTRY:
        raise NeuroccError(f"unknown zoo model '{name}'; choose one of {', '.join(REGISTRY)} "
                           "(neurocc zoo list)")
    return REGISTRY[name].load()


def export(name: str, path: str | Path) -> Path:
    """Copy the committed ``model.nir`` of ``name`` to ``path``."""
    from neurocc.errors import NeuroccError

    src = Path(get(name).NIR_PATH)
    if not src.exists():
        raise NeuroccError(f"zoo model '{name}' has no committed artifact {src}; run "
                           f"neurocc zoo train {name} first")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, path)
    return path


# --------------------------------------------------------------------------- deployment


def deploy(model, hw: str = "loihi2", nir_path: str | Path | None = None,
           n: int | None = None, backend: str = "emulator") -> dict:
    """Compile a zoo model's NIR for ``hw``, run ``backend`` on its test set (the first ``n``
    samples if given) and return its quality and per-inference costs.

    Returns a dict: the model's ``METRIC``, ``spikes``, ``synops``, ``energy_j``,
    ``latency_s`` (per inference), ``cores``, ``samples``, ``energy_breakdown_j``.
    """
    from neurocc.backends import run
    from neurocc.compiler.pipeline import compile_nir
    from neurocc.report import run_report

    model = get(model) if isinstance(model, str) else model
    prog = compile_nir(str(nir_path or model.NIR_PATH), hw=hw, **model.COMPILE)
    x, targets = model.test_inputs()
    if n is not None:
        x, targets = x[:, :n], targets[:n]
    res = run(prog, x, backend=backend)
    rep = run_report(res)
    out = dict(model.score(res, targets))
    out.update({
        "hw": hw, "backend": backend, "samples": int(x.shape[1]), "steps": int(x.shape[0]),
        "spikes": rep["spikes_per_inference"], "synops": rep["synops_per_inference"],
        "energy_j": rep["energy_per_inference_j"],
        "latency_s": rep["latency_per_inference_s"], "cores": rep["cores_used"],
        "energy_breakdown_j": rep["energy_breakdown_j"],
        "spikes_by_layer": {L["name"]: L["spikes_per_inference"] for L in rep["layers"]},
        "synops_by_projection": {k: v / res.batch for k, v in res.activity.synops.items()},
    })
    return out


# --------------------------------------------------------------------------- digits adapter


def _digits_interface(mod) -> SimpleNamespace:
    """Wrap ``neurocc.models.digits`` (owned by its own module, not edited here)."""
    art = ARTIFACTS / "digits"

    def train(seed: int = 0, out_dir: str | Path | None = None, progress: bool = True) -> dict:
        from neurocc.models.digits.train import train as _train

        return _train(seed=seed, out_dir=out_dir or art, progress=progress)

    def score(result, targets) -> dict:
        pred = mod.decode(result.output_spike_counts)
        return {"accuracy": float(np.mean(pred == np.asarray(targets)))}

    def float_score(nir_path: str | Path | None = None, n: int | None = None) -> dict:
        from neurocc.models.digits.evaluate import float_accuracy

        r = float_accuracy(nir_path)  # the whole test split: it is small
        return {"accuracy": r["accuracy"], "samples": r["n"]}

    return SimpleNamespace(
        NAME="digits", TASK="classification", METRIC="accuracy",
        ARTIFACT_DIR=art, NIR_PATH=art / "model.nir", METRICS_PATH=art / "metrics.json",
        COMPILE={"dt": mod.DT, "reset": mod.RESET}, train=train,
        test_inputs=lambda: mod.test_inputs(), score=score, float_score=float_score)


_ADAPTERS = {"digits": _digits_interface}


# --------------------------------------------------------------------------- progress


class Progress:
    """A one-line progress bar on stderr (``enabled=False`` prints nothing)."""

    def __init__(self, total: int, label: str, enabled: bool = True, width: int = 24):
        self.total, self.label, self.enabled, self.width = max(total, 1), label, enabled, width
        self.done, self.t0 = 0, time.perf_counter()

    def update(self, n: int = 1, note: str = "") -> None:
        self.done = min(self.done + n, self.total)
        if not self.enabled:
            return
        k = int(self.width * self.done / self.total)
        sys.stderr.write(f"\r{self.label:<12} [{'#' * k}{'.' * (self.width - k)}] "
                         f"{self.done}/{self.total} {time.perf_counter() - self.t0:6.1f} s "
                         f"{note:<40}")
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


TORCH_THREADS = 1
"""Torch CPU threads for zoo training and float evaluation. Fixed, because the summation
order (and so, rarely, a spike) can depend on it; one, because these networks are small:
measured on the 2-core development machine, one training step of the retina takes 0.07 s
with one thread and 0.37 s with two (thread synchronisation costs more than it saves)."""


def torch_setup(threads: int = TORCH_THREADS):
    """Fix torch's CPU threads, flush denormals (membranes decay into them and slow the CPU
    tenfold) and make its algorithms deterministic; returns a function that undoes it."""
    import torch

    old = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    torch.use_deterministic_algorithms(True)

    def restore():
        torch.set_num_threads(old[0])
        torch.use_deterministic_algorithms(old[1])
        torch.set_flush_denormal(False)

    return restore


def rounded(d: dict, digits: int = 6) -> dict:
    """``d`` with every float (also in nested dicts) rounded to ``digits`` significant
    digits, for metrics files."""
    def r(v):
        if isinstance(v, float):
            return float(f"{v:.{digits}g}")
        if isinstance(v, dict):
            return {k: r(x) for k, x in v.items()}
        return v

    return {k: r(v) for k, v in d.items()}


def versions() -> dict:
    """Versions of the training stack, for metrics files."""
    import nir
    import snntorch
    import torch

    return {"torch": torch.__version__, "snntorch": snntorch.__version__,
            "nir": nir.__version__, "numpy": np.__version__}


__all__ = ["REGISTRY", "Progress", "ZooEntry", "deploy", "export", "get", "names"]
