"""``neurocc report``: the HTML report of the digits model holds every section with the run
report's own numbers, references nothing outside itself, and renders in a real browser
(headless Debian Chromium: every figure laid out with a nonzero size, a screenshot with
substantial content). With ``--baseline`` it adds the ANN baseline (``cost/baseline.py``)
with its numbers, sources and pitfalls; without, no trace of it. Chromium is required: CI
installs it (``.ci/run``)."""

import argparse
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import neurocc
from neurocc.api.errors import InputError
from neurocc.api.jsonable import jsonable
from neurocc.cost.baseline import PITFALLS, PLATFORMS
from neurocc.cost.baseline import baseline as ann_baseline
from neurocc.models import digits
from neurocc.reports.html import (
    SECTIONS,
    add_parser,
    build_report,
    cmd_report,
    figures,
    render_html,
    write_figures,
)
from neurocc.reports.run import counts_agreement, fmt_j

SAMPLES = 40
FIGURES = {"fig-raster", "fig-firing", "fig-energy-split", "fig-energy-terms",
           "fig-energy-layers", "fig-energy-cores", "fig-chip-map", "fig-utilisation",
           "fig-latency-steps", "fig-latency-cores", "fig-quant", "fig-agreement",
           "fig-accuracy"}
BASELINE_FIGURES = {"fig-baseline-ops", "fig-baseline-system"}


def esc(text: str) -> str:
    """``text`` as the report escapes it (html.escape with quotes)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


def chromium() -> str:
    exe = shutil.which("chromium") or ("/usr/bin/chromium" if shutil.which("/usr/bin/chromium")
                                       else None)
    if exe is None:
        pytest.fail("headless Chromium is required for the HTML report's browser check and "
                    "was not found: install it with 'apt-get install -y chromium' (CI does, "
                    "in .ci/run)")
    return exe


def browse(tmp_path, *args) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.iterdir()))}"
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    prog = neurocc.compile(digits.NIR_PATH)
    x, y = digits.test_inputs()
    x, y = x[:, :SAMPLES], y[:SAMPLES]
    data = build_report(prog, x, labels=y)
    page = render_html(data)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(page, encoding="utf-8")
    return {"prog": prog, "x": x, "y": y, "res": prog.run(x), "data": data, "html": page,
            "path": path}


def test_every_section_and_figure_is_present(digits_run):
    page = digits_run["html"]
    for key, title in SECTIONS:
        assert f'<section id="{key}"><h2>{title}</h2>' in page
    ids = set(re.findall(r'<svg class="fig" id="([^"]+)"', page))
    assert ids == FIGURES == {f.id for f in figures(digits_run["data"])}


def test_numbers_are_the_run_reports(digits_run):
    rep = jsonable(digits_run["res"].to_dict())
    data, page = digits_run["data"], digits_run["html"]
    for k, v in rep.items():
        if k != "wall_s":
            assert data["run"][k] == v, k

    def shown(v):
        assert f'data-v="{v!r}"' in page, v

    shown(rep["energy_per_inference_j"])
    shown(rep["energy_dynamic_per_inference_j"])
    shown(rep["energy_static_per_inference_j"])
    assert rep["energy_breakdown_j"]["static"] == rep["energy_static_per_inference_j"]
    for v in rep["energy_breakdown_j"].values():
        shown(v)
    for layer in rep["energy_by_layer_j"].values():
        for v in layer.values():
            shown(v)
    for c in rep["per_core"]:
        shown(c["energy_j"])
    for L in rep["layers"]:
        shown(L["spikes_per_inference"])
        shown(L["synops_in_per_inference"])
    shown(rep["latency_per_inference_s"])
    for v in rep["latency_breakdown_s"].values():
        shown(v)
    # the per-step two-chain times add up to the estimate's busiest-core-and-routes term
    lat = data["latency"]
    assert len(lat["per_step"]) == rep["steps_run"]
    assert lat["two_chain_steps_sum_s"] == pytest.approx(
        rep["latency_breakdown_s"]["busiest_core_and_routes"])
    assert lat["two_chain_steps_sum_s"] + rep["latency_breakdown_s"]["barrier_sync"] == \
        pytest.approx(rep["latency_per_inference_s"])
    assert lat["serial_steps_sum_s"] + rep["latency_breakdown_s"]["barrier_sync"] == \
        pytest.approx(rep["latency_breakdown_s"]["serial_upper_bound_s"])
    assert lat["busiest_core"]["core"] in {c["core"] for c in rep["per_core"]}
    # utilisation of every resource of every core (prog.info)
    info = digits_run["prog"].info()
    for row in info["per_core"]:
        for key in ("neurons", "synaptic_memory_bits", "input_axons", "output_axons"):
            shown(row[f"{key}_pct"])
    # quantization: every layer's scale and every projection's error
    q = digits_run["prog"].report
    for L in q.layers.values():
        shown(L.scale)
    for p in q.projections.values():
        shown(p.weight_rms_rel_error)


def test_agreement_and_accuracy_are_recomputed_from_the_runs(digits_run):
    prog, x, y, res = (digits_run[k] for k in ("prog", "x", "y", "res"))
    ref = prog.run(x, backend="reference")
    data, page = digits_run["data"], digits_run["html"]
    for g, a in zip(prog.groups, data["agreement"]):
        want = counts_agreement(res.trace.spikes[g.name].sum(axis=0),
                                ref.trace.spikes[g.name].sum(axis=0))
        assert a["layer"] == g.name and {k: a[k] for k in want} == want
        assert f'data-v="{want["pearson_r"]!r}"' in page
    acc = data["accuracy"]
    want = float(np.mean(np.argmax(res.output_spike_counts, axis=-1) == y))
    assert acc["accuracy"] == want and acc["samples"] == SAMPLES
    assert f'data-v="{want!r}"' in page
    assert 0.5 < want <= 1.0          # the digits model classifies


def test_every_hardware_constant_with_its_source_and_flag(digits_run):
    prog, page = digits_run["prog"], digits_run["html"]
    hw = prog.hw
    rep_constants = digits_run["res"].to_dict()["hw_constants"]
    assert set(rep_constants) <= set(hw.sources)
    for key, meta in hw.sources.items():
        row = re.search(rf"<tr[^>]*><td><code>{re.escape(key)}</code></td>(.*?)</tr>", page)
        assert row, key
        assert esc(meta.get("source", "")) in row[1], key
        assert ("ASSUMPTION</span>" in row[1]) == bool(meta.get("assumption")), key
    for key, c in rep_constants.items():
        if isinstance(c["value"], float):
            assert f'data-v="{c["value"]!r}"' in page, key


def test_self_contained(digits_run):
    page = digits_run["html"]
    assert not re.search(r"https?://", page, re.I)
    for ref in ("<link", " src=", "@import", "url(", "<iframe", "<img"):
        assert ref not in page, ref
    blob = re.search(r'<script type="application/json" id="neurocc-data">(.*?)</script>',
                     page, re.S)[1]
    embedded = json.loads(blob)
    assert embedded["run"]["energy_per_inference_j"] == \
        digits_run["data"]["run"]["energy_per_inference_j"]


def test_renders_in_headless_chromium(digits_run, tmp_path):
    url = digits_run["path"].as_uri()
    dom = browse(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    sizes = {}
    for tag in re.findall(r"<svg [^>]*>", dom.stdout):
        fig = re.search(r'id="([^"]+)"', tag)[1]
        m = re.search(r'data-rendered="(\d+)x(\d+)"', tag)
        assert m, f"the page's script did not measure {fig}"
        sizes[fig] = (int(m[1]), int(m[2]))
    assert set(sizes) == FIGURES
    for fig, (w, h) in sizes.items():
        assert w > 100 and h > 50, (fig, w, h)
    assert re.search(r'<body data-figures="([^"]+)"', dom.stdout)[1].count(":") == len(FIGURES)

    from PIL import Image

    png = tmp_path / "page.png"
    shot = browse(tmp_path, f"--screenshot={png}", "--window-size=1200,3000", url)
    assert shot.returncode == 0 and png.exists(), shot.stderr[-2000:]
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    ink = np.any(np.abs(img - 255) > 24, axis=-1)
    assert img.shape[:2] == (3000, 1200)
    assert ink.mean() > 0.03, f"only {ink.mean():.2%} of the screenshot is not background"


def _parser():
    p = argparse.ArgumentParser(prog="neurocc")
    add_parser(p.add_subparsers(dest="cmd", required=True))
    return p


def test_cli_writes_the_report_and_png_figures(digits_run, tmp_path, capsys):
    chromium()
    prog_path, xp, yp = tmp_path / "d.neurocc", tmp_path / "x.npy", tmp_path / "y.npy"
    digits_run["prog"].save(prog_path)
    np.save(xp, digits_run["x"])
    np.save(yp, digits_run["y"])
    out, figs = tmp_path / "r.html", tmp_path / "figs"
    figs.mkdir()
    a = _parser().parse_args(["report", str(prog_path), "--input", str(xp), "--labels",
                              str(yp), "-o", str(out), "--png", str(figs)])
    assert a.backend == "emulator" and a.fn(a) == 0
    said = capsys.readouterr().out
    assert f"wrote {out}" in said and f"wrote {len(FIGURES)} PNG figure(s)" in said
    page = out.read_text(encoding="utf-8")
    assert f'data-v="{digits_run["data"]["energy"]["dynamic_j"]!r}"' in page

    from PIL import Image

    assert {p.stem for p in figs.iterdir()} == FIGURES
    for p in figs.iterdir():
        img = np.asarray(Image.open(p).convert("RGB")).astype(int)
        assert img.shape[1] == 760 and np.any(np.abs(img - 255) > 24, axis=-1).mean() > 0.01, p


def test_svg_fallback_without_chromium(digits_run, tmp_path):
    out = write_figures(digits_run["data"], tmp_path, chromium=None)
    assert out["format"] == "svg" and out["reason"]
    assert {p.stem for p in tmp_path.glob("*.svg")} == FIGURES
    for p in tmp_path.glob("*.svg"):
        root = ET.parse(p).getroot()                   # well-formed standalone SVG
        assert root.tag == "{http://www.w3.org/2000/svg}svg" and int(root.get("width")) > 0


def test_help_and_errors(digits_run, tmp_path):
    text = _parser()._subparsers._group_actions[0].choices["report"].format_help()
    assert "(default: emulator)" in text and "example:\n  neurocc report" in text
    missing = tmp_path / "no" / "r.html"
    a = _parser().parse_args(["report", "absent.neurocc", "--input", "absent.npy", "-o",
                              str(missing)])
    with pytest.raises(InputError, match="does not exist; create it first"):
        cmd_report(a)                                 # the output is checked before any work
    a = _parser().parse_args(["report", "absent.neurocc", "--input", "absent.npy", "-o",
                              str(tmp_path / "r.html"), "--png", str(tmp_path / "nodir")])
    with pytest.raises(InputError, match="not a directory"):
        cmd_report(a)
    prog_path, xp, bad = tmp_path / "d.neurocc", tmp_path / "x.npy", tmp_path / "obj.npy"
    digits_run["prog"].save(prog_path)
    np.save(xp, digits_run["x"][:, :3])
    np.save(bad, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    a = _parser().parse_args(["report", str(prog_path), "--input", str(bad), "-o",
                              str(tmp_path / "r.html")])
    with pytest.raises(InputError, match="cannot read input") as e:
        cmd_report(a)
    assert "\n" not in str(e.value)
    np.save(tmp_path / "y.npy", np.arange(5))
    a = _parser().parse_args(["report", str(prog_path), "--input", str(xp), "--labels",
                              str(tmp_path / "y.npy"), "-o", str(tmp_path / "r.html")])
    with pytest.raises(InputError, match=r"labels have shape \(5,\); expected \(3,\)"):
        cmd_report(a)
    assert not (tmp_path / "r.html").exists()


@pytest.fixture(scope="module")
def baseline_run(digits_run, tmp_path_factory):
    data = build_report(digits_run["prog"], digits_run["x"], labels=digits_run["y"],
                        baseline=True)
    page = render_html(data)
    path = tmp_path_factory.mktemp("baseline") / "report.html"
    path.write_text(page, encoding="utf-8")
    return {"data": data, "html": page, "path": path}


def _section(page: str, key: str) -> str:
    return re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)[1]


def test_no_baseline_unless_asked(digits_run):
    page, data = digits_run["html"], digits_run["data"]
    assert "ann_baseline" not in data["run"]
    assert 'id="baseline"' not in page and 'href="#baseline"' not in page
    assert "fig-baseline" not in page and "ANN baseline" not in page


def test_baseline_section_shows_the_baselines_numbers(digits_run, baseline_run):
    """The section holds what cost/baseline.py computes for this run (recomputed here from
    the program and the run): energies per platform beside the SNN's, the ratio to the
    comparable SNN figure, the MAC and synaptic-event counts, every figure's source."""
    want = jsonable(ann_baseline(digits_run["prog"], digits_run["res"]))
    data, page = baseline_run["data"], baseline_run["html"]
    b = data["run"]["ann_baseline"]
    assert b == want and b["available"]
    assert re.findall(r'<section id="([^"]+)">', page) == \
        ["activity", "energy", "baseline"] + [k for k, _ in SECTIONS[2:]]
    assert '<section id="baseline"><h2>ANN baseline</h2>' in page
    assert '<a href="#baseline">ANN baseline</a>' in page
    sec = _section(page, "baseline")

    def shown(v):
        assert f'data-v="{v!r}"' in sec, v

    snn = b["snn"]
    for v in (snn["dynamic_j"], snn["total_j"], snn["synaptic_ops_per_inference"],
              snn["steps_run"], b["ann"]["macs"], b["ann"]["params"], b["ann"]["activations"],
              b["neurobench_dense_T_steps"], b["synops_over_ann_macs"],
              *b["ann_macs_by_layer"].values()):
        shown(v)
    assert snn["dynamic_j"] == digits_run["res"].estimate.dynamic_j
    assert b["ann"]["macs"] == 12704 and b["neurobench_dense_T_steps"] == 12704 * 8
    assert set(b["platforms"]) == set(PLATFORMS)
    for k in PLATFORMS:
        r = b["platforms"][k]
        row = re.search(rf'<tr><td>[^<]*</td><td class="num" data-v="{r["energy_j"]!r}"'
                        r"(.*?)</tr>", sec)
        assert row, k
        cmp_to = "total" if r["includes_static"] else "dynamic"
        assert f'data-v="{b["ann_over_snn"][k]["vs_" + cmp_to]!r}"' in row[1], k
        assert f"SNN {cmp_to}" in row[1] and esc(r["what"]) in row[1], k
        assert f'data-v="{r["per_mac_j"]!r}"' in row[1], k
        if not r["includes_static"]:
            assert f'data-v="{r["arithmetic_j"]!r}"' in row[1], k
            assert f'data-v="{r["memory_j"]!r}"' in row[1], k
    assert b["platforms"]["cpu_whole_system"]["includes_static"]
    assert not b["platforms"]["int8_accelerator_horowitz"]["includes_static"]
    for key, f in b["figures"].items():
        row = re.search(rf"<tr[^>]*><td><code>{re.escape(key)}</code></td>(.*?)</tr>", sec)
        assert row and esc(f["source"]) in row[1], key
        assert f'data-v="{f["value"]!r}"' in row[1], key
        assert ("ASSUMPTION</span>" in row[1]) == f["assumption"], key
    assert any(f["assumption"] for f in b["figures"].values())
    for t in PITFALLS:
        assert f"<li>{esc(t)}</li>" in sec
    assert "Estimates, not measurements" in sec and "one MAC = one op" in sec


def test_baseline_figures_compare_like_with_like(baseline_run):
    data, page = baseline_run["data"], baseline_run["html"]
    b = data["run"]["ann_baseline"]
    ids = set(re.findall(r'<svg class="fig" id="([^"]+)"', page))
    assert ids == FIGURES | BASELINE_FIGURES == {f.id for f in figures(data)}
    sec = _section(page, "baseline")
    for fig, snn_key, static in (("fig-baseline-ops", "dynamic_j", False),
                                 ("fig-baseline-system", "total_j", True)):
        svg = re.search(rf'<svg class="fig" id="{fig}".*?</svg>', sec, re.S)[0]
        tips = re.findall(r"<title>([^<]*): energy ([^<]*)</title>", svg)
        rows = [r for r in b["platforms"].values() if r["includes_static"] == static]
        assert len(tips) == 1 + len(rows) and len(rows) >= 2
        assert tips[0][1] == fmt_j(b["snn"][snn_key])
        assert [t[1] for t in tips[1:]] == [fmt_j(r["energy_j"]) for r in rows]


def test_baseline_says_why_when_the_nir_file_is_unknown(digits_run):
    import nir

    prog = neurocc.compile(nir.read(digits.NIR_PATH))     # in memory: no .nir to count on
    data = build_report(prog, digits_run["x"][:, :3], baseline=True)
    page = render_html(data)
    sec = _section(page, "baseline")
    assert "ANN baseline not available" in sec and "not compiled from a .nir file" in sec
    assert "fig-baseline" not in page


def test_baseline_renders_in_headless_chromium(baseline_run, tmp_path):
    dom = browse(tmp_path, "--dump-dom", baseline_run["path"].as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    sizes = {}
    for tag in re.findall(r"<svg [^>]*>", dom.stdout):
        m = re.search(r'id="([^"]+)"[^>]*data-rendered="(\d+)x(\d+)"', tag)
        assert m, tag[:120]
        sizes[m[1]] = (int(m[2]), int(m[3]))
    assert set(sizes) == FIGURES | BASELINE_FIGURES
    for fig in BASELINE_FIGURES:
        assert sizes[fig][0] > 100 and sizes[fig][1] > 50, (fig, sizes[fig])


def test_cli_baseline_flag(digits_run, tmp_path, capsys):
    text = _parser()._subparsers._group_actions[0].choices["report"].format_help()
    assert "--baseline" in text
    prog_path, xp = tmp_path / "d.neurocc", tmp_path / "x.npy"
    digits_run["prog"].save(prog_path)
    np.save(xp, digits_run["x"][:, :3])
    out = tmp_path / "r.html"
    a = _parser().parse_args(["report", str(prog_path), "--input", str(xp), "-o", str(out),
                              "--baseline"])
    assert a.baseline and a.fn(a) == 0
    page = out.read_text(encoding="utf-8")
    blob = json.loads(re.search(r'<script type="application/json" id="neurocc-data">(.*?)'
                                "</script>", page, re.S)[1])
    b = blob["run"]["ann_baseline"]
    assert b["available"] and b["snn"]["dynamic_j"] > 0
    assert f'data-v="{b["platforms"]["int8_accelerator_horowitz"]["energy_j"]!r}"' in page
    a = _parser().parse_args(["report", str(prog_path), "--input", str(xp), "-o", str(out)])
    assert not a.baseline and a.fn(a) == 0
    assert 'id="baseline"' not in out.read_text(encoding="utf-8")
