"""Malformed, incomplete or unsupported configs raise ConfigError naming the file and field(s)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from llm_roofline.errors import ConfigError, RooflineError
from llm_roofline.models.hf_config import load_hf_config, spec_from_hf_config

LLAMA = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 128, "vocab_size": 100}


def write(tmp_path: Path, data, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_missing_fields_named_all_at_once(tmp_path: Path) -> None:
    cfg = {k: v for k, v in LLAMA.items() if k not in ("intermediate_size", "vocab_size")}
    cfg["model_type"] = "llama"
    path = write(tmp_path, cfg)
    with pytest.raises(ConfigError) as info:
        load_hf_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "intermediate_size" in message and "vocab_size" in message
    assert "hidden_size" not in message and "num_attention_heads" not in message


def test_missing_field_in_a_known_family(tmp_path: Path) -> None:
    cfg = {"model_type": "gpt2", "n_embd": 64, "n_head": 4}
    with pytest.raises(ConfigError) as info:
        load_hf_config(write(tmp_path, cfg))
    assert "n_layer" in str(info.value) and "vocab_size" in str(info.value)


def test_wrong_type_named(tmp_path: Path) -> None:
    path = write(tmp_path, dict(LLAMA, hidden_size="4096"))
    with pytest.raises(ConfigError) as info:
        load_hf_config(path)
    assert str(path) in str(info.value) and "'hidden_size'" in str(info.value)
    with pytest.raises(ConfigError, match="'tie_word_embeddings'"):
        spec_from_hf_config(dict(LLAMA, tie_word_embeddings="yes"), "m")
    with pytest.raises(ConfigError, match="'num_hidden_layers'"):
        spec_from_hf_config(dict(LLAMA, num_hidden_layers=True), "m")
    with pytest.raises(ConfigError, match="'mlp_only_layers'"):
        spec_from_hf_config({**LLAMA, "model_type": "qwen3_moe", "num_experts": 4, "num_experts_per_tok": 2,
                             "moe_intermediate_size": 32, "mlp_only_layers": "none"}, "m")
    with pytest.raises(ConfigError, match="'attn_config'"):
        spec_from_hf_config({"model_type": "mpt", "d_model": 64, "n_layers": 2, "n_heads": 4, "vocab_size": 10,
                             "attn_config": [1]}, "m")


def test_integral_float_accepted_fractional_rejected() -> None:
    assert spec_from_hf_config(dict(LLAMA, hidden_size=64.0), "m").hidden_size == 64
    with pytest.raises(ConfigError, match="'hidden_size'"):
        spec_from_hf_config(dict(LLAMA, hidden_size=64.5), "m")


def test_non_positive_named() -> None:
    with pytest.raises(ConfigError, match="'vocab_size'"):
        spec_from_hf_config(dict(LLAMA, vocab_size=0), "m")


def test_bad_json_named(tmp_path: Path) -> None:
    path = write(tmp_path, '{"model_type": "llama", "hidden_size": 64,,}')
    with pytest.raises(ConfigError) as info:
        load_hf_config(path)
    assert str(path) in str(info.value) and "JSON" in str(info.value) and "line 1" in str(info.value)


def test_not_a_dict(tmp_path: Path) -> None:
    path = write(tmp_path, "[1, 2, 3]")
    with pytest.raises(ConfigError, match="JSON object"):
        load_hf_config(path)
    with pytest.raises(ConfigError, match="JSON object"):
        spec_from_hf_config([1, 2], "m")  # type: ignore[arg-type]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_hf_config(tmp_path / "absent.json")
    with pytest.raises(ConfigError, match="no such config file"):
        load_hf_config(tmp_path)  # a folder without config.json


def test_inconsistent_heads_named() -> None:
    with pytest.raises(ConfigError) as info:
        spec_from_hf_config(dict(LLAMA, num_key_value_heads=3), "m", where="cfg.json")
    assert "cfg.json" in str(info.value) and "num_key_value_heads" in str(info.value)
    with pytest.raises(ConfigError, match="head_dim"):
        spec_from_hf_config(dict(LLAMA, num_attention_heads=6), "m")


def test_unknown_activation_named() -> None:
    with pytest.raises(ConfigError, match="'hidden_act'.*'mish'"):
        spec_from_hf_config(dict(LLAMA, hidden_act="mish"), "m")


def test_opt_350m_projection_parsed() -> None:
    cfg = {"model_type": "opt", "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
           "ffn_dim": 4096, "vocab_size": 50272, "word_embed_proj_dim": 512, "do_layer_norm_before": False}
    spec = spec_from_hf_config(cfg, "opt-350m")
    assert spec.embed_dim == 512 and spec.embedding_width == 512


def test_chatglm_v1_rejected() -> None:
    cfg = {"model_type": "chatglm", "hidden_size": 4096, "num_layers": 28, "num_attention_heads": 32,
           "inner_hidden_size": 16384, "vocab_size": 130528, "position_encoding_2d": True}
    with pytest.raises(ConfigError, match="v1"):
        spec_from_hf_config(cfg, "chatglm-6b")


def test_jamba_bad_period() -> None:
    cfg = {"model_type": "jamba", **{k: v for k, v in LLAMA.items() if k != "model_type"},
           "attn_layer_period": 2, "attn_layer_offset": 2}
    with pytest.raises(ConfigError, match="attn_layer_offset"):
        spec_from_hf_config(cfg, "jamba")


def test_errors_are_roofline_errors_not_raw_exceptions() -> None:
    bad_inputs = [
        {}, {"model_type": 3}, {**LLAMA, "model_type": "mistral", "layer_types": 5},
        {"model_type": "gemma2", **{k: v for k, v in LLAMA.items() if k != "model_type"}, "layer_types": ["x"]},
        {"model_type": "deepseek_v3", **{k: v for k, v in LLAMA.items() if k != "model_type"}},
        {"model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 10,
         "time_step_rank": "big"},
        {"model_type": "gpt_neox", **{k: v for k, v in LLAMA.items() if k != "model_type"}, "rotary_pct": 2},
        {"model_type": "falcon", "hidden_size": 64, "n_layer": 2, "n_head": 4, "vocab_size": 10,
         "new_decoder_architecture": True, "num_kv_heads": "8"},
    ]
    for cfg in bad_inputs:
        with pytest.raises(RooflineError):
            spec_from_hf_config(cfg, "bad")


def test_absurd_sizes_are_rejected_with_the_range() -> None:
    # hidden_size is capped at 2**20 = 1,048,576 (docs/models.md, Limits); huge values print short.
    for value, shown in ((1e308, "1e+308"), (2**41, "2199023255552"), (2**20 + 1, "1048577")):
        with pytest.raises(ConfigError, match=rf"'hidden_size' must be in 1..1,048,576, got {re.escape(shown)}$"):
            spec_from_hf_config(dict(LLAMA, hidden_size=value), "m")


def test_nested_language_model_config_is_analysed_and_said():
    """A multimodal wrapper: the text_config is parsed, the outer tie_word_embeddings applies, a note says so."""
    from llm_roofline.models.hf_config import spec_from_hf_config

    inner = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "vocab_size": 100}
    wrapped = spec_from_hf_config({"model_type": "wrapper_vl", "tie_word_embeddings": True, "text_config": inner},
                                  name="w")
    direct = spec_from_hf_config({**inner, "tie_word_embeddings": True}, name="w")
    assert wrapped.layer_groups == direct.layer_groups and wrapped.tie_word_embeddings
    assert len(wrapped.notes) == 1 and "text_config" in wrapped.notes[0] and "wrapper_vl" in wrapped.notes[0]
    assert direct.notes == ()
    with pytest.raises(ConfigError, match="text_config"):
        spec_from_hf_config({"model_type": "x", "text_config": [1]}, name="bad")
