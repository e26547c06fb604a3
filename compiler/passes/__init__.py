"""The passes: one interface (``base.Pass``: ``run(state) -> state``), run in order by
``compiler/pipeline.py``. Target-independent passes live here; a target's lowering pass lives
with the target (``compiler/targets/<name>/``)."""

from neurocc.compiler.passes.base import RESETS, CompileOptions, CompileState, Pass, Pipeline

__all__ = ["RESETS", "CompileOptions", "CompileState", "Pass", "Pipeline"]
