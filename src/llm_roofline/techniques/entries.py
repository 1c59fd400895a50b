"""The advisor's built-in entries: each technique at stated typical settings (registry.py)."""

from __future__ import annotations

from ..models.spec import Attention, MLPAndMoE, MoE
from .presets import PRESETS
from .registry import Technique, register

LOSSLESS = "verification keeps the target's output distribution (lossless)"


def _format_of(base: dict, key: str) -> str:
    value = base.get(key, 16)
    return str(value).lower()


def _not_if(key: str, *values) -> callable:
    def check(model, base):
        return f"{key} is already {base.get(key)}" if _format_of(base, key) in {str(v) for v in values} else None
    return check


def _needs_attention(model, base):
    if not any(isinstance(g.layer.mixer, Attention) for g in model.layer_groups):
        return "the model has no standard attention layers"
    return None


def _needs_mtp(model, base):
    return None if model.model_type.startswith("deepseek_v3") else ("MTP modules ship with DeepSeek-V3-style models "
                                                                     "only")


def _needs_long_context(budget_share: float):
    def check(model, base):
        reason = _needs_attention(model, base)
        if reason:
            return reason
        tokens = base.get("prompt_len", 1024) + base.get("gen_len", 256)
        return None if tokens * budget_share >= 64 else f"{tokens} tokens: too short to evict"
    return check


def _longer_than(budget: int):
    def check(model, base):
        reason = _needs_attention(model, base)
        if reason:
            return reason
        tokens = base.get("prompt_len", 1024) + base.get("gen_len", 256)
        return None if tokens > budget else f"{tokens} tokens fit the budget of {budget}: nothing to evict"
    return check


def _h2o(base: dict, baseline) -> dict:
    tokens = base.get("prompt_len", 1024) + base.get("gen_len", 256)
    return {**base, "kv_eviction": {"method": "h2o", "budget": max(int(0.2 * tokens), 64)}}


def _largest_batch(base: dict, baseline) -> dict:
    fits = baseline.memory.max_batch_size if baseline is not None else 0
    return {**base, "batch_size": int(max(min(fits, 256), base.get("batch_size", 1)))}


for name, title, settings, note in (
    ("quant-w8", "int8 weights (W8A16)", {"w_bits": "int8"}, "weight-only int8, one 16-bit scale per 128 weights"),
    ("quant-w4", "int4 weights (W4A16, GPTQ/AWQ-style)", {"w_bits": "int4"},
     "weight-only int4, one 16-bit scale per 128 weights; the matmuls compute in 16 bits"),
    ("quant-fp8", "fp8 weights and activations (W8A8)", {"w_bits": "fp8", "a_bits": "fp8"},
     "the matmuls run at the device's fp8 peak where it has one"),
    ("kv-int8", "int8 KV cache", {"kv_bits": "int8"}, "one 16-bit scale per 128 cached elements"),
    ("kv-int4", "int4 KV cache", {"kv_bits": "int4"}, "one 16-bit scale per 128 cached elements"),
):
    key = next(iter(settings))
    register(Technique(name=name, title=title, family="quantization", settings=settings, affects_accuracy=True,
                       note=note, applies=_not_if(key, *(v for v in settings.values())),
                       source="the paper's section 3 (quantization on the roofline), https://arxiv.org/abs/2402.16363"))

register(Technique(
    name="flash-attention", title="FlashAttention (fused attention)", family="attention",
    settings={"flash_attention": True}, affects_accuracy=False,
    note="one fused kernel computes only the causal pairs and never writes the scores",
    applies=lambda model, base: "already on" if base.get("flash_attention") else _needs_attention(model, base),
    source="Dao et al. 2022, https://arxiv.org/abs/2205.14135"))

for preset, title, accuracy, check in (
    ("eagle3", "EAGLE-3 speculative decoding (draft head)", False, None),
    ("medusa2", "Medusa-2 heads (tree of 64)", True, None),
    ("mtp", "multi-token prediction (DeepSeek-V3 MTP)", False, _needs_mtp),
    ("lookahead", "lookahead decoding (no draft)", False, None),
):
    p = PRESETS[preset]
    register(Technique(
        name=f"speculative-{preset}", title=title, family="speculative", settings={"speculative": preset},
        affects_accuracy=accuracy, source=str(p["source"]), applies=check,
        note=("Medusa-2 fine-tunes the backbone with its heads" if accuracy else LOSSLESS)
        + f"; tau {p.get('tau', '')}{' alpha ' + str(p['alpha']) if 'alpha' in p else ''} as published, for "
          "another model and task: set your own with --spec-tau"))

register(Technique(
    name="early-exit", title="early exit (75 % of the layers per token)", family="layers",
    settings={"early_exit": {"fraction": 0.75}}, affects_accuracy=True,
    note="every token runs 3/4 of the layers; skipped layers still compute K/V; a linear exit classifier",
    source="CALM, https://arxiv.org/abs/2207.07061; LayerSkip, https://arxiv.org/abs/2404.16710"))

register(Technique(
    name="early-exit-calm", title="early exit spread over the depth (mean 5/8 of the layers)", family="layers",
    settings={"early_exit": {"distribution": ((0.25, 0.25), (0.5, 0.25), (0.75, 0.25), (1.0, 0.25))}},
    affects_accuracy=True,
    note="a token exits after 1/4, 2/4, 3/4 or all of the layers, equally likely (assumed, CALM-like); a layer's "
         "weights are read while any token of the batch runs it; skipped layers compute K/V",
    source="CALM, https://arxiv.org/abs/2207.07061"))

register(Technique(
    name="contextual-sparsity", title="contextual sparsity (Deja Vu: 30 % of neurons, 50 % of heads)",
    family="sparsity", settings={"sparsity": {"mlp": 0.3, "heads": 0.5}}, affects_accuracy=True,
    note="typical settings, not measured for this model: Deja Vu reports 80-95 % sparsity on OPT (ReLU MLPs); "
         "SwiGLU models are far less sparse",
    source="Deja Vu, https://arxiv.org/abs/2310.17157"))

register(Technique(
    name="kv-eviction-h2o", title="KV eviction (H2O, 20 % of the context)", family="kv-cache",
    apply=_h2o, affects_accuracy=True, applies=_needs_long_context(0.2),
    note="heavy hitters + recent tokens, a budget of 20 % of prompt + generation (H2O's setting)",
    source="H2O, https://arxiv.org/abs/2306.14048"))

register(Technique(
    name="kv-eviction-streaming", title="KV eviction (StreamingLLM, 2048 tokens)", family="kv-cache",
    settings={"kv_eviction": {"method": "streaming", "budget": 2048}}, affects_accuracy=True,
    applies=_longer_than(2048),
    note="4 attention-sink tokens + the most recent ones, 2048 per attention layer; the prompt slides too",
    source="StreamingLLM, https://arxiv.org/abs/2309.17453"))

register(Technique(
    name="larger-batch", title="the largest batch that fits (at most 256)", family="batching",
    apply=_largest_batch, affects_accuracy=False,
    note="more sequences share each read of the weights: throughput rises, each sequence's TPOT does not fall",
    source="the paper's section 5 (batching on the roofline)"))


def _node_of(baseline) -> int:
    """Devices per node of the first bundled system of the baseline's device (ScenarioError without one)."""
    from ..errors import ScenarioError
    from ..hardware.systems import resolve_system

    try:
        return resolve_system(baseline.hardware["name"], multi_device=True).devices_per_node
    except Exception:  # noqa: BLE001 - any lookup failure means: no system to spread over
        raise ScenarioError(f"no bundled system holds {baseline.hardware['name']} (several devices need one)") from None


def _tensor_parallel(base: dict, baseline) -> dict:
    return {**base, "tp": _node_of(baseline)}


def _expert_parallel(base: dict, baseline) -> dict:
    n = _node_of(baseline)
    return {**base, "attention_dp": n, "ep": n, "ep_imbalance": 1.25}


def _needs_moe(model, base):
    has = any(isinstance(g.layer.ffn, MoE | MLPAndMoE) for g in model.layer_groups)
    return None if has else "the model has no mixture of experts"


register(Technique(
    name="tensor-parallel", title="tensor parallelism over one node's devices", family="parallelism",
    apply=_tensor_parallel, affects_accuracy=False,
    note="TP over the devices of the device's first bundled system (8 for a DGX); TPOT is per sequence, "
         "throughput counts every device (per device: divide by their number); collectives as the efficiency "
         "setting picks them (docs/parallelism.md)",
    source="Megatron-LM, https://arxiv.org/abs/1909.08053"))

register(Technique(
    name="expert-parallel", title="expert parallelism over one node (attention DP + EP), busiest rank 1.25x",
    family="parallelism", apply=_expert_parallel, affects_accuracy=False, applies=_needs_moe,
    note="attention data-parallel and expert-parallel over the node's devices; the most loaded expert rank gets "
         "1.25 x the mean routed tokens (parallel's ep_imbalance, the one model of expert load imbalance: "
         "docs/parallelism.md); throughput counts every device",
    source="DeepSeek-V3 technical report, https://arxiv.org/abs/2412.19437 (EP with attention DP)"))
