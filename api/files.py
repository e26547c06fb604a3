"""Writing output files so that a failed command loses nothing: check the destination
before the work, write to a temporary file beside it, then rename over it in one step."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from neurocc.api.errors import InputError


def load_array(path: str | Path, what: str = "input", named: bool = False):
    """A ``.npy`` array from ``path`` (never unpickling), or one ``InputError`` naming the
    file and the problem: missing, unreadable, or a zip archive (``.npz``, torch's ``.pt``)
    that ``np.load`` would otherwise open lazily. With ``named``, a ``.npz`` of arrays is
    read whole into a dict (one array per NIR Input node, by name)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} file '{p}' does not exist; check the path")
    shape = ", shape (steps, batch, *input_shape)" if what.startswith("input") else ""
    try:
        x = np.load(p, allow_pickle=False)
    except Exception as e:
        raise InputError(f"cannot read {what} '{p}' as a .npy array ({type(e).__name__}); "
                         f"save it with numpy.save{shape}") from None
    if not isinstance(x, np.ndarray):
        try:
            if named and x.files:
                try:
                    return {k: x[k] for k in x.files}
                except Exception:
                    pass                    # not arrays (a torch .pt file): the error below
        finally:
            x.close()
        raise InputError(f"{what} '{p}' is a zip archive (.npz, or a torch .pt file), not a "
                         f".npy array; save the array with numpy.save{shape}"
                         + (", or one array per Input node with numpy.savez" if named else ""))
    return x


def check_writable(path: str | Path, what: str) -> Path:
    """Raise ``InputError`` (one line, before any work) if ``path`` cannot be written."""
    p = Path(path)
    if str(path) == "" or p.is_dir():
        raise InputError(f"cannot write {what} to '{path}': it is a directory; give a file "
                         "name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot write {what} to '{path}': directory '{parent}' does not "
                         "exist; create it first")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot write {what} to '{path}': directory '{parent}' is not "
                         "writable")
    return p


def write_atomic(path: str | Path, data: bytes, what: str) -> Path:
    """Write ``data`` to ``path`` all or nothing: an existing file is replaced only once the
    new one is complete."""
    p = check_writable(path, what)
    if p.exists() and not p.is_file():     # /dev/full, a FIFO...: write in place, no rename
        try:
            with open(p, "wb") as f:
                f.write(data)
            return p
        except OSError as e:
            raise InputError(f"cannot write {what} to '{path}': {e.strerror}; check the disk "
                             "space and the path") from None
    fd, tmp = tempfile.mkstemp(dir=p.parent if str(p.parent) else ".", prefix=f".{p.name}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"cannot write {what} to '{path}': {e.strerror or e}; check the "
                         "disk space and the path") from None
    return p


__all__ = ["check_writable", "load_array", "write_atomic"]
