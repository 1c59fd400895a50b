"""Per-tensor precision: which format each weight matrix is stored and multiplied in.

Most quantized checkpoints do not quantize everything: the embeddings and lm_head stay in 16 bits
(HF's quantizers replace linear layers only and keep the output embedding by default), and real
releases keep more (gpt-oss: attention and routers in BF16, experts in MXFP4; Kimi-K2.5: only the
routed experts in INT4; Qwen3-FP8: routers in BF16). Resolved in this order, a later rule winning:

1. the scenario's weights format: ``w_bits`` when given; else, with ``config_quantization`` (the
   default) and a config.json ``quantization_config``, the checkpoint's format (models/hf_quantization.py)
   for the decoder layers' linear weights (a named format of quant_formats.py with its own storage,
   or the config's width with its own group scales), with the modules it does not convert, the
   embeddings and lm_head at 16 bits; else 16 bits;
2. ``module_bits``: {module group or operator pattern: bits or format} (techniques/modules.py);
3. ``embed_bits`` and ``lm_head_bits`` (--embed-bits, --lm-head-bits). With tied embeddings the two
   are one matrix: giving one sets both; giving two different ones is an error.

Each rule is a (selector, Format) pair in Optimizations.tensor_formats, with its source for the report.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..defaults import DEFAULT_BITS
from ..errors import ScenarioError
from ..inputs import describe
from ..precision import Format, format_name, parse_format

SIXTEEN = 16


def _format(role: str, value: object) -> Format:
    if isinstance(value, list | tuple | range):
        raise ScenarioError(f"{role}: one bit-width or format per module, not a list")
    try:
        bits, family = parse_format("w_bits", value)  # the weights' checks and range, under this option's name
    except ScenarioError as exc:
        raise ScenarioError(str(exc).replace("w_bits", role, 1)) from None
    return Format(bits, family, *format_name(value))  # a named format (quant_formats.py) keeps its storage


def config_format(quantization) -> object:
    """The scenario's weights value for a checkpoint's quantization: its named format, else the generic
    format of its width and family (fp8, fp4, int4...), else its bit-width."""
    if _named(quantization.format):
        return quantization.format
    generic = f"{'fp' if quantization.family == 'float' else 'int'}{quantization.bits}"
    return generic if _named(generic) else quantization.bits


def own_weights(spec) -> object:
    """The weights value of a model left at its own format (no per-tensor rules): its config's
    ``quantization_config`` format, else 16 bits (for faces that take one weights format, e.g. serving)."""
    quantization = getattr(spec, "quantization", None)
    return config_format(quantization) if quantization is not None and quantization.format else DEFAULT_BITS


def _named(name: str) -> bool:
    try:
        parse_format("w_bits", name)
    except ScenarioError:
        return False
    return True


def resolve_precision(spec, w_bits: object, options: Mapping[str, object]) -> tuple[object, tuple, tuple]:
    """(w_bits for the scenario, tensor_formats, tensor_sources) under the rules of the module doc."""
    pairs: list[tuple[str, Format]] = []
    sources: list[str] = []
    quantization = getattr(spec, "quantization", None)
    use_config = True if options.get("config_quantization") is None else options["config_quantization"]
    if not isinstance(use_config, bool):
        raise ScenarioError(f"config_quantization must be True or False, got {describe(use_config)}")
    if w_bits is None:
        if use_config and quantization is not None and quantization.format:
            w_bits = config_format(quantization)
            own_storage = format_name(quantization.format)[1] if _named(quantization.format) else None
            if own_storage is None and quantization.group_size:  # its own scales (Kimi: int4 in groups of 32)
                bits = quantization.bits + quantization.scale_bits / quantization.group_size
                own = Format(_format("w_bits", w_bits).bits, quantization.family,
                             f"{quantization.format}-g{quantization.group_size}", bits)
                pairs.append(("layers", own))
                sources.append(f"config.json quantization_config: {quantization.description}")
            kept = ("embed", "lm_head", *[g for g in quantization.keep if g not in ("embed", "lm_head")])
            for group in kept:
                pairs.append((group, _format("w_bits", SIXTEEN)))
                sources.append(f"config.json quantization_config: {group} not converted")
        else:
            w_bits = DEFAULT_BITS
    module_bits = options.get("module_bits")
    if module_bits is not None:
        if isinstance(module_bits, str):
            module_bits = _parse_map(module_bits)
        if not isinstance(module_bits, Mapping) or not module_bits:
            raise ScenarioError(f"module_bits must map module groups or names to bits or formats, got "
                                f"{describe(module_bits)}")
        for selector, value in module_bits.items():
            if not isinstance(selector, str) or not selector.strip():
                raise ScenarioError(f"module_bits: module selectors are text, got {describe(selector)}")
            pairs.append((selector.strip(), _format(f"module_bits[{selector!r}]", value)))
            sources.append("module_bits")
    embed, head = options.get("embed_bits"), options.get("lm_head_bits")
    if spec.tie_word_embeddings and embed is not None and head is not None:
        a, b = _format("embed_bits", embed), _format("lm_head_bits", head)
        if (a.bits.tolist(), a.family) != (b.bits.tolist(), b.family):
            raise ScenarioError(f"embed_bits and lm_head_bits differ, but {spec.name or 'this model'} ties lm_head "
                                "to the embedding matrix (one tensor, one format)")
    if spec.tie_word_embeddings:
        embed = head = embed if embed is not None else head
    for selector, value, flag in (("embed", embed, "--embed-bits"), ("lm_head", head, "--lm-head-bits")):
        if value is not None:
            pairs.append((selector, _format(flag.strip("-").replace("-", "_"), value)))
            sources.append(flag)
    return w_bits, tuple(pairs), tuple(sources)


def _parse_map(text: str) -> dict[str, str]:
    """``"attention=fp8,experts=fp4"`` -> {"attention": "fp8", "experts": "fp4"}."""
    out = {}
    for item in (i.strip() for i in text.split(",") if i.strip()):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ScenarioError(f"module_bits: expected MODULE=BITS items (e.g. attention=fp8,experts=4), "
                                f"got {describe(item)}")
        out[key.strip()] = value.strip()
    return out
