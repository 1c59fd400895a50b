"""The bundled catalog: size, names, lookup, and agreement with the real HF configs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from llm_roofline.errors import ConfigError, UnknownNameError
from llm_roofline.models import catalog
from llm_roofline.models.catalog import all_model_keys, catalog_config, list_models, load_model, model_names
from llm_roofline.models.hf_config import load_hf_config, model_family
from llm_roofline.models.spec import MLP, Attention, MoE

HF_CONFIGS = Path(__file__).resolve().parents[2] / "shared" / "hf-configs"

LLM_VIEWER_MODELS = [
    "meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-13b-hf", "meta-llama/Llama-2-70b-hf",
    "EleutherAI/gpt-j-6B", "THUDM/chatglm3-6b", "facebook/opt-125m", "facebook/opt-1.3b",
    "facebook/opt-2.7b", "facebook/opt-6.7b", "facebook/opt-13b", "facebook/opt-30b", "facebook/opt-66b",
]


def test_catalog_size_and_unique_names() -> None:
    entries = list_models()
    assert len(entries) >= 40
    keys = [k.lower() for k in all_model_keys()]
    assert len(keys) == len(set(keys)), "ids and aliases must be unique (case-insensitively)"
    assert model_names() == [e["id"] for e in entries]
    for entry in entries:
        assert set(entry) == {"id", "aliases", "family", "description", "source"}
        assert entry["aliases"], entry["id"]
        assert entry["source"] and entry["description"] and entry["family"]
        assert "/" in entry["id"]
    json.dumps(entries)  # JSON-ready
    entries[0]["aliases"].append("mutated")  # a copy: the catalog is not changed
    assert "mutated" not in list_models()[0]["aliases"]


def test_every_entry_builds() -> None:
    for name in model_names():
        spec = load_model(name)
        assert spec.name == name
        assert spec.source
        assert spec.num_layers > 0


@pytest.mark.parametrize("name", LLM_VIEWER_MODELS)
def test_llm_viewer_models_present(name: str) -> None:
    assert load_model(name).num_layers > 0


def test_lookup_is_case_insensitive_and_accepts_aliases() -> None:
    spec = load_model("meta-llama/Llama-2-7b-hf")
    assert load_model("META-LLAMA/llama-2-7B-HF") is spec  # cached, immutable
    assert load_model("llama-2-7b") is spec and load_model("Llama2-7B") is spec
    assert load_model("  llama-2-7b ") is spec
    assert load_model("Llama-2-7b-hf") is spec  # the id without its organisation


def test_llama_2_7b_by_hand() -> None:
    spec = load_model("llama-2-7b")
    layer = spec.layer_groups[0].layer
    # Llama 2 paper Table 1 / model card: d 4096, 32 layers, 32 heads (MHA: 32 KV heads), FFN 11008,
    # V 32000, untied lm_head, SwiGLU (gated silu), RMSNorm, RoPE over the full 128-dim head.
    assert (spec.hidden_size, spec.num_layers, spec.vocab_size) == (4096, 32, 32000)
    assert layer.mixer == Attention(32, 32, 128, rope_dim=128)
    assert layer.ffn == MLP(11008, gated=True, activation="silu")
    assert layer.norm_kind == "rmsnorm"
    assert not spec.tie_word_embeddings and spec.max_position_embeddings == 4096


def test_more_catalog_facts_by_hand() -> None:
    # Llama 3.1 70B: GQA 64 query heads / 8 KV heads.
    attn = load_model("llama-3.1-70b").layer_groups[0].layer.mixer
    assert (attn.num_heads, attn.num_kv_heads) == (64, 8)
    # Gemma 2 27B: head_dim 128 (32 * 128 = 4096 != d 4608), 46 layers -> 23 sliding + 23 global.
    g27 = load_model("gemma-2-27b")
    assert {g.layer.mixer.sliding_window: g.count for g in g27.layer_groups} == {4096: 23, None: 23}
    # Qwen1.5-MoE-A2.7B: 60 experts of 1408, top-4, shared expert 5632 with a sigmoid gate.
    moe = load_model("qwen1.5-moe-a2.7b").layer_groups[0].layer.ffn
    assert moe == MoE(60, 4, 1408, shared_intermediate_size=5632, shared_expert_gate=True)
    # GPT-J 6B: 28 layers, 16 heads of 256, rotary 64; LLM-Viewer spells it gpt-j-6B.
    gptj = load_model("EleutherAI/gpt-j-6B")
    assert gptj.layer_groups[0].layer.mixer.rope_dim == 64 and gptj.num_layers == 28
    # DeepSeek-V2: 160 routed experts top-6, 2 shared -> 2 * 1536; 1 dense + 59 MoE layers.
    v2 = load_model("deepseek-v2")
    assert [g.count for g in v2.layer_groups] == [1, 59]
    assert v2.layer_groups[1].layer.ffn == MoE(160, 6, 1536, shared_intermediate_size=3072)
    # OPT-66B: 64 layers, d 9216, 72 heads, F 4d = 36864 (OPT paper Table 1).
    opt = load_model("opt-66b")
    assert (opt.num_layers, opt.hidden_size, opt.layer_groups[0].layer.mixer.num_heads) == (64, 9216, 72)
    assert opt.layer_groups[0].layer.ffn.intermediate_size == 36864


def test_opt_350m_projects_its_embeddings_and_normalizes_after_the_residual() -> None:
    # opt-350m embeds into E = 512 dims, projects to D = 1024 (project_in) and back (project_out)
    # around 24 post-LN layers; no final norm; tied 512-wide lm_head.
    opt = load_model("facebook/opt-350m")
    assert opt.embed_dim == 512 and opt.hidden_size == 1024 and not opt.final_norm
    assert opt.layer_groups[0].layer.post_norm


def _id_for(path: Path) -> str:
    return path.stem.replace("--", "/")


def _shared_pairs() -> list[Path]:
    if not HF_CONFIGS.is_dir():
        return []
    return [p for p in sorted(HF_CONFIGS.glob("*.json")) if _id_for(p).lower() in catalog._catalog().index]


def _architecture(spec):
    fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    fields.pop("name")
    fields.pop("source")
    fields.pop("quantization")  # a checkpoint's format (its config.json), not the architecture the catalog writes
    fields["op_names"] = dict(fields["op_names"])
    return fields


@pytest.mark.parametrize("path", _shared_pairs(), ids=lambda p: p.stem)
def test_catalog_matches_real_config(path: Path) -> None:
    real = load_hf_config(path)
    ours = load_model(_id_for(path))
    assert _architecture(ours) == _architecture(real)


def test_catalog_covers_the_shared_configs() -> None:
    # Every shared config of a family the parser knows has a catalog entry (configs of families
    # not parsed yet are refused with a clear error: test_models.test_every_real_config_loads).
    if not HF_CONFIGS.is_dir():
        pytest.skip("shared/hf-configs is not available")
    files = [p for p in sorted(HF_CONFIGS.glob("*.json")) if model_family(json.loads(p.read_text())) is not None]
    assert len(files) >= 40
    missing = [p.name for p in files if p not in _shared_pairs()]
    assert not missing, missing


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UnknownNameError) as info:
        load_model("llama-2-7")
    assert "meta-llama/Llama-2-7b-hf" in info.value.suggestions
    assert "meta-llama/Llama-2-7b-hf" in str(info.value)
    assert info.value.kind == "model"
    with pytest.raises(UnknownNameError) as info:
        load_model("mixtral-8x7")
    assert "mistralai/Mixtral-8x7B-v0.1" in info.value.suggestions


def test_path_loading(tmp_path: Path) -> None:
    cfg = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
           "intermediate_size": 128, "vocab_size": 100}
    (tmp_path / "tiny").mkdir()
    file = tmp_path / "tiny" / "config.json"
    file.write_text(json.dumps(cfg))
    by_file = load_model(str(file))
    by_folder = load_model(str(tmp_path / "tiny"))
    by_pathlike = load_model(tmp_path / "tiny")
    assert by_file.layer_groups == by_folder.layer_groups == by_pathlike.layer_groups
    assert by_folder.name == "tiny"


def test_missing_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such"):
        load_model(str(tmp_path / "nothing" / "config.json"))
    with pytest.raises(ConfigError, match="no such"):
        load_model("./not-here")


def test_catalog_config_is_a_fresh_hf_style_dict() -> None:
    cfg = catalog_config("mpt-7b")
    assert cfg["model_type"] == "mpt" and cfg["d_model"] == 4096
    cfg["attn_config"]["alibi"] = False  # a copy: the catalog is not changed
    assert catalog_config("mpt-7b")["attn_config"]["alibi"] is True


def test_catalog_validation_errors() -> None:
    dup = """
families: {llama: {config: {model_type: llama}}}
models:
  - {id: a/x, family: llama, aliases: [x], source: s, config: {}}
  - {id: a/y, family: llama, aliases: [X], source: s, config: {}}
"""
    with pytest.raises(ConfigError, match="used twice"):
        catalog._parse(dup)
    with pytest.raises(ConfigError, match="unknown family"):
        catalog._parse("families: {}\nmodels:\n  - {id: a/x, family: nope, source: s}\n")
    with pytest.raises(ConfigError, match="cycle"):
        catalog._parse("""
families: {llama: {config: {}}}
models:
  - {id: a/x, family: llama, source: s, base: a/y}
  - {id: a/y, family: llama, source: s, base: a/x}
""")
