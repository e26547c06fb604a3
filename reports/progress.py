"""Progress on stderr for long jobs (training, sweeps)."""

from __future__ import annotations

import sys
import time


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
