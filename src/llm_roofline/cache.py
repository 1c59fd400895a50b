"""What each layer keeps per sequence between decode steps: a KV cache that grows with the tokens
seen, and fixed-size recurrent states.

Elements, not bytes; three precisions:
- KV cache (the scenario's KV bytes per element), per cached token:
  attention: K and V, 2*K*H; MLA: the compressed latent and the shared rotary key,
  kv_lora_rank + qk_rope_head_dim. transformers 5.23 caches exactly these: DeepseekV3Attention.forward
  calls ``past_key_values.update(kv_nope, k_rot)`` on the normalized latent (one "head" of
  kv_lora_rank) and the rotated shared key (one "head" of qk_rope_head_dim) before any decompression
  ("Cache read / write is performed while latent KV is still compressed"), as MLA serving kernels
  (vLLM, SGLang, FlashMLA) do. What differs is the decode compute: transformers re-expands every cached
  token with kv_b_proj at each step (expand_kv), while latent_attention.py models the absorbed form of
  serving kernels (q_absorb / out_absorb), which reads kv_b_proj's weights once per step.
  DSA adds the indexer's key, index_head_dim (``update_indexer``). A layer that shares an earlier
  layer's KV (Gemma 4) caches nothing of its own.
- recurrent state (the scenario's ``state_bits``, float32 by default), per sequence whatever its
  length: Mamba d_inner*d_state, Mamba-2 H*P*N, gated delta-net Hv*dk*dv.
- DeepSeek-V4 (CompressedAttention): the window's shared K = V (H per token, W - 1 tokens at most, see
  below; HF's generic sliding cache of the 3 window-only layers stores that tensor twice, as keys and
  values, which we do not copy) plus one compressed entry per complete window of m tokens (H, and
  CSA's index key di), and the compressor's pending buffers (activation precision, counted at their
  largest).
- short-convolution state (activation precision), per sequence: the last d_conv inputs of the conv1d
  channels (Mamba d_inner, Mamba-2 and gated delta-net their conv_dim).

A sliding-window layer (window W) or a chunked-attention layer (chunk C, Llama 4) keeps the last
W-1 (C-1) tokens between steps, as transformers 5.23 does: both get a ``DynamicSlidingWindowLayer``
(``cache_utils.DYNAMIC_LAYER_TYPE_MAPPING``; chunked layers are sized by ``attention_chunk_size``),
whose ``update`` keeps ``full_key_states[:, :, -sliding_window + 1:, :]``; DeepSeek-V4's
``DeepseekV4HCACache`` / ``DeepseekV4CSACache`` subclass it and keep the same W-1 window. A decode step
then reads those W-1 past tokens plus the current one, min(S, W) keys (a chunked layer attends to those
of the current chunk only: attention.decode_keys). Source: transformers 5.23.0, cache_utils.py,
https://github.com/huggingface/transformers/blob/main/src/transformers/cache_utils.py

Precisions, as transformers 5.23 keeps them in a bf16 model (checked by running each model: the
cache's ``recurrent_states`` are float32 and its ``conv_states`` bfloat16): the SSM / delta-rule
state comes out of the scan in float32 (``mamba_selective_scan``: ``discrete_A = exp(A * dt)`` with
A = -exp(A_log.float()); ``torch_chunk_gated_delta_rule`` casts q, k, v to float32) and
``LinearAttentionLayer.update_recurrent_state`` stores it as given
(https://github.com/huggingface/transformers/blob/v5.23.0/src/transformers/cache_utils.py); the conv
state is a slice of the projected activations (``update_conv_state``), so it has their dtype. Qwen3.5's
config says so too (``mamba_ssm_dtype: float32``), as does Nemotron-H's (``mamba_ssm_cache_dtype``).
"""

from __future__ import annotations

import numpy as np

from .models.spec import (
    Attention,
    CompressedAttention,
    GatedDeltaNet,
    LatentAttention,
    Mamba,
    Mamba2,
    Mixer,
    SparseLatentAttention,
)


def cache_elements_per_token(mixer: Mixer | None) -> int:
    """KV-cache elements one token adds to one layer."""
    if isinstance(mixer, Attention):
        return 0 if mixer.kv_shared else 2 * mixer.num_kv_heads * mixer.head_dim
    if isinstance(mixer, LatentAttention):
        return mixer.kv_lora_rank + mixer.qk_rope_head_dim
    if isinstance(mixer, SparseLatentAttention):
        return cache_elements_per_token(mixer.mla) + (mixer.index_head_dim if mixer.indexer else 0)
    if isinstance(mixer, CompressedAttention):
        return mixer.head_dim  # the window's shared K = V (the compressed entries: compressed_entries)
    return 0


def state_elements_per_sequence(mixer: Mixer | None) -> int:
    """Recurrent-state elements (SSM / delta-rule state) one sequence holds in one layer, whatever its
    length; kept at the scenario's state precision."""
    if isinstance(mixer, Mamba):
        return mixer.d_inner * mixer.d_state
    if isinstance(mixer, Mamba2):
        return mixer.num_heads * mixer.head_dim * mixer.d_state
    if isinstance(mixer, GatedDeltaNet):
        return mixer.num_v_heads * mixer.k_head_dim * mixer.v_head_dim
    return 0


def conv_state_elements_per_sequence(mixer: Mixer | None) -> int:
    """Short-convolution state elements one sequence holds in one layer: d_conv inputs of every conv
    channel (transformers keeps ``conv_kernel_size`` columns); kept at activation precision."""
    if isinstance(mixer, Mamba):
        return mixer.d_inner * mixer.d_conv
    if isinstance(mixer, Mamba2):
        return mixer.conv_dim * mixer.d_conv
    if isinstance(mixer, GatedDeltaNet):
        return mixer.conv_dim * mixer.conv_kernel
    return 0


def cache_window(mixer: Mixer | None) -> float:
    """W: the most keys one query of a sliding-window layer sees (inf without a window)."""
    if isinstance(mixer, Attention | CompressedAttention) and mixer.sliding_window is not None:
        return float(mixer.sliding_window)
    return np.inf


def cache_chunk(mixer: Mixer | None) -> float:
    """C: the attention chunk of a chunked-attention layer (inf otherwise)."""
    if isinstance(mixer, Attention) and mixer.attention_chunk is not None:
        return float(mixer.attention_chunk)
    return np.inf


def compressed_entries(mixer: Mixer | None, tokens: np.ndarray) -> np.ndarray:
    """DeepSeek-V4 compressed entries after ``tokens`` tokens: one per complete window of compress_ratio."""
    if isinstance(mixer, CompressedAttention) and mixer.kind != "sliding":
        return np.floor(np.asarray(tokens, dtype=np.float64) / mixer.compress_ratio)
    return np.zeros_like(np.asarray(tokens, dtype=np.float64))


def compressed_elements_per_entry(mixer: Mixer | None) -> int:
    """KV-cache elements of one compressed entry: the pooled K = V (H), and CSA's index key (di)."""
    if isinstance(mixer, CompressedAttention) and mixer.kind != "sliding":
        return mixer.head_dim + (mixer.index_head_dim if mixer.kind == "csa" else 0)
    return 0


def pending_elements_per_sequence(mixer: Mixer | None) -> int:
    """DeepSeek-V4's compressor buffers (activation precision), at their largest: the kv and gate of up to
    compress_ratio - 1 tokens waiting for their window (c*H wide each, c = 2 for CSA), CSA's overlap
    state (the last window's first series, kv and gate: 2*H) and the same for its indexer (di wide)."""
    if not isinstance(mixer, CompressedAttention) or mixer.kind == "sliding":
        return 0
    waiting = mixer.compress_ratio - 1
    out = 2 * waiting * mixer.series * mixer.head_dim
    if mixer.kind == "csa":
        di = mixer.index_head_dim
        out += 2 * mixer.head_dim + 2 * waiting * 2 * di + 2 * di
    return out


def cached_tokens(mixer: Mixer | None, tokens: np.ndarray) -> np.ndarray:
    """Tokens held in the layer's cache after ``tokens`` tokens: all of them, or min(tokens, W - 1)
    (C - 1) for a sliding-window (chunked) layer. (transformers' slice keeps every token when
    W = 1, an edge no model uses; we keep none, the window's meaning.)"""
    span = min(cache_window(mixer), cache_chunk(mixer))
    return np.minimum(np.asarray(tokens, dtype=np.float64), span - 1.0)


def cache_bytes_per_sequence(model, tokens: np.ndarray, kv_bytes: np.ndarray, state_bytes: np.ndarray,
                             act_bytes: np.ndarray) -> np.ndarray:
    """Bytes one sequence keeps after ``tokens`` tokens, summed over layers: KV cache x ``kv_bytes`` +
    recurrent states x ``state_bytes`` + conv states x ``act_bytes`` (bytes per element each)."""
    total = np.zeros_like(np.asarray(tokens, dtype=np.float64))
    for group in model.layer_groups:
        mixer = group.layer.mixer
        per_layer = ((cached_tokens(mixer, tokens) * cache_elements_per_token(mixer)
                      + compressed_entries(mixer, tokens) * compressed_elements_per_entry(mixer)) * kv_bytes
                     + state_elements_per_sequence(mixer) * state_bytes
                     + (conv_state_elements_per_sequence(mixer) + pending_elements_per_sequence(mixer)) * act_bytes)
        total = total + group.count * per_layer
    return total
