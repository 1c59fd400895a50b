"""Hugging Face ``config.json`` -> :class:`ModelSpec`.

One parser per family, chosen by ``model_type`` (and ``architectures`` when ``model_type`` is
missing or is an old remote-code name such as Falcon's ``RefinedWebModel``). Every family reads
the real HF field names, applies that family's HF defaults for absent fields (e.g. Gemma, OPT,
GPT-2, BLOOM, MPT, Falcon and Mamba tie their embeddings; Llama, GPT-NeoX and GPT-J do not) and
names its operators with the family's HF module names. Unknown ``model_type`` values fall back to
the common Llama-style fields. Parameter counts follow
``sum(p.numel() for p in model.parameters())`` of the HF transformers model (buffers such as
DeepSeek-V3's ``e_score_correction_bias`` are not parameters there).

Every problem with the input (bad JSON, wrong types, missing or inconsistent fields) raises
:class:`~llm_roofline.errors.ConfigError` naming the file (or model) and the field(s).
See ``docs/models.md`` for the field-by-field mapping.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .hf_deepseek_v4 import _deepseek_v4
from .hf_dsa import _dsa
from .hf_families import _bloom, _chatglm, _falcon, _gpt2, _gpt_neox, _gptj, _mpt, _opt, _phi, _phi3, _qwen
from .hf_fields import Fields
from .hf_gemma4 import _gemma4
from .hf_hybrid import _deepseek, _jamba, _mamba
from .hf_linear import _qwen3_next
from .hf_llama import _llama_like
from .hf_ssm2 import _mamba2, _nemotron_h
from .spec import ModelSpec

__all__ = ["load_hf_config", "read_hf_config", "spec_from_hf_config", "supported_model_types"]

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
    "DeepseekV32ForCausalLM": "deepseek_v32", "GlmMoeDsaForCausalLM": "glm_moe_dsa",
    "Qwen3NextForCausalLM": "qwen3_next", "Qwen3_5ForCausalLM": "qwen3_5_text",
    "Qwen3_5ForConditionalGeneration": "qwen3_5", "Qwen3_5MoeForCausalLM": "qwen3_5_moe_text",
    "Qwen3_5MoeForConditionalGeneration": "qwen3_5_moe",
    "NemotronHForCausalLM": "nemotron_h", "Mamba2ForCausalLM": "mamba2",
    "Gemma4ForCausalLM": "gemma4_text", "Gemma4ForConditionalGeneration": "gemma4",
    "DeepseekV4ForCausalLM": "deepseek_v4",
}


def supported_model_types() -> list[str]:
    """The ``model_type`` values with a dedicated parser (others use the Llama-style fallback)."""
    return sorted(_FAMILIES)


def _resolve_family(f: Fields) -> tuple[str, _Parser, str]:
    """(canonical model_type, parser, raw model_type)."""
    raw = f.str("model_type", default="")
    key = raw.lower()
    if key not in _FAMILIES:
        archs = f.data.get("architectures")
        if isinstance(archs, list):
            for arch in archs:
                if isinstance(arch, str) and arch in _ARCHITECTURES:
                    key = _ARCHITECTURES[arch]
                    break
    if key in _FAMILIES:
        canonical, parser = _FAMILIES[key]
        return canonical, parser, raw
    return raw or "unknown", _llama_like, raw


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
                        where: str | None = None) -> ModelSpec:
    """Build a :class:`ModelSpec` from a parsed HF ``config.json``.

    ``name`` becomes ``spec.name`` and ``source`` ``spec.source``; errors name ``where``
    (default: ``source`` or ``name``). Raises :class:`ConfigError` on any malformed, missing or
    inconsistent field. A multimodal config is analysed through its language model
    (:func:`language_model_config`), which ``spec.notes`` records.
    """
    where = where or source or name or "config"
    if not isinstance(config, Mapping):
        raise ConfigError(f"{where}: a config must be a JSON object, got {type(config).__name__}")
    config, notes = language_model_config(config, where)
    f = Fields(config, where)
    canonical, parser, raw = _resolve_family(f)
    try:
        fields = parser(f, raw.lower() if parser is _falcon else canonical)
        fields["notes"] = notes + tuple(fields.get("notes", ()))
        return ModelSpec(name=name, model_type=canonical, source=source, **fields)
    except ConfigError as exc:
        message = str(exc)
        if message.startswith(f"{where}:"):
            raise
        raise ConfigError(f"{where}: {message}") from None


def read_hf_config(path: str | os.PathLike[str]) -> tuple[dict[str, Any], Path]:
    """Read a ``config.json`` (or a folder holding one): (the parsed dict, the file's path)."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "config.json"
    if not p.is_file():
        raise ConfigError(f"{p}: no such config file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the file ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a config must be a JSON object, got {type(data).__name__}")
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


def load_hf_config(path: str | os.PathLike[str]) -> ModelSpec:
    """Load a HF ``config.json`` (a file, or a folder containing one) into a :class:`ModelSpec`."""
    data, p = read_hf_config(path)
    return spec_from_hf_config(data, name=_name_from_path(p), source=str(p), where=str(p))
