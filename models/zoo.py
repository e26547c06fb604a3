"""The sensory model zoo: an explicit registry of the models neurocc ships with, and the
``ZooModel`` protocol every one of them follows.

Nothing here imports torch: a model's training code is imported only when it is used.
"""

from __future__ import annotations

import importlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from neurocc.api.errors import NeuroccError

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
"""Committed artifacts: ``ARTIFACTS / name / {model.nir, metrics.json, ...}``."""


class ZooModel(Protocol):
    """What every zoo model's package (``neurocc.models.<name>``) provides."""

    TASK: str
    """``"classification"`` or ``"reconstruction"``."""
    METRIC: str
    """Name of the quality number ``score`` returns (``accuracy``, ``r2``, …)."""
    ARTIFACT_DIR: Path
    NIR_PATH: Path
    METRICS_PATH: Path
    COMPILE: dict
    """Keyword arguments for ``compile_nir`` (``dt``, ``reset``): NIR records neither."""

    def train(self, seed: int = 0, out_dir=None, progress: bool = True) -> dict:
        """Train from scratch, write the artifacts to ``out_dir`` (default ``ARTIFACT_DIR``),
        return the metrics."""

    def test_inputs(self):
        """``(x, targets)``: the fixed test set, ``x`` ``(steps, N, *input_shape)``."""

    def score(self, result, targets) -> dict:
        """Quality of a ``neurocc.backends.run`` result (emulator, reference, Lava…)."""

    def float_score(self, nir_path=None, n: int | None = None) -> dict:
        """The same quality for the float (torch) model rebuilt from a ``.nir`` file."""


@dataclass(frozen=True)
class ZooEntry:
    name: str
    module: str
    description: str

    def load(self) -> ZooModel:
        return importlib.import_module(self.module)


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


def get(name: str) -> ZooModel:
    """The model ``name`` (raises ``NeuroccError`` for an unknown name)."""
    if name not in REGISTRY:
        raise NeuroccError(f"unknown zoo model '{name}'; choose one of {', '.join(REGISTRY)} "
                           "(neurocc zoo list)")
    return REGISTRY[name].load()


def export(name: str, path: str | Path) -> Path:
    """Copy the committed ``model.nir`` of ``name`` to ``path``."""
    src = Path(get(name).NIR_PATH)
    if not src.exists():
        raise NeuroccError(f"zoo model '{name}' has no committed artifact {src}; run "
                           f"neurocc zoo train {name} first")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, path)
    return path


def deploy(model, hw: str = "loihi2", nir_path: str | Path | None = None,
           n: int | None = None, backend: str = "emulator") -> dict:
    """Compile a zoo model's NIR for ``hw``, run ``backend`` on its test set (the first ``n``
    samples if given) and return its quality and per-inference costs.

    Returns a dict: the model's ``METRIC``, ``spikes``, ``synops``, ``energy_j``,
    ``latency_s`` (per inference), ``cores``, ``samples``, ``energy_breakdown_j``.
    """
    from neurocc.backends.run import run
    from neurocc.compiler.pipeline import compile_nir
    from neurocc.reports.run import run_report

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


__all__ = ["ARTIFACTS", "REGISTRY", "ZooEntry", "ZooModel", "deploy", "export", "get", "names"]
