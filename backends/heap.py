"""glibc's heap thresholds, fixed once per process so that a run's arrays are not faulted in
again every run.

A run allocates and frees tens of megabytes of arrays (spikes, synaptic sums, counts). glibc
adapts two thresholds as it goes: blocks above ``M_MMAP_THRESHOLD`` are mapped afresh, and a
heap whose free top exceeds ``M_TRIM_THRESHOLD`` is given back to the kernel. Depending on the
order of the frees the next run either reuses that memory or faults every page of it in again.
Measured on the digits split, one thread, 40 runs each: ~1,950 page faults a run in the bad
state against none, 13.6 against 11.2 ms, and which state a process lands in varied between
identical processes. Fixing the thresholds at the values glibc's own heuristic climbs to
(``mmap`` above 32 MB; trim above 128 MB) makes the fast state the only one; the cost is that up
to 128 MB a process has freed stay in its heap. ``NEUROCC_MALLOPT=0`` leaves glibc's defaults.
Nothing happens off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
TRIM_BYTES = 128 << 20
MMAP_BYTES = 32 << 20
"""glibc's ``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit systems, where its heuristic stops."""

_done = False


def steady() -> bool:
    """Fix the thresholds (once per process); True when glibc took them."""
    global _done
    if _done:
        return True
    _done = True
    if os.environ.get("NEUROCC_MALLOPT", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False                         # not glibc: nothing to fix
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_BYTES)) and \
        bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES))
