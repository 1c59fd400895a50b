"""The techniques through every face: CLI flags, the API's keywords, sweeps (axes and columns), JSON,
and bad input as one clear line."""

from __future__ import annotations

import json

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.errors import ScenarioError

from cli_checks import run

LLAMA, A100 = "llama-2-7b", "a100-80g"


def test_cli_flags_reach_the_engine(capsys):
    code, out, _ = run(capsys, "analyze", LLAMA, A100, "-f", "json", "--fusion", "aggressive", "--attention", "fa2",
                       "--weight-sparsity", "0.5", "--sparse-format", "csr", "--offload-weights", "0.25",
                       "--kv-allocation", "paged", "--kv-block-size", "32", "--prefix-len", "100",
                       "--embed-bits", "16", "--w-bits", "4", "--low-rank", "o_proj=256", "--prune-heads", "0.25",
                       "--no-offload-overlap", "--host-memory", "512GB")
    assert code == 0
    doc = json.loads(out)
    t = doc["optimizations"]
    assert t["active"] == ["precision", "sparsity", "structured", "low_rank", "fusion", "attention", "offload",
                           "kv_allocation", "prefix"]
    assert (t["fusion"], t["attention"], t["weight_sparsity"], t["kv_block_size"], t["prefix_len"]) == (
        "aggressive", "fa2", 0.5, 32, 100)
    assert t["offload_overlap"] is False and doc["memory"]["host_capacity_bytes"] == 512e9
    same = lr.analyze(LLAMA, A100, fusion="aggressive", attention="fa2", weight_sparsity=0.5, sparse_format="csr",
                      offload_weights=0.25, kv_allocation="paged", kv_block_size=32, prefix_len=100, embed_bits=16,
                      w_bits=4, low_rank={"o_proj": 256}, prune_heads=0.25, offload_overlap=False,
                      host_memory=512e9)
    assert doc == json.loads(json.dumps(same.to_dict()))


def test_cli_errors_are_one_line(capsys):
    for argv, text in ((("--weight-sparsity", "x"), "--weight-sparsity: must be a number"),
                       (("--fusion", "full"), "invalid choice"),
                       (("--offload-weights", "1.5"), "offload_weights must be a number in [0, 1]"),
                       (("--offload-weights", "0.5", "--offload-to", "disk"), "needs disk_bandwidth"),
                       (("--low-rank", "mlp=0"), "rank"),
                       (("--module-bits", "attention=fp7"), "unknown format"),
                       (("--prefix-len", "1024"), "prefix_len (1024) must be below prompt_len"),
                       (("--attention", "naive", "--flash-attention"), "contradicts"),
                       (("--sparse-modules", "atention", "--sparse-format", "csr", "--weight-sparsity", "0.5"),
                        "did you mean attention")):
        code, out, err = run(capsys, "analyze", LLAMA, A100, *argv)
        assert code == 2 and not out, argv
        assert len(err.strip().splitlines()) == 1 and text in err, (argv, err)


def test_api_suggests_close_option_names():
    with pytest.raises(ScenarioError, match="did you mean fusion"):
        lr.analyze(LLAMA, A100, fusoin="aggressive")
    with pytest.raises(ScenarioError, match="analyze.. takes one value"):
        lr.analyze(LLAMA, A100, weight_sparsity=[0.1, 0.2], sparse_format="csr")


def test_sweep_takes_technique_axes_and_writes_their_columns(capsys):
    grid = lr.sweep(LLAMA, A100, batch_size=[1, 8], offload_weights=[0.0, 0.5], weight_sparsity=0.5,
                    sparse_format="csr")
    c = grid.columns
    assert len(grid) == 4
    assert c["offload_weights"].tolist() == [0.0, 0.5, 0.0, 0.5] and c["weight_sparsity"].tolist() == [0.5] * 4
    one = lr.analyze(LLAMA, A100, batch_size=8, offload_weights=0.5, weight_sparsity=0.5, sparse_format="csr")
    assert c["tpot_s"][3] == pytest.approx(one.generation.tpot_s, rel=1e-12)
    assert c["host_bytes"][3] == pytest.approx(one.memory.host_bytes, rel=1e-12)
    code, out, _ = run(capsys, "sweep", LLAMA, A100, "--batch-size", "1,8", "--prefix-len", "0,100,200")
    rows = out.strip().splitlines()
    assert code == 0 and len(rows) == 7 and rows[0].split(",")[-1] == "prefix_len"
    ttft = [float(r.split(",")[rows[0].split(",").index("ttft_s")]) for r in rows[1:4]]
    assert ttft[0] > ttft[1] > ttft[2]


def test_vectorized_arrays_give_each_scenario_its_own_setting():
    a = lr.api.analyze_many(LLAMA, A100, batch_size=[1, 1, 1], offload_kv=[0.0, 0.5, 1.0], gen_len=0)
    t = a.decode_total.time_s
    assert t[0] < t[1] < t[2]
    assert np.array_equal(a.scenario.optimizations.offload_kv, [0.0, 0.5, 1.0])


def test_text_report_names_the_techniques(capsys):
    code, out, _ = run(capsys, "analyze", LLAMA, A100, "--summary", "--fusion", "elementwise", "--offload-kv", "0.5")
    assert code == 0
    assert "optimizations: elementwise fusion; offloading 0% of weights, 50% of the KV cache to host" in out
    assert "+ host" in out


def test_help_lists_every_technique_flag(capsys):
    from llm_roofline.cli_optimizations import OPTIMIZATION_OPTIONS

    code, out, _ = run(capsys, "analyze", "--help")
    assert code == 0
    assert all(option.flag in out for option in OPTIMIZATION_OPTIONS.values())


def test_the_advisor_ranks_the_optimizations():
    from llm_roofline.techniques.registry import techniques

    assert {"fusion-elementwise", "fusion-aggressive", "sparsity-2to4", "sparsity-50-bitmap", "prune-layers-25",
            "prune-intermediate-30", "low-rank-mlp-50", "offload-to-fit", "prefix-cache-half"} <= set(techniques())
    scenario = dict(gen_len=32, batch_size=64, prompt_len=4096, flash_attention=True)
    advice = lr.advise(LLAMA, A100, only=["fusion-aggressive", "sparsity-2to4", "offload-to-fit"], **scenario)
    verdicts = {v.name: v for v in advice.verdicts}
    fused = lr.analyze(LLAMA, A100, fusion="aggressive", **scenario)
    assert verdicts["fusion-aggressive"].tpot_s == fused.generation.tpot_s
    assert verdicts["sparsity-2to4"].affects_accuracy and not verdicts["fusion-aggressive"].affects_accuracy
    # 64 sequences of 4128 tokens (138 GB of KV cache) do not fit the A100's 80 GB: the entry moves all the
    # weights and enough of the cache to host memory
    assert not lr.analyze(LLAMA, A100, **scenario).memory.fits
    offloaded = verdicts["offload-to-fit"]
    assert offloaded.fits and offloaded.settings["offload_weights"] == 1.0 and offloaded.settings["offload_kv"] > 0
