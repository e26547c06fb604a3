"""NIR → IR.

Neuron nodes become neuron groups (``compiler.ir.neurons``). Everything linear between two
neuron nodes (or the input and a neuron node) — Affine, Linear, Scale, Conv1d, Conv2d, pooling,
Flatten, in any DAG — is fused into one ``Projection`` per (source, destination) pair,
because on the chip it is one synaptic hop. A lone Conv2d or pooling node stays a shared-
kernel ``Conv``, a lone Affine or Linear its matrix and a lone Scale a ``Sparse`` diagonal
(one synapse per neuron, as in the self-connections of ``producers.py``), whatever else feeds
the destination layer; any other chain is expanded to its dense matrix by evaluating it on a
basis. Biases become the destination group's constant input current.

Never relies on node order (``nir.read`` returns nodes alphabetically): inputs and outputs
are found by type and the graph by its edges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurocc.api.errors import FrontendError, NeuroccError, UnsupportedError
from neurocc.compiler.frontend.delays import ELEMENTWISE, projection_delays, read_delay
from neurocc.compiler.ir.connectivity import Conv, Dense, Sparse
from neurocc.compiler.ir.graph import INPUT, Network, Projection
from neurocc.compiler.ir.neurons import NEURON_TYPES, Neurons
from neurocc.compiler.linalg import conv2d, pair, pool_kernel

MAX_EXPANDED_SYNAPSES = 2**26
"""Largest dense matrix the frontend will expand a fused linear chain into (a software
limit of this compiler, not of any chip). A single Conv, Affine or Linear is taken as it is
and a single Scale as its diagonal, beside other inputs of its layer too: none is ever
expanded."""

BASIS_ELEMENTS = 1 << 22
"""Values per block when a fused chain is evaluated on a basis: memory stays proportional to
the synapses produced (plus this block), never to the square of the inputs."""


# --------------------------------------------------------------------------- node registry


@dataclass(frozen=True)
class LinearOp:
    """A NIR linear node as a function on a batch ``(B, *in_shape)`` → ``(B, *out_shape)``."""

    apply: Callable[[np.ndarray], np.ndarray]
    conv: dict | None = None  # set for Conv2d / pooling: the pieces of a ``Conv``
    matrix: np.ndarray | None = None  # set for Affine / Linear: the weight (out, in)
    view: tuple[int, ...] | None = None  # a Conv1d's (C, L) input computed as (C, 1, L)
    delay: np.ndarray | None = None  # set for Delay: τ per element (s), flat; else identity


def _affine(node, shape):
    w = _arr(node, "weight", 2)
    b = _arr(node, "bias", 1) if hasattr(node, "bias") else np.zeros(w.shape[0])
    if b.size not in (1, w.shape[0]):
        raise FrontendError(
            f"node '{node._name}' (Affine): bias has {b.size} values but the weight has "
            f"{w.shape[0]} rows (one bias per output); make them agree")
    return LinearOp(lambda x: x.reshape(len(x), -1) @ w.T + b, matrix=w)


def _geometry(node, field: str, minimum: int) -> tuple[int, int]:
    """A conv or pool's ``field`` as an (h, w) pair of whole numbers ≥ ``minimum``."""
    v = pair(getattr(node, field))
    if min(v) < minimum:
        raise FrontendError(
            f"node '{node._name}' ({type(node).__name__}): {field} {v} must be at least "
            f"{minimum} in both dimensions")
    return v


def _linear(node, shape):
    w = _arr(node, "weight", 2)
    return LinearOp(lambda x: x.reshape(len(x), -1) @ w.T, matrix=w)


def _scale(node, shape):
    s = _arr(node, "scale")
    return LinearOp(lambda x: x * s.reshape((1,) + s.shape) if s.ndim else x * s)


def _conv2d(node, shape):
    w = _arr(node, "weight", 4)
    padding = node.padding if isinstance(node.padding, str) else _geometry(node, "padding", 0)
    return _conv(node, shape, w, _geometry(node, "stride", 1), _geometry(node, "dilation", 1),
                 padding, None)


def _length(node, field: str, minimum: int) -> int:
    """A Conv1d's ``field``: one whole number ≥ ``minimum``."""
    v = pair(getattr(node, field))
    if v[0] != v[1]:
        raise FrontendError(
            f"node '{node._name}' (Conv1d): {field} {v} must be one number (a 1-D kernel)")
    if v[0] < minimum:
        raise FrontendError(
            f"node '{node._name}' (Conv1d): {field} {v[0]} must be at least {minimum}")
    return v[0]


def _conv1d(node, shape):
    """A Conv1d on ``(C, L)`` is the Conv2d of height 1 on ``(C, 1, L)``: on the chip it is
    the same shared-kernel connection, so it stays a ``Conv``."""
    w = _arr(node, "weight", 3)
    if len(shape) == 1 and w.shape[1] == 1:
        shape = (1, shape[0])       # a (1, L) Input lost its one channel as a batch of 1
    if len(shape) != 2:
        raise FrontendError(
            f"node '{node._name}' (Conv1d): expects a (C, L) input, receives shape "
            f"{tuple(shape)}; put a Conv1d on a (channels, length) layer")
    padding = node.padding if isinstance(node.padding, str) else \
        (0, _length(node, "padding", 0))
    return _conv(node, shape, w[:, :, None, :], (1, _length(node, "stride", 1)),
                 (1, _length(node, "dilation", 1)), padding, (shape[0], 1, shape[1]))


def _conv(node, shape, w, stride, dilation, padding, view):
    """A Conv2d's ``LinearOp`` (``padding``: an (h, w) pair, or NIR's "valid"/"same");
    ``view`` is the ``(C, H, W)`` a Conv1d's ``(C, L)`` input is computed as (None for a
    Conv2d)."""
    kind = type(node).__name__
    groups = int(np.asarray(node.groups).ravel()[0]) if np.size(node.groups) else 1
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same" and stride == (1, 1):
            if any((dilation[i] * (w.shape[2 + i] - 1)) % 2 for i in range(2)):
                raise UnsupportedError(
                    f"node '{node._name}' ({kind}): padding='same' with an even kernel is "
                    "asymmetric; pad explicitly")
            padding = tuple(dilation[i] * (w.shape[2 + i] - 1) // 2 for i in range(2))
        else:
            raise UnsupportedError(
                f"node '{node._name}' ({kind}): padding={padding!r} is not supported "
                "(padding='same' only with stride 1); give the padding as numbers")
    bias = _arr(node, "bias", 1) if getattr(node, "bias", None) is not None else None
    if bias is None or bias.size != w.shape[0]:
        bias = np.zeros(w.shape[0]) if bias is None or bias.size <= 1 else bias
    conv = dict(weight=w, stride=stride, padding=padding, dilation=dilation, groups=groups)

    def apply(x):
        y = conv2d(x.reshape(len(x), *(view or shape)), w, stride, padding, dilation,
                   groups) + bias[None, :, None, None]
        return y if view is None else y.reshape(len(x), y.shape[1], y.shape[3])

    return LinearOp(apply, conv, view=view)


def _pool(average: bool):
    def make(node, shape):
        kernel, stride = _geometry(node, "kernel_size", 1), _geometry(node, "stride", 1)
        padding = _geometry(node, "padding", 0)
        if len(shape) != 3:
            raise FrontendError(
                f"node '{node._name}' ({type(node).__name__}): expects a (C, H, W) input, "
                f"receives shape {tuple(shape)}; put it on a (C, H, W) layer")
        k = pool_kernel(shape[0], kernel, average)
        conv = dict(weight=k, stride=stride, padding=padding, dilation=(1, 1), groups=shape[0])
        return LinearOp(
            lambda x: conv2d(x.reshape(len(x), *shape), k, stride, padding, (1, 1), shape[0]),
            conv)

    return make


def _flatten(node, shape):
    return LinearOp(lambda x: x.reshape(len(x), -1))


def _identity(node, shape):
    return LinearOp(lambda x: x)


def _delay(node, shape):
    """``y(t) = x(t − τ)``: the identity on values; its τ becomes the synaptic delays of the
    projection it lies on (``frontend/delays.py``)."""
    tau = read_delay(node)
    if tau.size not in (1, int(np.prod(shape))):
        raise FrontendError(f"node '{node._name}' (Delay): {tau.size} delays for "
                            f"{int(np.prod(shape))} values of shape {tuple(shape)}; give one "
                            "delay per value, or one for all")
    return LinearOp(lambda x: x, delay=tau)


NIR_PARAMETERS = {"tau_mem": ("tau_mem", "tau"), "tau_syn": ("tau_syn",), "r": ("r",),
                  "v_leak": ("v_leak",), "v_threshold": ("v_threshold", "threshold"),
                  "w_in": ("w_in",)}
"""IR parameter → the NIR attribute names it is read from (first present wins)."""
DEFAULTS = {"tau_mem": np.inf, "r": 1.0, "v_leak": 0.0, "v_threshold": np.inf, "w_in": 1.0}


def _neuron(cls: type[Neurons]):
    """Reader of NIR nodes of ``cls.nir_type`` into ``cls``: every parameter of the kind is
    taken from the node (scalars broadcast to the layer), ``bias`` starts at zero."""
    names = [k for k in cls.parameters() if k != "bias"]

    def make(node, name, size_hint: tuple[int, ...] | None = None):
        p = {}
        for key in names:
            for attr in NIR_PARAMETERS[key]:
                if getattr(node, attr, None) is not None:
                    p[key] = _real(getattr(node, attr), node, attr)
                    break
        sized_by = ("tau_mem", "r") if {"tau_mem", "r"} & set(names) else ("v_threshold",)
        ref = next((p[k] for k in sized_by if k in p), None)
        if ref is None:
            raise FrontendError(
                f"node '{name}' ({type(node).__name__}): has neither "
                + " nor ".join("tau" if k == "tau_mem" else k for k in sized_by)
                + "; give it the parameters of its NIR definition")
        shape = tuple(int(s) for s in ref.shape) or (1,)
        if int(np.prod(shape)) == 1 and size_hint and all(a.size == 1 for a in p.values()):
            shape = tuple(size_hint)     # scalar parameters: broadcast to the layer
        n = int(np.prod(shape))

        def flat(a, default):
            a = np.full(n, default, dtype=np.float64) if a is None else np.asarray(a, float)
            if a.size == 1:
                a = np.full(n, float(a.ravel()[0]))
            if a.size != n:
                raise FrontendError(
                    f"node '{name}' ({type(node).__name__}): parameter shapes disagree "
                    f"({a.size} values for {n} neurons); give every parameter one value per "
                    "neuron, or one for all")
            return a.ravel().copy()

        if "tau_syn" in names and "tau_syn" not in p:
            raise FrontendError(f"node '{name}' ({type(node).__name__}): has no tau_syn; give it "
                                "tau_syn (seconds)")
        g = cls(name=name, nir_node=name, shape=shape, bias=np.zeros(n),
                **{k: flat(p.get(k), DEFAULTS.get(k, 0.0)) for k in names})
        v_reset = getattr(node, "v_reset", None)
        _check_neuron(g, node, flat(None if v_reset is None else np.asarray(v_reset, float),
                                    0.0))
        return g

    return make


LINEAR_NODES: dict[str, Callable] = {
    "Affine": _affine, "Linear": _linear, "Scale": _scale, "Conv2d": _conv2d, "Conv1d": _conv1d,
    "SumPool2d": _pool(False), "AvgPool2d": _pool(True), "Flatten": _flatten,
    "Delay": _delay, "Input": _identity, "Output": _identity,
}
NEURON_NODES: dict[str, Callable] = {c.nir_type: _neuron(c) for c in NEURON_TYPES.values()}
SUPPORTED = sorted([k for k in LINEAR_NODES if k not in ("Input", "Output")] + list(NEURON_NODES)
                   + ["Input", "Output", "NIRGraph"])


# --------------------------------------------------------------------------- checks


def _real(value, node, key) -> np.ndarray:
    """``value`` as float64; complex numbers are refused, not silently truncated."""
    a = np.asarray(value)
    if a.dtype.kind == "c":
        raise FrontendError(f"node '{node._name}' ({type(node).__name__}): '{key}' holds complex "
                            "numbers; a spiking network's parameters are real")
    return a.astype(np.float64)


def _arr(node, key, ndim=None) -> np.ndarray:
    a = _real(getattr(node, key), node, key)
    if ndim is not None and a.ndim != ndim:
        raise FrontendError(
            f"node '{node._name}' ({type(node).__name__}): '{key}' has {a.ndim} dimensions, "
            f"expected {ndim}; give a {ndim}-D array")
    if not np.all(np.isfinite(a)):
        bad = int(np.sum(~np.isfinite(a)))
        raise FrontendError(
            f"node '{node._name}' ({type(node).__name__}): '{key}' holds {bad} NaN/inf "
            "value(s); fix the trained model before export")
    return a


def _check_neuron(g: Neurons, node, v_reset: np.ndarray) -> None:
    where = f"node '{g.nir_node}' ({type(node).__name__})"
    tau_mem = getattr(g, "tau_mem", None)
    # r may be inf only beside tau = inf (snnTorch's beta = 1, checked below); an IF has no tau
    may_be_inf = ("tau_mem", "v_threshold") + (("r",) if tau_mem is not None else ())
    for key in g.parameters():
        a = getattr(g, key)
        if np.any(np.isnan(a)):
            raise FrontendError(f"{where}: '{key}' holds NaN; fix the model before export")
        if key not in may_be_inf and not np.all(np.isfinite(a)):
            raise FrontendError(f"{where}: '{key}' holds inf; give finite values")
    if tau_mem is not None and np.any(np.isinf(g.r) & np.isfinite(tau_mem)):
        raise FrontendError(f"{where}: 'r' is inf where tau is finite; give a finite r")
    for key in ("tau_mem", "tau_syn"):
        a = getattr(g, key, None)
        if a is not None and np.any(a <= 0):
            raise FrontendError(
                f"{where}: {key.replace('_mem', '')} must be > 0 s, found {a.min():g} "
                "(snnTorch exports beta > 1 as a negative tau); use 0 <= beta < 1")
    if g.spiking and np.any(np.isinf(g.v_threshold)):
        raise FrontendError(f"{where}: v_threshold must be finite for a spiking neuron; give a "
                            "finite v_threshold, or use an LI node for a non-spiking readout")
    if g.spiking and np.any(g.v_threshold <= 0):
        raise UnsupportedError(
            f"{where}: v_threshold must be > 0 (found {g.v_threshold.min():g}); Loihi compares "
            "v > vth with vth >= 0")
    if np.any(v_reset != 0):
        raise UnsupportedError(
            f"{where}: v_reset = {v_reset[v_reset != 0][0]:g}; Loihi's LIF resets to 0, "
            "so only v_reset = 0 is supported")


def _make(reader, node, name, *args):
    """``reader(node, *args)``; a malformed node (parameters of the wrong type, shape or
    range) becomes one FrontendError naming it, whatever numpy raised."""
    try:
        return reader(node, *args)
    except NeuroccError:
        raise
    except (TypeError, ValueError, IndexError, OverflowError, ZeroDivisionError,
            AttributeError) as e:
        raise FrontendError(
            f"node '{name}' ({type(node).__name__}): malformed parameters ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else 'no detail'}); check it against the NIR "
            "node's definition") from None


def _fail_type(name, node):
    raise UnsupportedError(
        f"node '{name}' has unsupported type {type(node).__name__}; supported: "
        + ", ".join(SUPPORTED))


# --------------------------------------------------------------------------- graph


def _load(source) -> tuple[object, str]:
    import nir

    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise FrontendError(f"NIR file '{path}' does not exist; check the path")
        _check_hdf5(path)
        try:
            # nir's own type check refuses what several producers write (batch dimensions
            # in types, grouped convs): read_nir infers and checks every shape itself.
            graph = nir.read(str(path), type_check=False)
        except Exception as e:  # nir raises KeyError/ValueError/OSError on bad files
            first = (str(e).splitlines() or [""])[0]
            raise FrontendError(
                f"cannot read NIR file '{path}': {type(e).__name__}: {first or 'no message'}"
                " — the file is damaged or not an HDF5 NIR graph (nir.write writes one)"
            ) from None
        _check_version(path, graph)
        return graph, path.name
    if type(source).__name__ == "NIRGraph":
        return source, "<NIRGraph>"
    raise FrontendError(f"expected a .nir path or a nir.NIRGraph, got {type(source).__name__}")


def _check_hdf5(path: Path) -> None:
    """Every dataset's storage is where the file says, before any data is read: libhdf5 can
    loop forever on a damaged chunk index (found by the fuzz campaign: one flipped byte),
    where asking for the storage size fails at once."""
    import h5py

    size = path.stat().st_size
    bad = []

    def visit(name, obj):
        if bad or not isinstance(obj, h5py.Dataset):
            return
        try:
            obj.id.get_storage_size()
            if obj.chunks is not None:
                for i in range(obj.id.get_num_chunks()):
                    info = obj.id.get_chunk_info(i)
                    if info.byte_offset is None or info.byte_offset + info.size > size:
                        raise ValueError("a chunk lies outside the file")
        except Exception as e:  # noqa: BLE001 - any failure here means a damaged file
            bad.append((name, (str(e).splitlines() or ["damaged"])[0]))

    try:
        f = h5py.File(path, "r")
    except Exception:  # noqa: BLE001 - not HDF5 at all: nir.read says so below
        return
    with f:
        try:
            f.visititems(visit)
        except Exception as e:  # noqa: BLE001 - a damaged group or link table
            bad.append((None, (str(e).splitlines() or ["damaged"])[0]))
    if bad:
        name, why = bad[0]
        what = "its group index" if name is None else f"dataset '{name}'"
        raise FrontendError(f"NIR file '{path}': {what} is damaged ({why}); the file cannot "
                            "be read safely — re-export it")


SUPPORTED_NIR_MAJOR = 1
"""The NIR format generation neurocc reads (``nir`` 1.x writes it)."""


def _check_version(path: Path, graph) -> None:
    """A file names the NIR version that wrote it: another major version is refused; a
    file without one is read as 1.x and says so (``graph._neurocc_warnings``)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f["version"][()] if "version" in f else None
    except (OSError, KeyError, TypeError, ValueError):  # nir.read opened it a moment ago
        raw = None
    version = raw.decode(errors="replace") if isinstance(raw, bytes) else \
        (str(raw) if raw is not None else None)
    warnings = []
    if version is None:
        warnings.append(f"NIR file '{path.name}' names no NIR version; read as NIR "
                        f"{SUPPORTED_NIR_MAJOR}.x")
    else:
        major = version.strip().split(".")[0]
        if major != str(SUPPORTED_NIR_MAJOR):
            raise UnsupportedError(
                f"NIR file '{path.name}' was written by NIR {version.strip()!r}; neurocc reads "
                f"NIR {SUPPORTED_NIR_MAJOR}.x files: re-export it with nir "
                f"{SUPPORTED_NIR_MAJOR}.x")
    graph._neurocc_warnings = warnings


def _flatten_graph(graph, prefix="") -> tuple[dict, list]:
    """Inline nested NIRGraphs: their Input/Output nodes become pass-throughs."""
    import nir

    nodes, edges = {}, []
    if not isinstance(getattr(graph, "nodes", None), dict) or not isinstance(
            getattr(graph, "edges", None), (list, tuple)):
        raise FrontendError(f"graph '{prefix or '<top>'}' has no nodes dict and edges list; "
                            "build it as nir.NIRGraph(nodes={...}, edges=[...])")
    for name, node in graph.nodes.items():
        full = prefix + str(name)
        if not isinstance(name, str) or not name:
            raise FrontendError(f"graph '{prefix or '<top>'}': node name {name!r} is not a "
                                "non-empty string; name every node with a string")
        if not isinstance(node, nir.NIRNode):
            raise FrontendError(f"node '{full}' is a {type(node).__name__}, not a NIR node "
                                "(build graphs from nir.* node classes)")
        if type(node).__name__ == "NIRGraph":
            sub_nodes, sub_edges = _flatten_graph(node, full + ".")
            nodes.update(sub_nodes)
            edges.extend(sub_edges)
        else:
            node._name = full
            node._nested = bool(prefix)
            nodes[full] = node
    seen = set()
    for e in graph.edges:
        if not (isinstance(e, (tuple, list)) and len(e) == 2
                and all(isinstance(x, str) for x in e)):
            raise FrontendError(f"graph '{prefix or '<top>'}': edge {e!r} is not a pair of "
                                "node names; give each edge as (source, destination)")
        if tuple(e) in seen:
            raise FrontendError(f"edge ({prefix}{e[0]} → {prefix}{e[1]}) appears twice; a "
                                "duplicated edge would add its input twice: remove one")
        seen.add(tuple(e))
        src, dst = e
        edges.append((_port(graph, prefix, src, "Output"), _port(graph, prefix, dst, "Input")))
    return nodes, edges


def _port(graph, prefix, ref, kind):
    """Resolve an edge endpoint: a subgraph reference points at its Input/Output node."""
    head, _, rest = ref.partition(".")
    node = graph.nodes.get(ref) or graph.nodes.get(head)
    if node is not None and type(node).__name__ == "NIRGraph":
        if rest and rest in node.nodes:
            return _port(node, prefix + head + ".", rest, kind)
        ends = [k for k, v in node.nodes.items() if type(v).__name__ == kind]
        if len(ends) != 1:
            raise FrontendError(f"subgraph '{prefix + head}' has {len(ends)} {kind} nodes; give it "
                                f"one {kind} node, or name the node in the edge "
                                f"('{prefix + head}.NAME')")
        return prefix + head + "." + ends[0]
    return prefix + ref


def read_nir(source) -> Network:
    """Read a ``.nir`` file or ``nir.NIRGraph`` into a ``Network``."""
    graph, label = _load(source)
    nodes, edges = _flatten_graph(graph)
    for name, node in nodes.items():
        t = type(node).__name__
        if t not in LINEAR_NODES and t not in NEURON_NODES:
            _fail_type(name, node)
    for src, dst in edges:
        for end in (src, dst):
            if end not in nodes:
                raise FrontendError(f"edge ({src} → {dst}) names node '{end}', which is not in "
                                    "the graph; add the node or fix the edge")
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    succs: dict[str, list[str]] = {k: [] for k in nodes}
    for src, dst in edges:
        preds[dst].append(src)
        succs[src].append(dst)
    # Top-level Input/Output only: subgraph ones are pass-throughs.
    inputs = sorted(k for k, v in nodes.items() if type(v).__name__ == "Input" and not v._nested)
    outputs = sorted(k for k, v in nodes.items() if type(v).__name__ == "Output" and not v._nested)
    if not inputs:
        raise FrontendError(f"graph {label} has no Input node; add one (nir.Input) declaring "
                            "the input's shape")
    if not outputs:
        raise FrontendError(f"graph {label} has no Output node; add one (nir.Output) after the "
                            "last neuron layer")
    # Several Inputs share one input space on the chip: each takes its slice of a flat
    # vector, in name order (``meta["inputs"]``); ``run`` takes a dict of arrays by name.
    in_shapes = {k: _input_shape(nodes[k], k) for k in inputs}
    in_shape = in_shapes[inputs[0]] if len(inputs) == 1 else \
        (sum(int(np.prod(s)) for s in in_shapes.values()),)
    offset_of = dict(zip(inputs, np.cumsum([0] + [int(np.prod(in_shapes[k])) for k in inputs])
                         .tolist()))
    for in_name in inputs:
        if preds[in_name]:
            raise FrontendError(
                f"edge ({preds[in_name][0]} → {in_name}) goes into the Input node '{in_name}';"
                " an Input takes no edges (feedback must end at a neuron node): remove it")

    def is_neuron(k):
        return type(nodes[k]).__name__ in NEURON_NODES

    groups = {k: _make(NEURON_NODES[type(nodes[k]).__name__], nodes[k], k, k,
                       _size_hint(k, nodes, preds))
              for k in sorted(nodes) if is_neuron(k)}

    # Shapes: every node's output shape, from the Input and the neuron groups outward.
    shapes: dict[str, tuple] = dict(in_shapes)
    # A neuron node with only scalar parameters and nothing declaring its size (Norse writes
    # Conv2d -> LIFBoxCell so) takes the shape that flows into it, once that is known.
    unsized = {k for k, g in groups.items()
               if g.n == 1 and _size_hint(k, nodes, preds) is None and preds[k]}
    shapes.update({k: g.shape for k, g in groups.items() if k not in unsized})
    ops: dict[str, LinearOp] = {}

    def compute(k):
        ps = preds[k]
        in_shapes = {shapes[p] for p in ps}
        if len({int(np.prod(s)) for s in in_shapes}) > 1 or len(in_shapes) > 1:
            raise FrontendError(
                f"node '{k}' ({type(nodes[k]).__name__}): its inputs have different shapes "
                + ", ".join(str(s) for s in sorted(in_shapes))
                + "; make every edge into it carry the same shape")
        sin = next(iter(in_shapes))
        op = _make(LINEAR_NODES[type(nodes[k]).__name__], nodes[k], k, sin)
        try:
            out = op.apply(np.zeros((1, *sin)))
        except (ValueError, TypeError, IndexError) as e:
            raise FrontendError(
                f"node '{k}' ({type(nodes[k]).__name__}): cannot take input of shape "
                f"{tuple(sin)} from node '{ps[0]}' ({e}); make its parameters fit that "
                "shape") from None
        _check_declared(nodes[k], k, sin)
        ops[k] = op
        shapes[k] = tuple(out.shape[1:])

    def size(k, shape):
        groups[k] = _make(NEURON_NODES[type(nodes[k]).__name__], nodes[k], k, k, shape)
        shapes[k] = groups[k].shape

    def shape_of(k):
        """Output shape of node ``k``, its predecessors first (iteratively: chains of any
        length). An unsized neuron node takes the shape flowing into it, from its first input
        whose shape does not depend on its own: an input found to lead back to it (a
        self-connection, as producer='sinabs' adds, or a recurrent conv) is passed over."""
        # Frames: ["node", n, expanded], as a depth-first search; ["size", n, i, outer]: the
        # unsized node n tries its input i, in a fresh search above ["search"] (on a path of
        # its own); outer is an enclosing unsized node one of its inputs led back to.
        stack: list[list] = [["node", k, False]]
        paths: list[set[str]] = [set()]
        sizing, plain = set(), set()

        def back_to(target):
            """The input being tried leads back to unsized node ``target``: drop its search;
            the innermost unsized node tries its next input."""
            while stack[-1][0] != "size":
                if stack.pop()[0] == "search":
                    paths.pop()
            frame = stack[-1]
            frame[2] += 1
            if target != frame[1]:
                frame[3] = target

        while stack:
            frame = stack[-1]
            kind, n = frame[0], frame[1]
            if kind == "search":                 # the input's shape is known
                stack.pop()
                paths.pop()
                continue
            if kind == "size":
                ps, i = preds[n], frame[2]
                if i < len(ps) and ps[i] in shapes:
                    size(n, shapes[ps[i]])
                elif i < len(ps):
                    stack += [["search", n], ["node", ps[i], False]]
                    paths.append(set())
                    continue
                elif frame[3] is None:       # every input leads back to n: searched as
                    plain.add(n)                # a linear node, its loop is refused
                    sizing.discard(n)
                    stack[-1] = ["node", n, False]
                    continue
                stack.pop()
                sizing.discard(n)
                if n not in shapes:
                    back_to(frame[3])
                continue
            on_path, expanded = paths[-1], frame[2]
            if n in shapes:
                stack.pop()
                continue
            if n in sizing:
                stack.pop()
                back_to(n)
                continue
            if n in unsized and n not in plain:
                stack[-1] = ["size", n, 0, None]
                sizing.add(n)
                continue
            if expanded:
                stack.pop()
                on_path.discard(n)
                if n in unsized:
                    size(n, shapes[preds[n][0]])
                else:
                    compute(n)
                continue
            if n in on_path:
                raise FrontendError(f"node '{n}' is on a loop of linear nodes with no neuron "
                                    "to break it; a recurrent loop needs a neuron node")
            if not preds[n]:
                raise FrontendError(f"node '{n}' ({type(nodes[n]).__name__}) has no input "
                                    "edge; connect it or remove it")
            on_path.add(n)
            frame[2] = True
            for p in preds[n]:
                if p not in shapes:
                    if p in on_path:
                        raise FrontendError(
                            f"node '{p}' is on a loop of linear nodes with no neuron to "
                            "break it; a recurrent loop needs a neuron node")
                    stack.append(["node", p, False])
        return shapes[k]

    for k in sorted(nodes):
        if (not is_neuron(k) or k in unsized) and k not in in_shapes:
            shape_of(k)
    for k, g in groups.items():
        if not preds[k]:
            raise FrontendError(f"neuron node '{k}' has no input edge; connect it or remove it")
        for p in preds[k]:                      # every input edge, not just the first
            src_shape = shape_of(p)
            if int(np.prod(src_shape)) != g.n:
                raise FrontendError(
                    f"node '{k}' ({type(nodes[k]).__name__}): has {g.n} neurons but receives "
                    f"{int(np.prod(src_shape))} values from node '{p}' "
                    f"(shape {tuple(src_shape)}); give it {int(np.prod(src_shape))} neurons")

    _check_reachable(inputs, outputs, succs, label)

    projections, groups = _fuse_projections(nodes, preds, groups, ops, shapes, offset_of,
                                            is_neuron)

    out_groups = []
    for o in outputs:
        src = _through_flatten(o, preds, nodes)
        if src not in groups and type(nodes[src]).__name__ == "Delay":
            raise UnsupportedError(
                f"Output '{o}' is fed by node '{src}' (Delay): a chip's delays are synaptic, "
                "between neurons; remove the Delay and shift the recorded output by it, or "
                "move it before a neuron node")
        if src not in groups:
            raise UnsupportedError(
                f"Output '{o}' is fed by node '{src}' ({type(nodes[src]).__name__}), not a neuron:"
                " add an LI (non-spiking readout) or LIF node before the output")
        declared = _declared(nodes[o], "output")
        n_src = int(np.prod(shapes[src]))
        if declared is not None and int(np.prod(_without_batch(declared))) != n_src:
            raise FrontendError(
                f"Output node '{o}' declares shape {declared} but receives {n_src} values from "
                f"node '{src}' (shape {tuple(shapes[src])}): correct its output_type")
        out_groups.append(src)

    return Network(
        input_shape=in_shape, groups=tuple(groups[k] for k in sorted(groups)),
        projections=tuple(projections), outputs=tuple(out_groups), input_name="+".join(inputs),
        # every node's output shape, for tools that walk the NIR graph itself (NeuroBench's
        # layer-by-layer counts, cost/neurobench.py) without inferring them again
        meta={"source": label,
              "inputs": [{"name": k, "shape": [int(d) for d in in_shapes[k]],
                          "offset": offset_of[k]} for k in inputs],
              "node_shapes": {k: [int(d) for d in v] for k, v in sorted(shapes.items())},
              "warnings": list(getattr(graph, "_neurocc_warnings", []))},
    )


def _declared(node, key: str) -> tuple[int, ...] | None:
    t = getattr(node, f"{key}_type", None)
    shape = t.get(key) if isinstance(t, dict) else None
    if shape is None:
        return None
    shape = tuple(int(s) for s in np.asarray(shape).ravel())
    return shape or None


def _without_batch(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Drop a leading batch dimension of 1 from (1, features) or (1, C, H, W), as Norse,
    Sinabs and Rockpool write their types; (1, H, W) is one channel and is kept."""
    return shape[1:] if len(shape) in (2, 4) and shape[0] == 1 else shape


def _size_hint(k, nodes, preds) -> tuple[int, ...] | None:
    """The layer shape of neuron node ``k`` when its parameters are scalars: its declared
    type, else the rows of the Affine/Linear feeding it."""
    for key in ("input", "output"):
        d = _declared(nodes[k], key)
        if d is not None and int(np.prod(d)) > 1:
            return _without_batch(d)
    for p in preds[k]:
        w = getattr(nodes[p], "weight", None)
        if type(nodes[p]).__name__ in ("Affine", "Linear") and np.ndim(w) == 2:
            return (int(np.shape(w)[0]),)
    return None


def _input_shape(node, name) -> tuple[int, ...]:
    shape = _declared(node, "input")
    if shape is None:
        raise FrontendError(f"Input node '{name}' declares no shape; give it "
                            "input_type={'input': shape}")
    if min(shape) <= 0:
        raise FrontendError(f"Input node '{name}' has invalid shape {shape}; every dimension "
                            "must be at least 1")
    return _without_batch(shape)


def _check_declared(node, name, in_shape) -> None:
    """A node's declared input shape (if any) must agree with what flows into it."""
    t = getattr(node, "input_type", None)
    declared = t.get("input") if isinstance(t, dict) else None
    if declared is None or type(node).__name__ in ("Flatten", "Output", "Affine", "Linear",
                                                    "Delay"):   # Delay: checked by _delay
        return
    declared = tuple(int(s) for s in np.asarray(declared).ravel())
    g = np.asarray(getattr(node, "groups", 1)).ravel()
    groups = int(g[0]) if g.size and np.isfinite(g[0]) and g[0] >= 1 else 1
    if (type(node).__name__ in ("Conv2d", "Conv1d") and groups > 1
            and len(declared) == len(in_shape) and declared[0] * groups == in_shape[0]
            and declared[1:] == tuple(in_shape[1:])):
        return   # nir 1.0 infers a grouped conv's input channels as C_in / groups
    if declared and int(np.prod(declared)) != int(np.prod(in_shape)):
        raise FrontendError(
            f"node '{name}' ({type(node).__name__}): declares input shape {declared} but "
            f"receives {tuple(in_shape)}; correct its input_type or the layer before it")


def _check_reachable(inputs, outputs, succs, label) -> None:
    seen, stack = set(inputs), list(inputs)
    while stack:
        for nxt in succs[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    for o in outputs:
        if o not in seen:
            raise FrontendError(f"graph {label}: no path from Input '{', '.join(inputs)}' to "
                                f"Output '{o}'; connect it to a layer the input reaches")
    for k in inputs:
        if not succs[k]:
            raise FrontendError(f"graph {label}: Input '{k}' feeds nothing; connect it or "
                                "remove it")


def _through_flatten(k, preds, nodes) -> str:
    """Walk back from an Output through shape-only nodes (Flatten, subgraph ends)."""
    while True:
        ps = preds[k]
        if len(ps) != 1:
            return k
        p = ps[0]
        if type(nodes[p]).__name__ in ("Flatten", "Input", "Output") and preds[p]:
            k = p
            continue
        return p


def _fuse_projections(nodes, preds, groups, ops, shapes, inputs, is_neuron):
    """One projection per (source, destination group) pair; ``inputs`` maps each Input node
    to its offset in the input space. With several Inputs, each one's synapses onto ``dst``
    are the columns of its slice in one dense input projection."""
    several = len(inputs) > 1
    n_input = sum(int(np.prod(shapes[k])) for k in inputs)
    projections: list[Projection] = []
    new_groups = dict(groups)
    for dst in sorted(groups):
        # The linear subgraph feeding dst, and the sources (neurons / input) at its edge.
        linear, sources, stack = [], [], list(preds[dst])
        while stack:
            k = stack.pop()
            if k in inputs or is_neuron(k):
                if k not in sources:
                    sources.append(k)
            elif k not in linear:
                linear.append(k)
                stack.extend(preds[k])
        sources.sort()
        g = groups[dst]

        order = _topological(linear, preds)

        def evaluate(active: str | None, batch: np.ndarray | None) -> np.ndarray:
            """Current into dst when source ``active`` emits ``batch`` and the rest emit 0."""
            b = 1 if batch is None else len(batch)
            memo: dict[str, np.ndarray] = {}

            def value(k):
                if k in memo:
                    return memo[k]
                v = batch if (k == active and batch is not None) else None
                return np.zeros((b, *shapes[k])) if v is None else v.reshape(b, *shapes[k])

            for k in order:                       # every linear node after its inputs
                total = sum(value(p).reshape(b, -1) for p in preds[k])
                memo[k] = ops[k].apply(total.reshape(b, *shapes[preds[k][0]]))
            return sum(value(p).reshape(b, -1) for p in preds[dst])

        offset = evaluate(None, None)[0]
        if np.any(offset != 0):
            new_groups[dst] = _with_bias(new_groups[dst], g.bias + offset)
        joined, joined_nodes = None, set()
        for src in sources:
            src_name = INPUT if src in inputs else src
            fused = tuple(sorted(linear_between(src, dst, preds, linear)))
            n_src = int(np.prod(shapes[src]))
            conn = _direct(src, dst, preds, nodes, ops, shapes, (g.n, n_src), fused)
            if conn is None:
                if n_src * g.n > MAX_EXPANDED_SYNAPSES:
                    raise UnsupportedError(
                        f"projection {src} → {dst} (NIR nodes {', '.join(fused)}) would expand "
                        f"to a {g.n}×{n_src} dense matrix; use a single Conv2d or Affine "
                        "between neuron layers")
                w = np.empty((g.n, n_src))
                widest = max([n_src, g.n] + [int(np.prod(shapes[k])) for k in fused])
                block = max(1, BASIS_ELEMENTS // widest)
                for i in range(0, n_src, block):    # the basis, a block of inputs at a time
                    j = min(i + block, n_src)
                    basis = np.zeros((j - i, n_src))
                    basis[np.arange(j - i), np.arange(i, j)] = 1.0
                    w[:, i:j] = (evaluate(src, basis) - offset).T
                w[np.abs(w) < 1e-12 * max(np.abs(w).max(initial=0), 1e-300)] = 0.0
                conn = Dense(w)
            delay = projection_delays(src, dst, fused, preds, nodes,
                                      {k: ops[k].delay for k in fused
                                       if ops[k].delay is not None}, g.n, n_src)
            if several and src in inputs:
                if delay is not None:
                    raise UnsupportedError(
                        f"node '{delay.nodes[0]}' (Delay) delays Input '{src}', one of several "
                        "Inputs, which share one input projection; put the Delay after the "
                        "first neuron layer, or merge the inputs into one Input node")
                if joined is None:
                    if g.n * n_input > MAX_EXPANDED_SYNAPSES:
                        raise UnsupportedError(
                            f"projection from the Inputs to {dst} would be a {g.n}×{n_input} "
                            "dense matrix (several Inputs share one input space); merge the "
                            "inputs into one Input node")
                    joined = np.zeros((g.n, n_input))
                joined[:, inputs[src]:inputs[src] + n_src] = conn.to_dense()
                joined_nodes.update(fused)
                continue
            projections.append(Projection(
                name=f"{src_name}->{dst}", src=src_name, dst=dst, conn=conn, nir_nodes=fused,
                delay=delay))
        if joined is not None:
            projections.append(Projection(name=f"{INPUT}->{dst}", src=INPUT, dst=dst,
                                          conn=Dense(joined),
                                          nir_nodes=tuple(sorted(joined_nodes))))
    return projections, new_groups


def _topological(linear, preds) -> list[str]:
    """The linear nodes, each after every linear node feeding it (iterative post-order)."""
    lin, done, order = set(linear), set(), []
    for root in linear:
        stack = [(root, False)]
        while stack:
            n, ready = stack.pop()
            if ready:
                if n not in done:
                    done.add(n)
                    order.append(n)
                continue
            if n in done:
                continue
            stack.append((n, True))
            stack.extend((p, False) for p in preds[n] if p in lin and p not in done)
    return order


def linear_between(src, dst, preds, linear) -> set[str]:
    """Linear nodes on some path src → dst: reached backwards from dst through linear nodes,
    and themselves reaching back to src (linear in the graph's size, whatever its paths)."""
    lin = set(linear)
    back, stack = set(), [p for p in preds[dst] if p in lin]
    while stack:                               # linear nodes from which dst is reached
        k = stack.pop()
        if k not in back:
            back.add(k)
            stack.extend(p for p in preds[k] if p in lin)
    succs: dict[str, list[str]] = {}
    for k in back:
        for p in preds[k]:
            succs.setdefault(p, []).append(k)
    fwd, stack = set(), list(succs.get(src, []))
    while stack:                               # ... and that src reaches
        k = stack.pop()
        if k not in fwd:
            fwd.add(k)
            stack.extend(succs.get(k, []))
    return fwd


def _single_node(path, nodes):
    """The one linear node of a projection's chain ``path`` (``_chain``: its layer may have
    other sources' inputs beside it, as a layer with a self-connection has) when it is the
    only one besides Flatten / Delay pass-throughs; else None."""
    ops = [p for p in path
           if type(nodes[p]).__name__ not in ("Flatten", "Delay", "Input", "Output")]
    return ops[0] if len(ops) == 1 else None


def _direct(src, dst, preds, nodes, ops, shapes, shape, fused):
    """The connection of a lone Conv2d / pooling node (a shared-kernel ``Conv``), Affine /
    Linear node (its own matrix) or Scale node (its diagonal, ``_diagonal``), taken without
    evaluating it on a basis, whatever else feeds the layer; None otherwise. Biases are in
    the group's offset."""
    path = _chain(src, dst, preds, fused)
    if path is None:
        return None
    k = _single_node(path, nodes)
    if k is not None and ops[k].conv is not None:
        view = ops[k].view                    # a Conv1d: (C, L) computed as (C, 1, L)
        in_shape, out_shape = tuple(shapes[preds[k][0]]), tuple(shapes[k])
        if view is not None:
            in_shape, out_shape = view, (out_shape[0], 1, out_shape[1])
        conn = Conv(in_shape=in_shape, out_shape=out_shape, **ops[k].conv)
        return conn if conn.shape == shape else None
    m = None if k is None else ops[k].matrix
    if m is not None and m.shape == shape:
        return Dense(np.array(m, dtype=np.float64))
    return _diagonal(path, preds, nodes, ops, shapes, shape)


def _chain(src, dst, preds, fused) -> list[str] | None:
    """The linear nodes of projection ``src`` → ``dst`` (``fused``), ``dst``'s end first, when
    they form one chain: exactly one of ``dst``'s inputs comes from ``src`` (others may
    bring other sources' input, like the Linear beside a self-connection) and every node on
    it has one input; else None."""
    ends = [p for p in preds[dst] if p == src or p in fused]
    if len(ends) != 1:
        return None
    path, k = [], ends[0]
    while k != src:
        if k not in fused or len(preds[k]) != 1:
            return None
        path.append(k)
        k = preds[k][0]
    return path if set(path) == set(fused) else None


def _diagonal(path, preds, nodes, ops, shapes, shape) -> Sparse | None:
    """A projection's chain ``path`` (``_chain``) that is a lone Scale (with any Flatten /
    Delay pass-throughs) as a ``Sparse`` diagonal, ``W[i, i] = scale[i]`` (broadcast over the
    layer): O(n) memory where its dense matrix would be n². Zeros, and entries below 1e-12
    of the largest, are not stored, as the basis expansion drops them. None for any other
    chain."""
    if shape[0] != shape[1]:
        return None
    kinds = [type(nodes[k]).__name__ for k in path]
    if kinds.count("Scale") != 1 or not set(kinds) <= ELEMENTWISE or \
            any(int(np.prod(shapes[k])) != shape[0] for k in path):
        return None
    k = path[kinds.index("Scale")]
    d = ops[k].apply(np.ones((1, *shapes[preds[k][0]]))).ravel()
    d[np.abs(d) < 1e-12 * max(np.abs(d).max(initial=0), 1e-300)] = 0.0
    keep = np.flatnonzero(d)
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(d != 0)
    return Sparse(indptr, keep.astype(np.int64), d[keep], shape[1])


def _with_bias(g: Neurons, bias: np.ndarray) -> Neurons:
    return g.with_bias(bias)


__all__ = ["read_nir", "SUPPORTED"]
