"""The advisor: every registered technique evaluated or skipped with a reason, the ranking, the gains
against independent analyses, and the registry's extension point."""

from __future__ import annotations

import json

import pytest

import llm_roofline as lr
from llm_roofline.cli import main
from llm_roofline.errors import ScenarioError, UnknownNameError
from llm_roofline.techniques.registry import Technique, register, techniques

from conftest import small_mla


@pytest.fixture(scope="module")
def advice():
    return lr.advise("llama-3.1-8b", "h100-sxm", batch_size=1, prompt_len=2048, gen_len=256)


def test_every_entry_is_evaluated_or_says_why(advice):
    names = {v.name for v in advice.verdicts}
    assert names == set(techniques())
    for v in advice.verdicts:
        assert v.evaluated or v.reason or v.error
    mtp = next(v for v in advice.verdicts if v.name == "speculative-mtp")
    assert not mtp.evaluated and "DeepSeek" in mtp.reason  # Llama has no MTP modules


def test_gains_equal_independent_analyses(advice):
    """Each gain is the ratio of two plain analyze() calls: the baseline and the entry's settings."""
    base = lr.analyze("llama-3.1-8b", "h100-sxm", batch_size=1, prompt_len=2048, gen_len=256)
    w4 = lr.analyze("llama-3.1-8b", "h100-sxm", batch_size=1, prompt_len=2048, gen_len=256, w_bits="int4")
    v = next(v for v in advice.verdicts if v.name == "quant-w4")
    assert v.gains["tpot"] == base.generation.tpot_s / w4.generation.tpot_s
    assert v.gains["memory"] == base.memory.total_bytes / w4.memory.total_bytes
    assert v.affects_accuracy and v.settings == {"w_bits": "int4"}
    # batch 1 decode is memory-bound at ~1 FLOP/B: 4-bit weights (+ a 16-bit scale per 128: 4.125 bits) cut the
    # step by about 16 / 4.125 = 3.88 on the weight bytes, which are nearly all of the step's traffic
    assert 3.5 < v.gains["tpot"] < 16 / 4.125
    assert "memory-bound" in v.why and "3.88x" in v.why


def test_ranking_and_marks(advice):
    done = [v for v in advice.verdicts if v.evaluated and v.fits]
    gains = [v.gains["tpot"] for v in done]
    assert gains == sorted(gains, reverse=True)
    assert done[0].name == "speculative-eagle3"  # memory-bound at batch 1: verifying 60 tokens is nearly free
    batch = next(v for v in advice.verdicts if v.name == "larger-batch")
    assert batch.gains["throughput"] > 5 and batch.gains["tpot"] < 1
    assert not next(v for v in advice.verdicts if v.name == "flash-attention").affects_accuracy
    assert json.loads(json.dumps(advice.to_dict(), allow_nan=False))["rank_by"] == "tpot"


def test_rank_by_throughput_puts_the_batch_first():
    a = lr.advise("llama-3.1-8b", "h100-sxm", rank_by="throughput", only=["larger-batch", "quant-w8", "kv-int8"])
    assert [v.name for v in a.verdicts][0] == "larger-batch"


def test_advisor_inputs():
    with pytest.raises(ScenarioError, match="rank_by"):
        lr.advise("llama-3.1-8b", "h100-sxm", rank_by="speed")
    with pytest.raises(UnknownNameError, match="quant-w4"):
        lr.advise("llama-3.1-8b", "h100-sxm", only=["quant-w5"])


def test_mtp_applies_to_deepseek_style_models(a6000):
    a = lr.advise(small_mla(), a6000, only=["speculative-mtp"])
    assert a.verdicts[0].evaluated and a.verdicts[0].gains["tpot"] > 1


def test_registry_takes_other_techniques(a6000, llama2_7b):
    """Another package registers its technique; the advisor ranks it like the built-ins."""
    entry = register(Technique(name="test-fp4", title="fp4 weights", family="quantization",
                               settings={"w_bits": "fp4"}, affects_accuracy=True, note="a test entry"))
    try:
        a = lr.advise(llama2_7b, a6000, only=["test-fp4"])
        assert a.verdicts[0].evaluated and a.verdicts[0].gains["tpot"] > 3
    finally:
        from llm_roofline.techniques import registry

        registry._REGISTRY.pop(entry.name)


def test_cli_advise_and_techniques(capsys):
    assert main(["advise", "llama-3.1-8b", "h100-sxm", "--only", "quant-w8,flash-attention"]) == 0
    out = capsys.readouterr().out
    assert "quant-w8 *" in out and "ranked by the gain in TPOT" in out
    assert main(["advise", "llama-3.1-8b", "h100-sxm", "--only", "quant-w8", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["techniques"][0]["name"] == "quant-w8"
    assert main(["advise", "llama-3.1-8b", "h100-sxm", "--only", "quant-w9"]) == 2
    assert "did you mean" in capsys.readouterr().err
    assert main(["techniques"]) == 0
    assert "eagle3" in capsys.readouterr().out


def test_readme_schema_names_the_techniques_fields():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in readme.splitlines() if line.startswith("| `")}
    doc = lr.analyze("llama-3.1-8b", "h100-sxm", speculative="eagle3").to_dict()["techniques"]
    for row, fields in (("`techniques`", doc), ("`…speculative`", doc["speculative"])):
        missing = [key for key in fields if f"`{key}`" not in rows[row]]
        assert not missing, f"README's JSON schema row {row} lacks {missing}"
    assert all(f"`{k}`" in rows["`techniques`"] for k in doc["settings"])


def test_parallel_entries_use_parallels_one_imbalance_model():
    """MoE in the advisor: expert parallelism over a DGX node with the busiest rank at 1.25x the mean load is
    parallel's own ep_imbalance (one model of it), and its gains are those of the deployment's analysis."""
    a = lr.advise("mixtral-8x7b", "h100-sxm", batch_size=32, only=["expert-parallel", "tensor-parallel"])
    ep = next(v for v in a.verdicts if v.name == "expert-parallel")
    assert ep.settings == {"attention_dp": 8, "ep": 8, "ep_imbalance": 1.25}
    base = lr.analyze("mixtral-8x7b", "h100-sxm", batch_size=32)
    dep = lr.analyze("mixtral-8x7b", "h100-sxm", batch_size=32, attention_dp=8, ep=8, ep_imbalance=1.25)
    assert ep.gains["tpot"] == base.generation.tpot_s / dep.generation.tpot_s
    assert "on 8 devices" in ep.why
    dense = lr.advise("llama-3.1-8b", "h100-sxm", only=["expert-parallel"]).verdicts[0]
    assert "no mixture of experts" in dense.reason
    no_system = lr.advise("llama-2-7b", "nvidia_A6000", only=["tensor-parallel"]).verdicts[0]
    assert "no bundled system" in no_system.reason
