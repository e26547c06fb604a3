"""The compiled program: fixed-point parameters, placement and routes, plus the float IR it
came from. A program is an artifact on disk (``neurocc compile -o PROGRAM``): a numpy
``.npz`` holding a JSON header and the arrays, versioned and checksummed.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurocc.compiler.ir import Conv, Dense, Network, NeuronGroup, Projection, Sparse
from neurocc.errors import ArtifactError, ConfigError
from neurocc.hw_configs import HardwareSpec, from_dict

FORMAT = "neurocc-program"
FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class FxGroup:
    """A LIF population in Lava's fixed-point format.

    ``du``, ``dv`` ∈ [0, 4095]; ``vth`` the 17-bit threshold (compared as ``vth << 6``);
    ``bias_mant`` (n,) with one ``bias_exp``; ``reset`` "zero" or "subtract".
    ``v_scale`` (n,) converts the integer membrane back to model units:
    ``v_model = v_int / v_scale``.
    """

    name: str
    nir_node: str
    kind: str
    shape: tuple[int, ...]
    du: int
    dv: int
    vth: int
    bias_mant: np.ndarray
    bias_exp: int
    reset: str
    spiking: bool
    v_scale: np.ndarray

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True, eq=False)
class FxProjection:
    """Integer synapses: ``conn`` holds int64 weights (Lava-representable, so Lava's own
    truncation is a no-op), shifted by ``weight_exp`` after accumulation (ignored by conv,
    as in Lava's Conv)."""

    name: str
    src: str
    dst: str
    conn: Dense | Sparse | Conv
    weight_exp: int
    sign_mode: str
    nir_nodes: tuple[str, ...] = ()
    num_weight_bits: int = 8


@dataclass(frozen=True, eq=False)
class Placement:
    """Where every neuron lives.

    ``slices`` rows are ``(group index, start, stop, core)``: neurons ``start:stop`` of a group
    sit on global core ``core``; a group's slices are contiguous and in order. Global core
    ``c`` is on chip ``c // cores_per_chip``. ``strategy`` names how it was chosen.
    """

    slices: np.ndarray
    strategy: str = "in-order"
    stats: dict = field(default_factory=dict)

    def group_slices(self, gi: int) -> np.ndarray:
        return self.slices[self.slices[:, 0] == gi]

    @property
    def cores_used(self) -> np.ndarray:
        return np.unique(self.slices[:, 3])


@dataclass(frozen=True, eq=False)
class Program:
    hw: HardwareSpec
    dt: float
    reset: str
    input_shape: tuple[int, ...]
    input_encoding: dict
    groups: tuple[FxGroup, ...]
    projections: tuple[FxProjection, ...]
    outputs: tuple[str, ...]
    network: Network
    depth: int
    placement: Placement
    report: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.input_shape))

    def group_index(self, name: str) -> int:
        for i, g in enumerate(self.groups):
            if g.name == name:
                return i
        raise KeyError(name)

    def group(self, name: str) -> FxGroup:
        return self.groups[self.group_index(name)]

    @property
    def n_neurons(self) -> int:
        return sum(g.n for g in self.groups)

    @property
    def chips_used(self) -> int:
        cpc = self.hw.mesh.cores_per_chip
        return int(len(np.unique(self.placement.slices[:, 3] // cpc)))


# --------------------------------------------------------------------------- save / load


class _Writer:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def put(self, key: str, a) -> str:
        self.arrays[key] = np.asarray(a)
        return key


def _conn_meta(conn, w: _Writer, key: str) -> dict:
    if isinstance(conn, Dense):
        return {"kind": "dense", "weight": w.put(key + ".w", conn.weight)}
    if isinstance(conn, Sparse):
        return {"kind": "sparse", "indptr": w.put(key + ".indptr", conn.indptr),
                "indices": w.put(key + ".indices", conn.indices),
                "data": w.put(key + ".data", conn.data), "n_pre": conn.n_pre}
    return {"kind": "conv", "weight": w.put(key + ".w", conn.weight),
            "in_shape": list(conn.in_shape), "out_shape": list(conn.out_shape),
            "stride": list(conn.stride), "padding": list(conn.padding),
            "dilation": list(conn.dilation), "groups": conn.groups}


def _conn_load(m: dict, a) -> Dense | Sparse | Conv:
    if m["kind"] == "dense":
        return Dense(a[m["weight"]])
    if m["kind"] == "sparse":
        return Sparse(a[m["indptr"]], a[m["indices"]], a[m["data"]], int(m["n_pre"]))
    return Conv(a[m["weight"]], tuple(m["in_shape"]), tuple(m["out_shape"]),
                tuple(m["stride"]), tuple(m["padding"]), tuple(m["dilation"]), int(m["groups"]))


_IR_ARRAYS = ("tau_mem", "r", "v_leak", "v_threshold", "bias", "tau_syn", "w_in")


def _to_payload(prog: Program) -> tuple[dict, dict]:
    w = _Writer()
    net = prog.network
    meta = {
        "format": FORMAT, "version": FORMAT_VERSION, "hw": prog.hw.raw, "dt": prog.dt,
        "reset": prog.reset, "input_shape": list(prog.input_shape),
        "input_encoding": prog.input_encoding, "outputs": list(prog.outputs),
        "depth": prog.depth, "report": prog.report, "source": prog.source,
        "groups": [], "projections": [],
        "placement": {"slices": w.put("placement.slices", prog.placement.slices),
                      "strategy": prog.placement.strategy, "stats": prog.placement.stats},
        "network": {"input_shape": list(net.input_shape), "outputs": list(net.outputs),
                    "input_name": net.input_name, "meta": net.meta, "groups": [],
                    "projections": []},
    }
    for i, g in enumerate(prog.groups):
        meta["groups"].append({
            "name": g.name, "nir_node": g.nir_node, "kind": g.kind, "shape": list(g.shape),
            "du": g.du, "dv": g.dv, "vth": g.vth, "bias_exp": g.bias_exp, "reset": g.reset,
            "spiking": g.spiking, "bias_mant": w.put(f"g{i}.bias_mant", g.bias_mant),
            "v_scale": w.put(f"g{i}.v_scale", g.v_scale)})
    for i, p in enumerate(prog.projections):
        meta["projections"].append({
            "name": p.name, "src": p.src, "dst": p.dst, "weight_exp": p.weight_exp,
            "sign_mode": p.sign_mode, "nir_nodes": list(p.nir_nodes),
            "num_weight_bits": p.num_weight_bits, "conn": _conn_meta(p.conn, w, f"p{i}")})
    for i, g in enumerate(net.groups):
        m = {"name": g.name, "nir_node": g.nir_node, "kind": g.kind, "shape": list(g.shape)}
        for k in _IR_ARRAYS:
            if getattr(g, k) is not None:
                m[k] = w.put(f"ir.g{i}.{k}", getattr(g, k))
        meta["network"]["groups"].append(m)
    for i, p in enumerate(net.projections):
        meta["network"]["projections"].append({
            "name": p.name, "src": p.src, "dst": p.dst, "nir_nodes": list(p.nir_nodes),
            "conn": _conn_meta(p.conn, w, f"ir.p{i}")})
    return meta, w.arrays


def _digest(meta_json: bytes, arrays: dict) -> str:
    h = hashlib.sha256(meta_json)
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(k.encode())
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save(prog: Program, path: str | Path) -> Path:
    """Write the program; the same program always produces the same bytes."""
    meta, arrays = _to_payload(prog)
    meta_json = json.dumps(meta, sort_keys=True, default=_json_default).encode()
    digest = _digest(meta_json, arrays)
    path = Path(path)
    buf = io.BytesIO()
    # Fixed timestamps and order make the file byte-for-byte reproducible.
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in [("header.json", meta_json), ("sha256", digest.encode())] + [
                (f"{k}.npy", _npy_bytes(arrays[k])) for k in sorted(arrays)]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    path.write_bytes(buf.getvalue())
    return path


def _npy_bytes(a: np.ndarray) -> bytes:
    b = io.BytesIO()
    np.save(b, np.ascontiguousarray(a), allow_pickle=False)
    return b.getvalue()


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot store {type(o).__name__} in a program header")


def load(path: str | Path) -> Program:
    """Read a program written by ``save``; any damage or version mismatch is an
    ``ArtifactError`` naming the file and what to do."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"program '{path}' does not exist; create it with neurocc compile")
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            if "header.json" not in names or "sha256" not in names:
                raise ArtifactError(f"'{path}' is not a neurocc program (no header); "
                                    "compile one with neurocc compile")
            meta_json = z.read("header.json")
            digest = z.read("sha256").decode()
            arrays = {n[:-4]: np.load(io.BytesIO(z.read(n)), allow_pickle=False)
                      for n in names if n.endswith(".npy")}
    except ArtifactError:
        raise
    except Exception as e:
        raise ArtifactError(f"program '{path}' is corrupted or not a neurocc program "
                            f"({type(e).__name__}); recompile it with neurocc compile") from None
    try:
        meta = json.loads(meta_json)
    except ValueError:
        raise ArtifactError(f"program '{path}' has a corrupted header; recompile it") from None
    if meta.get("format") != FORMAT:
        raise ArtifactError(f"'{path}' is not a neurocc program")
    if meta.get("version") != FORMAT_VERSION:
        raise ArtifactError(
            f"program '{path}' has format version {meta.get('version')}, this neurocc reads "
            f"version {FORMAT_VERSION}; recompile it with this neurocc")
    if _digest(meta_json, arrays) != digest:
        raise ArtifactError(f"program '{path}' failed its checksum (the file was modified or "
                            "damaged); recompile it with neurocc compile")
    return _from_payload(meta, arrays)


def _from_payload(meta: dict, a: dict) -> Program:
    groups = tuple(FxGroup(
        name=m["name"], nir_node=m["nir_node"], kind=m["kind"], shape=tuple(m["shape"]),
        du=m["du"], dv=m["dv"], vth=m["vth"], bias_mant=a[m["bias_mant"]],
        bias_exp=m["bias_exp"], reset=m["reset"], spiking=m["spiking"],
        v_scale=a[m["v_scale"]]) for m in meta["groups"])
    projections = tuple(FxProjection(
        name=m["name"], src=m["src"], dst=m["dst"], conn=_conn_load(m["conn"], a),
        weight_exp=m["weight_exp"], sign_mode=m["sign_mode"], nir_nodes=tuple(m["nir_nodes"]),
        num_weight_bits=m["num_weight_bits"]) for m in meta["projections"])
    n = meta["network"]
    net = Network(
        input_shape=tuple(n["input_shape"]),
        groups=tuple(NeuronGroup(
            name=m["name"], nir_node=m["nir_node"], kind=m["kind"], shape=tuple(m["shape"]),
            **{k: (a[m[k]] if k in m else None) for k in _IR_ARRAYS}) for m in n["groups"]),
        projections=tuple(Projection(m["name"], m["src"], m["dst"], _conn_load(m["conn"], a),
                                     tuple(m["nir_nodes"])) for m in n["projections"]),
        outputs=tuple(n["outputs"]), input_name=n["input_name"], meta=n["meta"])
    pl = meta["placement"]
    try:
        hw = from_dict(meta["hw"], "<program>")
    except ConfigError as e:
        raise ArtifactError(f"program's hardware description is incomplete for this neurocc "
                            f"({e}); recompile it with neurocc compile") from None
    return Program(
        hw=hw, dt=meta["dt"], reset=meta["reset"],
        input_shape=tuple(meta["input_shape"]), input_encoding=meta["input_encoding"],
        groups=groups, projections=projections, outputs=tuple(meta["outputs"]), network=net,
        depth=meta["depth"],
        placement=Placement(a[pl["slices"]], pl["strategy"], pl["stats"]),
        report=meta["report"], source=meta["source"])
