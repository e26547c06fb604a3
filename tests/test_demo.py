"""neurocc demo on the committed digits model: the numbers the README's first screen quotes."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def demo():
    p = subprocess.run([sys.executable, "-m", "neurocc", "demo", "--json"], capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_accuracies(demo):
    assert demo["test_samples"] == 360
    # snnTorch, rebuilt from the committed .nir, reproduces the committed training metrics
    assert demo["float_accuracy"] == demo["float_accuracy_committed"]
    # the float NIR reference is snnTorch's semantics: same accuracy
    assert demo["reference_accuracy"] == demo["float_accuracy"]
    assert demo["emulator_accuracy"] >= 0.90
    assert abs(demo["emulator_accuracy"] - demo["float_accuracy"]) <= 0.02


def test_layers_energy_and_assumptions(demo):
    assert [L["neurons"] for L in demo["layers"]] == [512, 64, 10]
    for L in demo["layers"]:
        assert L["spikes_per_inference"] > 0 and L["synops_in_per_inference"] > 0
        assert L["agreement_with_float"]["pearson_r"] > 0.95
        # the scale keeps u inside 24 bits always; v can still clip on its negative side
        # (the scale bounds the positive side only): rare, and reported
        sat = L["saturation"]
        assert sat["u_wraps"] == 0 and sat["conv_wraps"] == 0
        assert sat["v_saturations"] <= 1e-4 * 360 * demo["latency_breakdown_s"]["steps"] * \
            L["neurons"]
    assert demo["energy_per_inference_j"] == pytest.approx(sum(demo["energy_breakdown_j"].values()))
    assert demo["latency_per_inference_s"] > 0
    assert demo["hw"] == "loihi2" and demo["semantics"]["reset"] == "zero"
    assert demo["hw_assumptions"] and all(v["source"] for v in demo["hw_constants"].values())
    assert demo["timings_s"]["emulator_s"] < 60
