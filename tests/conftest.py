"""Shared fixtures: models and devices written out by hand from their published facts, so the
engine tests do not depend on the catalogs (which have tests of their own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_roofline.hardware.spec import Hardware
from llm_roofline.models.spec import (
    MLP,
    Attention,
    CompressedAttention,
    GatedDeltaNet,
    LatentAttention,
    Layer,
    LayerGroup,
    Mamba,
    Mamba2,
    ModelSpec,
    MoE,
    SparseLatentAttention,
)

SHARED_CONFIGS = Path(__file__).resolve().parents[2] / "shared" / "hf-configs"


def shared_config(stem: str) -> dict:
    """The real config.json ``stem``.json of ../shared/hf-configs (e.g. "google--gemma-4-26B-A4B"), or
    skip the test when the shared folder does not have it."""
    import json

    path = SHARED_CONFIGS / f"{stem}.json"
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return json.loads(path.read_text())


def op(stage, name: str):
    """The operator called ``name`` of a report's stage (``report.prefill`` / ``report.decode``)."""
    return next(o for o in stage.ops if o.name == name)


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


def small_dsa() -> ModelSpec:
    """DeepSeek Sparse Attention: MLA attending the top 16 tokens its indexer (4 heads x 16) picks; the
    last layer reuses the previous selection (GLM-5's shared layers)."""
    mla = small_mla().layer_groups[0].layer.mixer
    full = SparseLatentAttention(mla, index_heads=4, index_head_dim=16, index_topk=16)
    dense = Layer(mixer=full, ffn=MLP(256, gated=True))
    moe = Layer(mixer=full, ffn=MoE(num_experts=8, top_k=2, expert_intermediate_size=32, shared_intermediate_size=32))
    shared = Layer(mixer=SparseLatentAttention(mla, 4, 16, 16, indexer=False), ffn=moe.ffn)
    return ModelSpec(name="tiny-dsa", model_type="glm_moe_dsa", hidden_size=128, vocab_size=500,
                     layer_groups=(LayerGroup(dense, 1), LayerGroup(moe, 2), LayerGroup(shared, 1)))


def small_linear_hybrid() -> ModelSpec:
    """Qwen3-Next style: 3 gated delta-net layers per gated full-attention layer, MoE with a gated shared expert."""
    moe = MoE(num_experts=8, top_k=2, expert_intermediate_size=64, shared_intermediate_size=64, shared_expert_gate=True)
    linear = Layer(mixer=GatedDeltaNet(num_k_heads=2, num_v_heads=4, k_head_dim=16, v_head_dim=32, conv_kernel=4),
                   ffn=moe)
    full = Layer(mixer=Attention(4, 2, 32, rope_dim=8, qk_norm=True, output_gate=True), ffn=moe)
    return ModelSpec(name="tiny-linear", model_type="qwen3_next", hidden_size=128, vocab_size=600,
                     layer_groups=(LayerGroup(linear, 3), LayerGroup(full, 1)))


def small_nemotron_h() -> ModelSpec:
    """Nemotron-H style blocks: Mamba-2, MLP (relu2), attention, MLP."""
    norms = ("norm",)
    mamba = Layer(mixer=Mamba2(num_heads=8, head_dim=16, d_state=16, n_groups=2, d_conv=4, chunk_size=32), ffn=None,
                  norm_names=norms)
    mlp = Layer(mixer=None, ffn=MLP(256, gated=False, activation="relu2"), norm_names=norms)
    attn = Layer(mixer=Attention(4, 2, 32), ffn=None, norm_names=norms)
    return ModelSpec(name="tiny-nemotron-h", model_type="nemotron_h", hidden_size=128, vocab_size=600,
                     layer_groups=(LayerGroup(mamba, 2), LayerGroup(mlp, 3), LayerGroup(attn, 1)),
                     op_names={"embed_tokens": "embeddings", "final_norm": "norm_f"})


def small_deepseek_v4() -> ModelSpec:
    """DeepSeek-V4 style: window 16, a window-only layer, CSA (m 4, top 8 by its indexer) and HCA (m 8),
    one shared K = V head, 4 hyper-connection streams, MoE everywhere."""
    common = dict(num_heads=4, head_dim=32, q_lora_rank=24, rope_dim=8, o_groups=2, o_lora_rank=16, sliding_window=16)
    moe = MoE(num_experts=8, top_k=2, expert_intermediate_size=32, shared_intermediate_size=32)
    layers = (Layer(CompressedAttention(**common), moe),
              Layer(CompressedAttention(**common, kind="csa", compress_ratio=4, index_heads=2, index_head_dim=16,
                                        index_topk=8), moe),
              Layer(CompressedAttention(**common, kind="hca", compress_ratio=8), moe))
    return ModelSpec(name="tiny-v4", model_type="deepseek_v4", hidden_size=64, vocab_size=500, hc_mult=4,
                     layer_groups=tuple(LayerGroup(layer, n) for layer, n in zip(layers, (1, 2, 2), strict=True)))


VARIED_MODELS = {"llama": lambda: llama("tiny", D=256, L=2, N=4, K=4, F=512, V=1000),
                 "moe": small_moe, "moe-shared": lambda: small_moe(64, True), "mla": small_mla,
                 "hybrid": small_hybrid, "sliding": sliding_llama, "gemma2": gemma2_like, "gpt_oss": gpt_oss_like,
                 "dsa": small_dsa, "linear": small_linear_hybrid, "nemotron-h": small_nemotron_h,
                 "deepseek-v4": small_deepseek_v4}
# Models whose decode step can get cheaper as the context grows (chunked attention starts each chunk
# afresh): every VARIED_MODELS invariant but monotonicity in the lengths holds for them.
SAWTOOTH_MODELS = {"llama4": llama4_like}


class FakeDevice:
    """A simulated device for ``llm-roofline measure`` (the measure_backends interface): every call
    advances a fake clock by the device's physics, launch_s + max(FLOPs / peak, bytes / bandwidth),
    with the FLOPs and bytes written out here independently of the engine: copy 2 x 4n bytes,
    triad 3 x 4n bytes and 2n FLOPs, GEMM 2mnk FLOPs and (mk + kn + mn) x width bytes; an
    all-reduce of b bytes over d devices takes 10 us + 2 (d - 1) / d x b / link."""

    library = "fake 1.0"
    kind = "cpu"
    device = "cpu"
    WIDTH = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1}

    def __init__(self, bandwidth=20e9, peaks=None, launch_s=2e-6, units=4, devices=1, link=50e9):
        self.now = 0.0
        self.bandwidth, self.launch_s, self.units, self.devices, self.link = bandwidth, launch_s, units, devices, link
        self.peaks = peaks or {"fp32": 100e9}
        self.closed = False
        self.calls = 0

    def clock(self):
        return self.now

    def sync(self):
        pass

    def info(self):
        return {"device_name": "fake", "vendor": "Test", "units": self.units, "memory_capacity_bytes": 8e9,
                "devices": self.devices}

    def formats(self, wanted=None):
        return tuple(f for f in self.peaks if wanted is None or f in wanted)

    def stream_kernels(self):
        return ("copy", "triad")

    def _advance(self, seconds):
        def call():
            self.now += seconds
            self.calls += 1
        return call

    def _kernel(self, flops, moved, peak=float("inf")):
        return self._advance(self.launch_s + max(flops / peak, moved / self.bandwidth))

    def stream(self, kernel, n_bytes):
        n = n_bytes // 4
        return self._kernel(0.0, 8.0 * n) if kernel == "copy" else self._kernel(2.0 * n, 12.0 * n)

    def gemm(self, fmt, m, n, k):
        return self._kernel(2.0 * m * n * k, (m * k + k * n + m * n) * self.WIDTH[fmt], self.peaks[fmt])

    def tiny(self):
        return self._kernel(1.0, 12.0)

    def allreduce(self, n_bytes):
        d = self.devices
        return self._advance(10e-6 + 2 * (d - 1) / d * n_bytes / self.link) if d > 1 else None

    def close(self):
        self.closed = True
