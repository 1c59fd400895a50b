"""Named storage formats: bits per weight from each format's definition, the footprint they give,
the peak they run at, and the kernel family the calibrated curves use."""

from __future__ import annotations

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.efficiency.formats import attention_format_keys, weight_format_keys
from llm_roofline.precision import Format
from llm_roofline.quant_formats import QUANT_FORMATS, quant_format
from llm_roofline.scenario import Scenario

from conftest import llama

# Bits per weight, derived here from the layouts: (values + scales [+ zeros]) / elements per block.
EXPECTED = {
    "gptq": (128 * 4 + 16 + 4) / 128,        # group 128: int4 values, fp16 scale, int4 zero
    "awq": (128 * 4 + 16 + 4) / 128,
    "q4_0": (32 * 4 + 16) / 32,              # 18-byte blocks of 32
    "q8_0": (32 * 8 + 16) / 32,              # 34-byte blocks of 32
    "q4_k_m": 4.85,                          # the Q4_K / Q6_K mix (documented average)
    "nf4-dq": 4 + 8 / 64 + 32 / (64 * 256),  # QLoRA: 0.127 bits of constants per parameter
    "fp8-tensor": 8.0,
    "fp8-block": (128 * 128 * 8 + 32) / (128 * 128),
    "mxfp4": (32 * 4 + 8) / 32,              # E8M0 scale per 32
    "nvfp4": (16 * 4 + 8) / 16,              # E4M3 scale per 16
}


def test_bits_per_weight():
    assert set(EXPECTED) == set(QUANT_FORMATS)
    for name, bpw in EXPECTED.items():
        assert QUANT_FORMATS[name].bits_per_weight == pytest.approx(bpw, rel=1e-12), name
    assert quant_format("Q4_K_M") is QUANT_FORMATS["q4_k_m"]
    assert quant_format("awq-int4") is QUANT_FORMATS["awq"]
    assert quant_format("fp8_block") is QUANT_FORMATS["fp8-block"]
    assert quant_format("int4") is None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_footprint_uses_the_format_storage(name):
    """Weights bytes = linear and embedding parameters x bpw / 8 + norm weights at 16 bits
    (Llama-2-7B: 6,738,415,616 parameters of which 2*4096*32 + 4096 = 266,240 are norm weights)."""
    norms = 2 * 4096 * 32 + 4096
    r = lr.analyze(llama(), "h100-sxm", w_bits=name, prompt_len=16)
    expected = (6_738_415_616 - norms) * EXPECTED[name] / 8 + norms * 2
    assert r.memory.weights_bytes == pytest.approx(expected, rel=1e-12)
    assert r.scenario["w_format"] == QUANT_FORMATS[name].name


def test_weight_only_formats_run_at_the_activation_peak():
    """W4A16 dequantizes to 16 bits: the projections run at the bf16 peak; NVFP4 with FP4
    activations runs at the FP4 peak of a B200 (9 PFLOP/s dense)."""
    r = lr.analyze(llama(), "h100-sxm", w_bits="gptq", prompt_len=16)
    assert next(o for o in r.prefill.ops if o.name == "q_proj").peak_flops_per_s == pytest.approx(989.4e12)
    r = lr.analyze(llama(), "b200", w_bits="nvfp4", a_bits="nvfp4", prompt_len=16)
    assert next(o for o in r.prefill.ops if o.name == "q_proj").peak_flops_per_s == pytest.approx(9e15)


def test_format_keys():
    def keys(w, a):
        sc = Scenario.build(w_bits=w, a_bits=a)
        return weight_format_keys(sc.weights, sc.activations)[0]

    assert keys(16, 16) == "bf16"
    assert keys("fp8", "fp8") == "fp8"
    assert keys("fp8-block", "fp8") == "fp8_block"
    assert keys("int8", "int8") == "int8"
    assert keys("int8", 16) == "int8_wo"
    assert keys("q8_0", 16) == "int8_wo"
    assert keys("gptq", 16) == "int4_wo"
    assert keys("mxfp4", 16) == "mxfp4"
    assert keys("nvfp4", "nvfp4") == "nvfp4"
    a16, a8 = Format(np.array([16.0]), "float"), Format(np.array([8.0]), "float")
    assert attention_format_keys(a16, a16)[0] == "bf16"
    assert attention_format_keys(a16, a8)[0] == "fp8_kv"
    assert attention_format_keys(a8, a8)[0] == "fp8"


def test_cli_accepts_named_formats(capsys):
    from llm_roofline.cli import main

    assert main(["analyze", "meta-llama/Llama-2-7b-hf", "h100", "--w-bits", "q4_k_m", "--efficiency",
                 "calibrated", "--engine", "llama.cpp", "-f", "json"]) == 0
    assert '"w_format": "q4_k_m"' in capsys.readouterr().out
    assert main(["analyze", "meta-llama/Llama-2-7b-hf", "h100", "--w-bits", "q5_9"]) == 2
    assert "unknown format" in capsys.readouterr().err
