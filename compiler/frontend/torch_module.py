"""snnTorch ``nn.Module`` → NIR, read from the module itself.

snnTorch's own exporter (``snntorch.export_nir.export_to_nir``, snnTorch 1.0) fails on an
ordinary network: it writes neuron nodes without shapes, so nir's type check refuses the
graph, and it drops the reset rule, which NIR cannot express. This reader walks the module,
takes every shape from a ``sample`` input, broadcasts scalar ``beta``/``threshold`` to the
layer, folds ``BatchNorm`` into the layer before it, skips ``Dropout``, and returns the reset
rule the neurons use, so the chip computes what snnTorch computes.

The conversions are snnTorch's own (its exporter, ``dt = 1e-4``): ``beta = 1 − dt/tau_mem``,
``r = tau_mem/dt``; ``alpha = 1 − dt/tau_syn``, ``w_in = tau_syn/dt``.

What is read (anything else is refused, naming the layer, the reason and the way out):
``nn.Sequential`` (nested ones are flattened) of ``Linear``, ``Conv1d``, ``Conv2d``,
``AvgPool1d``/``AvgPool2d``, ``Flatten``, ``Dropout``, ``Identity``,
``BatchNorm1d``/``BatchNorm2d`` (after a Linear or Conv), ``snn.Leaky``, ``snn.Synaptic``,
``snn.RLeaky`` and ``snn.RSynaptic`` (the recurrent connection becomes a projection of the
layer onto itself), with ``reset_mechanism`` "zero" or "subtract" (one rule for the whole
model); ``MaxPool1d``/``MaxPool2d`` right after a neuron layer becomes an OR population (see
``module_to_nir``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurocc.api.errors import UnsupportedError

DT = 1e-4
"""snnTorch's NIR time step: the conversions above use it, and compiling with the same dt
gives back exactly snnTorch's beta and alpha."""

RESETS = {"zero": "zero", "subtract": "subtract"}
"""snnTorch ``reset_mechanism`` → neurocc reset rule."""


@dataclass(frozen=True)
class ModuleInfo:
    """What the module says that NIR cannot: the reset rule, and which layer is which."""

    reset: str
    dt: float
    layers: tuple[tuple[str, str], ...]   # (NIR node, torch layer type) in order


def _leaves(module) -> list:
    import torch

    if isinstance(module, torch.nn.Sequential):
        out = []
        for m in module:
            out.extend(_leaves(m))
        return out
    return [module]


def _np(t) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _refuse(i: int, m, reason: str, way_out: str):
    raise UnsupportedError(f"layer {i} ({type(m).__name__}): {reason}; {way_out}")


def _conv_bias(i: int, m, shape: tuple, axes: str) -> np.ndarray:
    """A ``Conv1d``/``Conv2d``'s bias (zeros without one), once its padding mode and its
    input's rank (``axes``, e.g. "C, L") are ones neurocc reads."""
    if m.padding_mode != "zeros":
        _refuse(i, m, f"padding_mode={m.padding_mode!r}", "use zero padding")
    if len(shape) != len(axes.split(",")):
        _refuse(i, m, f"expects a ({axes}) input, receives {shape}",
                f"give sample= with shape (B, {axes})")
    return _np(m.bias) if m.bias is not None else np.zeros(m.out_channels)


def _check_neuron(i: int, m) -> str:

    if getattr(m, "inhibition", False):
        _refuse(i, m, "inhibition=True (winner-take-all) has no Loihi LIF equivalent",
                "train without it")
    if getattr(m, "state_quant", False):
        _refuse(i, m, "state_quant is a training-time quantizer", "drop it for deployment: "
                "neurocc quantizes for the chip itself")
    gsf = getattr(m, "graded_spikes_factor", 1.0)
    if float(np.max(np.abs(_np(torch_tensor(gsf)) - 1.0))) > 0:
        _refuse(i, m, "graded_spikes_factor != 1", "use binary spikes (factor 1)")
    mech = m.reset_mechanism
    if mech not in RESETS:
        _refuse(i, m, f"reset_mechanism={mech!r} is not supported (the chip resets the "
                "membrane to zero or subtracts the threshold)", "use 'zero' or 'subtract'")
    delay = bool(getattr(m, "reset_delay", True))
    if mech == "subtract" and not delay:
        _refuse(i, m, "reset_delay=False subtracts a threshold that then decays; neurocc's "
                "subtractive reset is snnTorch's default (reset_delay=True: subtracted "
                "undecayed one step later)", "train with reset_delay=True")
    if mech == "zero" and delay and type(m).__name__ in ("Synaptic", "RLeaky", "RSynaptic"):
        _refuse(i, m, "reset_mechanism='zero' with reset_delay=True holds the membrane at zero "
                "for the step after a spike, discarding that step's current; a Loihi LIF "
                "resets at once and integrates the next step", "train with reset_delay=False "
                "(reset at once), or with reset_mechanism='subtract'")
    return RESETS[mech]


def torch_tensor(v):
    import torch

    return v if isinstance(v, torch.Tensor) else torch.as_tensor(v, dtype=torch.float64)


def _per_neuron(i, m, name: str, value, shape: tuple[int, ...]) -> np.ndarray:
    a = _np(torch_tensor(value))
    try:
        return np.broadcast_to(a, shape).astype(np.float64).copy()
    except ValueError:
        _refuse(i, m, f"{name} of shape {a.shape} does not broadcast to the layer's shape "
                f"{shape}", "give a scalar or a tensor of the layer's shape")


def _decay_to_tau(i, m, name: str, x: np.ndarray) -> np.ndarray:
    if np.any((x < 0) | (x > 1)):
        _refuse(i, m, f"{name} outside [0, 1] (min {x.min():.3g}, max {x.max():.3g})",
                f"clamp {name} to [0, 1] (snnTorch does so in its forward pass)")
    with np.errstate(divide="ignore"):
        return np.where(x >= 1.0, np.inf, DT / (1.0 - x))


def module_to_nir(module, sample) -> tuple[object, ModuleInfo]:
    """Read ``module`` (an snnTorch ``nn.Sequential``) into a ``nir.NIRGraph``; ``sample``
    is an input batch ``(B, *input_shape)`` giving the shapes (a 1-D sample is one input)."""
    import nir
    import snntorch as snn
    import torch

    if sample is None:
        raise UnsupportedError("compile(model): an nn.Module needs sample=, one input batch "
                               "(B, *input_shape), to know the shapes")
    if not isinstance(module, torch.nn.Sequential):
        module, sample = traced_chain(module, sample)
    x = torch.as_tensor(sample, dtype=torch.float32)
    if x.dim() == 1:
        x = x[None]
    layers = _leaves(module)
    first_shape = shape = tuple(int(d) for d in x.shape[1:])
    nodes: dict = {}
    order: list[str] = []
    kinds: list[tuple[str, str]] = []
    resets: dict[str, list[int]] = {}
    loops: list[tuple[str, str]] = []

    def add(name, node):
        nodes[name] = node
        order.append(name)

    module.eval()
    for i, m in enumerate(layers):
        name = f"{i}_{type(m).__name__.lower()}"
        if isinstance(m, (torch.nn.Dropout, torch.nn.Identity)):
            continue                                        # identity at inference
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            prev = nodes.get(order[-1]) if order else None
            if not isinstance(prev, (nir.Affine, nir.Conv2d, nir.Conv1d)):
                _refuse(i, m, "BatchNorm is folded into the Linear or Conv before it, and "
                        "there is none", "put BatchNorm right after a Linear, Conv1d or Conv2d")
            if m.running_mean is None:
                _refuse(i, m, "no running statistics (track_running_stats=False)",
                        "train with running statistics or fold the normalisation yourself")
            gain = _np(m.weight) if m.affine else np.ones(m.num_features)
            shift = _np(m.bias) if m.affine else np.zeros(m.num_features)
            s = gain / np.sqrt(_np(m.running_var) + m.eps)
            w = prev.weight * s.reshape((-1,) + (1,) * (prev.weight.ndim - 1))
            b = (prev.bias - _np(m.running_mean)) * s + shift
            if isinstance(prev, nir.Affine):
                nodes[order[-1]] = nir.Affine(weight=w, bias=b)
            elif isinstance(prev, nir.Conv1d):
                nodes[order[-1]] = nir.Conv1d(input_shape=prev.input_shape, weight=w,
                                              stride=prev.stride, padding=prev.padding,
                                              dilation=prev.dilation, groups=prev.groups,
                                              bias=b)
            else:
                nodes[order[-1]] = nir.Conv2d(input_shape=prev.input_shape, weight=w,
                                              stride=prev.stride, padding=prev.padding,
                                              dilation=prev.dilation, groups=prev.groups,
                                              bias=b)
            kinds[-1] = (order[-1], f"{kinds[-1][1]}+{type(m).__name__}")
            continue
        if isinstance(m, torch.nn.Linear):
            w = _np(m.weight)
            add(name, nir.Affine(weight=w, bias=_np(m.bias)) if m.bias is not None
                else nir.Affine(weight=w, bias=np.zeros(w.shape[0])))
            shape = (m.out_features,)
        elif isinstance(m, torch.nn.Conv2d):
            b = _conv_bias(i, m, shape, "C, H, W")
            add(name, nir.Conv2d(input_shape=shape[1:], weight=_np(m.weight), stride=m.stride,
                                 padding=m.padding, dilation=m.dilation, groups=m.groups,
                                 bias=b))
            with torch.no_grad():
                shape = tuple(m(torch.zeros(1, *shape)).shape[1:])
        elif isinstance(m, torch.nn.Conv1d):
            b = _conv_bias(i, m, shape, "C, L")
            padding = m.padding if isinstance(m.padding, str) else int(m.padding[0])
            add(name, nir.Conv1d(input_shape=shape[1], weight=_np(m.weight),
                                 stride=int(m.stride[0]), padding=padding,
                                 dilation=int(m.dilation[0]), groups=m.groups, bias=b))
            with torch.no_grad():
                shape = tuple(m(torch.zeros(1, *shape)).shape[1:])
        elif isinstance(m, torch.nn.AvgPool1d):
            # a depthwise Conv1d of 1/k: the chip's shared-kernel connection
            k, stride, pad = _pool1d(m)
            if m.ceil_mode or (not m.count_include_pad and pad):
                _refuse(i, m, "ceil_mode or count_include_pad=False with padding change the "
                        "average's divisor per window",
                        "use AvgPool1d(kernel, stride, padding) with the defaults")
            if len(shape) != 2:
                _refuse(i, m, f"expects a (C, L) input, receives {shape}",
                        "give sample= with shape (B, C, L)")
            c = shape[0]
            add(name, nir.Conv1d(input_shape=shape[1], weight=np.full((c, 1, k), 1.0 / k),
                                 stride=stride, padding=pad, dilation=1, groups=c,
                                 bias=np.zeros(c)))
            with torch.no_grad():
                shape = tuple(m(torch.zeros(1, *shape)).shape[1:])
        elif isinstance(m, torch.nn.AvgPool2d):
            if m.ceil_mode or m.divisor_override is not None or (
                    not m.count_include_pad and m.padding not in (0, (0, 0))):
                _refuse(i, m, "ceil_mode, divisor_override or count_include_pad=False with "
                        "padding change the average's divisor per window",
                        "use AvgPool2d(kernel, stride, padding) with the defaults")
            stride = m.stride if m.stride is not None else m.kernel_size
            add(name, nir.AvgPool2d(kernel_size=np.array(_pair(m.kernel_size)),
                                    stride=np.array(_pair(stride)),
                                    padding=np.array(_pair(m.padding))))
            with torch.no_grad():
                shape = tuple(m(torch.zeros(1, *shape)).shape[1:])
        elif isinstance(m, (torch.nn.MaxPool2d, torch.nn.MaxPool1d)):
            # Over binary spikes a max is an OR: a population of memoryless neurons (tau = dt,
            # threshold 0.25), each fed with weight 1 by its window (a depthwise conv of ones),
            # fires exactly when one of its inputs did. It costs one more population and one
            # more step of latency; the hop-depth shift absorbs the step, so the spikes equal
            # snnTorch's max pool (threshold 0.25, not 0.5: under subtractive reset a neuron that
            # spiked holds v = I − 0.25 the next step, still above it). Over anything but
            # spikes it would not be a max.
            prev = nodes.get(order[-1]) if order else None
            if not isinstance(prev, (nir.LIF, nir.CubaLIF)):
                _refuse(i, m, "max pooling is built from spiking neurons as an OR over binary "
                        "spikes, and this one pools non-spike values",
                        f"put {type(m).__name__} right after a Leaky or Synaptic layer, or use "
                        f"Avg{type(m).__name__[3:]}")
            one_d = isinstance(m, torch.nn.MaxPool1d)
            if m.ceil_mode or m.return_indices or _pair(m.dilation) != (1, 1) or \
                    len(shape) != (2 if one_d else 3):
                _refuse(i, m, "ceil_mode, return_indices, dilation or a non-"
                        + ("(C, L)" if one_d else "(C, H, W)") + " input",
                        f"use {type(m).__name__}(kernel, stride, padding) after a conv layer")
            channels = shape[0]
            if one_d:
                k, stride, pad = _pool1d(m)
                add(name, nir.Conv1d(input_shape=shape[1], weight=np.ones((channels, 1, k)),
                                     stride=stride, padding=pad, dilation=1, groups=channels,
                                     bias=np.zeros(channels)))
            else:
                k, stride = _pair(m.kernel_size), _pair(m.stride or m.kernel_size)
                add(name, nir.Conv2d(input_shape=shape[1:], weight=np.ones((channels, 1, *k)),
                                     stride=stride, padding=_pair(m.padding), dilation=(1, 1),
                                     groups=channels, bias=np.zeros(channels)))
            with torch.no_grad():
                shape = tuple(m(torch.zeros(1, *shape)).shape[1:])
            add(f"{name}_or", nir.LIF(tau=np.full(shape, DT), r=np.ones(shape),
                                      v_leak=np.zeros(shape), v_threshold=np.full(shape, 0.25)))

        elif isinstance(m, torch.nn.Flatten):
            if m.start_dim != 1 or m.end_dim != -1:
                _refuse(i, m, f"start_dim={m.start_dim}, end_dim={m.end_dim}",
                        "flatten everything but the batch (Flatten())")
            add(name, nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0))
            shape = (int(np.prod(shape)),)
        elif isinstance(m, (snn.Leaky, snn.Synaptic, snn.RLeaky, snn.RSynaptic)):
            reset = _check_neuron(i, m)
            resets.setdefault(reset, []).append(i)
            beta = _per_neuron(i, m, "beta", m.beta, shape)
            thr = _per_neuron(i, m, "threshold", m.threshold, shape)
            tau = _decay_to_tau(i, m, "beta", beta)
            r = np.where(np.isinf(tau), np.inf, tau / DT)
            zeros = np.zeros(shape)
            if isinstance(m, (snn.Synaptic, snn.RSynaptic)):
                alpha = _per_neuron(i, m, "alpha", m.alpha, shape)
                tau_syn = _decay_to_tau(i, m, "alpha", alpha)
                if np.any(np.isinf(tau_syn)):
                    _refuse(i, m, "alpha = 1 (a current that never decays)",
                            "use alpha < 1")
                add(name, nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau, r=r, v_leak=zeros,
                                      v_threshold=thr, w_in=tau_syn / DT))
            else:
                add(name, nir.LIF(tau=tau, r=r, v_leak=zeros, v_threshold=thr))
            if isinstance(m, (snn.RLeaky, snn.RSynaptic)):
                # the recurrent term W·spk(t−1) (+ its bias) is a projection of the layer
                # onto itself, which the chip delays by exactly the one step snnTorch uses
                rec = f"{name}_recurrent"
                nodes[rec] = _recurrent(i, m, shape)
                loops.extend([(name, rec), (rec, name)])
        else:
            _refuse(i, m, "this layer type is not read", "see the README's table of snnTorch "
                    "layers for what compiles")
        kinds.append((name, type(m).__name__))
    if len(resets) > 1:
        where = "; ".join(f"{r}: layers {', '.join(map(str, ix))}" for r, ix in resets.items())
        raise UnsupportedError(f"model mixes reset rules ({where}); neurocc compiles one rule "
                               "per model: train with one reset_mechanism")
    if not resets:
        raise UnsupportedError("model has no snnTorch neuron layer (Leaky, Synaptic); add "
                               "snn.Leaky or snn.Synaptic after the last layer")
    if not isinstance(nodes[order[-1]], (nir.LIF, nir.CubaLIF)):
        raise UnsupportedError(f"model ends with {kinds[-1][1]}, not a neuron layer: the "
                               "chip's outputs are spikes; end with snn.Leaky or snn.Synaptic")
    nodes = {"input": nir.Input(input_type={"input": np.array(first_shape)}), **nodes,
             "output": nir.Output(output_type={"output": np.array(shape)})}
    chain = ["input", *order, "output"]
    # nir 1.0's type inference takes a grouped Conv2d's input channels from the kernel
    # (C_in / groups) and refuses the graph; every shape here comes from torch itself, and
    # read_nir checks them again.
    grouped = any(isinstance(n, (nir.Conv2d, nir.Conv1d)) and n.groups > 1
                  for n in nodes.values())
    graph = nir.NIRGraph(nodes=nodes, edges=list(zip(chain, chain[1:])) + loops,
                         type_check=not grouped and not loops)
    return graph, ModuleInfo(reset=next(iter(resets)), dt=DT, layers=tuple(kinds))


def traced_chain(module, sample):
    """A module with its own ``forward`` (snnTorch's explicit-state style: ``spk, mem =
    self.lif1(self.fc1(x), mem)`` in a loop over steps) as the ``nn.Sequential`` it computes,
    and the per-step input it gives the first layer.

    ``forward(sample)`` runs once under hooks on every layer (an snnTorch neuron counts as one
    layer, its recurrent weights inside it). The layers called in the first time step, in
    order, are the chain; it is accepted only if every layer receives exactly what the one
    before it returned (the spikes, for a neuron), or a reshape of it (read as a Flatten), and
    every step calls the same layers. Anything else — a skip connection, arithmetic between
    layers, a layer called twice in a step — is refused: its graph is not a chain."""
    import snntorch as snn
    import torch

    name = type(module).__name__
    way_out = ("write the layers as an nn.Sequential (init_hidden=True neurons), or export "
               "the graph yourself (snntorch.export_nir.export_to_nir) and pass the NIRGraph")
    layers: list = []

    def collect(m):
        if isinstance(m, snn.SpikingNeuron) or not list(m.children()):
            layers.append(m)
        else:
            for c in m.children():
                collect(c)

    for c in module.children():      # the module itself is the graph, not a layer
        collect(c)
    calls: list = []
    hooks = [m.register_forward_hook(lambda m, i, o: calls.append((m, i, o))) for m in layers]
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(torch.as_tensor(sample, dtype=torch.float32))
    except Exception as e:
        raise UnsupportedError(
            f"model {name}: forward(sample) failed ({type(e).__name__}: "
            f"{(str(e).splitlines() or ['no detail'])[0]}); give sample= as forward() "
            "expects it") from None
    finally:
        for h in hooks:
            h.remove()
        module.train(was_training)
    if not calls:
        raise UnsupportedError(f"model {name}: forward(sample) calls no layer; {way_out}")
    step, seen = [], set()
    for m, _, _ in calls:
        if id(m) in seen:
            break
        seen.add(id(m))
        step.append(m)
    if len(calls) % len(step) or any(
            calls[k][0] is not step[k % len(step)] for k in range(len(calls))):
        raise UnsupportedError(
            f"model {name}: its forward does not call the same layers in the same order "
            f"every step ({len(calls)} calls of {len(step)} layers); {way_out}")

    def output(o):
        return o[0] if isinstance(o, tuple) else o

    chain = [step[0]]
    first_input = calls[0][1][0]
    for k in range(1, len(step)):
        m, inp, _ = calls[k]
        got = inp[0] if inp else None
        prev = output(calls[k - 1][2])
        if got is prev:
            chain.append(m)
        elif (isinstance(got, torch.Tensor) and got.numel() == prev.numel()
              and got.data_ptr() == prev.data_ptr() and got.shape[0] == prev.shape[0]):
            chain.extend([torch.nn.Flatten(), m])     # x.view(B, -1) between two layers
        else:
            raise UnsupportedError(
                f"model {name}: layer {type(m).__name__} (call {k} of a step) does not receive "
                f"what {type(calls[k - 1][0]).__name__} before it returned; neurocc reads a "
                f"forward that chains its layers; {way_out}")
    return torch.nn.Sequential(*chain), torch.zeros(1, *first_input.shape[1:])


def _recurrent(i: int, m, shape: tuple[int, ...]):
    """The NIR node of an RLeaky/RSynaptic layer's recurrent connection."""
    import nir
    import torch

    rec = m.recurrent
    n = int(np.prod(shape))
    if isinstance(rec, torch.nn.Linear):
        b = _np(rec.bias) if rec.bias is not None else np.zeros(rec.out_features)
        return nir.Affine(weight=_np(rec.weight), bias=b)
    if isinstance(rec, torch.nn.Conv2d):
        with torch.no_grad():
            out = tuple(rec(torch.zeros(1, *shape)).shape[1:])
        if out != tuple(shape):
            _refuse(i, m, f"its recurrent Conv2d maps {shape} to {out}",
                    "use a recurrent kernel that keeps the shape (odd kernel, same padding)")
        b = _np(rec.bias) if rec.bias is not None else np.zeros(rec.out_channels)
        return nir.Conv2d(input_shape=shape[1:], weight=_np(rec.weight), stride=rec.stride,
                          padding=rec.padding, dilation=rec.dilation, groups=rec.groups, bias=b)
    v = getattr(rec, "V", None)
    if v is None:
        _refuse(i, m, f"recurrent module {type(rec).__name__} is not read",
                "use all_to_all with linear_features or conv2d_channels, or a one-to-one V")
    if n > 4096:
        _refuse(i, m, f"a one-to-one recurrent V on {n} neurons would be stored as an {n}×{n} "
                "matrix", "use a layer of at most 4,096 neurons")
    diag = np.broadcast_to(_np(torch_tensor(v)).ravel() if np.size(_np(torch_tensor(v))) > 1
                           else _np(torch_tensor(v)).reshape(1), (n,))
    return nir.Affine(weight=np.diag(diag), bias=np.zeros(n))


def _pool1d(m) -> tuple[int, int, int]:
    """A 1-D pooling layer's (kernel, stride, padding) as numbers (stride None: the kernel)."""
    return tuple(int(np.ravel(v)[0]) for v in (m.kernel_size, m.stride or m.kernel_size,
                                               m.padding))


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


__all__ = ["DT", "ModuleInfo", "module_to_nir", "traced_chain"]
