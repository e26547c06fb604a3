"""glibc's heap thresholds, fixed by the first run (``backends/heap.py``)."""

import subprocess
import sys

import pytest

from neurocc.backends import heap

SECOND_ARRAY_FAULTS = """
import os, resource, numpy as np
from neurocc.backends import heap
took = heap.steady()
def touch():                    # a run's worth of array: 24 MB, written, freed
    a = np.empty(3 << 20); a[:] = 1.0
faults = []
for _ in range(2):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    touch()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(took, faults[1])
"""


def second_array_faults(mallopt: str) -> tuple[str, int]:
    """In a fresh process: whether the thresholds were set, and the page faults of the
    second 24 MB array (the first one's memory freed)."""
    out = subprocess.run([sys.executable, "-c", SECOND_ARRAY_FAULTS], capture_output=True,
                         text=True, check=True,
                         env={"NEUROCC_MALLOPT": mallopt, "PATH": "/usr/bin:/bin"})
    took, faults = out.stdout.split()
    return took, int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_second_run_reuses_the_first_runs_memory():
    """glibc's defaults map the first large array and, once it is freed, serve the second
    from fresh heap pages, each faulted in (measured: 512 faults for 24 MB, numpy asking
    for huge pages); with the thresholds fixed the second reuses the first's pages (0)."""
    took, fixed = second_array_faults("1")
    assert took == "True"
    assert fixed < 50, f"{fixed} page faults for the second array"
    took, default = second_array_faults("0")
    assert took == "False"
    assert default > 200, f"glibc's default faulted only {default}: the test shows nothing"


def test_it_is_done_once():
    heap.steady()
    assert heap._done and heap.steady()
