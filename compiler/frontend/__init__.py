"""Frontends: ways into the IR. ``nir.py`` reads NIR graphs (files or ``nir.NIRGraph``)."""

from neurocc.compiler.frontend.nir import SUPPORTED, read_nir

__all__ = ["SUPPORTED", "read_nir"]
