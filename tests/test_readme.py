"""The README's "Your own model" block runs verbatim and prints what it says it prints."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("snntorch")

README = Path(__file__).resolve().parents[1] / "README.md"


def test_own_model_journey_runs_verbatim(tmp_path):
    text = README.read_text()
    block = re.search(r"<!-- own-model:start -->\n```python\n(.*?)```\n<!-- own-model:end -->",
                      text, re.S)[1]
    out = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "(8, 10)"
    assert re.fullmatch(r"[\d.]+ µJ per inference \(\d+ nJ dynamic\), [\d.]+ µs, on \d+ cores",
                        lines[1]), lines[1]
    assert (tmp_path / "my_model.neurocc").exists()
    # and the saved program runs from the command line
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros((5, 2, 64), dtype=np.uint8))
    cli = subprocess.run([sys.executable, "-m", "neurocc", "run", "my_model.neurocc",
                          "--input", "x.npy", "--json"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
