"""What each layer keeps per sequence between decode steps (the KV cache, or a Mamba state).

Elements, not bytes (multiply by the KV cache's bytes per element):
- attention: K and V for every cached token: 2*K*H per token.
- MLA: the compressed latent and the shared rotary key, kv_lora_rank + qk_rope_head_dim per token.
  transformers 5.23 caches exactly these: DeepseekV3Attention.forward calls
  ``past_key_values.update(kv_nope, k_rot)`` on the normalized latent (one "head" of kv_lora_rank)
  and the rotated shared key (one "head" of qk_rope_head_dim) before any decompression ("Cache
  read / write is performed while latent KV is still compressed"), as MLA serving kernels (vLLM,
  SGLang, FlashMLA) do. What differs is the decode compute: transformers re-expands every cached
  token with kv_b_proj at each step (expand_kv), while graph.py models the absorbed form of
  serving kernels (q_absorb / out_absorb), which reads kv_b_proj's weights once per step.
- Mamba: a fixed state per sequence: conv state d_inner*d_conv + SSM state d_inner*d_state.

A sliding-window layer (window W) or a chunked-attention layer (chunk C, Llama 4) keeps the last
W-1 (C-1) tokens between steps, as transformers 5.23 does: both get a ``DynamicSlidingWindowLayer``
(``cache_utils.DYNAMIC_LAYER_TYPE_MAPPING``; chunked layers are sized by ``attention_chunk_size``),
whose ``update`` keeps ``full_key_states[:, :, -sliding_window + 1:, :]``. A decode step then reads
those W-1 past tokens plus the current one, min(S, W) keys (a chunked layer attends to those of the
current chunk only: attention.decode_keys). Source: transformers 5.23.0, cache_utils.py,
https://github.com/huggingface/transformers/blob/main/src/transformers/cache_utils.py
"""

from __future__ import annotations

import numpy as np

from .models.spec import Attention, LatentAttention, Mamba, Mixer


def cache_elements_per_token(mixer: Mixer) -> int:
    """KV-cache elements one token adds to one layer."""
    if isinstance(mixer, Attention):
        return 2 * mixer.num_kv_heads * mixer.head_dim
    if isinstance(mixer, LatentAttention):
        return mixer.kv_lora_rank + mixer.qk_rope_head_dim
    return 0


def state_elements_per_sequence(mixer: Mixer) -> int:
    """Recurrent-state elements one sequence holds in one layer, whatever its length."""
    if isinstance(mixer, Mamba):
        return mixer.d_inner * (mixer.d_conv + mixer.d_state)
    return 0


def cache_window(mixer: Mixer) -> float:
    """W (or C): the most keys one query of the layer sees (inf for global attention)."""
    if isinstance(mixer, Attention) and mixer.sliding_window is not None:
        return float(mixer.sliding_window)
    return np.inf


def cache_chunk(mixer: Mixer) -> float:
    """C: the attention chunk of a chunked-attention layer (inf otherwise)."""
    if isinstance(mixer, Attention) and mixer.attention_chunk is not None:
        return float(mixer.attention_chunk)
    return np.inf


def cached_tokens(mixer: Mixer, tokens: np.ndarray) -> np.ndarray:
    """Tokens held in the layer's cache after ``tokens`` tokens: all of them, or min(tokens, W - 1)
    (C - 1) for a sliding-window (chunked) layer. (transformers' slice keeps every token when
    W = 1, an edge no model uses; we keep none, the window's meaning.)"""
    span = isinstance(mixer, Attention) and mixer.local_span
    if not span:
        return np.asarray(tokens, dtype=np.float64)
    return np.minimum(tokens, float(span) - 1.0)
