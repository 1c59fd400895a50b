"""Sharding rules of the newer layer types (parallel/shard.py): DeepSeek Sparse Attention, gated delta-net,
Mamba-2 (groups split or replicated), DeepSeek-V4's compressed attention and hyper-connections, Gemma 4's
MLP + MoE block, K = V attention and per-layer embeddings. Each test lists, from the rule's derivation,
which operators split by the degree and which stay whole; shard_checks.check_shards then checks every
operator and that the tp shards sum to the whole model plus (tp - 1) x the replicated part."""

from __future__ import annotations

import pytest

import llm_roofline as lr
from llm_roofline.errors import DeploymentError
from llm_roofline.models.spec import MLP, Attention, Layer, LayerGroup, Mamba2, MLPAndMoE, ModelSpec, MoE
from llm_roofline.parallel.shard import shard_model
from shard_checks import check_shards, prefill

from conftest import small_deepseek_v4, small_dsa, small_linear_hybrid, small_nemotron_h

M = 2 * 32  # tokens of shard_checks.prefill: batch 2 x prompt 32
ROUTED = {"experts.gate_proj", "experts.up_proj", "experts.act_fn", "experts.down_proj"}
SHARED_EXPERT = {"shared_experts.gate_proj", "shared_experts.up_proj", "shared_experts.act_fn",
                 "shared_experts.down_proj"}
ATTENTION_CORE = {"qk_matmul", "softmax", "sv_matmul"}
MOE_REPLICATED = {"router", "topk_routing", "experts.combine", "shared_experts.add"}


def test_dsa_heads_split_indexer_replicated():
    # MLA's rule for the heads; the lightning indexer is whole on every device (vLLM's DeepSeek-V3.2 Indexer:
    # ReplicatedLinear, "no tensor parallel, just replicated"). rope rotates N/tp query heads + the shared key:
    # 3 FLOPs x M x (4/2 + 1) x d_rope 8 in each of the 4 layers.
    sharded = {"embed_tokens", "q_b_proj", "kv_b_proj", *ATTENTION_CORE, "o_proj", "gate_proj", "up_proj", "act_fn",
               "down_proj", *ROUTED, *SHARED_EXPERT, "lm_head"}
    replicated = {"input_layernorm", "q_a_proj", "q_a_layernorm", "kv_a_proj_with_mqa", "kv_a_layernorm",
                  "indexer.wq_b", "indexer.wk", "indexer.k_norm", "indexer.rope", "indexer.weights_proj",
                  "indexer.scores", "indexer.topk", "attn_residual", "post_attention_layernorm", "mlp_residual",
                  "norm", *MOE_REPLICATED}
    check_shards(small_dsa(), 2, 2, sharded, replicated, {"rope": (3.0 * M * (4 / 2 + 1) * 8 * 4, 0.0)})


def test_gated_delta_net_heads_split():
    # vLLM Qwen3NextGatedDeltaNet: key and value heads split (in_proj_qkvz / in_proj_ba column-parallel by head,
    # conv1d channels, A_log / dt_bias, the recurrent state), out_proj row-parallel. Its gated norm's dv weight
    # and the attention layer's per-head q/k norm weight (one H-wide weight) are whole; their FLOPs split.
    model = small_linear_hybrid()
    whole = prefill(model)
    sharded = {"embed_tokens", "in_proj_qkvz", "in_proj_ba", "conv1d", "gated_delta_rule", "out_proj", "q_proj",
               "k_proj", "v_proj", "rope", *ATTENTION_CORE, "attn_output_gate", "o_proj", *ROUTED, *SHARED_EXPERT,
               "lm_head"}
    replicated = {"input_layernorm", "attn_residual", "post_attention_layernorm", "mlp_residual", "norm",
                  "shared_expert_gate", *MOE_REPLICATED}
    special = {n: (whole[n][0] / 2, whole[n][1]) for n in ("linear_attn.norm", "q_norm", "k_norm")}
    check_shards(model, 2, 2, sharded, replicated, special)


def test_mamba2_heads_and_groups_split():
    # vLLM MambaMixer2 with tp dividing n_groups (2 here): z, x, B, C, dt, the conv, the scan, the gated norm and
    # out_proj all split; Nemotron-H's MLP-only and attention blocks follow their rules.
    sharded = {"embeddings", "in_proj", "conv1d", "ssd_scan", "mixer.norm", "out_proj", "up_proj", "act_fn",
               "down_proj", "q_proj", "k_proj", "v_proj", *ATTENTION_CORE, "o_proj", "lm_head"}
    check_shards(small_nemotron_h(), 2, 2, sharded, {"norm", "residual_add", "norm_f"})


def test_mamba2_one_group_is_replicated():
    # n_groups 1 < tp 2: each device holds the one group its heads read. D 128, 8 heads x 16 (d_inner 128), state 16:
    # in_proj D -> z + x (d_inner each) + B + C (G*N each) + dt (H): 128 + 128 + 32 + 8 = 296 whole, 64 + 64 + 32 + 4
    # = 164 per device; the conv runs over x, B, C: 160 channels whole, 64 + 32 = 96 per device (weights and FLOPs).
    layer = Layer(mixer=Mamba2(num_heads=8, head_dim=16, d_state=16, n_groups=1, d_conv=4), ffn=None,
                  norm_names=("norm",))
    model = ModelSpec(name="one-group", model_type="mamba2", hidden_size=128, vocab_size=512,
                      layer_groups=(LayerGroup(layer, 2),))
    whole = prefill(model)
    special = {"in_proj": tuple(v * 164 / 296 for v in whole["in_proj"]),
               "conv1d": tuple(v * 96 / 160 for v in whole["conv1d"])}
    check_shards(model, 2, 2, {"embed_tokens", "ssd_scan", "mixer.norm", "out_proj", "lm_head"},
                 {"norm", "residual_add", "decoder.norm"}, special)
    three = ModelSpec(name="three-groups", model_type="mamba2", hidden_size=128, vocab_size=512, layer_groups=(
        LayerGroup(Layer(mixer=Mamba2(num_heads=6, head_dim=16, d_state=16, n_groups=3, d_conv=4), ffn=None), 1),))
    with pytest.raises(DeploymentError, match=r"tp \(2\) must divide the Mamba-2 groups \(3\)"):
        shard_model(three, 2, 2)


HC = {f"{site}.{part}" for site in ("attn_hc", "ffn_hc") for part in ("norm", "fn", "weights", "collapse", "expand")}


def test_compressed_attention_heads_and_output_groups_split():
    # DeepSeek-V4: heads split with the output groups (o_a_proj per group, o_b_proj row-parallel), sinks with their
    # heads; the query latent, the one shared K = V head, the compressors and the CSA indexer whole, as MLA's latent
    # and DSA's indexer; hyper-connections act on the whole residual streams. rope: (4/2 + 1) heads x 8 channels,
    # 5 layers.
    sharded = {"embed_tokens", "q_b_proj", "q_b_norm", *ATTENTION_CORE, "sinks", "sinks.csa", "sinks.hca",
               *{f"{kind}_attention.{part}" for kind in ("csa", "hca") for part in ATTENTION_CORE}, "output_rope",
               "o_a_proj", "o_b_proj", *ROUTED, *SHARED_EXPERT, "lm_head"}
    replicated = {"hc_expand", *HC, "hc_head.norm", "hc_head.fn", "hc_head", "input_layernorm", "q_a_proj",
                  "q_a_norm", "kv_proj", "kv_norm", *{f"compressor.{p}.{k}" for p in ("kv_proj", "gate_proj", "pool")
                                                       for k in ("csa", "hca")},
                  "indexer.kv_proj", "indexer.gate_proj", "indexer.pool", "indexer.q_b_proj", "indexer.rope",
                  "indexer.weights_proj", "indexer.scores", "indexer.topk", "post_attention_layernorm", "norm",
                  *MOE_REPLICATED}
    check_shards(small_deepseek_v4(), 2, 2, sharded, replicated, {"rope": (3.0 * M * (4 / 2 + 1) * 8 * 5, 0.0)})
    with pytest.raises(DeploymentError, match=r"tp \(4\) must divide the output groups \(o_groups\) \(2\)"):
        shard_model(small_deepseek_v4(), 4, 4)


def test_hyper_connection_streams_cross_pipeline_stages():
    # Between stages the residual travels: hc_mult 4 streams of D 64 at 2 bytes for the M = 1 x 16 tokens of
    # one micro-batch (batch 2 in pp = 2 micro-batches).
    r = lr.analyze(small_deepseek_v4(), "dgx-h100", pp=2, batch_size=2, prompt_len=16, gen_len=1)
    handoff = next(o for o in r.prefill.ops if o.name == "pp_send_recv")
    assert handoff.act_read_bytes == 1 * 16 * 4 * 64 * 2


def gemma4_like() -> ModelSpec:
    """Gemma 4 style: sliding layers (8 heads, 4 KV heads of 32) and a K = V global layer (8 heads, 2 KV heads of
    64), each with a dense MLP beside 8 experts (top 2, per-expert scales), and per-layer embeddings (p 16)."""
    norms = ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm")
    block = MLPAndMoE(MLP(256, gated=True, activation="gelu_tanh"),
                      MoE(8, 2, 64, activation="gelu_tanh", expert_scale=True))
    sliding = Layer(Attention(8, 4, 32, rope_dim=32, sliding_window=16, qk_norm=True, v_norm=True), block,
                    norm_names=norms)
    glob = Layer(Attention(8, 2, 64, rope_dim=16, qk_norm=True, v_norm=True, k_eq_v=True), block, norm_names=norms)
    return ModelSpec(name="tiny-gemma4", model_type="gemma4", hidden_size=128, vocab_size=640,
                     layer_groups=(LayerGroup(sliding, 2), LayerGroup(glob, 1)), tie_word_embeddings=True,
                     per_layer_input_size=16, per_layer_vocab_size=320)


def test_gemma4_pair_block_k_eq_v_and_per_layer_inputs():
    # K = V layers follow the attention rule (k_proj and v_norm split with the KV heads); the MLP and the experts by
    # their rules, the router and the block's norms whole; the per-layer table vocabulary-parallel (ceil(320/2) rows)
    # with its projection and the per-layer blocks whole. q/k norms: one weight per head size, FLOPs split.
    model = gemma4_like()
    whole = prefill(model)
    names = set(whole)
    sharded = {"embed_tokens", "embed_tokens_per_layer", "lm_head", "gate_proj", "up_proj", "act_fn", "down_proj",
               *ROUTED} | {n for n in names if n.split(".")[0] in ("q_proj", "k_proj", "v_proj", "rope", "o_proj",
                                                                     "v_norm", *ATTENTION_CORE)}
    special = {n: (whole[n][0] / 2, whole[n][1]) for n in names if n.split(".")[0] in ("q_norm", "k_norm")}
    replicated = names - sharded - set(special)
    assert {"router.norm", "router", "topk_routing", "experts.combine", "post_feedforward_layernorm_1",
            "pre_feedforward_layernorm_2", "post_feedforward_layernorm_2", "mlp_moe_add", "per_layer_model_projection",
            "per_layer_projection_norm", "per_layer_inputs", "per_layer_input_gate", "per_layer_act",
            "per_layer_projection", "post_per_layer_input_norm", "per_layer_residual"} <= replicated
    check_shards(model, 2, 2, sharded, replicated, special)


def test_gemma4_pair_block_reduces_each_branch_and_the_per_layer_table():
    # Each branch's partial output is all-reduced before its own post-norm; the per-layer table's rows like the
    # embeddings': M x L x p elements (3 layers x 16).
    r = lr.analyze(gemma4_like(), "dgx-h100", tp=2, batch_size=2, prompt_len=16, gen_len=1)
    ops = {o.name: o for o in r.prefill.ops}
    assert ops["mlp_all_reduce"].count == ops["moe_all_reduce"].count == 3
    assert ops["per_layer_all_reduce"].act_read_bytes == 2 * 16 * 3 * 16 * 2
    order = [o.name for o in r.prefill.ops]
    assert order.index("down_proj") < order.index("mlp_all_reduce") < order.index("post_feedforward_layernorm_1")
    ep = lr.analyze(gemma4_like(), "dgx-h100", attention_dp=2, ep=2, batch_size=2, prompt_len=16, gen_len=1)
    assert {"moe_dispatch", "moe_combine"} <= {o.name for o in ep.decode.ops}
