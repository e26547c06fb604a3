"""Every error message a user can meet is pinned: one line, naming the object, the limit or
the problem, and what to do (``api/errors.py``; issue 11).

Each ``@pin`` below triggers one raise site through what a user touches (the Python API, a
file written by ``nir.write``, an edited hardware TOML, a damaged program, the CLI) and
gives three regexes the message must match: its object, its limit or problem, its advice.
While a case runs, every ``NeuroccError`` records where it was built, so the meta-test at
the end knows which sites the cases reached: it walks the shipped sources with ``ast`` and
fails, naming ``file:line``, for any raise site that no pin reaches and that is not in
``ALLOWED``. Adding a pin is one decorated function.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import neurocc.api.errors as errors
from neurocc.api.errors import NeuroccError

ROOT = Path(errors.__file__).resolve().parents[1]       # the repository root is the package
ERROR_NAMES = {n for n, c in vars(errors).items()
               if isinstance(c, type) and issubclass(c, NeuroccError)}
SKIP_DIRS = {".venv", "tests", "build", "neurocc.egg-info"}


# --------------------------------------------------------------------------- the sites


@dataclass(frozen=True)
class Site:
    """One place in the shipped code that builds a user-facing message: an error class
    called (``kind="raise"``), a call of a helper that builds one (``"helper"``), or a
    message part appended to a list of violations (``"part"``, matched by its text)."""

    file: str
    line: int
    end: int
    function: str
    kind: str
    source: str
    fragments: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.file}:{self.line} ({self.function}): {self.source[:110]}"


def _name(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _fragments(node: ast.AST) -> tuple[str, ...]:
    """The constant text of a message expression (f-strings, implicit and ``+``
    concatenation), split where a value is interpolated."""
    out: list[str] = []
    for n in ast.walk(node):
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            out.extend(p for p in re.split(r"\s*\n\s*", n.value))
    return tuple(p.strip() for p in out if len(p.strip()) >= 6)


# Functions whose message parts end up in one ResourceError / ConfigError: every string they
# append to a list (or return) is a message of its own, and is pinned by its text.
PART_FUNCTIONS = {
    ("compiler/passes/partition.py", "_single_neuron_checks"),
    ("compiler/passes/partition.py", "_cut"),
    ("compiler/passes/partition.py", "_output_axons"),
    ("compiler/passes/partition.py", "capacity_violation"),
    ("hw_configs/__init__.py", "_check_geometry"),
    ("compiler/targets/loihi/__init__.py", "check_numerics"),
}


def scan() -> list[Site]:
    """Every message site in the shipped sources."""
    sites: list[Site] = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.split("/")[0] in SKIP_DIRS or rel == "api/errors.py":
            continue
        src = path.read_text()
        tree = ast.parse(src)
        parent = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}

        def function(n, parent=parent):
            while n in parent:
                n = parent[n]
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    return n
            return None

        def site(n, kind, rel=rel, src=src):
            fn = function(n)
            text = " ".join((ast.get_source_segment(src, n) or "").split())
            return Site(rel, n.lineno, n.end_lineno, fn.name if fn else "<module>", kind, text,
                        _fragments(n))

        # A helper builds the error for its callers: it returns it, or is one raise.
        helpers = set()
        for n in ast.walk(tree):
            if isinstance(n, ast.Call) and _name(n) in ERROR_NAMES:
                fn = function(n)
                body = [s for s in (fn.body if fn else []) if not (
                    isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
                if fn and (isinstance(parent[n], ast.Return)
                           or (len(body) == 1 and isinstance(body[0], ast.Raise))):
                    helpers.add(fn.name)
        for n in ast.walk(tree):
            if not isinstance(n, ast.Call):
                continue
            fn = function(n)
            name = _name(n)
            if name in ERROR_NAMES and not (fn and fn.name in helpers):
                sites.append(site(n, "raise"))
            elif name in helpers and isinstance(n.func, ast.Name):
                sites.append(site(n, "helper"))
            elif (fn and (rel, fn.name) in PART_FUNCTIONS and name == "append" and n.args
                  and _fragments(n.args[0])):
                sites.append(site(n.args[0], "part"))
        for n in ast.walk(tree):
            fn = function(n) if isinstance(n, ast.Return) else None
            if fn and (rel, fn.name) in PART_FUNCTIONS and n.value is not None \
                    and _fragments(n.value):
                sites.append(site(n.value, "part"))
    return sites


def _index(sites):
    by_file: dict[str, list[Site]] = {}
    for s in sites:
        if s.kind != "part":
            by_file.setdefault(s.file, []).append(s)
    return by_file


SITES = scan()
BY_FILE = _index(SITES)


def site_of(stack: list[tuple[str, int]]) -> Site | None:
    """The innermost frame of ``stack`` (innermost first) that lies on a site."""
    for filename, line in stack:
        try:
            rel = Path(filename).resolve().relative_to(ROOT).as_posix()
        except ValueError:
            continue
        for s in BY_FILE.get(rel, ()):
            if s.line <= line <= s.end:
                return s
    return None


# --------------------------------------------------------------------------- the pins


@dataclass
class Pin:
    id: str
    trigger: Callable
    obj: str
    limit: str
    advice: str
    code: int | None = None


@dataclass
class Cli:
    """What ``neurocc ARGS`` printed and returned."""

    code: int
    stdout: str
    stderr: str


PINS: list[Pin] = []


def pin(id: str, obj: str, limit: str, advice: str, code: int | None = None):
    """Register ``fn(ctx)`` as the case ``id``: it raises a ``NeuroccError`` (API) or returns
    ``cli(...)``; the message must match ``obj``, ``limit`` and ``advice`` (regexes)."""
    def register(fn):
        assert id not in {p.id for p in PINS}, f"duplicate pin id {id!r}"
        PINS.append(Pin(id, fn, obj, limit, advice, code))
        return fn
    return register


def cli(*args) -> Cli:
    from neurocc.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return Cli(code, out.getvalue(), err.getvalue())


@dataclass
class Outcome:
    message: str | None = None
    code: int | None = None
    site: Site | None = None
    problem: str | None = None
    created: list = field(default_factory=list)


CREATED: list = []


def _record(self, *args):
    Exception.__init__(self, *args)
    f, stack = sys._getframe(1), []
    while f is not None:
        stack.append((f.f_code.co_filename, f.f_lineno))
        f = f.f_back
    self._pin_site = site_of(stack)
    CREATED.append(self)


def run_pin(p: Pin, ctx) -> Outcome:
    out = Outcome()
    CREATED.clear()
    try:
        r = p.trigger(ctx)
    except NeuroccError as e:
        out.message, out.code, out.site = str(e), e.exit_code, getattr(e, "_pin_site", None)
    except Exception as e:  # noqa: BLE001 - reported as the case's failure
        out.problem = f"raised {type(e).__name__}: {e}"
    else:
        if isinstance(r, Cli):
            lines = r.stderr.strip().splitlines()
            out.code = r.code
            if len(lines) != 1 or not lines[0].startswith("neurocc: error: "):
                out.problem = f"stderr is not one error line: {r.stderr!r} (exit {r.code})"
            else:
                out.message = lines[0][len("neurocc: error: "):]
                hits = [e for e in CREATED if str(e) in out.message]
                out.site = getattr(hits[-1], "_pin_site", None) if hits else None
        else:
            out.problem = f"no NeuroccError (returned {r!r})"
    out.created = [getattr(e, "_pin_site", None) for e in CREATED]
    return out


class Ctx:
    """A fresh directory per case (``tmp``) and session-wide files built once, on first use:
    ``nir`` (a valid MLP file), ``prog`` (it compiled for loihi2), ``x`` (a valid input)."""

    def __init__(self, base: Path, shared: dict, name: str = "shared"):
        self.base, self._shared = base, shared
        self.tmp = base / re.sub(r"\W+", "_", name)
        self.tmp.mkdir(exist_ok=True)

    def fresh(self, name: str) -> Ctx:
        return Ctx(self.base, self._shared, name)

    def __getattr__(self, key):
        if key.startswith("_") or key not in SHARED:
            raise AttributeError(key)
        if key not in self._shared:
            self._shared[key] = SHARED[key](self.fresh("shared"))
        return self._shared[key]


SHARED: dict[str, Callable[[Ctx], object]] = {}


def shared(fn):
    """A session-wide file or object, built by ``fn(ctx)`` the first time a case asks."""
    SHARED[fn.__name__] = fn
    return fn


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    errors_init = NeuroccError.__init__
    NeuroccError.__init__ = _record
    try:
        ctx = Ctx(tmp_path_factory.mktemp("pins"), {})
        results, t0 = {}, time.perf_counter()
        for p in PINS:
            results[p.id] = run_pin(p, ctx.fresh(p.id))
        results["<wall>"] = time.perf_counter() - t0
    finally:
        NeuroccError.__init__ = errors_init
    return results


# --------------------------------------------------------------------------- builders

import nir  # noqa: E402  (the builders below; kept apart from the machinery above)
import numpy as np  # noqa: E402

import neurocc  # noqa: E402
import neurocc.hw_configs  # noqa: E402


def lif(shape, thr=1.0, **kw):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    p = dict(tau=np.full(shape, 2e-3), r=np.ones(shape), v_leak=np.zeros(shape),
             v_threshold=np.full(shape, thr))
    p.update(kw)
    return nir.LIF(**p)


def mlp(n_in=3, n_out=2) -> nir.NIRGraph:
    """in (n_in) → fc (Affine) → lif → out."""
    return nir.NIRGraph(
        nodes={"in": nir.Input(input_type={"input": np.array([n_in])}),
               "fc": nir.Affine(weight=np.full((n_out, n_in), 0.5), bias=np.zeros(n_out)),
               "lif": lif(n_out), "out": nir.Output(output_type={"output": np.array([n_out])})},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")])


def convnet(**conv) -> nir.NIRGraph:
    """in (1, 6, 6) → conv (2 channels) → lif (2, 6, 6) → out."""
    p = dict(input_shape=(6, 6), weight=np.ones((2, 1, 3, 3)), stride=1, padding=1,
             dilation=1, groups=1, bias=np.zeros(2))
    p.update(conv)
    return nir.NIRGraph(
        nodes={"in": nir.Input(input_type={"input": np.array([1, 6, 6])}),
               "conv": nir.Conv2d(**p), "lif": lif((2, 6, 6)),
               "out": nir.Output(output_type={"output": np.array([2, 6, 6])})},
        edges=[("in", "conv"), ("conv", "lif"), ("lif", "out")])


def chain(*linear, n=3) -> nir.NIRGraph:
    """in (n) → the given linear nodes in order → lif (n) → out."""
    nodes = {"in": nir.Input(input_type={"input": np.array([n])}), "lif": lif(n),
             "out": nir.Output(output_type={"output": np.array([n])})}
    names = ["in"]
    for i, node in enumerate(linear):
        nodes[f"n{i}"] = node
        names.append(f"n{i}")
    names += ["lif", "out"]
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:])), type_check=False)


def compile(g, **kw):
    kw.setdefault("hw", "loihi2")
    return neurocc.compile(g, **kw)


def written(ctx, g, name="g.nir") -> Path:
    """``g`` as a real ``nir.write`` file."""
    path = ctx.tmp / name
    nir.write(path, g)
    return path


def with_node(g, name, **attrs):
    """``g`` with attributes of node ``name`` replaced after construction (what a damaged
    producer or a hand-edited file gives)."""
    for k, v in attrs.items():
        setattr(g.nodes[name], k, v)
    return g


@shared
def nir_file(ctx) -> Path:
    return written(ctx, mlp(), "mlp.nir")


@shared
def prog(ctx) -> Path:
    p = ctx.tmp / "mlp.neurocc"
    compile(ctx.nir_file).save(p)
    return p


@shared
def program(ctx):
    return neurocc.load(ctx.prog)


@shared
def x(ctx) -> Path:
    p = ctx.tmp / "x.npy"
    np.save(p, np.zeros((4, 2, 3)))
    return p


NODE = r"node '{}' \({}\)"


# --------------------------------------------------------------------------- NIR frontend

@pin("nir affine bias length", r"node 'fc' \(Affine\)", r"bias has 3 values .* 2 rows",
     r"make them agree")
def _(ctx):
    compile(written(ctx, with_node(mlp(), "fc", bias=np.zeros(3))))


@pin("nir conv stride 0", r"node 'conv' \(Conv2d\)", r"stride \(0, 0\) must be at least 1",
     r"must be at least 1 in both dimensions")
def _(ctx):
    compile(with_node(convnet(), "conv", stride=0))


@pin("nir conv1d stride pair", r"node 'c' \(Conv1d\)", r"stride \(1, 2\)",
     r"must be one number \(a 1-D kernel\)")
def _(ctx):
    compile(conv1d_net(stride=(1, 2)))


@pin("nir conv1d stride 0", r"node 'c' \(Conv1d\)", r"stride 0 must be at least 1",
     r"must be at least 1")
def _(ctx):
    compile(conv1d_net(stride=0))


def conv1d_net(shape=(2, 8), **conv):
    """in (2, 8) → c (Conv1d, 2 channels) → lif (2, 8) → out; ``conv`` replaces attributes
    after construction."""
    node = nir.Conv1d(input_shape=8, weight=np.ones((2, 2, 3)), stride=1, padding=1,
                      dilation=1, groups=1, bias=np.zeros(2))
    for k, v in conv.items():
        setattr(node, k, v)
    return nir.NIRGraph(
        nodes={"in": nir.Input(input_type={"input": np.array(shape)}), "c": node,
               "lif": lif((2, 8)), "out": nir.Output(output_type={"output": np.array([2, 8])})},
        edges=[("in", "c"), ("c", "lif"), ("lif", "out")], type_check=False)


@pin("nir conv1d on 3-D input", r"node 'c' \(Conv1d\)", r"expects a \(C, L\) input, receives "
     r"shape \(2, 2, 4\)", r"put a Conv1d on a \(channels, length\) layer")
def _(ctx):
    compile(conv1d_net(shape=(2, 2, 4)))


@pin("nir delay size", r"node 'n0' \(Delay\)", r"2 delays for 3 values of shape \(3,\)",
     r"give one delay per value, or one for all")
def _(ctx):
    compile(chain(nir.Delay(delay=np.array([1e-4, 2e-4]))), dt=1e-4)


@pin("nir delay dtype", r"node 'n0' \(Delay\)", r"delay has dtype <U1",
     r"give real numbers of seconds")
def _(ctx):
    compile(chain(nir.Delay(delay=np.array(["a"]))))


@pin("nir delay nan", r"node 'n0' \(Delay\)", r"delay holds NaN/inf", r"give finite seconds")
def _(ctx):
    compile(chain(nir.Delay(delay=np.array([np.nan]))))


@pin("nir delay negative", r"node 'n0' \(Delay\)", r"delay -0\.001 s < 0",
     r"use delays ≥ 0")
def _(ctx):
    compile(chain(nir.Delay(delay=np.array([-1e-3]))))


@pin("nir complex weight", r"node 'fc' \(Affine\)", r"'weight' holds complex numbers",
     r"parameters are real")
def _(ctx):
    compile(with_node(mlp(), "fc", weight=np.full((2, 3), 1 + 1j)))


@pin("nir weight ndim", r"node 'fc' \(Affine\)", r"'weight' has 3 dimensions, expected 2",
     r"give a 2-D array")
def _(ctx):
    compile(with_node(mlp(), "fc", weight=np.ones((2, 3, 1))))


@pin("nir weight nan", r"node 'fc' \(Affine\)", r"'weight' holds 1 NaN/inf value",
     r"fix the trained model before export")
def _(ctx):
    w = np.ones((2, 3))
    w[0, 1] = np.nan
    compile(written(ctx, with_node(mlp(), "fc", weight=w)))


@pin("nir neuron nan", r"node 'lif' \(LIF\)", r"'v_leak' holds NaN",
     r"fix the model before export")
def _(ctx):
    compile(with_node(mlp(), "lif", v_leak=np.array([np.nan, 0.0])))


@pin("nir neuron inf", r"node 'lif' \(LIF\)", r"'v_leak' holds inf", r"give finite values")
def _(ctx):
    compile(with_node(mlp(), "lif", v_leak=np.array([np.inf, 0.0])))


@pin("nir r inf", r"node 'lif' \(LIF\)", r"'r' is inf where tau is finite", r"give a finite r")
def _(ctx):
    compile(with_node(mlp(), "lif", r=np.array([np.inf, 1.0])))


@pin("nir tau negative", r"node 'lif' \(LIF\)", r"tau must be > 0 s, found -0\.002",
     r"use 0 <= beta < 1")
def _(ctx):
    compile(written(ctx, with_node(mlp(), "lif", tau=np.full(2, -2e-3))))


@pin("nir threshold inf", r"node 'lif' \(LIF\)", r"v_threshold must be finite",
     r"give a finite v_threshold, or use an LI node")
def _(ctx):
    compile(with_node(mlp(), "lif", v_threshold=np.full(2, np.inf)))


@pin("nir threshold <= 0", r"node 'lif' \(LIF\)", r"v_threshold must be > 0 \(found -1\)",
     r"Loihi compares v > vth with vth >= 0")
def _(ctx):
    compile(with_node(mlp(), "lif", v_threshold=np.full(2, -1.0)))


@pin("nir v_reset", r"node 'lif' \(LIF\)", r"v_reset = 0\.5",
     r"only v_reset = 0 is supported")
def _(ctx):
    compile(with_node(mlp(), "lif", v_reset=np.full(2, 0.5)))


@pin("nir damaged hdf5", r"NIR file '.*damaged_chunk_index\.nir'", r"is damaged \(",
     r"re-export it")
def _(ctx):
    compile(Path(__file__).parent / "fixtures" / "damaged_chunk_index.nir")


class FakeGraph:
    """What a hand-built or foreign graph object may be."""

    def __init__(self, nodes, edges):
        self.nodes, self.edges = nodes, edges


FakeGraph.__name__ = "NIRGraph"


@pin("nir graph no nodes", r"graph '<top>'", r"has no nodes dict and edges list",
     r"build it as nir\.NIRGraph\(nodes=")
def _(ctx):
    compile(FakeGraph(nodes=[], edges=[]))


@pin("nir node name", r"graph '<top>': node name 3", r"is not a non-empty string",
     r"name every node with a string")
def _(ctx):
    g = mlp()
    g.nodes[3] = lif(1)
    compile(g)


@pin("nir node not nir", r"node 'fc' is a dict", r"not a NIR node",
     r"build graphs from nir\.\* node classes")
def _(ctx):
    g = mlp()
    g.nodes["fc"] = {"weight": 1}
    compile(g)


@pin("nir edge not pair", r"graph '<top>': edge \('in',\)", r"is not a pair of node names",
     r"give each edge as \(source, destination\)")
def _(ctx):
    g = mlp()
    g.edges.append(("in",))
    compile(g)


@pin("nir duplicated edge", r"edge \(fc → lif\)", r"appears twice", r"remove one")
def _(ctx):
    g = mlp()
    g.edges.append(("fc", "lif"))
    compile(g)


@pin("nir subgraph ports", r"subgraph 'sub'", r"has 2 Input nodes",
     r"give it one Input node, or name the node in the edge \('sub\.NAME'\)")
def _(ctx):
    g = mlp()
    g.nodes["sub"] = nir.NIRGraph(
        nodes={"a": nir.Input(input_type={"input": np.array([2])}),
               "b": nir.Input(input_type={"input": np.array([2])}),
               "o": nir.Output(output_type={"output": np.array([2])})},
        edges=[("a", "o")])
    g.edges = [("in", "fc"), ("fc", "sub"), ("sub", "lif"), ("lif", "out")]
    compile(g)


@pin("nir no input", r"graph <NIRGraph>", r"has no Input node", r"add one \(nir\.Input\)")
def _(ctx):
    g = mlp()
    del g.nodes["in"]
    g.edges = g.edges[1:]
    compile(g)


@pin("nir no output", r"graph g\.nir", r"has no Output node",
     r"add one \(nir\.Output\) after the last neuron layer")
def _(ctx):
    g = mlp()
    del g.nodes["out"]
    g.edges = g.edges[:-1]
    compile(written(ctx, g))


@pin("nir input no shape", r"Input node 'in'", r"declares no shape",
     r"give it input_type=\{'input': shape\}")
def _(ctx):
    compile(with_node(mlp(), "in", input_type={}))


@pin("nir input bad shape", r"Input node 'in'", r"has invalid shape \(0,\)",
     r"every dimension must be at least 1")
def _(ctx):
    compile(with_node(mlp(), "in", input_type={"input": np.array([0])}))


@pin("nir declared input shape", r"node 'conv' \(Conv2d\)",
     r"declares input shape \(1, 5, 5\) but receives \(1, 6, 6\)",
     r"correct its input_type or the layer before it")
def _(ctx):
    compile(with_node(convnet(), "conv", input_type={"input": np.array([1, 5, 5])}))


@pin("nir pool on flat input", r"node 'n0' \(AvgPool2d\)",
     r"expects a \(C, H, W\) input, receives shape \(3,\)", r"put it on a \(C, H, W\) layer")
def _(ctx):
    compile(chain(nir.AvgPool2d(kernel_size=np.array([1, 1]), stride=np.array([1, 1]),
                                padding=np.array([0, 0]))))


@pin("nir neuron without tau", r"node 'lif' \(LIF\)", r"has neither tau nor r",
     r"give it the parameters of its NIR definition")
def _(ctx):
    compile(with_node(mlp(), "lif", tau=None, r=None))


@pin("nir cubalif without tau_syn", r"node 'lif' \(CubaLIF\)", r"has no tau_syn",
     r"give it tau_syn \(seconds\)")
def _(ctx):
    g = mlp()
    g.nodes["lif"] = nir.CubaLIF(tau_syn=np.full(2, 2e-3), tau_mem=np.full(2, 2e-3),
                                 r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    g.nodes["lif"].tau_syn = None
    compile(g)


@pin("nir parameter shapes", r"node 'lif' \(LIF\)",
     r"parameter shapes disagree \(3 values for 2 neurons\)",
     r"give every parameter one value per neuron, or one for all")
def _(ctx):
    compile(with_node(mlp(), "lif", r=np.ones(3)))


@pin("nir malformed parameters", r"node 'conv' \(Conv2d\)",
     r"malformed parameters \(\w+Error: ", r"check it against the NIR node's definition")
def _(ctx):
    compile(with_node(convnet(), "conv", stride="two"))


@pin("nir unsupported type", r"node 'fc' has unsupported type I\b", r"unsupported type",
     r"supported: Affine, ")
def _(ctx):
    g = mlp()
    g.nodes["fc"] = nir.I(r=np.ones(2))
    compile(g)


@pin("nir file missing", r"NIR file '.*nope\.nir'", r"does not exist",
     r"; check the path$")
def _(ctx):
    compile(ctx.tmp / "nope.nir")


@pin("nir read_nir wrong type", r"got int", r"expected a \.nir path or a nir\.NIRGraph",
     r"expected a \.nir path or a nir\.NIRGraph")
def _(ctx):
    neurocc.read_nir(42)


@pin("nir not hdf5", r"NIR file '.*junk\.nir'", r"cannot read",
     r"the file is damaged or not an HDF5 NIR graph \(nir\.write writes one\)")
def _(ctx):
    (ctx.tmp / "junk.nir").write_text("not hdf5")
    compile(ctx.tmp / "junk.nir")


@pin("nir version", r"NIR file 'g\.nir'", r"written by NIR '2\.0\.0'",
     r"re-export it with nir 1\.x")
def _(ctx):
    import h5py

    path = written(ctx, mlp())
    with h5py.File(path, "r+") as f:
        del f["version"]
        f["version"] = b"2.0.0"
    compile(path)


@pin("nir edge to unknown node", r"edge \(lif → nowhere\)", r"names node 'nowhere'",
     r"add the node or fix the edge")
def _(ctx):
    g = mlp()
    g.edges.append(("lif", "nowhere"))
    compile(g)


@pin("nir edge into input", r"edge \(lif → in\) goes into the Input node 'in'",
     r"an Input takes no edges", r"remove it")
def _(ctx):
    g = mlp()
    g.edges.append(("lif", "in"))
    compile(g)


@pin("nir inputs of different shapes", r"node 'n0' \(Scale\)",
     r"its inputs have different shapes \(2,\), \(3,\)",
     r"make every edge into it carry the same shape")
def _(ctx):
    g = chain(nir.Scale(scale=np.ones(3)))
    g.nodes["in2"] = nir.Input(input_type={"input": np.array([2])})
    g.edges.append(("in2", "n0"))
    compile(g)


@pin("nir input shape does not fit", r"node 'fc' \(Affine\)",
     r"cannot take input of shape \(3,\) from node 'in'",
     r"\(.+\); make its parameters fit that shape")
def _(ctx):
    compile(with_node(mlp(), "fc", weight=np.ones((2, 4))))


@pin("nir linear loop", r"node 'n\d' is on a loop of linear nodes",
     r"with no neuron to break it", r"a recurrent loop needs a neuron node")
def _(ctx):
    g = chain(nir.Scale(scale=np.ones(3)), nir.Scale(scale=np.ones(3)))
    g.edges.append(("n1", "n0"))
    compile(g)


@pin("nir linear self loop", r"node 'n0' is on a loop of linear nodes",
     r"with no neuron to break it", r"a recurrent loop needs a neuron node")
def _(ctx):
    g = chain(nir.Scale(scale=np.ones(3)))
    g.edges.append(("n0", "n0"))
    compile(g)


@pin("nir linear no input edge", r"node 'n0' \(Scale\)", r"has no input edge",
     r"connect it or remove it")
def _(ctx):
    g = mlp()
    g.nodes["n0"] = nir.Scale(scale=np.ones(2))
    g.edges.append(("n0", "lif"))
    compile(g)


@pin("nir neuron no input edge", r"neuron node 'l2'", r"has no input edge",
     r"connect it or remove it")
def _(ctx):
    g = mlp()
    g.nodes["l2"] = lif(2)
    g.edges.append(("l2", "out"))
    compile(g)


@pin("nir neurons vs values", r"node 'lif' \(LIF\)",
     r"has 4 neurons but receives 2 values from node 'fc'", r"give it 2 neurons$")
def _(ctx):
    g = mlp()
    g.nodes["lif"] = lif(4)
    compile(g)


@pin("nir output from non-neuron", r"Output 'out' is fed by node 'fc' \(Affine\)",
     r"not a neuron", r"add an LI \(non-spiking readout\) or LIF node before the output")
def _(ctx):
    g = mlp()
    g.edges.append(("fc", "out"))
    g.edges.remove(("lif", "out"))
    g.nodes["l2"] = lif(2)
    g.edges.append(("lif", "l2"))
    g.nodes["o2"] = nir.Output(output_type={"output": np.array([2])})
    g.edges.append(("l2", "o2"))
    compile(g)


@pin("nir output declared shape", r"Output node 'out'",
     r"declares shape \(5,\) but receives 2 values from node 'lif'",
     r"correct its output_type")
def _(ctx):
    compile(with_node(mlp(), "out", output_type={"output": np.array([5])}))


@pin("nir no path to output", r"graph <NIRGraph>", r"no path from Input 'in' to Output 'o2'",
     r"connect it to a layer the input reaches")
def _(ctx):
    g = mlp()
    g.nodes["l2"] = lif(2)
    g.nodes["o2"] = nir.Output(output_type={"output": np.array([2])})
    g.edges += [("l2", "o2"), ("l2", "l2")]
    compile(g)


@pin("nir input feeds nothing", r"graph <NIRGraph>: Input 'in2'", r"feeds nothing",
     r"connect it or remove it")
def _(ctx):
    g = mlp()
    g.nodes["in2"] = nir.Input(input_type={"input": np.array([2])})
    compile(g)


@pin("nir padding same even", r"node 'conv' \(Conv2d\)",
     r"padding='same' with an even kernel is asymmetric", r"pad explicitly")
def _(ctx):
    compile(with_node(convnet(), "conv", padding="same", weight=np.ones((2, 1, 2, 2))))


@pin("nir padding unsupported", r"node 'conv' \(Conv2d\)", r"padding='full' is not supported",
     r"give the padding as numbers")
def _(ctx):
    compile(with_node(convnet(), "conv", padding="full"))


@pin("nir dense expansion", r"projection in → lif \(NIR nodes n0, n1\)",
     r"would expand to a 8193×8193 dense matrix",
     r"use a single Conv2d or Affine between neuron layers")
def _(ctx):
    compile(chain(nir.Scale(scale=np.ones(8193)), nir.Scale(scale=np.ones(8193)), n=8193))



@pin("nir delay on some paths", r"node 'n1' \(Delay\)", r"on only some of the paths from "
     r"the input to 'lif'", r"put the Delay on every path")
def _(ctx):
    g = chain(nir.Scale(scale=np.ones(3)), nir.Delay(delay=np.array([1e-4])))
    g.edges.append(("in", "lif"))
    compile(g, dt=1e-4)


@pin("nir delay between weights", r"node 'n1' \(Delay\)", r"3 different delays between weight "
     r"nodes \('n0' before it, 'n2' after\)", r"make its delays uniform, or move it")
def _(ctx):
    w = np.ones((3, 3))
    compile(chain(nir.Linear(weight=w), nir.Delay(delay=np.array([1e-4, 2e-4, 3e-4])),
                  nir.Linear(weight=w)), dt=1e-4)


@pin("nir delay of one of several inputs", r"node 'd' \(Delay\) delays Input 'in'",
     r"one of several Inputs, which share one input projection",
     r"put the Delay after the first neuron layer, or merge the inputs")
def _(ctx):
    g = mlp()
    g.nodes["d"] = nir.Delay(delay=np.array([1e-4]))
    g.nodes["in2"] = nir.Input(input_type={"input": np.array([3])})
    g.edges = [("in", "d"), ("d", "fc"), ("in2", "fc"), ("fc", "lif"), ("lif", "out")]
    compile(g, dt=1e-4)


@pin("nir delay before an output", r"Output 'out' is fed by node 'd' \(Delay\)",
     r"a chip's delays are synaptic, between neurons",
     r"remove the Delay and shift the recorded output by it, or move it before a neuron node")
def _(ctx):
    g = chain()
    g.nodes["d"] = nir.Delay(delay=np.array([1e-4, 1e-4, 1e-4]))
    g.edges = [("in", "lif"), ("lif", "d"), ("d", "out")]
    compile(g, dt=1e-4)


@pin("nir several inputs dense", r"projection from the Inputs to lif",
     r"would be a 8193×8194 dense matrix", r"merge the inputs into one Input node")
def _(ctx):
    n = 8193
    g = nir.NIRGraph(
        nodes={"in": nir.Input(input_type={"input": np.array([1])}),
               "in2": nir.Input(input_type={"input": np.array([n])}),
               "fc": nir.Affine(weight=np.ones((n, 1)), bias=np.zeros(n)), "lif": lif(n),
               "s": nir.Scale(scale=np.ones(n)), "z": lif(n),
               "out": nir.Output(output_type={"output": np.array([n])})},
        edges=[("in", "fc"), ("fc", "lif"), ("in2", "s"), ("s", "z"), ("lif", "out")],
        type_check=False)
    compile(g)


# --------------------------------------------------------------------------- compile API

@pin("api compile wrong model", r"cannot compile a int", r"cannot compile",
     r"give a \.nir path, a nir\.NIRGraph or an snnTorch nn\.Sequential")
def _(ctx):
    compile(42)


@pin("api steps", r"steps", r"must be a whole number of time steps >= 1, got 0",
     r"give steps >= 1|steps must be a whole number")
def _(ctx):
    compile(ctx.nir_file, steps=0)


@pin("api producer unknown", r"producer 'keras'", r"unknown; known: ",
     r"or leave it unset to read the file as plain NIR")
def _(ctx):
    compile(ctx.nir_file, producer="keras")


@pin("api dt", r"dt", r"must be a positive number of seconds, got -1",
     r"give dt > 0|positive number of seconds")
def _(ctx):
    compile(ctx.nir_file, dt=-1.0)


@pin("api reset unknown", r"reset rule 'sideways'", r"unknown", r"use one of zero, subtract")
def _(ctx):
    compile(ctx.nir_file, reset="sideways")


@pin("api threshold node subtract", r"NIR node 'th' \(Threshold\)",
     r"memoryless, but reset='subtract'", r"compile with reset='zero'")
def _(ctx):
    g = mlp()
    g.nodes["lif"] = nir.Threshold(threshold=np.ones(2))
    g.nodes["th"] = g.nodes.pop("lif")
    g.edges = [("in", "fc"), ("fc", "th"), ("th", "out")]
    compile(g, reset="subtract")


@pin("api input encoding", r"input_encoding", r"must be SpikeInput\(\) or GradedInput\(max\), "
     r"got 'graded'", r"SpikeInput\(\) or GradedInput\(max\)")
def _(ctx):
    compile(ctx.nir_file, input_encoding="graded")


@pin("api graded max", r"graded input maximum", r"must be a positive finite number, got inf",
     r"give the largest input magnitude")
def _(ctx):
    compile(ctx.nir_file, input_encoding=neurocc.GradedInput(float("inf")))


@pin("api graded on loihi1", r"loihi1", r"has no graded spikes",
     r"encode the input as binary spikes or compile for a chip with graded spikes")
def _(ctx):
    compile(ctx.nir_file, hw="loihi1", input_encoding=neurocc.GradedInput(1.0))


@pin("api placement", r"placement strategy 'magic'", r"unknown", r"use one of ")
def _(ctx):
    compile(ctx.nir_file, placement="magic")


@pin("discretize tau < dt", r"layer 'lif' \(NIR node 'lif'\)",
     r"tau_mem 5e-05 s < dt 0\.0001 s", r"use a smaller --dt")
def _(ctx):
    compile(with_node(mlp(), "lif", tau=np.full(2, 5e-5)))


@pin("discretize tau_syn < dt", r"layer 'lif' \(NIR node 'lif'\)",
     r"tau_syn 5e-05 s < dt 0\.0001 s", r"use a smaller --dt")
def _(ctx):
    g = mlp()
    g.nodes["lif"] = nir.CubaLIF(tau_syn=np.full(2, 5e-5), tau_mem=np.full(2, 2e-3),
                                 r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    compile(g)


@pin("discretize tau inf finite r", r"layer 'lif' \(NIR node 'lif'\)",
     r"tau = inf with finite r makes r·dt/tau = 0", r"use an IF node instead")
def _(ctx):
    compile(with_node(mlp(), "lif", tau=np.full(2, np.inf)))


@pin("delay not whole steps", r"projection|node 'n0'", r"delay 0\.00015 s .* is 1\.5 steps at "
     r"dt = 0\.0001 s", r"compile with a dt that divides every delay \(--dt\)")
def _(ctx):
    compile(chain(nir.Delay(delay=np.array([1.5e-4]))), dt=1e-4)


@pin("delay too long", r"projection '.*' \(NIR Delay node", r"delay 100 steps > 63",
     r"compile with a larger --dt, or shorten the delay")
def _(ctx):
    compile(chain(nir.Delay(delay=np.array([1e-2]))), dt=1e-4)


@pin("delay past 2^31 steps", r"projection '.*' \(NIR Delay node 'n0'\)",
     r"delay 1e\+300 s \(destination neuron 0\) is 1e\+304 steps at dt = 0\.0001 s, more than "
     r"2\^31", r"shorten the delay, or compile with a larger --dt")
def _(ctx):
    compile(chain(nir.Delay(delay=np.array([1e300]))), dt=1e-4)


@pin("threshold rounds to 0", r"layer 'lif' \(NIR node 'lif'\)", r"threshold .* rounds to 0",
     r"rescale the layer's weights or threshold")
def _(ctx):
    compile(with_node(mlp(), "fc", weight=np.full((2, 3), 1e6)),
            ) if False else compile(with_node(with_node(mlp(), "fc",
                                                        weight=np.full((2, 3), 1e7)),
                                              "lif", v_threshold=np.full(2, 1e-3)))


@pin("subpopulations large conv", r"projection '<input>->lif' \(NIR node 'conv'\)",
     r"4160 × 4160 matrix, 17,305,600 values > 2\^24 = 16,777,216, because the time constants "
     r"split layer 'lif' into 2 sub-populations",
     r"give the layer one time constant, or use a smaller conv", code=2)
def _(ctx):
    # A conv just past 2^24 post × pre (4096²): a 1×1 kernel on (1, 64, 65), 4160 neurons each
    # side, into a LIF of two time constants. Refused before anything is expanded (the
    # compile takes ~0.05 s and ~2 MB at its peak).
    shape = (1, 64, 65)
    g = nir.NIRGraph(
        nodes={"in": nir.Input(input_type={"input": np.array(shape)}),
               "conv": nir.Conv2d(input_shape=shape[1:], weight=np.ones((1, 1, 1, 1)),
                                  stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(1)),
               "lif": lif(shape, tau=np.resize([2e-3, 4e-3], shape)),
               "out": nir.Output(output_type={"output": np.array(shape)})},
        edges=[("in", "conv"), ("conv", "lif"), ("lif", "out")])
    compile(g)


# --------------------------------------------------------------------------- resources

def wide(n_in, n_out, density=1.0):
    g = mlp(n_in, n_out)
    w = np.zeros((n_out, n_in))
    w.flat[::max(1, int(1 / density))] = 1.0
    g.nodes["fc"].weight = w if density < 1 else np.ones((n_out, n_in))
    return g


@pin("partition synaptic memory", r"layer 'lif' \(NIR node 'lif'\): neuron 0",
     r"needs \d+ bits of synaptic memory > 65536 bits per tiny core",
     r"reduce its fan-in, its weight precision, or the conv kernel size", code=3)
def _(ctx):
    compile(mlp(9000, 1), hw="tiny")


@pin("partition input axons", r"layer 'lif' \(NIR node 'lif'\): neuron \d+",
     r"receives from 600 distinct sources > 512 input axons per tiny core",
     r"reduce its fan-in to at most 512 sources", code=3)
def _(ctx):
    compile(mlp(600, 2), hw="tiny")


@pin("partition output axons", r"layer 'l1' \(NIR node 'l1'\): neuron \d+",
     r"sends to \d+ cores > 2 output axons per .* core",
     r"reduce its fan-out or let its target layers use fewer, fuller cores", code=3)
def _(ctx):
    hw = _tiny(ctx, output_axons_per_core=2, chips_per_system=64, chip_mesh=[8, 8])
    g = nir.NIRGraph(
        nodes={"in": nir.Input(input_type={"input": np.array([2])}),
               "fc": nir.Affine(weight=np.ones((2, 2)), bias=np.zeros(2)), "l1": lif(2),
               "fc2": nir.Linear(weight=np.ones((640, 2))), "l2": lif(640),
               "out": nir.Output(output_type={"output": np.array([640])})},
        edges=[("in", "fc"), ("fc", "l1"), ("l1", "fc2"), ("fc2", "l2"), ("l2", "out")])
    compile(g, hw=str(hw))


@pin("partition chips", r"network needs \d+ chips, the tiny system has 4",
     r"\d+ cores at 4 per chip; layer 'lif' \(NIR node 'lif'\) split across \d+ cores "
     r"\(mostly by neurons\)", r"use a system with more chips \(mesh\.chips_per_system\) or a "
     r"smaller network", code=3)
def _(ctx):
    compile(mlp(2, 2000), hw="tiny")


@pin("partition many violations", r"2 hardware limits exceeded: layer 'lif'",
     r"> 512 input axons per tiny core; .*; network needs at least \d+ chips",
     r"reduce its fan-in", code=3)
def _(ctx):
    compile(mlp(600, 4000), hw="tiny")


# --------------------------------------------------------------------------- hardware configs

TINY = Path(neurocc.hw_configs.HERE) / "tiny.toml"


def _tiny(ctx, name="hw.toml", text=None, **values) -> Path:
    """tiny.toml with ``field = value`` replaced (TOML syntax of ``repr``-like values)."""
    t = TINY.read_text() if text is None else text
    for k, v in values.items():
        v = str(v).lower() if isinstance(v, bool) else (f'"{v}"' if isinstance(v, str) and
                                                        not v.startswith("$") else v)
        v = str(v).lstrip("$")
        t, n = re.subn(rf"^({k}\s*=\s*\{{\s*value\s*=\s*)(\[[^\]]*\]|[^,]+)", rf"\g<1>{v}", t,
                       flags=re.M)
        assert n == 1, k
    p = ctx.tmp / name
    p.write_text(t)
    return p


def load_hw(path):
    return neurocc.load_hw(path)


@pin("hw is a directory", r"hardware config '.*'", r"is not a file",
     r"give a name \(loihi1, loihi2, tiny\) or a path to a \.toml file")
def _(ctx):
    load_hw(ctx.tmp)


@pin("hw unknown name", r"unknown hardware 'loihi9'", r"unknown hardware",
     r"choose one of loihi1, loihi2, tiny or give a path to a \.toml file")
def _(ctx):
    load_hw("loihi9")


@pin("hw missing file", r"hardware config '.*gone\.toml'", r"does not exist",
     r"check the path")
def _(ctx):
    load_hw(ctx.tmp / "gone.toml")


@pin("hw not utf-8", r"hardware config '.*hw\.toml'", r"is not UTF-8 text \(byte \d+\)",
     r"save it as UTF-8")
def _(ctx):
    p = ctx.tmp / "hw.toml"
    p.write_bytes(TINY.read_bytes().replace(b"Test chip", b"Test \xff chip"))
    load_hw(p)


@pin("hw unreadable", r"hardware config '.*loop\.toml'", r"cannot read .*: Too many levels",
     r"check the file")
def _(ctx):
    p = ctx.tmp / "loop.toml"
    p.symlink_to(p)
    load_hw(p)


@pin("hw invalid toml", r"hardware config '.*hw\.toml'", r"is not valid TOML: .*line \d+",
     r"fix the syntax")
def _(ctx):
    load_hw(_tiny(ctx, text=TINY.read_text() + "\n[core\n"))


@pin("hw not a table", r"hardware config '<program>'|hardware config 'x'",
     r"is not a table", r"give a TOML table of sections")
def _(ctx):
    neurocc.hw_configs.from_dict([], "x")


@pin("hw unknown target", r"hardware config '.*hw\.toml'", r"unknown target 'truenorth'",
     r"known targets: loihi")
def _(ctx):
    load_hw(_tiny(ctx, text=TINY.read_text().replace('target = "loihi"',
                                                     'target = "truenorth"')))


@pin("hw missing section", r"hardware config '.*hw\.toml'", r"missing section \[energy\]",
     r"see hw_configs/README\.md")
def _(ctx):
    t = TINY.read_text()
    load_hw(_tiny(ctx, text=t.replace("[energy]", "[energyy]")))


@pin("hw missing name", r"hardware config '.*hw\.toml'", r"missing 'name' \(a string\)",
     r"add name = ")
def _(ctx):
    load_hw(_tiny(ctx, text=TINY.read_text().replace('name = "tiny"', "")))


@pin("hw missing field", r"hardware config '.*hw\.toml': \[core\]",
     r"lacks 'neurons_per_core'", r"see hw_configs/README\.md")
def _(ctx):
    t = re.sub(r"^neurons_per_core .*$", "", TINY.read_text(), flags=re.M)
    load_hw(_tiny(ctx, text=t))


@pin("hw field without source", r"hardware config '.*hw\.toml': \[core\] neurons_per_core",
     r"must be an inline table", r"every constant needs its source")
def _(ctx):
    t = re.sub(r"^neurons_per_core .*$", "neurons_per_core = 64", TINY.read_text(), flags=re.M)
    load_hw(_tiny(ctx, text=t))


for _field, _value, _expected in [
        ("tile_mesh", 3, r"a list"), ("tile_mesh", "$[1, 2, 3]", r"a list of 2 values"),
        ("conv_kernel_shared", 1, r"true or false"), ("weight_bits", "8", r"an integer"),
        ("neurons_per_core", -1, r"an integer >= 0"),
        ("neurons_per_core", 2**62, r"an integer of at most \d+"),
        ("synop_dense_j", "35.5e-12", r"a finite number"),
        ("synop_dense_j", -1.0, r"a number >= 0")]:
    def _case(ctx, f=_field, v=_value):
        load_hw(_tiny(ctx, **{f: v}))

    pin(f"hw {_field} {_expected}", rf"hardware config '.*hw\.toml': \[\w+\] {_field}",
        rf"{_field} = .* must be {_expected}$", rf"must be {_expected}$")(_case)


for _values, _part in [
        ({"neurons_per_core": 0}, r"\[core\] neurons_per_core must be a positive integer"),
        ({"tile_mesh": "$[0, 2]"}, r"\[mesh\] tile_mesh must be two positive integers"),
        ({"chip_mesh": "$[1, 2]"}, r"\[mesh\] chip_mesh \[1, 2\] holds 2 chips, "
                                   r"chips_per_system is 4; make them agree"),
        ({"cores_per_tile": 0}, r"\[mesh\] cores_per_tile must be a positive integer"),
        ({"input_core": 99}, r"\[mesh\] input_core 99 is not a core of the system \(0\.\.15\); "
                             r"give a core in that range")]:
    def _case(ctx, values=_values):
        load_hw(_tiny(ctx, **values))

    pin(f"hw geometry {sorted(_values)[0]}", r"hardware config '.*hw\.toml'", _part,
        r"must be|make them agree|give a core")(_case)


for _values, _part in [
        ({"weight_bits": 0}, r"weight_bits = 0 \(allowed 1\.\.16\)"),
        ({"decay_bits": 1}, r"decay_bits = 1 \(allowed 2\.\.24\)"),
        ({"state_bits": 4}, r"state_bits = 4 \(allowed 8\.\.32\)"),
        ({"threshold_bits": 30}, r"threshold_bits = 30 \(allowed 1\.\.18"),
        ({"bias_mant_bits": 1}, r"bias_mant_bits = 1 \(allowed 2\.\.state_bits\)"),
        ({"bias_exp_max": 20}, r"bias_exp_max = 20 \(allowed 0\.\.16\)"),
        ({"weight_exp_min": 8}, r"weight_exp_min/max = 8/7 \(allowed"),
        ({"graded_spike_bits": 1}, r"graded_spike_bits = 1 \(0 or 2\.\.32\)"),
        ({"delay_bits": 20}, r"delay_bits = 20 \(allowed 0\.\.16\)")]:
    def _case(ctx, values=_values):
        load_hw(_tiny(ctx, **values))

    pin(f"hw numerics {sorted(_values)[0]}",
        r"hardware config '.*hw\.toml': \[numerics\] out of range", _part,
        r"\(see hw_configs/README\.md\)$")(_case)


@pin("hw override", r"cannot override 'core\.neurons'", r"tiny has no such field",
     r"give 'section\.field' as in hw_configs/README\.md")
def _(ctx):
    neurocc.hw_configs.override(neurocc.load_hw("tiny"), {"core.neurons": 1})


# --------------------------------------------------------------------------- check budgets
# (reports/budgets.py: a budgets file, [tool.neurocc] in pyproject.toml, options), swapped
# (steps, batch) axes (backends/run.py check_axes) and compile's steps (issue 10)

ZOO = 'model = "digits"\nhw = "loihi2"\n'
BUDGET = "[budgets]\ncores_max = 4\n"


def budgets(ctx, text: str, name: str = "b.toml", **kw):
    from neurocc.reports.budgets import load_budgets

    p = ctx.tmp / name
    p.write_text(text)
    return load_budgets(p, pyproject=False, cwd=ctx.tmp, **kw)


def pyproject(ctx, text: str, **kw):
    from neurocc.reports.budgets import load_budgets

    (ctx.tmp / "pyproject.toml").write_text(text)
    return load_budgets(cwd=ctx.tmp, **kw)


def options(ctx, opts: dict, items=()):
    from neurocc.reports.budgets import load_budgets

    return load_budgets(None, opts, list(items), pyproject=False, cwd=ctx.tmp)


FILE = r"budgets file '.*b\.toml'"


@pin("budgets file missing", r"budgets file '.*nope\.toml'", r"does not exist",
     r"give a TOML file with model, hw and a \[budgets\] table")
def _(ctx):
    from neurocc.reports.budgets import load_budgets

    load_budgets(ctx.tmp / "nope.toml", pyproject=False)


@pin("budgets file is a directory", r"budgets file '.*'", r"is a directory",
     r"give a TOML file")
def _(ctx):
    from neurocc.reports.budgets import load_budgets

    load_budgets(ctx.tmp, pyproject=False)


@pin("budgets file not utf-8", FILE, r"is not UTF-8 text", r"give a TOML file")
def _(ctx):
    (ctx.tmp / "b.toml").write_bytes(b"model = '\xff'\n")
    from neurocc.reports.budgets import load_budgets

    load_budgets(ctx.tmp / "b.toml", pyproject=False)


@pin("budgets file not toml", FILE, r"is not valid TOML: .*line 1", r"fix the syntax there")
def _(ctx):
    budgets(ctx, "[budgets\n")


@pin("budgets unknown top key", FILE, r"unknown key 'cores_max' \(budgets go in the "
     r"\[budgets\] table", r"allowed: name, model, hw")
def _(ctx):
    budgets(ctx, ZOO + "cores_max = 4\n")


@pin("budgets table not a table", FILE, r"'budgets' must be a table \(\[budgets\]\), got an "
     r"integer 3", r"must be a table")
def _(ctx):
    budgets(ctx, ZOO + "budgets = 3\n")


@pin("budget option without =", r"option --budget cores_max", r"give KEY=VALUE",
     r"e\.g\. --budget cores_max=4")
def _(ctx):
    options(ctx, {}, ["cores_max"])


@pin("budget option not a number", r"option --budget cores_max=four",
     r"the value must be a number, got 'four'", r"e\.g\. --budget cores_max=4")
def _(ctx):
    options(ctx, {}, ["cores_max=four"])


@pin("pyproject tool.neurocc not a table", r"'.*pyproject\.toml'",
     r"'tool\.neurocc' must be a table", r"\(\[tool\.neurocc\]\)")
def _(ctx):
    (ctx.tmp / "pyproject.toml").write_text("[tool]\nneurocc = 3\n")
    from neurocc.reports.budgets import load_budgets

    load_budgets(pyproject=ctx.tmp / "pyproject.toml")


@pin("check without budgets", r"no budgets", r"none found from '.*' upward",
     r"options such as --model digits --hw loihi2 --cores-max 4", code=2)
def _(ctx):
    return cli("check", "--no-pyproject")


@pin("budgets missing model", r"\[tool\.neurocc\] in '.*pyproject\.toml'",
     r"missing 'model'", r"model = \.\.\. in the file, or --model")
def _(ctx):
    pyproject(ctx, "[tool.neurocc]\nhw = 'loihi2'\n[tool.neurocc.budgets]\ncores_max = 4\n")


@pin("budgets key wrong type", r"option --samples|budgets file", r"'samples' must be a whole "
     r"number of samples >= 1, got a number 2\.5", r"whole number")
def _(ctx):
    budgets(ctx, ZOO + "samples = 2.5\n" + BUDGET)


@pin("budgets model neither zoo nor nir", FILE, r"'model' = 'mnist' is neither a zoo model",
     r"\(digits.*\) nor a \.nir path")
def _(ctx):
    budgets(ctx, 'model = "mnist"\nhw = "loihi2"\n' + BUDGET)


@pin("budgets nir-only key on a zoo model", FILE, r"'dt' applies to a \.nir model only",
     r"brings its own dt and reset: remove it")
def _(ctx):
    budgets(ctx, ZOO + "dt = 1e-3\n" + BUDGET)


@pin("budgets zoo model without artifact", FILE, r"zoo model 'digits' has no committed "
     r"artifact", r"run neurocc zoo train digits first")
def _(ctx):
    from neurocc.models import digits

    old = digits.NIR_PATH
    digits.NIR_PATH = ctx.tmp / "gone.nir"
    try:
        budgets(ctx, ZOO + BUDGET)
    finally:
        digits.NIR_PATH = old


@pin("budgets model file missing", FILE, r"model file '.*gone\.nir' does not exist",
     r"check the path \(relative paths are read from the directory")
def _(ctx):
    budgets(ctx, 'model = "gone.nir"\nhw = "loihi2"\ninputs = "x.npy"\n' + BUDGET)


NIR_B = 'model = "m.nir"\nhw = "loihi2"\ninputs = "x.npy"\n'


def nir_budgets(ctx, extra: str, budget: str = BUDGET):
    nir.write(ctx.tmp / "m.nir", mlp())
    np.save(ctx.tmp / "x.npy", np.zeros((4, 2, 3)))
    return budgets(ctx, NIR_B + extra + budget)


@pin("budgets dt not positive", FILE, r"'dt' must be a time step in seconds > 0, got -1",
     r"> 0")
def _(ctx):
    nir_budgets(ctx, "dt = -1\n")


@pin("budgets reset unknown", FILE, r"'reset' must be one of zero, subtract, got 'soft'",
     r"one of zero, subtract")
def _(ctx):
    nir_budgets(ctx, 'reset = "soft"\n')


@pin("budgets graded input not positive", FILE, r"'graded_input' must be a number > 0, got 0",
     r"a number > 0")
def _(ctx):
    nir_budgets(ctx, "graded_input = 0\n")


@pin("budgets missing hw", FILE, r"missing 'hw'", r"hw = \.\.\. in the file, or --hw")
def _(ctx):
    budgets(ctx, 'model = "digits"\n' + BUDGET)


@pin("budgets hw empty list", FILE, r"'hw' must be a config name, a \.toml path or a "
     r"non-empty list", r"got a list")
def _(ctx):
    budgets(ctx, 'model = "digits"\nhw = []\n' + BUDGET)


@pin("budgets hw entry wrong type", FILE, r"every entry of 'hw' must be a config name",
     r"got an integer 7")
def _(ctx):
    budgets(ctx, 'model = "digits"\nhw = ["loihi2", 7]\n' + BUDGET)


@pin("budgets hw unknown", FILE, r"hw 'loihi9'", r"loihi2")
def _(ctx):
    budgets(ctx, 'model = "digits"\nhw = "loihi9"\n' + BUDGET)


@pin("budgets hw twice", FILE, r"hw 'loihi2' is listed twice", r"list each config once")
def _(ctx):
    budgets(ctx, 'model = "digits"\nhw = ["loihi2", "loihi2"]\n' + BUDGET)


@pin("budgets nir model without inputs", FILE, r"missing 'inputs'",
     r"inputs = \.\.\. in the file, or --input")
def _(ctx):
    nir.write(ctx.tmp / "m.nir", mlp())
    budgets(ctx, 'model = "m.nir"\nhw = "loihi2"\n' + BUDGET)


@pin("budgets labels without inputs", FILE, r"'labels' needs inputs",
     r"give inputs too, or drop labels")
def _(ctx):
    np.save(ctx.tmp / "y.npy", np.zeros(2, int))
    budgets(ctx, ZOO + 'labels = "y.npy"\n' + BUDGET)


@pin("budgets inputs file missing", FILE, r"inputs file '.*x\.npy' does not exist",
     r"check the path")
def _(ctx):
    budgets(ctx, ZOO + 'inputs = "x.npy"\n' + BUDGET)


@pin("budgets samples below one", FILE, r"'samples' must be >= 1, got 0",
     r"give a whole number of samples or leave it out")
def _(ctx):
    budgets(ctx, ZOO + "samples = 0\n" + BUDGET)


@pin("budgets without budgets", FILE, r"missing table \[budgets\]",
     r"give at least one of accuracy_min, .*or options such as --cores-max 4")
def _(ctx):
    budgets(ctx, ZOO)


@pin("budgets unknown budget", r"\[tool\.neurocc\] in '.*pyproject\.toml'",
     r"unknown budget 'tool\.neurocc\.budgets\.energy_max'", r"allowed: accuracy_min, ")
def _(ctx):
    pyproject(ctx, "[tool.neurocc]\nmodel = 'digits'\nhw = 'loihi2'\n"
              "[tool.neurocc.budgets]\nenergy_max = 1\n")


@pin("budgets budget not a number", FILE, r"'budgets\.cores_max' must be a finite number",
     r"got a string 'four'")
def _(ctx):
    budgets(ctx, ZOO + '[budgets]\ncores_max = "four"\n')


@pin("budgets max below zero", r"option --cores-max", r"'--cores-max' must be >= 0 "
     r"\(a limit on cores used\), got -1", r">= 0")
def _(ctx):
    options(ctx, {"--model": "digits", "--hw": "loihi2", "--cores-max": -1})


@pin("budgets nir accuracy without labels", FILE, r"'budgets\.accuracy_min' needs labels",
     r"labels = \.\.\. or --labels")
def _(ctx):
    nir_budgets(ctx, "", "[budgets]\naccuracy_min = 0.5\n")


@pin("budgets zoo accuracy on own inputs without labels", FILE,
     r"'budgets\.accuracy_min' with inputs needs labels", r"the targets of those inputs")
def _(ctx):
    np.save(ctx.tmp / "x.npy", np.zeros((8, 2, 1, 8, 8)))
    budgets(ctx, ZOO + 'inputs = "x.npy"\n[budgets]\naccuracy_min = 0.5\n')


@pin("check samples beyond inputs", r"'samples' = 5 \(from b\.toml\)",
     r"the inputs have 2", r"lower it or give more inputs")
def _(ctx):
    from neurocc.reports.check import run_check

    nir.write(ctx.tmp / "m.nir", mlp())
    np.save(ctx.tmp / "x.npy", np.zeros((4, 2, 3)))
    run_check(budgets(ctx, NIR_B + "samples = 5\n" + BUDGET))


@pin("check float agreement without spiking outputs", r"float_agreement_min",
     r"the model has no spiking outputs", r"use emulator_vs_reference_rel_l1_max")
def _(ctx):
    from neurocc.reports.check import run_check

    g = mlp()
    g.nodes["lif"] = nir.LI(tau=np.full(2, 2e-3), r=np.ones(2), v_leak=np.zeros(2))
    nir.write(ctx.tmp / "m.nir", g)
    np.save(ctx.tmp / "x.npy", np.zeros((4, 2, 3)))
    run_check(budgets(ctx, NIR_B + "[budgets]\nfloat_agreement_min = 0.5\n"))


@pin("compile steps not whole", r"steps", r"must be a whole number of time steps >= 1, got 0",
     r">= 1")
def _(ctx):
    compile(mlp(), steps=0)


@pin("input axes swapped: known steps", r"input has shape \(2, 4, 3\)",
     r"axis 1 has the program's 4 time steps, so it looks like \(batch, steps\)",
     r"swap them with x\.swapaxes\(0, 1\).*or, if it really is 2 steps of 4 samples, compile "
     r"without --steps")
def _(ctx):
    compile(mlp(), steps=4).run(np.zeros((2, 4, 3)))


@pin("input axes swapped: labels", r"input has shape \(4, 2, 3\) but there are 4 labels",
     r"axis 0 has the batch, so it looks like \(batch, steps\)",
     r"swap them with x\.swapaxes\(0, 1\)")
def _(ctx):
    from neurocc.reports.html import build_report

    build_report(compile(mlp()), np.zeros((4, 2, 3)), labels=np.zeros(4, int))



@pin("check inputs not (steps, batch, ...)", r"inputs '.*x\.npy'", r"have shape \(3,\)",
     r"expected \(steps, batch, \*input_shape\)")
def _(ctx):
    from neurocc.reports.check import run_check

    nir.write(ctx.tmp / "m.nir", mlp())
    np.save(ctx.tmp / "x.npy", np.zeros(3))
    run_check(budgets(ctx, NIR_B + BUDGET))


def labelled(ctx, y):
    nir.write(ctx.tmp / "m.nir", mlp())
    np.save(ctx.tmp / "x.npy", np.zeros((4, 2, 3)))
    np.save(ctx.tmp / "y.npy", y)
    return budgets(ctx, NIR_B + 'labels = "y.npy"\n[budgets]\naccuracy_min = 0.5\n')


@pin("check labels not class indices", r"labels '.*y\.npy'", r"got float64 \(2,\)",
     r"must be a 1-D array of class indices")
def _(ctx):
    from neurocc.reports.check import run_check

    run_check(labelled(ctx, np.array([0.5, 1.0])))


@pin("check labels count", r"labels '.*y\.npy'", r"have 3 entries but the inputs have 2 "
     r"samples \(axis 1\)", r"give one label per sample")
def _(ctx):
    from neurocc.reports.check import run_check

    run_check(labelled(ctx, np.zeros(3, int)))


@pin("report labels shape", r"labels", r"have shape \(2, 2\); expected \(2,\)",
     r"one class index per sample of the input's batch axis")
def _(ctx):
    from neurocc.reports.html import build_report

    build_report(compile(mlp()), np.zeros((4, 2, 3)), labels=np.zeros((2, 2), int))


@pin("report labels dtype", r"labels", r"got dtype float64", r"must be integer class indices")
def _(ctx):
    from neurocc.reports.html import build_report

    build_report(compile(mlp()), np.zeros((4, 2, 3)), labels=np.array([0.5, 1.0]))


@pin("report png not a directory", r"figures to '.*x\.npy'", r"it is not a directory",
     r"create it first", code=2)
def _(ctx):
    return cli("report", ctx.prog, "--input", ctx.x, "-o", ctx.tmp / "r.html", "--png", ctx.x)



@pin("check accuracy without spiking outputs", r"accuracy_min",
     r"the model has no spiking outputs", r"emulator_vs_reference_rel_l1_max")
def _(ctx):
    from neurocc.reports.check import run_check

    g = mlp()
    g.nodes["lif"] = nir.LI(tau=np.full(2, 2e-3), r=np.ones(2), v_leak=np.zeros(2))
    nir.write(ctx.tmp / "m.nir", g)
    np.save(ctx.tmp / "x.npy", np.zeros((4, 2, 3)))
    np.save(ctx.tmp / "y.npy", np.zeros(2, int))
    run_check(budgets(ctx, NIR_B + 'labels = "y.npy"\n[budgets]\naccuracy_min = 0.5\n'))



# --------------------------------------------------------------------------- program files

def resign(ctx, edit=None, arrays=None, name="p.neurocc", sign=True, drop=()) -> Path:
    """The shared program with its header edited by ``edit(meta)`` (and arrays by
    ``arrays(a)``), signed again as a hand edit would be."""
    import json
    import zipfile

    from neurocc.compiler.artifact import _digest

    with zipfile.ZipFile(ctx.prog) as z:
        meta_json = z.read("header.json")
        a = {n[:-4]: np.load(io.BytesIO(z.read(n))) for n in z.namelist() if n.endswith(".npy")}
        digest = z.read("sha256").decode()
    if edit is not None:
        meta = json.loads(meta_json)
        meta = edit(meta) or meta
        meta_json = json.dumps(meta).encode() if not isinstance(meta, bytes) else meta
    if arrays is not None:
        arrays(a)
    if sign:
        digest = _digest(meta_json, a)
    path = ctx.tmp / name
    with zipfile.ZipFile(path, "w") as z:
        for n, data in [("header.json", meta_json), ("sha256", digest.encode())]:
            if n not in drop:
                z.writestr(n, data)
        for k, v in a.items():
            buf = io.BytesIO()
            np.save(buf, v)
            z.writestr(f"{k}.npy", buf.getvalue())
    return path


def _set(key, value):
    def edit(meta):
        meta[key] = value
    return edit


ART = r"program '.*p\.neurocc'"
RECOMPILE = r"recompile it( with neurocc compile)?$"


@pin("artifact missing", r"program '.*none\.neurocc'", r"does not exist",
     r"create it with neurocc compile")
def _(ctx):
    neurocc.load(ctx.tmp / "none.neurocc")


@pin("artifact no header", r"'.*p\.neurocc'", r"is not a neurocc program \(no header\)",
     r"compile one with neurocc compile")
def _(ctx):
    neurocc.load(resign(ctx, drop=("header.json",)))


@pin("artifact not a zip", r"program '.*junk\.neurocc'",
     r"is corrupted or not a neurocc program \(BadZipFile\)", RECOMPILE)
def _(ctx):
    (ctx.tmp / "junk.neurocc").write_text("hello")
    neurocc.load(ctx.tmp / "junk.neurocc")


@pin("artifact header json", ART, r"has a corrupted header", RECOMPILE)
def _(ctx):
    neurocc.load(resign(ctx, edit=lambda m: b"{", sign=False))


@pin("artifact wrong format", r"'.*p\.neurocc'", r"is not a neurocc program$|is not a neurocc "
     r"program;", r"compile one with neurocc compile")
def _(ctx):
    neurocc.load(resign(ctx, edit=_set("format", "zip")))


@pin("artifact version", ART, r"has format version 999, this neurocc reads versions [\d, ]+",
     r"recompile it with this neurocc")
def _(ctx):
    neurocc.load(resign(ctx, edit=_set("version", 999)))


@pin("artifact checksum", ART, r"failed its checksum", RECOMPILE)
def _(ctx):
    neurocc.load(resign(ctx, edit=_set("dt", 2e-4), sign=False))


@pin("artifact target", ART, r"unknown target 'truenorth'; known targets: loihi", RECOMPILE)
def _(ctx):
    neurocc.load(resign(ctx, edit=_set("target", "truenorth")))


@pin("artifact malformed", ART, r"has a malformed header \(field 'groups' missing\)",
     RECOMPILE)
def _(ctx):
    neurocc.load(resign(ctx, edit=lambda m: m.pop("groups") and None))


@pin("artifact narrowed table", ART, r"its 'narrowed' table is damaged", RECOMPILE)
def _(ctx):
    neurocc.load(resign(ctx, edit=_set("narrowed", [1])))


@pin("artifact narrowed dtype", ART, r"array 'x' cannot be restored to 'float128'",
     RECOMPILE)
def _(ctx):
    neurocc.load(resign(ctx, edit=_set("narrowed", {"x": "float128"})))


@pin("artifact hw incomplete", ART, r"its hardware description is incomplete for this neurocc "
     r"\(hardware config '<program>' is not a table", RECOMPILE)
def _(ctx):
    neurocc.load(resign(ctx, edit=_set("hw", [])))


@pin("artifact payload version", ART, r"has Loihi payload version 9, this neurocc reads "
     r"versions 1 to \d+", r"recompile it with this neurocc$")
def _(ctx):
    neurocc.load(resign(ctx, edit=_set("payload_version", 9)))


@pin("artifact float weights gone", ART, r"the float reference needs its float weights, which "
     r"were left in the \.nir it was compiled from, but no file at '.*gone\.nir' has its "
     r"sha256", r"put that \.nir beside the program, or compile it again with "
     r"--embed-float-weights .* to carry them in the program\)?$")
def _(ctx):
    model = written(ctx, mlp(), "gone.nir")
    compile(model).save(ctx.tmp / "p.neurocc")
    model.unlink()
    neurocc.load(ctx.tmp / "p.neurocc").run(np.zeros((4, 2, 3)), backend="reference")


# --------------------------------------------------------------------------- inputs and run

def run(ctx, x, **kw):
    return ctx.program.run(x, **kw)


@pin("input ragged", r"input", r"is ragged \(rows of different lengths\)",
     r"give an array \(steps, batch, \*input_shape\)")
def _(ctx):
    run(ctx, [[[0, 0, 0]], [[0, 0]]])


@pin("input shape", r"input has shape \(4, 2, 5\)",
     r"the program expects \(steps, batch, 3\)", r"time first, like snnTorch")
def _(ctx):
    run(ctx, np.zeros((4, 2, 5)))


@pin("input dtype", r"input has dtype <U1", r"dtype", r"use numbers \(bool, int or float\)")
def _(ctx):
    run(ctx, np.full((4, 2, 3), "a"))


@pin("input nan", r"input holds 1 NaN or inf value\(s\)", r"the first at step 2, sample 1, "
     r"input 0", r"replace them before running")
def _(ctx):
    x = np.zeros((4, 2, 3))
    x[2, 1, 0] = np.nan
    run(ctx, x)


@pin("input empty", r"input has shape \(0, 2, 3\)", r"needs at least one step and one sample",
     r"at least one step and one sample")
def _(ctx):
    run(ctx, np.zeros((0, 2, 3)))


@pin("input graded for spikes", r"input holds graded value 0\.5",
     r"compiled for binary spikes", r"encode it as 0/1 spikes or recompile with --graded-input")
def _(ctx):
    run(ctx, np.full((4, 2, 3), 0.5))


@pin("input graded max", r"input magnitude 3", r"exceeds the graded-input maximum 1",
     r"scale the input down or recompile with a larger --graded-input")
def _(ctx):
    prog = compile(ctx.nir_file, input_encoding=neurocc.GradedInput(1.0))
    prog.run(np.full((4, 2, 3), 3.0))


@pin("input axes swapped by steps", r"input has shape \(2, 7, 3\)",
     r"axis 1 has the program's 7 time steps", r"swap them with x\.swapaxes\(0, 1\)")
def _(ctx):
    compile(ctx.nir_file, steps=7).run(np.zeros((2, 7, 3)))


@pin("input axes swapped by labels", r"input has shape \(2, 4, 3\) but there are 2 labels",
     r"axis 0 has the batch", r"swap them with x\.swapaxes\(0, 1\)")
def _(ctx):
    from neurocc.backends.run import check_axes

    check_axes(ctx.program, (2, 4, 3), batch=2)


@pin("run record", r"record", r"must be one of .*, got 'some'", r"must be one of ")
def _(ctx):
    run(ctx, np.zeros((4, 2, 3)), record="some")


@pin("run workers", r"workers", r"must be at least 1, got 0", r"at least 1")
def _(ctx):
    run(ctx, np.zeros((4, 2, 3)), workers=0)


@pin("run unknown backend", r"unknown backend 'tpu'", r"unknown backend",
     r"choose one of emulator, ")
def _(ctx):
    run(ctx, np.zeros((4, 2, 3)), backend="tpu")


@pin("run emulator schedule", r"unknown emulator schedule 'random'", r"unknown",
     r"choose one of ")
def _(ctx):
    run(ctx, np.zeros((4, 2, 3)), schedule="random")


@pin("run sanafe timing", r"backend 'sanafe': unknown timing_model 'fast'", r"unknown",
     r"choose detailed or simple")
def _(ctx):
    run(ctx, np.zeros((4, 2, 3)), backend="sanafe", timing_model="fast")


@pin("run scheduler single process", r"backend 'sanafe'", r"runs in one process",
     r"--scheduler works with the emulator and the reference backends")
def _(ctx):
    run(ctx, np.zeros((4, 2, 3)), backend="sanafe", scheduler="tcp://127.0.0.1:1")


@pin("run scheduler unreachable", r"Dask scheduler at tcp://127\.0\.0\.1:9",
     r"could not reach", r"check the address \(tcp://host:port\) or run without --scheduler")
def _(ctx):
    run(ctx, np.zeros((4, 2, 3)), scheduler="tcp://127.0.0.1:9")


@pin("lava timeout", r"the Lava timeout", r"must be a positive number of seconds, got -1",
     r"positive number of seconds")
def _(ctx):
    run(ctx, np.zeros((4, 2, 3)), backend="lava", timeout_s=-1)


@pin("lava on chip", r"--on-chip", r"needs Intel's lava-loihi extension, which is not "
     r"installed", r"run without --on-chip")
def _(ctx):
    run(ctx, np.zeros((4, 2, 3)), backend="lava", on_chip=True)


@pin("lava number formats", r"program for 'lava-odd'",
     r"uses number formats Lava 0\.10's models do not implement: ",
     r"run it on the emulator, which honours them, or compile for a config with Lava's widths")
def _(ctx):
    t = _tiny(ctx, weight_bits=6).read_text().replace('name = "tiny"', 'name = "lava-odd"')
    hw = _tiny(ctx, text=t)
    compile(ctx.nir_file, hw=str(hw)).run(np.zeros((4, 2, 3)), backend="lava")


@pin("input dict keys", r"input dict has keys \['a'\]", r"but the program's Input nodes are "
     r"\['in'\] \(missing: in\) \(unknown: a\)", r"give one array \(steps, batch, \*shape\) per "
     r"Input node")
def _(ctx):
    run(ctx, {"a": np.zeros((4, 2, 3))})


@shared
def two_inputs(ctx):
    g = mlp()
    g.nodes["in2"] = nir.Input(input_type={"input": np.array([2])})
    g.nodes["fc2"] = nir.Affine(weight=np.ones((2, 2)), bias=np.zeros(2))
    g.edges += [("in2", "fc2"), ("fc2", "lif")]
    return compile(g)


@pin("input dict ragged", r"input 'in'", r"is ragged \(rows of different lengths\)",
     r"give an array \(steps, batch, \*shape\)")
def _(ctx):
    ctx.two_inputs.run({"in": [[[0, 0, 0]], [[0]]], "in2": np.zeros((4, 1, 2))})


@pin("input dict shape", r"input 'in2' has shape \(4, 1, 3\)",
     r"Input node 'in2' expects \(steps, batch, 2\)", r"expects \(steps, batch, 2\)$")
def _(ctx):
    ctx.two_inputs.run({"in": np.zeros((4, 1, 3)), "in2": np.zeros((4, 1, 3))})


@pin("input dict lead", r"input 'in2' has 5 steps and 1 samples",
     r"input 'in' 4 and 1", r"give every Input the same \(steps, batch\)")
def _(ctx):
    ctx.two_inputs.run({"in": np.zeros((4, 1, 3)), "in2": np.zeros((5, 1, 2))})


@pin("compare hw", r"--hw ' , '", r"give one or more config names",
     r"separated by commas")
def _(ctx):
    neurocc.compare(ctx.nir_file, hw=" , ", x=np.zeros((4, 1, 3)))


@pin("compare no input", r"compare", r"needs an input x", r"\(steps, batch, \*input_shape\)")
def _(ctx):
    neurocc.compare(ctx.nir_file, hw="loihi2")


@pin("zoo unknown", r"unknown zoo model 'cats'", r"unknown", r"\(neurocc zoo list\)")
def _(ctx):
    from neurocc.models import zoo

    zoo.get("cats")


# --------------------------------------------------------------------------- snnTorch modules

def seq(*layers):
    import torch

    return torch.nn.Sequential(*layers)


def leaky(**kw):
    import snntorch as snn

    kw.setdefault("beta", 0.9)
    return snn.Leaky(init_hidden=True, **kw)


def fc(n_in=3, n_out=2):
    import torch

    return torch.nn.Linear(n_in, n_out)


def tcompile(model, sample=(1, 3), **kw):
    import torch

    return compile(model, sample=None if sample is None else torch.zeros(*sample), **kw)


LAYER = r"layer \d+ \({}\)"


@pin("torch no sample", r"compile\(model\): an nn\.Module", r"needs sample=",
     r"one input batch \(B, \*input_shape\)")
def _(ctx):
    tcompile(seq(fc(), leaky()), sample=None)


@pin("torch producer", r"producer='norse'", r"is for NIR files",
     r"leave producer unset")
def _(ctx):
    tcompile(seq(fc(), leaky()), producer="norse")


@pin("torch reset", r"reset='zero'", r"the model's neurons use reset_mechanism='subtract'",
     r"leave reset unset")
def _(ctx):
    tcompile(seq(fc(), leaky()), reset="zero")


@pin("torch dt", r"dt=0\.001", r"read with snnTorch's own dt = ", r"leave dt unset")
def _(ctx):
    tcompile(seq(fc(), leaky()), dt=1e-3)


@pin("torch inhibition", LAYER.format("Leaky"), r"inhibition=True", r"train without it")
def _(ctx):
    tcompile(seq(fc(), leaky(inhibition=True)))


@pin("torch graded spikes", LAYER.format("Leaky"), r"graded_spikes_factor != 1",
     r"use binary spikes \(factor 1\)")
def _(ctx):
    tcompile(seq(fc(), leaky(graded_spikes_factor=2.0)))


@pin("torch reset none", LAYER.format("Leaky"), r"reset_mechanism='none' is not supported",
     r"use 'zero' or 'subtract'")
def _(ctx):
    tcompile(seq(fc(), leaky(reset_mechanism="none")))


@pin("torch reset_delay", LAYER.format("Leaky"), r"reset_delay=False subtracts a threshold",
     r"train with reset_delay=True")
def _(ctx):
    tcompile(seq(fc(), leaky(reset_delay=False)))


@pin("torch beta range", LAYER.format("Leaky"), r"beta outside \[0, 1\] \(min 1\.5",
     r"clamp beta to \[0, 1\]")
def _(ctx):
    tcompile(seq(fc(), leaky(beta=1.5)))


@pin("torch beta shape", LAYER.format("Leaky"), r"beta of shape \(5,\) does not broadcast to "
     r"the layer's shape \(2,\)", r"give a scalar or a tensor of the layer's shape")
def _(ctx):
    import torch

    tcompile(seq(fc(), leaky(beta=torch.full((5,), 0.9))))


@pin("torch layer type", LAYER.format("ReLU"), r"this layer type is not read",
     r"see the README's table of snnTorch layers")
def _(ctx):
    import torch

    tcompile(seq(fc(), torch.nn.ReLU(), leaky()))


@pin("torch batchnorm first", LAYER.format("BatchNorm1d"), r"there is none",
     r"put BatchNorm right after a Linear, Conv1d or Conv2d")
def _(ctx):
    import torch

    tcompile(seq(torch.nn.BatchNorm1d(3), fc(), leaky()))


@pin("torch flatten dims", LAYER.format("Flatten"), r"start_dim=0, end_dim=-1",
     r"flatten everything but the batch")
def _(ctx):
    import torch

    tcompile(seq(torch.nn.Flatten(0), fc(), leaky()))


@pin("torch maxpool after linear", LAYER.format("MaxPool2d"), r"pools non-spike values",
     r"put MaxPool2d right after a Leaky or Synaptic layer, or use AvgPool2d")
def _(ctx):
    import torch

    tcompile(seq(torch.nn.Conv2d(1, 2, 3), torch.nn.MaxPool2d(2), leaky()), sample=(1, 1, 6, 6))


@pin("torch conv on flat input", LAYER.format("Conv2d"), r"expects a \(C, H, W\) input, "
     r"receives \(3,\)", r"give sample= with shape \(B, C, H, W\)")
def _(ctx):
    import torch

    tcompile(seq(torch.nn.Conv2d(1, 2, 3), leaky()))


@pin("torch no neuron", r"model", r"has no snnTorch neuron layer",
     r"add snn\.Leaky or snn\.Synaptic")
def _(ctx):
    tcompile(seq(fc()))


@pin("torch ends with linear", r"model ends with Linear", r"not a neuron layer",
     r"end with snn\.Leaky or snn\.Synaptic")
def _(ctx):
    tcompile(seq(fc(), leaky(), fc(2, 2)))


@pin("torch mixed resets", r"model mixes reset rules \(subtract: layers 1; zero: layers 3\)",
     r"neurocc compiles one rule per model", r"train with one reset_mechanism")
def _(ctx):
    tcompile(seq(fc(), leaky(), fc(2, 2), leaky(reset_mechanism="zero")))


@pin("torch forward fails", r"model Net", r"forward\(sample\) failed \(RuntimeError: ",
     r"give sample= as forward\(\) expects it")
def _(ctx):
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.lif = fc(), leaky()

        def forward(self, x):
            return self.lif(self.fc(x))

    tcompile(Net(), sample=(1, 7))


@pin("torch forward calls nothing", r"model Net", r"forward\(sample\) calls no layer",
     r"nn\.Sequential|write forward")
def _(ctx):
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = fc()

        def forward(self, x):
            return x

    tcompile(Net())


@pin("torch synaptic zero reset", LAYER.format("Synaptic"), r"reset_mechanism='zero' with "
     r"reset_delay=True holds the membrane at zero", r"train with reset_delay=False")
def _(ctx):
    import snntorch as snn

    tcompile(seq(fc(), snn.Synaptic(alpha=0.5, beta=0.9, init_hidden=True,
                                    reset_mechanism="zero")))


@pin("torch alpha 1", LAYER.format("Synaptic"), r"alpha = 1 \(a current that never decays\)",
     r"use alpha < 1")
def _(ctx):
    import snntorch as snn

    tcompile(seq(fc(), snn.Synaptic(alpha=1.0, beta=0.9, init_hidden=True)))


@pin("torch batchnorm no stats", LAYER.format("BatchNorm1d"), r"no running statistics",
     r"train with running statistics or fold the normalisation yourself")
def _(ctx):
    import torch

    tcompile(seq(fc(), torch.nn.BatchNorm1d(2, track_running_stats=False), leaky()))


@pin("torch conv2d padding mode", LAYER.format("Conv2d"), r"padding_mode='reflect'",
     r"use zero padding")
def _(ctx):
    import torch

    tcompile(seq(torch.nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), leaky()),
             sample=(1, 1, 6, 6))


@pin("torch conv1d padding mode", LAYER.format("Conv1d"), r"padding_mode='reflect'",
     r"use zero padding")
def _(ctx):
    import torch

    tcompile(seq(torch.nn.Conv1d(1, 2, 3, padding=1, padding_mode="reflect"), leaky()),
             sample=(1, 1, 6))


@pin("torch conv1d on flat input", LAYER.format("Conv1d"), r"expects a \(C, L\) input, "
     r"receives \(3,\)", r"give sample= with shape \(B, C, L\)")
def _(ctx):
    import torch

    tcompile(seq(torch.nn.Conv1d(1, 2, 3), leaky()))


@pin("torch avgpool2d ceil", LAYER.format("AvgPool2d"), r"ceil_mode, divisor_override or "
     r"count_include_pad=False", r"use AvgPool2d\(kernel, stride, padding\) with the defaults")
def _(ctx):
    import torch

    tcompile(seq(torch.nn.Conv2d(1, 2, 3), torch.nn.AvgPool2d(2, ceil_mode=True), leaky()),
             sample=(1, 1, 7, 7))


@pin("torch maxpool ceil", LAYER.format("MaxPool2d"), r"ceil_mode, return_indices, dilation",
     r"use MaxPool2d\(kernel, stride, padding\) after a conv layer")
def _(ctx):
    import torch

    tcompile(seq(torch.nn.Conv2d(1, 2, 3), leaky(), torch.nn.MaxPool2d(2, ceil_mode=True),
                 torch.nn.Flatten(), fc(8, 2), leaky()), sample=(1, 1, 7, 7))


# --------------------------------------------------------------------------- the CLI

@pin("cli input missing", r"input file '.*nope\.npy'", r"does not exist",
     r"check the path", code=2)
def _(ctx):
    return cli("run", ctx.prog, "--input", ctx.tmp / "nope.npy")


@pin("cli input not npy", r"input '.*bad\.npy'", r"cannot read .* as a \.npy array",
     r"save it with numpy\.save, shape \(steps, batch, \*input_shape\)", code=2)
def _(ctx):
    (ctx.tmp / "bad.npy").write_text("x")
    return cli("run", ctx.prog, "--input", ctx.tmp / "bad.npy")


@pin("cli input npz", r"input '.*x\.npz'", r"is a zip archive \(\.npz, or a torch \.pt file\)",
     r"save the array with numpy\.save", code=2)
def _(ctx):
    np.savez(ctx.tmp / "x.npz", np.zeros(3))
    from neurocc.api.files import load_array

    load_array(ctx.tmp / "x.npz")


@pin("cli output is dir", r"cannot write the program to '.*'", r"it is a directory",
     r"give a file name", code=2)
def _(ctx):
    return cli("compile", ctx.nir_file, "-o", ctx.tmp)


@pin("cli output dir missing", r"cannot write the program to '.*missing/p'",
     r"directory '.*missing' does not exist", r"create it first", code=2)
def _(ctx):
    return cli("compile", ctx.nir_file, "-o", ctx.tmp / "missing" / "p")


@pin("cli output device full", r"cannot write the program to '/dev/full'",
     r"No space left on device", r"check the disk space and the path", code=2)
def _(ctx):
    return cli("compile", ctx.nir_file, "-o", "/dev/full")


@pin("cli on-chip without lava", r"--on-chip", r"applies to --backend lava only",
     r"--backend lava", code=2)
def _(ctx):
    return cli("run", ctx.prog, "--input", ctx.x, "--on-chip")


@pin("cli does not fit", r"layer 'lif' \(NIR node 'lif'\)", r"> 65536 bits per tiny core",
     r"reduce its fan-in", code=3)
def _(ctx):
    return cli("compile", written(ctx, mlp(9000, 1)), "--hw", "tiny", "-o", ctx.tmp / "p")


@pin("cli zoo no sweep", r"zoo model 'digits'", r"has no sweep",
     r"--sweep applies to retina and olfaction", code=2)
def _(ctx):
    return cli("zoo", "train", "digits", "--sweep")


# ----------------------------------------------------- snnTorch modules: the lead's last sites


@pin("torch state quant", LAYER.format("Leaky"), r"state_quant is a training-time quantizer",
     r"drop it for deployment")
def _(ctx):
    tcompile(seq(fc(), leaky(state_quant=lambda x: x)))


class _StepVaries:
    """A forward whose steps call different layers (the first step only has the Linear)."""

    def __new__(cls):
        import snntorch as snn
        import torch

        class StepVaries(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc, self.lif = torch.nn.Linear(3, 2), snn.Leaky(beta=0.9)

            def forward(self, x):
                mem = self.lif.init_leaky()
                cur = self.fc(x[0])
                for _ in range(x.shape[0]):
                    spk, mem = self.lif(cur, mem)
                return spk

        return StepVaries()


@pin("torch traced steps differ", r"model StepVaries", r"does not call the same layers in the "
     r"same order every step \(4 calls of 2 layers\)", r"write the layers as an nn\.Sequential")
def _(ctx):
    tcompile(_StepVaries(), sample=(3, 1, 3))


@pin("torch traced not a chain", r"model Skip: layer Leaky \(call 3 of a step\)",
     r"does not receive what Linear before it returned", r"export the graph yourself")
def _(ctx):
    import snntorch as snn
    import torch

    class Skip(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.lif1 = torch.nn.Linear(3, 3), snn.Leaky(beta=0.9)
            self.fc2, self.lif2 = torch.nn.Linear(3, 3), snn.Leaky(beta=0.9)

        def forward(self, x):
            m1, m2 = self.lif1.init_leaky(), self.lif2.init_leaky()
            for t in range(x.shape[0]):
                s1, m1 = self.lif1(self.fc1(x[t]), m1)
                s2, m2 = self.lif2(self.fc2(s1) + x[t], m2)
            return s2

    tcompile(Skip(), sample=(2, 1, 3))


@pin("torch recurrent conv changes shape", LAYER.format("RLeaky"), r"its recurrent Conv2d maps "
     r"\(2, 4, 4\) to \(2, 5, 5\)", r"use a recurrent kernel that keeps the shape")
def _(ctx):
    import snntorch as snn
    import torch

    tcompile(seq(torch.nn.Conv2d(1, 2, 3, padding=1),
                 snn.RLeaky(beta=0.9, conv2d_channels=2, kernel_size=2, init_hidden=True)),
             sample=(1, 1, 4, 4))


@pin("torch recurrent module not read", LAYER.format("RLeaky"), r"recurrent module Tanh is "
     r"not read", r"use all_to_all with linear_features or conv2d_channels")
def _(ctx):
    import snntorch as snn
    import torch

    net = seq(fc(), snn.RLeaky(beta=0.9, linear_features=2, init_hidden=True))
    net[1].recurrent = torch.nn.Tanh()
    tcompile(net)


@pin("torch one-to-one V too wide", LAYER.format("RLeaky"), r"a one-to-one recurrent V on "
     r"5000 neurons would be stored as an 5000×5000 matrix",
     r"use a layer of at most 4,096 neurons")
def _(ctx):
    import snntorch as snn

    tcompile(seq(fc(3, 5000), snn.RLeaky(beta=0.9, all_to_all=False, V=0.5,
                                          init_hidden=True)))


@pin("torch avgpool1d options", LAYER.format("AvgPool1d"), r"ceil_mode or "
     r"count_include_pad=False with padding change the average's divisor",
     r"use AvgPool1d\(kernel, stride, padding\) with the defaults")
def _(ctx):
    import torch

    tcompile(seq(torch.nn.Conv1d(1, 2, 3), leaky(), torch.nn.AvgPool1d(2, ceil_mode=True)),
             sample=(1, 1, 9))


@pin("torch avgpool1d on flat input", LAYER.format("AvgPool1d"), r"expects a \(C, L\) input, "
     r"receives \(2,\)", r"give sample= with shape \(B, C, L\)")
def _(ctx):
    import torch

    tcompile(seq(fc(), leaky(), torch.nn.AvgPool1d(2)))


# ------------------------------------------------------------ the ANN baseline's figures file


def _baselines_edited(ctx, old: str, new: str):
    from neurocc.cost.baseline import BASELINES

    text = BASELINES.read_text()
    assert old in text, old
    path = ctx.tmp / "conventional.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pin("baseline figures unreadable", r"baseline figures '.*conventional\.toml'",
     r"cannot be read \(", r"reinstall neurocc or fix the file")
def _(ctx):
    from neurocc.cost.baseline import load_baselines

    path = ctx.tmp / "conventional.toml"
    path.write_text("[horowitz_45nm\n")
    load_baselines(path)


@pin("baseline figure without source", r"baseline figures '.*': \[horowitz_45nm\] fp32_add_j",
     r"needs a value and a source", r"an inline table \{ value, unit, source \}")
def _(ctx):
    import re as _re

    from neurocc.cost.baseline import BASELINES, load_baselines

    line = next(ln for ln in BASELINES.read_text().splitlines()
                if ln.startswith("fp32_add_j"))
    load_baselines(_baselines_edited(ctx, line, _re.sub(r"source *= *\"[^\"]*\"",
                                                          'source = ""', line)))


@pin("baseline accumulator bits", r"int8_accelerator\.accumulator_bits = 16",
     r"Horowitz gives int8 and int32 adds only", r"use 8 or 32")
def _(ctx):
    from neurocc.cost.baseline import BASELINES, ann_energy, load_baselines

    line = next(ln for ln in BASELINES.read_text().splitlines()
                if ln.startswith("accumulator_bits"))
    import re as _re

    fig = load_baselines(_baselines_edited(ctx, line, _re.sub(r"value *= *\d+", "value = 16",
                                                              line, count=1)))
    ann_energy({"macs": 10, "params": 10, "activations": 10}, fig)


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("p", PINS, ids=[p.id for p in PINS])
def test_message(p: Pin, outcomes):
    o = outcomes[p.id]
    assert o.problem is None, f"{p.id}: {o.problem}"
    msg = o.message
    assert msg and "\n" not in msg, f"{p.id}: not one line: {msg!r}"
    for part, rx in (("object", p.obj), ("limit/problem", p.limit), ("advice", p.advice)):
        assert re.search(rx, msg), f"{p.id}: the message lost its {part} /{rx}/: {msg}"
    if p.code is not None:
        assert o.code == p.code, f"{p.id}: exit status {o.code}, expected {p.code}: {msg}"
    assert o.site is not None, f"{p.id}: its error was not built at a known site: {msg}"


# Sites no pin reaches, each with why: (file, function, a fragment of its source) → reason.
ALLOWED: dict[tuple[str, str, str], str] = {
    # unreachable: an internal invariant, kept as a guard
    ("compiler/frontend/nir.py", "shape_of", "f\"node '{n}' is on a loop"):
        "every linear loop is caught when its last node is pushed (the check on 'p')",
    ("compiler/passes/discretize.py", "_uniform", "different {what} values"):
        "the subpopulations pass gives every population one time constant first",
    ("compiler/passes/place.py", "place", "capacity_violation(part, hw)"):
        "partition raises the same capacity_violation before place runs",
    ("backends/lava/__init__.py", "simulate", "this program \" f\"targets"):
        "loihi is the only target; no program reaches Lava with another",
    ("backends/lava/__init__.py", "simulate", "payloads have shape"):
        "run() checks and encodes the input before the backend sees it",
    ("backends/lava/__init__.py", "simulate", "Lava returned"):
        "the worker's own output contract; only a broken Lava breaks it",
    # reachable only in another environment than the development one
    ("backends/lava/runner.py", "_run_worker", "BackendError("):
        "Lava itself failing or hanging (worker cannot start, actor error, crash, timeout)",
    ("backends/base.py", "get_backend", "is not available"):
        "the dev environment installs every backend's extra",
    ("backends/parallel.py", "run_on_cluster", "needs dask.distributed"):
        "the dev environment installs dask.distributed",
    ("backends/sanafe/__init__.py", "_arch", "unexpected form"):
        "only with a sanafe release other than the pinned 2.2.9",
    ("cli/main.py", "cmd_zoo_train", "_needs_models_extra"):
        "the dev environment installs the models extra",
    ("cli/main.py", "cmd_zoo_export", "_needs_models_extra"):
        "the dev environment installs the models extra",
    ("models/zoo.py", "export", "has no committed artifact"):
        "every zoo model commits its artifact",
    ("api/files.py", "check_writable", "is not \" \"writable"):
        "tests run as root, for whom os.access reports every directory writable",
    ("reports/html.py", "cmd_report", "directory is not writable"):
        "tests run as root, for whom os.access reports every directory writable",
    ("api/files.py", "write_atomic", "{e.strerror or e}"):
        "needs a disk that fails between the checks and the rename",
}


# Reachable sites not pinned yet (a debt, not a reason): same keys. Pin one, then delete its
# entry here (the meta-test fails on an entry that matches nothing unpinned).
PENDING: dict[tuple[str, str, str], str] = {}


def _allowed(s: Site) -> tuple | None:
    return next((k for k in {**ALLOWED, **PENDING} if k[0] == s.file
                 and k[1] in ("", s.function) and k[2] in s.source), None)


def test_every_message_site_is_pinned(outcomes):
    """Every site in the shipped code is reached by a pin that passes, or allowed with its
    reason; a new raise site fails here, naming its file:line."""
    passed = {p.id for p in PINS if _passes(p, outcomes[p.id])}
    hit = {outcomes[i].site for i in passed}
    messages = [outcomes[i].message for i in passed]
    unpinned, used = [], set()
    for s in SITES:
        if s.kind == "part":
            ok = any(all(f in m for f in s.fragments) for m in messages)
        else:
            ok = s in hit
        if ok:
            continue
        key = _allowed(s)
        if key:
            used.add(key)
        else:
            unpinned.append(s)
    stale = [k for k in {**ALLOWED, **PENDING} if k not in used]
    assert not unpinned, (
        f"{len(unpinned)} of {len(SITES)} message sites are not pinned: add a @pin case in "
        "tests/test_error_messages.py for each (or, if no user can reach it, an ALLOWED "
        "entry saying why):\n  " + "\n  ".join(map(str, unpinned)))
    assert not stale, f"ALLOWED entries that match no unpinned site (remove them): {stale}"


def _passes(p: Pin, o: Outcome) -> bool:
    m = o.message
    return bool(o.problem is None and m and "\n" not in m and o.site is not None
                and all(re.search(rx, m) for rx in (p.obj, p.limit, p.advice))
                and (p.code is None or o.code == p.code))


def test_pins_are_fast(outcomes):
    """The whole table runs in ``make test``: keep it well under half a minute."""
    assert outcomes["<wall>"] < 25, f"the pins took {outcomes['<wall>']:.1f} s"
