"""The ``neurocc`` command line (``main``) and the demo it runs."""

from neurocc.cli.main import main

__all__ = ["main"]
