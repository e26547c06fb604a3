"""Progress bars on stderr for long jobs: emulator runs, Lava runs, training, sweeps.

A bar is drawn only when someone can watch it: stderr is a terminal, the command was not
given ``--quiet`` (``set_quiet``), and the caller did not pass ``enabled=False``. A pipe, a
CI log or a captured test sees nothing, so non-terminal output is byte for byte what it was
without bars; stdout (where ``--json`` goes) is never touched. ``NEUROCC_PROGRESS=1`` draws
bars even off a terminal (tests, ``script`` sessions), ``NEUROCC_PROGRESS=0`` never.

Plain ``\\r`` redraws, at most every ``REDRAW_S``: no dependency (``rich`` would add a
pinned package to the core for one line of text), and safe to update from worker threads.
"""

from __future__ import annotations

import os
import sys
import threading
import time

ENV = "NEUROCC_PROGRESS"
REDRAW_S = 0.1
"""Seconds between redraws (the last state is always drawn)."""

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence every bar of this process (the CLI's ``--quiet``)."""
    global _quiet
    _quiet = bool(quiet)


def enabled(flag: bool | None = None) -> bool:
    """Whether a bar should be drawn: not ``flag is False``, not quiet, and stderr a terminal
    (or forced with ``NEUROCC_PROGRESS=1``; ``0`` turns bars off)."""
    if flag is False or _quiet:
        return False
    env = os.environ.get(ENV, "").strip()
    if env in ("0", "1"):
        return env == "1"
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):      # replaced or closed stderr
        return False


def _fmt_s(s: float) -> str:
    return f"{s:5.1f} s" if s < 600 else f"{s / 60:5.1f} min"


class Progress:
    """A one-line bar on stderr: ``label [####....] done/total unit  elapsed  eta  note``.

    ``enabled``: ``None`` or ``True`` draw when ``enabled()`` says so, ``False`` never;
    ``eta``: estimate the time left (off for steps of unequal length). Use it
    as a context manager (or call ``close``) so that a job that stops early ends the line.
    """

    def __init__(self, total: int, label: str, enabled: bool | None = True, width: int = 24,
                 unit: str = "", eta: bool = True):
        self.total, self.label, self.width, self.unit = max(int(total), 1), label, width, unit
        self.eta = eta
        self.enabled = globals()["enabled"](enabled)
        self.done, self.t0 = 0, time.perf_counter()
        self._drawn, self._last, self._closed, self.note = False, 0.0, False, ""
        self._lock = threading.Lock()
        if self.enabled:
            self.update(0)                       # drawn at once: the job has started

    def update(self, n: int = 1, note: str = "") -> None:
        with self._lock:
            self.done = min(self.done + n, self.total)
            if note:
                self.note = note
            if not self.enabled or self._closed:
                return
            finished = self.done >= self.total
            if not finished and self._drawn and time.perf_counter() - self._last < REDRAW_S:
                return
            self._draw()
            if finished:
                self._end()

    def _draw(self) -> None:
        now = time.perf_counter()
        self._last, self._drawn = now, True
        k = int(self.width * self.done / self.total)
        elapsed = now - self.t0
        eta = ""
        if self.eta and 0 < self.done < self.total:
            eta = f" eta {_fmt_s(elapsed * (self.total - self.done) / self.done)}"
        unit = f" {self.unit}" if self.unit else ""
        sys.stderr.write(f"\r{self.label:<12} [{'#' * k}{'.' * (self.width - k)}] "
                         f"{self.done}/{self.total}{unit} {_fmt_s(elapsed)}{eta} "
                         f"{self.note:<40}")
        sys.stderr.flush()

    def _end(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()
        self._closed = True

    def close(self) -> None:
        """End the line, showing the last state, if the bar was drawn and is not finished
        (an early stop, an error)."""
        with self._lock:
            if self._drawn and not self._closed:
                self._draw()
                self._end()
            self._closed = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PassClock:
    """A compile callback (``Pipeline.run``): one line per compiler pass on stderr, ``compile:
    <pass> <seconds>``, and while a pass runs the same line redrawn every ``tick_s`` with the
    time so far, so a pass of a minute on a large network is seen to be working. The frontend
    (reading the model) is timed with the first pass. Drawn only when ``enabled()``."""

    def __init__(self, enabled: bool | None = True, tick_s: float = 0.5):
        self.enabled = globals()["enabled"](enabled)
        self.tick_s = tick_s
        self.t_pass = time.perf_counter()
        self.label, self.first, self._open, self._idle = "read", True, False, False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        if self.enabled:
            self._ticker.start()

    def started(self, p) -> None:
        with self._lock:
            self.label = f"read + {p.name}" if self.first else p.name
            self._idle = False
            if not self.first:
                self.t_pass = time.perf_counter()

    def _line(self, end: str) -> None:
        sys.stderr.write(f"\rcompile: {self.label:<22} "
                         f"{time.perf_counter() - self.t_pass:7.2f} s{end}")
        sys.stderr.flush()
        self._open = not end

    def _tick(self) -> None:
        while not self._stop.wait(self.tick_s):
            with self._lock:
                if not self._idle:
                    self._line("")

    def __call__(self, p, state) -> None:
        with self._lock:
            if self.enabled:
                self._line("\n")
            self.first, self._idle = False, True

    def close(self) -> None:
        """Stop the ticker, and end its line if a pass stopped (an error) mid-line."""
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join()
        with self._lock:
            if self._open:
                sys.stderr.write("\n")
                sys.stderr.flush()
                self._open = False

    def __enter__(self) -> PassClock:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["ENV", "PassClock", "Progress", "enabled", "set_quiet"]
