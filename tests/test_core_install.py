"""The core (compile a .nir, emulate it, estimate its cost) needs numpy, nir and h5py only:
it must never import torch, snnTorch, scikit-learn or Lava. numba (the optional [fast]
extra) is checked both ways: without it the numpy twins run the same job; with it, numba
itself imports scipy when scipy is installed, which is numba's doing, not neurocc's."""

import subprocess
import sys
from pathlib import Path

import pytest

NIR = Path(__file__).resolve().parent.parent / "models" / "artifacts" / "digits" / "model.nir"

SCRIPT = f"""
import sys
if sys.argv[1] == "without-numba":
    sys.modules["numba"] = None          # as if the [fast] extra were not installed
import numpy as np
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
from neurocc.api.jit import numba
assert (numba is None) == (sys.argv[1] == "without-numba")
heavy = ["torch", "snntorch", "sklearn", "lava", "matplotlib", "nirtorch"]
if numba is None:
    heavy.append("scipy")
print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
"""


@pytest.mark.parametrize("numba", ["with-numba", "without-numba"])
def test_compile_and_emulate_without_heavy_imports(numba):
    out = subprocess.run([sys.executable, "-c", SCRIPT, numba], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
