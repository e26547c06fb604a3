"""``make bench``: every benchmark, results into ``benchmarks/results/``."""

from neurocc.benchmarks import mapping_scale, speed

if __name__ == "__main__":
    speed.main([])
    mapping_scale.main([])
