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
    """Limits of one neuro-core (definitions in ``hw_configs/README.md``)."""

    neurons_per_core: int
    synaptic_memory_bits_per_core: int
    synapse_index_bits: int
    conv_kernel_shared: bool
    input_axons_per_core: int
    output_axons_per_core: int


@dataclass(frozen=True)
class Mesh:
    """Cores sit in tiles (one router each); tiles form a ``tile_mesh`` per chip, chips a
    ``chip_mesh``. Global core ``c`` is on chip ``c // cores_per_chip``; tiles and chips are
    numbered row-major (x fastest). Host input spikes enter the mesh at core ``input_core``."""

    cores_per_tile: int
    tile_mesh: tuple[int, int]
    chips_per_system: int
    chip_mesh: tuple[int, int]
    input_core: int

    @property
    def tiles_per_chip(self) -> int:
        return self.tile_mesh[0] * self.tile_mesh[1]

    @property
    def cores_per_chip(self) -> int:
        return self.cores_per_tile * self.tiles_per_chip

    @property
    def n_cores(self) -> int:
        """Cores in the whole system."""
        return self.cores_per_chip * self.chips_per_system


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
    _check_geometry(sections["core"], sections["mesh"], where)
    return HardwareSpec(name=raw["name"], description=raw["description"], sources=sources,
                        raw=raw, **sections)


def _check_geometry(core: Core, mesh: Mesh, where: str) -> None:
    """Shapes and limits that must hold for partition, place and route to make sense."""
    problems = []
    for name in ("neurons_per_core", "synaptic_memory_bits_per_core", "input_axons_per_core",
                 "output_axons_per_core"):
        if not isinstance(getattr(core, name), int) or getattr(core, name) < 1:
            problems.append(f"[core] {name} must be a positive integer")
    for name in ("tile_mesh", "chip_mesh"):
        v = getattr(mesh, name)
        if not (isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, int) and x >= 1
                                                            for x in v)):
            problems.append(f"[mesh] {name} must be two positive integers [x, y]")
    if not problems:
        if mesh.chip_mesh[0] * mesh.chip_mesh[1] != mesh.chips_per_system:
            problems.append(f"[mesh] chip_mesh {list(mesh.chip_mesh)} holds "
                            f"{mesh.chip_mesh[0] * mesh.chip_mesh[1]} chips, chips_per_system "
                            f"is {mesh.chips_per_system}")
        if mesh.cores_per_tile < 1:
            problems.append("[mesh] cores_per_tile must be a positive integer")
        elif not 0 <= mesh.input_core < mesh.n_cores:
            problems.append(f"[mesh] input_core {mesh.input_core} is not a core of the system "
                            f"(0..{mesh.n_cores - 1})")
    if problems:
        raise ConfigError(f"hardware config '{where}': " + "; ".join(problems))


def override(hw: HardwareSpec, values: dict, source: str = "override") -> HardwareSpec:
    """A copy of ``hw`` with ``{"section.field": value}`` replaced, each marked as an
    assumption with ``source``. The stored TOML (``raw``) changes too, so a program compiled
    for the copy is saved and reloaded with the same values."""
    import copy

    raw = copy.deepcopy(hw.raw)
    for key, value in values.items():
        sec, name = key.split(".")
        if sec not in raw or name not in raw[sec]:
            raise ConfigError(f"cannot override '{key}': {hw.name} has no such field")
        entry = dict(raw[sec][name])
        entry.update(value=list(value) if isinstance(value, tuple) else value,
                     source=f"ASSUMPTION: {source}", assumption=True)
        raw[sec][name] = entry
    return from_dict(raw, f"{hw.name} (overridden)")
