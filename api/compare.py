"""``neurocc.compare``: one model on several hardware configs, side by side."""

from __future__ import annotations

from neurocc.api.errors import NeuroccError, ResourceError


def compare(model, hw=("loihi1", "loihi2"), x=None, *, backend: str = "emulator",
            **compile_options) -> list[dict]:
    """Compile ``model`` (anything ``neurocc.compile`` takes) for every config in ``hw`` (a
    list, or names separated by commas), run ``x`` on ``backend``, and return one row per
    config: ``hw``, ``fits`` (False with ``does_not_fit``, the reason, when it does not),
    ``cores``, ``chips``, ``energy_j``, ``dynamic_j``, ``static_j``, ``latency_s``,
    ``edp_js`` (energy-delay product) per inference, and ``spikes`` per inference."""
    from neurocc.api.compile import compile as compile_model

    names = [h.strip() for h in hw.split(",")] if isinstance(hw, str) else list(hw)
    if not names or any(not h for h in names):
        raise NeuroccError(f"--hw {hw!r}: give one or more config names separated by commas")
    if x is None:
        raise NeuroccError("compare needs an input x (steps, batch, *input_shape)")
    rows = []
    for name in names:
        try:
            prog = compile_model(model, hw=name, **compile_options)
        except ResourceError as e:
            rows.append({"hw": name, "fits": False, "does_not_fit": str(e)})
            continue
        res = prog.run(x, backend=backend)
        est = res.estimate
        rows.append({"hw": prog.hw.name, "fits": True,
                     "cores": int(len(prog.placement.cores_used)), "chips": prog.chips_used,
                     "energy_j": est.energy_j, "dynamic_j": est.dynamic_j,
                     "static_j": est.static_j, "latency_s": est.latency_s,
                     "edp_js": est.energy_j * est.latency_s,
                     "spikes": res.activity.total_spikes() / res.batch})
    return rows


def render_compare(rows: list[dict]) -> str:
    from neurocc.reports.run import fmt_j, fmt_s

    lines = [f"{'hw':<10}{'fits':>5}{'cores':>7}{'chips':>6}{'energy/inf':>12}{'dynamic':>11}"
             f"{'static':>11}{'latency':>11}{'EDP (J·s)':>12}"]
    for r in rows:
        if not r["fits"]:
            lines.append(f"{r['hw']:<10}{'no':>5}  {r['does_not_fit']}")
            continue
        lines.append(f"{r['hw']:<10}{'yes':>5}{r['cores']:>7}{r['chips']:>6}"
                     f"{fmt_j(r['energy_j']):>12}{fmt_j(r['dynamic_j']):>11}"
                     f"{fmt_j(r['static_j']):>11}{fmt_s(r['latency_s']):>11}"
                     f"{r['edp_js']:>12.3g}")
    return "\n".join(lines)


__all__ = ["compare", "render_compare"]
