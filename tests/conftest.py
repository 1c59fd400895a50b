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


VARIED_MODELS = {"llama": lambda: llama("tiny", D=256, L=2, N=4, K=4, F=512, V=1000),
                 "moe": small_moe, "moe-shared": lambda: small_moe(64, True), "mla": small_mla,
                 "hybrid": small_hybrid, "sliding": sliding_llama, "gemma2": gemma2_like}


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
