"""A ``LoihiProgram`` as an artifact's header (JSON) and arrays (``compiler/artifact.py``
writes the container)."""

from __future__ import annotations

import numpy as np

from neurocc.api.errors import ArtifactError, ConfigError
from neurocc.compiler.ir.connectivity import CONNECTIVITY_TYPES, Conv, Dense, Sparse
from neurocc.compiler.ir.delays import Delays
from neurocc.compiler.ir.encoding import encoding_from_dict
from neurocc.compiler.ir.graph import Network, Projection
from neurocc.compiler.ir.mapping import Placement
from neurocc.compiler.ir.neurons import NEURON_TYPES
from neurocc.compiler.targets.loihi.numerics import LAVA
from neurocc.compiler.targets.loihi.program import (
    LoihiGroup,
    LoihiProgram,
    LoihiProjection,
    QuantizationReport,
)

WIDE_TYPES = {np.dtype(t).str for t in (np.int16, np.int32, np.int64, np.float64)}
"""The dtypes a narrowed array may be widened back to."""


class _Writer:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.narrowed: dict[str, str] = {}

    def put(self, key: str, a, narrow: bool = False) -> str:
        """Store ``a``; with ``narrow`` in the narrowest type that holds it exactly (integers
        in int8/16/32 by their range, floats in float32 when every value survives the round
        trip), its own dtype recorded and restored on load. The program's weights are
        Lava's 8-bit mantissas and most NIR weights are float32: the file shrinks ~3x."""
        a = np.asarray(a)
        b = _narrowest(a) if narrow else a
        if b.dtype != a.dtype:
            self.narrowed[key] = a.dtype.str
        self.arrays[key] = b
        return key


def _narrowest(a: np.ndarray) -> np.ndarray:
    if not a.size:
        return a
    if a.dtype.kind in "iu":
        lo, hi = int(a.min()), int(a.max())
        for t in (np.int8, np.int16, np.int32):
            if t().itemsize < a.dtype.itemsize and np.iinfo(t).min <= lo and \
                    hi <= np.iinfo(t).max:
                return a.astype(t)
    if a.dtype == np.float64:
        b = a.astype(np.float32)
        if np.array_equal(b.astype(np.float64), a, equal_nan=True):
            return b
    return a


def _conn_meta(conn, w: _Writer, key: str) -> dict:
    if isinstance(conn, Dense):
        return {"kind": "dense", "weight": w.put(key + ".w", conn.weight, narrow=True)}
    if isinstance(conn, Sparse):
        return {"kind": "sparse", "indptr": w.put(key + ".indptr", conn.indptr, narrow=True),
                "indices": w.put(key + ".indices", conn.indices, narrow=True),
                "data": w.put(key + ".data", conn.data, narrow=True), "n_pre": conn.n_pre}
    return {"kind": "conv", "weight": w.put(key + ".w", conn.weight, narrow=True),
            "in_shape": list(conn.in_shape), "out_shape": list(conn.out_shape),
            "stride": list(conn.stride), "padding": list(conn.padding),
            "dilation": list(conn.dilation), "groups": conn.groups}


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


def _with_delay_bits(raw: dict) -> dict:
    num = raw.get("numerics") if isinstance(raw, dict) else None
    if not isinstance(num, dict) or "delay_bits" in num:
        return raw
    return {**raw, "numerics": {**num, "delay_bits": dict(NO_DELAY_BITS)}}


def _conn_load(m: dict, a):
    cls = CONNECTIVITY_TYPES[m["kind"]]
    if cls is Dense:
        return Dense(a[m["weight"]])
    if cls is Sparse:
        return Sparse(a[m["indptr"]], a[m["indices"]], a[m["data"]], int(m["n_pre"]))
    return Conv(a[m["weight"]], tuple(m["in_shape"]), tuple(m["out_shape"]),
                tuple(m["stride"]), tuple(m["padding"]), tuple(m["dilation"]), int(m["groups"]))


def to_payload(prog: LoihiProgram) -> tuple[dict, dict]:
    w = _Writer()
    net = prog.network
    meta = {
        "hw": prog.hw.raw, "dt": prog.dt,
        "reset": prog.reset, "input_shape": list(prog.input_shape),
        "input_encoding": prog.input_encoding.to_dict(), "outputs": list(prog.outputs),
        "depth": prog.depth, "report": prog.report.to_dict(), "source": prog.source,
        "route_totals": prog.route_totals, "groups": [], "projections": [],
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
            "num_weight_bits": p.num_weight_bits, "conn": _conn_meta(p.conn, w, f"p{i}"),
            **_delay_meta(p.delay, w, f"p{i}")})
    for i, g in enumerate(net.groups):
        m = {"name": g.name, "nir_node": g.nir_node, "kind": g.kind, "shape": list(g.shape)}
        for k in g.parameters():
            m[k] = w.put(f"ir.g{i}.{k}", getattr(g, k))
        meta["network"]["groups"].append(m)
    for i, p in enumerate(net.projections):
        meta["network"]["projections"].append({
            "name": p.name, "src": p.src, "dst": p.dst, "nir_nodes": list(p.nir_nodes),
            "conn": _conn_meta(p.conn, w, f"ir.p{i}"), **_delay_meta(p.delay, w, f"ir.p{i}")})
    meta["narrowed"] = w.narrowed
    return meta, w.arrays


def from_payload(meta: dict, a: dict, where: str) -> LoihiProgram:
    from neurocc.hw_configs import from_dict

    a = dict(a)
    narrowed = meta.get("narrowed", {})
    if not isinstance(narrowed, dict):
        raise ArtifactError(f"program '{where}': its 'narrowed' table is damaged; recompile "
                            "it with neurocc compile")
    for key, dtype in narrowed.items():                   # stored narrower, exactly
        if key not in a or dtype not in WIDE_TYPES:
            raise ArtifactError(f"program '{where}': array '{key}' cannot be restored to "
                                f"{dtype!r}; recompile it with neurocc compile")
        a[key] = a[key].astype(np.dtype(dtype))

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
    net = Network(
        input_shape=tuple(n["input_shape"]), groups=tuple(ir_groups),
        projections=tuple(Projection(m["name"], m["src"], m["dst"], _conn_load(m["conn"], a),
                                     tuple(m["nir_nodes"]), _delay_load(m.get("delay"), a))
                          for m in n["projections"]),
        outputs=tuple(n["outputs"]), input_name=n["input_name"], meta=n["meta"])
    pl = meta["placement"]
    try:
        hw = from_dict(_with_delay_bits(meta["hw"]), "<program>")
    except ConfigError as e:
        raise ArtifactError(f"program '{where}': its hardware description is incomplete for "
                            f"this neurocc ({e}); recompile it with neurocc compile") from None
    return LoihiProgram(
        hw=hw, dt=meta["dt"], reset=meta["reset"],
        input_shape=tuple(meta["input_shape"]),
        input_encoding=encoding_from_dict(meta["input_encoding"]),
        groups=groups, projections=projections, outputs=tuple(meta["outputs"]), network=net,
        depth=meta["depth"],
        placement=Placement(a[pl["slices"]], pl["strategy"], pl["stats"]),
        report=QuantizationReport.from_dict(meta["report"]), source=meta["source"],
        route_totals=meta["route_totals"])
