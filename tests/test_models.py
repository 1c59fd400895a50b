"""HF config.json -> ModelSpec: the real configs in ../shared/hf-configs and hand-written ones.

Expected values are derived by hand from model cards / papers / HF modeling code (the derivation
is written next to each assertion), never read back from the parser.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from llm_roofline.errors import ConfigError
from llm_roofline.models.hf_config import load_hf_config, model_family, spec_from_hf_config
from llm_roofline.models.spec import MLP, Attention, LatentAttention, Mamba, ModelSpec, MoE

HF_CONFIGS = Path(__file__).resolve().parents[2] / "shared" / "hf-configs"


def real(name: str) -> ModelSpec:
    path = HF_CONFIGS / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return load_hf_config(path)


def single_layer(spec: ModelSpec):
    assert len(spec.layer_groups) == 1, spec.layer_groups
    return spec.layer_groups[0].layer


def real_config_files() -> list[Path]:
    return sorted(HF_CONFIGS.glob("*.json")) if HF_CONFIGS.is_dir() else []


# --- every shipped config loads ------------------------------------------------------------------

@pytest.mark.parametrize("path", real_config_files(), ids=lambda p: p.stem)
def test_every_real_config_loads(path: Path) -> None:
    outer = json.loads(path.read_text())
    if model_family(outer) is None:  # a family without a parser: refused, naming the supported ones
        with pytest.raises(ConfigError, match="is not supported.*Supported families: .*llama"):
            load_hf_config(path)
        return
    spec = load_hf_config(path)
    raw = outer.get("text_config", outer)
    layers = raw.get("num_hidden_layers", raw.get("n_layer", raw.get("num_layers")))
    assert spec.num_layers == layers
    assert spec.hidden_size == raw["hidden_size"]
    assert spec.name == path.stem.replace("--", "/")
    assert spec.source == str(path)


def test_real_config_folder_present_or_skipped() -> None:
    if not HF_CONFIGS.is_dir():
        pytest.skip("shared/hf-configs is not available")
    assert len(real_config_files()) >= 25


def test_folder_with_config_json(tmp_path: Path) -> None:
    src = HF_CONFIGS / "mistralai--Mistral-7B-v0.1.json"
    if not src.is_file():
        pytest.skip("shared/hf-configs is not available")
    folder = tmp_path / "my-mistral"
    folder.mkdir()
    (folder / "config.json").write_text(src.read_text())
    spec = load_hf_config(folder)
    assert spec.name == "my-mistral"
    assert spec.layer_groups == load_hf_config(src).layer_groups


# --- Llama family ------------------------------------------------------------------------------

def test_llama_2_70b_gqa() -> None:
    spec = real("meta-llama--Llama-2-70b-hf")
    layer = single_layer(spec)
    # Llama 2 paper / card: 80 layers, d_model 8192, 64 heads, 8 KV heads, FFN 28672, V 32000.
    assert (spec.hidden_size, spec.num_layers, spec.vocab_size) == (8192, 80, 32000)
    assert layer.mixer == Attention(num_heads=64, num_kv_heads=8, head_dim=8192 // 64, rope_dim=128)
    assert layer.ffn == MLP(28672, gated=True, activation="silu")
    assert layer.norm_kind == "rmsnorm" and layer.norm_names == ("input_layernorm", "post_attention_layernorm")
    assert not spec.tie_word_embeddings and spec.learned_positions == 0
    assert spec.max_position_embeddings == 4096
    assert spec.model_type == "llama"
    assert spec.op_name("o_proj") == "o_proj" and spec.op_name("final_norm") == "norm"


def test_llama_3_1_70b_and_3_2_1b() -> None:
    spec = real("meta-llama--Llama-3.1-70B")
    attn = single_layer(spec).mixer
    # Llama 3 paper Table 3: 70B has 64 query heads and 8 KV heads; 128K context.
    assert (attn.num_heads, attn.num_kv_heads, attn.head_dim) == (64, 8, 128)
    assert spec.vocab_size == 128256 and spec.max_position_embeddings == 131072
    small = real("meta-llama--Llama-3.2-1B")
    # Llama 3.2 1B: 16 layers, d 2048, 32 heads of 64, 8 KV heads, FFN 8192, tied embeddings.
    assert small.tie_word_embeddings
    assert single_layer(small).mixer.head_dim == 64
    assert single_layer(small).ffn.intermediate_size == 8192


def test_llama_fields_by_hand() -> None:
    # A Yi-style config (model_type llama), with biases switched on to check attention_bias/mlp_bias.
    cfg = {"model_type": "llama", "hidden_size": 7168, "num_hidden_layers": 60, "num_attention_heads": 56,
           "num_key_value_heads": 8, "intermediate_size": 20480, "vocab_size": 64000,
           "attention_bias": True, "mlp_bias": True}
    layer = single_layer(spec_from_hf_config(cfg, "yi-like"))
    assert layer.mixer == Attention(56, 8, 7168 // 56, rope_dim=128, qkv_bias=True, o_bias=True)
    assert layer.ffn.bias
    # model_type "Yi" (early Yi releases) is the Llama architecture.
    yi = spec_from_hf_config(dict(cfg, model_type="Yi"), "yi")
    assert yi.model_type == "llama"


# --- Mistral / Mixtral ----------------------------------------------------------------------------

def test_mistral_sliding_window() -> None:
    spec = real("mistralai--Mistral-7B-v0.1")
    attn = single_layer(spec).mixer
    # Mistral 7B paper Table 1: window 4096 on every layer, 32 heads, 8 KV heads.
    assert attn.sliding_window == 4096
    assert (attn.num_heads, attn.num_kv_heads) == (32, 8)


def test_mixtral_moe() -> None:
    spec = real("mistralai--Mixtral-8x7B-v0.1")
    layer = single_layer(spec)
    # Mixtral paper: every layer is MoE, 8 experts of width 14336, top-2; no sliding window.
    assert layer.ffn == MoE(num_experts=8, top_k=2, expert_intermediate_size=14336)
    assert layer.mixer.sliding_window is None
    assert spec.op_name("router") == "gate"
    assert (spec.op_name("gate_proj"), spec.op_name("up_proj"), spec.op_name("down_proj")) == ("w1", "w3", "w2")
    big = real("mistralai--Mixtral-8x22B-v0.1")
    assert big.num_layers == 56 and single_layer(big).ffn.expert_intermediate_size == 16384


# --- Qwen ----------------------------------------------------------------------------------------

def test_qwen2_qkv_bias_and_no_window() -> None:
    spec = real("Qwen--Qwen2-7B")
    attn = single_layer(spec).mixer
    # Qwen2: q/k/v have a bias, o_proj does not; use_sliding_window false means no window
    # even though sliding_window is 131072.
    assert attn.qkv_bias and not attn.o_bias
    assert attn.sliding_window is None
    assert (attn.num_heads, attn.num_kv_heads, attn.head_dim) == (28, 4, 3584 // 28)
    assert not single_layer(spec).ffn.bias


def test_qwen2_sliding_window_when_enabled() -> None:
    # HF Qwen2: with use_sliding_window, layers i >= max_window_layers slide.
    cfg = {"model_type": "qwen2", "hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4,
           "intermediate_size": 128, "vocab_size": 100, "use_sliding_window": True, "sliding_window": 32,
           "max_window_layers": 3}
    groups = spec_from_hf_config(cfg, "tiny").layer_groups
    assert [(g.layer.mixer.sliding_window, g.count) for g in groups] == [(None, 3), (32, 1)]


def test_qwen3_head_dim_and_qk_norm() -> None:
    spec = real("Qwen--Qwen3-8B")
    attn = single_layer(spec).mixer
    # Qwen3-8B: 32 heads of explicit head_dim 128 (32*128 = 4096 = d), 8 KV heads, QK-norm, no bias.
    assert (attn.num_heads, attn.num_kv_heads, attn.head_dim) == (32, 8, 128)
    assert attn.qk_norm and not attn.qkv_bias and not attn.o_bias


def test_qwen3_moe() -> None:
    spec = real("Qwen--Qwen3-30B-A3B")
    layer = single_layer(spec)
    # Qwen3 report Table 2: 48 layers, all MoE (decoder_sparse_step 1, no mlp_only_layers),
    # 128 experts of width 768, 8 active, no shared expert; 32 query heads, 4 KV heads of 128.
    assert spec.num_layers == 48
    assert layer.ffn == MoE(num_experts=128, top_k=8, expert_intermediate_size=768)
    assert (layer.mixer.num_heads, layer.mixer.num_kv_heads, layer.mixer.head_dim) == (32, 4, 128)
    assert layer.mixer.qk_norm


def test_qwen2_moe_shared_expert_and_sparse_step() -> None:
    # Qwen1.5-MoE-A2.7B style, with decoder_sparse_step 2 and mlp_only_layers [1] to check the rule
    # "MoE when i not in mlp_only_layers and (i + 1) % step == 0": layers 0..5 -> MoE at 3, 5.
    cfg = {"model_type": "qwen2_moe", "hidden_size": 2048, "num_hidden_layers": 6, "num_attention_heads": 16,
           "num_key_value_heads": 16, "intermediate_size": 5632, "moe_intermediate_size": 1408,
           "shared_expert_intermediate_size": 5632, "num_experts": 60, "num_experts_per_tok": 4,
           "vocab_size": 151936, "decoder_sparse_step": 2, "mlp_only_layers": [1]}
    spec = spec_from_hf_config(cfg, "qwen-moe-like")
    counts = {type(g.layer.ffn).__name__: g.count for g in spec.layer_groups}
    assert counts == {"MLP": 4, "MoE": 2}
    moe = next(g.layer.ffn for g in spec.layer_groups if isinstance(g.layer.ffn, MoE))
    assert moe == MoE(num_experts=60, top_k=4, expert_intermediate_size=1408, shared_intermediate_size=5632,
                      shared_expert_gate=True)
    assert spec.op_name("shared_experts") == "shared_expert" and spec.op_name("router") == "gate"
    attn = spec.layer_groups[0].layer.mixer
    assert attn.qkv_bias and not attn.o_bias  # qkv_bias defaults to true in Qwen2-MoE


def test_qwen_v1() -> None:
    # Qwen-7B (remote code): intermediate_size 22016 counts w1 + w2, so each is 11008 wide;
    # c_attn always has a bias, c_proj does not (no_bias true).
    cfg = {"model_type": "qwen", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
           "kv_channels": 128, "intermediate_size": 22016, "vocab_size": 151936, "no_bias": True,
           "rotary_pct": 1.0, "seq_length": 8192}
    spec = spec_from_hf_config(cfg, "qwen-7b")
    layer = single_layer(spec)
    assert layer.ffn == MLP(11008, gated=True, activation="silu")
    assert layer.mixer == Attention(32, 32, 128, rope_dim=128, qkv_bias=True, fused_qkv=True)
    assert spec.op_name("qkv_proj") == "attn.c_attn" and spec.op_name("gate_proj") == "mlp.w2"


# --- Gemma ---------------------------------------------------------------------------------------

def test_gemma_7b_head_dim_and_tied() -> None:
    spec = real("google--gemma-7b")
    layer = single_layer(spec)
    # Gemma report Table 1: d 3072, 16 heads of 256 (16 * 256 = 4096 != 3072), FFN 24576 per
    # branch (49152 counting gate and up), V 256000. tie_word_embeddings is absent: Gemma ties.
    assert layer.mixer.head_dim == 256 and layer.mixer.num_heads * 256 != spec.hidden_size
    assert layer.ffn == MLP(24576, gated=True, activation="gelu_tanh")  # legacy "gelu" -> tanh approx.
    assert spec.tie_word_embeddings
    assert spec.vocab_size == 256000


def test_gemma2_alternating_windows_and_four_norms() -> None:
    spec = real("google--gemma-2-9b")
    # Gemma 2 9B: 42 layers; HF makes even-indexed layers sliding (window 4096): 21 + 21.
    groups = {g.layer.mixer.sliding_window: g.count for g in spec.layer_groups}
    assert groups == {4096: 21, None: 21}
    assert spec.layer_groups[0].layer.mixer.sliding_window == 4096  # layer 0 slides
    layer = spec.layer_groups[0].layer
    assert layer.norm_names == ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                                "post_feedforward_layernorm")
    assert (layer.mixer.num_heads, layer.mixer.num_kv_heads, layer.mixer.head_dim) == (16, 8, 256)
    assert spec.tie_word_embeddings


def test_gemma2_layer_types_list_wins() -> None:
    cfg = {"model_type": "gemma2", "hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 2,
           "head_dim": 32, "intermediate_size": 128, "vocab_size": 100, "sliding_window": 16,
           "layer_types": ["full_attention", "full_attention", "sliding_attention"]}
    groups = spec_from_hf_config(cfg, "tiny").layer_groups
    assert [(g.layer.mixer.sliding_window, g.count) for g in groups] == [(None, 2), (16, 1)]


# --- Phi -----------------------------------------------------------------------------------------

def test_phi2_partial_rotary_parallel_biases() -> None:
    spec = real("microsoft--phi-2")
    layer = single_layer(spec)
    # Phi-2: head_dim 2560 / 32 = 80; partial_rotary_factor 0.4 -> int(0.4 * 80) = 32 rotary dims.
    assert layer.mixer.head_dim == 80 and layer.mixer.rope_dim == 32
    assert layer.parallel and layer.norm_names == ("input_layernorm",)
    assert layer.mixer.qkv_bias and layer.mixer.o_bias
    assert layer.ffn == MLP(10240, gated=False, activation="gelu_tanh", bias=True)
    assert layer.norm_kind == "layernorm" and layer.norm_bias
    assert spec.lm_head_bias and not spec.tie_word_embeddings
    assert (spec.op_name("o_proj"), spec.op_name("up_proj"), spec.op_name("down_proj"),
            spec.op_name("final_norm")) == ("dense", "fc1", "fc2", "final_layernorm")


def test_phi3_fused_projections() -> None:
    spec = real("microsoft--Phi-3-mini-4k-instruct")
    layer = single_layer(spec)
    # Phi-3-mini: d 3072, 32 heads of 96, fused qkv_proj and gate_up_proj (F 8192), window 2047.
    assert layer.mixer == Attention(32, 32, 96, rope_dim=96, fused_qkv=True, sliding_window=2047)
    assert layer.ffn == MLP(8192, gated=True, activation="silu", fused_gate_up=True)
    assert spec.vocab_size == 32064


# --- OPT -----------------------------------------------------------------------------------------

def test_opt_learned_positions_and_names() -> None:
    spec = real("facebook--opt-6.7b")
    layer = single_layer(spec)
    # OPT keeps 2 extra position rows: 2048 + 2 = 2050. OPT ties embeddings by default.
    assert spec.learned_positions == 2050
    assert spec.tie_word_embeddings
    assert layer.ffn == MLP(16384, gated=False, activation="relu", bias=True)
    assert layer.mixer == Attention(32, 32, 128, qkv_bias=True, o_bias=True)  # no rotary
    assert layer.norm_names == ("self_attn_layer_norm", "final_layer_norm")
    assert layer.norm_kind == "layernorm" and layer.norm_bias
    assert spec.final_norm and spec.final_norm_kind == "layernorm" and spec.final_norm_bias
    assert (spec.op_name("o_proj"), spec.op_name("up_proj"), spec.op_name("down_proj"),
            spec.op_name("final_norm")) == ("out_proj", "fc1", "fc2", "final_layer_norm")


def test_opt_post_ln_has_no_final_norm() -> None:
    base = {"model_type": "opt", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
            "ffn_dim": 256, "vocab_size": 100}
    assert not spec_from_hf_config(dict(base, do_layer_norm_before=False), "post-ln").final_norm
    assert not spec_from_hf_config(dict(base, _remove_final_layer_norm=True), "removed").final_norm
    assert spec_from_hf_config(base, "pre-ln").final_norm


# --- GPT-2 / GPT-J / GPT-NeoX ----------------------------------------------------------------------

def test_gpt2() -> None:
    cfg = {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024,
           "vocab_size": 50257, "activation_function": "gelu_new"}
    spec = spec_from_hf_config(cfg, "gpt2")
    layer = single_layer(spec)
    # GPT-2 small: F = 4 * 768 = 3072 (n_inner null), learned positions 1024 (wpe), tied wte.
    assert layer.ffn == MLP(3072, gated=False, activation="gelu_tanh", bias=True)
    assert layer.mixer == Attention(12, 12, 64, qkv_bias=True, o_bias=True, fused_qkv=True)
    assert spec.learned_positions == 1024 and spec.tie_word_embeddings
    assert layer.norm_names == ("ln_1", "ln_2")
    assert {r: spec.op_name(r) for r in ("embed_tokens", "embed_positions", "qkv_proj", "o_proj", "up_proj",
                                         "down_proj", "final_norm")} == {
        "embed_tokens": "wte", "embed_positions": "wpe", "qkv_proj": "attn.c_attn", "o_proj": "attn.c_proj",
        "up_proj": "mlp.c_fc", "down_proj": "mlp.c_proj", "final_norm": "ln_f"}


def test_gptj() -> None:
    cfg = {"model_type": "gptj", "n_embd": 4096, "n_layer": 28, "n_head": 16, "rotary_dim": 64,
           "vocab_size": 50400, "n_positions": 2048, "activation_function": "gelu_new"}
    spec = spec_from_hf_config(cfg, "gpt-j")
    layer = single_layer(spec)
    # GPT-J: head 4096 / 16 = 256, rotary on 64 dims; no attention biases, MLP biases (fc_in/fc_out);
    # parallel block with one ln_1; lm_head has a bias; untied.
    assert layer.mixer == Attention(16, 16, 256, rope_dim=64)
    assert layer.ffn == MLP(4 * 4096, gated=False, activation="gelu_tanh", bias=True)
    assert layer.parallel and layer.norm_names == ("ln_1",)
    assert spec.lm_head_bias and not spec.tie_word_embeddings and spec.learned_positions == 0
    assert (spec.op_name("up_proj"), spec.op_name("down_proj")) == ("fc_in", "fc_out")


def test_gpt_neox_and_pythia() -> None:
    spec = real("EleutherAI--gpt-neox-20b")
    layer = single_layer(spec)
    # NeoX-20B: head 6144 / 64 = 96, rotary_pct 0.25 -> 24 dims; use_parallel_residual absent -> true.
    assert layer.mixer.head_dim == 96 and layer.mixer.rope_dim == 24
    assert layer.parallel and layer.mixer.fused_qkv
    assert layer.ffn == MLP(24576, gated=False, activation="gelu_tanh", bias=True)  # gelu_fast
    assert not spec.tie_word_embeddings
    assert (spec.op_name("qkv_proj"), spec.op_name("o_proj"), spec.op_name("up_proj"), spec.op_name("down_proj"),
            spec.op_name("lm_head"), spec.op_name("final_norm")) == (
        "query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h", "embed_out", "final_layer_norm")
    pythia = single_layer(real("EleutherAI--pythia-6.9b"))
    assert pythia.mixer.rope_dim == 32  # 0.25 * 128


# --- Falcon --------------------------------------------------------------------------------------

def test_falcon_7b_old_keys_mqa_parallel() -> None:
    spec = real("tiiuae--falcon-7b")
    layer = single_layer(spec)
    # RefinedWebModel keys n_head 71 / n_layer 32; multi_query -> 1 KV head; head 4544 / 71 = 64;
    # parallel_attn with a single input_layernorm; F = 4 * 4544; no linear biases; tied.
    assert spec.model_type == "falcon" and spec.num_layers == 32
    assert layer.mixer == Attention(71, 1, 64, rope_dim=64, fused_qkv=True)
    assert layer.parallel and layer.norm_names == ("input_layernorm",)
    assert layer.ffn == MLP(4 * 4544, gated=False, activation="gelu")
    assert spec.tie_word_embeddings


def test_falcon_40b_new_decoder() -> None:
    spec = real("tiiuae--falcon-40b")
    layer = single_layer(spec)
    # new_decoder_architecture: num_kv_heads 8 groups, ln_attn + ln_mlp, parallel.
    assert (layer.mixer.num_heads, layer.mixer.num_kv_heads, layer.mixer.head_dim) == (128, 8, 64)
    assert layer.norm_names == ("ln_attn", "ln_mlp") and layer.parallel


def test_falcon_sequential_variant() -> None:
    cfg = {"model_type": "falcon", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
           "vocab_size": 100, "parallel_attn": False, "multi_query": False, "alibi": True, "bias": True}
    layer = single_layer(spec_from_hf_config(cfg, "falcon-seq"))
    assert not layer.parallel and layer.norm_names == ("input_layernorm", "post_attention_layernorm")
    assert layer.mixer == Attention(4, 4, 16, rope_dim=0, qkv_bias=True, o_bias=True, fused_qkv=True)


# --- BLOOM / MPT -----------------------------------------------------------------------------------

def test_bloom() -> None:
    cfg = {"model_type": "bloom", "n_embed": 4096, "n_layer": 30, "num_attention_heads": 32,
           "vocab_size": 250880}
    spec = spec_from_hf_config(cfg, "bloom-7b1")
    layer = single_layer(spec)
    # BLOOM: ALiBi (no rotary, no position table), F = 4d, biases, word_embeddings_layernorm, tied.
    assert layer.mixer == Attention(32, 32, 128, qkv_bias=True, o_bias=True, fused_qkv=True)
    assert layer.ffn == MLP(16384, gated=False, activation="gelu_tanh", bias=True)
    assert spec.embedding_norm and spec.tie_word_embeddings and spec.learned_positions == 0
    assert spec.hidden_size == 4096 and spec.num_layers == 30


def test_mpt() -> None:
    cfg = {"model_type": "mpt", "d_model": 4096, "n_layers": 32, "n_heads": 32, "expansion_ratio": 4,
           "max_seq_len": 2048, "vocab_size": 50432, "no_bias": True, "learned_pos_emb": True,
           "attn_config": {"alibi": True, "attn_type": "multihead_attention"}}
    spec = spec_from_hf_config(cfg, "mpt-7b")
    layer = single_layer(spec)
    # MPT-7B: ALiBi turns learned_pos_emb off; no_bias removes linear and LayerNorm biases.
    assert spec.learned_positions == 0
    assert layer.mixer == Attention(32, 32, 128, fused_qkv=True)
    assert layer.ffn == MLP(4 * 4096, gated=False, activation="gelu")
    assert layer.norm_kind == "layernorm" and not layer.norm_bias and not spec.final_norm_bias
    assert layer.norm_names == ("norm_1", "norm_2") and spec.op_name("qkv_proj") == "Wqkv"
    gqa = spec_from_hf_config(dict(cfg, attn_config={"alibi": False, "attn_type": "grouped_query_attention",
                                                     "kv_n_heads": 8}), "mpt-gqa")
    assert single_layer(gqa).mixer.num_kv_heads == 8 and gqa.learned_positions == 2048


# --- ChatGLM -------------------------------------------------------------------------------------

def test_chatglm3() -> None:
    spec = real("THUDM--chatglm3-6b")
    layer = single_layer(spec)
    # ChatGLM3: multi_query_group_num 2 KV groups, kv_channels 128, rotary on half the head (64);
    # qkv bias only (add_qkv_bias); fused gate+up dense_h_to_4h of 2 x 13696; untied output_layer.
    assert layer.mixer == Attention(32, 2, 128, rope_dim=64, qkv_bias=True, fused_qkv=True)
    assert layer.ffn == MLP(13696, gated=True, activation="silu", fused_gate_up=True)
    assert spec.vocab_size == 65024 and spec.num_layers == 28 and not spec.tie_word_embeddings
    assert spec.max_position_embeddings == 8192
    assert (spec.op_name("gate_up_proj"), spec.op_name("lm_head"), spec.op_name("final_norm")) == (
        "dense_h_to_4h", "output_layer", "final_layernorm")


# --- DeepSeek --------------------------------------------------------------------------------------

def test_deepseek_v3() -> None:
    spec = real("deepseek-ai--DeepSeek-V3")
    # first_k_dense_replace 3: layers 0-2 dense (F 18432), 61 - 3 = 58 MoE layers.
    (dense, d_count), (moe, m_count) = [(g.layer, g.count) for g in spec.layer_groups]
    assert (d_count, m_count) == (3, 58)
    assert dense.ffn == MLP(18432, gated=True, activation="silu")
    # 256 routed experts of width 2048, top-8, one shared expert: 1 * 2048. The
    # e_score_correction_bias is a buffer in HF transformers, so no router_bias parameters.
    assert moe.ffn == MoE(num_experts=256, top_k=8, expert_intermediate_size=2048, shared_intermediate_size=2048)
    assert moe.mixer == LatentAttention(num_heads=128, q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128,
                                        qk_rope_head_dim=64, v_head_dim=128)
    assert spec.op_name("router") == "gate"


def test_deepseek_v2_lite() -> None:
    spec = real("deepseek-ai--DeepSeek-V2-Lite")
    (dense, d_count), (moe, m_count) = [(g.layer, g.count) for g in spec.layer_groups]
    # q_lora_rank null -> 0 (q_proj straight from d); 1 dense layer + 26 MoE layers;
    # 64 routed experts (1408 wide), top-6, 2 shared experts -> shared width 2 * 1408 = 2816.
    assert (d_count, m_count) == (1, 26)
    assert moe.mixer.q_lora_rank == 0 and moe.mixer.kv_lora_rank == 512
    assert moe.ffn == MoE(64, 6, 1408, shared_intermediate_size=2816)


def test_deepseek_moe_layer_freq() -> None:
    cfg = {"model_type": "deepseek_v2", "hidden_size": 64, "num_hidden_layers": 6, "num_attention_heads": 4,
           "intermediate_size": 128, "vocab_size": 100, "kv_lora_rank": 16, "q_lora_rank": 32,
           "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8, "n_routed_experts": 4,
           "num_experts_per_tok": 2, "moe_intermediate_size": 32, "n_shared_experts": None,
           "first_k_dense_replace": 1, "moe_layer_freq": 2}
    spec = spec_from_hf_config(cfg, "tiny-ds")
    # MoE where i >= 1 and i % 2 == 0: layers 2 and 4; dense: 0, 1, 3, 5.
    counts = {type(g.layer.ffn).__name__: g.count for g in spec.layer_groups}
    assert counts == {"MLP": 4, "MoE": 2}


# --- Jamba / Mamba -----------------------------------------------------------------------------------

def test_jamba_groups() -> None:
    spec = real("ai21labs--Jamba-v0.1")
    # 32 layers; attention where i % 8 == 4: i = 4, 12, 20, 28 (all even, so dense MLP);
    # MoE where i % 2 == 1: 16 layers, all Mamba; dense Mamba layers: 32 - 4 - 16 = 12.
    kinds = {(type(g.layer.mixer).__name__, type(g.layer.ffn).__name__): g.count for g in spec.layer_groups}
    assert kinds == {("Mamba", "MLP"): 12, ("Mamba", "MoE"): 16, ("Attention", "MLP"): 4}
    attn = next(g.layer.mixer for g in spec.layer_groups if isinstance(g.layer.mixer, Attention))
    assert attn == Attention(32, 8, 128, rope_dim=0)  # Jamba uses no positional encoding
    mamba = spec.layer_groups[0].layer.mixer
    # mamba_expand 2 * 4096; dt_rank 256 = ceil(4096 / 16); Jamba's dt/B/C RMSNorms.
    assert mamba == Mamba(d_inner=8192, d_state=16, d_conv=4, dt_rank=256, conv_bias=True, proj_bias=False,
                          inner_norms=True)
    moe = next(g.layer.ffn for g in spec.layer_groups if isinstance(g.layer.ffn, MoE))
    assert moe == MoE(16, 2, 14336)
    assert spec.layer_groups[0].layer.norm_names == ("input_layernorm", "pre_ff_layernorm")
    assert spec.op_name("final_norm") == "final_layernorm"


def test_mamba() -> None:
    spec = real("state-spaces--mamba-2.8b-hf")
    layer = single_layer(spec)
    # Mamba 2.8B: d 2560, expand 2 -> d_inner 5120, d_state 16, conv 4, dt_rank 160; no FFN; tied.
    assert layer.mixer == Mamba(d_inner=5120, d_state=16, d_conv=4, dt_rank=160, conv_bias=True,
                                proj_bias=False)
    assert layer.ffn is None and layer.norm_names == ("norm",)
    assert spec.num_layers == 64 and spec.tie_word_embeddings
    auto = spec_from_hf_config({"model_type": "mamba", "hidden_size": 768, "num_hidden_layers": 24,
                                "vocab_size": 50280, "time_step_rank": "auto"}, "mamba-130m")
    assert single_layer(auto).mixer.dt_rank == math.ceil(768 / 16) == 48


# --- fallback ------------------------------------------------------------------------------------

def test_unknown_model_type_is_refused_unless_forced_llama_like() -> None:
    # Issue 7: OLMoE, gpt-oss... used to come out as small dense Llamas. An unknown model_type is an
    # error naming the supported families; force_llama_like reads it Llama-style, with a warning.
    cfg = {"model_type": "brand_new", "hidden_size": 1024, "num_hidden_layers": 4, "num_attention_heads": 8,
           "num_key_value_heads": 2, "intermediate_size": 2816, "vocab_size": 32000, "hidden_act": "gelu",
           "tie_word_embeddings": True}
    with pytest.raises(ConfigError, match="'brand_new' is not supported. Supported families: .*llama, .*olmoe"):
        spec_from_hf_config(cfg, "new")
    with pytest.raises(ConfigError, match=r"did you mean olmoe"):  # close matches are suggested
        spec_from_hf_config({**cfg, "model_type": "olmoee"}, "new")
    spec = spec_from_hf_config(cfg, "new", force_llama_like=True)
    layer = single_layer(spec)
    assert spec.model_type == "brand_new"
    assert layer.mixer == Attention(8, 2, 128, rope_dim=128)
    assert layer.ffn == MLP(2816, gated=True, activation="gelu")
    assert spec.tie_word_embeddings
    assert len(spec.warnings) == 1 and "'brand_new' has no parser" in spec.warnings[0]


def test_architectures_used_when_model_type_missing() -> None:
    cfg = {"architectures": ["GPT2LMHeadModel"], "n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 100}
    assert spec_from_hf_config(cfg, "x").model_type == "gpt2"


def test_name_from_hf_cache_snapshot(tmp_path: Path) -> None:
    snap = tmp_path / "models--acme--tiny-llama" / "snapshots" / "0123abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({
        "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 128, "vocab_size": 100}))
    assert load_hf_config(snap).name == "acme/tiny-llama"
