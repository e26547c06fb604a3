"""The cost model: what a run did and what it costs.

- ``activity.py``: event counters (spikes, synaptic ops, neuron updates, messages, hops) per
  layer, per core and per step, fed by every backend's spike trains;
- ``latency.py``: a step's and an inference's duration from those events;
- ``energy.py``: energy per inference (events × the hardware config's constants, static
  power apart) and the model's stated assumptions.
"""
