"""Inputs by name: a graph with several NIR ``Input`` nodes takes a dict of arrays.

The chip has one input space; the frontend gives each Input node a slice of it, in name
order (``program.network.meta["inputs"]``: name, shape, offset). ``join_inputs`` checks a
dict ``{name: (steps, batch, *shape)}`` against that list and concatenates it into the
``(steps, batch, n_in)`` array every backend takes. Arrays pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from neurocc.api.errors import InputError


def input_slices(program) -> list[dict]:
    """The program's Input nodes: ``[{"name", "shape", "offset"}]`` (one for a plain graph)."""
    net = program.network
    inputs = (net.meta or {}).get("inputs")
    return list(inputs) if inputs else [
        {"name": net.input_name, "shape": list(program.input_shape), "offset": 0}]


def join_inputs(program, x):
    """``x`` as one array: a dict keyed by Input name is checked and concatenated."""
    if not isinstance(x, Mapping):
        return x
    slices = input_slices(program)
    names = [s["name"] for s in slices]
    missing = [n for n in names if n not in x]
    unknown = [str(k) for k in x if k not in names]
    if missing or unknown:
        raise InputError(
            f"input dict has keys {sorted(map(str, x))}, but the program's Input nodes are "
            f"{names}" + (f" (missing: {', '.join(missing)})" if missing else "")
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
            + "; give one array (steps, batch, *shape) per Input node")
    parts, lead = [], None
    for s in slices:
        try:
            a = np.asarray(x[s["name"]])
        except ValueError:
            raise InputError(f"input '{s['name']}' is ragged (rows of different lengths); give "
                             "an array (steps, batch, *shape)") from None
        shape = tuple(s["shape"])
        if a.ndim != 2 + len(shape) or tuple(a.shape[2:]) != shape:
            raise InputError(f"input '{s['name']}' has shape {a.shape}; Input node "
                             f"'{s['name']}' expects (steps, batch, "
                             f"{', '.join(map(str, shape))})")
        if lead is not None and a.shape[:2] != lead:
            raise InputError(f"input '{s['name']}' has {a.shape[0]} steps and {a.shape[1]} "
                             f"samples, input '{slices[0]['name']}' {lead[0]} and {lead[1]}: "
                             "give every Input the same (steps, batch)")
        lead = a.shape[:2]
        parts.append(a.reshape(*lead, -1))
    return np.concatenate(parts, axis=2) if len(parts) > 1 else parts[0]


__all__ = ["input_slices", "join_inputs"]
