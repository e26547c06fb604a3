"""snnTorch modules compiled as they are (``neurocc.compile(module, sample=...)``): every
architecture's float reference equals snnTorch's own forward pass spike for spike (shifted by
the layer's hop depth, as the chip delays each projection by one step), and the bit-exact
emulator's output counts stay close to it. Refusals name the layer, the reason and the way
out."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

import neurocc  # noqa: E402
from neurocc.compiler.ir import hop_depths  # noqa: E402
from neurocc.reports.run import counts_agreement  # noqa: E402

nn = torch.nn


def torch_trains(net, x):
    """snnTorch's own forward pass, step by step: every neuron layer's spikes."""
    from snntorch import utils

    kinds = (snn.Leaky, snn.Synaptic, snn.RLeaky, snn.RSynaptic)
    layers = [m for m in net.modules() if isinstance(m, kinds)]
    trains = {i: [] for i in range(len(layers))}
    hooks = [m.register_forward_hook(lambda mod, inp, out, i=i: trains[i].append(
        (out[0] if isinstance(out, tuple) else out).detach().numpy().copy()))
        for i, m in enumerate(layers)]
    utils.reset(net)
    with torch.no_grad():
        for t in range(x.shape[0]):
            net(torch.as_tensor(x[t], dtype=torch.float32))
    for h in hooks:
        h.remove()
    return [np.stack(trains[i]) for i in range(len(layers))]


def leaky(**kw):
    return snn.Leaky(init_hidden=True, **{"beta": 0.9, **kw})


def synaptic(**kw):
    return snn.Synaptic(init_hidden=True, **{"alpha": 0.6, "beta": 0.85, **kw})


def gain(net, k=3.0):
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            m.weight.data *= k
    return net


def batchnorm_stats(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.data = torch.randn(n, generator=g) * 0.1
            m.running_var.data = torch.rand(n, generator=g) + 0.5
            m.weight.data = torch.rand(n, generator=g) + 0.5
            m.bias.data = torch.randn(n, generator=g) * 0.1
    return net


def mlp_subtract():
    return gain(nn.Sequential(nn.Linear(20, 30), leaky(), nn.Linear(30, 5),
                              leaky(beta=0.8, output=True))), (20,)


def mlp_zero_three_layers():
    return gain(nn.Sequential(nn.Linear(16, 24), leaky(reset_mechanism="zero"),
                              nn.Linear(24, 24), leaky(reset_mechanism="zero", beta=0.7),
                              nn.Linear(24, 6), leaky(reset_mechanism="zero", output=True))), (16,)


def thresholds_and_no_bias():
    return gain(nn.Sequential(nn.Linear(12, 20, bias=False), leaky(beta=0.95, threshold=0.7),
                              nn.Linear(20, 4, bias=False),
                              leaky(beta=0.6, threshold=1.5, output=True)), 4.0), (12,)


def conv_strided_padded():
    return gain(nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), leaky(),
                              nn.Flatten(), nn.Linear(4 * 4 * 4, 6), leaky(output=True))), (1, 8, 8)


def conv_groups_avgpool():
    return gain(nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, groups=2), leaky(),
                              nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 5),
                              leaky(output=True))), (2, 6, 6)


def conv_batchnorm_dropout_synaptic():
    net = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4),
                        leaky(reset_mechanism="zero"), nn.AvgPool2d(2), nn.Flatten(),
                        nn.Dropout(0.3), nn.Linear(16, 5),
                        synaptic(reset_mechanism="zero", reset_delay=False, output=True))
    return gain(batchnorm_stats(net)), (2, 8, 8)


def linear_batchnorm1d():
    net = nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), leaky(), nn.Linear(16, 4),
                        leaky(output=True))
    return gain(batchnorm_stats(net, 1)), (10,)


def synaptic_subtract():
    return gain(nn.Sequential(nn.Linear(10, 12), synaptic(), nn.Linear(12, 3),
                              synaptic(alpha=0.3, output=True))), (10,)


def nested_blocks():
    block = lambda i, o: nn.Sequential(nn.Linear(i, o), leaky())  # noqa: E731
    return gain(nn.Sequential(block(14, 18), nn.Sequential(block(18, 10)),
                              nn.Linear(10, 3), leaky(output=True))), (14,)


def integrator_beta_one():
    return gain(nn.Sequential(nn.Linear(8, 10), leaky(beta=1.0), nn.Linear(10, 3),
                              leaky(output=True))), (8,)


def two_convs_dilated():
    return gain(nn.Sequential(nn.Conv2d(1, 3, 3, dilation=2, padding=2), leaky(),
                              nn.Conv2d(3, 4, 2, stride=2), leaky(reset_mechanism="subtract"),
                              nn.Flatten(), nn.Linear(4 * 4 * 4, 5),
                              leaky(output=True))), (1, 8, 8)


def rleaky_all_to_all():
    net = nn.Sequential(nn.Linear(10, 12),
                        snn.RLeaky(beta=0.85, linear_features=12, init_hidden=True),
                        nn.Linear(12, 4), leaky(output=True))
    net[1].recurrent.weight.data *= 0.5
    return gain(net, 2.5), (10,)


def rleaky_one_to_one_zero():
    return gain(nn.Sequential(
        nn.Linear(10, 8), snn.RLeaky(beta=0.8, all_to_all=False, V=0.4, init_hidden=True,
                                     reset_mechanism="zero", reset_delay=False),
        nn.Linear(8, 3), leaky(reset_mechanism="zero", output=True))), (10,)


def rsynaptic_all_to_all():
    net = nn.Sequential(nn.Linear(10, 9),
                        snn.RSynaptic(alpha=0.5, beta=0.8, linear_features=9, init_hidden=True),
                        nn.Linear(9, 3), leaky(output=True))
    net[1].recurrent.weight.data *= 0.3
    return gain(net, 2.0), (10,)


def conv_maxpool():
    return gain(nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), leaky(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(3 * 4 * 4, 5), leaky(output=True))), \
        (1, 8, 8)


def conv_maxpool_strided_padded_zero():
    return gain(nn.Sequential(nn.Conv2d(2, 2, 3), leaky(reset_mechanism="zero"),
                              nn.MaxPool2d(3, stride=2, padding=1), nn.Flatten(),
                              nn.Linear(2 * 3 * 3, 4), leaky(reset_mechanism="zero",
                                                             output=True))), (2, 7, 7)


def conv1d_batchnorm_avgpool():
    """A hearing-style front end: a strided, padded Conv1d over (channels, time)."""
    net = nn.Sequential(nn.Conv1d(2, 4, 5, stride=2, padding=2), nn.BatchNorm1d(4), leaky(),
                        nn.AvgPool1d(2), nn.Flatten(), nn.Linear(4 * 4, 5), leaky(output=True))
    return gain(batchnorm_stats(net, 2)), (2, 16)


def conv1d_grouped_dilated_maxpool():
    return gain(nn.Sequential(nn.Conv1d(4, 4, 3, dilation=2, padding="same", groups=2),
                              leaky(reset_mechanism="zero"), nn.MaxPool1d(2), nn.Flatten(),
                              nn.Linear(4 * 6, 3), leaky(reset_mechanism="zero", output=True))), \
        (4, 12)


ARCHITECTURES = [mlp_subtract, mlp_zero_three_layers, thresholds_and_no_bias,
                 conv_strided_padded, conv_groups_avgpool, conv_batchnorm_dropout_synaptic,
                 linear_batchnorm1d, synaptic_subtract, nested_blocks, integrator_beta_one,
                 two_convs_dilated, rleaky_all_to_all, rleaky_one_to_one_zero,
                 rsynaptic_all_to_all, conv_maxpool, conv_maxpool_strided_padded_zero,
                 conv1d_batchnorm_avgpool, conv1d_grouped_dilated_maxpool]


@pytest.mark.parametrize("make", ARCHITECTURES, ids=lambda f: f.__name__)
def test_module_compiles_and_matches_snntorch_spike_for_spike(make):
    torch.manual_seed(0)
    net, shape = make()
    steps, batch = 20, 6
    x = (np.random.default_rng(0).random((steps, batch, *shape)) < 0.4).astype(np.float32)
    prog = neurocc.compile(net, sample=torch.zeros(1, *shape))
    want = torch_trains(net, x)
    ref = prog.run(x, backend="reference")
    depths = hop_depths(prog.network)
    # MaxPool2d adds an OR population of its own (no snnTorch neuron layer to compare it to)
    groups = [g for g in sorted(depths, key=depths.get) if not g.endswith("_or")]
    assert len(groups) == len(want)
    assert sum(w.sum() for w in want) > 30, "the test must produce activity"
    for g, w in zip(groups, want):
        got = ref.trace.spikes[g][depths[g]:depths[g] + steps].reshape(w.shape)
        np.testing.assert_array_equal(got, w.astype(bool), err_msg=f"layer {g}")
    # The chip's fixed point: every layer's spike counts close to snnTorch's. Quantization
    # moves a few spikes, and a moved spike can move later ones, so this is a bound, not
    # equality; the README's table quotes the measured values.
    emu = prog.run(x)
    got = np.concatenate([emu.trace.spikes[g].sum(axis=0).reshape(batch, -1) for g in groups],
                         axis=1)
    ref_counts = np.concatenate([w.sum(axis=0).reshape(batch, -1) for w in want], axis=1)
    agree = counts_agreement(got, ref_counts)
    assert agree["relative_l1"] < 0.1 and agree["pearson_r"] > 0.97, agree


def test_default_leaky_gets_subtract_reset_without_being_told():
    """The case that diverged silently through NIR (295 vs 449 spikes): the module says
    subtract, so the program uses it; asking for another rule is an error."""
    net, shape = mlp_subtract()
    prog = neurocc.compile(net, sample=torch.zeros(2, *shape))
    assert prog.reset == "subtract"
    with pytest.raises(neurocc.NeuroccError, match="reset_mechanism='subtract'"):
        neurocc.compile(net, sample=torch.zeros(2, *shape), reset="zero")


@pytest.mark.parametrize("net, match", [
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), leaky()),
     r"layer 1 \(MaxPool2d\): .*pools non-spike values.*AvgPool2d"),
    (nn.Sequential(nn.Linear(4, 4), snn.RLeaky(beta=0.9, linear_features=4, init_hidden=True,
                                                reset_mechanism="zero")),
     r"layer 1 \(RLeaky\): .*reset_delay=False"),
    (nn.Sequential(nn.Linear(4, 4), leaky(), nn.Linear(4, 2), leaky(reset_mechanism="zero")),
     r"mixes reset rules \(subtract: layers 1; zero: layers 3\)"),
    (nn.Sequential(nn.Linear(4, 2), synaptic(reset_mechanism="zero")),
     r"layer 1 \(Synaptic\): .*reset_delay=False"),
    (nn.Sequential(nn.Linear(4, 2), leaky(reset_delay=False)),
     r"layer 1 \(Leaky\): reset_delay=False .*train with reset_delay=True"),
    (nn.Sequential(nn.Linear(4, 2), leaky(reset_mechanism="none")),
     r"layer 1 \(Leaky\): reset_mechanism='none'"),
    (nn.Sequential(nn.Linear(4, 2), nn.ReLU()), r"layer 1 \(ReLU\): this layer type"),
    (nn.Sequential(nn.Linear(4, 2), leaky(), nn.Linear(2, 2)), r"ends with Linear"),
])
def test_refusals_name_the_layer_the_reason_and_the_way_out(net, match):
    sample = torch.zeros(1, 1, 6, 6) if isinstance(net[0], nn.Conv2d) else torch.zeros(1, 4)
    with pytest.raises(neurocc.NeuroccError, match=match):
        neurocc.compile(net, sample=sample)


def test_a_module_needs_a_sample_and_a_sequential():
    net, _ = mlp_subtract()
    with pytest.raises(neurocc.NeuroccError, match="needs sample="):
        neurocc.compile(net)

    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(neurocc.NeuroccError, match="model Custom: forward.sample. calls no "
                                                   "layer; write the layers as an nn.Sequential"):
        neurocc.compile(Custom(), sample=torch.zeros(1, 4))


# ----------------------------------------------------------------- explicit-state modules


class ExplicitMLP(nn.Module):
    """snnTorch's tutorial style: state passed by hand, a loop over the steps in forward."""

    def __init__(self):
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(20, 30), snn.Leaky(beta=0.9)
        self.fc2, self.lif2 = nn.Linear(30, 5), snn.Leaky(beta=0.8)

    def forward(self, x):
        mem1, mem2, out = self.lif1.init_leaky(), self.lif2.init_leaky(), []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


class ExplicitConvSynaptic(nn.Module):
    """A conv layer, a ``view`` flatten between layers, current-based neurons, a recurrent
    layer, zero reset."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.lif1 = snn.Synaptic(alpha=0.6, beta=0.85, reset_mechanism="zero",
                                 reset_delay=False)
        self.fc = nn.Linear(3 * 6 * 6, 8)
        self.lif2 = snn.RLeaky(beta=0.8, linear_features=8, reset_mechanism="zero",
                               reset_delay=False)
        self.out = nn.Linear(8, 4)
        self.lif3 = snn.Leaky(beta=0.7, reset_mechanism="zero")

    def forward(self, x):
        syn1, mem1 = self.lif1.init_synaptic()
        spk2, mem2 = self.lif2.init_rleaky()
        mem3, out = self.lif3.init_leaky(), []
        for t in range(x.shape[0]):
            spk1, syn1, mem1 = self.lif1(self.conv(x[t]), syn1, mem1)
            spk2, mem2 = self.lif2(self.fc(spk1.view(spk1.shape[0], -1)), spk2, mem2)
            spk3, mem3 = self.lif3(self.out(spk2), mem3)
            out.append(spk3)
        return torch.stack(out)


def explicit_trains(net, x):
    """Every neuron layer's spikes during one forward(x) over all steps."""
    kinds = (snn.Leaky, snn.Synaptic, snn.RLeaky, snn.RSynaptic)
    layers = [m for m in net.modules() if isinstance(m, kinds)]
    trains = {i: [] for i in range(len(layers))}
    hooks = [m.register_forward_hook(lambda mod, inp, out, i=i: trains[i].append(
        out[0].detach().numpy().copy())) for i, m in enumerate(layers)]
    with torch.no_grad():
        net(torch.as_tensor(x))
    for h in hooks:
        h.remove()
    return [np.stack(trains[i]) for i in range(len(layers))]


@pytest.mark.parametrize("make, shape", [(ExplicitMLP, (20,)), (ExplicitConvSynaptic, (1, 6, 6))])
def test_explicit_state_module_is_traced_and_matches_snntorch(make, shape):
    torch.manual_seed(1)
    net = gain(make(), 3.0)
    if isinstance(net, ExplicitConvSynaptic):
        net.lif2.recurrent.weight.data *= 0.3
    steps, batch = 20, 5
    x = (np.random.default_rng(1).random((steps, batch, *shape)) < 0.4).astype(np.float32)
    # forward() takes (steps, batch, ...): a sample of that form gives the shapes
    prog = neurocc.compile(net, sample=torch.zeros(2, 1, *shape))
    assert prog.source["torch_module"] == make.__name__
    want = explicit_trains(net, x)
    ref = prog.run(x, backend="reference")
    depths = hop_depths(prog.network)
    groups = sorted(depths, key=depths.get)
    assert len(groups) == len(want) and sum(w.sum() for w in want) > 30
    for g, w in zip(groups, want):
        got = ref.trace.spikes[g][depths[g]:depths[g] + steps].reshape(w.shape)
        np.testing.assert_array_equal(got, w.astype(bool), err_msg=f"layer {g}")


class SkipConnection(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(4, 4), snn.Leaky(beta=0.9)
        self.fc2, self.lif2 = nn.Linear(4, 4), snn.Leaky(beta=0.9)

    def forward(self, x):
        m1, m2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        for t in range(x.shape[0]):
            s1, m1 = self.lif1(self.fc1(x[t]), m1)
            s2, m2 = self.lif2(self.fc2(s1) + x[t], m2)
        return s2


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x[:, :3])


def test_explicit_state_refusals_say_why_the_graph_is_not_a_chain():
    with pytest.raises(neurocc.NeuroccError, match=r"model SkipConnection: layer Leaky \(call 3 "
                       r"of a step\) does not receive what Linear before it returned.*"
                       r"nn.Sequential"):
        neurocc.compile(SkipConnection(), sample=torch.zeros(2, 1, 4))
    with pytest.raises(neurocc.NeuroccError, match=r"model Broken: forward\(sample\) failed "
                       r"\(RuntimeError: .*give sample= as forward\(\) expects it"):
        neurocc.compile(Broken(), sample=torch.zeros(1, 4))
