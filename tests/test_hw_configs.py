"""Hardware configs: every number has a source and a unit, assumptions are labelled, the
README documents exactly the fields the loader reads, and the spec's geometry is checked."""

import re
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from neurocc.api.errors import ConfigError
from neurocc.compiler.artifact import load, save
from neurocc.compiler.targets.loihi import LoihiNumerics
from neurocc.hw_configs import HERE, SECTIONS, available, load_hw, override

LOADED = {"numerics": LoihiNumerics, **SECTIONS}
"""Every section the loader reads for a Loihi config: the target's numerics and the common
ones."""

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

CONFIGS = available()


def entries(name):
    raw = tomllib.loads((HERE / f"{name}.toml").read_text())
    for sec in ("numerics", *SECTIONS):
        for key, entry in raw[sec].items():
            yield f"{sec}.{key}", entry


def test_shipped_configs():
    assert {"loihi1", "loihi2", "tiny"} <= set(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_every_value_has_a_source_and_a_unit(name):
    for key, entry in entries(name):
        assert isinstance(entry, dict) and "value" in entry, key
        assert entry.get("source", "").strip(), f"{name}: {key} has no source"
        assert entry.get("unit", "").strip(), f"{name}: {key} has no unit"
        assert set(entry) <= {"value", "unit", "source", "assumption"}, key


@pytest.mark.parametrize("name", CONFIGS)
def test_assumptions_are_labelled_both_ways(name):
    for key, entry in entries(name):
        flagged = entry.get("assumption", False) is True
        says = entry["source"].startswith("ASSUMPTION")
        assert flagged == says, (f"{name}: {key}: assumption = {flagged} but source "
                                 f"{entry['source']!r}")
    hw = load_hw(name)
    assert set(hw.assumptions) == {k for k, e in entries(name) if e.get("assumption")}


@pytest.mark.parametrize("name", CONFIGS)
def test_config_has_exactly_the_loaders_fields(name):
    raw = tomllib.loads((HERE / f"{name}.toml").read_text())
    assert raw.get("target") == "loihi"
    for sec, cls in LOADED.items():
        assert set(raw[sec]) == {f.name for f in fields(cls)}, sec


def test_readme_lists_every_field_with_a_unit():
    text = (HERE / "README.md").read_text()
    documented = set()
    for sec in ("numerics", *SECTIONS):
        part = text.split(f"### `[{sec}]`")[1].split("###")[0]
        for row in part.splitlines():
            if not row.startswith("| `"):
                continue
            cells = [c.strip() for c in row.strip("|").split("|")]
            assert len(cells) == 3 and cells[1] and cells[2], row
            documented |= {f"{sec}.{n}" for n in re.findall(r"`(\w+)`", cells[0])}
    loaded = {f"{sec}.{f.name}" for sec, cls in LOADED.items() for f in fields(cls)}
    assert documented == loaded


def test_mesh_geometry():
    hw = load_hw("loihi2")
    m = hw.mesh
    assert m.cores_per_chip == 128 and m.chips_per_system == 8 and m.n_cores == 1024
    assert m.chip_mesh[0] * m.chip_mesh[1] == m.chips_per_system
    tiny = load_hw("tiny")
    assert tiny.mesh.cores_per_chip == 4 and tiny.mesh.tile_mesh == (2, 2)


def test_inconsistent_chip_mesh_is_refused():
    with pytest.raises(ConfigError, match=r"chip_mesh \[3, 1\] holds 3 chips, chips_per_system "
                                          r"is 4"):
        override(load_hw("tiny"), {"mesh.chip_mesh": (3, 1)})
    with pytest.raises(ConfigError, match="input_core 99 is not a core"):
        override(load_hw("tiny"), {"mesh.input_core": 99})
    with pytest.raises(ConfigError, match="neurons_per_core must be a positive integer"):
        override(load_hw("tiny"), {"core.neurons_per_core": 0})


def test_missing_source_is_refused(tmp_path):
    text = (HERE / "tiny.toml").read_text().replace(
        'neurons_per_core              = { value = 64,    unit = "neurons", source = '
        '"ASSUMPTION: test chip", assumption = true }',
        'neurons_per_core = { value = 64, unit = "neurons" }')
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match="every constant needs its source"):
        load_hw(p)


def test_override_is_labelled_and_survives_save_load(tmp_path):
    from neurocc.compiler.ir import INPUT, Dense, Network, Projection
    from neurocc.compiler.pipeline import compile_network

    from synth import neurons

    hw = override(load_hw("tiny"), {"core.neurons_per_core": 8,
                                    "mesh.chips_per_system": 2, "mesh.chip_mesh": (2, 1)},
                  source="test")
    assert hw.core.neurons_per_core == 8 and hw.mesh.chips_per_system == 2
    assert "core.neurons_per_core" in hw.assumptions
    assert hw.sources["core.neurons_per_core"]["source"] == "ASSUMPTION: test"
    n = 20
    g = neurons("h", "lif", n, tau=1e-3, r=10.0)
    net = Network((4,), (g,), (Projection("p", INPUT, "h", Dense(np.ones((n, 4)))),), ("h",))
    prog = compile_network(net, hw)
    again = load(save(prog, tmp_path / "p"))
    assert again.hw.core.neurons_per_core == 8 and again.hw.mesh.chip_mesh == (2, 1)
    assert len(again.placement.slices) == 3


def test_no_hardware_limit_literals_in_mapping_code():
    """The mapping code reads limits from the spec: none of the shipped limits appears as a
    number literal in it."""
    limits = set()
    for name in ("loihi1", "loihi2"):
        hw = load_hw(name)
        limits |= {hw.core.neurons_per_core, hw.core.synaptic_memory_bits_per_core,
                   hw.core.input_axons_per_core, hw.core.output_axons_per_core,
                   hw.mesh.cores_per_chip}
    root = Path(__file__).resolve().parents[1]
    for rel in ("compiler/passes/partition.py", "compiler/passes/place.py",
                "compiler/passes/route.py", "compiler/mesh.py", "compiler/resources.py",
                "reports/summary.py"):
        code = (root / rel).read_text()
        numbers = {int(x) for x in re.findall(r"(?<![\w.])(\d+)(?![\w.])", code)}
        assert not (numbers & limits), (rel, numbers & limits)
