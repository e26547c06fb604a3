"""The ANN baseline (``cost/baseline.py``): MACs counted the NeuroBench way, energy from the
sourced figures in ``hw_configs/baselines/conventional.toml``, wired into the run report."""

from __future__ import annotations

import numpy as np
import pytest

from neurocc.api.errors import ConfigError
from neurocc.backends import run
from neurocc.compiler.pipeline import compile_nir
from neurocc.cost.baseline import (
    PLATFORMS,
    ann_counts,
    ann_energy,
    baseline,
    load_baselines,
)
from neurocc.cost.neurobench import neurobench_metrics
from neurocc.models import zoo

ZOO = sorted(zoo.REGISTRY)


@pytest.mark.parametrize("name", ZOO)
def test_macs_are_neurobench_dense_over_T(name):
    """One ANN pass = NeuroBench's Dense (all T steps) / T, on every zoo model."""
    model = zoo.get(name)
    prog = compile_nir(str(model.NIR_PATH), **model.COMPILE)
    T = 3
    x = np.zeros((T, 1, *prog.input_shape))
    nb = neurobench_metrics(prog, x, backend="reference")
    counts = ann_counts(model.NIR_PATH)
    assert counts["macs"] * T == nb["Dense"]
    assert counts["by_layer"] == {k: v["dense"] / T for k, v in nb["layers"].items()}


def test_digits_dense_equals_the_neurobench_package():
    """On digits the neurobench package itself (4 samples: Dense does not depend on them)."""
    pytest.importorskip("neurobench")
    torch = pytest.importorskip("torch")
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.workload import SynapticOperations
    from neurobench.models import SNNTorchModel
    from torch.utils.data import DataLoader, TensorDataset

    from neurocc.models import digits

    x = digits.test_inputs()[0][:, :4]
    data = torch.from_numpy(np.ascontiguousarray(x.swapaxes(0, 1))).float()
    loader = DataLoader(TensorDataset(data, torch.zeros(len(data))), batch_size=4)
    out = Benchmark(SNNTorchModel(digits.build_from_nir(digits.NIR_PATH)), loader, [], [],
                    [[], [SynapticOperations]]).run(quiet=True)
    assert ann_counts(digits.NIR_PATH)["macs"] * x.shape[0] == out["SynapticOperations"]["Dense"]
    assert ann_counts(digits.NIR_PATH)["macs"] == 12704


def test_energy_is_the_toml_figures_times_the_counts():
    fig = load_baselines()
    v = {k: e["value"] for k, e in fig.items()}
    c = {"macs": 1000, "params": 100, "activations": 50, "largest_layer": 60}
    rows = ann_energy(c, fig)
    assert set(rows) == set(PLATFORMS)
    fp32 = rows["fp32_horowitz"]
    assert fp32["arithmetic_j"] == pytest.approx(1000 * (3.7e-12 + 0.9e-12))
    # 100 fp32 params = 400 B -> 8 KB SRAM: 50 reads of 64 bits; 50 activations x 4 B
    # written and read: 2 x 25 reads.
    assert fp32["memory_j"] == pytest.approx(50 * 10e-12 + 2 * 25 * 10e-12)
    int8 = rows["int8_accelerator_horowitz"]
    assert int8["per_mac_j"] == pytest.approx(0.2e-12 + 0.1e-12)       # int32 accumulate
    assert int8["memory_j"] == pytest.approx(13 * 10e-12 + 2 * 7 * 10e-12)
    assert rows["cpu_whole_system"]["energy_j"] == pytest.approx(1050 * v["whole_system.cpu_op_j"])
    assert rows["gpu_whole_system"]["energy_j"] == pytest.approx(1050 * 0.3e-9)
    assert rows["arm_whole_system"]["energy_j"] == pytest.approx(1050 * 0.9e-9)
    # A figure changed in the TOML changes the answer (nothing is a literal in code).
    fig2 = {**fig, "horowitz_45nm.fp32_mult_j": {**fig["horowitz_45nm.fp32_mult_j"],
                                                 "value": 1e-12}}
    assert ann_energy(c, fig2)["fp32_horowitz"]["arithmetic_j"] == pytest.approx(1000 * 1.9e-12)
    # Large models read their parameters from DRAM.
    big = ann_energy({**c, "params": 10_000_000}, fig)["int8_accelerator_horowitz"]
    assert "dram" in big["what"]


def test_every_baseline_figure_has_a_source(tmp_path):
    fig = load_baselines()
    assert all(e["source"] and "unit" in e for e in fig.values())
    bad = tmp_path / "b.toml"
    bad.write_text("[horowitz_45nm]\nfp32_add_j = { value = 1.0, unit = \"J\" }\n")
    with pytest.raises(ConfigError, match=r"\[horowitz_45nm\] fp32_add_j needs a value and a "
                                          "source"):
        load_baselines(bad)


def test_digits_report_has_the_baseline_and_its_pitfalls():
    from neurocc.models import digits
    from neurocc.reports.run import render_run

    prog = compile_nir(str(digits.NIR_PATH), **digits.COMPILE)
    res = run(prog, digits.test_inputs()[0][:, :8])
    assert "ann_baseline" not in res.to_dict()
    rep = res.to_dict(baseline=True)
    b = rep["ann_baseline"]
    assert b["available"] and b["ann"]["macs"] == 12704
    assert b["snn"]["dynamic_j"] == pytest.approx(rep["energy_dynamic_per_inference_j"])
    assert b["neurobench_dense_T_steps"] == 12704 * 8
    assert any("time steps" in p for p in b["pitfalls"])
    assert any("int8 vs fp32" in p for p in b["pitfalls"])
    assert any("static power" in p for p in b["pitfalls"])
    # fp32 / int8 per MAC: the ~15x the pitfall names.
    assert b["platforms"]["fp32_horowitz"]["per_mac_j"] / \
        b["platforms"]["int8_accelerator_horowitz"]["per_mac_j"] == pytest.approx(15.33, abs=0.01)
    text = render_run(rep)
    assert "ANN baseline" in text and "int8_accelerator_horowitz" in text


def test_a_program_without_its_nir_file_says_so():
    import synth

    prog = synth.random_program(0, reset="zero", graded=False, extreme=False)
    assert baseline(prog) == {"available": False, "reason": pytest.approx(
        baseline(prog)["reason"])}
    assert "not compiled from a .nir file" in baseline(prog)["reason"]
