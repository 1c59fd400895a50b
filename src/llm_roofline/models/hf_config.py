"""Hugging Face ``config.json`` -> :class:`ModelSpec`.

One parser per family, chosen by ``model_type`` (and ``architectures`` when ``model_type`` is
missing or is an old remote-code name such as Falcon's ``RefinedWebModel``). Every family reads
the real HF field names, applies that family's HF defaults for absent fields (e.g. Gemma, OPT,
GPT-2, BLOOM, MPT, Falcon and Mamba tie their embeddings; Llama, GPT-NeoX and GPT-J do not) and
names its operators with the family's HF module names. An unknown ``model_type`` (whose
``architectures`` name no known class either) is an error listing the supported families; with
``force_llama_like=True`` it is read with the common Llama-style fields instead, and the spec's
``warnings`` say so. Parameter counts follow
``sum(p.numel() for p in model.parameters())`` of the HF transformers model (buffers such as
DeepSeek-V3's ``e_score_correction_bias`` are not parameters there).

Every problem with the input (bad JSON, wrong types, missing or inconsistent fields) raises
:class:`~llm_roofline.errors.ConfigError` naming the file (or model) and the field(s).
See ``docs/models.md`` for the field-by-field mapping.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, close_matches
from ..files import check_tree, kind_of_path, parse_json, read_text, shown, user_path
from .hf_deepseek_v4 import _deepseek_v4
from .hf_dsa import _dsa
from .hf_falcon_mamba import _falcon_mamba
from .hf_families import _bloom, _chatglm, _falcon, _gpt2, _gpt_neox, _gptj, _mpt, _opt, _phi, _phi3, _qwen
from .hf_fields import Fields
from .hf_gemma3 import _gemma3
from .hf_gemma4 import _gemma4
from .hf_gpt_oss import _gpt_oss
from .hf_hybrid import _deepseek, _jamba, _mamba
from .hf_layernorm_decoders import _gpt_bigcode, _stablelm, _starcoder2
from .hf_linear import _qwen3_next
from .hf_llama import _llama_like
from .hf_llama4 import _llama4
from .hf_moe_families import _dbrx, _minimax_m2, _phimoe
from .hf_olmo import _olmo2, _olmoe
from .hf_quantization import parse_quantization
from .hf_ssm2 import _mamba2, _nemotron_h
from .spec import ModelSpec

__all__ = ["load_hf_config", "model_family", "read_hf_config", "spec_from_hf_config", "supported_model_types"]

# --- dispatch ------------------------------------------------------------------------------------

_Parser = Callable[[Fields, str], dict[str, Any]]

# model_type (lower case) -> (canonical model_type, parser)
_FAMILIES: dict[str, tuple[str, _Parser]] = {
    "llama": ("llama", _llama_like), "yi": ("llama", _llama_like), "mistral": ("mistral", _llama_like),
    "mixtral": ("mixtral", _llama_like), "qwen2": ("qwen2", _llama_like),
    "qwen2_moe": ("qwen2_moe", _llama_like), "qwen3": ("qwen3", _llama_like),
    "qwen3_moe": ("qwen3_moe", _llama_like), "gemma": ("gemma", _llama_like),
    "gemma2": ("gemma2", _llama_like), "phi": ("phi", _phi), "phi3": ("phi3", _phi3), "opt": ("opt", _opt),
    "gpt2": ("gpt2", _gpt2), "gptj": ("gptj", _gptj), "gpt_neox": ("gpt_neox", _gpt_neox),
    "falcon": ("falcon", _falcon), "refinedwebmodel": ("falcon", _falcon), "refinedweb": ("falcon", _falcon),
    "bloom": ("bloom", _bloom), "mpt": ("mpt", _mpt), "chatglm": ("chatglm", _chatglm), "qwen": ("qwen", _qwen),
    "deepseek_v2": ("deepseek_v2", _deepseek), "deepseek_v3": ("deepseek_v3", _deepseek),
    "jamba": ("jamba", _jamba), "mamba": ("mamba", _mamba),
    "olmo2": ("olmo2", _olmo2), "olmoe": ("olmoe", _olmoe), "phimoe": ("phimoe", _phimoe),
    "dbrx": ("dbrx", _dbrx), "minimax_m2": ("minimax_m2", _minimax_m2), "gpt_oss": ("gpt_oss", _gpt_oss),
    "llama4": ("llama4", _llama4), "llama4_text": ("llama4", _llama4), "gemma3": ("gemma3", _gemma3),
    "gemma3_text": ("gemma3", _gemma3), "starcoder2": ("starcoder2", _starcoder2),
    "gpt_bigcode": ("gpt_bigcode", _gpt_bigcode), "stablelm": ("stablelm", _stablelm),
    "falcon_mamba": ("falcon_mamba", _falcon_mamba), "kimi_k2": ("deepseek_v3", _deepseek),
    "deepseek_v32": ("deepseek_v32", _dsa), "glm_moe_dsa": ("glm_moe_dsa", _dsa),
    "qwen3_next": ("qwen3_next", _qwen3_next), "qwen3_5": ("qwen3_5", _qwen3_next),
    "qwen3_5_text": ("qwen3_5", _qwen3_next), "qwen3_5_moe": ("qwen3_5_moe", _qwen3_next),
    "qwen3_5_moe_text": ("qwen3_5_moe", _qwen3_next),
    "nemotron_h": ("nemotron_h", _nemotron_h), "mamba2": ("mamba2", _mamba2),
    "gemma4": ("gemma4", _gemma4), "gemma4_text": ("gemma4", _gemma4),
    "deepseek_v4": ("deepseek_v4", _deepseek_v4),
}

# architectures[0] -> model_type, for configs without a (known) model_type.
_ARCHITECTURES = {
    "LlamaForCausalLM": "llama", "YiForCausalLM": "llama", "MistralForCausalLM": "mistral",
    "MixtralForCausalLM": "mixtral", "Qwen2ForCausalLM": "qwen2", "Qwen2MoeForCausalLM": "qwen2_moe",
    "Qwen3ForCausalLM": "qwen3", "Qwen3MoeForCausalLM": "qwen3_moe", "GemmaForCausalLM": "gemma",
    "Gemma2ForCausalLM": "gemma2", "PhiForCausalLM": "phi", "Phi3ForCausalLM": "phi3",
    "OPTForCausalLM": "opt", "GPT2LMHeadModel": "gpt2", "GPTJForCausalLM": "gptj",
    "GPTNeoXForCausalLM": "gpt_neox", "FalconForCausalLM": "falcon", "RWForCausalLM": "refinedwebmodel",
    "BloomForCausalLM": "bloom", "MPTForCausalLM": "mpt", "MptForCausalLM": "mpt",
    "ChatGLMModel": "chatglm", "ChatGLMForConditionalGeneration": "chatglm", "QWenLMHeadModel": "qwen",
    "DeepseekV2ForCausalLM": "deepseek_v2", "DeepseekV3ForCausalLM": "deepseek_v3",
    "JambaForCausalLM": "jamba", "MambaForCausalLM": "mamba",
    "Olmo2ForCausalLM": "olmo2", "OlmoeForCausalLM": "olmoe", "PhimoeForCausalLM": "phimoe",
    "DbrxForCausalLM": "dbrx", "MiniMaxM2ForCausalLM": "minimax_m2", "GptOssForCausalLM": "gpt_oss",
    "Llama4ForCausalLM": "llama4_text", "Llama4ForConditionalGeneration": "llama4",
    "Gemma3ForCausalLM": "gemma3_text", "Gemma3ForConditionalGeneration": "gemma3",
    "Starcoder2ForCausalLM": "starcoder2", "GPTBigCodeForCausalLM": "gpt_bigcode",
    "StableLmForCausalLM": "stablelm", "FalconMambaForCausalLM": "falcon_mamba",
    "DeepseekV32ForCausalLM": "deepseek_v32", "GlmMoeDsaForCausalLM": "glm_moe_dsa",
    "Qwen3NextForCausalLM": "qwen3_next", "Qwen3_5ForCausalLM": "qwen3_5_text",
    "Qwen3_5ForConditionalGeneration": "qwen3_5", "Qwen3_5MoeForCausalLM": "qwen3_5_moe_text",
    "Qwen3_5MoeForConditionalGeneration": "qwen3_5_moe",
    "NemotronHForCausalLM": "nemotron_h", "Mamba2ForCausalLM": "mamba2",
    "Gemma4ForCausalLM": "gemma4_text", "Gemma4ForConditionalGeneration": "gemma4",
    "DeepseekV4ForCausalLM": "deepseek_v4",
}


def supported_model_types() -> list[str]:
    """The ``model_type`` values with a dedicated parser (any other is an error)."""
    return sorted(_FAMILIES)


def _family_key(f: Fields) -> str | None:
    """The _FAMILIES key of a config: its model_type, else its first known architecture."""
    key = f.str("model_type", default="").lower()
    if key in _FAMILIES:
        return key
    archs = f.data.get("architectures")
    if isinstance(archs, list):
        for arch in archs:
            if isinstance(arch, str) and arch in _ARCHITECTURES:
                return _ARCHITECTURES[arch]
    return None


def model_family(config: Mapping[str, Any]) -> str | None:
    """The canonical model_type our parser reads a config as (its language model's, for a
    multimodal config), or None when no parser knows it."""
    inner, _ = language_model_config(config, "config")
    key = _family_key(Fields(inner, "config"))
    return None if key is None else _FAMILIES[key][0]


def _resolve_family(f: Fields, force_llama_like: bool) -> tuple[str, _Parser, str, tuple[str, ...]]:
    """(canonical model_type, parser, raw model_type, warnings)."""
    raw = f.str("model_type", default="")
    key = _family_key(f)
    if key is not None:
        canonical, parser = _FAMILIES[key]
        return canonical, parser, raw, ()
    archs = f.data.get("architectures")
    what = f"model_type {raw!r}" if raw else "a config without model_type"
    if isinstance(archs, list) and archs:
        what += f" (architectures {', '.join(map(str, archs))})"
    if not force_llama_like:
        families = sorted({canonical for canonical, _ in _FAMILIES.values()})
        close = close_matches(raw, families, n=3) if raw else []
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise f.error(f"{what} is not supported{hint}. Supported families: {', '.join(families)}. "
                      "To analyse it as a Llama-style decoder anyway (results may be wrong), pass "
                      "force_llama_like=True (CLI: --force-llama-like).")
    warning = (f"{what} has no parser: analysed as a Llama-style decoder (force_llama_like); its "
               "parameters, FLOPs and memory are right only if it really is one")
    return raw or "unknown", _llama_like, raw, (warning,)


# Keys under which multimodal configs nest their language model's config.
LANGUAGE_MODEL_KEYS = ("text_config", "language_config")
# Outer fields that decide something about the language model in HF's wrapper classes.
_INHERITED_BY_LANGUAGE_MODEL = ("tie_word_embeddings",)


def language_model_config(config: Mapping[str, Any], where: str) -> tuple[Mapping[str, Any], tuple[str, ...]]:
    """A multimodal config (Llama 4, Gemma 3/4, Qwen3.5, Kimi-K2.5...) nests its language model under
    ``text_config`` or ``language_config``: (that inner config, a note saying so); any other config:
    (itself, no note). Outer fields HF's wrapper applies to the language model (``tie_word_embeddings``)
    are copied in when the inner config does not set them."""
    for key in LANGUAGE_MODEL_KEYS:
        inner = config.get(key)
        if inner is None:
            continue
        if not isinstance(inner, Mapping):
            raise ConfigError(f"{where}: field {key!r} must be an object, got {type(inner).__name__}")
        merged = dict(inner)
        for field_name in _INHERITED_BY_LANGUAGE_MODEL:
            if field_name not in merged and field_name in config:
                merged[field_name] = config[field_name]
        outer = config.get("model_type", "multimodal")
        note = (f"a multimodal {outer!s} config: the language model ({key}, model_type "
                f"{merged.get('model_type', '?')!s}) is analysed; vision/audio encoders are not modelled")
        return merged, (note,)
    return config, ()


def spec_from_hf_config(config: Mapping[str, Any], name: str, source: str = "", *,
                        where: str | None = None, force_llama_like: bool = False) -> ModelSpec:
    """Build a :class:`ModelSpec` from a parsed HF ``config.json``.

    ``name`` becomes ``spec.name`` and ``source`` ``spec.source``; errors name ``where``
    (default: ``source`` or ``name``). Raises :class:`ConfigError` on any malformed, missing or
    inconsistent field, and on a ``model_type`` no parser knows unless ``force_llama_like`` (then
    it is read Llama-style and ``spec.warnings`` says so). A multimodal config is analysed through
    its language model (:func:`language_model_config`), which ``spec.notes`` records.
    """
    where = where or source or name or "config"
    if not isinstance(config, Mapping):
        raise ConfigError(f"{where}: a config must be a JSON object, got {type(config).__name__}")
    check_tree(config, where)
    quantization = parse_quantization(config)
    config, notes = language_model_config(config, where)
    quantization = quantization or parse_quantization(config)
    f = Fields(config, where)
    canonical, parser, raw, warnings = _resolve_family(f, force_llama_like)
    try:
        fields = parser(f, raw.lower() if parser is _falcon else canonical)
        fields["notes"] = notes + tuple(fields.get("notes", ()))
        fields["warnings"] = warnings + tuple(fields.get("warnings", ()))
        return ModelSpec(name=name, model_type=canonical, source=source, quantization=quantization, **fields)
    except ConfigError as exc:
        message = str(exc)
        if message.startswith(f"{where}:"):
            raise
        raise ConfigError(f"{where}: {message}") from None


def read_hf_config(path: str | os.PathLike[str]) -> tuple[dict[str, Any], Path]:
    """Read a ``config.json`` (or a folder holding one): (the parsed dict, the file's path)."""
    p = user_path(path)
    if kind_of_path(p) == "folder":
        p = p / "config.json"
    if kind_of_path(p) != "file":
        raise ConfigError(f"{shown(str(p))}: no such config file")
    data = parse_json(read_text(p), shown(str(p)))
    if not isinstance(data, dict):
        raise ConfigError(f"{shown(str(p))}: a config must be a JSON object, got {type(data).__name__}")
    return data, p


def _name_from_path(p: Path) -> str:
    """``org--name.json`` -> ``org/name``; ``<folder>/config.json`` -> the folder's name; a HF cache
    snapshot ``models--org--name/snapshots/<hash>/config.json`` -> ``org/name``."""
    if p.name != "config.json" or not p.parent.name:
        return p.stem.replace("--", "/")
    cache = p.parent.parent
    if cache.name == "snapshots" and cache.parent.name.startswith("models--"):
        return cache.parent.name[len("models--"):].replace("--", "/")
    return p.parent.name.replace("--", "/")


def load_hf_config(path: str | os.PathLike[str], *, force_llama_like: bool = False) -> ModelSpec:
    """Load a HF ``config.json`` (a file, or a folder containing one) into a :class:`ModelSpec`."""
    data, p = read_hf_config(path)
    return spec_from_hf_config(data, name=_name_from_path(p), source=str(p), where=shown(str(p)),
                               force_llama_like=force_llama_like)
