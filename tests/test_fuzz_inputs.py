"""Fuzzing the boundary (issue 7): generated bad and extreme input for the CLI and the Python API.

Whatever it is given, the CLI exits 0 or 2, prints one line on error and never a traceback, and its
JSON is strict (no NaN / Infinity); the API returns a Report whose ``to_dict()`` is strict JSON or
raises a RooflineError, never anything else; every valid input gives finite numbers.

The default run is CI-sized (a few seconds). A larger run, e.g. before a release:

    LLM_ROOFLINE_FUZZ_EXAMPLES=3000 python -m pytest -q tests/test_fuzz_inputs.py

sets every test here to that many examples (the subprocess test to a tenth of it).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llm_roofline as lr
from llm_roofline.cli import main
from llm_roofline.limits import FRACTION_LIMITS, HARDWARE_RANGES, MAX_BITS, MODEL_LIMITS, SCENARIO_LIMITS

from conftest import VARIED_MODELS

BIG_RUN = int(os.environ.get("LLM_ROOFLINE_FUZZ_EXAMPLES", "0"))
FIXTURES = Path(tempfile.mkdtemp(prefix="llm-roofline-fuzz-"))  # removed at exit
atexit.register(shutil.rmtree, FIXTURES, ignore_errors=True)


def fuzz(examples: int):
    return settings(max_examples=BIG_RUN or examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _fixture_files() -> dict[str, str]:
    """Small files the generated command lines point at: a tiny config, a deeply nested JSON, a nested
    YAML, an alias bomb and a valid device."""
    files = {
        "tiny.json": json.dumps({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4,
                                 "intermediate_size": 128, "vocab_size": 100, "num_hidden_layers": 2}),
        "deep.json": "[" * 3000 + "]" * 3000,
        "layers.json": json.dumps({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4,
                                   "intermediate_size": 128, "vocab_size": 100, "num_hidden_layers": 10**12}),
        "deep.yaml": "peak: " + "[" * 3000 + "]" * 3000 + "\n",
        "bomb.yaml": "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x, x]",
                                *(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)),
                                "name: x", "memory_bandwidth: 1 TB/s", "memory_capacity: 8 GB", "peak: *a8"]),
        "dev.yaml": "name: fuzz\nmemory_bandwidth: 1 TB/s\nmemory_capacity: 24 GB\npeak: {fp16: 100 TFLOPS}\n",
    }
    for name, text in files.items():
        (FIXTURES / name).write_text(text)
    return {name: str(FIXTURES / name) for name in files}


FILES = _fixture_files()

NASTY_TEXT = st.one_of(
    st.sampled_from(["", " ", "0", "1", "-1", "7", "33", "1e-320", "1e400", "nan", "inf", "-inf", "9" * 401,
                     "9" * 5001, "²", "٣", "0x10", "1_000", "1..", "..5", "1..8", "1..256:x2", "0..64:16", "1..8:x1",
                     "1..1000000", "1..99999999999999999999", "int4", "fp8", "nf4", "int3", "1,,2", "16,8,4",
                     "a" * 300, "~nosuchuser/x", "1TB/s", "80GiB", "312TFLOPS", "5E", "64", "-5", "0.5", "1.5",
                     "0.001", "true", "1x1024,16x1024", "W4A4", "W99999999999"]),
    st.integers(-10**25, 10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=12),
)
MODELS = st.one_of(st.sampled_from(["llama-2-7b", "mamba-130m", "nope", "a" * 300, "a" * 300 + ".json",
                                    "~nosuchuser/config.json", "/nonexistent/config.json", "/dev/zero", ".", "",
                                    FILES["tiny.json"], FILES["deep.json"], FILES["layers.json"]]),
                   st.text(max_size=12))
DEVICES = st.one_of(st.sampled_from(["h100-sxm", "a6000", "nope", "x.yaml", "a" * 300 + ".yaml",
                                     "~nosuchuser/x.yaml", FILES["deep.yaml"], FILES["bomb.yaml"], FILES["dev.yaml"],
                                     "h100-sxm,a6000"]),
                    st.text(max_size=12))
SCENARIO_FLAGS = ["--batch-size", "--prompt-len", "--gen-len", "--kv-len", "--w-bits", "--a-bits", "--kv-bits",
                  "--group-size", "--bandwidth", "--capacity", "--peak", "--compute-fraction",
                  "--bandwidth-fraction", "--kernel-overhead-us", "--efficiency"]
COMMANDS = {
    "analyze": (SCENARIO_FLAGS + ["--scale-bits", "--format", "-o"], []),
    "sweep": (SCENARIO_FLAGS + ["--format", "-o"], []),
    # Plots go through every check and compute their data; drawing is stubbed out (see run_in_process).
    **{f"plot {kind}": (SCENARIO_FLAGS + extra, ["-o", str(FIXTURES / "figure.png")]) for kind, extra in {
        "roofline": ["--stage", "--precision", "--dpi", "--size", "--title"],
        "breakdown": ["--top", "--group-by"], "batch-sweep": [], "seq-sweep": [], "flash-attention": [],
        "bandwidth": ["--bandwidths", "--points"], "hardware": ["--price"],
        "quantization": ["--memory-configs", "--memory-scenarios", "--decode-prompt-len", "--prefill-batch-size"],
    }.items()},
}
OUTPUTS = ["", " ", "/no-such-dir/out.txt", str(FIXTURES / "out.txt")]


@st.composite
def command_lines(draw) -> list[str]:
    command = draw(st.sampled_from(sorted(COMMANDS)))
    flags, tail = COMMANDS[command]
    argv = [*command.split(), draw(MODELS), draw(DEVICES)]
    for flag in draw(st.lists(st.sampled_from(flags), max_size=4, unique=True)):
        value = draw(st.sampled_from(OUTPUTS)) if flag == "-o" else draw(NASTY_TEXT)
        argv += [flag, value]
    return argv + tail


def strict_json(text: str):
    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def run_in_process(argv: list[str]) -> tuple[int, str, str]:
    """main(argv) with its output captured and figures computed but not drawn (drawing is slow and is
    not input handling: the figure tests cover it)."""
    from llm_roofline.plots import render

    stubs = {name: (lambda *args, **kwargs: None) for name in dir(render) if name.startswith("draw_")}
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.multiple(render, save=lambda *args, **kwargs: None, **stubs), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)  # any exception escaping main() fails the test: that would be a traceback
    return code, out.getvalue(), err.getvalue()


@fuzz(40)
@given(argv=command_lines())
def test_the_cli_answers_every_command_line_with_a_result_or_one_line(argv):
    code, out, err = run_in_process(argv)
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)
    elif "--format" in argv and argv[argv.index("--format") + 1] in ("json", "jsonl") and "-o" not in argv:
        if argv[argv.index("--format") + 1] == "json":
            strict_json(out)
        else:
            [strict_json(line) for line in out.splitlines()]


@settings(max_examples=max(BIG_RUN // 10, 2), deadline=None, database=None)
@given(argv=command_lines().filter(lambda a: all("\0" not in x for x in a)))
def test_whole_processes_never_print_a_traceback(argv):
    done = subprocess.run([sys.executable, "-m", "llm_roofline.cli", *argv], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode in (0, 2) and "Traceback" not in done.stderr, (argv, done.stderr[-3000:])


NASTY_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**400), 10**400), st.integers(-3, 40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6), st.binary(max_size=3),
    st.lists(st.integers(-5, 2000), min_size=0, max_size=3), st.lists(st.lists(st.integers(1, 4), max_size=2),
                                                                     max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.sets(st.integers(1, 5), max_size=3),
    st.sampled_from([np.array([1, 2], dtype=np.int8), np.array(["a"]), np.array([[1]]), np.bool_(True),
                     np.float32(8.0), np.int64(4), np.nan, "int4", "fp8", "16", " 8 ", range(1, 4), (2, 4)]),
)
SCENARIO_KEYS = ["batch_size", "prompt_len", "gen_len", "kv_len", "w_bits", "a_bits", "kv_bits", "group_size",
                 "scale_bits", "flash_attention", "logits_all", "efficiency"]
TINY = VARIED_MODELS["llama"]()
DEVICE = lr.load_hardware("a6000")


@fuzz(150)
@given(values=st.dictionaries(st.sampled_from(SCENARIO_KEYS), NASTY_VALUES, min_size=1, max_size=3),
       grid=st.booleans())
def test_the_api_returns_a_strict_report_or_a_roofline_error(values, grid):
    try:
        if grid:
            result = lr.sweep(TINY, DEVICE, **values)
            assert len(result) <= 100_000
            json.dumps(result.report(len(result) - 1).to_dict(), allow_nan=False)
        else:
            json.dumps(lr.analyze(TINY, DEVICE, **values).to_dict(), allow_nan=False)
    except lr.RooflineError as exc:
        message = str(exc)
        assert message and len(message) < 600 and "\n" not in message


OVERRIDES = ["memory_bandwidth_bytes_per_s", "memory_capacity_bytes", "peak_flops_per_s"]


@fuzz(100)
@given(values=st.dictionaries(st.sampled_from(OVERRIDES), st.one_of(
    NASTY_VALUES, st.floats(0, 1e20), st.dictionaries(st.sampled_from(["fp16", "int8", "fp99", ""]), NASTY_VALUES,
                                                      max_size=2)), min_size=1, max_size=3))
def test_device_overrides_give_a_device_or_a_roofline_error(values):
    try:
        device = lr.load_hardware("h100-sxm", **values)
    except lr.RooflineError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 600
        return
    json.dumps(lr.analyze(TINY, device, gen_len=3).to_dict(), allow_nan=False)


def _log_uniform(low: float, high: float):
    return st.floats(math.log10(low), math.log10(high)).map(lambda e: min(max(10.0 ** e, low), high))


def _int_in(name: str):
    low, high = SCENARIO_LIMITS[name]
    return st.one_of(st.sampled_from([low, high]), _log_uniform(max(low, 1), high).map(round))


@st.composite
def devices(draw) -> lr.Hardware:
    bw_lo, bw_hi, _ = HARDWARE_RANGES["memory_bandwidth_bytes_per_s"]
    cap_lo, cap_hi, _ = HARDWARE_RANGES["memory_capacity_bytes"]
    pk_lo, pk_hi, _ = HARDWARE_RANGES["peak_flops_per_s"]
    peaks = draw(st.dictionaries(st.sampled_from(["fp32", "fp16", "bf16", "int8", "fp8", "int4"]),
                                 _log_uniform(pk_lo, pk_hi), min_size=1, max_size=4))
    return lr.Hardware(name="fuzz", memory_bandwidth_bytes_per_s=draw(_log_uniform(bw_lo, bw_hi)),
                       memory_capacity_bytes=draw(_log_uniform(cap_lo, cap_hi)), peak_flops_per_s=peaks)


@st.composite
def huge_configs(draw) -> dict:
    """Llama / Mixtral configs with every size anywhere up to the documented limits (MODEL_LIMITS: width
    2**20, MLP 2**24, vocabulary 2**24, heads and head size 2**16, experts 2**16, 10,000 layers)."""
    heads = draw(st.integers(1, MODEL_LIMITS["heads"]))
    head_dim = draw(st.integers(1, min(MODEL_LIMITS["head_dim"], MODEL_LIMITS["width"] // heads)))
    config = {"model_type": draw(st.sampled_from(["llama", "mixtral", "qwen2"])), "hidden_size": heads * head_dim,
              "num_attention_heads": heads, "num_key_value_heads": draw(st.sampled_from([1, heads])),
              "intermediate_size": draw(st.integers(1, MODEL_LIMITS["ffn"])),
              "vocab_size": draw(st.integers(1, MODEL_LIMITS["vocab"])),
              "num_hidden_layers": draw(st.integers(1, MODEL_LIMITS["layers"])),
              "tie_word_embeddings": draw(st.booleans())}
    if config["model_type"] == "mixtral":
        experts = draw(st.integers(1, MODEL_LIMITS["experts"]))
        config.update(num_local_experts=experts, num_experts_per_tok=draw(st.integers(1, experts)))
    return config


@fuzz(30)
@given(model=st.one_of(st.sampled_from(sorted(VARIED_MODELS)), huge_configs()), device=devices(),
       batch=_int_in("batch_size"), prompt=_int_in("prompt_len"), gen=_int_in("gen_len"),
       bits=st.lists(st.integers(1, MAX_BITS), min_size=3, max_size=3), flash=st.booleans(),
       group=st.integers(0, 2**20), scale=st.integers(1, 32),
       fractions=st.lists(st.floats(*FRACTION_LIMITS), min_size=2, max_size=2), overhead=st.floats(0, 0.999999))
def test_every_valid_input_gives_finite_numbers_and_strict_json(model, device, batch, prompt, gen, bits, flash,
                                                                  group, scale, fractions, overhead):
    from llm_roofline.models.hf_config import spec_from_hf_config

    spec = VARIED_MODELS[model]() if isinstance(model, str) else spec_from_hf_config(model, name="fuzz")
    eff = {"compute_fraction": fractions[0], "bandwidth_fraction": fractions[1], "kernel_overhead_s": overhead}
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # inf or NaN anywhere in the engine fails
        report = lr.analyze(spec, device, batch_size=batch, prompt_len=prompt, gen_len=gen, w_bits=bits[0],
                            a_bits=bits[1], kv_bits=bits[2], flash_attention=flash, group_size=group,
                            scale_bits=scale, efficiency=eff)
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert "Infinity" not in text and "NaN" not in text
    assert report.generation.e2e_s > 0 and math.isfinite(report.memory.total_bytes)
