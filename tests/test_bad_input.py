"""Issue 7, "Bad input": each case found by trying the tool as a new user and by fuzzing, as a regression
test. Every one failed before the fix (a traceback, a NaN/Infinity in the output, a silently accepted
value, a vague message or unbounded work); each now is one clear error naming the field or flag."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import llm_roofline as lr

from cli_checks import one_line_error, run

LLAMA, H100, A6000 = "llama-2-7b", "h100-sxm", "rtx-a6000"
SMALL = {"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128,
         "vocab_size": 100, "num_hidden_layers": 2}


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity (what a strict JSON reader does)."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


# --- never NaN / Infinity ---------------------------------------------------------------------------

def test_a_tiny_bandwidth_fraction_is_refused_naming_the_flag(capsys):
    # Before: 1e-320 was "in (0, 1]", and the JSON held Infinity and NaN.
    err = one_line_error(capsys, "analyze", LLAMA, H100, "--bandwidth-fraction", "1e-320", "--format", "json")
    assert "--bandwidth-fraction" in err and "[0.001, 1]" in err and "1e-320" in err
    with pytest.raises(lr.RooflineError, match=r"bandwidth_fraction must be a number in \[0.001, 1\]"):
        lr.analyze(LLAMA, H100, efficiency={"bandwidth_fraction": 1e-320})
    with pytest.raises(lr.RooflineError, match=r"compute_fraction must be a number in \[0.001, 1\]"):
        lr.Efficiency(compute_fraction=5e-4)


def test_the_lowest_fractions_and_extreme_devices_still_give_strict_json(capsys):
    # At the edges of every documented range, every number stays finite: the CLI's JSON is strict.
    code, out, _ = run(capsys, "analyze", LLAMA, H100, "--bandwidth-fraction", "0.001", "--compute-fraction",
                       "0.001", "--kernel-overhead-us", "999999", "--bandwidth", "1MB/s", "--peak", "1GFLOPS",
                       "--capacity", "1MB", "-b", "1000000", "-p", "10000000", "-g", "10000000", "-f", "json")
    assert code == 0
    report = strict_json(out)
    assert math.isfinite(report["generation"]["e2e_s"]) and report["memory"]["fits"] is False
    r = lr.analyze(LLAMA, H100, efficiency={"compute_fraction": 1e-3, "bandwidth_fraction": 1e-3})
    json.dumps(r.to_dict(), allow_nan=False)


def test_hardware_built_by_hand_is_held_to_the_same_ranges():
    # Before: Hardware(...) took any positive number, so 1e-300 B/s made every time infinite.
    with pytest.raises(lr.ConfigError, match="memory_bandwidth_bytes_per_s must be a number in"):
        lr.Hardware(name="x", memory_bandwidth_bytes_per_s=1e-300, memory_capacity_bytes=80e9,
                    peak_flops_per_s={"fp16": 1e14})
    with pytest.raises(lr.ConfigError, match="peak_flops_per_s.fp16 must be a number"):
        lr.Hardware(name="x", memory_bandwidth_bytes_per_s=1e12, memory_capacity_bytes=80e9,
                    peak_flops_per_s={"fp16": True})


# --- bounded layers -----------------------------------------------------------------------------------

def test_a_billion_layers_is_refused_before_any_list_is_built(tmp_path, capsys):
    # Before: 10**9 layers ran 109 s and 16 GB, then a MemoryError traceback.
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({**SMALL, "num_hidden_layers": 10**9}))
    err = one_line_error(capsys, "analyze", str(cfg), H100)
    assert "'num_hidden_layers' must be in 1..10,000" in err
    with pytest.raises(lr.ConfigError, match=r"must be an integer in 1\.\.10,000|at most 10,000"):
        spec = lr.load_model(LLAMA)
        lr.ModelSpec(name="deep", model_type="llama", hidden_size=spec.hidden_size, vocab_size=spec.vocab_size,
                     layer_groups=((spec.layer_groups[0].__class__(spec.layer_groups[0].layer, 10**9)),))


def test_the_engine_cost_does_not_grow_with_repeated_layers(tmp_path):
    # Layers are groups with counts: 10,000 identical layers are one group, so the operator table has
    # the same rows as for 2 layers, and the parameters follow the closed form (hand derivation:
    # Llama layer = 4*D*D (q, k, v, o with K = N) + 3*D*F (gate, up, down) + 2*D (two RMSNorms);
    # model = 2*V*D (untied embedding and lm_head) + D (final norm) + L * layer).
    D, F, V = SMALL["hidden_size"], SMALL["intermediate_size"], SMALL["vocab_size"]
    few, many = tmp_path / "few.json", tmp_path / "many.json"
    few.write_text(json.dumps(SMALL))
    many.write_text(json.dumps({**SMALL, "num_hidden_layers": 10_000}))
    r_few, r_many = lr.analyze(str(few), A6000), lr.analyze(str(many), A6000)
    assert len(r_few.prefill.ops) == len(r_many.prefill.ops)
    assert r_many.model["params_total"] == 2 * V * D + D + 10_000 * (4 * D * D + 3 * D * F + 2 * D)


# --- bounded grids ------------------------------------------------------------------------------------

def test_a_huge_api_sweep_is_refused_before_anything_is_allocated():
    # Before: 3,000 x 1,000 took 14.6 GB then MemoryError; 100,000 x 100,000 asked numpy for 74.5 GiB.
    tracemalloc.start()
    try:
        with pytest.raises(lr.ScenarioError, match=r"3,000,000 points .*at most 100,000 per call"):
            lr.sweep(LLAMA, A6000, batch_size=range(1, 3001), prompt_len=range(1, 1001))
        with pytest.raises(lr.ScenarioError, match="at most 100,000 per call"):
            lr.sweep(LLAMA, A6000, batch_size=range(1, 100_001), prompt_len=range(1, 100_001))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20e6  # bytes: the check counts axis lengths, it never builds the grid
    with pytest.raises(lr.ScenarioError, match="at most 100,000"):
        lr.analyze_many(LLAMA, A6000, batch_size=np.ones(100_001))


def test_huge_cli_sweeps_and_plots_are_refused(capsys):
    # Before: `sweep --batch-size 1..1000000 --format json` took 7 GB; `plot breakdown` 300 x 300 ran past
    # 5 minutes at 11 GB.
    assert "more than 100,000 values" in one_line_error(capsys, "sweep", LLAMA, H100, "--batch-size",
                                                         "1..1000000", "--format", "json")
    assert "at most 100,000 per call" in one_line_error(capsys, "sweep", LLAMA, H100, "-b", "1..1000",
                                                        "-p", "1..1000")
    err = one_line_error(capsys, "plot", "breakdown", LLAMA, A6000, "--batch-size", "1..300", "--prompt-len",
                         "1..300", "-o", "never-written.png")
    assert "90,000" in err and "at most 64" in err


def test_sweep_chunks_equal_the_whole_sweep_exactly():
    # The CLI writes a sweep in chunks; the rows must be those of one lr.sweep, bit for bit (a lone
    # scenario in the last chunk used to round its sums differently).
    from llm_roofline.api import sweep_chunks

    axes = dict(batch_size=list(range(1, 41)), prompt_len=[128, 1024, 4096])
    for model, device in ((LLAMA, "a100-80g"), ("deepseek-v2-lite", A6000)):
        whole = lr.sweep(model, device, **axes).columns
        chunks = list(sweep_chunks(model, device, chunk_points=7, **axes))
        assert len(chunks) == math.ceil(120 / 7) and len(chunks[-1]) == 1  # 120 = 17 x 7 + 1
        for name, column in whole.items():
            np.testing.assert_array_equal(np.concatenate([c.columns[name] for c in chunks]), column)


# --- tracebacks that are now one line -----------------------------------------------------------------

@pytest.mark.parametrize("digits", [401, 5001])
def test_huge_integers_on_the_command_line(capsys, digits):
    # Before: 401 digits -> OverflowError traceback; 5,001 digits -> "invalid int value" for a valid integer.
    huge = "9" * digits
    err = one_line_error(capsys, "analyze", LLAMA, H100, "--batch-size", huge)
    assert "--batch-size" in err and f"{digits}-digit number" in err and "1..1000000" in err
    err = one_line_error(capsys, "sweep", LLAMA, H100, "--prompt-len", huge)
    assert "--prompt-len" in err and f"{digits}-digit number" in err
    err = one_line_error(capsys, "plot", "roofline", LLAMA, H100, "--batch-size", huge, "-o", "x.png")
    assert "--batch-size" in err
    with pytest.raises(lr.ScenarioError, match="batch_size must be an integer in 1..1000000, got an integer of"):
        lr.analyze(LLAMA, H100, batch_size=10**digits - 1)


def test_deeply_nested_json_config(tmp_path, capsys):
    cfg = tmp_path / "config.json"
    cfg.write_text('{"model_type": "llama", "x": ' + "[" * 5000 + "]" * 5000 + "}")
    assert "nested more than 32 levels" in one_line_error(capsys, "analyze", str(cfg), H100)
    cfg.write_text(json.dumps({**SMALL, "x": json.loads("[" * 100 + "]" * 100)}))
    assert "nested more than 32 levels" in one_line_error(capsys, "analyze", str(cfg), H100)
    with pytest.raises(lr.ConfigError, match="nested more than 32 levels"):
        from llm_roofline.models.hf_config import spec_from_hf_config

        spec_from_hf_config({**SMALL, "x": json.loads("[" * 100 + "]" * 100)}, name="x")


def test_deeply_nested_and_alias_bomb_yaml_devices(tmp_path, capsys):
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: x\npeak: " + "[" * 10_000 + "]" * 10_000 + "\n")
    assert "nested more than 32 levels" in one_line_error(capsys, "analyze", LLAMA, str(deep))
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join([*lines, "name: x", "memory_bandwidth: 1 TB/s", "memory_capacity: 8 GB",
                               "peak: *a9"]) + "\n")
    assert "more than 200,000 values" in one_line_error(capsys, "analyze", LLAMA, str(bomb))


def test_file_names_that_cannot_be_paths(capsys):
    long_name = "a" * 300
    err = one_line_error(capsys, "analyze", long_name + ".json", H100)
    assert "longer than 255 bytes" in err and len(err) < 300
    assert "longer than 255 bytes" in one_line_error(capsys, "analyze", LLAMA, long_name + ".yaml")
    assert "unknown model" in one_line_error(capsys, "analyze", long_name, H100)  # a name, not a path
    err = one_line_error(capsys, "analyze", "~nosuchuser/config.json", H100)
    assert "no such user's home folder" in err
    with pytest.raises(lr.ConfigError, match="no such user's home folder"):
        lr.load_hardware("~nosuchuser/device.yaml")


@pytest.mark.parametrize("bad", [{}, b"8", True, [8], 8.5, "int3"])
def test_api_bit_widths_get_the_checks_of_batch_size(bad):
    # Before: None / {} / b'8' were TypeError and UFuncTypeError tracebacks. (w_bits=None is now the
    # model's own format: its config's quantization_config, else 16 bits; a_bits=None is still refused.)
    with pytest.raises(lr.ScenarioError, match="w_bits"):
        lr.analyze(LLAMA, A6000, w_bits=bad)
    with pytest.raises(lr.ScenarioError, match="a_bits"):
        lr.analyze(LLAMA, A6000, a_bits=None)


# --- wrong or vague messages --------------------------------------------------------------------------

def test_sweep_messages_name_the_axis_and_the_type():
    # Before: "a swept bit-width takes numbers" for a batch size.
    with pytest.raises(lr.ScenarioError, match=r"batch_size must be a number .*not text \(got 'a'\)"):
        lr.sweep(LLAMA, A6000, batch_size=[1, "a"])
    with pytest.raises(lr.ScenarioError, match="prompt_len .*not bytes"):
        lr.sweep(LLAMA, A6000, prompt_len=[b"1"])
    with pytest.raises(lr.ScenarioError, match="prompt_len .*not bytes"):
        lr.analyze(LLAMA, A6000, prompt_len=b"1")
    with pytest.raises(lr.ScenarioError, match="a set has no order"):
        lr.sweep(LLAMA, A6000, batch_size={1, 2})


def test_nested_lists_are_refused_not_flattened():
    for nested in ([[1, 2], [3, 4]], np.ones((2, 2)), [1, [2]]):
        with pytest.raises(lr.ScenarioError, match="nested lists are not accepted"):
            lr.sweep(LLAMA, A6000, batch_size=nested)
    with pytest.raises(lr.ScenarioError, match="nested lists are not accepted"):
        lr.analyze_many(LLAMA, A6000, batch_size=[[1, 2]])


def test_true_is_not_one():
    for call in (lambda: lr.sweep(LLAMA, A6000, batch_size=[True, 2]),
                 lambda: lr.analyze(LLAMA, A6000, gen_len=np.True_),
                 lambda: lr.analyze(LLAMA, A6000, efficiency={"compute_fraction": True}),
                 lambda: lr.load_hardware(A6000, memory_capacity_bytes=True)):
        with pytest.raises(lr.RooflineError, match="not a bool"):
            call()


def test_efficiency_text_names_the_type():
    # Before: "must be in (0,1]" for '0.5'.
    with pytest.raises(lr.ConfigError, match=r"compute_fraction must be a number, not text \(got '0.5'\)"):
        lr.analyze(LLAMA, A6000, efficiency={"compute_fraction": "0.5"})


def test_device_override_messages_name_the_flag(capsys):
    err = one_line_error(capsys, "analyze", LLAMA, H100, "--bandwidth", "-1")
    assert "argument --bandwidth:" in err and "positive" in err
    err = one_line_error(capsys, "analyze", LLAMA, H100, "--capacity", "64")
    assert "argument --capacity:" in err and "[1e+06, 1e+15] B" in err and "64 GB" in err
    err = one_line_error(capsys, "sweep", LLAMA, H100, "--peak", "5")
    assert "argument --peak:" in err and "FLOP/s" in err


def test_an_empty_output_file_name_is_an_error(capsys, tmp_path):
    # Before: -o "" wrote to standard output and exited 0.
    for argv in (["analyze", LLAMA, H100, "-o", ""], ["sweep", LLAMA, H100, "-o", " "],
                 ["plot", "roofline", LLAMA, H100, "-o", ""]):
        assert "empty file name" in one_line_error(capsys, *argv)


def test_model_and_hardware_of_the_wrong_type():
    with pytest.raises(lr.ConfigError, match="model must be a catalog name, a path to a config.json or a ModelSpec"):
        lr.analyze(5, A6000)
    with pytest.raises(lr.ConfigError, match="hardware must be a device name, a YAML file or a Hardware"):
        lr.analyze(LLAMA, None)


def test_whole_processes_never_print_a_traceback(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 3000 + "]" * 3000)
    for argv in (["analyze", LLAMA, H100, "--batch-size", "9" * 5001],
                 ["analyze", str(deep), H100],
                 ["analyze", "~nosuchuser/config.json", H100]):
        done = subprocess.run([sys.executable, "-m", "llm_roofline.cli", *argv], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 2 and done.stdout == "", done.stderr[-2000:]
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
