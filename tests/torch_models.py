"""Helpers for ``test_torch_crosscheck.py``: build Hugging Face transformers models from the same
config dicts our parser reads, count their parameters and forward FLOPs, and read the matching
numbers off our engine.

Import this module only after ``pytest.importorskip("torch")`` and ``("transformers")``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import CONFIG_MAPPING, AutoModelForCausalLM

from llm_roofline.api import analyze
from llm_roofline.models.catalog import catalog_config
from llm_roofline.models.spec import LayerGroup, Mamba, ModelSpec, MoE
from llm_roofline.ops import ACT_FLOPS

SHARED_CONFIGS = Path(__file__).resolve().parents[2] / "shared" / "hf-configs"
HARDWARE = "a100-80g-sxm"  # any catalog device: FLOPs and parameters do not depend on it

# Every field a family uses for its layer count (Llama-style, GPT-2/Falcon/BLOOM, MPT, ChatGLM).
LAYER_COUNT_KEYS = ("num_hidden_layers", "n_layer", "n_layers", "num_layers")

# model_type -> why transformers cannot build it (the models exist only as trust_remote_code repos).
REMOTE_CODE_ONLY = {
    "chatglm": "ChatGLM2/3 is remote code only (trust_remote_code); transformers has no built-in class",
    "qwen": "Qwen (v1) is remote code only (trust_remote_code); transformers has no built-in class",
}

# Our spec fields that add a bias to a matrix product (FlopCounterMode counts addmm as its mm part only).
MATMUL_BIAS_FIELDS = ("qkv_bias", "o_bias", "bias", "expert_bias", "proj_bias", "router_bias")


# --- configs ---------------------------------------------------------------------------------------

def load_config(source: str, model_id: str) -> dict[str, Any]:
    """A fresh config dict: ``hf`` (a real config.json in /work/shared/hf-configs) or ``catalog``."""
    if source == "catalog":
        return catalog_config(model_id)
    return json.loads(shared_path(model_id).read_text(encoding="utf-8"))


def shared_path(model_id: str) -> Path:
    return SHARED_CONFIGS / (model_id.replace("/", "--") + ".json")


def reduced(config: dict[str, Any], layers: int | None, edits: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of ``config`` with ``layers`` layers (every layer-count field the family uses, and
    per-layer lists cut to match) and ``edits`` applied on top; both go into the language model's
    ``text_config`` when the config nests one."""
    config = copy.deepcopy(config)
    out = config["text_config"] if isinstance(config.get("text_config"), dict) else config
    if layers is not None:
        for key in LAYER_COUNT_KEYS:
            if key in out:
                out[key] = layers
        if isinstance(out.get("layer_types"), list):
            out["layer_types"] = out["layer_types"][:layers]
        if isinstance(out.get("mlp_only_layers"), list):
            out["mlp_only_layers"] = [i for i in out["mlp_only_layers"] if i < layers]
    out.update(copy.deepcopy(edits or {}))
    return config


def remote_code_reason(config: dict[str, Any]) -> str | None:
    return REMOTE_CODE_ONLY.get(str(config.get("model_type", "")).lower())


def hf_config(config: dict[str, Any]):
    """The transformers config for a config dict, as ``AutoConfig`` would build it from config.json.

    Falcon's first release (model_type ``RefinedWebModel`` / ``RefinedWeb``, remote code) is loaded
    as transformers' ``falcon``; its FalconConfig reads neither ``n_layer`` nor ``n_head`` (its
    defaults happen to be falcon-7b's), so those keys are mapped as the remote RWConfig did.
    A multimodal config (Llama 4, Gemma 3, Kimi-K2.5...) gives its language model's config, as
    transformers itself reads it (``get_text_config``): the model compared is the text decoder.
    """
    data = copy.deepcopy(config)
    model_type = str(data.get("model_type", "")).lower()
    if model_type in ("refinedwebmodel", "refinedweb"):
        data["model_type"] = "falcon"
        for old, new in (("n_layer", "num_hidden_layers"), ("n_head", "num_attention_heads"),
                         ("n_embed", "hidden_size"), ("n_head_kv", "num_kv_heads")):
            if old in data and new not in data:
                data[new] = data[old]
        if model_type == "refinedweb":  # the remote RefinedWeb code is the new decoder architecture
            data.setdefault("new_decoder_architecture", True)
        model_type = "falcon"
    return CONFIG_MAPPING[model_type].from_dict(data).get_text_config(decoder=True)


# --- HF models -------------------------------------------------------------------------------------

def build_model(config: dict[str, Any], device: str = "meta", seed: int = 0):
    """The HF causal LM for ``config`` on ``device`` (``meta``: shapes only, no memory), in eval mode,
    with eager attention (explicit matmuls) and eager MoE experts (one F.linear per expert hit)."""
    cfg = hf_config(config)
    with torch.random.fork_rng(devices=[]), torch.device(device):  # seeded, global RNG state untouched
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager", experts_implementation="eager")
    return model.eval()


def hf_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def decoder_layers(model, num_layers: int):
    """The model's stack of decoder layers: the first ModuleList of ``num_layers`` modules."""
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == num_layers:
            return module
    raise AssertionError(f"{type(model).__name__}: no ModuleList of {num_layers} layers")


def hf_layer_params(model, num_layers: int) -> Counter:
    """Multiset of per-layer parameter counts: {params of one layer: number of such layers}."""
    return Counter(sum(p.numel() for p in layer.parameters()) for layer in decoder_layers(model, num_layers))


def hf_forward_flops(model, batch: int, seq: int, vocab: int, device: str) -> dict[str, dict[str, int]]:
    """FlopCounterMode's counts of one forward pass over ``batch`` x ``seq`` tokens: {module FQN (and
    "Global"): {aten op: FLOPs}}. An explicit all-ones attention mask spares the meta device the
    packed-sequence detection (which calls .item())."""
    if device == "meta":
        ids = torch.zeros(batch, seq, dtype=torch.long, device="meta")
    else:
        ids = torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(batch, seq, dtype=torch.long, device=device)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(input_ids=ids, attention_mask=mask, use_cache=False)
    return {module: {str(op): int(v) for op, v in ops.items()} for module, ops in counter.get_flop_counts().items()}


def mamba_mixer_names(model) -> list[str]:
    """FlopCounterMode keys (root class name + module path) of the Mamba mixers."""
    root = type(model).__name__
    return [f"{root}.{name}" for name, module in model.named_modules() if type(module).__name__.endswith("MambaMixer")]


def split_hf_flops(model, counts: dict[str, dict[str, int]]) -> dict[str, int]:
    """HF's FLOPs in three parts: ``conv`` (the Mamba depthwise conv1d), ``scan`` (the bmm of the
    selective scan, C . h per step, inside the Mamba mixers) and ``matmul`` (every other matrix
    product: projections, attention, router, experts, lm_head)."""
    total = sum(counts["Global"].values())
    conv = counts["Global"].get("aten.convolution", 0)
    scan = sum(counts.get(name, {}).get("aten.bmm", 0) for name in mamba_mixer_names(model))
    return {"matmul": total - conv - scan, "conv": conv, "scan": scan}


def dense_expert_excess(spec: ModelSpec, counts: dict[str, dict[str, int]]) -> list[float]:
    """Llama 4's Llama4TextExperts multiply every token by all E experts (bmm over all of them, the
    router scores scaling the inputs); of each experts module's FLOPs the routed part is k/E, the
    rest (1 - k/E) is what a routed kernel skips."""
    (moe,) = {g.layer.ffn for g in spec.layer_groups if isinstance(g.layer.ffn, MoE)}
    keep = moe.top_k / moe.num_experts
    return [sum(ops.values()) * (1 - keep) for name, ops in counts.items() if name.endswith("feed_forward.experts")]


# --- our engine ------------------------------------------------------------------------------------

def our_params(spec: ModelSpec) -> int:
    return int(analyze(spec, HARDWARE, batch_size=1, prompt_len=1).model["params_total"])


def our_layer_params(spec: ModelSpec) -> Counter:
    """Multiset of per-layer parameter counts, each layer group's layer read off the engine as
    params(the model with 2 such layers) - params(the model with 1)."""
    out: Counter = Counter()
    for group in spec.layer_groups:
        one, two = (our_params(dataclasses.replace(spec, layer_groups=(LayerGroup(group.layer, n),))) for n in (1, 2))
        out[two - one] += group.count
    return out


def without_matmul_bias(spec: ModelSpec) -> ModelSpec:
    """The same model with every bias of a matrix product switched off (lm_head's too), so its
    matmul FLOPs are the 2*M*d_in*d_out products alone, as FlopCounterMode counts addmm."""
    def strip(part):
        if part is None:
            return None
        return dataclasses.replace(part, **{f.name: False for f in dataclasses.fields(part)
                                            if f.name in MATMUL_BIAS_FIELDS})

    groups = tuple(LayerGroup(dataclasses.replace(g.layer, mixer=strip(g.layer.mixer), ffn=strip(g.layer.ffn)),
                              g.count) for g in spec.layer_groups)
    return dataclasses.replace(spec, layer_groups=groups, lm_head_bias=False)


def is_matrix_product(op) -> bool:
    """Projections, experts, router, lm_head (kind "matmul") and the naive attention core's two
    batched products (qk_matmul, sv_matmul and their .sliding / [n] variants)."""
    return op.kind == "matmul" or op.name.startswith(("qk_matmul", "sv_matmul"))


def our_prefill_flops(spec: ModelSpec, batch: int, seq: int) -> dict[str, float]:
    """Our prefill FLOPs (all logits, naive attention) in HF's three parts (see split_hf_flops):

    - ``matmul``: every matrix product of the bias-free twin; Mamba's dt_proj keeps a bias in our
      graph (its M*d_inner adds), which HF folds into the scan (delta_bias), so it is taken out;
    - ``conv``: the multiply-accumulates of conv1d, 2*M*d_inner*d_conv: our conv1d op less its
      elementwise part M*d_inner*(1 + SiLU) (bias add and activation);
    - ``scan``: our whole selective_scan op (9 FLOPs per token, channel and state + elementwise).
    """
    report = analyze(without_matmul_bias(spec), HARDWARE, batch_size=batch, prompt_len=seq, logits_all=True,
                     flash_attention=False)
    M = batch * seq
    mamba = mamba_layers(spec)
    dt_bias = sum(M * m.d_inner * n for m, n in mamba)
    conv_elementwise = sum(M * m.d_inner * (1 + ACT_FLOPS["silu"]) * n for m, n in mamba)
    total = {"matmul": 0.0, "conv": 0.0, "scan": 0.0}
    for op in report.prefill.ops:
        part = "matmul" if is_matrix_product(op) else {"conv": "conv", "scan": "scan"}.get(op.kind)
        if part:
            total[part] += op.flops * op.count
    total["matmul"] -= dt_bias
    total["conv"] -= conv_elementwise
    return total


def mamba_layers(spec: ModelSpec) -> list[tuple[Mamba, int]]:
    """(Mamba mixer, number of layers) of every layer group with a Mamba mixer."""
    return [(g.layer.mixer, g.count) for g in spec.layer_groups if isinstance(g.layer.mixer, Mamba)]
