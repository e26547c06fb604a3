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

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from neurocc.api.errors import QuantizationError, UnsupportedError
from neurocc.compiler.ir.connectivity import Conv, Dense
from neurocc.compiler.ir.discrete import DiscreteGroup, DiscreteNetwork, DiscreteProjection
from neurocc.compiler.ir.neurons import IF, LI, LIF, CubaLI, CubaLIF, Neurons, Threshold
from neurocc.compiler.passes.base import CompileState, Pass


def _where(g: Neurons) -> str:
    return f"layer '{g.name}' (NIR node '{g.nir_node}')"


def _uniform(values: np.ndarray, what: str, g: Neurons) -> float:
    finite = values[np.isfinite(values)] if np.any(np.isfinite(values)) else values
    if values.size and not np.allclose(values, values[0], rtol=1e-6, atol=0) and \
            not (np.all(np.isinf(values))):
        raise UnsupportedError(
            f"{_where(g)}: {len(np.unique(finite))} different {what} values in one layer; "
            "Loihi's LIF shares one decay per population — use one value per layer "
            "(snnTorch: a scalar beta broadcast to the layer)")
    return float(values[0])


# ----------------------------------------------------------------- forward-Euler rules per kind
# membrane(g, dt) -> (a_v, gain (n,), v_leak term (n,)): v ← (1 − a_v)·v + gain·I + a_v·v_leak
# current(g, dt)  -> a_u, or None when the kind has no current (U = input)


def _leaky_membrane(g, dt: float):
    tau = _uniform(g.tau_mem, "membrane time constant", g)
    if np.isinf(tau):
        # snnTorch's beta = 1 exports tau = r = inf, meaning r·dt/tau = 1 (a perfect
        # integrator). A finite r with tau = inf would give the input no effect at all.
        if not np.all(np.isinf(g.r)):
            raise UnsupportedError(
                f"{_where(g)}: tau = inf with finite r makes r·dt/tau = 0 (input has no "
                "effect); use an IF node instead")
        a_v, gain = 0.0, np.ones(g.n)
    else:
        a_v, gain = dt / tau, dt / g.tau_mem * g.r
    if a_v > 1:
        raise QuantizationError(f"{_where(g)}: tau_mem {tau:g} s < dt {dt:g} s; forward "
                                "Euler is unstable — use a smaller --dt")
    return a_v, gain, a_v * g.v_leak


def _integrator_membrane(g: IF, dt: float):
    return 0.0, dt * g.r, np.zeros(g.n)


def _memoryless_membrane(g: Threshold, dt: float):
    return 1.0, np.ones(g.n), np.zeros(g.n)


def _no_current(g, dt: float):
    return None


def _synaptic_current(g, dt: float):
    tau_s = _uniform(g.tau_syn, "synaptic time constant", g)
    a_u = dt / tau_s
    if a_u > 1:
        raise QuantizationError(f"{_where(g)}: tau_syn {tau_s:g} s < dt {dt:g} s; use a "
                                "smaller --dt")
    return a_u


EULER: dict[type, tuple[Callable, Callable]] = {
    LIF: (_leaky_membrane, _no_current),
    CubaLIF: (_leaky_membrane, _synaptic_current),
    IF: (_integrator_membrane, _no_current),
    LI: (_leaky_membrane, _no_current),
    CubaLI: (_leaky_membrane, _synaptic_current),
    Threshold: (_memoryless_membrane, _no_current),
}
"""Neuron kind → (membrane rule, current rule)."""


def discretize_group(g: Neurons, dt: float) -> tuple[DiscreteGroup, np.ndarray, str | None]:
    """One group's per-step factors, the row scale its incoming weights take (the input
    gain times the threshold normalisation), and a warning where the result is approximate."""
    membrane, current = EULER[type(g)]
    a_v, gain, v_leak_term = membrane(g, dt)
    a_u = current(g, dt)
    warning = None
    if a_u is not None:
        gain = gain * g.w_in * a_u
        # A constant input current settles the synaptic current at gain·b/a_u; Lava has no
        # current bias, so it becomes a membrane bias (exact in steady state).
        bias = gain * g.bias / a_u + v_leak_term
        if np.any(g.bias != 0):
            warning = (f"layer '{g.name}': Affine bias into a current-based neuron moved to "
                       "the membrane at its steady-state value (exact after a few tau_syn)")
    else:
        a_u = 1.0
        bias = gain * g.bias + v_leak_term
    if g.spiking:
        theta = float(np.max(g.v_threshold))
        norm = theta / g.v_threshold
    else:
        theta, norm = float("inf"), np.ones(g.n)
    group = DiscreteGroup(neurons=g, decay_u=a_u, decay_v=a_v, threshold=theta,
                          bias=bias * norm, norm=norm)
    return group, gain * norm, warning


@dataclass(frozen=True)
class Discretize(Pass):
    """The discretize pass (``dt`` in seconds): ``state.network`` → ``state.discrete``."""

    dt: float = 1e-4
    name: ClassVar[str] = "discretize"

    def run(self, state: CompileState) -> CompileState:
        return state.with_(discrete=self.discretize(state.network))

    def discretize(self, net) -> DiscreteNetwork:
        dt = self.dt
        if (isinstance(dt, bool) or not isinstance(dt, numbers.Real)
                or not (dt > 0 and np.isfinite(dt))):
            raise QuantizationError(f"dt must be a positive number of seconds, got {dt!r}")
        groups, row_scale = [], {}
        warnings = list(net.meta.get("warnings", []))      # the frontend's, first
        for g in net.groups:
            dg, scale, warning = discretize_group(g, dt)
            groups.append(dg)
            row_scale[g.name] = scale
            if warning:
                warnings.append(warning)
        projections = []
        for p in net.projections:
            scale = row_scale[p.dst]
            conn = p.conn
            delay = None
            if p.delay is not None:     # NIR Delay nodes: whole steps of dt, or refused
                nodes = ", ".join(f"'{n}'" for n in p.delay.nodes)
                delay = p.delay.to_steps(dt, f"projection '{p.name}' (NIR Delay node {nodes})")
            if isinstance(conn, Conv) and (delay is not None or not conn.channel_uniform(scale)):
                # per-neuron gains break weight sharing; Lava's Conv has no delays
                conn = Dense(conn.to_dense())
            projections.append(DiscreteProjection(p.name, p.src, p.dst, conn, scale,
                                                  p.nir_nodes, delay))
        return DiscreteNetwork(net, tuple(groups), tuple(projections), dt, tuple(warnings))
