"""Mapping onto cores and chips: partition → place → route.

The passes live in their own modules; this one gathers them for importers:

- ``compiler/resources.py``: how synapses, synaptic memory and axons are counted;
- ``compiler/partition.py``: groups → core-sized slices under every per-core limit;
- ``compiler/place.py``: slices → cores over the multi-chip mesh (traffic-aware);
- ``compiler/route.py``: dimension-order routes, hops, chip crossings and link loads.
"""

from __future__ import annotations

from neurocc.compiler.partition import Partition, Partitioning
from neurocc.compiler.place import STRATEGIES, Place, TrafficGraph
from neurocc.compiler.resources import SourceIndex, synapse_bits_per_neuron
from neurocc.compiler.route import LinkMesh, Route, Routes, core_xy, path_counts, route

__all__ = ["LinkMesh", "Partition", "Partitioning", "Place", "Route", "Routes", "STRATEGIES",
           "SourceIndex", "TrafficGraph", "core_xy", "path_counts", "route",
           "synapse_bits_per_neuron"]
