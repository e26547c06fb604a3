"""The compiler's intermediate representation, in one place.

- ``neurons``: the neuron kinds (one frozen dataclass each, equation in the docstring);
- ``connectivity``: how a projection's synapses are stored (dense, sparse, conv);
- ``graph``: projections and the network, plus graph queries (hop depths, back edges);
- ``encoding``: how the input arrives (binary or graded spikes);
- ``discrete``: the discretized network (per-step factors);
- ``mapping``: the partitioning, placement and routes of a network on cores and chips.

A target's lowered program types live with the target (``compiler/targets/<name>``).
"""

from neurocc.compiler.ir.connectivity import CONNECTIVITY_TYPES, Connectivity, Conv, Dense, Sparse
from neurocc.compiler.ir.discrete import DiscreteGroup, DiscreteNetwork  # noqa: I001
from neurocc.compiler.ir.encoding import GradedInput, InputEncoding, SpikeInput, encoding_from_dict
from neurocc.compiler.ir.graph import (
                                       INPUT,
                                       Network,
                                       Projection,
                                       back_edges,
                                       hop_depths,
                                       incoming_index,
                                       longest_path,
                                       topo_order,
)
from neurocc.compiler.ir.mapping import Partitioning, Placement, Routes
from neurocc.compiler.ir.neurons import (
    IF,
    LI,
    LIF,
    NEURON_TYPES,
    CubaLI,
    CubaLIF,
    Neurons,
    Threshold,
)

__all__ = [
    "CONNECTIVITY_TYPES", "Connectivity", "Conv", "CubaLI", "CubaLIF", "Dense", "DiscreteGroup",
    "DiscreteNetwork", "GradedInput", "IF", "INPUT", "InputEncoding", "LI", "LIF",
    "NEURON_TYPES", "Network", "Neurons", "Partitioning", "Placement", "Projection", "Routes",
    "Sparse", "SpikeInput", "Threshold", "back_edges", "encoding_from_dict", "hop_depths",
    "incoming_index", "longest_path", "topo_order",
]
