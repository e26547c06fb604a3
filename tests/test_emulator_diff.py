"""``backends.diff`` and ``neurocc diff`` without Lava: the comparison finds the earliest
difference, and the exit status is 0 for identical runs and 4 when they differ."""

import json

import numpy as np
import pytest

from neurocc import cli
from neurocc.backends import Trace
from neurocc.backends import diff as diff_mod
from neurocc.backends.diff import compare_traces, render_diff
from neurocc.compiler.artifact import save

import synth


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    d = tmp_path_factory.mktemp("diff")
    prog = synth.random_program(5, conv=False, n_layers=2, readout=True, recurrent=True)
    save(prog, d / "p.neurocc")
    np.save(d / "x.npy", synth.random_input(5, prog, 6, 2, rate=0.5))
    return prog, d


def _trace(prog, steps=5, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return Trace(spikes={g.name: rng.random((steps, batch, g.n)) < 0.3 for g in prog.groups},
                 v={g.name: rng.integers(-9, 9, (steps, batch, g.n)) for g in prog.groups},
                 u={g.name: rng.integers(-9, 9, (steps, batch, g.n)) for g in prog.groups})


def _copy(t: Trace) -> Trace:
    return Trace(spikes={k: a.copy() for k, a in t.spikes.items()},
                 v={k: a.copy() for k, a in t.v.items()}, u={k: a.copy() for k, a in t.u.items()})


def test_identical_traces(case):
    prog, _ = case
    a = _trace(prog)
    d = compare_traces(prog, a, _copy(a), "x", "y")
    n = sum(g.n for g in prog.groups)
    assert d["identical"] and d["first_difference"] is None and d["differences"] == {}
    assert d["quantities"] == ["spikes", "v", "u"]
    assert d["spikes_compared"] == 5 * 2 * n and d["values_compared"] == 3 * 5 * 2 * n
    assert d["spikes"] == sum(int(s.sum()) for s in a.spikes.values())
    assert render_diff(d).startswith("identical: x and y agree on spikes, v, u")


def test_first_difference_is_the_earliest_step(case):
    prog, _ = case
    a = _trace(prog)
    b = _copy(a)
    last, first = prog.groups[-1].name, prog.groups[0].name
    b.u[last][1, 1, 0] += 1                        # step 1, later layer
    b.spikes[first][3, 0, 1] ^= True               # step 3
    b.v[first][1, 0, 0] += 5                       # step 1, first layer: the earliest
    d = compare_traces(prog, a, b, "emulator", "lava")
    assert not d["identical"]
    assert d["first_difference"] == {"step": 1, "sample": 0, "layer": first, "neuron": 0,
                                     "quantity": "v", "emulator": int(a.v[first][1, 0, 0]),
                                     "lava": int(a.v[first][1, 0, 0]) + 5}
    assert d["differences"] == {first: {"spikes": 1, "v": 1}, last: {"u": 1}}
    assert render_diff(d).startswith(f"differ: first at step 1, sample 0, layer '{first}', "
                                     "neuron 0: v emulator=")


def test_float_reference_compares_spikes_only(case):
    prog, _ = case
    a = _trace(prog)
    b = _copy(a)
    b.fixed_point = False
    b.v[prog.groups[0].name] = b.v[prog.groups[0].name] * 0.5
    assert compare_traces(prog, a, b)["quantities"] == ["spikes"]


def test_cli_diff_exit_status(case, monkeypatch, capsys):
    _, d = case
    args = ["diff", str(d / "p.neurocc"), "--input", str(d / "x.npy"), "--a", "emulator",
            "--b", "emulator"]
    assert cli.main(args) == 0
    assert capsys.readouterr().out.startswith("identical: emulator and emulator agree")

    run = diff_mod.run
    calls = []

    def tampered(program, x, backend, **kw):       # the second run loses one spike
        res = run(program, x, backend=backend, **kw)
        calls.append(backend)
        if len(calls) == 2:
            s = res.trace.spikes[program.groups[0].name]
            s[2, 1, 0] = not s[2, 1, 0]
        return res

    monkeypatch.setattr(diff_mod, "run", tampered)
    assert cli.main(args + ["--json"]) == 4
    out = json.loads(capsys.readouterr().out)
    assert out["identical"] is False
    f = out["first_difference"]
    assert (f["step"], f["sample"], f["neuron"], f["quantity"]) == (2, 1, 0, "spikes")
