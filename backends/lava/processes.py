"""neurocc's own Lava processes: a LIF population that restarts every sample and can reset
by subtraction, and one spike sink for all populations that saves what it received once.

``NcLIF``'s process model reuses Lava 0.10's bit-accurate LIF arithmetic
(``AbstractPyLifModelFixed.subthr_dynamics``, ``scale_bias``; ``PyLifModelBitAcc``'s
threshold and spike rule) and adds only what Lava's LIF cannot express:

- **sample boundary and hold** — Lava's ``time_step`` ``t`` (from 1) is step
  ``k = (t − 1) % period`` of a sample. For its first ``hold`` steps (the group's hop depth,
  the steps before the sample's first input can reach it) the population is held exactly as
  the emulator holds it: ``u = v = 0``, no spikes, input and bias ignored. On the first step
  it runs (``k == hold``) it starts from that zero state; if that is the sample's very first
  step (``hold == 0``) the ``a_in`` that arrives still carries the previous sample's last
  activity (every Dense/Sparse/Conv sends the buffer it computed one step earlier) and is
  treated as 0, as the emulator's empty buffers are. Otherwise ``a_in`` is this sample's own
  (computed from spikes of step ``k − 1 ≥ 0``) and is used. The spikes a population sends on
  every step feed the synapses normally, so a bias above threshold still spikes on the first
  step, as in the emulator. From step ``active`` of a sample on (padding after a sample,
  when the program has synaptic delays) the population is held the same way: silent, so
  nothing new enters the delay buffers while what is still in them drains before the next
  sample begins (it arrives at the latest on the next sample's step 0, whose ``a_in`` is
  ignored as above).
- **subtractive reset** (snnTorch's default) — ``v ← clip(decay(v) + u + bias − s_prev·(vth
  << 6))`` with ``s_prev`` the previous step's spikes, and no reset to 0. The subtraction is
  folded into this step's effective bias, so Lava's own clip sees the same single sum as the
  emulator (clipping first and subtracting afterwards would differ near saturation).
- **non-spiking readouts** (``li``/``cubali``) never spike.

Recording: u and v (post-step, like a ``Monitor``) are kept in the model and saved with
``np.save`` on the last step, one file per variable, instead of being read back through
``Var.get`` element by element.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import AbstractPyLifModelFixed, PyLifModelBitAcc


class NcLIF(AbstractProcess):
    """Lava's fixed-point LIF plus sample-boundary reset, subtractive reset and recording.

    ``period``: steps per sample; ``hold``: steps at the start of each sample during which
    the population is held at zero (its hop depth); ``active``: steps of each sample it runs
    (the rest of the period it is held: padding that lets delayed input drain; default all);
    ``reset``: "zero" or "subtract"; ``spiking``: False for readouts that never spike;
    ``num_steps``: total steps of the run (recordings are saved on the last one);
    ``record``: variable name ("u", "v") → ``.npy`` path, saved as ``(n, num_steps)`` int32.
    """

    def __init__(self, *, shape: tuple[int, ...], du: int, dv: int, vth: int,
                 bias_mant: np.ndarray, bias_exp: int | np.ndarray, reset: str,
                 spiking: bool, period: int, hold: int, num_steps: int,
                 record: dict | None = None, name: str | None = None,
                 active: int | None = None):
        super().__init__(shape=shape, reset=reset, spiking=spiking, period=period, hold=hold,
                         num_steps=num_steps, record=dict(record or {}), name=name,
                         active=period if active is None else active)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.u = Var(shape=shape, init=0)
        self.v = Var(shape=shape, init=0)
        self.du = Var(shape=(1,), init=du)
        self.dv = Var(shape=(1,), init=dv)
        self.vth = Var(shape=(1,), init=vth)
        self.bias_mant = Var(shape=shape, init=bias_mant)
        self.bias_exp = Var(shape=shape, init=bias_exp)


@implements(proc=NcLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyNcLifModel(AbstractPyLifModelFixed):
    """Bit-accurate model of ``NcLIF`` (see the module docstring)."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)

    # Lava's own threshold scaling and spike rule (PyLifModelBitAcc).
    scale_threshold = PyLifModelBitAcc.scale_threshold
    spiking_activation = PyLifModelBitAcc.spiking_activation

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.effective_vth = 0
        self.period = int(proc_params["period"])
        self.hold = int(proc_params["hold"])
        self.active = int(proc_params.get("active", self.period))
        self.subtract = proc_params["reset"] == "subtract"
        self.spiking = bool(proc_params["spiking"])
        self.num_steps = int(proc_params["num_steps"])
        self.record = dict(proc_params["record"])
        self.s_prev = None
        self.trace = {}

    def _update(self, a_in: np.ndarray) -> np.ndarray:
        """One step of Lava's bit-accurate LIF, with the subtraction folded into the bias."""
        self.scale_bias()
        if not self.isthrscaled:
            self.scale_threshold()
        if self.subtract:
            self.effective_bias = self.effective_bias - self.s_prev * self.effective_vth
        self.subthr_dynamics(activation_in=a_in)
        if self.spiking:
            s = self.spiking_activation()
        else:
            s = np.zeros(self.v.shape, dtype=bool)
        if not self.subtract:
            self.reset_voltage(spike_vector=s)
        return s

    def run_spk(self):
        a_in = self.a_in.recv()
        if self.s_prev is None:
            self.s_prev = np.zeros(self.v.shape, dtype=bool)
            self.trace = {k: np.zeros((*self.v.shape, self.num_steps), dtype=np.int32)
                          for k in self.record}
        k = (self.time_step - 1) % self.period            # step within the sample
        after = k >= self.active                           # padding after the sample
        if k <= self.hold or after:
            self.u[:] = 0
            self.v[:] = 0
            self.s_prev[:] = False
        if k < self.hold or after:                         # held: nothing happens
            s = np.zeros(self.v.shape, dtype=bool)
        else:
            if k == 0:                                     # last sample's in-flight input
                a_in = np.zeros_like(a_in)
            s = self._update(a_in)
        self.s_prev = s
        self.s_out.send(s)
        t = self.time_step - 1
        for var, arr in self.trace.items():
            arr[..., t] = getattr(self, var)
        if self.time_step == self.num_steps:
            for var, path in self.record.items():
                np.save(path, self.trace[var])


class SpikeRecorder(AbstractProcess):
    """One sink for every population: InPort ``in_i`` of shape ``shapes[i]`` records what it
    receives on each step; on the last step everything is saved to ``path`` (``.npz``, key
    ``s{i}``, ``(n_i, num_steps)`` bool). One process instead of a sink ``RingBuffer`` per
    population halves the number of OS processes Lava schedules (Lava 0.10 cannot connect a
    ``concat_with`` port to a sink), and the result is read back once, not element by element
    through ``Var.get``."""

    def __init__(self, *, shapes: list[tuple[int, ...]], num_steps: int, path: str,
                 name: str | None = None):
        shapes = [tuple(int(d) for d in s) for s in shapes]
        super().__init__(shapes=shapes, num_steps=num_steps, path=path, name=name)
        for i, shape in enumerate(shapes):
            setattr(self, f"in_{i}", InPort(shape=shape))


class _PyRecorderBase(PyLoihiProcessModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.num_steps = int(proc_params["num_steps"])
        self.path = proc_params["path"]
        self.bufs = [np.zeros((*s, self.num_steps), dtype=bool) for s in proc_params["shapes"]]
        self.ports = None

    def run_spk(self):
        if self.ports is None:
            self.ports = [getattr(self, f"in_{i}") for i in range(len(self.bufs))]
        t = self.time_step - 1
        for port, buf in zip(self.ports, self.bufs):
            buf[..., t] = port.recv()
        if self.time_step == self.num_steps:
            np.savez(self.path, **{f"s{i}": b for i, b in enumerate(self.bufs)})


def recorder_model(num_ports: int) -> type:
    """The ``SpikeRecorder`` process model for ``num_ports`` ports (Lava requires the model
    to declare exactly the process's ports)."""
    attrs = {f"in_{i}": LavaPyType(PyInPort.VEC_DENSE, np.int32) for i in range(num_ports)}
    attrs["__module__"] = __name__
    name = f"PySpikeRecorderModel{num_ports}"
    if name not in globals():
        cls = type(name, (_PyRecorderBase,), attrs)
        # Lava's compiler looks for the models of a process among its module's members
        # before it consults the run config's map, so the class must live here.
        globals()[name] = implements(proc=SpikeRecorder, protocol=LoihiProtocol)(
            requires(CPU)(tag("fixed_pt")(cls)))
    return globals()[name]


def model_map(num_recorder_ports: int) -> dict:
    """Explicit Process → ProcessModel map for the run config."""
    return {NcLIF: PyNcLifModel, SpikeRecorder: recorder_model(num_recorder_ports)}
