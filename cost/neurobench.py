"""NeuroBench's metrics of a compiled program's run, equal to what the ``neurobench`` package
(2.3.0) reports for the same snnTorch model and inputs — computed with numpy alone.

NeuroBench hooks the *float model's graph*, layer by layer: every Linear / Conv layer (NIR
``Affine``, ``Linear``, ``Conv2d``) is run on binarized copies of the input it receives and of
its weights (non-zero → 1, bias dropped) once per time step, and the sum of the result is its
number of *effective* operations. A call whose whole input batch is made of -1/0/1 counts as
accumulates (ACs), any other as multiply-accumulates (MACs) — so a Linear fed by an average
pool of spikes does MACs. ``Dense`` is the same count on all-ones inputs and weights (a conv's
zero padding still contributes nothing). Everything is averaged per sample over the input's
``T`` steps; pooling, flattening and biases cost nothing.

neurocc counts the *chip's* work (``cost/activity.py``): one op per event (spike or graded
input) × the non-zero (quantized) synapses it drives, on the fused projections — AvgPool +
Flatten + Affine become one 512 → 64 matrix, so a pool window with k spikes costs k × fan-out
synaptic events, not one MAC per fan-out — over every step run, drain steps included.

The spike trains come from the neurocc run itself (by default the float ``reference``
backend, whose spikes are snnTorch's, each layer shifted by its hop depth): each source's
``T`` steps are taken from its hop depth on, as ``neurocc.backends.run`` aligns outputs.
The NIR graph the program was compiled from (``program.source["nir"]``) gives the layer
structure and the float weights. Nothing here imports torch or neurobench.
"""

from __future__ import annotations

import numpy as np

from neurocc.compiler.linalg import conv2d

CONNECTION_NODES = ("Affine", "Linear", "Conv1d", "Conv2d")
"""NIR node types NeuroBench counts as connection layers (torch Linear / Conv1d / Conv2d)."""
CONV_NODES = ("Conv1d", "Conv2d")

LEAKY_SCALAR_BUFFER_BYTES = 4 + 8
"""Per snnTorch 1.0 ``Leaky``, besides its ``beta`` and ``threshold`` (float32 each): the
scalar buffers ``graded_spikes_factor`` (float32) and ``reset_mechanism_val`` (int64); its
``mem`` buffer is empty before a run."""

EXPLANATION = (
    "NeuroBench counts each Linear/Conv layer of the float model on the input it receives "
    "(after pooling: one MAC per non-zero pooled value x fan-out) over the T input steps; "
    "neurocc counts the chip's fused projections (pooling folded into the next weights: one "
    "op per spike x non-zero quantized synapse) over every step run, drain included.")


def neurobench_metrics(program, x, backend: str = "reference", *, result=None,
                       graph=None, batch_size: int | None = None) -> dict:
    """NeuroBench's metrics for ``program`` on input ``x`` ``(T, B, *input_shape)``.

    Args:
        program: a compiled neurocc program (``compile_nir``).
        x: the input, time first, as given to ``neurocc.backends.run``.
        backend: backend to run when ``result`` is not given.
        result: a ``RunResult`` of ``run(program, x, ...)`` to reuse (drained, the default).
        graph: the ``nir.NIRGraph`` or ``.nir`` path (default ``program.source["nir"]``).
        batch_size: the DataLoader batch size NeuroBench would use (default: all ``B``
            samples in one batch). It only decides which calls count as ACs or MACs.

    Returns:
        ``Effective_MACs``, ``Effective_ACs``, ``Dense`` (per sample), ``SynapticOperations``
        (those three, as NeuroBench nests them), ``ActivationSparsity``,
        ``ConnectionSparsity`` (rounded to 4 decimals like NeuroBench),
        ``Footprint`` (bytes of the snnTorch model rebuilt from the NIR graph; None when a
        node has no known snnTorch layout), ``layers`` (per connection node: effective and
        dense ops per sample, ``AC``/``MAC`` calls), ``neurocc_synops`` (the chip's synaptic
        ops per sample) with ``neurocc_synops_by_projection``, ``samples``, ``steps`` and
        ``explanation``.
    """
    from neurocc.backends.run import run

    g = _Graph(_graph_of(program, graph))
    res = result if result is not None else run(program, x, backend=backend, record="all")
    steps, batch = int(res.steps), int(res.batch)
    x = np.asarray(x, dtype=np.float64)
    if x.shape[:2] != (steps, batch):
        raise ValueError(f"x has shape {x.shape}; the run had {steps} steps of {batch} samples")
    x = x.reshape(steps, batch, *g.shape[g.input])
    bs = batch if not batch_size else int(batch_size)
    depths = program.hop_depths

    def source_values(name: str) -> np.ndarray:
        """(T, B, *shape) float64: what NIR node ``name`` outputs on the input's time axis."""
        if name == g.input:
            return x
        grp = program.group(name)
        d = depths.get(name, 0)
        if grp.spiking:
            v = res.trace.spikes[name][d:d + steps].astype(np.float64)
        elif name in res.trace.v:
            v = res.trace.v[name][d:d + steps].astype(np.float64)
            if res.trace.fixed_point:
                v = v / np.asarray(grp.v_scale, dtype=np.float64)[None, None, :]
        else:
            raise ValueError(f"non-spiking group '{name}' feeds a connection layer; run with "
                             "record_state=True so its membrane is traced")
        return v.reshape(steps, batch, *g.shape[name])

    sources = {s: source_values(s) for s in g.sources_needed()}
    layers = {k: {"effective": 0, "dense": 0, "AC_calls": 0, "MAC_calls": 0}
              for k in g.connections}
    mac = ac = dense = 0
    for t in range(steps):
        for b0 in range(0, batch, bs):
            vals = {s: v[t, b0:b0 + bs] for s, v in sources.items()}
            n = min(bs, batch - b0)
            cache: dict = {}
            for k in g.connections:
                inp = g.value_into(k, vals, cache)
                ops = g.effective_ops(k, inp)
                spiking = bool(np.all((inp == 0) | (inp == 1) | (inp == -1)))
                if spiking:
                    ac += ops
                    layers[k]["AC_calls"] += 1
                else:
                    mac += ops
                    layers[k]["MAC_calls"] += 1
                layers[k]["effective"] += ops
                d_ops = g.dense_ops_per_sample[k] * n
                layers[k]["dense"] += d_ops
                dense += d_ops
    for v in layers.values():
        v["effective"] /= batch
        v["dense"] /= batch
    syn = {"Effective_MACs": mac / batch, "Effective_ACs": ac / batch, "Dense": dense / batch}
    synops = res.activity.synops
    return {
        **syn,
        "SynapticOperations": dict(syn),
        "ActivationSparsity": _activation_sparsity(program, res, steps, batch, bs, depths),
        "ConnectionSparsity": g.connection_sparsity(),
        "Footprint": g.footprint(),
        "layers": layers,
        "neurocc_synops": float(sum(synops.values())) / batch,
        "neurocc_synops_by_projection": {p: float(s) / batch for p, s in synops.items()},
        "samples": batch,
        "steps": steps,
        "backend": res.backend,
        "explanation": EXPLANATION,
    }


def _activation_sparsity(program, res, steps, batch, bs, depths) -> float:
    """Zero spikes / all spike slots over the spiking groups (snnTorch ``SpikingNeuron``
    layers) in the ``T`` aligned steps, averaged over batches as NeuroBench does (each batch's
    ratio weighted by its size / the number of samples). Non-spiking readouts are excluded."""
    out = 0.0
    for b0 in range(0, batch, bs):
        ones = total = 0
        for grp in program.groups:
            if not grp.spiking:
                continue
            d = depths.get(grp.name, 0)
            s = res.trace.spikes[grp.name][d:d + steps, b0:b0 + bs]
            ones += int(np.count_nonzero(s))
            total += int(s.size)
        if total:
            n = min(bs, batch - b0)
            out += ((total - ones) / total) * n / batch
    return out


def _graph_of(program, graph):
    from neurocc.compiler.frontend.nir import _load

    if graph is None:
        graph = (getattr(program, "source", None) or {}).get("nir")
        if graph is None or graph == "<NIRGraph>":
            raise ValueError("the program was not compiled from a .nir file; pass graph=")
    return _load(graph)[0]


class _Graph:
    """The flattened NIR graph: node shapes, and the linear nodes evaluated on demand."""

    def __init__(self, graph):
        from neurocc.compiler.frontend.nir import (
            LINEAR_NODES,
            NEURON_NODES,
            _flatten_graph,
            read_nir,
        )

        net = read_nir(graph)
        self.nodes, edges = _flatten_graph(graph)
        self.linear_nodes = LINEAR_NODES
        self.preds = {k: [] for k in self.nodes}
        for s, d in edges:
            self.preds[d].append(s)
        types = {k: type(v).__name__ for k, v in self.nodes.items()}
        self.types = types
        self.neurons = {k for k, t in types.items() if t in NEURON_NODES}
        inputs = sorted(k for k, t in types.items()
                        if t == "Input" and not getattr(self.nodes[k], "_nested", False))
        self.input = inputs[0]
        self.connections = sorted(k for k, t in types.items() if t in CONNECTION_NODES)
        self.shape = {self.input: tuple(net.input_shape)}
        self.shape.update({grp.name: tuple(grp.shape) for grp in net.groups})
        self.ops = {}
        self._fan: dict = {}
        self._infer_shapes(net)
        self.dense_ops_per_sample = {k: self._dense_ops(k) for k in self.connections}

    def _infer_shapes(self, net):
        """The node shapes read_nir inferred; linear nodes' ops built from them, each from
        its first input's shape (no recursion: chains of any length)."""
        self.shape.update({k: tuple(v) for k, v in net.meta["node_shapes"].items()})
        for k in self.nodes:
            if k not in self.neurons and k != self.input and self.types[k] != "Output":
                self.ops[k] = self.linear_nodes[self.types[k]](
                    self.nodes[k], self.shape[self.preds[k][0]])

    def sources_needed(self) -> set[str]:
        """The Input and neuron nodes whose outputs reach a connection layer's input."""
        out, seen = set(), set()
        stack = [p for k in self.connections for p in self.preds[k]]
        while stack:
            k = stack.pop()
            if k in seen:
                continue
            seen.add(k)
            if k == self.input or k in self.neurons:
                out.add(k)
            else:
                stack.extend(self.preds[k])
        return out

    def value_into(self, k: str, vals: dict, cache: dict) -> np.ndarray:
        """The input of node ``k`` (the sum of its predecessors' outputs) for one call:
        ``vals`` the sources' outputs, ``cache`` linear nodes' outputs computed so far."""

        def out_of(n):
            if n in vals:
                return vals[n]
            if n not in cache:
                cache[n] = self.ops[n].apply(into(n))
            return cache[n]

        def into(n):
            parts = [out_of(p) for p in self.preds[n]]
            first = parts[0].reshape(len(parts[0]), *self.shape[self.preds[n][0]])
            return sum((p.reshape(first.shape) for p in parts[1:]), first)

        return into(k)

    def _weight_nz(self, k) -> np.ndarray:
        w = np.asarray(self.nodes[k].weight, dtype=np.float32)   # the torch copy is float32
        w = w[:, :, None, :] if self.types[k] == "Conv1d" else w  # computed as height 1
        return (w != 0).astype(np.float64)

    def _conv_input(self, k) -> tuple[int, ...]:
        """The (C, H, W) a conv computes on (a Conv1d's (C, L) as (C, 1, L))."""
        return self.ops[k].view or self.shape[self.preds[k][0]]

    def _conv_args(self, k):
        c = self.ops[k].conv
        return c["stride"], c["padding"], c["dilation"], c["groups"]

    def effective_ops(self, k: str, inp: np.ndarray) -> int:
        nz = (inp != 0).astype(np.float64)
        if self.types[k] in CONV_NODES:
            stride, padding, dilation, groups = self._conv_args(k)
            sin = self._conv_input(k)
            y = conv2d(nz.reshape(len(nz), *sin), self._weight_nz(k), stride, padding,
                       dilation, groups)
            return int(round(float(y.sum())))
        if k not in self._fan:          # non-zero weights reading each input
            self._fan[k] = self._weight_nz(k).sum(axis=0)
        return int(round(float(nz.reshape(len(nz), -1).sum(axis=0) @ self._fan[k])))

    def _dense_ops(self, k) -> int:
        w = np.asarray(self.nodes[k].weight)
        if self.types[k] in CONV_NODES:
            stride, padding, dilation, groups = self._conv_args(k)
            sin = self._conv_input(k)
            y = conv2d(np.ones((1, *sin)), np.ones(self._weight_nz(k).shape), stride, padding,
                       dilation, groups)
            return int(round(float(y.sum())))
        return int(w.size)

    def connection_sparsity(self) -> float:
        zeros = total = 0
        for k in self.connections:
            w = np.asarray(self.nodes[k].weight, dtype=np.float32)
            zeros += int(np.count_nonzero(w == 0))
            total += int(w.size)
        return round(zeros / total, 4) if total else 0.0

    def footprint(self) -> int | None:
        """Bytes of parameters and buffers of the snnTorch model the NIR graph rebuilds to
        (``models/digits/model.build_from_nir``): float32 weights; a Conv2d and an Affine
        keep a bias, a Linear has none; a LIF is a ``Leaky`` with per-neuron ``beta`` and
        ``threshold`` plus ``LEAKY_SCALAR_BUFFER_BYTES``. None for any other neuron kind."""
        total = 0
        for k, node in self.nodes.items():
            t = self.types[k]
            if t in ("Affine", "Conv1d", "Conv2d"):
                w = np.asarray(node.weight)
                total += 4 * (w.size + w.shape[0])
            elif t == "Linear":
                total += 4 * np.asarray(node.weight).size
            elif t == "LIF":
                total += 4 * (np.size(node.tau) + np.size(node.v_threshold))
                total += LEAKY_SCALAR_BUFFER_BYTES
            elif k in self.neurons or t == "Scale":
                return None
        return int(total)


__all__ = ["CONNECTION_NODES", "EXPLANATION", "LEAKY_SCALAR_BUFFER_BYTES",
           "neurobench_metrics"]
