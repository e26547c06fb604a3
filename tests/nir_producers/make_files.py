"""Writes the producer test files of ``tests/test_nir_producers.py``.

Run once per producer, each in its own virtualenv (see VERSIONS.md)::

    python make_files.py norse|sinabs|rockpool|spikingjelly|spyx|snntorch

For every network it writes, next to this script:

* ``<producer>_<net>.nir``: written by the producer's OWN exporter;
* ``<producer>_<net>.npz``: what the producer's OWN simulator does on a fixed input:

  - ``x``        (T, B, *input_shape) uint8: the input spikes, time first;
  - ``spikes``   (T + PAD, B, n_out) uint8: the producer's output spikes per step when the
                 input is ``x`` followed by PAD all-zero steps;
  - ``delay``    int: the producer's own output latency in steps — how many steps after
                 snnTorch-style "charge, then fire in the same step" semantics its output
                 appears (Spyx's neurons fire on the previous step's membrane: one step per
                 layer, 2 here); 0 for every other producer;
  - ``counts``   (B, n_out): ``spikes[delay:delay + T].sum(0)``, the producer's spike count of
                 each output neuron for the T input steps;
  - ``producer``, ``version``, ``net``, ``notes``: strings, for the record.

Everything is seeded; re-running a producer rewrites its files with the same content (the
.npz byte for byte in content; the .nir may list its edges in another order, as nirtorch
builds them from a set).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
T, B, PAD = 40, 4, 4          # input steps, batch, zero steps appended for the producer run
MLP_IN, MLP_HID, MLP_OUT = 8, 6, 3
CONV_IN = (1, 6, 6)           # (C, H, W)


def mlp_input(seed=0, rate=0.3):
    return (np.random.default_rng(seed).random((T, B, MLP_IN)) < rate).astype(np.uint8)


def conv_input(seed=1, rate=0.3):
    return (np.random.default_rng(seed).random((T, B, *CONV_IN)) < rate).astype(np.uint8)


def padded(x):
    return np.concatenate([x, np.zeros((PAD, *x.shape[1:]), x.dtype)]).astype(np.float32)


def write_graph(path, graph):
    """``nir.write``; its default gzip compression fails on 0-d (scalar) parameters with h5py
    ("Scalar datasets don't support chunk/filter options"), so those graphs are written
    uncompressed."""
    import nir

    try:
        nir.write(path, graph)
    except TypeError as e:
        if "Scalar datasets" not in str(e):
            raise
        print(f"  nir.write: {e}; writing uncompressed")
        nir.write(path, graph, compression=None)


def save(producer, version, net, write_nir, x, spikes, delay=0, notes=""):
    """``write_nir(path)`` writes the .nir file with the producer's exporter."""
    stem = HERE / f"{producer}_{net}"
    try:
        write_nir(str(stem) + ".nir")
    except Exception as e:
        Path(str(stem) + ".nir").unlink(missing_ok=True)
        print(f"{stem.name}: EXPORT FAILED, nothing written: {type(e).__name__}: {e}")
        return
    spikes = np.asarray(spikes)
    assert spikes.shape[:2] == (T + PAD, B), spikes.shape
    spikes = spikes.reshape(T + PAD, B, -1)
    if np.any((spikes != 0) & (spikes != 1)):
        raise SystemExit(f"{stem.name}: the producer emitted several spikes in one step")
    counts = spikes[delay:delay + T].sum(0)
    np.savez_compressed(str(stem) + ".npz", x=x.astype(np.uint8), spikes=spikes.astype(np.uint8),
                        delay=np.int64(delay), counts=counts.astype(np.int64),
                        producer=producer, version=version, net=net, notes=notes)
    size = Path(str(stem) + ".nir").stat().st_size
    print(f"{stem.name}: .nir {size} B, output spikes {int(counts.sum())} "
          f"(per neuron {counts.sum(0).tolist()}), delay {delay}")
    assert counts.sum() > 0, f"{stem.name}: no output activity; raise the weights"


# --------------------------------------------------------------------------- norse


def norse():
    import norse.torch as nt
    import torch
    from norse import __version__

    def build(cell, conv=False):
        # LIFBoxCell scales its input by dt/tau_mem = 0.1 each step: larger weights.
        gain = 4.0 if cell is nt.LIFCell else 25.0
        torch.manual_seed(0)
        if conv == "flatten":    # Norse's exporter has no Flatten: this one fails
            net = nt.SequentialState(
                torch.nn.Conv2d(1, 4, 3, padding=1), cell(), torch.nn.Flatten(),
                torch.nn.Linear(4 * 36, MLP_OUT), cell())
        elif conv:               # conv -> conv: 2 x 3 x 3 outputs
            net = nt.SequentialState(
                torch.nn.Conv2d(1, 4, 3, padding=1), cell(),
                torch.nn.Conv2d(4, 2, 3, stride=2, padding=1), cell())
        else:
            net = nt.SequentialState(torch.nn.Linear(MLP_IN, MLP_HID), cell(),
                                     torch.nn.Linear(MLP_HID, MLP_OUT), cell())
        for m in net:
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                m.weight.data *= gain
        return net

    def simulate(net, x):
        state, out = None, []
        with torch.no_grad():
            for t in range(len(x)):
                z, state = net(torch.as_tensor(x[t]), state)
                out.append(z.numpy().copy())
        return np.stack(out)

    # LIFCell (Norse's default neuron, exported as CubaLIF) adds the input to the current
    # before the membrane update (norse.torch.functional.lif.lif_feed_forward_step:
    # i_new = i + input; v += dt/tau_mem (v_leak - v + i_new); then i decays), so no delay.
    for name, cell, conv, delay in [("mlp_lif", nt.LIFCell, False, 0),
                                    ("mlp_lifbox", nt.LIFBoxCell, False, 0),
                                    ("conv_lifbox", nt.LIFBoxCell, True, 0),
                                    ("convflat_lifbox", nt.LIFBoxCell, "flatten", 0)]:
        net = build(cell, conv)
        x = conv_input() if conv else mlp_input()
        sample = torch.zeros(1, *CONV_IN) if conv else torch.zeros(1, MLP_IN)
        spikes = simulate(net, padded(x))
        graph = nt.to_nir(net, sample)     # dt defaults to 0.001, as in Norse's simulation

        def write(path, graph=graph):
            write_graph(path, graph)

        save("norse", __version__, name, write, x, spikes, delay,
             notes=f"norse.torch.to_nir(SequentialState({cell.__name__}...), dt=0.001)")


# --------------------------------------------------------------------------- sinabs


def sinabs():
    import sinabs as sb
    import sinabs.layers as sl
    import torch
    from sinabs.activation import SingleSpike

    # Sinabs' layers default to MultiSpike (several spikes per step), which no NIR neuron
    # expresses; SingleSpike (a documented option) keeps the comparison meaningful.
    n = T + PAD

    def mlp(neuron, gain=2.0):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(MLP_IN, MLP_HID), neuron(),
                                  torch.nn.Linear(MLP_HID, MLP_OUT), neuron())
        for m in net:
            if isinstance(m, torch.nn.Linear):
                m.weight.data *= gain
        return net

    def conv():
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1, bias=False),
            sl.IAFSqueeze(num_timesteps=n, spike_fn=SingleSpike),
            sl.SumPool2d(2), torch.nn.Flatten(), torch.nn.Linear(4 * 9, MLP_OUT, bias=False),
            sl.IAFSqueeze(num_timesteps=n, spike_fn=SingleSpike))
        net[0].weight.data *= 2.0
        return net

    def simulate(net, x):
        # Squeeze layers take (batch·time, ...), batch-major.
        xt = torch.as_tensor(np.swapaxes(x, 0, 1).reshape(B * n, *x.shape[2:]))
        for m in net:
            if hasattr(m, "reset_states"):
                m.reset_states()
        with torch.no_grad():
            out = net(xt).numpy()
        return np.swapaxes(out.reshape(B, n, -1), 0, 1)

    nets = [
        ("mlp_iaf", lambda: mlp(lambda: sl.IAFSqueeze(num_timesteps=n, spike_fn=SingleSpike)),
         mlp_input(), (n, MLP_IN)),
        # LIF's norm_input=True scales the input by 1 - exp(-1/tau_mem) = 0.18: larger gain.
        ("mlp_lif", lambda: mlp(lambda: sl.LIFSqueeze(tau_mem=5.0, num_timesteps=n,
                                                       spike_fn=SingleSpike), gain=14.0),
         mlp_input(), (n, MLP_IN)),
        ("conv_iaf", conv, conv_input(), (n, *CONV_IN)),
    ]
    for name, build, x, sample_shape in nets:
        net = build()
        spikes = simulate(net, padded(x))
        for m in net:
            if hasattr(m, "reset_states"):
                m.reset_states()
        # One sample of n time steps (batch·time = n): sinabs.to_nir drops dim 0.
        graph = sb.to_nir(net, torch.zeros(sample_shape))

        def write(path, graph=graph):
            write_graph(path, graph)

        save("sinabs", sb.__version__, name, write, x, spikes, 0,
             notes="sinabs.to_nir(net, sample); SingleSpike, MembraneSubtract (default reset)")


# --------------------------------------------------------------------------- rockpool


def rockpool():
    import rockpool as rp
    import torch
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFNeuronTorch, LIFTorch, LinearTorch
    from rockpool.nn.modules.torch.nir import to_nir

    # Rockpool's LIFTorch defaults to up to 2**16 spikes per step; max_spikes_per_dt=1 makes it
    # a binary spiking neuron (a documented option). Rockpool exports no convolution.
    def build(neuron):
        torch.manual_seed(0)
        net = Sequential(LinearTorch((MLP_IN, MLP_HID)), neuron(MLP_HID),
                         LinearTorch((MLP_HID, MLP_OUT)), neuron(MLP_OUT))
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, LinearTorch):
                    m.weight.data *= 0.5
        return net

    nets = [("mlp_lif", lambda k: LIFTorch(k, max_spikes_per_dt=1)),
            ("mlp_lifneuron", lambda k: LIFNeuronTorch(k, max_spikes_per_dt=1))]
    for name, neuron in nets:
        net = build(neuron)
        x = mlp_input()
        net.reset_state()
        with torch.no_grad():
            out, _, _ = net(torch.as_tensor(np.swapaxes(padded(x), 0, 1)))   # (B, T, n)
        spikes = np.swapaxes(out.numpy(), 0, 1)
        net.reset_state()
        graph = to_nir(net, torch.zeros(1, MLP_IN))

        def write(path, graph=graph):
            write_graph(path, graph)

        save("rockpool", rp.__version__, name, write, x, spikes, 0,
             notes=f"rockpool.nn.modules.torch.nir.to_nir; dt = {net[1].dt} s")


# --------------------------------------------------------------------------- spikingjelly


def spikingjelly():
    import spikingjelly
    import torch
    from spikingjelly.activation_based import functional, neuron

    try:
        from spikingjelly.activation_based.nir_exchange import export_to_nir
    except ImportError as e:
        raise SystemExit(f"spikingjelly has no NIR exporter here: {e}")

    def mlp():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(MLP_IN, MLP_HID), neuron.LIFNode(),
                                  torch.nn.Linear(MLP_HID, MLP_OUT), neuron.LIFNode())
        for m in net:
            if isinstance(m, torch.nn.Linear):
                m.weight.data *= 7.0
        return net

    def conv():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), neuron.LIFNode(),
                                  torch.nn.Flatten(), torch.nn.Linear(4 * 36, MLP_OUT),
                                  neuron.LIFNode())
        net[0].weight.data *= 4.0
        net[3].weight.data = net[3].weight.data * 4.0 + 0.2   # excitatory on average
        return net

    version = getattr(spikingjelly, "__version__", "?")
    for name, build, x, sample in [("mlp_lif", mlp, mlp_input(), torch.zeros(1, MLP_IN)),
                                   ("conv_lif", conv, conv_input(), torch.zeros(1, *CONV_IN))]:
        net = build()
        functional.reset_net(net)
        out = []
        with torch.no_grad():
            for xt in padded(x):
                out.append(net(torch.as_tensor(xt)).numpy().copy())
        functional.reset_net(net)
        graph = export_to_nir(net, sample)

        def write(path, graph=graph):
            write_graph(path, graph)

        save("spikingjelly", version, name, write, x, np.stack(out), 0,
             notes="spikingjelly.activation_based.nir_exchange.export_to_nir; LIFNode defaults")


# --------------------------------------------------------------------------- spyx


def spyx():
    """Spyx >= 1.0 (flax.nnx; python >= 3.11). Spyx 0.1.20 (haiku; what python3.10 gets)
    cannot export these networks at all, see VERSIONS.md."""
    import jax.numpy as jnp
    import spyx as sx
    import spyx.nn as snn
    from flax import nnx

    # spyx.nn.LIF fires on the membrane of the PREVIOUS step (spikes = act(V - thr) before V
    # is updated), so every layer adds one step of latency: delay 2 for two layers.
    def scaled(layer, gain, offset=0.0):
        layer.kernel[...] = layer.kernel[...] * gain + offset
        return layer

    # One beta per layer: Spyx's default (beta=None) draws a beta per neuron, which neurocc
    # refuses ("6 different membrane time constant values in one layer; Loihi's LIF shares
    # one decay per population").
    rngs = nnx.Rngs(0)
    mlp = snn.Sequential(
        scaled(nnx.Linear(MLP_IN, MLP_HID, use_bias=False, rngs=rngs), 4.0),
        snn.LIF((MLP_HID,), beta=0.8, rngs=rngs),
        scaled(nnx.Linear(MLP_HID, MLP_OUT, use_bias=False, rngs=rngs), 4.0),
        snn.LIF((MLP_OUT,), beta=0.8, rngs=rngs))
    # Channels-last, as flax convolutions are: (B, H, W, C).
    conv = snn.Sequential(
        scaled(nnx.Conv(1, 4, (3, 3), padding="SAME", rngs=rngs), 3.0),
        snn.LIF((6, 6, 4), beta=0.8, rngs=rngs), snn.Flatten(),
        scaled(nnx.Linear(4 * 36, MLP_OUT, use_bias=False, rngs=rngs), 3.0, 0.05),
        snn.LIF((MLP_OUT,), beta=0.8, rngs=rngs))
    for name, model, x, shape, to_spyx in [
            ("mlp_lif", mlp, mlp_input(), (MLP_IN,), lambda a: a),
            ("conv_lif", conv, conv_input(), CONV_IN,
             lambda a: np.moveaxis(a, 2, -1))]:          # (T, B, C, H, W) -> (T, B, H, W, C)
        out, _ = snn.run(model, jnp.asarray(to_spyx(padded(x))))
        graph = sx.nir.to_nir(model, {"input": np.array(shape)},
                              {"output": np.array([MLP_OUT])}, dt=1)
        save("spyx", sx.__version__, name, lambda p, g=graph: write_graph(p, g), x,
             np.asarray(out), 2, notes="spyx.nir.to_nir(model, input_type, output_type, dt=1)")


# --------------------------------------------------------------------------- snntorch


def snntorch():
    import snntorch as snn
    import torch
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    def simulate(net, x):
        utils.reset(net)
        out = []
        with torch.no_grad():
            for xt in x:
                s = net(torch.as_tensor(xt))
                out.append((s[0] if isinstance(s, tuple) else s).numpy().copy())
        return np.stack(out)

    # Per-neuron beta and threshold tensors: with a scalar beta, export_to_nir's own
    # infer_types() raises "type mismatch: 0.output: [[6]] -> 1.input: []", and a tensor beta
    # with the default scalar threshold fails nir.LIF's "All parameters must have the same
    # shape" (snntorch 1.0.0, nir 1.0.8).
    def leaky(shape, beta, **kw):
        shape = (shape,) if isinstance(shape, int) else shape
        return snn.Leaky(beta=torch.full(shape, beta), threshold=torch.ones(shape),
                         init_hidden=True, **kw)

    def mlp():
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Linear(MLP_IN, MLP_HID), leaky(MLP_HID, 0.9),
            torch.nn.Linear(MLP_HID, MLP_OUT), leaky(MLP_OUT, 0.9, output=True))
        for m in net:
            if isinstance(m, torch.nn.Linear):
                m.weight.data *= 2.0
        return net

    def conv():
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1),
            leaky((4, 6, 6), 0.8),
            torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(36, MLP_OUT),
            leaky(MLP_OUT, 0.9, output=True))
        for m in net:
            if isinstance(m, torch.nn.Conv2d):
                m.weight.data *= 4.0
            if isinstance(m, torch.nn.Linear):      # excitatory on average: some output
                m.weight.data = m.weight.data * 4.0 + 0.15
        return net

    for name, build, x, sample in [("mlp_leaky", mlp, mlp_input(), torch.zeros(1, MLP_IN)),
                                   ("conv_leaky", conv, conv_input(), torch.zeros(1, *CONV_IN))]:
        net = build()
        spikes = simulate(net, padded(x))
        utils.reset(net)
        try:
            graph = export_to_nir(net, sample)   # the exporter's defaults, as in its docstring
            how = "export_to_nir(net, sample)"
        except (ValueError, IndexError) as e:
            # nir >= 1.0's type inference refuses the (1, n) batch-dim Input the defaults write
            print(f"  export_to_nir(net, sample) FAILED: {type(e).__name__}: {e}; "
                  "retrying with ignore_dims=[0]")
            graph = export_to_nir(net, sample, ignore_dims=[0])
            how = "export_to_nir(net, sample, ignore_dims=[0])"

        def write(path, graph=graph):
            write_graph(path, graph)

        save("snntorch", snn.__version__, name, write, x, spikes, 0,
             notes=f"snntorch.export_nir.{how}; Leaky, reset subtract")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("norse", "sinabs", "rockpool",
                                                 "spikingjelly", "spyx", "snntorch"):
        raise SystemExit(__doc__)
    globals()[sys.argv[1]]()
