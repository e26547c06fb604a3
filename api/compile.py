"""``neurocc.compile``: one entry point for every kind of model."""

from __future__ import annotations

from pathlib import Path

from neurocc.api.errors import NeuroccError
from neurocc.compiler.ir.encoding import InputEncoding

DEFAULT_DT = 1e-4
"""snnTorch's NIR export convention (``beta = 1 − dt/tau``)."""


def _is_torch_module(model) -> bool:
    import sys

    torch = sys.modules.get("torch")     # a module exists only if torch was imported:
    return torch is not None and isinstance(model, torch.nn.Module)  # never import it here


def compile(model, hw="loihi2", *, sample=None, dt: float | None = None,
            reset: str | None = None, input_encoding: InputEncoding | None = None,
            placement: str = "greedy+swap", callback=None, steps: int | None = None,
            producer: str | None = None):
    """Compile ``model`` for the hardware config ``hw`` (a name from ``neurocc hw`` or a
    ``.toml`` path) and return the program (``LoihiProgram`` for Loihi targets).

    ``model`` is a ``.nir`` path, a ``nir.NIRGraph``, or an snnTorch module: an
    ``nn.Sequential`` (``sample``, an input batch ``(B, *input_shape)``, gives it shapes), or
    a module with its own ``forward`` chaining its layers (snnTorch's explicit-state style;
    ``sample`` is what that ``forward`` takes, e.g. ``(steps, B, *input_shape)``; it is run
    once to trace the chain). ``dt`` is the time
    step in seconds (default 1e-4, snnTorch's convention). ``reset`` is the reset rule the
    model was trained with: a module says it itself (giving another one is an error); for NIR,
    which cannot record it, it defaults to ``"zero"`` (snnTorch's ``Leaky`` default is
    ``"subtract"``: say so). ``input_encoding``: ``SpikeInput()`` (default) or
    ``GradedInput(max)``. ``callback(pass, state)`` is called after every compiler pass.
    ``steps``: the time steps per sample the model was trained with, if known; it is saved
    with the program, and ``run`` then refuses an input whose axes look swapped (batch axis
    of that length, time axis not).
    ``producer``: the tool that wrote a NIR model (``norse``, ``spyx``, ``snntorch``,
    ``spikingjelly``, ``sinabs``, ``rockpool``): its time step and reset rule become the
    defaults, and what its exporter writes unlike NIR is corrected
    (``compiler/frontend/producers.py``).

    Raises a ``NeuroccError`` subclass naming the layer, the limit and the way out when the
    model cannot be compiled.
    """
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)
                              or steps < 1):
        raise NeuroccError(f"steps must be a whole number of time steps >= 1, got {steps!r}")
    prog = _compile(model, hw, sample, dt, reset, input_encoding, placement, callback,
                    producer)
    if steps is not None:
        prog.network.meta["steps"] = steps        # saved with the program; read by run
    return prog


def _compile(model, hw, sample, dt, reset, input_encoding, placement, callback, producer):
    from neurocc.compiler.pipeline import compile_network, compile_nir

    if producer is not None and _is_torch_module(model):
        raise NeuroccError(f"producer={producer!r} is for NIR files; an snnTorch module is "
                           "read as it is: leave producer unset")
    if _is_torch_module(model):
        from neurocc.compiler.frontend import read_nir
        from neurocc.compiler.frontend.torch_module import module_to_nir

        graph, info = module_to_nir(model, sample)
        if reset is not None and reset != info.reset:
            raise NeuroccError(f"reset={reset!r} but the model's neurons use "
                               f"reset_mechanism={info.reset!r}; leave reset unset")
        if dt is not None and dt != info.dt:
            raise NeuroccError(f"dt={dt!r}: an snnTorch module is read with snnTorch's own "
                               f"dt = {info.dt} (only beta and alpha matter); leave dt unset")
        net = read_nir(graph)
        source = {"torch_module": type(model).__name__,
                  "layers": [f"{node}: {kind}" for node, kind in info.layers]}
        return compile_network(net, hw, info.dt, info.reset, input_encoding, source,
                               placement=placement, callback=callback)
    if isinstance(model, (str, Path)) or type(model).__name__ == "NIRGraph":
        if producer is not None:
            from neurocc.compiler.frontend.producers import producer as known

            p = known(producer)
            dt, reset = (p.dt if dt is None else dt), (reset or p.reset)
        return compile_nir(model, hw, dt if dt is not None else DEFAULT_DT, reset or "zero",
                           input_encoding, callback=callback, placement=placement,
                           producer=producer)
    raise NeuroccError(f"cannot compile a {type(model).__name__}: give a .nir path, a "
                       "nir.NIRGraph or an snnTorch nn.Sequential")


__all__ = ["compile"]
