"""The default pipeline, top to bottom:

    NIR → IR (frontend) → discretize → lower (the target's quantizer) → partition → place → route

``compile_network`` runs it on an IR network and builds the target's program;
``compile_nir`` reads a ``.nir`` file or ``nir.NIRGraph`` first.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from neurocc.api.errors import NeuroccError, UnsupportedError
from neurocc.compiler.ir.encoding import GradedInput, InputEncoding, SpikeInput
from neurocc.compiler.ir.graph import Network
from neurocc.compiler.passes.base import RESETS, Callback, CompileOptions, CompileState, Pipeline
from neurocc.compiler.passes.discretize import Discretize
from neurocc.compiler.passes.partition import Partition
from neurocc.compiler.passes.place import Place
from neurocc.compiler.passes.route import Route
from neurocc.compiler.passes.subpopulations import SplitDecays
from neurocc.compiler.targets import get_target
from neurocc.hw_configs import HardwareSpec, load_hw


def default_pipeline(hw: HardwareSpec, options: CompileOptions) -> Pipeline:
    """The passes ``compile_network`` runs, in order."""
    return Pipeline((
        *_split(hw, options.dt),
        Discretize(options.dt),
        get_target(hw.target).lowering(hw, options),
        Partition(hw),
        Place(hw, options.placement),
        Route(hw),
    ))


def _split(hw: HardwareSpec, dt: float) -> tuple[SplitDecays, ...]:
    """The sub-populations pass, for a chip with a decay register (the only pass that
    changes the float IR a program keeps)."""
    decay_bits = getattr(hw.numerics, "decay_bits", None)
    return (SplitDecays(dt, decay_bits),) if decay_bits else ()


def _encoding(enc: InputEncoding | None, hw: HardwareSpec) -> InputEncoding:
    """The input encoding with the chip's graded payload width filled in."""
    if enc is None or isinstance(enc, SpikeInput):
        return SpikeInput()
    if not isinstance(enc, GradedInput):
        raise NeuroccError(f"input_encoding must be SpikeInput() or GradedInput(max), got "
                           f"{enc!r}")
    mx = enc.max
    if isinstance(mx, bool) or not isinstance(mx, (int, float)) or not (0 < mx < math.inf):
        raise NeuroccError(f"graded input maximum must be a positive finite number, got "
                           f"{mx!r}; give the largest input magnitude (e.g. 1.0)")
    bits = hw.numerics.graded_spike_bits
    if bits <= 0:
        raise NeuroccError(f"{hw.name} has no graded spikes; encode the input as binary "
                           "spikes or compile for a chip with graded spikes (loihi2)")
    return GradedInput(float(enc.max), int(enc.bits or bits))


def compile_network(net: Network, hw: HardwareSpec | str = "loihi2", dt: float = 1e-4,
                    reset: str = "zero", input_encoding: InputEncoding | None = None,
                    source: dict | None = None, placement: str = "greedy+swap",
                    callback: Callback | None = None):
    """Compile an IR network for ``hw``. ``dt`` in seconds; ``reset`` "zero" (NIR's
    semantics) or "subtract" (snnTorch's default, which NIR cannot express); ``placement``
    one of ``compiler.passes.place.STRATEGIES``; ``callback(pass, state)`` is called after
    every pass."""
    hw = load_hw(hw) if isinstance(hw, str) else hw
    if reset not in RESETS:
        raise NeuroccError(f"reset rule '{reset}' unknown; use one of {', '.join(RESETS)}")
    memoryless = [g.nir_node for g in net.groups if not g.has_memory]
    if memoryless and reset == "subtract":
        raise UnsupportedError(
            f"NIR node '{memoryless[0]}' (Threshold) is memoryless, but reset='subtract' would "
            "carry -threshold into the step after each spike; compile with reset='zero' (the "
            "NIR semantics) or replace the node by a LIF")
    options = CompileOptions(dt=dt, reset=reset, input_encoding=_encoding(input_encoding, hw),
                             placement=placement)
    state = CompileState(hw=hw, options=options, network=net, source=dict(source or {}))
    state = default_pipeline(hw, options).run(state, callback)
    return get_target(hw.target).build_program(state)


def compile_nir(source, hw: HardwareSpec | str = "loihi2", dt: float = 1e-4,
                reset: str = "zero", input_encoding: InputEncoding | None = None,
                callback: Callback | None = None, placement: str = "greedy+swap",
                producer: str | None = None):
    """Compile a ``.nir`` file or ``nir.NIRGraph``; ``producer`` applies that exporter's
    corrections (``compiler/frontend/producers.py``)."""
    net = _read_nir(source, dt, producer)
    info = {"nir": str(source) if isinstance(source, (str, Path)) else "<NIRGraph>"}
    if producer is not None:
        info["producer"] = producer
    if isinstance(source, (str, Path)):
        info["nir_sha256"] = file_sha256(source)
    return compile_network(net, hw, dt, reset, input_encoding, info, placement=placement,
                           callback=callback)


def _read_nir(source, dt: float, producer: str | None) -> Network:
    from neurocc.compiler.frontend import read_nir

    if producer is None:
        return read_nir(source)
    from neurocc.compiler.frontend.nir import _load
    from neurocc.compiler.frontend.producers import corrected

    graph, _ = _load(source)
    if graph is source:                 # an in-memory graph: leave the caller's alone
        import copy

        graph = copy.deepcopy(source)
    return read_nir(corrected(graph, producer, dt))


def file_sha256(path) -> str:
    """The sha256 of a file, read in chunks (a ``.nir`` file can be gigabytes)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def nir_network(source, hw: HardwareSpec, dt: float, producer: str | None = None) -> Network:
    """The float IR that ``compile_nir(source, hw, dt, producer=producer)`` keeps in its
    program (``program.network``): the graph as read, split into sub-populations as the
    default pipeline splits it. A saved program whose float weights were left in its
    ``.nir`` reads them back from here."""
    state = CompileState(hw=hw, options=CompileOptions(dt=dt), network=_read_nir(
        source, dt, producer))
    for p in _split(hw, dt):
        state = p.run(state)
    return state.network


__all__ = ["RESETS", "compile_network", "compile_nir", "default_pipeline", "file_sha256",
           "nir_network"]
