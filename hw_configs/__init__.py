"""Hardware descriptions: one TOML per target, loaded into one typed ``HardwareSpec``.

Every value in a config is an inline table ``{ value, unit, source }`` (plus
``assumption = true`` where no published figure exists). The loader refuses a value without
a source, so no number reaches a report without one. Field meanings and units are listed in
``hw_configs/README.md``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

from neurocc.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Numerics:
    weight_bits: int
    weight_exp_min: int
    weight_exp_max: int
    decay_bits: int
    state_bits: int
    threshold_bits: int
    bias_mant_bits: int
    bias_exp_max: int
    graded_spike_bits: int


@dataclass(frozen=True)
class Core:
    neurons_per_core: int
    synaptic_memory_bits_per_core: int
    synapse_index_bits: int
    conv_kernel_shared: bool
    input_axons_per_core: int
    output_axons_per_core: int


@dataclass(frozen=True)
class Mesh:
    cores_per_tile: int
    tile_mesh: tuple[int, int]
    chips_per_system: int
    chip_mesh: tuple[int, int]

    @property
    def tiles_per_chip(self) -> int:
        return self.tile_mesh[0] * self.tile_mesh[1]

    @property
    def cores_per_chip(self) -> int:
        return self.cores_per_tile * self.tiles_per_chip


@dataclass(frozen=True)
class Energy:
    """Joules per event; ``static_power_w`` in watts per chip in use."""

    synop_dense_j: float
    synop_sparse_j: float
    synop_conv_j: float
    neuron_access_j: float
    neuron_update_j: float
    spike_out_j: float
    message_out_j: float
    hop_ew_j: float
    hop_ns_j: float
    chip_crossing_j: float
    static_power_w: float


@dataclass(frozen=True)
class Latency:
    """Seconds per event; ``barrier_s`` is a table of (chips, seconds per step)."""

    synop_dense_s: float
    synop_sparse_s: float
    synop_conv_s: float
    neuron_access_s: float
    neuron_update_s: float
    spike_out_s: float
    message_out_s: float
    message_in_s: float
    hop_ew_s: float
    hop_ns_s: float
    chip_crossing_s: float
    barrier_s: tuple[tuple[float, float], ...]

    def barrier(self, chips: int) -> float:
        """Barrier time per step for ``chips`` chips, interpolated in log2(chips)."""
        table = sorted(self.barrier_s)
        if chips <= table[0][0]:
            return table[0][1]
        for (c0, t0), (c1, t1) in zip(table, table[1:]):
            if chips <= c1:
                f = (math.log2(chips) - math.log2(c0)) / (math.log2(c1) - math.log2(c0))
                return t0 + f * (t1 - t0)
        return table[-1][1]


@dataclass(frozen=True)
class HardwareSpec:
    name: str
    description: str
    numerics: Numerics
    core: Core
    mesh: Mesh
    energy: Energy
    latency: Latency
    sources: dict = field(default_factory=dict, compare=False)
    """``"section.field"`` → ``{"unit", "source", "assumption"}`` for every value."""
    raw: dict = field(default_factory=dict, compare=False)
    """The TOML as loaded (stored in compiled programs so they are self-describing)."""

    @property
    def assumptions(self) -> list[str]:
        return [k for k, v in self.sources.items() if v.get("assumption")]


SECTIONS = {"numerics": Numerics, "core": Core, "mesh": Mesh, "energy": Energy,
            "latency": Latency}


def available() -> list[str]:
    """Names of the configs shipped with neurocc."""
    return sorted(p.stem for p in HERE.glob("*.toml"))


def load_hw(name_or_path: str | Path) -> HardwareSpec:
    """Load a shipped config by name (``"loihi2"``) or any TOML file by path."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        path = p
    else:
        path = HERE / f"{name_or_path}.toml"
        if not path.exists():
            raise ConfigError(f"unknown hardware '{name_or_path}'; choose one of "
                              f"{', '.join(available())} or give a path to a .toml file")
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"hardware config '{path}' does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"hardware config '{path}' is not valid TOML: {e}") from None
    return from_dict(raw, str(path))


def from_dict(raw: dict, where: str = "<config>") -> HardwareSpec:
    sources, sections = {}, {}
    for sec, cls in SECTIONS.items():
        table = raw.get(sec)
        if not isinstance(table, dict):
            raise ConfigError(f"hardware config '{where}': missing section [{sec}]")
        values = {}
        for f in fields(cls):
            entry = table.get(f.name)
            if entry is None:
                raise ConfigError(f"hardware config '{where}': [{sec}] lacks '{f.name}' "
                                  "(see hw_configs/README.md)")
            if not isinstance(entry, dict) or "value" not in entry or not entry.get("source"):
                raise ConfigError(
                    f"hardware config '{where}': [{sec}] {f.name} must be an inline table "
                    "{ value = ..., unit = \"...\", source = \"...\" }: every constant needs "
                    "its source")
            v = entry["value"]
            if isinstance(v, list):
                v = tuple(tuple(x) if isinstance(x, list) else x for x in v)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0 and \
                    not f.name.endswith("_min"):
                raise ConfigError(f"hardware config '{where}': [{sec}] {f.name} = {v} < 0")
            values[f.name] = v
            sources[f"{sec}.{f.name}"] = {"unit": entry.get("unit", ""),
                                          "source": entry["source"],
                                          "assumption": bool(entry.get("assumption", False))}
        sections[sec] = cls(**values)
    for key in ("name", "description"):
        if not isinstance(raw.get(key), str):
            raise ConfigError(f"hardware config '{where}': missing '{key}'")
    return HardwareSpec(name=raw["name"], description=raw["description"], sources=sources,
                        raw=raw, **sections)
