"""Cross-check of our engine against an independent implementation: Hugging Face transformers + PyTorch.

Both sides read the SAME config dict (a real config.json from /work/shared/hf-configs, or a catalog
entry's HF-style dict, possibly edited below): transformers builds its model class from it, our
parser (``spec_from_hf_config``) builds the ModelSpec.

1. Parameters, exact (``test_params``): every shared config.json and every catalog entry, at FULL size.
   The model is built on the meta device (shapes only: ~20 ms even for a 671B model), so no layer
   reduction is needed. ``sum(p.numel() for p in model.parameters())`` must equal our
   ``params_total``, and the multiset of per-layer counts (one entry per decoder layer) must equal
   ours (each layer group's layer read off the engine), so every distinct layer kind is checked
   on its own: DeepSeek dense / MoE, Jamba Mamba / attention x dense / MoE, Gemma 2 sliding / global.

2. Matrix-product FLOPs (``test_flops``): one forward pass (batch 2, 32 tokens, eager attention, eager
   MoE experts) under ``torch.utils.flop_counter.FlopCounterMode`` against our prefill with
   ``logits_all=True`` (HF computes logits for every token) and ``flash_attention=False`` (HF's eager
   attention: qk_matmul, softmax, sv_matmul over all T x T scores, masked afterwards).

   - FlopCounterMode counts mm / addmm / bmm / baddbmm / convolution, 2 FLOPs per multiply-accumulate,
     and not the bias add of addmm. Our side is therefore the same spec with every matmul bias
     switched off (``without_matmul_bias``): the sum over prefill operators of kind "matmul" and the
     qk_matmul / sv_matmul attention operators, each times ``count``.
   - Dense models run on the meta device at their real widths with few layers (FlopCounterMode only
     needs shapes). Data-dependent models (MoE routing; the Mamba scan) run on CPU in float32 with a
     shrunk copy of the real config (same code paths: GQA ratio, MLA with / without q_lora, shared
     experts, dense first layers, group-limited routing, attention / Mamba / MoE periods), and our
     parser reads that same edited dict. MoE FLOPs are tokens x top_k expert MLPs whatever the routing.
   - Mamba (Mamba, Jamba), compared in three parts. (a) Projections with everything else: exact, less
     dt_proj's bias add (M*d_inner), which our graph counts in dt_proj and HF folds into the scan as
     ``delta_bias``. (b) conv1d: HF's reference ``causal_conv1d_fn`` pads by d_conv-1 on both sides and
     keeps the first T outputs, so it counts 2*B*(T+d_conv-1)*d_inner*d_conv; ours counts the T kept
     outputs, 2*B*T*d_inner*d_conv (plus bias and SiLU, which are taken out to compare). (c) The scan:
     HF's reference ``mamba_selective_scan`` does one ``matmul(ssm_state, C)`` per step, a bmm of
     2*B*T*d_inner*d_state FLOPs in all; its exp / multiply / add work is elementwise and not counted.
     Our ``selective_scan`` counts 9*M*d_inner*d_state (exp(dt*A), dt*B*x, the state update and the C.h
     contraction) + 7*M*d_inner; the check is that HF's bmm is exactly the C.h contraction,
     2*M*d_inner*d_state, and that our scan op covers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from llm_roofline.models.catalog import model_names
from llm_roofline.models.hf_config import model_family, spec_from_hf_config

pytest.importorskip("torch")
pytest.importorskip("transformers")

from torch_models import (  # noqa: E402
    SHARED_CONFIGS,
    build_model,
    dense_expert_excess,
    hf_forward_flops,
    hf_layer_params,
    hf_params,
    load_config,
    mamba_layers,
    our_layer_params,
    our_params,
    our_prefill_flops,
    reduced,
    remote_code_reason,
    shared_path,
    split_hf_flops,
)

pytestmark = pytest.mark.torch

BATCH, SEQ = 2, 32
FLOPS_REL = 0.01


def _config(source: str, model_id: str) -> dict[str, Any]:
    if source == "hf" and not shared_path(model_id).is_file():
        pytest.skip(f"{shared_path(model_id)} is absent")
    config = load_config(source, model_id)
    if model_family(config) is None:  # refused by the parser, as test_models checks
        pytest.skip(f"{model_id}: no parser for its model_type yet")
    reason = remote_code_reason(config)
    if reason:
        pytest.skip(reason)
    return config


# --- 1. parameters, exact ---------------------------------------------------------------------------

def _param_cases() -> list:
    files = sorted(SHARED_CONFIGS.glob("*.json"))
    cases = [pytest.param("hf", f.stem.replace("--", "/"), id=f"hf:{f.stem.replace('--', '/')}") for f in files]
    if not files:
        cases.append(pytest.param("hf", "", id="hf:none",
                                  marks=pytest.mark.skip(reason=f"no config.json files in {SHARED_CONFIGS}")))
    return cases + [pytest.param("catalog", name, id=f"catalog:{name}") for name in model_names()]


@pytest.mark.parametrize(("source", "model_id"), _param_cases())
def test_params(source: str, model_id: str) -> None:
    config = _config(source, model_id)
    spec = spec_from_hf_config(config, model_id)
    model = build_model(config, device="meta")
    assert our_params(spec) == hf_params(model)
    assert our_layer_params(spec) == hf_layer_params(model, spec.num_layers), "per-layer parameter counts"


# --- 2. matrix-product FLOPs --------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """``source``: "hf" (the real config.json) or "catalog"; ``layers``: layers kept, enough for every
    distinct layer kind; ``shrink``: edits for a real-tensor CPU run (None: real widths, meta device)."""

    source: str
    layers: int = 2
    shrink: dict[str, Any] | None = None
    all_experts: bool = False  # transformers runs every expert on every token (Llama 4)
    frozen: bool = False  # parameters without grad: FlopCounterMode's module tracker fails on DBRX's
    # per-expert views of parameters that require grad (under no_grad); frozen, Mamba takes another path


TINY = {"hidden_size": 64, "intermediate_size": 128, "vocab_size": 512}
TINY_MLA = {**TINY, "num_attention_heads": 4, "num_key_value_heads": 4, "kv_lora_rank": 32,
            "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16, "moe_intermediate_size": 32}

FLOPS_CASES: dict[str, Case] = {
    # Dense decoders: real widths, meta device.
    "meta-llama/Llama-2-70b-hf": Case("hf"),  # GQA 64:8
    "meta-llama/Meta-Llama-3-70B": Case("hf"),
    "meta-llama/Llama-3.1-8B": Case("hf"),
    "meta-llama/Llama-3.1-70B": Case("hf"),
    "meta-llama/Llama-3.1-405B": Case("hf"),
    "meta-llama/Llama-3.2-1B": Case("hf"),  # tied embeddings
    "mistralai/Mistral-7B-v0.1": Case("hf"),  # sliding window 4096 > SEQ
    "Qwen/Qwen2-7B": Case("hf"),  # q/k/v bias
    "Qwen/Qwen2.5-7B": Case("hf"),
    "Qwen/Qwen2.5-72B": Case("hf"),
    "Qwen/Qwen3-8B": Case("hf"),  # QK-norm, head_dim 128
    "google/gemma-7b": Case("hf"),  # head_dim 256, GeGLU
    "google/gemma-2-9b": Case("hf"),  # layer 0 sliding, layer 1 global; soft-capping
    "microsoft/phi-2": Case("hf"),  # parallel block, partial rotary, biases
    "microsoft/Phi-3-mini-4k-instruct": Case("hf"),  # fused qkv_proj, gate_up_proj
    "facebook/opt-125m": Case("hf"),  # learned positions, biases, ReLU
    "facebook/opt-6.7b": Case("hf"),
    "facebook/opt-350m": Case("catalog"),  # project_in/project_out, post-LN
    "EleutherAI/gpt-neox-20b": Case("hf"),  # fused query_key_value, rotary 25%
    "EleutherAI/pythia-6.9b": Case("hf"),
    "tiiuae/falcon-7b": Case("hf"),  # RefinedWebModel keys, multi-query
    "tiiuae/falcon-40b": Case("hf"),  # new decoder architecture, 8 KV groups
    "openai-community/gpt2": Case("catalog"),  # Conv1D (addmm) projections
    "EleutherAI/gpt-j-6b": Case("catalog"),
    "bigscience/bloom-560m": Case("catalog"),  # ALiBi (baddbmm), embedding LayerNorm
    "mosaicml/mpt-7b": Case("catalog"),  # ALiBi, no biases
    # MoE: shrunk, real tensors (routing is data-dependent).
    "mistralai/Mixtral-8x7B-v0.1": Case("hf", shrink={**TINY, "num_attention_heads": 8, "num_key_value_heads": 2}),
    "mistralai/Mixtral-8x22B-v0.1": Case("hf", shrink={**TINY, "hidden_size": 48, "num_attention_heads": 6,
                                                       "num_key_value_heads": 1}),
    "Qwen/Qwen3-30B-A3B": Case("hf", shrink={**TINY, "num_attention_heads": 8, "num_key_value_heads": 1,
                                             "head_dim": 16, "moe_intermediate_size": 32, "num_experts": 32,
                                             "num_experts_per_tok": 2}),
    "Qwen/Qwen1.5-MoE-A2.7B": Case("catalog", shrink={**TINY, "num_attention_heads": 4, "num_key_value_heads": 4,
                                                      "moe_intermediate_size": 32,
                                                      "shared_expert_intermediate_size": 128, "num_experts": 16,
                                                      "num_experts_per_tok": 2}),
    # DeepSeek MLA + MoE: first_k_dense_replace dense layers, then MoE.
    "deepseek-ai/DeepSeek-V2-Lite": Case("hf", layers=2, shrink={**TINY_MLA, "n_routed_experts": 16,
                                                                 "num_experts_per_tok": 2}),  # no q_lora
    "deepseek-ai/DeepSeek-V2": Case("catalog", layers=2, shrink={**TINY_MLA, "q_lora_rank": 48,
                                                                 "n_routed_experts": 16, "num_experts_per_tok": 2}),
    "deepseek-ai/DeepSeek-V3": Case("hf", layers=4, shrink={**TINY_MLA, "q_lora_rank": 48, "n_routed_experts": 16,
                                                            "num_experts_per_tok": 4, "n_group": 4,
                                                            "topk_group": 2}),  # group-limited sigmoid routing
    # State-space models: shrunk, real tensors (the reference scan runs step by step).
    "ai21labs/Jamba-v0.1": Case("hf", layers=8, shrink={**TINY, "num_attention_heads": 8, "num_key_value_heads": 2,
                                                        "num_experts": 4, "mamba_dt_rank": 4,
                                                        "use_mamba_kernels": False}),  # one attention period
    "state-spaces/mamba-2.8b-hf": Case("hf", shrink={**TINY, "time_step_rank": 4}),
    # Issue 7 families. OLMo 2: q/k norms over the projections, norms after the sublayers.
    "allenai/OLMo-2-1124-7B": Case("catalog"),
    "bigcode/starcoder2-3b": Case("catalog"),  # plain MLP with biases, GQA 24:2
    "bigcode/starcoder": Case("catalog"),  # GPT-BigCode: multi-query c_attn, learned positions
    "stabilityai/stablelm-2-1_6b": Case("catalog"),  # partial rotary, q/k/v bias
    "stabilityai/stablelm-2-12b": Case("catalog"),  # parallel residual, per-head q/k LayerNorms
    "google/gemma-3-1b-it": Case("catalog", layers=6),  # 5 sliding layers, then a global one
    "google/gemma-3-27b-it": Case("catalog", layers=6),  # nested text_config
    "allenai/OLMoE-1B-7B-0924": Case("catalog", shrink={**TINY, "num_attention_heads": 4, "num_key_value_heads": 4,
                                                        "num_experts": 8, "num_experts_per_tok": 2}),
    "microsoft/Phi-3.5-MoE-instruct": Case("catalog", shrink={**TINY, "num_attention_heads": 4,
                                                              "num_key_value_heads": 2, "num_local_experts": 4}),
    "databricks/dbrx-instruct": Case("catalog", shrink={
        "d_model": 64, "n_heads": 4, "vocab_size": 512,
        "attn_config": {"kv_n_heads": 2, "rope_theta": 500000, "clip_qkv": 8},
        "ffn_config": {"ffn_hidden_size": 128, "moe_num_experts": 4, "moe_top_k": 2}}, frozen=True),
    "MiniMaxAI/MiniMax-M2.5": Case("hf", shrink={**TINY, "num_attention_heads": 4, "num_key_value_heads": 2,
                                                 "head_dim": 16, "rotary_dim": 8, "num_local_experts": 8,
                                                 "num_experts_per_tok": 2}),
    "openai/gpt-oss-20b": Case("hf", shrink={**TINY, "num_attention_heads": 4, "num_key_value_heads": 2,
                                             "head_dim": 16, "num_local_experts": 4, "num_experts_per_tok": 2,
                                             "sliding_window": 8, "pad_token_id": None}),  # sinks; window 8 < 32
    "meta-llama/Llama-4-Scout-17B-16E-Instruct": Case("hf", layers=4, all_experts=True, shrink={
        **TINY, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "intermediate_size_mlp": 256,
        "num_local_experts": 4, "attention_chunk_size": 8}),  # layer 3 is NoPE + global; chunks of 8
    "meta-llama/Llama-4-Maverick-17B-128E-Instruct": Case("hf", layers=4, all_experts=True, shrink={
        **TINY, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "intermediate_size_mlp": 256,
        "num_local_experts": 4, "attention_chunk_size": 8}),  # dense and MoE layers interleaved
    "moonshotai/Kimi-K2.5": Case("hf", layers=2, shrink={**TINY_MLA, "q_lora_rank": 48, "n_routed_experts": 16,
                                                         "num_experts_per_tok": 2, "pad_token_id": None}),
    "tiiuae/falcon-mamba-7b": Case("catalog", shrink={**TINY, "time_step_rank": 4, "use_mambapy": False}),
    # Remote code only: skipped with the reason.
    "THUDM/chatglm3-6b": Case("hf"),
    "Qwen/Qwen-7B": Case("catalog"),
}


def _flops_report(ours: dict, hf: dict, counts: dict) -> str:
    ratio = ours["matmul"] / hf["matmul"] if hf["matmul"] else float("nan")
    return f"ours {ours} vs HF {hf} (matmul ratio {ratio:.6f}); HF ops {counts['Global']}"


@pytest.mark.parametrize(("model_id", "case"), list(FLOPS_CASES.items()), ids=list(FLOPS_CASES))
def test_flops(model_id: str, case: Case) -> None:
    config = reduced(_config(case.source, model_id), case.layers, case.shrink)
    spec = spec_from_hf_config(config, model_id)
    assert spec.num_layers == case.layers
    device = "meta" if case.shrink is None else "cpu"
    model = build_model(config, device=device)
    assert model.config._attn_implementation == "eager"
    model.requires_grad_(not case.frozen)
    counts = hf_forward_flops(model, BATCH, SEQ, spec.vocab_size, device)
    hf = split_hf_flops(model, counts)
    if case.all_experts:  # transformers computes all E experts per token; we count the routed k of them
        hf["matmul"] -= sum(dense_expert_excess(spec, counts))
    ours = our_prefill_flops(spec, BATCH, SEQ)
    message = _flops_report(ours, hf, counts)

    assert ours["matmul"] == pytest.approx(hf["matmul"], rel=FLOPS_REL), message

    mamba = mamba_layers(spec)
    if not mamba:
        assert hf["conv"] == hf["scan"] == ours["conv"] == ours["scan"] == 0, message
        return
    M = BATCH * SEQ
    (d_conv,) = {mixer.d_conv for mixer, _ in mamba}
    # conv1d: HF's padded outputs (T + d_conv - 1 per sequence) against the T we count.
    assert ours["conv"] == pytest.approx(hf["conv"] * SEQ / (SEQ + d_conv - 1), rel=1e-12), message
    # Scan: HF's bmm is the C.h contraction, 2 of our 9 FLOPs per (token, channel, state).
    assert hf["scan"] == sum(2 * M * mixer.d_inner * mixer.d_state * n for mixer, n in mamba), message
    assert ours["scan"] > hf["scan"], message
