"""Shared fixtures: models and devices written out by hand from their published facts, so the
engine tests do not depend on the catalogs (which have tests of their own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_roofline.hardware.spec import Hardware
from llm_roofline.models.spec import MLP, Attention, LatentAttention, Layer, LayerGroup, Mamba, ModelSpec, MoE

SHARED_CONFIGS = Path(__file__).resolve().parents[2] / "shared" / "hf-configs"


def llama(name="llama-2-7b", D=4096, L=32, N=32, K=32, F=11008, V=32000, window=None) -> ModelSpec:
    """Llama-2-7B by default (Llama 2 paper / model card): D 4096, 32 layers, 32 heads, F 11008."""
    layer = Layer(mixer=Attention(N, K, D // N, rope_dim=D // N, sliding_window=window), ffn=MLP(F, gated=True))
    return ModelSpec(name=name, model_type="llama", hidden_size=D, vocab_size=V,
                     layer_groups=(LayerGroup(layer, L),))


@pytest.fixture
def llama2_7b() -> ModelSpec:
    return llama()


@pytest.fixture
def a6000() -> Hardware:
    """RTX A6000 (GA102 whitepaper, as LLM-Viewer uses it): 768 GB/s, 48 GB, 154.8 TFLOPS fp16 dense."""
    return Hardware(name="a6000", memory_bandwidth_bytes_per_s=768e9, memory_capacity_bytes=48e9,
                    peak_flops_per_s={"fp32": 38.7e12, "fp16": 154.8e12, "int8": 309.7e12, "int4": 619.4e12})


def small_moe(shared: int = 0, gate: bool = False) -> ModelSpec:
    layer = Layer(mixer=Attention(8, 2, 16, rope_dim=16),
                  ffn=MoE(num_experts=8, top_k=2, expert_intermediate_size=96, shared_intermediate_size=shared,
                          shared_expert_gate=gate))
    return ModelSpec(name="tiny-moe", model_type="mixtral", hidden_size=128, vocab_size=1000,
                     layer_groups=(LayerGroup(layer, 3),))


def small_mla() -> ModelSpec:
    dense = Layer(mixer=LatentAttention(num_heads=4, q_lora_rank=48, kv_lora_rank=32, qk_nope_head_dim=16,
                                        qk_rope_head_dim=8, v_head_dim=16), ffn=MLP(256, gated=True))
    moe = Layer(mixer=dense.mixer, ffn=MoE(num_experts=16, top_k=4, expert_intermediate_size=32,
                                           shared_intermediate_size=64))
    return ModelSpec(name="tiny-mla", model_type="deepseek_v3", hidden_size=128, vocab_size=500,
                     layer_groups=(LayerGroup(dense, 1), LayerGroup(moe, 3)))


def small_hybrid() -> ModelSpec:
    mamba = Layer(mixer=Mamba(d_inner=256, d_state=16, d_conv=4, dt_rank=8), ffn=MLP(256, gated=True),
                  norm_names=("input_layernorm", "pre_ff_layernorm"))
    attn = Layer(mixer=Attention(4, 2, 32), ffn=MoE(num_experts=4, top_k=2, expert_intermediate_size=128),
                 norm_names=("input_layernorm", "pre_ff_layernorm"))
    return ModelSpec(name="tiny-hybrid", model_type="jamba", hidden_size=128, vocab_size=700,
                     layer_groups=(LayerGroup(mamba, 3), LayerGroup(attn, 1)), tie_word_embeddings=True)


def sliding_llama() -> ModelSpec:
    return llama(name="tiny-sliding", D=256, L=2, N=4, K=2, F=512, V=1000, window=64)


def gemma2_like() -> ModelSpec:
    """Alternating sliding (W=32) and global layers with four norms each, tied embeddings."""
    names = ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm")
    sliding = Layer(mixer=Attention(4, 2, 64, rope_dim=64, sliding_window=32),
                    ffn=MLP(512, gated=True, activation="gelu_tanh"), norm_names=names)
    glob = Layer(mixer=Attention(4, 2, 64, rope_dim=64), ffn=sliding.ffn, norm_names=names)
    return ModelSpec(name="tiny-gemma2", model_type="gemma2", hidden_size=192, vocab_size=900,
                     layer_groups=(LayerGroup(sliding, 2), LayerGroup(glob, 2)), tie_word_embeddings=True)


def gpt_oss_like() -> ModelSpec:
    """gpt-oss in small: attention sinks, sliding (W=32) and global layers, q/k/v/o biases, a router
    bias and biased experts with a fused gate_up_proj and the clamped SwiGLU."""
    moe = MoE(num_experts=4, top_k=2, expert_intermediate_size=128, activation="clamped_swiglu",
              router_bias=True, expert_bias=True, fused_gate_up=True)
    sliding = Layer(mixer=Attention(4, 2, 32, rope_dim=32, qkv_bias=True, o_bias=True, sliding_window=32,
                                    sinks=True), ffn=moe)
    glob = Layer(mixer=Attention(4, 2, 32, rope_dim=32, qkv_bias=True, o_bias=True, sinks=True), ffn=moe)
    return ModelSpec(name="tiny-gpt-oss", model_type="gpt_oss", hidden_size=128, vocab_size=800,
                     layer_groups=(LayerGroup(sliding, 2), LayerGroup(glob, 2)))


def llama4_like(chunk: int = 16) -> ModelSpec:
    """Llama 4 in small: chunked attention (C=16) with RoPE and weightless q/k norms, a global NoPE
    layer, dense MLP and MoE (fused gate_up, shared expert) layers interleaved."""
    moe = MoE(num_experts=4, top_k=1, expert_intermediate_size=128, shared_intermediate_size=128,
              fused_gate_up=True)
    chunked = Attention(4, 2, 32, rope_dim=32, attention_chunk=chunk, qk_norm=True, qk_norm_kind="weightless_rmsnorm")
    nope = Attention(4, 2, 32)
    groups = (LayerGroup(Layer(chunked, MLP(256, gated=True)), 2), LayerGroup(Layer(chunked, moe), 1),
              LayerGroup(Layer(nope, moe), 1))
    return ModelSpec(name="tiny-llama4", model_type="llama4", hidden_size=128, vocab_size=800, layer_groups=groups)


VARIED_MODELS = {"llama": lambda: llama("tiny", D=256, L=2, N=4, K=4, F=512, V=1000),
                 "moe": small_moe, "moe-shared": lambda: small_moe(64, True), "mla": small_mla,
                 "hybrid": small_hybrid, "sliding": sliding_llama, "gemma2": gemma2_like, "gpt_oss": gpt_oss_like}
# Models whose decode step can get cheaper as the context grows (chunked attention starts each chunk
# afresh): every VARIED_MODELS invariant but monotonicity in the lengths holds for them.
SAWTOOTH_MODELS = {"llama4": llama4_like}
