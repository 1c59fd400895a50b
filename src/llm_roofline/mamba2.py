"""Mamba-2 (SSD) mixer (Nemotron-H, Mamba-2): a fixed recurrent state per sequence instead of a KV cache.

Following transformers' ``NemotronHMamba2Mixer`` / ``Mamba2Mixer``
(https://github.com/huggingface/transformers/blob/v5.23.0/src/transformers/models/nemotron_h/modeling_nemotron_h.py)
and the Mamba-2 paper (arXiv:2405.21060). H heads of size P (d_inner = H*P), state size N, G groups of
B and C (each shared by H / G heads).

- ``in_proj`` D -> z (d_inner), x (d_inner), B, C (G*N each), dt (H); depthwise ``conv1d`` over x, B, C
  (conv_dim = d_inner + 2*G*N channels, d_conv taps, bias) with SiLU; its state (conv_dim x d_conv) at
  activation precision;
- ``ssd_scan``, per head, with the state h [P, N] (kept at the scenario's state precision):
  * prefill, the chunked SSD algorithm (``mamba2_chunk_scan`` / ``mamba_chunk_scan_combined``, chunk Q =
    ``chunk_size``, the sequence padded to whole chunks as HF does): per chunk 2*Q^2*N (C B^T),
    Q^2 (the decay mask), 2*Q^2*P (the masked scores times x), 2*Q*N*P (the chunk's states, B^T x),
    2*Q*N*P (C times the incoming state), Q*P (its decay) and 2*N*P (passing the state to the next
    chunk, a sequential scan as the fused kernel does; HF's reference einsum is quadratic in the number
    of chunks); plus per token and head dt (softplus, 4), the discretisation dt*x (P) and the D skip (2*P);
  * decode (``mamba2_selective_state_update``): per head dA (1), dB = dt*B (N), dB*x (N*P), h*dA + dBx
    (2*N*P), C h (2*N*P), the D skip (2*P), dt (4): 5*N*P + N + 2*P + 5; h is read and written;
- ``mixer.norm``: RMSNorm over d_inner (in G groups) gated by SiLU(z) (4 + 4 + 1 FLOPs per element);
  ``out_proj`` d_inner -> D.
"""

from __future__ import annotations

import numpy as np

from .cache import conv_state_elements_per_sequence, state_elements_per_sequence
from .models.spec import Mamba2, ModelSpec
from .ops import ACT_FLOPS, NORM_FLOPS, linear

DT_FLOPS = 4  # softplus(dt + dt_bias) per token and head


def ssd_flops(m: Mamba2, B, T, stage: str):
    """FLOPs of the SSD scan for B sequences of T new tokens (see the module docstring)."""
    H, P, N, Q = m.num_heads, m.head_dim, m.d_state, m.chunk_size
    if stage == "decode":
        return B * T * H * (5.0 * N * P + N + 2.0 * P + 1 + DT_FLOPS)
    chunks = np.ceil(T / Q)
    per_chunk = 2.0 * Q * Q * (N + P) + Q * Q + 4.0 * Q * N * P + Q * P + 2.0 * N * P
    return B * H * (chunks * per_chunk + T * (DT_FLOPS + 3.0 * P))


def mamba2_mixer(ops, sz, model: ModelSpec, m: Mamba2, count, stage, src: str) -> str:
    """The operators of one Mamba-2 mixer, reading ``src``; returns its output operator."""
    D, B, M = model.hidden_size, sz.B, sz.M
    H, Di, channels = m.num_heads, m.d_inner, m.conv_dim
    in_proj = linear(ops, sz, "in_proj", count, D, Di + channels + H, m.proj_bias, inputs=(src,))
    conv_params = channels * m.d_conv + (channels if m.conv_bias else 0)
    conv_state = B * conv_state_elements_per_sequence(m) * sz.ab
    conv = ops.add("conv1d", "conv", count, inputs=(in_proj,), params=conv_params,
                   weight_bytes=conv_params * sz.ab, param_bytes=conv_params * sz.ab,
                   flops=2.0 * M * channels * m.d_conv + M * channels * ((1 if m.conv_bias else 0) + ACT_FLOPS["silu"]),
                   act_read=M * channels * sz.ab, act_write=M * channels * sz.ab,
                   kv_read=conv_state if stage == "decode" else 0.0, kv_write=conv_state)
    state = B * state_elements_per_sequence(m) * sz.sb
    scan_params = 3 * H  # dt_bias, A_log, D
    scan = ops.add("ssd_scan", "scan", count, inputs=(conv, in_proj), params=scan_params,
                   weight_bytes=scan_params * sz.ab, param_bytes=scan_params * sz.ab,
                   flops=ssd_flops(m, B, sz.T, stage), act_read=M * (channels + H) * sz.ab,
                   act_write=M * Di * sz.ab, kv_read=state if stage == "decode" else 0.0, kv_write=state)
    gated = ops.add("mixer.norm", "norm", count, inputs=(scan, in_proj), params=Di, weight_bytes=Di * sz.ab,
                    param_bytes=Di * sz.ab, flops=M * Di * (NORM_FLOPS["rmsnorm"] + ACT_FLOPS["silu"] + 1),
                    act_read=2 * M * Di * sz.ab, act_write=M * Di * sz.ab)
    return linear(ops, sz, "out_proj", count, Di, D, m.proj_bias, inputs=(gated,))
