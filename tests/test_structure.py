"""The structure's promises: one pass interface, neuron kinds as types handled by every stage,
one numerics object shared by the quantizer and the emulator, and a target seam."""

import re
from pathlib import Path

import numpy as np
import pytest

import neurocc
from neurocc.backends import run
from neurocc.backends.reference import MEMBRANE
from neurocc.compiler.frontend.nir import NEURON_NODES
from neurocc.compiler.ir import NEURON_TYPES
from neurocc.compiler.passes.discretize import EULER
from neurocc.compiler.pipeline import compile_network
from neurocc.compiler.targets import available, get_target
from neurocc.hw_configs import load_hw, override

import synth

ROOT = Path(__file__).resolve().parents[1]


def test_every_neuron_type_is_read_discretized_and_simulated():
    """Adding a neuron kind means adding a class and one entry per stage: these tables say
    which stages know it."""
    kinds = set(NEURON_TYPES.values())
    assert set(EULER) == kinds
    assert set(MEMBRANE) == kinds
    assert set(NEURON_NODES) == {c.nir_type for c in kinds}


def test_passes_share_one_interface_and_fill_the_state_in_order():
    net = synth.random_network(3, conv=True, n_layers=2)
    seen = []

    def callback(p, state):
        filled = [f for f in ("discrete", "lowered", "partition", "placement", "routes")
                  if getattr(state, f) is not None]
        seen.append((p.name, filled))

    prog = compile_network(net, "loihi2", callback=callback)
    assert [name for name, _ in seen] == ["subpopulations", "discretize", "quantize",
                                          "partition", "place", "route"]
    assert seen[0][1] == []                   # it rewrites the network only
    assert seen[1][1] == ["discrete"]
    assert seen[2][1] == ["lowered"]          # the lowering drops the discretized copy
    assert seen[-1][1] == ["lowered", "partition", "placement", "routes"]
    assert prog.target == "loihi" and get_target("loihi").program_type is type(prog)


def test_unknown_target_is_refused_with_the_known_ones(tmp_path):
    text = (ROOT / "hw_configs" / "tiny.toml").read_text().replace('target = "loihi"',
                                                                  'target = "truenorth"')
    p = tmp_path / "tn.toml"
    p.write_text(text)
    with pytest.raises(neurocc.NeuroccError, match="truenorth.*" + "|".join(available())):
        load_hw(p)


def test_configured_widths_reach_quantizer_and_emulator_alike():
    """A config with narrower state and decay widths: the quantizer bounds thresholds by them
    and the emulator computes with them, so the float reference still agrees closely."""
    hw = override(load_hw("loihi2"), {"numerics.state_bits": 18, "numerics.decay_bits": 10,
                                      "numerics.threshold_bits": 11}, source="test widths")
    net = synth.random_network(7, conv=False, n_layers=2, recurrent=False, readout=False,
                               autonomous=False)
    prog = compile_network(net, hw)
    num = prog.numerics
    assert (num.state_bits, num.decay_bits) == (18, 10)
    assert all(g.vth < 2**11 and 0 <= g.du < 2**10 and 0 <= g.dv < 2**10
               for g in prog.groups)
    x = synth.random_input(7, prog, 20, 8, rate=0.5)
    fixed, ref = run(prog, x), run(prog, x, backend="reference")
    a, b = fixed.output_spike_counts, ref.output_spike_counts
    assert np.abs(a - b).sum() <= 0.15 * max(b.sum(), 1)
    # and the widths are the emulator's: Lava's 12-bit decay would have given other counts
    lava_widths = compile_network(net, "loihi2")
    assert not all(np.array_equal(g.du, h.du) for g, h in zip(prog.groups,
                                                             lava_widths.groups))


def test_public_api_and_version():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M)[1] == neurocc.__version__
    for name in neurocc.__all__:
        assert getattr(neurocc, name) is not None
    prog = neurocc.compile_nir(ROOT / "models" / "artifacts" / "digits" / "model.nir")
    rep = neurocc.report(neurocc.run(prog, np.zeros((4, 1, 1, 8, 8), dtype=np.uint8)))
    assert rep["energy_per_inference_j"] > 0


def test_test_helpers_are_not_shipped():
    """The package root is the repository root: the random-network generator lives in
    ``tests/``, which is not a listed package."""
    assert not (ROOT / "synth.py").exists() and (ROOT / "tests" / "synth.py").exists()
    packages = re.search(r"packages = \[(.*?)\]", (ROOT / "pyproject.toml").read_text(), re.S)[1]
    assert "tests" not in packages and "neurocc.cost" in packages


def test_every_package_directory_is_listed_for_the_wheel():
    """The package root is the repository root, so setuptools finds nothing by itself: a
    directory missing from pyproject's list would be missing from an installed neurocc."""
    listed = set(re.findall(r'"(neurocc(?:\.[\w.]+)?)"',
                            re.search(r"packages = \[(.*?)\]", (ROOT / "pyproject.toml")
                                      .read_text(), re.S)[1]))
    found = {"neurocc"} | {"neurocc." + ".".join(p.parent.relative_to(ROOT).parts)
                           for p in ROOT.rglob("__init__.py")
                           if p.parent != ROOT and not {".venv", "tests", "build"}
                           & set(p.relative_to(ROOT).parts)}
    assert found == listed, (found - listed, listed - found)
