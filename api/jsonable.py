"""Plain JSON values from what neurocc computes: the one encoder behind ``--json``,
``Result.to_dict()`` and artifact headers.

numpy scalars and arrays become Python numbers and lists; tuples become lists; a float that
is not finite (NaN, ±inf) becomes ``null``, so the output is standard JSON (RFC 8259)."""

from __future__ import annotations

import math

import numpy as np


def jsonable(obj):
    """``obj`` with every value made JSON-representable (recursively)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"cannot represent {type(obj).__name__} as JSON")
