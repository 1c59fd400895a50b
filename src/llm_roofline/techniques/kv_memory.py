"""Where the KV cache lives and how much of memory it takes: paged blocks, contiguous reservations,
a shared prefix, and the offloaded share.

Per layer (cache.py gives what a layer keeps: every token, or the last W - 1 of a sliding window),
after a sequence's P + G tokens, with a prefix of Lp tokens shared by the batch:

- kept = cached_tokens(P + G); prefix = cached_tokens(Lp), kept once for the batch (prefix caching
  keeps it for the next requests too); the prefix tokens still in the window at the end, overlap =
  clip(Lp - (P + G - kept), 0, prefix), are not stored again: own = kept - overlap per sequence.
- ``exact`` (today's accounting): own and prefix tokens, nothing more.
- ``paged`` (vLLM's PagedAttention, Kwon et al. 2023, https://arxiv.org/abs/2309.06180): memory in
  blocks of b tokens; the prefix's full blocks are shared, its last partial block is copied into each
  sequence (copy on write), and each sequence's last block is partly empty (internal fragmentation:
  (b - 1) / 2 tokens per sequence and layer on average over lengths, exactly ceil(n / b) * b - n for a
  given length n): shared = floor(prefix / b) * b, own = ceil((kept - shared) / b) * b.
- ``contiguous`` (a cache allocated up front for the longest sequence, as HF's static cache and early
  servers do): every sequence reserves cached_tokens(max_seq_len) tokens, whatever its length, and
  nothing is shared (the prefix is not stored once).

Compressed entries (DeepSeek-V4), recurrent and conv states and pending buffers are per sequence, as in
cache.cache_bytes_per_sequence. The offloaded share f_kv of all of it sits in host memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cache import (
    cache_elements_per_token,
    cached_tokens,
    compressed_elements_per_entry,
    compressed_entries,
    conv_state_elements_per_sequence,
    pending_elements_per_sequence,
    state_elements_per_sequence,
)
from ..errors import ScenarioError


@dataclass(frozen=True)
class KVMemory:
    """Bytes (arrays over scenarios): ``per_sequence`` each sequence keeps on its own, ``shared`` kept
    once for the batch (a cached prefix)."""

    per_sequence: np.ndarray
    shared: np.ndarray


def reserved_length(model, techniques, lengths: np.ndarray) -> float:
    """Tokens a contiguous cache reserves per sequence: max_seq_len, else the model's context length."""
    length = techniques.max_seq_len or model.max_position_embeddings
    if length is None:
        raise ScenarioError(f"kv_allocation contiguous: {model.name or 'the model'} states no context length "
                            "(max_position_embeddings); give max_seq_len")
    if np.any(lengths > length):
        raise ScenarioError(f"kv_allocation contiguous: sequences of {np.max(lengths):g} tokens do not fit a "
                            f"reservation of {length:g} (max_seq_len)")
    return float(length)


def kv_memory(model, scenario, kv_bytes, state_bytes, act_bytes) -> KVMemory:
    """The KV cache of ``scenario`` (see the module doc); bytes per element of the cache (``kv_bytes``),
    recurrent states (``state_bytes``) and conv states (``act_bytes``)."""
    t, sc = scenario.optimizations, scenario
    total = sc.prompt_len + sc.gen_len
    prefix = t.prefix_len if t.kv_allocation != "contiguous" else np.zeros_like(total)
    reserve = reserved_length(model, t, total) if t.kv_allocation == "contiguous" else None
    b = float(t.kv_block_size)
    own_sum, shared_sum = np.zeros_like(total), np.zeros_like(total)
    for group in model.layer_groups:
        mixer = group.layer.mixer
        per_token = cache_elements_per_token(mixer) * kv_bytes
        if reserve is not None:
            own, shared = cached_tokens(mixer, np.full_like(total, reserve)), np.zeros_like(total)
        else:
            kept = cached_tokens(mixer, total)
            shared = cached_tokens(mixer, prefix)
            overlap = np.clip(prefix - (total - kept), 0.0, shared)
            own = kept - overlap
            if t.kv_allocation == "paged":
                whole = np.floor(shared / b) * b
                own = np.ceil((own + shared - whole) / b) * b
                shared = whole
        states = (compressed_entries(mixer, total) * compressed_elements_per_entry(mixer) * kv_bytes
                  + state_elements_per_sequence(mixer) * state_bytes
                  + (conv_state_elements_per_sequence(mixer) + pending_elements_per_sequence(mixer)) * act_bytes)
        own_sum = own_sum + group.count * (own * per_token + states)
        shared_sum = shared_sum + group.count * shared * per_token
    return KVMemory(per_sequence=own_sum, shared=shared_sum)
