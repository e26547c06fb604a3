"""Benchmarks (not tests): scripts that measure the compiler and write ``results/``."""
