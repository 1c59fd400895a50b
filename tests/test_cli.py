"""The command line as a user runs it: outputs, formats, overrides and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from llm_roofline import analyze

from cli_checks import run

LLAMA, A6000 = "meta-llama/Llama-2-7b-hf", "nvidia_A6000"


def test_table_has_every_section(capsys):
    code, out, err = run(capsys, "analyze", LLAMA, A6000, "--prompt-len", "2048", "--gen-len", "256")
    assert code == 0 and err == ""
    for heading in ("PREFILL", "DECODE", "throughput", "memory", "q_proj", "lm_head", "TTFT", "TPOT", "fits"):
        assert heading in out


def test_json_is_the_api_report(capsys):
    code, out, _ = run(capsys, "analyze", LLAMA, A6000, "-b", "4", "-p", "512", "-g", "64", "--w-bits", "int4",
                       "--kv-bits", "8", "--flash-attention", "--format", "json")
    assert code == 0
    expected = analyze(LLAMA, A6000, batch_size=4, prompt_len=512, gen_len=64, w_bits="int4", kv_bits=8,
                       flash_attention=True).to_dict()
    assert json.loads(out) == json.loads(json.dumps(expected))


def test_json_schema_keys(capsys):
    _, out, _ = run(capsys, "analyze", LLAMA, A6000, "-g", "8", "-f", "json")
    doc = json.loads(out)
    assert {"params_total", "params_active"} <= doc["model"].keys()
    op_keys = {"name", "count", "flops", "bytes", "weight_bytes", "activation_bytes", "kv_cache_bytes",
               "arithmetic_intensity", "bound", "time_s"}
    for stage in ("prefill", "decode"):
        assert all(op_keys <= op.keys() for op in doc[stage]["ops"])
        assert {"flops", "bytes", "time_s"} <= doc[stage]["total"].keys()
    assert {"ttft_s", "tpot_s", "e2e_s", "throughput_tokens_per_s"} <= doc["generation"].keys()
    assert {"weights_bytes", "kv_cache_bytes", "activations_bytes", "total_bytes", "capacity_bytes", "fits",
            "max_batch_size"} <= doc["memory"].keys()


def test_csv_lists_both_stages(capsys, tmp_path):
    target = tmp_path / "ops.csv"
    code, out, _ = run(capsys, "analyze", LLAMA, A6000, "-f", "csv", "-o", str(target))
    assert code == 0 and out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    report = analyze(LLAMA, A6000)
    assert len(rows) == len(report.prefill.ops) + len(report.decode.ops)
    assert {r["stage"] for r in rows} == {"prefill", "decode"}
    assert float(rows[0]["time_s"]) == report.prefill.ops[0].time_s


def test_bandwidth_override_scales_memory_bound_decode(capsys):
    _, base, _ = run(capsys, "analyze", LLAMA, A6000, "-f", "json")
    _, fast, _ = run(capsys, "analyze", LLAMA, A6000, "-f", "json", "--bandwidth", "1536GB/s")
    # Every decode operator is memory-bound at batch 1, so doubling bandwidth halves the step.
    ratio = json.loads(base)["decode"]["total"]["time_s"] / json.loads(fast)["decode"]["total"]["time_s"]
    assert ratio == pytest.approx(2.0, rel=1e-3)


def test_scale_bits_change_the_quantized_weight_bytes(capsys):
    _, out, _ = run(capsys, "analyze", LLAMA, A6000, "-f", "json", "--w-bits", "4", "--scale-bits", "32")
    q = next(op for op in json.loads(out)["prefill"]["ops"] if op["name"] == "q_proj")
    assert q["weight_bytes"] == 4096 * 4096 * (0.5 + 4 / 128)  # one 32-bit scale per 128 weights


def test_efficiency_options(capsys):
    _, out, _ = run(capsys, "analyze", LLAMA, A6000, "-f", "json", "--bandwidth-fraction", "0.5",
                    "--kernel-overhead-us", "3")
    eff = json.loads(out)["hardware"]["efficiency"]
    assert eff == {"compute_fraction": 1.0, "bandwidth_fraction": 0.5, "kernel_overhead_s": 3e-6}


def test_model_that_does_not_fit_is_reported(capsys):
    code, out, _ = run(capsys, "analyze", "meta-llama/Llama-2-70b-hf", A6000, "-f", "json")
    assert code == 0 and json.loads(out)["memory"]["fits"] is False
    code, out, _ = run(capsys, "analyze", "meta-llama/Llama-2-70b-hf", A6000)
    assert "DOES NOT FIT" in out


@pytest.mark.parametrize(("argv", "fragment"), [
    (["analyze", "llama-2-7", A6000], "meta-llama/Llama-2-7b-hf"),
    (["analyze", LLAMA, "a600"], "rtx-a6000"),
    (["analyze", LLAMA, A6000, "--batch-size", "0"], "--batch-size/-b: must be an integer in 1..1000000"),
    (["analyze", LLAMA, A6000, "--prompt-len", "-5"], "--prompt-len/-p: must be an integer in 1..10000000"),
    (["analyze", LLAMA, A6000, "--w-bits", "33"], "--w-bits: must be an integer in 1..32"),
    (["analyze", LLAMA, A6000, "--kv-bits", "int3"], "--kv-bits: must be a bit-width 1..32 or one of fp32"),
    (["analyze", LLAMA, A6000, "--bandwidth", "fast"], "cannot read 'fast'"),
    (["analyze", LLAMA, A6000, "--capacity", "5E"], "unknown unit 'E'"),
    (["analyze", LLAMA, A6000, "--bandwidth-fraction", "1.5"], "--bandwidth-fraction: must be a number in [0.001, 1]"),
    (["hardware", "tpu-v9"], "unknown hardware"),
    (["analyze", LLAMA, A6000, "--bandwidth", "312TFLOPS"], "unknown unit 'TFLOPS'"),
    (["analyze", LLAMA, A6000, "--capacity", "80GB/s"], "unknown unit 'GB/s'"),
    (["analyze", LLAMA, A6000, "--prompt-len", "1e7"], "--prompt-len/-p: must be an integer in 1..10000000, got '1e7'"),
    (["analyze", LLAMA, A6000, "--scale-bits", "0"], "--scale-bits: must be an integer in 1..32"),
    (["plot", "roofline", LLAMA, A6000, "--dpi", "0", "-o", "x.png"], "--dpi: must be a number in [10, 1200]"),
    (["plot", "nonsense"], "invalid choice"),
])
def test_user_errors_are_one_line_and_exit_2(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_malformed_config_names_file_and_field(capsys, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4,
                               "intermediate_size": 128, "vocab_size": 100}))
    code, _, err = run(capsys, "analyze", str(cfg), A6000)
    assert code == 2 and "num_hidden_layers" in err and "config.json" in err
    cfg.write_text("{not json")
    code, _, err = run(capsys, "analyze", str(tmp_path), A6000)
    assert code == 2 and "config.json" in err


def test_catalog_listings(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0 and LLAMA in out and len(out.splitlines()) > 40
    code, out, _ = run(capsys, "hardware")
    assert code == 0 and "rtx-a6000" in out and "nvidia_A6000" in out
    code, out, _ = run(capsys, "hardware", "nvidia_A6000")
    assert code == 0 and "768 GB/s" in out and "source:" in out and "ridge 201.6 FLOP/B" in out


def test_whole_process_without_traceback():
    ok = subprocess.run([sys.executable, "-m", "llm_roofline.cli", "analyze", "llama-2-7b", A6000, "-f", "json"],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and json.loads(ok.stdout)["model"]["name"] == LLAMA
    bad = subprocess.run([sys.executable, "-m", "llm_roofline.cli", "analyze", "nope-model", A6000],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "unknown model" in bad.stderr


def test_sweep_is_a_grid_of_analyses():
    from llm_roofline import sweep

    grid = sweep(LLAMA, A6000, batch_size=[1, 8, 64], prompt_len=[128, 1024], gen_len=32, w_bits="int4")
    assert len(grid) == 6
    rows = grid.to_records()
    assert [(r["batch_size"], r["prompt_len"]) for r in rows] == [(1, 128), (1, 1024), (8, 128), (8, 1024),
                                                                 (64, 128), (64, 1024)]
    one = analyze(LLAMA, A6000, batch_size=8, prompt_len=1024, gen_len=32, w_bits="int4")
    assert rows[3]["tpot_s"] == pytest.approx(one.generation.tpot_s, rel=1e-12)
    assert rows[3]["total_bytes"] == pytest.approx(one.memory.total_bytes, rel=1e-12)
    with pytest.raises(Exception, match="named format is a single value"):
        sweep(LLAMA, A6000, w_bits=["int4", "int8"])


def test_readme_schema_table_names_every_json_field():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in readme.splitlines() if line.startswith("| `")}
    doc = analyze(LLAMA, A6000).to_dict()
    sections = {"`model`": doc["model"], "`hardware`": doc["hardware"], "`scenario`": doc["scenario"],
                "`…ops[]`": doc["prefill"]["ops"][0], "`…total`": doc["prefill"]["total"],
                "`generation`": doc["generation"], "`memory`": doc["memory"], "`optimizations`": doc["optimizations"],
                "`prefill`, `decode`": {k: v for k, v in doc["prefill"].items()}}
    for row, fields in sections.items():
        missing = [key for key in fields if f"`{key}`" not in rows[row] and f"`{key}[]`" not in rows[row]]
        assert not missing, f"README's JSON schema row {row} lacks {missing}"
