"""Hardware descriptions: one TOML per target, loaded into one typed ``HardwareSpec``.

Every value in a config is an inline table ``{ value, unit, source }`` (plus
``assumption = true`` where no published figure exists). The loader refuses a value without
a source, so no number reaches a report without one. Field meanings and units are listed in
``hw_configs/README.md``.
"""

from __future__ import annotations

import math
import sys
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from neurocc.api.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent


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
    """Seconds per event; ``barrier_s`` is a table of (tiles in use, seconds per step), read
    by ``cost/latency.py``."""

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
    link_buffer_messages: float


@dataclass(frozen=True)
class HardwareSpec:
    """One target system. ``target`` names the chip family (``compiler/targets``), which owns
    the ``numerics`` (its number formats, parsed from ``[numerics]``)."""

    name: str
    description: str
    target: str
    numerics: Any
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

    def value(self, key: str):
        """The value of ``"section.field"`` (e.g. ``"energy.spike_out_j"``)."""
        sec, name = split_key(key)
        return getattr(getattr(self, sec), name)


def split_key(key: str) -> tuple[str, str]:
    """``"section.field"`` → ``("section", "field")``."""
    sec, _, name = key.partition(".")
    return sec, name


SECTIONS = {"core": Core, "mesh": Mesh, "energy": Energy, "latency": Latency}
"""The sections every config has, whatever its target; ``[numerics]`` belongs to the target."""
DEFAULT_TARGET = "loihi"
"""Target of a config that names none (every config before targets existed was Loihi)."""


def available() -> list[str]:
    """Names of the configs shipped with neurocc."""
    return sorted(p.stem for p in HERE.glob("*.toml"))


def load_hw(name_or_path: str | Path) -> HardwareSpec:
    """Load a shipped config by name (``"loihi2"``) or any TOML file by path."""
    p = Path(name_or_path)
    if str(name_or_path).strip() == "" or p.is_dir():
        raise ConfigError(f"hardware config '{name_or_path}' is not a file; give a name "
                          f"({', '.join(available())}) or a path to a .toml file")
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
        raise ConfigError(f"hardware config '{path}' does not exist; check the path") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"hardware config '{path}' is not UTF-8 text (byte {e.start}); save "
                          "it as UTF-8") from None
    except OSError as e:
        raise ConfigError(f"cannot read hardware config '{path}': {e.strerror}; check the file "
                          "and its permissions") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"hardware config '{path}' is not valid TOML: {e}; fix the syntax "
                          "(see hw_configs/README.md)") from None
    return from_dict(raw, str(path))


def from_dict(raw: dict, where: str = "<config>") -> HardwareSpec:
    """Build a ``HardwareSpec`` from a loaded TOML table, checking every value's presence,
    source, type and range."""
    from neurocc.compiler.targets import get_target

    if not isinstance(raw, dict):
        raise ConfigError(f"hardware config '{where}' is not a table; give a TOML table of "
                          "sections (see hw_configs/README.md)")
    target_name = raw.get("target", DEFAULT_TARGET)
    try:
        target = get_target(target_name)
    except KeyError as e:
        raise ConfigError(f"hardware config '{where}': {e.args[0]}") from None
    sources, sections = {}, {}
    for sec, cls in {"numerics": target.numerics_type, **SECTIONS}.items():
        sections[sec] = cls(**_section(raw, sec, cls, where, sources))
    for key in ("name", "description"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"hardware config '{where}': missing '{key}' (a string); add "
                              f"{key} = \"...\" at the top")
    _check_geometry(sections["core"], sections["mesh"], where)
    target.check_numerics(sections["numerics"], where)
    return HardwareSpec(name=raw["name"], description=raw["description"], target=target_name,
                        sources=sources, raw=raw, **sections)


def _section(raw: dict, sec: str, cls: type, where: str, sources: dict) -> dict:
    """The values of section ``[sec]`` for the dataclass ``cls``, each checked against the
    field's type; records every value's unit, source and assumption flag in ``sources``."""
    table = raw.get(sec)
    if not isinstance(table, dict):
        raise ConfigError(f"hardware config '{where}': missing section [{sec}] (see "
                          "hw_configs/README.md)")
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields(cls):
        entry = table.get(f.name)
        if entry is None:
            raise ConfigError(f"hardware config '{where}': [{sec}] lacks '{f.name}' "
                              "(see hw_configs/README.md)")
        if not isinstance(entry, dict) or "value" not in entry or \
                not isinstance(entry.get("source"), str) or not entry["source"]:
            raise ConfigError(
                f"hardware config '{where}': [{sec}] {f.name} must be an inline table "
                "{ value = ..., unit = \"...\", source = \"...\" }: every constant needs "
                "its source")
        values[f.name] = _typed(entry["value"], hints[f.name], f"[{sec}] {f.name}", where)
        sources[f"{sec}.{f.name}"] = {"unit": str(entry.get("unit", "")),
                                      "source": entry["source"],
                                      "assumption": bool(entry.get("assumption", False))}
    return values


INT_LIMIT = 2**31 - 1
"""The largest integer a config field may hold (the mesh and core arithmetic is int64)."""


def _typed(v, hint, what: str, where: str):
    """``v`` checked against ``hint`` (int, float, bool or a tuple of those); lists become
    tuples, ints are accepted for floats."""
    def bad(expected: str):
        return ConfigError(f"hardware config '{where}': {what} = {v!r} must be {expected}")

    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(v, (list, tuple)):
            raise bad("a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_typed(x, args[0], what, where) for x in v)
        if len(v) != len(args):
            raise bad(f"a list of {len(args)} values")
        return tuple(_typed(x, a, what, where) for x, a in zip(v, args))
    if hint is bool:
        if not isinstance(v, bool):
            raise bad("true or false")
        return v
    if hint is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise bad("an integer")
        if v < 0 and not what.endswith("_min"):
            raise bad("an integer >= 0")
        if abs(v) > INT_LIMIT:          # counts and widths of a chip: far below this
            raise bad(f"an integer of at most {INT_LIMIT}")
        return v
    if hint is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise bad("a finite number")
        if v < 0:
            raise bad("a number >= 0")
        return float(v)
    raise TypeError(f"no check for {hint!r}")  # pragma: no cover - a field type without a rule


def _check_geometry(core: Core, mesh: Mesh, where: str) -> None:
    """Shapes and limits that must hold for partition, place and route to make sense."""
    problems = []
    for name in ("neurons_per_core", "synaptic_memory_bits_per_core", "input_axons_per_core",
                 "output_axons_per_core"):
        if not isinstance(getattr(core, name), int) or getattr(core, name) < 1:
            problems.append(f"[core] {name} must be a positive integer")
    for name in ("tile_mesh", "chip_mesh"):
        v = getattr(mesh, name)
        if not all(x >= 1 for x in v):
            problems.append(f"[mesh] {name} must be two positive integers [x, y]")
    if not problems:
        if mesh.chip_mesh[0] * mesh.chip_mesh[1] != mesh.chips_per_system:
            problems.append(f"[mesh] chip_mesh {list(mesh.chip_mesh)} holds "
                            f"{mesh.chip_mesh[0] * mesh.chip_mesh[1]} chips, chips_per_system "
                            f"is {mesh.chips_per_system}; make them agree")
        if mesh.cores_per_tile < 1:
            problems.append("[mesh] cores_per_tile must be a positive integer")
        elif not 0 <= mesh.input_core < mesh.n_cores:
            problems.append(f"[mesh] input_core {mesh.input_core} is not a core of the system "
                            f"(0..{mesh.n_cores - 1}); give a core in that range")
    if problems:
        raise ConfigError(f"hardware config '{where}': " + "; ".join(problems))


def override(hw: HardwareSpec, values: dict, source: str = "override") -> HardwareSpec:
    """A copy of ``hw`` with ``{"section.field": value}`` replaced, each marked as an
    assumption with ``source``. The stored TOML (``raw``) changes too, so a program compiled
    for the copy is saved and reloaded with the same values."""
    import copy

    raw = copy.deepcopy(hw.raw)
    for key, value in values.items():
        sec, name = split_key(key)
        if sec not in raw or name not in raw[sec]:
            raise ConfigError(f"cannot override '{key}': {hw.name} has no such field; give "
                              "'section.field' as in hw_configs/README.md")
        entry = dict(raw[sec][name])
        entry.update(value=list(value) if isinstance(value, tuple) else value,
                     source=f"ASSUMPTION: {source}", assumption=True)
        raw[sec][name] = entry
    return from_dict(raw, f"{hw.name} (overridden)")
