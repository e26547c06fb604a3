"""Random small networks, programs and inputs for property tests (numpy only).

Three layers of randomness, each usable on its own:

- ``random_network(rng, ...)`` — an IR ``Network``: dense, sparse and conv projections
  (incl. depthwise, pooling-like strided convs, dilation, padding), recurrent and skip
  projections, LIF / CubaLIF / IF layers, LI / CubaLI readouts, biases, and biased
  self-connected layers the input never reaches.
- ``random_program(rng, ...)`` — that network compiled by the default pipeline and then,
  with ``extreme=True``, its fixed-point numbers replaced by values chosen to hit Lava's
  quirks: du/dv ∈ {0, small, 4095}, odd raw weights (floored to Lava's grid, so mixed-sign
  layers hold only even weights), 4- and 6-bit weights, negative and positive weight
  exponents, biases with exponents, thresholds low enough for bursts, 24-bit current wraps
  and membrane saturation, and now and then inputs so large that Lava's int32 arithmetic
  wraps (``|a_in·64| ≥ 2^31``, graded dot products ``≥ 2^31``; the emulator models both).
  Graded conv sums stay below 2^31: past that Lava casts a float64 to int32 out of range,
  which is platform-dependent, not arithmetic.
- ``random_input(rng, program_or_network, steps, batch)`` — binary spike trains (or graded
  values for graded programs) of shape ``(steps, batch, *input_shape)``.

``rng`` is a ``numpy.random.Generator`` or an integer seed (hypothesis tests draw the seed
and the options).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from neurocc.compiler.ir import (
    INPUT,
    NEURON_TYPES,
    Conv,
    Dense,
    GradedInput,
    Network,
    Neurons,
    Projection,
    Sparse,
)
from neurocc.compiler.linalg import conv_out_hw
from neurocc.compiler.targets.loihi.numerics import EXCITATORY, INHIBITORY, LAVA, MIXED

if TYPE_CHECKING:
    from neurocc.compiler.targets.loihi import LoihiProgram as Program
    from neurocc.hw_configs import HardwareSpec


DT = 1e-4
SPIKING_KINDS = ("lif", "cubalif", "if")
READOUT_KINDS = ("li", "cubali")
INT32_SAFE = 2**31 - 1


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


# --------------------------------------------------------------------------- IR networks


def neurons(name: str, kind: str, shape, *, tau: float = 2e-3, r: float = 1.0,
            thr: float = 1.0, bias=0.0, tau_syn: float = 5e-4, nir_node: str | None = None
            ) -> Neurons:
    """One population of ``kind`` (``lif``, ``cubalif``, ``if``, ``li``, ``cubali``) with
    uniform parameters; the ones its type does not have are ignored."""
    shape = tuple(shape) if isinstance(shape, tuple) else (int(shape),)
    n = int(np.prod(shape))
    values = {"tau_mem": np.full(n, tau), "r": np.full(n, r), "v_leak": np.zeros(n),
              "v_threshold": np.full(n, thr), "tau_syn": np.full(n, tau_syn),
              "w_in": np.ones(n), "bias": np.broadcast_to(np.asarray(bias, float), (n,)).copy()}
    cls = NEURON_TYPES[kind]
    return cls(name=name, nir_node=nir_node or name, shape=shape,
               **{k: values[k] for k in cls.parameters()})


def _group(rng, name: str, kind: str, shape: tuple[int, ...], uniform_threshold: bool,
           bias: bool) -> Neurons:
    n = int(np.prod(shape))
    a_v = rng.choice([1.0, 0.5, 0.1, 0.02, 1 / 4096, 0.0])   # per-step membrane leak
    if kind == "if":
        tau, r = np.full(n, np.inf), np.full(n, 1.0 / DT)
    elif a_v == 0.0:                       # snnTorch beta = 1: perfect integrator
        tau, r = np.full(n, np.inf), np.full(n, np.inf)
    else:
        tau, r = np.full(n, DT / a_v), np.full(n, rng.choice([1.0, 2.0]))
    thr = float(rng.uniform(0.3, 2.0))
    th = np.full(n, thr) if uniform_threshold else thr * rng.uniform(0.5, 1.5, n)
    b = np.zeros(n)
    if bias:
        b = rng.normal(0.0, 0.3, n) * (rng.random(n) < 0.7)
    tau_syn = w_in = None
    if kind in ("cubalif", "cubali"):
        a_u = rng.choice([1.0, 0.5, 0.1, 2 / 4096])
        tau_syn, w_in = np.full(n, DT / a_u), np.ones(n)
    values = {"tau_mem": tau, "r": r, "v_leak": np.zeros(n), "v_threshold": th, "bias": b,
              "tau_syn": tau_syn, "w_in": w_in}
    cls = NEURON_TYPES[kind]
    return cls(name=name, nir_node=name, shape=tuple(shape),
               **{k: values[k] for k in cls.parameters()})


def _weights(rng, shape, density: float = 1.0) -> np.ndarray:
    w = rng.normal(0.0, 1.0, shape)
    if rng.random() < 0.2:                 # one-signed layers: excitatory or inhibitory
        w = np.abs(w) * rng.choice([-1, 1])
    if density < 1.0:
        w = w * (rng.random(shape) < density)
    return w


def _dense_or_sparse(rng, n_post: int, n_pre: int, sparse: bool) -> Dense | Sparse:
    if sparse:
        w = _weights(rng, (n_post, n_pre), density=float(rng.uniform(0.1, 0.4)))
        if not np.any(w):
            w[0, 0] = 1.0
        return Sparse.from_dense(w)
    return Dense(_weights(rng, (n_post, n_pre)))


def _conv(rng, in_shape: tuple[int, int, int], pool: bool) -> Conv | None:
    C, H, W = in_shape
    for _ in range(20):
        if pool:                           # depthwise sum-pooling: groups = C, stride = kernel
            k = int(rng.integers(2, 4))
            kernel, stride, pad, dil, groups, c_out = (k, k), (k, k), (0, 0), (1, 1), C, C
        else:
            kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
            stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
            pad = (int(rng.integers(0, 2)), int(rng.integers(0, 2)))
            dil = (int(rng.choice([1, 1, 2])),) * 2
            groups = int(rng.choice([1, C])) if C > 1 else 1
            c_out = groups * int(rng.integers(1, 3)) if groups > 1 else int(rng.integers(1, 4))
        ho, wo = conv_out_hw((H, W), kernel, stride, pad, dil)
        if ho < 1 or wo < 1:
            continue
        if pool:
            w = np.ones((c_out, 1, *kernel)) * float(rng.choice([0.25, 0.5, 1.0]))
        else:
            w = _weights(rng, (c_out, C // groups, *kernel))
        return Conv(w, (C, H, W), (c_out, ho, wo), stride, pad, dil, groups)
    return None


def random_network(rng: np.random.Generator | int, *, n_layers: int | None = None,
                   conv: bool | None = None, sparse: bool | None = None,
                   recurrent: bool | None = None, cubalif: bool | None = None,
                   readout: bool | None = None,
                   bias: bool | None = None, autonomous: bool | None = None,
                   max_neurons: int = 24) -> Network:
    """A random small network. Every option left ``None`` is drawn at random.

    ``conv``: image input ``(C, H, W)`` with conv (and sometimes pooling-like depthwise)
    layers before the dense ones; ``sparse``: some dense projections stored sparse;
    ``recurrent``: a recurrent projection on a hidden layer (and sometimes a skip
    projection); ``cubalif``: current-based hidden layers; ``readout``: a non-spiking LI or
    CubaLI output layer; ``autonomous``: a biased, self-connected layer the input never
    reaches (it runs from the first step of every sample) feeding the last hidden layer.
    """
    rng = _rng(rng)
    pick = lambda v, p=0.5: bool(rng.random() < p) if v is None else v  # noqa: E731
    conv, sparse, recurrent = pick(conv, 0.4), pick(sparse, 0.4), pick(recurrent, 0.4)
    cubalif, readout, bias = pick(cubalif, 0.4), pick(readout, 0.4), pick(bias, 0.6)
    autonomous = pick(autonomous, 0.25)
    n_layers = int(rng.integers(1, 4)) if n_layers is None else n_layers
    groups: list[Neurons] = []
    projections: list[Projection] = []
    hidden_kinds = SPIKING_KINDS if cubalif else ("lif", "if")

    def add(conn, src: str, kind: str, shape, uniform: bool) -> str:
        name = f"l{len(groups)}"
        groups.append(_group(rng, name, kind, shape, uniform, bias))
        projections.append(Projection(f"{src}->{name}".replace(INPUT, "in"), src, name, conn,
                                      (name,)))
        return name

    if conv:
        shape = (int(rng.integers(1, 3)), int(rng.integers(4, 8)), int(rng.integers(4, 8)))
        input_shape = shape
        src = INPUT
        for j in range(int(rng.integers(1, 3))):
            c = _conv(rng, shape, pool=j > 0 and rng.random() < 0.6)
            if c is None:
                break
            src = add(c, src, str(rng.choice(hidden_kinds)), c.out_shape, True)
            shape = c.out_shape
        n_prev = int(np.prod(shape))
    else:
        n_prev = int(rng.integers(2, max_neurons + 1))
        input_shape = (n_prev,)
        src = INPUT
    for _ in range(n_layers):
        n = int(rng.integers(2, max_neurons + 1))
        conn = _dense_or_sparse(rng, n, n_prev, sparse and rng.random() < 0.5)
        src = add(conn, src, str(rng.choice(hidden_kinds)), (n,), False)
        n_prev = n
    hidden = [g.name for g in groups if g.shape == (g.n,)] or [groups[-1].name]
    if recurrent:
        h = str(rng.choice(hidden))
        n = next(g.n for g in groups if g.name == h)
        projections.append(Projection(f"{h}->{h}", h, h,
                                      _dense_or_sparse(rng, n, n, sparse), (h,)))
    if autonomous:
        n = int(rng.integers(2, max_neurons + 1))
        name = f"l{len(groups)}"
        g = _group(rng, name, str(rng.choice(hidden_kinds)), (n,), False, True)
        groups.append(g.with_bias(g.bias + rng.uniform(0.5, 2.0, n)))
        projections.append(Projection(f"{name}->{name}", name, name,
                                      Dense(_weights(rng, (n, n))), (name,)))
        projections.append(Projection(f"{name}->{src}", name, src,
                                      Dense(_weights(rng, (n_prev, n))), (src,)))
    if readout:
        n = int(rng.integers(2, 11))
        kind = str(rng.choice(READOUT_KINDS if cubalif else ("li",)))
        src = add(Dense(_weights(rng, (n, n_prev))), src, kind, (n,), False)
    if recurrent and len(groups) >= 3 and rng.random() < 0.5:   # a skip projection
        a, b = groups[0], next(g for g in groups if g.name == src)
        projections.append(Projection(f"{a.name}->{b.name}.skip", a.name, b.name,
                                      Dense(_weights(rng, (b.n, a.n))), (b.name,)))
    return Network(input_shape=tuple(input_shape), groups=tuple(groups),
                   projections=tuple(projections), outputs=(src,))


# --------------------------------------------------------------------------- programs


def random_program(rng: np.random.Generator | int, *, hw: str | HardwareSpec = "loihi2",
                   reset: str | None = None, graded: bool | None = None, extreme: bool = True,
                   **network_options) -> Program:
    """A compiled random program; ``extreme`` replaces its fixed-point numbers by quirky
    ones (see the module docstring). ``reset`` and ``graded`` are drawn when ``None``."""
    from neurocc.compiler.pipeline import compile_network
    from neurocc.hw_configs import load_hw

    rng = _rng(rng)
    hw = load_hw(hw) if isinstance(hw, str) else hw
    net = random_network(rng, **network_options)
    reset = str(rng.choice(["zero", "subtract"])) if reset is None else reset
    if graded is None:                      # only where the chip has graded spikes
        graded = bool(rng.random() < 0.3) and hw.numerics.graded_spike_bits > 0
    enc = GradedInput(max=1.0) if graded else None
    prog = compile_network(net, hw=hw, reset=reset, input_encoding=enc)
    return perturb(prog, rng) if extreme else prog


def _decay(rng) -> int:
    return int(rng.choice([0, 0, int(rng.integers(1, 64)), int(rng.integers(64, 4096)),
                           4095, 4095]))


def _max_input(program, p) -> int:
    enc = program.input_encoding
    return enc.max_payload if p.src == INPUT else 1


def _abs_row_sums(conn) -> np.ndarray:
    if isinstance(conn, Conv):
        return np.full(1, float(np.abs(conn.weight).reshape(len(conn.weight), -1)
                                .sum(axis=1).max(initial=0)))
    w = np.abs(conn.to_dense()).astype(np.float64)
    return w.sum(axis=1)


def perturb(program: Program, rng: np.random.Generator | int) -> Program:
    """Replace a program's fixed-point numbers by random quirky ones (same structure)."""
    rng = _rng(rng)
    enc = program.input_encoding
    if isinstance(enc, GradedInput):  # payloads from tiny to the full width: conv and u wraps
        scale = min(2.0 ** int(rng.integers(0, enc.bits)), enc.payload_limit / enc.max)
        program = replace(program, input_encoding=replace(enc, scale=scale))
    projections = []
    for p in program.projections:
        nwb = int(rng.choice([8, 8, 8, 6, 4]))
        mode = str(rng.choice([MIXED, MIXED, EXCITATORY, INHIBITORY]))

        def fresh(w, mode=mode, nwb=nwb):
            raw = rng.integers(-256, 256, np.shape(w)) * (np.asarray(w) != 0)
            if mode == EXCITATORY:
                raw = np.abs(raw)
            elif mode == INHIBITORY:
                raw = -np.abs(raw)
            return LAVA.lava_weights(raw, mode, nwb)

        conn = p.conn.map_weights(fresh)
        xmax = _max_input(program, p)
        sums = _abs_row_sums(conn) * xmax
        peak = float(sums.max(initial=0))
        if isinstance(conn, Conv) and peak >= INT32_SAFE // 2:   # see the module docstring
            factor = int(peak // (INT32_SAFE // 2)) + 1
            conn = conn.map_weights(lambda w, f=factor, mode=mode, nwb=nwb:
                                    LAVA.lava_weights(np.asarray(w) // f, mode, nwb))
            sums = _abs_row_sums(conn) * xmax
            peak = float(sums.max(initial=0))
        # Exponent: mostly one that keeps |a_in · 64| (summed over every projection into the
        # group, bounded below) inside int32; sometimes anything up to 7.
        e_hi = 7
        if peak > 0 and rng.random() < 0.8:
            e_hi = min(7, int(math.floor(math.log2(INT32_SAFE / 4 / 64 / peak))))
        e = int(rng.integers(-8, max(e_hi, -8) + 1))
        if isinstance(conn, Conv):
            e = int(rng.integers(-3, 4))         # Lava's Conv (and the emulator) ignore it
        projections.append(replace(p, conn=conn, weight_exp=e, sign_mode=mode,
                                   num_weight_bits=nwb))
    groups = []
    for g in program.groups:
        incoming = [p for p in projections if p.dst == g.name]  # the perturbed ones
        drive = sum(float(_abs_row_sums(p.conn).max(initial=0)) * _max_input(program, p)
                    * 2.0 ** max(p.weight_exp if not isinstance(p.conn, Conv) else 0, 0)
                    for p in incoming)
        # Thresholds log-uniform between 1/300 of the worst-case drive and the drive itself:
        # from bursting to rarely firing.
        d = max(drive, 1.0)
        vth = int(np.clip(np.exp(rng.uniform(np.log(d / 300), np.log(d))), 1, 2**17 - 1))
        if rng.random() < 0.3:
            vth = int(rng.integers(1, 2**17))
        bias_exp = int(rng.integers(-2, 8))
        bias = rng.integers(-4096, 4096, g.n) * (rng.random(g.n) < 0.5)
        groups.append(replace(g, du=_decay(rng), dv=_decay(rng),
                              vth=vth if g.spiking else g.vth,
                              bias_mant=bias.astype(np.int64), bias_exp=bias_exp))
    return replace(program, groups=tuple(groups), projections=tuple(projections))


# --------------------------------------------------------------------------- inputs


def random_input(rng: np.random.Generator | int, program_or_network: Program | Network,
                 steps: int, batch: int,
                 rate: float | None = None) -> np.ndarray:
    """Input ``(steps, batch, *input_shape)``: 0/1 spikes at a random rate, or for a graded
    program values in ``[-max, max]`` (some exactly 0)."""
    rng = _rng(rng)
    shape = tuple(program_or_network.input_shape)
    enc = getattr(program_or_network, "input_encoding", None)
    rate = float(rng.uniform(0.05, 0.6)) if rate is None else rate
    active = rng.random((steps, batch, *shape)) < rate
    if isinstance(enc, GradedInput):
        return rng.uniform(-enc.max, enc.max, active.shape) * active
    return active.astype(np.uint8)


__all__ = ["neurons", "random_network", "random_program", "perturb", "random_input"]
