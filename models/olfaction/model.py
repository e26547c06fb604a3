"""The olfactory circuit in torch/snnTorch with the chip's timing.

Every population is an ``snntorch.Leaky`` (zero reset, fixed β and threshold); the loop runs
step by step and every projection delays by one step, exactly as on the chip and in
neurocc's float reference::

    I_pn[t]  = W_orn_pn · x[t−1]
    I_kc[t]  = W_pn_kc · s_pn[t−1] + W_apl_kc · s_apl[t−1]
    I_apl[t] = W_kc_apl · s_kc[t−1]
    I_out[t] = W_out · s_kc[t−1] + b_out

The input (``T`` steps) is followed by ``DEPTH`` steps of zero input, and the output is read in
the window ``[DEPTH, DEPTH + T)``: the same drain and alignment as ``neurocc.backends.run``
(the output's pipeline depth is 3: receptors → PN → KC → output). As on the chip, every
population is held at rest until its hop depth (PN 1, KC 2, APL and output 3); only the
output layer has a bias, so only its hold matters.
"""

from __future__ import annotations

import numpy as np
import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

from neurocc.models.olfaction.circuit import Circuit, Weights
from neurocc.models.olfaction.data import N_CLASSES

DEPTH = 3
SURROGATE_SLOPE = 10.0


def _leaky(beta: float, threshold, grad: bool = False) -> snn.Leaky:
    return snn.Leaky(beta=float(beta), threshold=torch.as_tensor(threshold, dtype=torch.float32),
                     spike_grad=surrogate.fast_sigmoid(slope=SURROGATE_SLOPE) if grad else None,
                     reset_mechanism="zero", learn_beta=False, learn_threshold=False)


class FixedCircuit(nn.Module):
    """Receptors → PN → KC ⇄ APL (no readout): produces Kenyon-cell spike trains."""

    def __init__(self, c: Circuit, w: Weights):
        super().__init__()
        self.c = c
        for k in ("orn_pn", "pn_kc", "kc_apl", "apl_kc"):
            self.register_buffer(k, torch.from_numpy(np.asarray(getattr(w, k), np.float32)))
        self.pn = _leaky(c.beta_pn, c.threshold)
        self.kc = _leaky(c.beta_kc, c.threshold)
        self.apl = _leaky(c.beta_apl, torch.from_numpy(np.asarray(w.apl_threshold)))

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> dict:
        """``x`` ``(T, B, 50)`` receptor spikes → dict of spike trains over ``T + DEPTH`` steps:
        ``kc`` bool ``(T+DEPTH, B, n_kc)``, ``pn``/``apl`` spike counts ``(B, n)``."""
        steps, batch = x.shape[:2]
        x = x.float()
        n_pn, n_kc, n_apl = self.orn_pn.shape[0], self.pn_kc.shape[0], self.kc_apl.shape[0]
        z = x.new_zeros
        v_pn, v_kc, v_apl = z(batch, n_pn), z(batch, n_kc), z(batch, n_apl)
        s_in, s_pn, s_kc, s_apl = z(batch, x.shape[2]), z(batch, n_pn), z(batch, n_kc), \
            z(batch, n_apl)
        kc_train = torch.zeros(steps + DEPTH, batch, n_kc, dtype=torch.bool)
        pn_count, apl_count = z(batch, n_pn), z(batch, n_apl)
        for t in range(steps + DEPTH):
            i_pn = s_in @ self.orn_pn.T
            i_kc = s_pn @ self.pn_kc.T + s_apl @ self.apl_kc.T
            i_apl = s_kc @ self.kc_apl.T
            s_pn, v_pn = self.pn(i_pn, v_pn)
            s_kc, v_kc = self.kc(i_kc, v_kc)
            s_apl, v_apl = self.apl(i_apl, v_apl)
            s_in = x[t] if t < steps else z(batch, x.shape[2])
            kc_train[t] = s_kc.bool()
            pn_count += s_pn
            apl_count += s_apl
        return {"kc": kc_train, "pn": pn_count, "apl": apl_count}


class Readout(nn.Module):
    """KC spikes → Affine → output LIF, trained; surrogate gradients through the output."""

    def __init__(self, n_kc: int, beta: float, threshold: float):
        super().__init__()
        self.fc = nn.Linear(n_kc, N_CLASSES)
        self.out = _leaky(beta, threshold, grad=True)

    def forward(self, kc: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``kc`` ``(steps + DEPTH, B, n_kc)`` spikes → output spikes and membranes
        ``(steps, B, N_CLASSES)`` in the aligned window.

        The output layer is held at rest until step ``DEPTH`` (its hop depth), when the first
        KC spikes of the sample can reach it, as on the chip: its bias does not integrate
        before. Output step ``t`` reads the KC spikes of step ``DEPTH + t − 1``.
        """
        # The projection is linear: all steps' currents in one product.
        current = self.fc(kc[DEPTH - 1:DEPTH - 1 + steps].float())
        v = torch.zeros(kc.shape[1], N_CLASSES)
        spikes, mems = [], []
        for cur in current.unbind(0):
            s, v = self.out(cur, v)
            spikes.append(s)
            mems.append(v)
        return torch.stack(spikes), torch.stack(mems)


def kc_trains(circuit: FixedCircuit, x: np.ndarray, batch: int = 500) -> dict:
    """Run the fixed circuit on encoded odours ``(T, N, 50)`` in batches (numpy in, torch out)."""
    parts = [circuit(torch.from_numpy(x[:, i:i + batch])) for i in range(0, x.shape[1], batch)]
    return {k: torch.cat([p[k] for p in parts], dim=1 if k == "kc" else 0) for k in parts[0]}


def sparseness(kc: torch.Tensor) -> dict:
    """KC activity statistics from ``(steps, N, n_kc)`` spike trains."""
    counts = kc.sum(0).float()
    active = (counts > 0).float().mean(1)
    return {"kc_active_fraction": float(active.mean()),
            "kc_active_fraction_std": float(active.std()),
            "kc_spikes_per_odour": float(counts.sum(1).mean())}
