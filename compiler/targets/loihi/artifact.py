"""A ``LoihiProgram`` as an artifact's header (JSON) and arrays (``compiler/artifact.py``
writes the container): what the chip needs (integer weights in their narrowest exact type,
exponents, registers, placement), the float IR's neurons, and its weights unless they can
be read back from the ``.nir`` the program was compiled from (``float_weights.py``)."""

from __future__ import annotations

import numpy as np

from neurocc.api.errors import ArtifactError, ConfigError
from neurocc.compiler.ir.connectivity import CONNECTIVITY_TYPES, Conv, Dense, Sparse
from neurocc.compiler.ir.delays import Delays
from neurocc.compiler.ir.encoding import encoding_from_dict
from neurocc.compiler.ir.graph import Network, Projection
from neurocc.compiler.ir.mapping import Placement
from neurocc.compiler.ir.neurons import NEURON_TYPES
from neurocc.compiler.targets.loihi.float_weights import (
    NirProjection,
    NirWeights,
    nir_record,
    placeholder,
    values_sha256,
)
from neurocc.compiler.targets.loihi.numerics import LAVA
from neurocc.compiler.targets.loihi.program import (
    LoihiGroup,
    LoihiProgram,
    LoihiProjection,
    QuantizationReport,
)

PAYLOAD_VERSION = 2
"""Version of the Loihi header inside the container (``compiler/artifact.py``). 2 (from 1,
where the field is absent): every weight array is under ``values``, the chip's integer
weights divided by their grid step (``values_scale``: Lava's mixed-sign mantissas are even,
so they fit int8), arrays shared by several connectivities stored once, and the float
IR's weights left in the ``.nir`` they came from when it is still there (``nir_weights``;
``float_weights.py``). Readers before version 2 stop at the missing ``weight``/``data``
field ("malformed header") rather than misread the divided weights."""

WIDE_TYPES = {np.dtype(t).str for t in (np.int16, np.int32, np.int64, np.float64)}
"""The dtypes a narrowed array may be widened back to."""

NARROW_INTS = (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32)


class _Writer:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.narrowed: dict[str, str] = {}
        self._stored: dict[tuple[int, bool], tuple[np.ndarray, str]] = {}

    def put(self, key: str, a, narrow: bool = False) -> str:
        """Store ``a``; with ``narrow`` in the narrowest type that holds it exactly (integers
        in (u)int8/16/32 by their range, floats in float32 when every value survives the
        round trip), its own dtype recorded and restored on load. An array already stored
        (the same object: a sparse IR projection and its quantized copy share their
        indices) is stored once, under its first key."""
        seen = self._stored.get((id(a), narrow)) if isinstance(a, np.ndarray) else None
        if seen is not None:
            return seen[1]
        if isinstance(a, np.ndarray):        # the array is kept, so its id stays unique
            self._stored[(id(a), narrow)] = (a, key)
        a = np.asarray(a)
        b = _narrowest(a) if narrow else a
        if b.dtype != a.dtype:
            self.narrowed[key] = a.dtype.str
        self.arrays[key] = b
        return key

    def put_integer_weights(self, key: str, w: np.ndarray) -> dict:
        """The chip's integer weights divided by their grid step (the largest power of two
        dividing them all, negated for an all-inhibitory projection) and narrowed: Lava's
        8-bit mixed-sign mantissas are even, in [-256, 254], so they are stored as int8."""
        scale = _grid_step(w)
        stored = w // scale if scale != 1 else w
        out = {"values": self.put(key, stored, narrow=True)}
        if scale != 1:
            out["values_scale"] = scale
        return out


def _grid_step(w: np.ndarray) -> int:
    if w.dtype.kind not in "iu" or not w.size:
        return 1
    bits = int(np.bitwise_or.reduce(np.abs(w), axis=None))
    step = bits & -bits if bits else 1
    return -step if int(w.max()) <= 0 < step and int(w.min()) < 0 else step


def _narrowest(a: np.ndarray) -> np.ndarray:
    if not a.size:
        return a
    if a.dtype.kind in "iu":
        lo, hi = int(a.min()), int(a.max())
        for t in NARROW_INTS:
            if t().itemsize < a.dtype.itemsize and np.iinfo(t).min <= lo and \
                    hi <= np.iinfo(t).max:
                return a.astype(t)
    if a.dtype == np.float64:
        b = a.astype(np.float32)
        if np.array_equal(b.astype(np.float64), a, equal_nan=True):
            return b
    return a


def _structure_meta(conn, w: _Writer, key: str) -> dict:
    """Everything of a connectivity but its weights."""
    if isinstance(conn, Dense):
        return {"kind": "dense"}
    if isinstance(conn, Sparse):
        return {"kind": "sparse", "indptr": w.put(key + ".indptr", conn.indptr, narrow=True),
                "indices": w.put(key + ".indices", conn.indices, narrow=True),
                "n_pre": conn.n_pre}
    return {"kind": "conv", "in_shape": list(conn.in_shape), "out_shape": list(conn.out_shape),
            "stride": list(conn.stride), "padding": list(conn.padding),
            "dilation": list(conn.dilation), "groups": conn.groups}


def _conn_meta(conn, w: _Writer, key: str) -> dict:
    """A connectivity of the chip's integer weights."""
    return {**_structure_meta(conn, w, key), **w.put_integer_weights(key + ".w", conn.values)}


def _float_conn_meta(conn, w: _Writer, key: str, weights) -> dict:
    """A connectivity of the float IR: its weights stored, or (``weights``, the program's
    ``.nir`` record) only described, to be read back from that file."""
    if weights is None:
        values = w.put(key + ".w", conn.values, narrow=True)
    else:
        v = conn.values
        values = {"dtype": v.dtype.str, "shape": list(v.shape), "sha256": values_sha256(v)}
    return {**_structure_meta(conn, w, key), "values": values}


def _delay_meta(d, w: _Writer, key: str) -> dict:
    """``{"delay": ...}`` for a delayed projection, nothing otherwise (an undelayed
    projection's header entry stays as it was)."""
    if d is None:
        return {}
    return {"delay": {"row": w.put(key + ".delay_row", d.row, narrow=True),
                      "col": w.put(key + ".delay_col", d.col, narrow=True),
                      "nodes": list(d.nodes)}}


def _delay_load(m: dict | None, a) -> Delays | None:
    """A projection's delays; None for a projection without (and every artifact written
    before neurocc read NIR Delay nodes)."""
    if m is None:
        return None
    return Delays(a[m["row"]], a[m["col"]], tuple(m["nodes"]))


NO_DELAY_BITS = {"value": LAVA.delay_bits, "unit": "bits",
                 "source": "ASSUMPTION: not in the program's config (compiled before neurocc "
                           "read NIR Delay nodes; its projections have no delays); Lava 0.10's "
                           "6-bit DelayDense delays", "assumption": True}
"""``[numerics] delay_bits`` of a program whose stored config predates the field."""


NO_LINK_BUFFER = {"value": 16, "unit": "messages per link",
                  "source": "ASSUMPTION: not in the program's config (compiled before neurocc's "
                            "configs had it); SANA-FE arch/loihi.yaml link_buffer_size: 16, "
                            "read only by the scheduled latency", "assumption": True}
"""``[latency] link_buffer_messages`` of a program whose stored config predates the field."""


def _with_later_fields(raw: dict) -> dict:
    """A stored config with the fields added since it was written (``delay_bits``,
    ``link_buffer_messages``), each labelled as filled in."""
    num = raw.get("numerics") if isinstance(raw, dict) else None
    if isinstance(num, dict) and "delay_bits" not in num:
        raw = {**raw, "numerics": {**num, "delay_bits": dict(NO_DELAY_BITS)}}
    lat = raw.get("latency") if isinstance(raw, dict) else None
    if isinstance(lat, dict) and "link_buffer_messages" not in lat:
        raw = {**raw, "latency": {**lat, "link_buffer_messages": dict(NO_LINK_BUFFER)}}
    return raw


def _conn_load(m: dict, a, values=None):
    """A connectivity from its header entry: weights under ``values`` (version 2, already
    multiplied by their ``values_scale``), or, from a version 1 file, under ``weight``
    (dense, conv) or ``data`` (sparse). ``values`` given: those weights instead (a float IR
    skeleton)."""
    cls = CONNECTIVITY_TYPES[m["kind"]]
    if values is None:
        values = a[m["values"] if "values" in m else m["data" if cls is Sparse else "weight"]]
    if cls is Dense:
        return Dense(values)
    if cls is Sparse:
        return Sparse(a[m["indptr"]], a[m["indices"]], values, int(m["n_pre"]))
    return Conv(values, tuple(m["in_shape"]), tuple(m["out_shape"]),
                tuple(m["stride"]), tuple(m["padding"]), tuple(m["dilation"]), int(m["groups"]))


def _nir_weights(prog: LoihiProgram) -> dict | None:
    """The ``.nir`` record the float IR's weights are left in (``float_weights.py``), or
    None to embed them: a loaded program keeps its record; a compiled one gets one when its
    ``.nir`` is still where it was read, unchanged."""
    for p in prog.network.projections:
        if isinstance(p, NirProjection):
            return p.weights.record
    return nir_record(prog)


def to_payload(prog: LoihiProgram, embed_float_weights: bool = False) -> tuple[dict, dict]:
    """The program as a header and arrays. ``embed_float_weights``: store the float IR's
    weights in the file even when its ``.nir`` could give them back (a program that travels
    without its ``.nir`` and still runs the float reference; the file is then several times
    larger)."""
    w = _Writer()
    net = prog.network
    record = None if embed_float_weights else _nir_weights(prog)
    meta = {
        "payload_version": PAYLOAD_VERSION,
        "hw": prog.hw.raw, "dt": prog.dt,
        "reset": prog.reset, "input_shape": list(prog.input_shape),
        "input_encoding": prog.input_encoding.to_dict(), "outputs": list(prog.outputs),
        "depth": prog.depth, "report": prog.report.to_dict(), "source": prog.source,
        "route_totals": prog.route_totals, "groups": [], "projections": [],
        "placement": {"slices": w.put("placement.slices", prog.placement.slices, narrow=True),
                      "strategy": prog.placement.strategy, "stats": prog.placement.stats},
        "network": {"input_shape": list(net.input_shape), "outputs": list(net.outputs),
                    "input_name": net.input_name, "meta": net.meta, "groups": [],
                    "projections": []},
    }
    if record is not None:
        meta["nir_weights"] = record
    for i, g in enumerate(prog.groups):
        meta["groups"].append({
            "name": g.name, "nir_node": g.nir_node, "kind": g.kind, "shape": list(g.shape),
            "du": g.du, "dv": g.dv, "vth": g.vth, "bias_exp": g.bias_exp, "reset": g.reset,
            "spiking": g.spiking, "bias_mant": w.put(f"g{i}.bias_mant", g.bias_mant, True),
            "v_scale": w.put(f"g{i}.v_scale", g.v_scale, narrow=True)})
    for i, p in enumerate(prog.projections):
        meta["projections"].append({
            "name": p.name, "src": p.src, "dst": p.dst, "weight_exp": p.weight_exp,
            "sign_mode": p.sign_mode, "nir_nodes": list(p.nir_nodes),
            "num_weight_bits": p.num_weight_bits, "conn": _conn_meta(p.conn, w, f"p{i}"),
            **_delay_meta(p.delay, w, f"p{i}")})
    for i, g in enumerate(net.groups):
        m = {"name": g.name, "nir_node": g.nir_node, "kind": g.kind, "shape": list(g.shape)}
        for k in g.parameters():
            m[k] = w.put(f"ir.g{i}.{k}", getattr(g, k), narrow=True)
        meta["network"]["groups"].append(m)
    for i, p in enumerate(net.projections):
        key = f"ir.p{i}"
        if isinstance(p, NirProjection) and record is not None:  # loaded, not read: as were
            conn = {**_structure_meta(p.skeleton, w, key), "values": p.weights.expected[p.name]}
        else:
            conn = _float_conn_meta(p.conn, w, key, record)
        meta["network"]["projections"].append({
            "name": p.name, "src": p.src, "dst": p.dst, "nir_nodes": list(p.nir_nodes),
            "conn": conn, **_delay_meta(p.delay, w, key)})
    meta["narrowed"] = w.narrowed
    return meta, w.arrays


def _nir_weights_of(meta: dict) -> tuple[dict | None, dict]:
    """The ``.nir`` record and, per IR projection whose weights stayed in it, the dtype,
    shape and sha256 they were saved with. A description that does not hold together
    raises ValueError (the container reports a malformed header)."""
    expected = {}
    for m in meta["network"]["projections"]:
        v = m["conn"].get("values")
        if isinstance(v, dict):
            if v != {"dtype": np.dtype(v["dtype"]).str, "shape": [int(k) for k in v["shape"]],
                     "sha256": str(v["sha256"])}:
                raise ValueError(f"projection '{m['name']}': its weights' description")
            expected[m["name"]] = v
    if not expected:
        return None, {}
    rec = meta["nir_weights"]
    record = {"path": str(rec["path"]), "sha256": str(rec["sha256"]),
              "producer": rec.get("producer")}
    if rec != record or not isinstance(record["producer"], (str, type(None))):
        raise ValueError("its 'nir_weights' record")
    return record, expected


def _skeleton(m: dict, a: dict):
    """An IR projection's structure, weights left in the ``.nir`` (placeholders)."""
    v = m["conn"]["values"]
    conn = _conn_load(m["conn"], a, placeholder(v["dtype"], v["shape"]))
    dims = {"dense": 2, "sparse": 1, "conv": 4}[conn.kind]
    if len(v["shape"]) != dims or (conn.kind == "sparse" and
                                   tuple(v["shape"]) != conn.indices.shape):
        raise ValueError(f"projection '{m['name']}': weights of shape {v['shape']}")
    return conn


def from_payload(meta: dict, a: dict, where: str) -> LoihiProgram:
    from neurocc.hw_configs import from_dict

    version = meta.get("payload_version", 1)
    if version not in (1, PAYLOAD_VERSION):
        raise ArtifactError(f"program '{where}' has Loihi payload version {version!r}, this "
                            f"neurocc reads versions 1 to {PAYLOAD_VERSION}; recompile it with "
                            "this neurocc")
    a = dict(a)
    narrowed = meta.get("narrowed", {})
    if not isinstance(narrowed, dict):
        raise ArtifactError(f"program '{where}': its 'narrowed' table is damaged; recompile "
                            "it with neurocc compile")
    for key, dtype in narrowed.items():                   # stored narrower, exactly
        if key not in a or dtype not in WIDE_TYPES:
            raise ArtifactError(f"program '{where}': array '{key}' cannot be restored to "
                                f"{dtype!r}; recompile it with neurocc compile")
    steps = {m["conn"]["values"]: m["conn"].get("values_scale", 1)
             for m in meta["projections"] if "values" in m["conn"]}
    for key in set(narrowed) | {k for k, v in steps.items() if v != 1}:
        # widened and multiplied by its grid step in one pass (one new array)
        dtype = np.dtype(narrowed.get(key, a[key].dtype))
        a[key] = np.multiply(a[key], dtype.type(steps.get(key, 1)), dtype=dtype)
    try:
        hw = from_dict(_with_later_fields(meta["hw"]), "<program>")
    except ConfigError as e:
        raise ArtifactError(f"program '{where}': its hardware description is incomplete for "
                            f"this neurocc ({e}); recompile it with neurocc compile") from None

    groups = tuple(LoihiGroup(
        name=m["name"], nir_node=m["nir_node"], kind=m["kind"], shape=tuple(m["shape"]),
        du=m["du"], dv=m["dv"], vth=m["vth"], bias_mant=a[m["bias_mant"]],
        bias_exp=m["bias_exp"], reset=m["reset"], spiking=m["spiking"],
        v_scale=a[m["v_scale"]]) for m in meta["groups"])
    projections = tuple(LoihiProjection(
        name=m["name"], src=m["src"], dst=m["dst"], conn=_conn_load(m["conn"], a),
        weight_exp=m["weight_exp"], sign_mode=m["sign_mode"], nir_nodes=tuple(m["nir_nodes"]),
        num_weight_bits=m["num_weight_bits"], delay=_delay_load(m.get("delay"), a))
        for m in meta["projections"])
    n = meta["network"]
    ir_groups = []
    for m in n["groups"]:
        cls = NEURON_TYPES[m["kind"]]
        ir_groups.append(cls(name=m["name"], nir_node=m["nir_node"], shape=tuple(m["shape"]),
                             **{k: a[m[k]] for k in cls.parameters()}))
    record, in_nir = _nir_weights_of(meta)
    skeletons = {m["name"]: _skeleton(m, a) for m in n["projections"] if m["name"] in in_nir}
    weights = NirWeights(record, in_nir, skeletons, hw, meta["dt"], where) if in_nir else None

    def ir_projection(m):
        delay = _delay_load(m.get("delay"), a)
        if m["name"] in in_nir:
            return NirProjection(m["name"], m["src"], m["dst"], tuple(m["nir_nodes"]), delay,
                                 weights)
        return Projection(m["name"], m["src"], m["dst"], _conn_load(m["conn"], a),
                          tuple(m["nir_nodes"]), delay)

    net = Network(
        input_shape=tuple(n["input_shape"]), groups=tuple(ir_groups),
        projections=tuple(ir_projection(m) for m in n["projections"]),
        outputs=tuple(n["outputs"]), input_name=n["input_name"], meta=n["meta"])
    pl = meta["placement"]
    return LoihiProgram(
        hw=hw, dt=meta["dt"], reset=meta["reset"],
        input_shape=tuple(meta["input_shape"]),
        input_encoding=encoding_from_dict(meta["input_encoding"]),
        groups=groups, projections=projections, outputs=tuple(meta["outputs"]), network=net,
        depth=meta["depth"],
        placement=Placement(a[pl["slices"]], pl["strategy"], pl["stats"]),
        report=QuantizationReport.from_dict(meta["report"]), source=meta["source"],
        route_totals=meta["route_totals"])
