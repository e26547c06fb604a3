"""The core (compile a .nir, emulate it, estimate its cost) needs numpy, nir and h5py only:
it must never import torch, snnTorch, scikit-learn or Lava."""

import subprocess
import sys
from pathlib import Path

NIR = Path(__file__).resolve().parent.parent / "models" / "artifacts" / "digits" / "model.nir"

SCRIPT = f"""
import sys, numpy as np
from neurocc.compiler.pipeline import compile_nir
from neurocc.backends import run
from neurocc.reports.run import run_report
from neurocc.reports.summary import program_summary
import neurocc
prog = compile_nir({str(NIR)!r}, hw="loihi1")
assert neurocc.compile({str(NIR)!r}, hw="loihi2").run(np.zeros((3, 1, 1, 8, 8))).energy_j > 0
x = (np.random.default_rng(0).random((8, 4, 1, 8, 8)) < 0.3).astype(np.uint8)
rep = run_report(run(prog, x))
program_summary(prog, detail=True)
assert rep["energy_per_inference_j"] > 0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in
               ("torch", "snntorch", "sklearn", "lava", "scipy", "matplotlib", "nirtorch"))
print(heavy)
"""


def test_compile_and_emulate_without_heavy_imports():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
