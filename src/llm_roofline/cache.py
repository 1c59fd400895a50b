"""What each layer keeps per sequence between decode steps (the KV cache, or a Mamba state).

Elements, not bytes (multiply by the KV cache's bytes per element):
- attention: K and V for every cached token: 2*K*H per token.
- MLA: the compressed latent and the shared rotary key: kv_lora_rank + qk_rope_head_dim per
  token (the cache layout of MLA serving kernels; HF's eager code caches decompressed K/V).
- Mamba: a fixed state per sequence: conv state d_inner*d_conv + SSM state d_inner*d_state.
A sliding-window layer caches at most W tokens.
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
    """Most tokens a layer ever caches (inf without a sliding window)."""
    if isinstance(mixer, Attention) and mixer.sliding_window is not None:
        return float(mixer.sliding_window)
    return np.inf


def cached_tokens(mixer: Mixer, tokens: np.ndarray) -> np.ndarray:
    """Tokens held in the layer's cache after ``tokens`` tokens have been seen."""
    return np.minimum(tokens, cache_window(mixer))
