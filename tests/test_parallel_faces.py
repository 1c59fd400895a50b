"""Every shared config at TP 8 (and, for MoE, EP 8) on an 8-GPU system; the CLI's parallelism flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import llm_roofline as lr
from llm_roofline.errors import DeploymentError
from llm_roofline.models.spec import routed_experts

from cli_checks import run
from conftest import SHARED_CONFIGS

CONFIGS = sorted(SHARED_CONFIGS.glob("*.json")) if SHARED_CONFIGS.is_dir() else []
# Models whose query heads an 8-way split cannot divide (vLLM refuses them at TP 8 too): heads, the largest
# power-of-two TP that divides them.
HEADS_NOT_DIVISIBLE_BY_8 = {"Qwen--Qwen2-7B.json": (28, 4), "Qwen--Qwen2.5-7B.json": (28, 4),
                            "facebook--opt-125m.json": (12, 4), "tiiuae--falcon-7b.json": (71, 1)}


@pytest.mark.skipif(not CONFIGS, reason="../shared/hf-configs is absent")
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_shared_config_analyses_at_tp8_and_ep8(path):
    model = lr.load_model(str(path))  # every shared family has a parser
    common = dict(prompt_len=256, gen_len=4, batch_size=8)
    if path.name in HEADS_NOT_DIVISIBLE_BY_8:
        heads, tp = HEADS_NOT_DIVISIBLE_BY_8[path.name]
        with pytest.raises(DeploymentError, match=rf"tp \(8\) must divide the query heads \({heads}\)"):
            lr.analyze(model, "hgx-h200", tp=8, **common)
        report = lr.analyze(model, "hgx-h200", tp=tp, **common)
    else:
        report = lr.analyze(model, "hgx-h200", tp=8, **common)
        assert report.parallelism["devices"] == 8
        assert report.communication["decode_time_s"] > 0
    assert report.generation.tpot_s > 0
    if any(routed_experts(g.layer.ffn) is not None for g in model.layer_groups):  # Gemma 4's MLP + MoE too
        ep = lr.analyze(model, "hgx-h200", attention_dp=8, ep=8, **common)
        names = {op.name for op in ep.decode.ops}
        assert {"moe_dispatch", "moe_combine"} <= names
        assert ep.memory.weights_bytes < lr.analyze(model, "h200-sxm", **common).memory.weights_bytes


def test_cli_analyze_with_degrees(capsys):
    code, out, err = run(capsys, "analyze", "llama-3.1-70b", "dgx-h100", "--tp", "8", "-g", "16")
    assert code == 0 and err == ""
    assert "attn_all_reduce" in out and "link" in out and "8 x h100-sxm (dgx-h100: tp 8)" in out
    assert "devices   8 on 1 node(s) of dgx-h100" in out and "comm " in out
    code, out, _ = run(capsys, "analyze", "llama-3.1-70b", "h100", "--tp", "4", "--pp", "2", "-g", "16", "-f", "json")
    report = json.loads(out)
    assert report["parallelism"]["system"]["name"] == "dgx-h100" and report["parallelism"]["pp"] == 2
    assert set(report["communication"]) >= {"prefill_link_bytes", "decode_time_s", "overlapped"}
    assert report["memory"]["comm_buffer_bytes"] > 0
    assert {"link_bytes", "link_time_s"} <= set(report["decode"]["ops"][0])


def test_cli_efficiency_hardware_fits_the_collectives(capsys):
    _, out, _ = run(capsys, "analyze", "llama-3.1-70b", "dgx-h100", "--tp", "8", "--efficiency", "hardware",
                    "-f", "json")
    assert json.loads(out)["parallelism"]["collectives"]["mode"] == "fitted"
    _, out, _ = run(capsys, "analyze", "llama-3.1-70b", "dgx-h100", "--tp", "8", "--efficiency", "hardware",
                    "--comm", "ideal", "-f", "json")
    assert json.loads(out)["parallelism"]["collectives"]["mode"] == "ideal"


@pytest.mark.parametrize("argv, message", [
    (["--tp", "3"], "tp (3) must divide the query heads (64)"),
    (["--ep", "8"], "ep (8) must divide tp x attention_dp"),
    (["--tp", "8", "--pp", "2", "--nodes", "1"], "16 devices on 1 node(s)"),
    (["--tp", "0"], "expected a positive whole number"),
    (["--tp", "8", "--comm-library", "gloo"], "invalid choice"),
])
def test_cli_bad_degrees_are_one_line(capsys, argv, message):
    code, out, err = run(capsys, "analyze", "llama-3.1-70b", "dgx-h100", *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_device_without_a_system(capsys):
    code, _, err = run(capsys, "analyze", "llama-2-7b", "v100", "--tp", "2")
    assert code == 2 and "no bundled system is built from v100" in err


def test_readme_schema_table_lists_every_key():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    report = lr.analyze("llama-3.1-70b", "dgx-h100", tp=8, gen_len=4).to_dict()
    for section in ("parallelism", "communication", "generation", "memory"):
        for key in report[section]:
            assert f"`{key}`" in text, (section, key)
    for key in (*report["decode"]["ops"][0], *report["decode"]["total"]):
        assert f"`{key}`" in text, key


def test_sweep_command_takes_degree_lists(capsys):
    code, out, err = run(capsys, "sweep", "llama-3.1-70b", "dgx-h100", "--tp", "2,8", "--pp", "1,2", "-b", "1,16",
                         "-g", "8", "-f", "json")
    assert code == 0 and err == ""
    rows = json.loads(out)
    assert len(rows) == 8 and [r["tp"] for r in rows[:4]] == [2, 2, 2, 2]
    row = next(r for r in rows if r["tp"] == 8 and r["pp"] == 2 and r["batch_size"] == 16)
    alone = lr.analyze("llama-3.1-70b", "dgx-h100", tp=8, pp=2, batch_size=16, gen_len=8)
    assert row["tpot_s"] == pytest.approx(alone.generation.tpot_s) and row["devices"] == 16
    code, _, err = run(capsys, "sweep", "llama-3.1-70b", "dgx-h100", "--tp", "3,8")
    assert code == 2 and "tp (3) must divide the query heads" in err
