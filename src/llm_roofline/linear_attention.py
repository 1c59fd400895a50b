"""Gated delta-net linear attention (Qwen3-Next, Qwen3.5 ``linear_attn``): a fixed recurrent state per
sequence instead of a KV cache.

Following transformers' ``Qwen3NextGatedDeltaNet`` / ``Qwen3_5GatedDeltaNet``
(https://github.com/huggingface/transformers/blob/v5.23.0/src/transformers/models/qwen3_next/modeling_qwen3_next.py)
and the Gated DeltaNet paper (arXiv:2412.06464). Hk key heads of size dk, Hv value heads of size dv;
q and k are shared by Hv / Hk value heads each (grouped value attention).

- projections D -> q, k, v, z, b, a; depthwise ``conv1d`` over q, k, v (conv_kernel taps, no bias)
  with SiLU; its state (conv_dim x conv_kernel) at activation precision;
- ``gated_delta_rule``: per token and value head, beta = sigmoid(b), g = -exp(A_log) * softplus(a +
  dt_bias) (10 FLOPs, nominal), l2-normalised q and k (3 FLOPs per element). The recurrence, per value
  head, with the state S [dk, dv] (kept at the scenario's state precision):
  * prefill, chunked (``torch_chunk_gated_delta_rule``, chunk C = 64, the sequence padded to whole chunks,
    as HF and the FLA kernels do): per chunk 2*C^2*dk (k_beta k^T) + 2*C^2*dk (q k^T) + C^2*(dk + dv)
    (the two unit-triangular solves, one multiply-add per pair below the diagonal and column)
    + 2*C^2*dv (intra-chunk attention times the new values) + 3 * 2*C*dk*dv (k_cumdecay S, q S and
    k^T v_new) + 2*dk*dv (the chunk's decay and update of S): C^2*(5*dk + 3*dv) + 6*C*dk*dv + 2*dk*dv;
    the final state is written;
  * decode, recurrent (``torch_recurrent_gated_delta_rule``): decay S (dk*dv), k^T S (2*dk*dv), the
    delta (2*dv), S += k delta^T (2*dk*dv), q^T S (2*dk*dv): 7*dk*dv + 2*dv; S is read and written;
- ``linear_attn.norm``: RMSNorm over dv gated by SiLU(z) (4 + 4 + 1 FLOPs per element); ``out_proj``.
"""

from __future__ import annotations

import numpy as np

from .cache import conv_state_elements_per_sequence, state_elements_per_sequence
from .models.spec import GatedDeltaNet, ModelSpec
from .ops import ACT_FLOPS, NORM_FLOPS, linear

CHUNK = 64  # torch_chunk_gated_delta_rule's chunk_size
GATING_FLOPS = 10  # per token and value head: sigmoid(b), softplus(a + dt_bias), exp(A_log), products
L2NORM_FLOPS = 3  # per element: square, sum, scale


def delta_rule_flops(gdn: GatedDeltaNet, B, T, stage: str):
    """FLOPs of the gated delta rule for B sequences of T new tokens (see the module docstring)."""
    Hv, dk, dv = gdn.num_v_heads, gdn.k_head_dim, gdn.v_head_dim
    per_token = Hv * (GATING_FLOPS + L2NORM_FLOPS * 2 * dk)
    if stage == "decode":
        recurrence = Hv * (7.0 * dk * dv + 2.0 * dv) * T
    else:
        chunks = np.ceil(T / CHUNK)
        recurrence = Hv * chunks * (CHUNK**2 * (5.0 * dk + 3.0 * dv) + 6.0 * CHUNK * dk * dv + 2.0 * dk * dv)
    return B * (per_token * T + recurrence)


def gated_delta_net(ops, sz, model: ModelSpec, gdn: GatedDeltaNet, count, stage, src: str) -> str:
    """The operators of one gated delta-net mixer, reading ``src``; returns its output operator."""
    D, B, M = model.hidden_size, sz.B, sz.M
    Hv, kd, vd = gdn.num_v_heads, gdn.key_dim, gdn.value_dim
    if gdn.fused_projections:
        qkv = z = linear(ops, sz, "in_proj_qkvz", count, D, 2 * kd + 2 * vd, False, inputs=(src,))
        b = a = linear(ops, sz, "in_proj_ba", count, D, 2 * Hv, False, inputs=(src,))
    else:
        qkv = linear(ops, sz, "in_proj_qkv", count, D, 2 * kd + vd, False, inputs=(src,))
        z = linear(ops, sz, "in_proj_z", count, D, vd, False, inputs=(src,))
        b = linear(ops, sz, "in_proj_b", count, D, Hv, False, inputs=(src,))
        a = linear(ops, sz, "in_proj_a", count, D, Hv, False, inputs=(src,))
    channels, taps = gdn.conv_dim, gdn.conv_kernel
    conv_params = channels * taps
    conv_state = B * conv_state_elements_per_sequence(gdn) * sz.ab
    conv = ops.add("conv1d", "conv", count, inputs=(qkv,), params=conv_params, weight_bytes=conv_params * sz.ab,
                   param_bytes=conv_params * sz.ab,
                   flops=2.0 * M * channels * taps + M * channels * ACT_FLOPS["silu"],
                   act_read=M * channels * sz.ab, act_write=M * channels * sz.ab,
                   kv_read=conv_state if stage == "decode" else 0.0, kv_write=conv_state)
    state = B * state_elements_per_sequence(gdn) * sz.sb
    scan_params = 2 * Hv  # A_log, dt_bias
    rule = ops.add("gated_delta_rule", "scan", count, inputs=tuple(dict.fromkeys((conv, b, a))),
                   params=scan_params, weight_bytes=scan_params * sz.ab, param_bytes=scan_params * sz.ab,
                   flops=delta_rule_flops(gdn, B, sz.T, stage),
                   act_read=M * (channels + 2 * Hv) * sz.ab, act_write=M * vd * sz.ab,
                   kv_read=state if stage == "decode" else 0.0, kv_write=state)
    dv = gdn.v_head_dim
    gated = ops.add("linear_attn.norm", "norm", count, inputs=tuple(dict.fromkeys((rule, z))), params=dv,
                    weight_bytes=dv * sz.ab, param_bytes=dv * sz.ab,
                    flops=M * vd * (NORM_FLOPS["rmsnorm"] + ACT_FLOPS["silu"] + 1),
                    act_read=2 * M * vd * sz.ab, act_write=M * vd * sz.ab)
    return linear(ops, sz, "out_proj", count, vd, D, False, inputs=(gated,))
