"""NIR ``Delay`` nodes → a projection's synaptic delays (``compiler/ir/delays.py``).

``nir.Delay`` is ``y(t) = x(t − τ)``, one τ (seconds) per element. Between two neuron nodes
every linear chain is fused into one projection, and a chip holds one delay per synapse, so
a Delay is taken exactly where each synapse's whole contribution gets one delay:

- it lies on every path from the source to the destination (else some synapses would get a
  share of their input delayed and a share not), and
- it is uniform (one τ for all elements: it commutes with every linear node), or only
  element-wise nodes (Scale, Flatten, other Delays) lie between the source and it (one τ
  per source neuron: a column of delays), or between it and the destination (one τ per
  destination neuron: a row).

Anything else would split one synapse's input across several delays and is refused, naming
the node, why, and where to move it. Several Delays on a projection add up.
"""

from __future__ import annotations

import numpy as np

from neurocc.api.errors import FrontendError, UnsupportedError
from neurocc.compiler.ir.delays import Delays

ELEMENTWISE = frozenset({"Scale", "Flatten", "Delay", "Input", "Output"})
"""NIR node types that map element ``k`` to element ``k`` (flat order) and nothing else."""


def read_delay(node) -> np.ndarray:
    """A Delay node's τ as a flat float64 array (seconds), refused when negative or not
    finite (a delay cannot look into the future)."""
    tau = np.asarray(node.delay)
    if tau.dtype.kind not in "iuf":
        raise FrontendError(f"node '{node._name}' (Delay): delay has dtype {tau.dtype}; give "
                            "real numbers of seconds")
    tau = tau.astype(np.float64).ravel()
    if not np.all(np.isfinite(tau)):
        raise FrontendError(f"node '{node._name}' (Delay): delay holds NaN/inf; give finite "
                            "seconds")
    if np.any(tau < 0):
        raise UnsupportedError(
            f"node '{node._name}' (Delay): delay {tau.min():g} s < 0; y(t) = x(t − τ) with "
            "τ < 0 would look into the future: use delays ≥ 0")
    return tau


def _reach(starts, edges: dict, within: set, skip: str | None = None) -> set:
    seen, stack = set(), list(starts)
    while stack:
        k = stack.pop()
        if k in seen or k == skip or k not in within:
            continue
        seen.add(k)
        stack.extend(n for n in edges.get(k, ()) if n in within)
    return seen


def projection_delays(src: str, dst: str, fused, preds: dict, nodes: dict, delay_of: dict,
                      n_post: int, n_pre: int) -> Delays | None:
    """The delays of the projection ``src`` → ``dst`` whose linear nodes are ``fused``;
    ``delay_of`` maps each Delay node to its flat τ. None when no Delay is on it."""
    on = sorted(k for k in fused if k in delay_of)
    if not on:
        return None
    inner = set(fused)
    every = inner | {src, dst}
    succ: dict[str, list[str]] = {}
    for k in inner | {dst}:
        for p in preds[k]:
            if p in every:
                succ.setdefault(p, []).append(k)
    pred = {k: [p for p in preds[k] if p in every] for k in every}
    src_label = "the input" if type(nodes[src]).__name__ == "Input" else f"'{src}'"
    row, col = np.zeros(n_post), np.zeros(n_pre)
    for d in on:
        tau = delay_of[d]
        if dst in _reach(succ.get(src, ()), succ, every, skip=d):   # a path avoids d
            raise UnsupportedError(
                f"node '{d}' (Delay) is on only some of the paths from {src_label} to '{dst}':"
                " the synapses these paths share would get part of their input delayed and "
                "part not, and a synapse has one delay; put the Delay on every path (right "
                f"after {src_label} or right before '{dst}')")
        if tau.size == 1 or np.all(tau == tau[0]):
            row += tau[0]                   # uniform: commutes with every linear node
            continue
        before = _reach(pred[d], pred, inner) - {d}
        after = _reach(succ.get(d, ()), succ, inner) - {d}
        if all(type(nodes[k]).__name__ in ELEMENTWISE for k in before) and tau.size == n_pre:
            col += tau                      # one delay per source neuron
        elif all(type(nodes[k]).__name__ in ELEMENTWISE for k in after) and tau.size == n_post:
            row += tau                      # one delay per destination neuron
        else:
            up = sorted(k for k in before if type(nodes[k]).__name__ not in ELEMENTWISE)
            down = sorted(k for k in after if type(nodes[k]).__name__ not in ELEMENTWISE)
            raise UnsupportedError(
                f"node '{d}' (Delay): {len(np.unique(tau))} different delays between weight "
                f"nodes ('{(up or ['?'])[0]}' before it, '{(down or ['?'])[0]}' after) would "
                "split each synapse "
                f"{src_label} → '{dst}' across several delays, and a synapse has one; make "
                f"its delays uniform, or move it right after {src_label} or right before "
                f"'{dst}'")
    return Delays(row, col, tuple(on))


__all__ = ["ELEMENTWISE", "projection_delays", "read_delay"]
