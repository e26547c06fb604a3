"""The default pipeline, top to bottom: NIR → IR → discretize → quantize → partition →
place → route. The program stores the placement; its routes are derived from it again when
the program is run or inspected (``compiler.route.route``), and their totals are kept in
``placement.stats``."""

from __future__ import annotations

from pathlib import Path

from neurocc.compiler.discretize import Discretize
from neurocc.compiler.frontend import read_nir
from neurocc.compiler.ir import Network
from neurocc.compiler.partition import Partition
from neurocc.compiler.place import Place
from neurocc.compiler.program import Program
from neurocc.compiler.quantize import Quantize
from neurocc.compiler.route import Route
from neurocc.errors import NeuroccError
from neurocc.hw_configs import HardwareSpec, load_hw

RESETS = ("zero", "subtract")


def compile_network(net: Network, hw: HardwareSpec | str = "loihi2", dt: float = 1e-4,
                    reset: str = "zero", input_encoding: dict | None = None,
                    source: dict | None = None, placement: str = "greedy+swap") -> Program:
    """Compile an IR network for ``hw``. ``dt`` in seconds; ``reset`` "zero" (NIR's
    semantics) or "subtract" (snnTorch's default, which NIR cannot express); ``placement``
    one of ``compiler.place.STRATEGIES``."""
    hw = load_hw(hw) if isinstance(hw, str) else hw
    if reset not in RESETS:
        raise NeuroccError(f"reset rule '{reset}' unknown; use one of {', '.join(RESETS)}")
    enc = input_encoding or {"kind": "spikes"}
    if enc["kind"] == "graded":
        bits = hw.numerics.graded_spike_bits
        if bits <= 0:
            raise NeuroccError(f"{hw.name} has no graded spikes; encode the input as binary "
                               "spikes or compile for a chip with graded spikes (loihi2)")
        enc = {"kind": "graded", "max": float(enc["max"]), "bits": int(enc.get("bits", bits))}
    dnet = Discretize(dt).run(net)
    groups, projections, report = Quantize(hw, reset, enc).run(dnet)
    report["warnings"] = list(dnet.warnings)
    del dnet  # the discretized copy of every weight is not needed any more
    part = Partition(hw).run(groups, projections, net.n_inputs)
    placed = Place(hw, placement).run(part)
    routes = Route(hw).run(part, placed, projections)
    placed.stats["routes"] = routes.totals()
    return Program(
        hw=hw, dt=dt, reset=reset, input_shape=net.input_shape,
        input_encoding=report.pop("input_encoding"),
        groups=groups, projections=projections, outputs=net.outputs, network=net,
        depth=net.depth(), placement=placed, report=report, source=source or {})


def compile_nir(source, hw: HardwareSpec | str = "loihi2", dt: float = 1e-4,
                reset: str = "zero", input_encoding: dict | None = None) -> Program:
    """Compile a ``.nir`` file or ``nir.NIRGraph``."""
    net = read_nir(source)
    info = {"nir": str(source) if isinstance(source, (str, Path)) else "<NIRGraph>"}
    if isinstance(source, (str, Path)):
        import hashlib

        info["nir_sha256"] = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    return compile_network(net, hw, dt, reset, input_encoding, info)


__all__ = ["compile_nir", "compile_network", "RESETS"]
