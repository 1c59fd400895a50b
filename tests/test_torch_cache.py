"""Sliding-window and chunked-attention caches against transformers' own DynamicCache.

Tiny models (random weights, CPU) of the families with local attention run a prompt of P tokens and
then G single-token decode steps with a DynamicCache, as ``generate`` does. After every step the
tokens each layer's cache holds must equal our ``cached_tokens`` (W - 1 or C - 1 once full: the
cache keeps ``full_key_states[:, :, -W + 1:]``), their sum our KV-cache elements; the keys a decode
step attends to (the unmasked entries of its attention-mask row) must equal ``decode_keys``.
"""

from __future__ import annotations

import numpy as np
import pytest

from llm_roofline.attention import decode_keys
from llm_roofline.cache import cache_bytes_per_sequence, cache_chunk, cache_window, cached_tokens, compressed_entries
from llm_roofline.models.hf_config import spec_from_hf_config

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers.cache_utils import get_layer_types_and_kwargs  # noqa: E402

from torch_models import build_model  # noqa: E402

pytestmark = pytest.mark.torch

TINY = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
        "head_dim": 8, "vocab_size": 64, "max_position_embeddings": 256}
CONFIGS = {
    "mistral": {**TINY, "model_type": "mistral", "num_hidden_layers": 2, "sliding_window": 5},
    "gpt_oss": {**TINY, "model_type": "gpt_oss", "num_hidden_layers": 2, "sliding_window": 4, "num_local_experts": 2,
                "num_experts_per_tok": 1},  # layer 0 slides, layer 1 is global
    "gemma3_text": {**TINY, "model_type": "gemma3_text", "num_hidden_layers": 3, "sliding_window": 6,
                    "sliding_window_pattern": 3},  # layers 0, 1 slide, layer 2 is global
    "llama4_text": {**TINY, "model_type": "llama4_text", "num_hidden_layers": 4, "attention_chunk_size": 4,
                    "intermediate_size_mlp": 64, "num_local_experts": 2},  # layer 3: NoPE, global
}
P, G = 3, 9  # the prompt fits a window; the steps cross it (and chunk boundaries) several times


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_cache_sizes_and_decode_keys_match_transformers(name):
    config = CONFIGS[name]
    spec = spec_from_hf_config(config, name)
    model = build_model(config, device="cpu")
    hf_layers = model.model.layers
    assert len(hf_layers) == spec.num_layers
    # Our layer groups are not in model order: map each HF layer to our mixer of the same local span,
    # the span transformers sizes that layer's cache with.
    ours = []
    types, kwargs = get_layer_types_and_kwargs(model.config)
    for kind, kw in zip(types, kwargs, strict=True):
        span = kw.get("sliding_window")
        match = [g.layer.mixer for g in spec.layer_groups if g.layer.mixer.local_span == span
                 and (g.layer.mixer.attention_chunk is not None) == (kind == "chunked_attention")]
        assert match, (name, kind, span)
        ours.append(match[0])

    seen: dict[int, int] = {}

    def record(i):
        def hook(module, args, kwargs):
            mask = kwargs.get("attention_mask")
            if mask is not None and mask.shape[-2] == 1:  # a decode step: count the visible keys
                row = mask[0, 0, -1]  # boolean (True: attend) or additive (0: attend, dtype min: masked)
                seen[i] = int(row.sum()) if row.dtype == torch.bool else int((row == 0).sum())
        return hook

    for i, layer in enumerate(hf_layers):
        layer.self_attn.register_forward_pre_hook(record(i), with_kwargs=True)

    ids = torch.randint(0, config["vocab_size"], (1, P + G), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(input_ids=ids[:, :P], use_cache=True)
        cache = out.past_key_values
        for step in range(G):
            S = P + step + 1  # KV length of this decode step, the new token included
            seen.clear()
            out = model(input_ids=ids[:, S - 1:S], past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            held = [int(cache.layers[i].keys.shape[-2]) for i in range(len(hf_layers))]
            expected = [int(cached_tokens(m, np.array(float(S)))) for m in ours]
            assert held == expected, (name, S, held, expected)
            per_token = 2 * config["num_key_value_heads"] * config["head_dim"]
            # One byte per KV element, nothing for states: the KV-cache elements of the whole model.
            assert sum(held) * per_token == cache_bytes_per_sequence(spec, np.array([float(S)]), 1.0, 0.0, 0.0)[0]
            assert set(seen) == set(range(len(hf_layers))), (name, S, seen)  # eager attention: masks given
            for i, m in enumerate(ours):
                keys = decode_keys(np.array([float(S)]), cache_window(m), cache_chunk(m))[0]
                assert seen[i] == keys, (name, S, i, seen[i], keys)


# DeepSeek-V4 in small: window 6, two window-only layers, a CSA layer (m = 4) and an HCA layer (m = 8).
V4 = {"model_type": "deepseek_v4", "hidden_size": 64, "vocab_size": 512, "num_attention_heads": 4, "head_dim": 32,
      "qk_rope_head_dim": 8, "q_lora_rank": 24, "num_hidden_layers": 4, "o_groups": 2, "o_lora_rank": 16,
      "sliding_window": 6, "index_n_heads": 2, "index_head_dim": 16, "index_topk": 4,
      "compress_rates": {"compressed_sparse_attention": 4, "heavily_compressed_attention": 8},
      "n_routed_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32, "num_hash_layers": 1,
      "compress_ratios": [0, 0, 4, 128]}
V4_KINDS = {"DynamicSlidingWindowLayer": "sliding", "DeepseekV4CSACache": "csa", "DeepseekV4HCACache": "hca"}


def test_deepseek_v4_window_and_compressed_entries_match_transformers():
    # Every V4 cache layer subclasses DynamicSlidingWindowLayer: the window keeps W - 1 = 5 tokens; the
    # compressor keeps one entry per complete window of m tokens, floor(S / m).
    spec = spec_from_hf_config(V4, "v4")
    model = build_model(V4, device="cpu")
    mixers = {g.layer.mixer.kind: g.layer.mixer for g in spec.layer_groups}
    P, G = 3, 14
    ids = torch.randint(0, V4["vocab_size"], (1, P + G), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        cache = model(input_ids=ids[:, :P], use_cache=True).past_key_values
        for S in range(P + 1, P + G + 1):
            cache = model(input_ids=ids[:, S - 1:S], past_key_values=cache, use_cache=True).past_key_values
            for layer in cache.layers:
                mixer = mixers[V4_KINDS[type(layer).__name__]]
                assert int(layer.keys.shape[-2]) == cached_tokens(mixer, np.array(float(S))), (S, mixer.kind)
                if mixer.kind != "sliding":
                    entries = layer.compressed_kv["compressor"]
                    held = 0 if entries is None else int(entries.shape[1])
                    assert held == compressed_entries(mixer, np.array(float(S))), (S, mixer.kind)
