"""The Loihi program: Lava's fixed-point parameters, the placement, and the float IR it came
from. ``compiler/artifact.py`` saves and loads it (``neurocc compile -o PROGRAM``); a loaded
program's float weights may be read back from its ``.nir`` on first use (``float_weights.py``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np

from neurocc.compiler.ir.connectivity import Connectivity
from neurocc.compiler.ir.delays import Delays
from neurocc.compiler.ir.encoding import InputEncoding
from neurocc.compiler.ir.graph import Network, hop_depths, incoming_index
from neurocc.compiler.ir.mapping import Placement, Routes
from neurocc.compiler.targets.loihi.numerics import LoihiNumerics
from neurocc.hw_configs import HardwareSpec

SEMANTICS = "Lava 0.10 fixed_pt process models"
"""Whose arithmetic a Loihi program follows, bit for bit."""


@dataclass(frozen=True, eq=False)
class LoihiGroup:
    """A LIF population in Lava's fixed-point format.

    ``du``, ``dv`` ∈ [0, 2^decay_bits − 1]; ``vth`` the threshold mantissa (compared as
    ``vth << 6``); ``bias_mant`` (n,) with one ``bias_exp``; ``reset`` "zero" or "subtract";
    ``kind`` the IR neuron kind it came from (a label for reports). ``v_scale`` (n,) converts
    the integer membrane back to model units: ``v_model = v_int / v_scale``.
    """

    name: str
    nir_node: str
    kind: str
    shape: tuple[int, ...]
    du: int
    dv: int
    vth: int
    bias_mant: np.ndarray
    bias_exp: int
    reset: str
    spiking: bool
    v_scale: np.ndarray

    @property
    def n(self) -> int:
        return int(math.prod(self.shape))       # read per block: math.prod, not np.prod

    @property
    def always_updated(self) -> bool:
        """Every neuron has a bias, so every neuron is updated every step (SANA-FE's rule,
        ``cost/activity.py``): whether its membrane was live changes no count, and the
        emulator does not record it."""
        return bool(np.all(np.asarray(self.bias_mant) != 0))


@dataclass(frozen=True, eq=False)
class LoihiProjection:
    """Integer synapses: ``conn`` holds integer weights (Lava-representable, so Lava's own
    truncation is a no-op), shifted by ``weight_exp`` after accumulation (ignored by conv,
    as in Lava's Conv). The compiler stores them in ``LoihiNumerics.weight_dtype`` (int16
    for 8-bit weights: a quarter of int64 at a billion synapses), so a backend widens them
    to int64 before it sums. ``delay``: whole-step synaptic delays (``ir/delays.py``; never
    on a conv), or None. A spike sent at step t reaches synapse (i, j) at step t + 1 + d[i, j];
    Lava's ``DelayDense`` shifts the sum of each step's spikes per delay, and so does the
    emulator."""

    name: str
    src: str
    dst: str
    conn: Connectivity
    weight_exp: int
    sign_mode: str
    nir_nodes: tuple[str, ...] = ()
    num_weight_bits: int = 8
    delay: Delays | None = None


@dataclass(frozen=True)
class LayerQuantization:
    """How one layer was quantized: its scale (integer threshold units per model membrane
    unit) and the limit that bound it, the registers chosen, and the rounding errors."""

    nir_node: str
    scale: float
    scale_limited_by: str
    vth: int | None
    du: int
    dv: int
    bias_exp: int
    decay_v_error: float
    decay_u_error: float
    bias_max_abs_error: float
    threshold_rel_error: float


@dataclass(frozen=True)
class ProjectionQuantization:
    """How one projection was quantized: exponent, Lava sign mode, storage kind, errors."""

    weight_exp: int
    sign_mode: str
    kind: str
    weight_rms_rel_error: float
    weight_max_abs_error: float
    weights_rounded_to_zero: int


@dataclass(frozen=True)
class QuantizationReport:
    layers: dict[str, LayerQuantization] = field(default_factory=dict)
    projections: dict[str, ProjectionQuantization] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"layers": {k: asdict(v) for k, v in self.layers.items()},
                "projections": {k: asdict(v) for k, v in self.projections.items()},
                "warnings": list(self.warnings)}

    @classmethod
    def from_dict(cls, d: dict) -> QuantizationReport:
        return cls({k: LayerQuantization(**v) for k, v in d["layers"].items()},
                   {k: ProjectionQuantization(**v) for k, v in d["projections"].items()},
                   tuple(d["warnings"]))


@dataclass(frozen=True, eq=False)
class LoweredNetwork:
    """The output of lowering (``state.lowered``): groups and projections in Lava's numbers,
    the input encoding with its payload scale, and the quantization report."""

    groups: tuple[LoihiGroup, ...]
    projections: tuple[LoihiProjection, ...]
    input_encoding: InputEncoding
    report: QuantizationReport


@dataclass(frozen=True, eq=False)
class LoihiProgram:
    """A network compiled for a Loihi-family chip.

    ``dt`` (s) and ``reset`` are the semantics it was compiled with; ``depth`` the pipeline
    depth in steps; ``route_totals`` the traffic estimate the route pass made;
    ``source`` where the network came from."""

    hw: HardwareSpec
    dt: float
    reset: str
    input_shape: tuple[int, ...]
    input_encoding: InputEncoding
    groups: tuple[LoihiGroup, ...]
    projections: tuple[LoihiProjection, ...]
    outputs: tuple[str, ...]
    network: Network
    depth: int
    placement: Placement
    report: QuantizationReport = field(default_factory=QuantizationReport)
    source: dict = field(default_factory=dict)
    route_totals: dict = field(default_factory=dict)

    target = "loihi"
    semantics = SEMANTICS

    RUN_CACHES = ("_activity_plans", "_emulator_weights", "_emulator_tables",
                  "_emulator_params", "_emulator_synapses", "_emulator_plan", "_emulator_order")
    """What running a program caches on it (the counter's message maps; the emulator's
    transposed weights, pattern tables, neuron parameters, synapse blocks, per-group plan
    and group order): rebuilt where needed, never pickled to a cluster's workers."""

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in self.RUN_CACHES}

    def __setstate__(self, state):
        self.__dict__.update(state)

    @property
    def numerics(self) -> LoihiNumerics:
        return LoihiNumerics.from_hw(self.hw)

    @property
    def n_inputs(self) -> int:
        return int(math.prod(self.input_shape))

    @cached_property
    def _index(self) -> dict[str, int]:
        return {g.name: i for i, g in enumerate(self.groups)}

    def group_index(self, name: str) -> int:
        return self._index[name]

    def group(self, name: str) -> LoihiGroup:
        return self.groups[self._index[name]]

    def incoming(self, name: str) -> tuple[LoihiProjection, ...]:
        """The projections into group ``name``, in program order."""
        return self._incoming.get(name, ())

    @cached_property
    def _incoming(self) -> dict[str, tuple[LoihiProjection, ...]]:
        return incoming_index(self.projections)

    @cached_property
    def hop_depths(self) -> dict[str, int]:
        """Hops from the input to every group (how long it is held at a sample's start)."""
        return hop_depths(self.network)

    @property
    def max_delay(self) -> int:
        """The longest synaptic delay of any projection, in steps (0: none)."""
        return max((int(p.delay.max) for p in self.projections if p.delay is not None),
                   default=0)

    @property
    def n_neurons(self) -> int:
        return sum(g.n for g in self.groups)

    @property
    def chips_used(self) -> int:
        cpc = self.hw.mesh.cores_per_chip
        return int(len(np.unique(self.placement.slices[:, 3] // cpc)))

    @cached_property
    def routes(self) -> Routes:
        """Where every source's spikes go (recomputed from the placement once, then kept)."""
        from neurocc.compiler.passes.route import route

        return route(self.groups, self.projections, self.placement, self.hw, self.n_inputs)

    def recorded_membranes(self, record_state: bool) -> list[str]:
        """Groups whose membrane a backend records: all of them with ``record_state``,
        otherwise the non-spiking outputs (their membrane is the output)."""
        return [g.name for g in self.groups
                if record_state or (g.name in self.outputs and not g.spiking)]

    # ------------------------------------------------------------------ the user's verbs

    def run(self, x, backend: str = "emulator", **options):
        """Run ``x`` ``(steps, batch, *input_shape)`` on ``backend`` (``emulator``, ``lava``,
        ``reference``); returns a ``RunResult`` (``to_dict()`` is ``neurocc run --json``).
        Options are ``neurocc.backends.run``'s: ``drain``, ``record_state``, ``workers``
        (threads, each a chunk of the samples), ``scheduler`` (a Dask scheduler address or
        client to run the chunks on), and the backend's own (Lava: ``timeout_s``,
        ``on_chip``; emulator: ``schedule``, ``events``)."""
        from neurocc.backends.run import run

        return run(self, x, backend=backend, **options)

    def save(self, path, embed_float_weights: bool = False):
        """Write the program artifact (``neurocc.load`` or ``neurocc run`` read it). The float
        IR's weights stay in the ``.nir`` the program was compiled from when that file is
        there, unless ``embed_float_weights`` (for a program that travels without it and
        still runs the float reference)."""
        from neurocc.compiler.artifact import save

        return save(self, path, embed_float_weights=embed_float_weights)

    def info(self, detail: bool = True) -> dict:
        """Cores, chips, utilisation, quantization and traffic (``neurocc info --json``)."""
        from neurocc.reports.summary import program_summary

        return program_summary(self, detail=detail)
