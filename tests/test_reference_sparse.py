"""The float reference keeps a large ``Sparse`` connection sparse: above ``DENSE_LIMIT`` it sums
each post neuron's stored synapses (``_csr``) instead of multiplying by the dense matrix, with
the same spikes and membranes as the dense product on small programs."""

import nir
import numpy as np
import pytest

import neurocc
from neurocc.backends import reference
from neurocc.backends.reference import ReferenceBackend
from neurocc.compiler.ir.connectivity import Sparse


def _sinabs_layers(n: int, rng, n_out=5):
    """Input (8) → Linear → LIF (n) [→ Linear → LIF (n_out)], the LIFs as Sinabs' exporter
    writes them; ``producer='sinabs'`` adds each a self-connection (a Sparse diagonal)."""
    def lif():
        return nir.LIF(tau=np.array(4.0), r=np.array(1.0), v_leak=np.array(0.0),
                       v_threshold=np.array(0.7))

    nodes = {"input": nir.Input({"input": np.array([8])}),
             "0": nir.Linear(rng.normal(0.6, 1.0, (n, 8))), "1": lif(),
             "output": nir.Output({"output": np.array([n_out or n])})}
    edges = [("input", "0"), ("0", "1"), ("1", "output")]
    if n_out:
        nodes.update({"2": nir.Linear(rng.normal(0.5, 1.0, (n_out, n))), "3": lif()})
        edges[-1:] = [("1", "2"), ("2", "3"), ("3", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _split_conv(rng):
    """Conv2d → LIF whose time constants split it into two sub-populations (the conv becomes
    Sparse pieces of up to 9 synapses a row), then a delayed Scale (Sparse diagonals, summed
    once per delay) into a second LIF."""
    shape = (2, 5, 5)
    tau = np.where(rng.random(shape) < 0.5, 1e-3, 2e-3)
    nodes = {"in": nir.Input({"input": np.array([1, 5, 5])}),
             "conv": nir.Conv2d(input_shape=(5, 5), weight=rng.normal(0.4, 1, (2, 1, 3, 3)),
                                stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(2)),
             "l0": nir.LIF(tau=tau, r=np.ones(shape), v_leak=np.zeros(shape),
                           v_threshold=np.full(shape, 0.8)),
             "d": nir.Delay(np.full(shape, 3e-4)),
             "s": nir.Scale(rng.normal(0.8, 0.3, shape)),
             "l1": nir.LIF(tau=np.full(shape, 1e-3), r=np.ones(shape), v_leak=np.zeros(shape),
                           v_threshold=np.full(shape, 0.3)),
             "out": nir.Output({"output": np.array(shape)})}
    edges = [("in", "conv"), ("conv", "l0"), ("l0", "d"), ("d", "s"), ("s", "l1"),
             ("l1", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


PROGRAMS = {"sinabs self-connections": (lambda rng: _sinabs_layers(12, rng),
                                        {"producer": "sinabs"}),
            "split conv, delayed diagonal": (_split_conv, {"dt": 1e-4})}


@pytest.mark.parametrize("case", sorted(PROGRAMS))
def test_sparse_and_dense_sums_give_the_same_run(monkeypatch, case):
    """Every Sparse connection summed over its synapses (``DENSE_LIMIT`` -1) or as its dense
    matrix: the same spikes; the same membranes to the bit where every row has one synapse
    (a diagonal), else to float rounding (another summation order)."""
    make, options = PROGRAMS[case]
    prog = neurocc.compile(make(np.random.default_rng(3)), **options)
    sparse = [p for p in prog.network.projections if p.conn.kind == "sparse"]
    assert sparse
    if case.startswith("split"):
        assert max(np.diff(p.conn.indptr).max() for p in sparse) > 1
        assert any(p.delay is not None for p in sparse)
    x = (np.random.default_rng(4).random((50, 3, prog.n_inputs)) < 0.4).astype(np.float64)
    runs = []
    for limit in (-1, reference.DENSE_LIMIT):
        monkeypatch.setattr(reference, "DENSE_LIMIT", limit)
        runs.append(ReferenceBackend().simulate(prog, x, record_state=True))
    a, b = runs
    assert any(a.spikes[g.name].any() for g in prog.network.groups)
    for k in a.spikes:
        np.testing.assert_array_equal(a.spikes[k], b.spikes[k], err_msg=k)
    diagonal = all(np.diff(p.conn.indptr).max() <= 1 for p in sparse)
    assert diagonal == (case == "sinabs self-connections")
    for k in a.v:
        if diagonal:
            np.testing.assert_array_equal(a.v[k], b.v[k], err_msg=k)
        else:
            np.testing.assert_allclose(a.v[k], b.v[k], rtol=0, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("batch, block", [(1, 1 << 20), (5, 1 << 20), (5, 7)])
def test_the_csr_product_is_the_dense_product_to_rounding(monkeypatch, batch, block):
    """``_csr`` against ``x @ Wᵀ`` with empty rows (first, last, inside), rows of 1 to 40
    synapses, graded inputs and blocks of a few rows (``CSR_BLOCK``): equal to float rounding,
    and exactly where a row has one synapse."""
    monkeypatch.setattr(reference, "CSR_BLOCK", block)
    rng = np.random.default_rng(batch + block)
    n_post, n_pre = 60, 50
    counts = rng.integers(0, 41, n_post)
    counts[[0, 17, 18, n_post - 1]] = 0
    counts[[1, 30]] = 1
    w = np.zeros((n_post, n_pre))
    for i, c in enumerate(counts):
        w[i, rng.choice(n_pre, c, replace=False)] = rng.normal(0, 1, c)
    conn = Sparse.from_dense(w)
    x = rng.random((batch, n_pre))
    got, want = reference._csr(conn, batch)(x), x @ w.T
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    one = counts <= 1
    np.testing.assert_array_equal(got[:, one], want[:, one])
    empty = Sparse(np.zeros(4, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), 3)
    np.testing.assert_array_equal(reference._csr(empty, batch)(rng.random((batch, 3))),
                                  np.zeros((batch, 3)))


def test_a_large_sparse_self_connection_runs_in_memory_of_its_synapses():
    """producer='sinabs' on a 20,000-neuron layer: its self-connection (20,000 synapses) runs
    on the reference without its 20,000² dense matrix (3.2 GB, rebuilt every step before),
    and sums to each neuron's own weight times its spike, exactly."""
    import tracemalloc

    n = 20_000
    prog = neurocc.compile(_sinabs_layers(n, np.random.default_rng(7), n_out=0),
                           producer="sinabs")
    loop = next(p for p in prog.network.projections if p.name == "1->1")
    assert loop.conn.kind == "sparse" and loop.conn.shape[0] ** 2 > reference.DENSE_LIMIT
    x = (np.random.default_rng(8).random((20, 2, 8)) < 0.4).astype(np.float64)
    tracemalloc.start()
    try:
        trace = ReferenceBackend().simulate(prog, x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert trace.spikes["1"].any()
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"     # measured ~4 MiB
    s = trace.spikes["1"][-1].astype(np.float64)
    np.testing.assert_array_equal(reference._product(loop.conn, 2)(s), s * 0.7)  # θ/r
