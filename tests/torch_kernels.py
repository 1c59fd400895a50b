"""Hand-derived FLOPs of the kernels that are not plain projections, for ``test_torch_crosscheck.py``:
for each, what ``FlopCounterMode`` counts in transformers' reference code (its batched products, read
off the modeling files) and what our operator counts (the same products, plus the work our docstrings
list and HF does elementwise or in a form FlopCounterMode does not see). A prefill of ``batch``
sequences of ``seq`` tokens, every layer group of the spec.

- ``scan`` (Mamba, modeling_mamba.py ``mamba_selective_scan``): HF one bmm per step, C . h:
  2*M*d_inner*N; ours 9*M*d_inner*N + 7*M*d_inner (graph.py ``_mamba``).
- ``ssd`` (Mamba-2, modeling_nemotron_h.py ``mamba2_chunk_scan``, chunk Q, c = ceil(T/Q) chunks of the
  padded sequence, H heads of P, state N): HF's einsums C B^T 2*Q^2*N, M x 2*Q^2*P, B^T x 2*Q*P*N and
  C h 2*Q*P*N per chunk and head, and the state passing as one einsum over (c+1) x (c+1) chunk pairs,
  2*(c+1)^2*P*N per head; ours the same per chunk, a sequential state passing 2*P*N per chunk, the
  decay mask and scaling Q^2 + Q*P per chunk, and 4 + 3*P per token (dt, dt*x, D skip) (mamba2.py).
- ``delta_rule`` (gated delta-net, modeling_qwen3_next.py ``torch_chunk_gated_delta_rule``, chunk 64,
  c chunks, Hv value heads of dv, keys dk): HF's products 2*C^2*dk twice (k_beta k^T, q k^T), 2*C^2*dv
  (attention times v_new) and 2*C*dk*dv three times per chunk and head; the two triangular solves
  (``linalg.solve_triangular``) are not counted by FlopCounterMode; ours adds them, C^2*(dk + dv), the
  state's decay and update 2*dk*dv per chunk, and 10 + 6*dk per token and head (gates, l2 norms)
  (linear_attention.py).
- ``indexer`` (DSA, modular_deepseek_v32.py ``DeepseekV32Indexer``, Hi heads of di, every query against
  all T keys): HF q.k 2*Hi*di and the weighted head sum 2*Hi per pair; ours Hi*(2*di + 4) per pair
  (the scale and relu as well) (sparse_attention.py). DeepSeek-V4's CSA indexer (modeling_deepseek_v4.py
  ``DeepseekV4IndexerScorer``) scores every query against the T/m compressed index keys with one bmm,
  2*Hi*di per pair, and sums the heads elementwise; ours Hi*(2*di + 4) per pair
  (compressed_attention.py).
"""

from __future__ import annotations

import math

from llm_roofline.models.spec import CompressedAttention, GatedDeltaNet, Mamba, Mamba2, ModelSpec, SparseLatentAttention

DELTA_CHUNK = 64


def kernel_expectations(spec: ModelSpec, batch: int, seq: int) -> dict[str, tuple[float, float]]:
    """part -> (HF's counted FLOPs, our operators' FLOPs) for the kernels the spec has."""
    b, T, M = batch, seq, batch * seq
    out: dict[str, list[float]] = {}

    def add(part: str, hf: float, ours: float, n: int) -> None:
        acc = out.setdefault(part, [0.0, 0.0])
        acc[0] += hf * n
        acc[1] += ours * n

    for group in spec.layer_groups:
        m, n = group.layer.mixer, group.count
        if isinstance(m, Mamba):
            add("scan", 2 * M * m.d_inner * m.d_state, 9 * M * m.d_inner * m.d_state + 7 * M * m.d_inner, n)
        elif isinstance(m, Mamba2):
            H, P, N, Q = m.num_heads, m.head_dim, m.d_state, m.chunk_size
            c = math.ceil(T / Q)
            chunks = 2 * b * H * c * (Q * Q * (N + P) + 2 * Q * P * N)
            hf = chunks + 2 * b * (c + 1) ** 2 * H * P * N
            ours = chunks + 2 * b * H * c * P * N + b * H * (c * (Q * Q + Q * P) + T * (4 + 3 * P))
            add("ssd", hf, ours, n)
        elif isinstance(m, GatedDeltaNet):
            Hv, dk, dv, C = m.num_v_heads, m.k_head_dim, m.v_head_dim, DELTA_CHUNK
            c = math.ceil(T / C)
            hf = b * Hv * c * (4 * C * C * dk + 2 * C * C * dv + 6 * C * dk * dv)
            ours = hf + b * Hv * (c * (C * C * (dk + dv) + 2 * dk * dv) + T * (10 + 6 * dk))
            add("delta_rule", hf, ours, n)
        elif isinstance(m, SparseLatentAttention) and m.indexer:
            Hi, di = m.index_heads, m.index_head_dim
            add("indexer", 2 * b * T * T * Hi * (di + 1), b * T * T * Hi * (2 * di + 4), n)
        elif isinstance(m, CompressedAttention) and m.kind == "csa":
            Hi, di, entries = m.index_heads, m.index_head_dim, T // m.compress_ratio
            assert entries * m.compress_ratio == T, "choose a prompt of whole compression windows"
            add("indexer", 2 * b * T * entries * Hi * di, b * T * entries * Hi * (2 * di + 4), n)
    return {part: (hf, ours) for part, (hf, ours) in out.items()}


def hyper_connection_mix_flops(spec: ModelSpec, batch: int, seq: int) -> int:
    """DeepSeek-V4's residual mix comb^T @ streams, a batched product of 2*n^2*D FLOPs per token that HF
    computes in the decoder layer's forward (not in a module of its own), at two sites per layer; our
    ``attn_hc.expand`` / ``ffn_hc.expand`` operators hold it (with the post * output products)."""
    n = spec.hc_mult
    return 0 if n == 1 else 2 * spec.num_layers * batch * seq * 2 * n * n * spec.hidden_size
