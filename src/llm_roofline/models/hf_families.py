"""The other dense families: Phi, Phi-3, OPT, GPT-2, GPT-J, GPT-NeoX, Falcon, BLOOM, MPT, ChatGLM,
Qwen v1, each with its own HF field names, defaults and module names."""

from __future__ import annotations

from typing import Any

from .hf_fields import Fields, head_dim_of, kv_heads_of, tied, window_value
from .spec import MLP, Attention, Layer, LayerGroup

# --- Phi-3 ---------------------------------------------------------------------------------------

def _phi3(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    num_layers = f.int("num_hidden_layers")
    kv = kv_heads_of(f, heads, "num_key_value_heads")
    head_dim = head_dim_of(f, hidden, heads)
    window = window_value(f)
    attn = Attention(heads, kv, head_dim,
                     rope_dim=int(head_dim * f.fraction("partial_rotary_factor", default=1.0)),
                     fused_qkv=True, sliding_window=window)
    mlp = MLP(f.int("intermediate_size"), gated=True, activation=f.activation("hidden_act", default="silu"),
              fused_gate_up=True)
    layer = Layer(attn, mlp)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, num_layers),), tie_word_embeddings=tied(f, False),
                max_position_embeddings=f.int("max_position_embeddings", default=None))


# --- Phi-1/1.5/2 ---------------------------------------------------------------------------------

def _phi(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    kv = kv_heads_of(f, heads, "num_key_value_heads")
    head_dim = head_dim_of(f, hidden, heads, key=None)
    # qk_layernorm: a LayerNorm (weight and bias) over each head.
    attn = Attention(heads, kv, head_dim,
                     rope_dim=int(head_dim * f.fraction("partial_rotary_factor", default=0.5)),
                     qkv_bias=True, o_bias=True, qk_norm=f.bool("qk_layernorm", default=False),
                     qk_norm_kind="layernorm", qk_norm_bias=True)
    mlp = MLP(f.int("intermediate_size"), gated=False, activation=f.activation("hidden_act", default="gelu_new"),
              bias=True)
    layer = Layer(attn, mlp, norm_names=("input_layernorm",), norm_kind="layernorm", norm_bias=True,
                  parallel=True)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),),
                tie_word_embeddings=tied(f, False), final_norm_kind="layernorm", final_norm_bias=True,
                lm_head_bias=True, max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"o_proj": "dense", "up_proj": "fc1", "down_proj": "fc2",
                          "final_norm": "final_layernorm"})


# --- OPT -----------------------------------------------------------------------------------------

def _opt(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "ffn_dim", "vocab_size")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    proj = f.int("word_embed_proj_dim", default=hidden)  # opt-350m: 512-wide embeddings, project_in/out
    if not f.bool("layer_norm_elementwise_affine", default=True):
        raise f.error("field 'layer_norm_elementwise_affine' false (norms without weights) is not supported")
    bias = f.bool("enable_bias", default=True)
    pre_ln = f.bool("do_layer_norm_before", default=True)
    attn = Attention(heads, heads, head_dim_of(f, hidden, heads, key=None), qkv_bias=bias, o_bias=bias)
    mlp = MLP(f.int("ffn_dim"), gated=False, activation=f.activation("activation_function", default="relu"),
              bias=bias)
    layer = Layer(attn, mlp, norm_names=("self_attn_layer_norm", "final_layer_norm"), norm_kind="layernorm",
                  norm_bias=True, post_norm=not pre_ln)
    max_pos = f.int("max_position_embeddings", default=2048)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),),
                tie_word_embeddings=tied(f, True), learned_positions=max_pos + 2,  # OPT offsets positions by 2
                final_norm=pre_ln and not f.bool("_remove_final_layer_norm", default=False),
                final_norm_kind="layernorm", final_norm_bias=True, max_position_embeddings=max_pos,
                embed_dim=None if proj == hidden else proj,
                op_names={"o_proj": "out_proj", "up_proj": "fc1", "down_proj": "fc2",
                          "final_norm": "final_layer_norm"})


# --- GPT-2 ---------------------------------------------------------------------------------------

def _gpt2(f: Fields, model_type: str) -> dict[str, Any]:
    return gpt2_layout(f, multi_query=False, default_activation="gelu_new")


def gpt2_layout(f: Fields, multi_query: bool, default_activation: str) -> dict[str, Any]:
    """GPT-2's decoder (fused c_attn, plain c_fc / c_proj MLP, LayerNorms with bias, learned positions,
    tied head); ``multi_query``: one KV head (GPT-BigCode's ``multi_query``), else one per head."""
    f.require(("n_embd", "hidden_size"), ("n_layer", "num_hidden_layers"), ("n_head", "num_attention_heads"),
              "vocab_size")
    hidden, heads = f.int("n_embd", "hidden_size"), f.int("n_head", "num_attention_heads")
    if f.bool("add_cross_attention", default=False):
        raise f.error("field 'add_cross_attention' true (encoder-decoder) is not supported")
    positions = f.int("n_positions", "max_position_embeddings", default=1024)
    attn = Attention(heads, 1 if multi_query else heads, head_dim_of(f, hidden, heads, key=None), qkv_bias=True,
                     o_bias=True, fused_qkv=True)
    mlp = MLP(f.int("n_inner", default=4 * hidden), gated=False,
              activation=f.activation("activation_function", default=default_activation), bias=True)
    layer = Layer(attn, mlp, norm_names=("ln_1", "ln_2"), norm_kind="layernorm", norm_bias=True)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("n_layer", "num_hidden_layers")),),
                tie_word_embeddings=tied(f, True), learned_positions=positions, final_norm_kind="layernorm",
                final_norm_bias=True, max_position_embeddings=positions,
                op_names={"embed_tokens": "wte", "embed_positions": "wpe", "qkv_proj": "attn.c_attn",
                          "o_proj": "attn.c_proj", "up_proj": "mlp.c_fc", "down_proj": "mlp.c_proj",
                          "final_norm": "ln_f"})


# --- GPT-J ---------------------------------------------------------------------------------------

def _gptj(f: Fields, model_type: str) -> dict[str, Any]:
    f.require(("n_embd", "hidden_size"), ("n_layer", "num_hidden_layers"), ("n_head", "num_attention_heads"),
              "vocab_size")
    hidden, heads = f.int("n_embd", "hidden_size"), f.int("n_head", "num_attention_heads")
    head_dim = head_dim_of(f, hidden, heads, key=None)
    rotary = f.data.get("rotary_dim", 64)
    rope_dim = head_dim if rotary is None else f.int("rotary_dim", default=64, minimum=0)
    attn = Attention(heads, heads, head_dim, rope_dim=rope_dim)
    mlp = MLP(f.int("n_inner", default=4 * hidden), gated=False,
              activation=f.activation("activation_function", default="gelu_new"), bias=True)
    layer = Layer(attn, mlp, norm_names=("ln_1",), norm_kind="layernorm", norm_bias=True, parallel=True)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("n_layer", "num_hidden_layers")),),
                tie_word_embeddings=tied(f, False), final_norm_kind="layernorm", final_norm_bias=True,
                lm_head_bias=True, max_position_embeddings=f.int("n_positions", "max_position_embeddings",
                                                                 default=2048),
                op_names={"embed_tokens": "wte", "o_proj": "out_proj", "up_proj": "fc_in",
                          "down_proj": "fc_out", "final_norm": "ln_f"})


# --- GPT-NeoX / Pythia ---------------------------------------------------------------------------

def _gpt_neox(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    head_dim = head_dim_of(f, hidden, heads, key=None)
    bias = f.bool("attention_bias", default=True)
    attn = Attention(heads, heads, head_dim,
                     rope_dim=int(head_dim * f.fraction("rotary_pct", "partial_rotary_factor", default=0.25)),
                     qkv_bias=bias, o_bias=bias, fused_qkv=True)
    mlp = MLP(f.int("intermediate_size"), gated=False, activation=f.activation("hidden_act", default="gelu"),
              bias=True)
    layer = Layer(attn, mlp, norm_kind="layernorm", norm_bias=True,
                  parallel=f.bool("use_parallel_residual", default=True))
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),),
                tie_word_embeddings=tied(f, False), final_norm_kind="layernorm", final_norm_bias=True,
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"embed_tokens": "embed_in", "qkv_proj": "query_key_value", "o_proj": "dense",
                          "up_proj": "dense_h_to_4h", "down_proj": "dense_4h_to_h",
                          "final_norm": "final_layer_norm", "lm_head": "embed_out"})


# Falcon and BLOOM name their modules alike.
_FALCON_BLOOM_NAMES = {"embed_tokens": "word_embeddings", "qkv_proj": "query_key_value", "o_proj": "dense",
                       "up_proj": "dense_h_to_4h", "down_proj": "dense_4h_to_h", "final_norm": "ln_f"}


# --- Falcon (falcon, and the remote-code RefinedWebModel / RefinedWeb) ---------------------------

def _falcon(f: Fields, model_type: str) -> dict[str, Any]:
    f.require(("hidden_size", "n_embed"), ("num_hidden_layers", "n_layer"), ("num_attention_heads", "n_head"),
              "vocab_size")
    hidden = f.int("hidden_size", "n_embed")
    heads = f.int("num_attention_heads", "n_head")
    head_dim = head_dim_of(f, hidden, heads, key=None)
    # Old remote-code "RefinedWeb" (Falcon-40B's first release) is the new decoder architecture.
    new_arch = f.bool("new_decoder_architecture", default=model_type.lower() == "refinedweb")
    multi_query = f.bool("multi_query", default=True)
    parallel_attn = f.bool("parallel_attn", default=True)
    if new_arch:
        kv = kv_heads_of(f, heads, "num_kv_heads", "n_head_kv")
    elif multi_query:
        kv = 1
    else:
        kv = heads  # query_key_value is 3 * hidden wide
    bias = f.bool("bias", default=False)
    alibi = f.bool("alibi", default=False)
    attn = Attention(heads, kv, head_dim, rope_dim=0 if alibi else head_dim, qkv_bias=bias, o_bias=bias,
                     fused_qkv=True)
    mlp = MLP(f.int("ffn_hidden_size", default=4 * hidden), gated=False,
              activation=f.activation("activation", default="gelu"), bias=bias)
    num_ln = f.int("num_ln_in_parallel_attn", default=2 if new_arch else 1)
    if not parallel_attn:
        norms: tuple[str, ...] = ("input_layernorm", "post_attention_layernorm")
    elif num_ln == 2:
        norms = ("ln_attn", "ln_mlp")
    else:
        norms = ("input_layernorm",)
    layer = Layer(attn, mlp, norm_names=norms, norm_kind="layernorm", norm_bias=True,
                  parallel=new_arch or parallel_attn)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers", "n_layer")),),
                tie_word_embeddings=tied(f, True), final_norm_kind="layernorm", final_norm_bias=True,
                max_position_embeddings=f.int("max_position_embeddings", default=2048),
                op_names=_FALCON_BLOOM_NAMES)


# --- BLOOM ---------------------------------------------------------------------------------------

def _bloom(f: Fields, model_type: str) -> dict[str, Any]:
    f.require(("hidden_size", "n_embed"), ("n_layer", "num_hidden_layers"), ("n_head", "num_attention_heads"),
              "vocab_size")
    hidden = f.int("hidden_size", "n_embed")
    heads = f.int("n_head", "num_attention_heads")
    attn = Attention(heads, heads, head_dim_of(f, hidden, heads, key=None), qkv_bias=True, o_bias=True,
                     fused_qkv=True)  # ALiBi: no rotary dims
    mlp = MLP(4 * hidden, gated=False, activation="gelu_tanh", bias=True)
    layer = Layer(attn, mlp, norm_kind="layernorm", norm_bias=True)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("n_layer", "num_hidden_layers")),),
                tie_word_embeddings=tied(f, True), embedding_norm=True, final_norm_kind="layernorm",
                final_norm_bias=True, max_position_embeddings=f.int("seq_length", default=None),
                op_names=_FALCON_BLOOM_NAMES)


# --- MPT -----------------------------------------------------------------------------------------

def _mpt(f: Fields, model_type: str) -> dict[str, Any]:
    f.require(("d_model", "hidden_size"), ("n_layers", "num_hidden_layers"), ("n_heads", "num_attention_heads"),
              "vocab_size")
    hidden = f.int("d_model", "hidden_size")
    heads = f.int("n_heads", "num_attention_heads")
    head_dim = head_dim_of(f, hidden, heads, key=None)
    a = Fields(f.dict("attn_config"), f"{f.where}: attn_config")
    alibi = a.bool("alibi", default=True)
    rope = a.bool("rope", default=False)
    attn_type = a.str("attn_type", default="multihead_attention")
    if attn_type == "multiquery_attention":
        kv = 1
    elif attn_type == "grouped_query_attention":
        kv = kv_heads_of(a, heads, "kv_n_heads")
    elif attn_type == "multihead_attention":
        kv = heads
    else:
        raise a.error(f"field 'attn_type': unsupported value {attn_type!r}")
    bias = not f.bool("no_bias", default=True)
    ratio = f.float("expansion_ratio", default=4.0)
    attn = Attention(heads, kv, head_dim, rope_dim=head_dim if rope else 0, qkv_bias=bias, o_bias=bias,
                     fused_qkv=True)
    mlp = MLP(int(ratio * hidden), gated=False, activation="gelu", bias=bias)
    layer = Layer(attn, mlp, norm_names=("norm_1", "norm_2"), norm_kind="layernorm", norm_bias=bias)
    max_seq = f.int("max_seq_len", default=2048)
    learned = f.bool("learned_pos_emb", default=True) and not alibi and not rope  # as llm-foundry
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("n_layers", "num_hidden_layers")),),
                tie_word_embeddings=tied(f, True), learned_positions=max_seq if learned else 0,
                final_norm_kind="layernorm", final_norm_bias=bias, max_position_embeddings=max_seq,
                op_names={"embed_tokens": "wte", "embed_positions": "wpe", "qkv_proj": "Wqkv",
                          "o_proj": "out_proj", "final_norm": "norm_f"})


# --- ChatGLM2/3 (remote code, model_type "chatglm") -----------------------------------------------

def _chatglm(f: Fields, model_type: str) -> dict[str, Any]:
    if f.has("inner_hidden_size") or f.has("position_encoding_2d"):
        raise f.error("ChatGLM-6B v1 configs (inner_hidden_size, position_encoding_2d) are not supported; "
                      "ChatGLM2/3 and GLM-4 are")
    f.require("hidden_size", "num_layers", "num_attention_heads", "ffn_hidden_size",
              ("padded_vocab_size", "vocab_size"))
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    head_dim = f.int("kv_channels", default=None) or head_dim_of(f, hidden, heads, key=None)
    kv = (kv_heads_of(f, heads, "multi_query_group_num") if f.bool("multi_query_attention", default=False)
          else heads)
    linear_bias = f.bool("add_bias_linear", default=False)
    # RotaryEmbedding(kv_channels // 2): rotary over the first half of each head.
    attn = Attention(heads, kv, head_dim, rope_dim=head_dim // 2,
                     qkv_bias=linear_bias or f.bool("add_qkv_bias", default=False), o_bias=linear_bias,
                     fused_qkv=True)
    mlp = MLP(f.int("ffn_hidden_size"), gated=True, activation="silu", bias=linear_bias, fused_gate_up=True)
    rms = f.bool("rmsnorm", default=True)
    kind = "rmsnorm" if rms else "layernorm"
    layer = Layer(attn, mlp, norm_kind=kind, norm_bias=not rms)
    return dict(hidden_size=hidden, vocab_size=f.int("padded_vocab_size", "vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_layers")),), tie_word_embeddings=tied(f, False),
                final_norm=f.bool("post_layer_norm", default=True), final_norm_kind=kind, final_norm_bias=not rms,
                max_position_embeddings=f.int("seq_length", default=None),
                op_names={"embed_tokens": "word_embeddings", "qkv_proj": "query_key_value", "o_proj": "dense",
                          "gate_up_proj": "dense_h_to_4h", "down_proj": "dense_4h_to_h",
                          "final_norm": "final_layernorm", "lm_head": "output_layer"})


# --- Qwen (v1, remote code, model_type "qwen") ----------------------------------------------------

def _qwen(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    head_dim = f.int("kv_channels", default=None) or head_dim_of(f, hidden, heads, key=None)
    bias = not f.bool("no_bias", default=True)
    attn = Attention(heads, heads, head_dim, rope_dim=int(head_dim * f.fraction("rotary_pct", default=1.0)),
                     qkv_bias=True, o_bias=bias, fused_qkv=True)  # c_attn always has a bias
    # intermediate_size counts w1 and w2 together: each is intermediate_size // 2 wide.
    mlp = MLP(f.int("intermediate_size") // 2, gated=True, activation="silu", bias=bias)
    layer = Layer(attn, mlp, norm_names=("ln_1", "ln_2"))
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),), tie_word_embeddings=tied(f, False),
                max_position_embeddings=f.int("max_position_embeddings", "seq_length", default=None),
                op_names={"embed_tokens": "wte", "qkv_proj": "attn.c_attn", "o_proj": "attn.c_proj",
                          "gate_proj": "mlp.w2", "up_proj": "mlp.w1", "down_proj": "mlp.c_proj", "final_norm": "ln_f"})
