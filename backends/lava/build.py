"""A compiled program → a graph of real Lava processes, run once for a whole batch.

This module imports Lava; it runs inside the worker process (``worker.py``), never in the
caller's process.

The graph: one ``io.source.RingBuffer`` for the input; per projection a ``Dense``,
``Sparse`` (scipy CSR) or ``Conv`` with the program's integer weights, ``weight_exp``,
``num_weight_bits`` and sign mode (graded input: ``num_message_bits`` = the program's payload
bits); per group an ``NcLIF`` (Lava's bit-accurate LIF + sample-boundary and subtractive
reset, ``processes.py``); one ``SpikeRecorder`` sink for every group's spikes.

The batch is time-multiplexed: sample ``b`` occupies Lava steps ``b·P + 1 … b·P + T``
(``T = steps_run``, ``P = T`` + the program's longest synaptic delay) and every ``NcLIF``
restarts from the emulator's zero state on the first of them and stays silent on the
padding steps after them (see ``processes.py`` for why that is exact). Projections with
synaptic delays are ``DelayDense``/``DelaySparse``, one delay per synapse.
"""

from __future__ import annotations

import os
import time

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2HwCfg, Loihi2SimCfg
from lava.proc.dense.process import DelayDense
from lava.proc.dense.process import Dense as LavaDense
from lava.proc.io.source import RingBuffer
from lava.proc.sparse.process import DelaySparse
from lava.proc.sparse.process import Sparse as LavaSparse
from lava.utils.weightutils import SignMode
from scipy.sparse import csr_matrix

from neurocc.backends.lava.processes import NcLIF, PyNcLifModel, SpikeRecorder, model_map
from neurocc.compiler.ir.connectivity import Conv, Dense, Sparse
from neurocc.compiler.ir.encoding import GradedInput
from neurocc.compiler.ir.graph import INPUT
from neurocc.compiler.targets.loihi.numerics import EXCITATORY, INHIBITORY, LAVA, MIXED
from neurocc.compiler.targets.loihi.program import LoihiProgram, LoihiProjection

SIGN_MODES = {MIXED: SignMode.MIXED, EXCITATORY: SignMode.EXCITATORY,
              INHIBITORY: SignMode.INHIBITORY}


class ProgramNotLavaExact(ValueError):
    """The program holds a value Lava would silently change (its weights are not on Lava's
    grid), so Lava and the emulator could not agree."""


def _check_weights(p: LoihiProjection, w: np.ndarray) -> None:
    lava_w = LAVA.lava_weights(w, p.sign_mode, p.num_weight_bits)
    if not np.array_equal(lava_w, w):
        i = int(np.flatnonzero(lava_w.ravel() != w.ravel())[0])
        raise ProgramNotLavaExact(
            f"projection '{p.name}': weight {int(w.ravel()[i])} is not representable in "
            f"{p.sign_mode} mode with {p.num_weight_bits} bits (Lava would use "
            f"{int(lava_w.ravel()[i])}); recompile the program")


def _cpu_model(proc) -> type:
    """The bit-accurate CPU model ``Loihi2SimCfg(select_tag="fixed_pt")`` would pick."""
    from lava.proc.dense.models import PyDelayDenseModelBitAcc, PyDenseModelBitAcc
    from lava.proc.io.source import PySendModelFixed
    from lava.proc.sparse.models import PyDelaySparseModelBitAcc, PySparseModelBitAcc

    models = {LavaDense: PyDenseModelBitAcc, LavaSparse: PySparseModelBitAcc,
              DelayDense: PyDelayDenseModelBitAcc, DelaySparse: PyDelaySparseModelBitAcc,
              RingBuffer: PySendModelFixed}
    if type(proc) not in models:
        from lava.proc.conv.models import PyConvModelFixed

        return PyConvModelFixed
    return models[type(proc)]


def _dense(p: LoihiProjection, num_message_bits: int):
    w = np.asarray(p.conn.weight, dtype=np.int64)
    _check_weights(p, w)
    proc = LavaDense(weights=w.astype(np.int32), weight_exp=int(p.weight_exp),
                     num_weight_bits=int(p.num_weight_bits), sign_mode=SIGN_MODES[p.sign_mode],
                     num_message_bits=num_message_bits, name=p.name)
    return proc, proc.s_in, proc.a_out


def _sparse(p: LoihiProjection, num_message_bits: int):
    c = p.conn
    data = np.asarray(c.data, dtype=np.int64)
    _check_weights(p, data)
    w = csr_matrix((data.astype(np.int32), np.asarray(c.indices), np.asarray(c.indptr)),
                   shape=c.shape)
    proc = LavaSparse(weights=w, weight_exp=int(p.weight_exp),
                      num_weight_bits=int(p.num_weight_bits),
                      sign_mode=SIGN_MODES[p.sign_mode], num_message_bits=num_message_bits,
                      name=p.name)
    return proc, proc.s_in, proc.a_out


def _synapse_delays(p: LoihiProjection, w: np.ndarray) -> np.ndarray:
    """Lava's ``delays``: one int per stored weight (0 where the weight is 0: Lava checks
    every entry against its 63-step limit, and those synapses carry nothing)."""
    return np.where(w != 0, p.delay.per_synapse(p.conn), 0).astype(int)


def _delay_dense(p: LoihiProjection, num_message_bits: int):
    w = np.asarray(p.conn.weight, dtype=np.int64)
    _check_weights(p, w)
    proc = DelayDense(weights=w.astype(np.int32), delays=_synapse_delays(p, w),
                      weight_exp=int(p.weight_exp), num_weight_bits=int(p.num_weight_bits),
                      sign_mode=SIGN_MODES[p.sign_mode], num_message_bits=num_message_bits,
                      name=p.name)
    return proc, proc.s_in, proc.a_out


def _delay_sparse(p: LoihiProjection, num_message_bits: int):
    c = p.conn
    data = np.asarray(c.data, dtype=np.int64)
    _check_weights(p, data)
    parts = (np.asarray(c.indices), np.asarray(c.indptr))
    w = csr_matrix((data.astype(np.int32), *parts), shape=c.shape)
    d = csr_matrix((_synapse_delays(p, data), *parts), shape=c.shape)
    proc = DelaySparse(weights=w, delays=d, weight_exp=int(p.weight_exp),
                       num_weight_bits=int(p.num_weight_bits),
                       sign_mode=SIGN_MODES[p.sign_mode], num_message_bits=num_message_bits,
                       name=p.name)
    return proc, proc.s_in, proc.a_out


def _conv(p: LoihiProjection, num_message_bits: int):
    """Lava's Conv computes a true convolution on (W, H, C) arrays with kernels
    (C_out, kW, kH, C_in/groups): flip and transpose PyTorch's (C_out, C_in/groups, kH, kW)
    kernel, and reverse every (h, w) pair. It supports ``groups`` (depthwise pooling)
    natively, ignores ``weight_exp`` and does not quantize weights; the compiler already
    sets ``weight_exp = 0`` for conv, and the emulator ignores it as well."""
    from lava.proc.conv.process import Conv as LavaConv  # imports scipy.signal: ~1 s

    c: Conv = p.conn
    w = np.asarray(c.weight, dtype=np.int64)
    w_lava = w[:, :, ::-1, ::-1].transpose(0, 3, 2, 1).astype(np.int32)
    C, H, W = c.in_shape
    proc = LavaConv(weight=w_lava, input_shape=(W, H, C), padding=tuple(c.padding[::-1]),
                    stride=tuple(c.stride[::-1]), dilation=tuple(c.dilation[::-1]),
                    groups=int(c.groups), num_weight_bits=int(p.num_weight_bits),
                    num_message_bits=num_message_bits, name=p.name)
    if tuple(proc.output_shape) != tuple(c.out_shape[::-1]):
        raise ProgramNotLavaExact(f"projection '{p.name}': Lava's Conv gives output "
                                  f"{proc.output_shape} (W, H, C), the program {c.out_shape}")
    return proc, proc.s_in, proc.a_out


CONNECTIONS = {Dense: _dense, Sparse: _sparse, Conv: _conv}
"""Connectivity type → builder returning ``(process, in_port, out_port)``."""
DELAYED = {Dense: _delay_dense, Sparse: _delay_sparse}
"""The same for projections with synaptic delays (Lava's Conv has none: the compiler stores
delayed convolutions as dense or sparse synapses)."""


def _wire(src_port, dst_port, conn) -> None:
    """Flat (n,) populations in PyTorch's CHW order ↔ Lava Conv's (W, H, C) ports."""
    if isinstance(conn, Conv):
        C, H, W = conn.in_shape
        src_port.reshape((C, H, W)).transpose([2, 1, 0]).connect(dst_port)
    else:
        src_port.connect(dst_port)


def _unwire(src_port, dst_port, conn) -> None:
    if isinstance(conn, Conv):
        src_port.transpose([2, 1, 0]).reshape((int(np.prod(conn.out_shape)),)).connect(dst_port)
    else:
        src_port.connect(dst_port)


def run_cfg(on_chip: bool, models: dict):
    if on_chip:
        return Loihi2HwCfg(exception_proc_model_map=models)
    return Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=models)


def run_program(program: LoihiProgram, x: np.ndarray, record_state: bool, workdir: str,
                on_chip: bool = False, timings: dict | None = None,
                phase=None) -> dict[str, np.ndarray]:
    """Run ``x`` (steps_run, batch, n_in) int payloads through Lava; return arrays keyed
    ``spikes/<group>`` (bool), ``v/<group>`` and ``u/<group>`` (int64), each
    ``(steps_run, batch, n)``. ``timings`` (if given) receives the seconds spent building
    the graph, compiling and running it, stopping, and reading the recordings back;
    ``phase(name)`` (if given) is called as each of those starts."""
    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    steps, batch, n_in = x.shape
    # Synaptic delays outlive a sample: each one is followed by ``pad`` silent steps, so its
    # last spikes have arrived (and are dropped) before the next sample starts.
    pad = program.max_delay
    period = steps + pad
    total = period * batch
    # Column b·P + t is sample b's step t (P = steps + pad; the padding is zero input).
    padded = np.concatenate([x, np.zeros((pad, batch, n_in), x.dtype)]) if pad else x
    data = np.ascontiguousarray(padded.transpose(2, 1, 0).reshape(n_in, total)).astype(np.int32)
    enc = program.input_encoding
    graded_bits = int(enc.bits) if isinstance(enc, GradedInput) else 0

    holds = program.hop_depths   # as the emulator: held until the input arrives
    with_v = set(program.recorded_membranes(record_state))
    lifs = {}
    recorded = {}
    for i, g in enumerate(program.groups):
        keep = ("u", "v") if record_state else (("v",) if g.name in with_v else ())
        record = {k: os.path.join(workdir, f"g{i}.{k}.npy") for k in keep}
        recorded[g.name] = record
        lifs[g.name] = NcLIF(
            shape=(g.n,), du=int(g.du), dv=int(g.dv), vth=int(g.vth),
            bias_mant=np.asarray(g.bias_mant, dtype=np.int64),
            bias_exp=np.full(g.n, int(g.bias_exp), dtype=np.int64), reset=g.reset,
            spiking=bool(g.spiking), period=period, active=steps,
            hold=int(holds.get(g.name, 0)), num_steps=total, record=record,
            name=g.name)
    src = RingBuffer(data=data) if any(p.src == INPUT for p in program.projections) else None
    lava_procs = [src] if src is not None else []
    for p in program.projections:
        out_port = src.s_out if p.src == INPUT else lifs[p.src].s_out
        bits = graded_bits if p.src == INPUT else 0
        builders = CONNECTIONS if p.delay is None else DELAYED
        proc, s_in, a_out = builders[type(p.conn)](p, bits)
        lava_procs.append(proc)
        _wire(out_port, s_in, p.conn)
        _unwire(a_out, lifs[p.dst].a_in, p.conn)
    spikes_path = os.path.join(workdir, "spikes.npz")
    rec = SpikeRecorder(shapes=[(g.n,) for g in program.groups], num_steps=total,
                        path=spikes_path, name="neurocc_recorder")
    for i, g in enumerate(program.groups):
        lifs[g.name].s_out.connect(getattr(rec, f"in_{i}"))

    models = model_map(len(program.groups))
    if not on_chip:
        # Naming every process's model up front spares Lava's compiler its search, which
        # re-executes every module in each process's directory once per process (~1 s).
        # (Lava looks a process instance up in this map before searching.)
        models.update({proc: _cpu_model(proc) for proc in lava_procs})
        models.update({lif: PyNcLifModel for lif in lifs.values()})
        models[rec] = models[SpikeRecorder]
    cfg = run_cfg(on_chip, models)
    t1 = time.perf_counter()
    if phase is not None:
        phase(f"compiling and running {total} Lava steps")
    # On failure the exception propagates without stop(): Lava can hang in stop() after an
    # error, and the caller kills the whole process tree anyway.
    rec.run(condition=RunSteps(num_steps=total), run_cfg=cfg)
    t2 = time.perf_counter()
    rec.stop()
    t3 = time.perf_counter()
    if phase is not None:
        phase("reading the recordings back")

    def per_sample(a: np.ndarray) -> np.ndarray:       # (n, B·P) → (T, B, n)
        a = a.reshape(a.shape[0], batch, period)[:, :, :steps]
        return np.ascontiguousarray(a.transpose(2, 1, 0))

    out = {}
    with np.load(spikes_path) as z:
        for i, g in enumerate(program.groups):
            out[f"spikes/{g.name}"] = per_sample(z[f"s{i}"]).astype(bool)
    for name, record in recorded.items():
        for k, path in record.items():
            out[f"{k}/{name}"] = per_sample(np.load(path)).astype(np.int64)
    timings.update(build_s=t1 - t0, compile_and_run_s=t2 - t1, stop_s=t3 - t2,
                   read_back_s=time.perf_counter() - t3, lava_steps=total)
    return out
