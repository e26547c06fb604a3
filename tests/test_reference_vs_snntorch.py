"""The float reference reproduces snnTorch spike for spike, given the reset rule.

snnTorch has no per-layer delay; neurocc's reference (like the chip) delays each projection by
one step. For a feed-forward network that only shifts each layer's spike train, so the
reference's trains, shifted back by the layer's hop depth, must equal snnTorch's exactly.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

from neurocc.backends import run  # noqa: E402
from neurocc.compiler.ir import hop_depths  # noqa: E402
from neurocc.compiler.pipeline import compile_nir  # noqa: E402


def _export(net, sample):
    from snntorch.export_nir import export_to_nir

    return export_to_nir(net, sample, ignore_dims=[0])


def _torch_trains(net, x):
    """snnTorch's own forward pass, step by step: every neuron layer's spikes."""
    from test_snntorch_modules import torch_trains

    return torch_trains(net, x)


def _leaky(shape, beta, reset):
    return snn.Leaky(beta=torch.full(shape, beta), threshold=torch.ones(shape), init_hidden=True,
                     reset_mechanism=reset)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_conv_net_matches_snntorch(reset):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), _leaky((4, 6, 6), 0.8, reset),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(36, 7),
        _leaky((7,), 0.9, reset),
    )
    for m in net:
        if isinstance(m, torch.nn.Conv2d):
            m.weight.data *= 3
    net[-1].output = True
    graph = _export(net, torch.zeros(1, 1, 6, 6))
    prog = compile_nir(graph, hw="loihi2", reset=reset)
    x = (np.random.default_rng(0).random((25, 8, 1, 6, 6)) < 0.4).astype(np.float32)
    expected = _torch_trains(net, x)
    res = run(prog, x, backend="reference")
    depths = hop_depths(prog.network)
    groups = sorted(depths, key=depths.get)          # conv layer first, then the dense one
    assert sum(e.sum() for e in expected) > 50, "the test must produce activity"
    for g, want in zip(groups, expected):
        d = depths[g]
        got = res.trace.spikes[g][d:d + x.shape[0]].reshape(want.shape)
        np.testing.assert_array_equal(got, want.astype(bool), err_msg=f"layer {g}")


def test_synaptic_matches_snntorch():
    torch.manual_seed(1)
    syn = snn.Synaptic(alpha=torch.full((5,), 0.7), beta=torch.full((5,), 0.85),
                       threshold=torch.ones(5), init_hidden=True, reset_mechanism="zero",
                       reset_delay=False, output=True)
    net = torch.nn.Sequential(torch.nn.Linear(8, 5), syn)
    net[0].weight.data *= 2
    graph = _export(net, torch.zeros(1, 8))
    prog = compile_nir(graph, hw="loihi2", reset="zero")
    x = (np.random.default_rng(1).random((30, 6, 8)) < 0.5).astype(np.float32)
    want = _torch_trains(net, x)[0]
    res = run(prog, x, backend="reference")
    got = res.outputs[prog.outputs[0]]
    assert want.sum() > 10
    np.testing.assert_array_equal(got, want.astype(bool))
