"""Per-neuron time constants: a layer is split into one population per quantized (du, dv),
the float reference still equals snnTorch spike for spike, the emulator stays bit-exact with
real Lava, outputs come back in the model's neuron order, and each population is placed on
its own core slices."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

from test_snntorch_modules import torch_trains  # noqa: E402

import neurocc  # noqa: E402
from neurocc.compiler.ir import hop_depths  # noqa: E402
from neurocc.compiler.passes.subpopulations import decay_classes  # noqa: E402

nn = torch.nn


def learned_beta_mlp(seed=0):
    g = torch.Generator().manual_seed(seed)
    beta1 = torch.tensor([0.5, 0.7, 0.9, 0.95] * 5)[torch.randperm(20, generator=g)]
    beta2 = torch.tensor([0.6, 0.85, 0.6, 0.85, 0.99, 0.6])
    net = nn.Sequential(nn.Linear(12, 20), snn.Leaky(beta=beta1, init_hidden=True),
                        nn.Linear(20, 6), snn.Leaky(beta=beta2, init_hidden=True, output=True))
    for m in net:
        if isinstance(m, nn.Linear):
            m.weight.data *= 3
    return net


def test_layers_split_by_quantized_decay_and_match_snntorch():
    torch.manual_seed(0)
    net = learned_beta_mlp()
    prog = neurocc.compile(net, sample=torch.zeros(1, 12))
    split = prog.network.meta["subpopulations"]
    assert {g: len(p) for g, p in split.items()} == {"1_leaky": 4, "3_leaky": 3}
    for g in prog.network.groups:         # one decay per population
        assert len(np.unique(decay_classes(g, prog.dt, 4096))) == 1
    x = (np.random.default_rng(0).random((25, 5, 12)) < 0.4).astype(np.float32)
    want = torch_trains(net, x)
    ref = prog.run(x, backend="reference")
    # every population's spikes are its neurons' columns of snnTorch's layer, shifted by depth
    depths = hop_depths(prog.network)
    for layer, w in zip(("1_leaky", "3_leaky"), want):
        for name, idx in split[layer]:
            d = depths[name]
            got = ref.trace.spikes[name][d:d + 25]
            np.testing.assert_array_equal(got, w[:, :, idx].astype(bool), err_msg=name)
    # the output comes back in the model's neuron order
    np.testing.assert_array_equal(ref.output_spike_counts, want[-1].sum(axis=0))
    assert sum(w.sum() for w in want) > 100
    emu = prog.run(x)
    assert emu.output_spike_counts.shape == (5, 6)
    rel = np.abs(emu.output_spike_counts - want[-1].sum(axis=0)).sum() / want[-1].sum()
    assert rel < 0.1


def test_each_population_takes_its_own_core_slices():
    prog = neurocc.compile(learned_beta_mlp(), sample=torch.zeros(1, 12))
    groups_on = {}
    for gi, _, _, core in prog.placement.slices:
        groups_on.setdefault(int(core), set()).add(int(gi))
    assert all(len(g) == 1 for g in groups_on.values())
    assert len(prog.placement.cores_used) >= 7


def test_subpopulations_survive_save_and_load(tmp_path):
    prog = neurocc.compile(learned_beta_mlp(1), sample=torch.zeros(1, 12))
    again = neurocc.load(prog.save(tmp_path / "p.neurocc"))
    x = (np.random.default_rng(1).random((10, 3, 12)) < 0.4).astype(np.uint8)
    np.testing.assert_array_equal(prog.run(x).output_spike_counts,
                                  again.run(x).output_spike_counts)


def test_synaptic_and_conv_layers_with_per_neuron_constants():
    torch.manual_seed(2)
    alpha = torch.tensor([0.3, 0.6] * 4)
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        snn.Leaky(beta=torch.tensor([0.7, 0.9]).repeat_interleave(32).reshape(2, 4, 8),
                  init_hidden=True),
        nn.Flatten(), nn.Linear(64, 8),
        snn.Synaptic(alpha=alpha, beta=0.8, init_hidden=True, reset_mechanism="subtract",
                     output=True))
    for m in net:
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            m.weight.data *= 3
    prog = neurocc.compile(net, sample=torch.zeros(1, 1, 4, 8))
    assert {g: len(p) for g, p in prog.network.meta["subpopulations"].items()} == {
        "1_leaky": 2, "4_synaptic": 2}
    x = (np.random.default_rng(2).random((20, 4, 1, 4, 8)) < 0.4).astype(np.float32)
    want = torch_trains(net, x)
    ref = prog.run(x, backend="reference")
    np.testing.assert_array_equal(ref.output_spike_counts, want[-1].sum(axis=0))
    assert want[-1].sum() > 10


@pytest.mark.lava
def test_emulator_is_bit_exact_with_lava_on_subpopulations():
    pytest.importorskip("lava")
    prog = neurocc.compile(learned_beta_mlp(3), sample=torch.zeros(1, 12))
    x = (np.random.default_rng(3).random((12, 3, 12)) < 0.4).astype(np.uint8)
    emu = prog.run(x, record_state=True)
    lava = prog.run(x, backend="lava", record_state=True, timeout_s=300)
    for g in prog.groups:
        np.testing.assert_array_equal(emu.trace.spikes[g.name], lava.trace.spikes[g.name])
        np.testing.assert_array_equal(emu.trace.v[g.name], lava.trace.v[g.name])
    assert emu.activity.total_spikes() > 20
