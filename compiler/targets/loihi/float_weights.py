"""Where a saved program's float weights live.

A program keeps the float IR it was compiled from (``program.network``) for the float
reference backend, the one thing that reads the IR's weights after compilation. Those
weights are most of a program's bytes (a float32 or float64 per synapse, against the chip's
8-bit mantissa), and for a program compiled from a ``.nir`` file they are a copy of what
that file holds. So the artifact embeds them only when there is no file to read them back
from. Otherwise it names the file (absolute path and sha256) and records, per projection,
the dtype, shape and sha256 of its weights; the structure (sparse indices, conv geometry)
is stored as before.

A loaded program reads the weights on first use of a projection's ``conn`` (the float
reference; running on the emulator or Lava never does): from the recorded path or, failing
that, from a file of the same name beside the program, checked against the file's sha256,
then read and split into sub-populations exactly as the compiler read it
(``pipeline.nir_network``), and every projection's weights checked against theirs.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np

from neurocc.api.errors import ArtifactError
from neurocc.compiler.ir.connectivity import Conv, Sparse
from neurocc.compiler.ir.graph import Projection


def values_sha256(a: np.ndarray) -> str:
    """The sha256 of an array's values (C order)."""
    return hashlib.sha256(np.ascontiguousarray(a)).hexdigest()


def placeholder(dtype, shape) -> np.ndarray:
    """Weights of ``dtype`` and ``shape`` that take no memory: a projection's skeleton."""
    return np.broadcast_to(np.zeros((), dtype=np.dtype(dtype)), tuple(shape))


def nir_record(program) -> dict | None:
    """``{"path", "sha256", "producer"}`` when ``program``'s float weights can be read back
    from the ``.nir`` file it was compiled from (still there, unchanged), else None."""
    src = program.source or {}
    path, digest = src.get("nir"), src.get("nir_sha256")
    if not path or not digest:
        return None
    from neurocc.compiler.pipeline import file_sha256

    p = Path(path).resolve()
    if not p.is_file() or file_sha256(p) != digest:
        return None
    return {"path": str(p), "sha256": digest, "producer": src.get("producer")}


def same_structure(a, b) -> bool:
    """Two connectivities alike in everything but their weights."""
    if type(a) is not type(b) or a.shape != b.shape:
        return False
    if isinstance(a, Sparse):
        return np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    if isinstance(a, Conv):
        return all(getattr(a, k) == getattr(b, k) for k in
                   ("in_shape", "out_shape", "stride", "padding", "dilation", "groups"))
    return True


class NirWeights:
    """The float weights of a loaded program's IR projections, read from its ``.nir`` once,
    when the first of them is used. ``expected`` maps a projection name to the
    ``{"dtype", "shape", "sha256"}`` its weights were saved with, ``skeletons`` to its
    stored structure (placeholder weights)."""

    def __init__(self, record: dict, expected: dict, skeletons: dict, hw, dt: float,
                 where: str):
        self.record, self.expected, self.skeletons = record, expected, skeletons
        self.hw, self.dt, self.where = hw, dt, where
        self._values: dict | None = None
        self._lock = threading.Lock()

    def __getstate__(self):        # a program sent to a cluster's workers: no lock
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def values(self, name: str) -> np.ndarray:
        with self._lock:
            if self._values is None:
                self._values = self._read()
        return self._values[name]

    def _candidates(self) -> list[Path]:
        recorded = Path(self.record["path"])
        beside = Path(self.where).resolve().parent / recorded.name
        return [recorded] + ([beside] if beside != recorded else [])

    def _read(self) -> dict:
        from neurocc.compiler.pipeline import file_sha256, nir_network

        found, problem, values = None, None, {}
        for p in self._candidates():
            if p.is_file() and file_sha256(p) == self.record["sha256"]:
                found = p
                break
        if found is None:
            where = " or ".join(f"'{p}'" for p in self._candidates())
            problem = (f"no file at {where} has its sha256 "
                       f"({self.record['sha256'][:12]}...)")
        else:
            net = nir_network(found, self.hw, self.dt, self.record.get("producer"))
            got = {p.name: p.conn for p in net.projections}
            for name, want in self.expected.items():
                c = got.get(name)
                v = None if c is None else c.values
                if v is None or not same_structure(c, self.skeletons[name]) or \
                        v.dtype.str != want["dtype"] or list(v.shape) != want["shape"] or \
                        values_sha256(v) != want["sha256"]:
                    problem = (f"'{found}' no longer gives projection '{name}' the weights it "
                               "was compiled with (this neurocc reads the file differently)")
                    break
                values[name] = v
        if problem is not None:
            raise ArtifactError(
                f"program '{self.where}': the float reference needs its float weights, which "
                f"were left in the .nir it was compiled from, but {problem}; put that .nir "
                "beside the program, or compile it again with --embed-float-weights "
                "(prog.save(..., embed_float_weights=True)) to carry them in the program")
        return values


class NirProjection(Projection):
    """An IR projection of a loaded program whose float weights are in its ``.nir``
    (``NirWeights``): ``skeleton`` has the structure and placeholder weights, and ``conn``
    is the skeleton with the weights read on first use."""

    def __init__(self, name: str, src: str, dst: str, nir_nodes: tuple, delay,
                 weights: NirWeights):
        for k, v in (("name", name), ("src", src), ("dst", dst), ("nir_nodes", nir_nodes),
                     ("delay", delay), ("weights", weights)):
            object.__setattr__(self, k, v)

    @property
    def skeleton(self):
        return self.weights.skeletons[self.name]

    @property
    def conn(self):
        values = self.weights.values(self.name)
        return self.skeleton.map_weights(lambda _: values)

    def __repr__(self) -> str:
        return (f"NirProjection(name={self.name!r}, src={self.src!r}, dst={self.dst!r}, "
                f"kind={self.skeleton.kind!r}, weights in {self.weights.record['path']!r})")
