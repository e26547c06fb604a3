"""``neurocc.cost.neurobench`` equals the ``neurobench`` package (2.3.0) on the zoo models.

digits: NeuroBench's ``SNNTorchModel`` on ``build_from_nir`` (the zoo's float model), all 360
test samples in batches of 120, against ``neurobench_metrics`` on the compiled program run
on the float reference backend. retina: the zoo's ``Retina`` module runs the whole sequence
at once and decodes spike counts with a bare parameter, which NeuroBench's per-step wrapper
cannot drive, so the test uses a per-step snnTorch rebuild of the same NIR graph (Conv2d →
Leaky → Flatten → Linear → integrator readout), on 200 samples. olfaction: its float model
(buffers multiplied in a custom recurrent loop, no ``nn.Linear``) is outside NeuroBench's
wrapper; only the numpy side is checked.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("neurobench")
torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

from neurocc.compiler.pipeline import compile_nir  # noqa: E402
from neurocc.cost.neurobench import neurobench_metrics  # noqa: E402

SYNOPS = ("Effective_MACs", "Effective_ACs", "Dense")


def _neurobench(model, x: np.ndarray, batch_size: int) -> dict:
    """NeuroBench 2.3.0's metrics of ``model`` (a NeuroBenchModel) on ``x`` (T, N, ...)."""
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from torch.utils.data import DataLoader, TensorDataset

    data = torch.from_numpy(np.ascontiguousarray(x.swapaxes(0, 1))).float()  # (N, T, ...)
    loader = DataLoader(TensorDataset(data, torch.zeros(len(data))), batch_size=batch_size,
                        shuffle=False)
    bench = Benchmark(model, loader, [], [], [[Footprint, ConnectionSparsity],
                                              [ActivationSparsity, SynapticOperations]])
    out = bench.run(quiet=True)
    out.update(out.pop("SynapticOperations"))
    return out


def _assert_equal(ours: dict, theirs: dict, keys) -> None:
    for k in keys:
        assert ours[k] == pytest.approx(theirs[k], rel=1e-12, abs=1e-12), k


def test_digits_equals_neurobench():
    from neurobench.models import SNNTorchModel

    from neurocc.models import digits

    x, _ = digits.test_inputs()
    assert x.shape[1] == 360
    theirs = _neurobench(SNNTorchModel(digits.build_from_nir(digits.NIR_PATH)), x, 120)
    prog = compile_nir(str(digits.NIR_PATH), **digits.COMPILE)
    ours = neurobench_metrics(prog, x, backend="reference", batch_size=120)
    _assert_equal(ours, theirs, SYNOPS + ("ActivationSparsity", "ConnectionSparsity"))
    assert ours["Footprint"] == theirs["Footprint"] == 40668
    # The figures measured with NeuroBench on this model (360 samples).
    assert ours["Effective_MACs"] == pytest.approx(9633.6)
    assert ours["Effective_ACs"] == pytest.approx(11183.2, abs=0.05)
    assert ours["Dense"] == 101632
    assert ours["ActivationSparsity"] == pytest.approx(0.936, abs=5e-4)
    # The chip's own count, on fused projections, sits beside NeuroBench's.
    assert ours["neurocc_synops"] > 0 and ours["explanation"]
    assert set(ours["neurocc_synops_by_projection"]) == {p.name for p in prog.projections}


class _Integrator(torch.nn.Module):
    """The retina's LI readout (τ = r = ∞): the membrane integrates the decoder current."""

    def __init__(self):
        super().__init__()
        self.v = None

    def forward(self, current):
        self.v = current if self.v is None else self.v + current
        return self.v, self.v


class _PerStep(torch.nn.Sequential):
    """One time step per call, as NeuroBench's ``SNNTorchModel`` drives a network."""

    def reset(self):
        snn.utils.reset(self)
        self[-1].v = None


def _retina_per_step(nir_path) -> _PerStep:
    import nir

    from neurocc.models.retina.model import BETA, THRESHOLD, from_nir

    net = from_nir(nir.read(str(nir_path)))
    w = net.decoder_weight().detach().T.contiguous()          # (n_pixels, n_cells)
    decoder = torch.nn.Linear(w.shape[1], w.shape[0], bias=True)
    decoder.weight.data = w
    decoder.bias.data = torch.zeros(w.shape[0])
    gc = snn.Leaky(beta=BETA, threshold=THRESHOLD, reset_mechanism="zero", init_hidden=True)
    return _PerStep(net.conv, gc, torch.nn.Flatten(), decoder, _Integrator())


def test_retina_equals_neurobench_per_step_rebuild():
    from neurobench.models import SNNTorchModel

    from neurocc.models import retina

    x, _ = retina.test_inputs()
    x = x[:, :200]
    theirs = _neurobench(SNNTorchModel(_retina_per_step(retina.NIR_PATH)), x, 100)
    prog = compile_nir(str(retina.NIR_PATH), **retina.COMPILE)
    ours = neurobench_metrics(prog, x, backend="reference", batch_size=100)
    _assert_equal(ours, theirs, SYNOPS + ("ActivationSparsity", "ConnectionSparsity"))
    assert ours["Effective_ACs"] > 0 and ours["Effective_MACs"] == 0   # spikes in, spikes on
    assert ours["Footprint"] is None    # an LI readout has no snnTorch layout of record


def test_olfaction_numpy_side():
    from neurocc.models import olfaction

    x, _ = olfaction.test_inputs()
    x = x[:, :50]
    prog = compile_nir(str(olfaction.NIR_PATH), **olfaction.COMPILE)
    ours = neurobench_metrics(prog, x, backend="reference")
    steps = x.shape[0]
    n_weights = 50 * 50 + 50 * 2000 + 2000 * 8 + 8 * 2000 + 2000 * 10
    assert ours["Dense"] == steps * n_weights
    assert ours["Effective_MACs"] == 0 and 0 < ours["Effective_ACs"] < ours["Dense"]
    assert 0 < ours["ActivationSparsity"] < 1
    lif = 2 * 4 * (8 + 2000 + 10 + 50) + 4 * 12
    assert ours["Footprint"] == 4 * (n_weights + 50 + 2000 + 8 + 2000 + 10) + lif


def test_module_does_not_import_torch():
    code = ("import sys, neurocc.cost.neurobench; "
            "assert 'torch' not in sys.modules and 'neurobench' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_conv1d_module_equals_neurobench():
    """A Conv1d front end read from an snnTorch module: NeuroBench's counts of the module
    equal neurocc's of the NIR graph it becomes (Conv1d computed as a height-1 Conv2d)."""
    from neurobench.models import SNNTorchModel

    import neurocc
    from neurocc.compiler.frontend.torch_module import module_to_nir

    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(nn.Conv1d(2, 4, 5, stride=2, padding=2),
                        snn.Leaky(beta=0.9, init_hidden=True), nn.Flatten(),
                        nn.Linear(4 * 8, 5), snn.Leaky(beta=0.8, init_hidden=True, output=True))
    net[0].weight.data *= 3
    x = (np.random.default_rng(1).random((12, 20, 2, 16)) < 0.3).astype(np.float32)
    prog = neurocc.compile(net, sample=torch.zeros(1, 2, 16))
    graph, _ = module_to_nir(net, torch.zeros(1, 2, 16))
    theirs = _neurobench(SNNTorchModel(net), x, 20)
    ours = neurobench_metrics(prog, x, backend="reference", graph=graph, batch_size=20)
    assert ours["Dense"] > 0 and ours["Effective_ACs"] > 0
    _assert_equal(ours, theirs, SYNOPS + ("ActivationSparsity", "ConnectionSparsity"))
