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
from llm_roofline.cache import cache_chunk, cache_window, cached_tokens
from llm_roofline.graph import cache_elements
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
            assert sum(held) * per_token == cache_elements(spec, np.array([float(S)]))[0]
            assert set(seen) == set(range(len(hf_layers))), (name, S, seen)  # eager attention: masks given
            for i, m in enumerate(ours):
                keys = decode_keys(np.array([float(S)]), cache_window(m), cache_chunk(m))[0]
                assert seen[i] == keys, (name, S, i, seen[i], keys)
