"""DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5): parsing, the indexer's costs, the top-k attention
and the cache, each derived by hand from the published sizes and HF's modeling code
(transformers/models/deepseek_v32/modular_deepseek_v32.py, glm_moe_dsa/modular_glm_moe_dsa.py)."""

from __future__ import annotations

import copy

import pytest

from llm_roofline import analyze
from llm_roofline.models.hf_config import spec_from_hf_config
from llm_roofline.models.spec import LatentAttention, SparseLatentAttention

from conftest import op
from conftest import shared_config as config

H100 = "h100-sxm"


def names(stage):
    return {o.name for o in stage.ops}


V32_MLA = LatentAttention(num_heads=128, q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128,
                          qk_rope_head_dim=64, v_head_dim=128)


def test_deepseek_v32_parses_the_indexer():
    spec = spec_from_hf_config(config("deepseek-ai--DeepSeek-V3.2"), "v3.2")
    # 61 layers: 3 dense (first_k_dense_replace), 58 MoE; every one with its own indexer (64 heads x 128, top 2048).
    assert [g.count for g in spec.layer_groups] == [3, 58]
    for group in spec.layer_groups:
        assert group.layer.mixer == SparseLatentAttention(V32_MLA, index_heads=64, index_head_dim=128,
                                                          index_topk=2048)
    assert spec.model_type == "deepseek_v32"


def test_indexer_parameters_by_hand():
    spec = spec_from_hf_config(config("deepseek-ai--DeepSeek-V3.2"), "v3.2")
    v3 = copy.deepcopy(config("deepseek-ai--DeepSeek-V3.2"))
    v3["model_type"] = "deepseek_v3"
    base = spec_from_hf_config(v3, "v3")
    # Per layer: wq_b 1536 x 64*128, wk 7168 x 128, k_norm LayerNorm(128) weight + bias, weights_proj 7168 x 64.
    per_layer = 1536 * 64 * 128 + 7168 * 128 + 2 * 128 + 7168 * 64
    ours = analyze(spec, H100, prompt_len=8).model["params_total"]
    assert ours - analyze(base, H100, prompt_len=8).model["params_total"] == 61 * per_layer


def test_cache_holds_the_latent_and_the_index_key_for_every_token():
    B, P, G = 2, 5000, 100
    r = analyze(spec_from_hf_config(config("deepseek-ai--DeepSeek-V3.2"), "v3.2"), H100, batch_size=B,
                prompt_len=P, gen_len=G, w_bits=8)
    # Every token stays cached (the top-k limits the keys read, not the cache): latent 512 + rotary key 64 +
    # index key 128 per layer, 61 layers, 2 bytes.
    assert r.memory.kv_cache_bytes == B * (P + G) * 61 * (512 + 64 + 128) * 2


@pytest.mark.parametrize("S", [1000, 2048, 9000])
def test_decode_attends_the_top_k_and_the_indexer_scores_every_key(S):
    B, k, N = 4, 2048, 128
    spec = spec_from_hf_config(config("deepseek-ai--DeepSeek-V3.2"), "v3.2")
    r = analyze(spec, H100, batch_size=B, prompt_len=S, kv_len=S)
    keys = min(S, k)
    qk = op(r.decode, "qk_matmul")
    assert qk.flops == 2 * B * N * keys * (512 + 64)  # absorbed MLA: 128 heads over the latent + rotary key
    assert qk.kv_read_bytes == B * keys * (512 + 64) * 2
    scores = op(r.decode, "indexer.scores")
    assert scores.flops == B * S * 64 * (2 * 128 + 4)  # all S keys, 64 indexer heads of 128
    assert scores.kv_read_bytes == B * S * 128 * 2
    assert scores.act_write_bytes == B * S * 4  # float32 index scores
    topk = op(r.decode, "indexer.topk")
    assert topk.act_read_bytes == B * S * 4 and topk.act_write_bytes == B * k * 4  # int32 [B, 1, k] indices
    assert op(r.decode, "indexer.wk").kv_write_bytes == B * 128 * 2  # the new token's index key


def test_prefill_pairs_with_a_fused_kernel():
    B, P, k, N = 1, 3000, 2048, 128
    spec = spec_from_hf_config(config("deepseek-ai--DeepSeek-V3.2"), "v3.2")
    r = analyze(spec, H100, batch_size=B, prompt_len=P, flash_attention=True)
    # Query at position p attends min(p, k) keys: sum_{p=1}^{k} p + (P - k) * k.
    pairs = k * (k + 1) // 2 + (P - k) * k
    core = op(r.prefill, "fused_attention")
    assert core.flops == B * N * pairs * (2 * (128 + 64) + 2 * 128 + 5)
    # The indexer scores the causal pairs: P(P+1)/2.
    assert op(r.prefill, "indexer.scores").flops == B * P * (P + 1) // 2 * 64 * (2 * 128 + 4)
    naive = analyze(spec, H100, batch_size=B, prompt_len=P)
    # A naive kernel scores every key of the prompt (as HF's eager attention does, masked afterwards).
    assert op(naive.prefill, "qk_matmul").flops == 2 * B * N * P * P * (128 + 64)
    assert op(naive.prefill, "indexer.scores").flops == B * P * P * 64 * (2 * 128 + 4)


def test_glm5_has_an_indexer_in_every_layer_by_default():
    spec = spec_from_hf_config(config("zai-org--GLM-5"), "glm-5")
    # GlmMoeDsaConfig: index_topk_freq 1, offset 2 -> max(i - 1, 0) % 1 == 0: every layer "full".
    assert all(g.layer.mixer.indexer for g in spec.layer_groups)
    mixer = spec.layer_groups[0].layer.mixer
    assert (mixer.index_heads, mixer.index_head_dim, mixer.index_topk) == (32, 128, 2048)
    assert mixer.mla == LatentAttention(num_heads=64, q_lora_rank=2048, kv_lora_rank=512, qk_nope_head_dim=192,
                                        qk_rope_head_dim=64, v_head_dim=256)
    assert [g.count for g in spec.layer_groups] == [3, 75]


@pytest.mark.parametrize(("fields", "expected"), [
    ({"index_topk_freq": 2, "index_skip_topk_offset": 2}, ["full", "full", "shared", "full", "shared", "full"]),
    ({"index_topk_pattern": "FSSFSF"}, ["full", "shared", "shared", "full", "shared", "full"]),
    ({"indexer_types": ["full", "full", "shared", "shared", "full", "full"]},
     ["full", "full", "shared", "shared", "full", "full"]),
])
def test_glm5_shared_layers(fields, expected):
    cfg = {**config("zai-org--GLM-5"), "num_hidden_layers": 6, **fields}
    spec = spec_from_hf_config(cfg, "glm")
    # freq 2, offset 2: "full" where max(i - 2 + 1, 0) % 2 == 0 -> layers 0, 1, 3, 5.
    assert sum(g.count for g in spec.layer_groups if g.layer.mixer.indexer) == expected.count("full")
    r = analyze(spec, H100, prompt_len=100, gen_len=0)
    assert sum(o.count for o in r.prefill.ops if o.name == "indexer.wq_b") == expected.count("full")
    # A shared layer caches no index key: 6 x (latent 512 + rotary 64) + 128 per full layer, 2 bytes.
    assert r.memory.kv_cache_bytes == 100 * (6 * (512 + 64) + expected.count("full") * 128) * 2


def test_glm5_bad_indexer_types_are_errors():
    from llm_roofline.errors import ConfigError

    cfg = {**config("zai-org--GLM-5"), "num_hidden_layers": 4}
    with pytest.raises(ConfigError, match="indexer_types"):
        spec_from_hf_config({**cfg, "indexer_types": ["full", "sometimes", "full", "full"]}, "glm")
    with pytest.raises(ConfigError, match="index_topk_pattern"):
        spec_from_hf_config({**cfg, "index_topk_pattern": "FXSF"}, "glm")
    with pytest.raises(ConfigError, match="first layer"):
        spec_from_hf_config({**cfg, "indexer_types": ["shared", "full", "full", "full"]}, "glm")
