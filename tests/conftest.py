"""Shared test set-up: ``tests/`` on ``sys.path`` so tests can ``import synth`` (the random
network generator ships with the tests, not in the wheel)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
