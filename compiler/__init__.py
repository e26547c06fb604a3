"""The compiler: NIR → IR → passes → a target's program.

- ``ir/``: the IR types, in one place (neuron kinds, connectivity, graph, encoding,
  discretized network, mapping);
- ``frontend/``: NIR → IR;
- ``passes/``: the pass interface and the target-independent passes (discretize, partition,
  place, route);
- ``targets/``: the target seam; ``targets/loihi/`` holds Loihi's numerics, lowering, program
  types and artifact payload;
- ``pipeline.py``: the default pipeline, top to bottom;
- ``resources.py``, ``mesh.py``, ``linalg.py``: resource accounting, mesh geometry, numpy
  kernels shared with the backends;
- ``artifact.py``: the program file (save/load, versioned, checksummed).
"""
