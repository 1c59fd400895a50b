"""A config.json's ``quantization_config``: the checkpoint's weight format and the modules it keeps in
16 bits, as the engine's precision options will read them (techniques/precision_map.py).

Recognized (the FP8 / MXFP4 / INT4 checkpoints of ../shared/hf-configs):
- ``quant_method: fp8`` (DeepSeek-V3/R1/V3.2/V4, Qwen3-FP8, MiniMax-M2.5): FP8 E4M3 weights with one
  fp32 scale per ``weight_block_size`` block (128 x 128), or per tensor without it;
- ``quant_method: mxfp4`` (gpt-oss): FP4 E2M1 in blocks of 32 with an E8M0 scale;
- ``quant_method: compressed-tensors`` with one config group of integer weights (Kimi-K2.5: 4 bits,
  ``strategy: group``, ``group_size`` 32; its scales are 16-bit, the checkpoint's dtype);
- ``modules_to_not_convert`` / ``ignore``: HF module paths, patterns or ``re:`` regexes, mapped to the
  module groups of techniques/modules.py (``self_attn`` -> attention, ``mlp.gate`` / ``router`` ->
  router, ``shared_expert`` -> shared_experts, ``mlp.(gate|up|down)_proj`` -> mlp, ``embed_tokens`` ->
  embed, ``lm_head``); norms and biases are never quantized and are skipped. Per-layer entries name
  their group (all layers of a group share one operator, so a group is kept whole when any of its
  layers is).
Anything else (another method, several config groups) is reported as not understood, and the
weights are then left at the scenario's format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Quantization:
    """A checkpoint's weight quantization. ``format``: a named weight format (precision / quant_formats)
    or a bit-width; ``group_size``: elements per scale (0: per tensor); ``scale_bits``; ``keep``: module
    groups left in 16 bits; ``description``: what the config says, in words; ``unknown``: entries of
    modules_to_not_convert that name no module group."""

    method: str
    format: str
    bits: int
    family: str
    group_size: int
    scale_bits: int
    keep: tuple[str, ...]
    description: str
    unknown: tuple[str, ...] = ()


_SKIP = re.compile(r"(layernorm|_norm|\bnorm\b|e_score_correction_bias|\.bias$)")


def keep_group(entry: str) -> str | None:
    """The module group an HF module path or pattern names, or None (norms, biases: never quantized),
    or '' (not understood)."""
    text = entry.removeprefix("re:")
    if "lm_head" in text:
        return "lm_head"
    if "embed_tokens" in text or "wte" in text:
        return "embed"
    if _SKIP.search(text):
        return None
    if "shared_expert" in text:
        return "shared_experts"
    if re.search(r"(self_attn|\battn\b|attention)", text):
        return "attention"
    if re.search(r"(mlp\.gate$|mlp\.router|router|^gate$|\.gate$)", text):
        return "router"
    if re.search(r"mlp\\?\.\(?(gate|up|gate_up|down)", text):
        return "mlp"
    return ""


def parse_quantization(config: Mapping[str, Any]) -> Quantization | None:
    """The ``quantization_config`` of ``config`` (module doc), or None without one."""
    q = config.get("quantization_config")
    if not isinstance(q, Mapping):
        return None
    method = str(q.get("quant_method", "")).lower()
    entries = [str(e) for e in (q.get("modules_to_not_convert") or q.get("ignore") or [])]
    groups = [keep_group(e) for e in entries]
    keep = tuple(dict.fromkeys(g for g in groups if g))
    unknown = tuple(e for e, g in zip(entries, groups, strict=True) if g == "")
    if method == "fp8":
        block = q.get("weight_block_size")
        blocked = isinstance(block, list | tuple) and len(block) == 2
        fmt = "fp8-block" if blocked else "fp8-tensor"
        layout = f"{block[0]}x{block[1]} blocks" if blocked else "one scale per tensor"
        return Quantization(method, fmt, 8, "float", int(block[0]) * int(block[1]) if blocked else 0, 32, keep,
                            f"FP8 {q.get('fmt', 'e4m3')}, {layout}", unknown)
    if method == "mxfp4":
        return Quantization(method, "mxfp4", 4, "float", 32, 8, keep, "MXFP4 (FP4 E2M1, blocks of 32, E8M0 scale)",
                            unknown)
    if method == "compressed-tensors":
        groups_cfg = q.get("config_groups") or {}
        if isinstance(groups_cfg, Mapping) and len(groups_cfg) == 1:
            weights = next(iter(groups_cfg.values())).get("weights") or {}
            bits, kind = weights.get("num_bits"), weights.get("type", "int")
            size = weights.get("group_size") or 0
            if isinstance(bits, int) and 1 <= bits <= 16:
                return Quantization(method, f"{kind}{bits}", bits, "int" if kind == "int" else "float",
                                    int(size), 16, keep, f"{kind}{bits} weights, "
                                    + (f"one 16-bit scale per {size}" if size else "one scale per channel"),
                                    unknown)
    return Quantization(method or "unknown", "", 16, "float", 0, 0, keep,
                        f"quant_method {method or '?'} is not understood; weights follow --w-bits", unknown)
