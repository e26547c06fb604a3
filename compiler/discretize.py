"""Discretize: continuous-time IR → per-step factors (forward Euler, as snnTorch exports).

With time step ``dt``, every neuron becomes, per step::

    U ← (1 − a_u) U + Σ_p W_p x_p          (a_u = dt/τ_syn; without a current, a_u = 1: U = input)
    v ← (1 − a_v) v + U + b                (a_v = dt/τ_mem; 0 for IF)
    spike ← v > θ

The input gains of the ODEs (``r·dt/τ_mem``, ``w_in·dt/τ_syn``) are folded into the rows of
the weight matrices, so ``W_p`` is in units of membrane per input event. Per-neuron
thresholds are normalised to one value per group by scaling each neuron's membrane (exact:
the dynamics are linear in v and reset to 0), because Loihi shares ``vth`` per population.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurocc.compiler.ir import Conv, Dense, Network, NeuronGroup, Projection
from neurocc.errors import QuantizationError, UnsupportedError


@dataclass(frozen=True, eq=False)
class DiscreteGroup:
    """One population with per-step factors. ``threshold`` is the shared (normalised)
    threshold, ``inf`` for non-spiking groups; ``norm`` (n,) maps a neuron's model membrane
    to the normalised one (``v_norm = norm · v``). ``bias`` (n,) is added to v every step."""

    name: str
    nir_node: str
    kind: str
    shape: tuple[int, ...]
    decay_u: float
    decay_v: float
    threshold: float
    bias: np.ndarray
    norm: np.ndarray
    spiking: bool

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True, eq=False)
class DiscreteNetwork:
    network: Network
    groups: tuple[DiscreteGroup, ...]
    projections: tuple[Projection, ...]
    dt: float
    warnings: tuple[str, ...] = ()

    def group(self, name: str) -> DiscreteGroup:
        return next(g for g in self.groups if g.name == name)


def _uniform(values: np.ndarray, what: str, g: NeuronGroup) -> float:
    finite = values[np.isfinite(values)] if np.any(np.isfinite(values)) else values
    if values.size and not np.allclose(values, values[0], rtol=1e-6, atol=0) and \
            not (np.all(np.isinf(values))):
        raise UnsupportedError(
            f"layer '{g.name}' (NIR node '{g.nir_node}'): {len(np.unique(finite))} different "
            f"{what} values in one layer; Loihi's LIF shares one decay per population — "
            "use one value per layer (snnTorch: a scalar beta broadcast to the layer)")
    return float(values[0])


@dataclass(frozen=True)
class Discretize:
    """The discretize pass (``dt`` in seconds)."""

    dt: float = 1e-4
    name = "discretize"

    def run(self, net: Network) -> DiscreteNetwork:
        dt = self.dt
        if not (dt > 0 and np.isfinite(dt)):
            raise QuantizationError(f"dt must be a positive number of seconds, got {dt}")
        groups, row_scale, warnings = [], {}, []
        for g in net.groups:
            tau = _uniform(g.tau_mem, "membrane time constant", g)
            if g.kind == "if":
                a_v, gain = 0.0, dt * g.r
            elif np.isinf(tau):
                # snnTorch's beta = 1 exports tau = r = inf, meaning r·dt/tau = 1 (a perfect
                # integrator). A finite r with tau = inf would give the input no effect at all.
                if not np.all(np.isinf(g.r)):
                    raise UnsupportedError(
                        f"layer '{g.name}' (NIR node '{g.nir_node}'): tau = inf with finite r "
                        "makes r·dt/tau = 0 (input has no effect); use an IF node instead")
                a_v, gain = 0.0, np.ones(g.n)
            else:
                a_v, gain = dt / tau, dt / g.tau_mem * g.r
            if a_v > 1:
                raise QuantizationError(
                    f"layer '{g.name}' (NIR node '{g.nir_node}'): tau_mem {tau:g} s < dt {dt:g} s"
                    "; forward Euler is unstable — use a smaller --dt")
            v_leak_term = a_v * g.v_leak
            if g.has_current:
                tau_s = _uniform(g.tau_syn, "synaptic time constant", g)
                a_u = dt / tau_s
                if a_u > 1:
                    raise QuantizationError(
                        f"layer '{g.name}' (NIR node '{g.nir_node}'): tau_syn {tau_s:g} s < dt "
                        f"{dt:g} s; use a smaller --dt")
                gain = gain * g.w_in * a_u
                # A constant input current settles the synaptic current at gain·b/a_u; Lava
                # has no current bias, so it becomes a membrane bias (exact in steady state).
                bias = gain * g.bias / a_u + v_leak_term
                if np.any(g.bias != 0):
                    warnings.append(
                        f"layer '{g.name}': Affine bias into a current-based neuron moved to the "
                        "membrane at its steady-state value (exact after a few tau_syn)")
            else:
                a_u = 1.0
                bias = gain * g.bias + v_leak_term
            if g.spiking:
                theta = float(np.max(g.v_threshold))
                norm = theta / g.v_threshold
            else:
                theta, norm = float("inf"), np.ones(g.n)
            groups.append(DiscreteGroup(
                name=g.name, nir_node=g.nir_node, kind=g.kind, shape=g.shape, decay_u=a_u,
                decay_v=a_v, threshold=theta, bias=bias * norm, norm=norm, spiking=g.spiking))
            row_scale[g.name] = gain * norm
        projections = []
        for p in net.projections:
            scale = row_scale[p.dst]
            conn = p.conn
            if isinstance(conn, Conv) and not conn.channel_uniform(scale):
                conn = Dense(conn.to_dense())  # per-neuron gains break weight sharing
            projections.append(Projection(p.name, p.src, p.dst, conn.scale_rows(scale),
                                          p.nir_nodes))
        return DiscreteNetwork(net, tuple(groups), tuple(projections), dt, tuple(warnings))
