"""Compiling at scale: the passes hold no full-size float copy of the weights, and working
in chunks changes no result.

``benchmarks/mapping_scale.py`` compiles a billion synapses (10 M neurons × 100) in ~13 GB;
these tests check the same properties on a network of 3 M synapses, with the chunk sizes
scaled down so that it is in the billion-synapse regime (many chunks per projection).
"""

import tracemalloc

import numpy as np
import pytest

import neurocc.compiler.passes.route as route
import neurocc.compiler.targets.loihi.quantize as quantize
from neurocc.benchmarks.mapping_scale import synthetic
from neurocc.compiler.ir import GradedInput
from neurocc.compiler.pipeline import compile_network, compile_nir
from neurocc.hw_configs import load_hw, override


@pytest.fixture
def billion_regime(monkeypatch):
    """Chunks of 2^14 weights and 2^12 routed pairs: a 400 K-synapse projection takes as
    many chunks as a 100 M-synapse one does at the real sizes."""
    monkeypatch.setattr(quantize, "CHUNK", 1 << 14)
    monkeypatch.setattr(route, "PAIRS_AT_ONCE", 1 << 12)


def test_compiling_takes_a_few_bytes_per_synapse_beside_the_ir(billion_regime):
    """Beyond the IR (a float32 weight and an int32 index per synapse, 8 bytes), compiling
    holds the chip's int16 weights (2 bytes) and the mapping's per-source and per-pair
    arrays; at no moment a second float copy of every weight (before: the discretized
    float64 copy and int64 integer weights, 20 bytes per synapse at the peak)."""
    hw = override(load_hw("loihi2"), {"mesh.chips_per_system": 16, "mesh.chip_mesh": (4, 4)},
                  source="test system of 16 chips")
    net = synthetic(1 << 12)
    synapses = sum(p.conn.values.size for p in net.projections)
    tracemalloc.start()
    try:
        prog = compile_network(net, hw, dt=1e-4)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert synapses == 3_276_800 and len(prog.placement.slices) > 50
    assert all(p.conn.values.dtype == np.int16 for p in prog.projections)
    assert peak / synapses < 5.0, f"{peak / synapses:.2f} bytes per synapse at the peak"
    assert kept / synapses < 4.5, f"{kept / synapses:.2f} bytes per synapse kept"


def _networks():
    from test_program import small_graph

    yield "sparse", lambda: compile_network(synthetic(1 << 9), dt=1e-4)
    yield "random sparse", lambda: compile_network(synthetic(1 << 8, local=False), dt=1e-4)
    yield "conv + dense", lambda: compile_nir(small_graph(), hw="loihi2")
    yield "graded", lambda: compile_nir(small_graph(), hw="loihi2",
                                        input_encoding=GradedInput(1.0))


@pytest.mark.parametrize("name,make", list(_networks()), ids=[n for n, _ in _networks()])
def test_chunks_change_no_result(name, make, monkeypatch):
    """The same program whatever the chunk sizes: integer weights, registers, the layer
    scales and their binding limits, the placement and every route (the running sums carry
    across chunks in the weights' own dtype; route sums are of whole numbers)."""
    whole = make()
    routes = whole.routes                   # recomputed from the placement, unchunked
    monkeypatch.setattr(quantize, "CHUNK", 777)
    monkeypatch.setattr(route, "PAIRS_AT_ONCE", 333)
    chunked = make()
    for a, b in zip(whole.projections, chunked.projections):
        assert (a.weight_exp, a.sign_mode, a.conn.kind) == (b.weight_exp, b.sign_mode,
                                                            b.conn.kind)
        np.testing.assert_array_equal(a.conn.values, b.conn.values)
    for a, b in zip(whole.groups, chunked.groups):
        assert (a.du, a.dv, a.vth, a.bias_exp) == (b.du, b.dv, b.vth, b.bias_exp)
        np.testing.assert_array_equal(a.bias_mant, b.bias_mant)
    assert whole.report.to_dict()["layers"] == chunked.report.to_dict()["layers"]
    assert whole.input_encoding == chunked.input_encoding
    np.testing.assert_array_equal(whole.placement.slices, chunked.placement.slices)
    assert whole.route_totals == chunked.route_totals
    np.testing.assert_array_equal(routes.link_load, chunked.routes.link_load)
    for k in ("msgs", "hops_ew", "hops_ns", "chips", "longest_s"):
        for src, v in getattr(routes, k).items():
            np.testing.assert_array_equal(v, getattr(chunked.routes, k)[src])
