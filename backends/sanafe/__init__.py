"""The SANA-FE backend: a compiled program run in SANA-FE 2.2's calibrated Loihi architecture
(``loihi.yaml``, shipped in the ``sanafe`` wheel), as a second opinion on energy and latency.

SANA-FE (SLAM-Lab, GPL-3.0) is an optional extra: only this module imports it, and only when
``--backend sanafe`` is asked for. Every neuron sits on the core neurocc placed it on (tiles
renumbered: SANA-FE numbers tiles column-major, neurocc row-major) and the host input enters
at ``mesh.input_core`` as SANA-FE input units. Samples run one at a time from a reset chip.

SANA-FE's ``leaky_integrate_fire`` soma computes in doubles; with the membrane in units of
2^-6 of Lava's (``P = v / 64``) it is Lava's ``fixed_pt`` arithmetic bit for bit when:
threshold ``vth``, bias ``(bias_mant << bias_exp) / 64``, weight ``w · 2^weight_exp`` (conv:
``w``), ``leak_decay = (2^decay_bits − dv) / 2^decay_bits`` (SANA-FE truncates the decayed
membrane to 2^-6 toward zero, as Lava does), ``input_decay = 0`` (Lava's ``du = 4095``), the
lower saturation as a reverse threshold that saturates. neurocc's hold (a layer stays at zero
until its hop depth) is a reverse threshold above everything that resets to zero, lifted at
the layer's depth. What that cannot express is refused before anything runs
(``check``): current decay (``du`` below the maximum: SANA-FE does not truncate u),
subtractive reset with a membrane decay (SANA-FE subtracts before the decay, Lava one step
later, undecayed), graded input, negative weight exponents that drop bits, programs whose
worst-case current can wrap the 24-bit u (SANA-FE does not wrap), synaptic delays (NIR
Delay nodes), more than one chip or a mesh other than SANA-FE's 8 x 4 tiles of 4 cores. An
upward membrane saturation that would change a result (non-spiking layers, subtractive
reset) is detected after the run and raised.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import tempfile
from importlib.resources import files
from pathlib import Path

import numpy as np

try:
    import sanafe
except ImportError:   # get_backend turns this into BackendUnavailable
    raise ImportError("the SANA-FE simulator is not installed "
                      "(pip install sanafe==2.2.9)") from None

from neurocc.api.errors import NeuroccError
from neurocc.backends.base import Trace
from neurocc.compiler.ir.connectivity import Conv
from neurocc.compiler.ir.encoding import SpikeInput
from neurocc.compiler.ir.graph import INPUT
from neurocc.compiler.targets.loihi.numerics import LoihiNumerics, bias_value

SANAFE_VERSION = importlib.metadata.version("sanafe")
if not SANAFE_VERSION.startswith("2.2."):
    raise ImportError(f"sanafe {SANAFE_VERSION} is installed, the backend was validated on "
                      "2.2.x (pip install sanafe==2.2.9)")

TILE_MESH = (8, 4)        # loihi.yaml: mesh width 8, height 4
CORES_PER_TILE = 4
UNITS_PER_CORE = 1024     # loihi.yaml: max_neurons_supported, and loihi_inputs[0..1023]
NEVER = 1e30              # a threshold nothing reaches
P = float(1 << LoihiNumerics.ACT_SHIFT)
"""Lava's integers per SANA-FE potential unit: inputs and thresholds are aligned by 6 bits
(``a_in << 6``, ``vth << 6``), so SANA-FE's ``P = v / 64``."""


class SanafeUnsupported(NeuroccError):
    """The program uses something SANA-FE's Loihi model cannot reproduce exactly."""


def _refuse(what: str, why: str) -> None:
    raise SanafeUnsupported(f"backend 'sanafe' cannot run {what}: {why}; use the emulator "
                            "(or recompile without it)")


def _weights(p) -> np.ndarray:
    """Dense ``(n_post, n_pre)`` weights as SANA-FE gets them (in u units of 2^-6 · v)."""
    w = np.asarray(p.conn.to_dense(), dtype=np.int64)
    if isinstance(p.conn, Conv):        # Lava's Conv ignores the weight exponent
        return w.astype(np.float64)
    e = p.weight_exp
    if e >= 0:
        return (w << e).astype(np.float64)
    return (w >> -e).astype(np.float64)   # exact: check() made sure no bit is dropped


def check(program) -> None:
    """Raise ``SanafeUnsupported`` (one line: what and why) unless SANA-FE reproduces the
    program bit for bit."""
    if getattr(program, "target", None) != "loihi":
        _refuse("this program", "it is not a Loihi program")
    num = program.numerics
    if not isinstance(program.input_encoding, SpikeInput):
        _refuse("graded input", "SANA-FE's input units send binary spikes only")
    m = program.hw.mesh
    if m.cores_per_tile != CORES_PER_TILE or tuple(m.tile_mesh) != TILE_MESH:
        _refuse(f"hardware '{program.hw.name}'",
                f"its chip is {m.tile_mesh[0]}x{m.tile_mesh[1]} tiles of {m.cores_per_tile} "
                "cores, SANA-FE's Loihi is 8x4 tiles of 4 cores")
    chips = set((program.placement.slices[:, 3] // m.cores_per_chip).tolist())
    chips.add(m.input_core // m.cores_per_chip)
    if len(chips) > 1:
        _refuse(f"a program on {len(chips)} chips (input included)",
                "SANA-FE's Loihi architecture is one chip")
    for p in program.projections:
        if getattr(p, "delay", None) is not None:
            _refuse(f"projection '{p.name}' with synaptic delays (NIR Delay node "
                    f"{', '.join(p.delay.nodes)})",
                    "neurocc gives SANA-FE undelayed synapses only (its delayed dendrite "
                    "model is not validated against Lava's DelayDense timing)")
    unity, smax = num.decay_unity, num.state_max
    for g in program.groups:
        if num.u_keep(g.du) != 0:
            _refuse(f"layer '{g.name}' (NIR '{g.nir_node}'), current decay du={g.du}",
                    "SANA-FE decays the current without Lava's truncation (only du="
                    f"{unity - 1}, no current, is exact)")
        if g.spiking and g.reset == "subtract" and g.dv != 0:
            _refuse(f"layer '{g.name}' (NIR '{g.nir_node}'), subtractive reset with dv={g.dv}",
                    "SANA-FE subtracts the threshold before the leak, Lava one step later "
                    "undecayed (exact only with dv=0)")
        if g.spiking and (g.vth << num.VTH_SHIFT) >= smax - 1:
            _refuse(f"layer '{g.name}', threshold {g.vth}", "it is above the 24-bit membrane")
    pos = {g.name: np.zeros(g.n) for g in program.groups}
    neg = {g.name: np.zeros(g.n) for g in program.groups}
    for p in program.projections:
        if not isinstance(p.conn, Conv) and p.weight_exp < 0:
            w = np.asarray(p.conn.to_dense(), dtype=np.int64)
            if np.any(w % (1 << -p.weight_exp)):
                _refuse(f"projection '{p.name}', weight exponent {p.weight_exp}",
                        "Lava floors the summed input, SANA-FE sums the scaled weights")
        w = _weights(p)
        pos[p.dst] += np.clip(w, 0, None).sum(axis=1)
        neg[p.dst] += np.clip(w, None, 0).sum(axis=1)
    for g in program.groups:
        hi, lo = float(pos[g.name].max(initial=0)), float(neg[g.name].min(initial=0))
        if hi * P > smax or lo * P <= -smax:
            _refuse(f"layer '{g.name}' (NIR '{g.nir_node}')",
                    f"its worst-case input ({lo:g}..{hi:g}) can wrap the {num.state_bits}-bit "
                    "current, and SANA-FE does not wrap")


def _sanafe_core(core: int, hw):
    """(SANA-FE tile id, core offset) of neurocc's global core ``core``."""
    m = hw.mesh
    local = core % m.cores_per_chip
    tile, offset = divmod(local, m.cores_per_tile)
    x, y = tile % m.tile_mesh[0], tile // m.tile_mesh[0]
    return x * m.tile_mesh[1] + y, offset


def _arch(units: int, inputs: int):
    """SANA-FE's ``loihi.yaml`` with ``inputs`` input units per core instead of 1,024 (they
    model no cost; fewer make the chip much faster to build) and, where a core holds more
    than 1,024 neurons and inputs (Loihi 2 programs hold up to 8,192), its neuron limit
    raised to ``units``. No energy or latency figure changes."""
    text = (files("sanafe.examples") / "loihi.yaml").read_text()
    raised = units > UNITS_PER_CORE
    new = text.replace("loihi_inputs[0..1023]", f"loihi_inputs[0..{max(inputs, 1) - 1}]")
    if raised:
        new = new.replace("max_neurons_supported: 1024", f"max_neurons_supported: {units}")
    if new.count("loihi_inputs[0..") != 1 or (raised and str(units) not in new):
        raise NeuroccError("backend 'sanafe': the installed loihi.yaml has an unexpected form; "
                           "pip install sanafe==2.2.9")
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "loihi.yaml"
        f.write_text(new)
        return sanafe.load_arch(str(f)), raised


class SanafeBackend:
    """Runs a program in SANA-FE's Loihi architecture. After ``simulate``, ``last_report``
    holds SANA-FE's own figures per inference: dynamic energy (J, total and by unit),
    latency (s; and ``latency_per_step_s``, ``[step][sample]``, barrier included), and its
    counters (its ``spikes`` counter counts synaptic events).

    ``timing_model``: SANA-FE's ``detailed`` (its default; neurocc's scheduled estimate,
    ``ActivityCounter(schedule=True)``, replicates it) or ``simple`` (neurocc's two-chain
    ``latency_per_inference_s`` without the longest route). On placements over several
    tiles ``detailed`` is not repeatable: SANA-FE orders a neuron's messages to its
    destination cores by the cores' memory addresses (a ``std::set<Core *>``), which can
    change from one chip built to the next."""

    name = "sanafe"

    def __init__(self, timing_model: str = "detailed"):
        if timing_model not in ("detailed", "simple"):
            raise NeuroccError(f"backend 'sanafe': unknown timing_model '{timing_model}'; "
                               "choose detailed or simple")
        self.timing_model = timing_model
        self.last_report: dict | None = None

    # ------------------------------------------------------------------ building

    def _build(self, program, record_u: bool):
        hw = program.hw
        num = program.numerics
        n_in = program.n_inputs
        names = {g.name: f"g{i:04d}" for i, g in enumerate(program.groups)}
        per_core: dict[int, int] = {hw.mesh.input_core: n_in}
        for _, a, b, c in program.placement.slices:
            per_core[int(c)] = per_core.get(int(c), 0) + int(b - a)
        arch, raised = _arch(max(per_core.values(), default=0), n_in)
        net = sanafe.Network()
        lim = (num.state_max - 1) / P
        normal, hold = {}, {}
        groups = {}
        for g in program.groups:
            attrs = {"threshold": float(g.vth) if g.spiking else NEVER,
                     "reset": 0.0, "leak_decay": num.v_keep(g.dv) / num.decay_unity,
                     "input_decay": 0.0, "reverse_threshold": -lim,
                     "reverse_reset_mode": "saturate", "bias": 0.0}
            attrs["reset_mode"] = ("none" if not g.spiking else
                                   "soft" if g.reset == "subtract" else "hard")
            if record_u:
                attrs["log_u"] = True
            normal[g.name] = {k: attrs[k] for k in
                              ("threshold", "reverse_threshold", "reverse_reset_mode")}
            hold[g.name] = {"threshold": NEVER, "reverse_threshold": NEVER,
                            "reverse_reset_mode": "hard", "reverse_reset": 0.0}
            grp = net.create_neuron_group(
                names[g.name], g.n, model_attributes=attrs, soma_hw_name="loihi_lif",
                default_dendrite_hw_name="loihi_dendrites", log_potential=True,
                log_spikes=True)
            neurons = list(grp)
            bias = bias_value(g.bias_mant, g.bias_exp) / P
            for i in np.flatnonzero(bias):
                neurons[i].set_attributes(model_attributes={"bias": float(bias[i])})
            groups[g.name] = (grp, neurons)
        inp = net.create_neuron_group("input", n_in, model_attributes={})
        in_neurons = list(inp)
        tile, off = _sanafe_core(hw.mesh.input_core, hw)
        for j, n in enumerate(in_neurons):
            n.set_attributes(soma_hw_name=f"loihi_inputs[{j}]")
            n.map_to_core(arch.tiles[tile].cores[off])
        for gi, a, b, c in program.placement.slices:
            tile, off = _sanafe_core(int(c), hw)
            core = arch.tiles[tile].cores[off]
            for n in groups[program.groups[gi].name][1][a:b]:
                n.map_to_core(core)
        synapses = 0
        for p in program.projections:
            w = _weights(p)
            post, pre = np.nonzero(w)
            src = inp if p.src == INPUT else groups[p.src][0]
            hw_name = f"loihi_{p.conn.kind}_synapse"
            for n in groups[p.dst][1]:      # SANA-FE takes the synapse unit from the target
                n.set_attributes(default_synapse_hw_name=hw_name)
            if len(post):
                src.connect_neurons_sparse(groups[p.dst][0], {"weight": w[post, pre].tolist()},
                                           list(zip(pre.tolist(), post.tolist())))
            synapses += len(post)
        chip = sanafe.SpikingChip(arch)
        chip.load(net)
        info = {"units_per_core_raised_to": max(per_core.values()) if raised else None,
                "synapses": synapses, "cores": len(per_core)}
        return chip, names, normal, hold, info

    # ------------------------------------------------------------------ running

    def simulate(self, program, x: np.ndarray, record_state: bool = False) -> Trace:
        check(program)
        steps, batch = x.shape[:2]
        chip, names, normal, hold, info = self._build(program, record_state)
        mapped = chip.mapped_neuron_groups
        m_in = mapped["input"]
        order = sorted(names.values())          # SANA-FE traces groups in name order
        by_sname = {s: n for n, s in names.items()}
        sizes = {g.name: g.n for g in program.groups}
        starts = {g.name: min(program.hop_depths.get(g.name, 0), steps) for g in program.groups}
        spikes = {g.name: np.zeros((steps, batch, g.n), dtype=bool) for g in program.groups}
        v = {g.name: np.zeros((steps, batch, g.n), dtype=np.int64) for g in program.groups}
        u = {g.name: np.zeros((steps, batch, g.n), dtype=np.int64)
             for g in program.groups} if record_state else {}
        totals = dict.fromkeys(("total", "synapse", "dendrite", "soma", "network",
                                "sim_time", "spikes", "packets_sent", "neurons_updated",
                                "neurons_fired"), 0.0)
        bounds = sorted({0, steps, *starts.values()})
        per_step = np.zeros((steps, batch))
        sink = io.StringIO()
        for b in range(batch):
            chip.reset()
            for j, n in enumerate(m_in):
                n.set_attributes(model_attributes={"spikes": (x[:, b, j] != 0).tolist()})
            for name, t0 in starts.items():
                if t0 > 0:
                    for n in mapped[names[name]]:
                        n.set_attributes(model_attributes=hold[name])
            pot, utr, spk = [], [], []
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                for name, t0 in starts.items():
                    if t0 == lo and lo > 0:
                        for n in mapped[names[name]]:
                            n.set_attributes(model_attributes=normal[name])
                with contextlib.redirect_stdout(sink):   # SANA-FE prints its progress
                    r = chip.sim(hi - lo, timing_model=self.timing_model, spike_trace=True,
                                 potential_trace=True, neuron_trace=bool(record_state),
                                 perf_trace=True)
                sink.seek(0)
                sink.truncate()
                for k in ("total", "synapse", "dendrite", "soma", "network"):
                    totals[k] += r["energy"][k]
                for k in ("sim_time", "spikes", "packets_sent", "neurons_updated",
                          "neurons_fired"):
                    totals[k] += r[k]
                per_step[lo:hi, b] = r["perf_trace"]["sim_time"]
                pot.extend(r["potential_trace"])
                spk.extend(r["spike_trace"])
                if record_state:
                    utr.extend(r["neuron_trace"]["u"])
            for t, fired in enumerate(spk):
                for a in fired:
                    name = by_sname.get(a.group_name)
                    if name is not None:
                        spikes[name][t, b, a.neuron_offset] = True
            pv = np.asarray(pot, dtype=np.float64).reshape(steps, -1) * P
            pu = (np.asarray(utr, dtype=np.float64).reshape(steps, -1) * P
                  if record_state else None)
            off = 0
            for s in order:
                name = by_sname[s]
                n = sizes[name]
                v[name][:, b] = np.rint(pv[:, off:off + n]).astype(np.int64)
                if record_state:
                    u[name][:, b] = np.rint(pu[:, off:off + n]).astype(np.int64)
                    u[name][:starts[name], b] = 0        # held: neurocc's state is zero
                off += n
        self._check_saturation(program, spikes, v)
        live = {}
        for g in program.groups:
            if g.spiking and g.reset == "subtract":   # Lava keeps v a step before subtracting
                v[g.name] += spikes[g.name] * (g.vth << program.numerics.VTH_SHIFT)
            lv = np.zeros(v[g.name].shape, dtype=bool)
            lv[1:] = v[g.name][:-1] != 0
            live[g.name] = lv
        keep = program.recorded_membranes(record_state)
        self.last_report = _report(totals, batch, steps, self.timing_model, info, per_step)
        return Trace(spikes=spikes, v={n: v[n] for n in keep}, u=u, saturation=None,
                     fixed_point=True, live=live)

    @staticmethod
    def _check_saturation(program, spikes, v) -> None:
        lim = program.numerics.state_max - 1
        for g in program.groups:
            vv = v[g.name]
            if g.spiking and g.reset == "subtract":
                vv = vv + spikes[g.name] * (g.vth << program.numerics.VTH_SHIFT)
            elif g.spiking:
                continue          # zero reset: a saturated membrane spikes and resets alike
            if vv.size and int(np.abs(vv).max()) > lim:
                raise SanafeUnsupported(
                    f"backend 'sanafe': the membrane of layer '{g.name}' went past the "
                    f"{program.numerics.state_bits}-bit limit, where Lava saturates and "
                    "SANA-FE does not; use the emulator")


def _report(t: dict, batch: int, steps: int, timing_model: str, info: dict,
            per_step: np.ndarray) -> dict:
    per = {k: float(val) / batch for k, val in t.items()}
    return {
        "sanafe_version": SANAFE_VERSION,
        "architecture": "SANA-FE loihi.yaml (Loihi 1, one chip)"
                        + (f"; per-core neuron and input-unit limits raised to "
                           f"{info['units_per_core_raised_to']}"
                           if info["units_per_core_raised_to"] else ""),
        "timing_model": timing_model,
        "samples": batch,
        "steps_per_sample": steps,
        "energy_per_inference_j": per["total"],
        "energy_breakdown_j": {k: per[k] for k in ("synapse", "dendrite", "soma", "network")},
        "latency_per_inference_s": per["sim_time"],
        "latency_per_step_s": per_step.tolist(),
        "synaptic_events_per_inference": per["spikes"],
        "messages_per_inference": per["packets_sent"],
        "neuron_updates_per_inference": per["neurons_updated"],
        "neurons_fired_per_inference": per["neurons_fired"],
        "synapses": info["synapses"],
        "cores": info["cores"],
        "static_energy": "not modelled by SANA-FE (dynamic energy only)",
    }


__all__ = ["SanafeBackend", "SanafeUnsupported", "check"]
