"""Recurrent-state precision (``state_bits``), separate from the KV cache's ``kv_bits``.

transformers keeps the SSM / delta-rule state in float32 in a bf16 model and the conv state in the
activations' dtype (see cache.py), so the defaults are 32 and a_bits. Every expected value is derived by
hand from the model's published sizes.
"""

from __future__ import annotations

import json

import pytest

from llm_roofline import analyze, sweep
from llm_roofline.cli import main
from llm_roofline.errors import ScenarioError

from conftest import op, small_hybrid

H100 = "h100-sxm"
MAMBA = "state-spaces/mamba-2.8b-hf"  # 64 layers, d_inner 2 * 2560 = 5120, d_conv 4, d_state 16


@pytest.mark.parametrize(("state_bits", "state_bytes"), [(32, 4), (16, 2), ("bf16", 2), ("fp32", 4)])
def test_mamba_state_memory_follows_state_bits(state_bits, state_bytes):
    B = 3
    r = analyze(MAMBA, H100, batch_size=B, prompt_len=500, gen_len=10, state_bits=state_bits)
    # per layer: conv state 5120 x 4 at 2 bytes (a_bits 16) + SSM state 5120 x 16 at state_bytes.
    assert r.memory.kv_cache_bytes == B * 64 * (5120 * 4 * 2 + 5120 * 16 * state_bytes)


def test_kv_bits_do_not_touch_a_recurrent_state():
    a = analyze(MAMBA, H100, batch_size=2, prompt_len=100, kv_bits=4)
    b = analyze(MAMBA, H100, batch_size=2, prompt_len=100, kv_bits=16)
    assert a.memory.kv_cache_bytes == b.memory.kv_cache_bytes == 2 * 64 * 5120 * (4 * 2 + 16 * 4)


def test_the_conv_state_is_kept_at_activation_precision():
    r = analyze(MAMBA, H100, batch_size=1, prompt_len=100, a_bits=32)
    assert r.memory.kv_cache_bytes == 64 * 5120 * (4 * 4 + 16 * 4)


def test_decode_reads_and_writes_the_state_at_state_precision():
    B = 5
    for bits, nbytes in ((32, 4), (8, 1 + 16 / (8 * 128))):  # 8 bits: one 16-bit scale per group of 128
        r = analyze(MAMBA, H100, batch_size=B, prompt_len=64, state_bits=bits)
        scan, conv = op(r.decode, "selective_scan"), op(r.decode, "conv1d")
        assert scan.kv_read_bytes == scan.kv_write_bytes == pytest.approx(B * 5120 * 16 * nbytes, rel=1e-12)
        assert conv.kv_read_bytes == conv.kv_write_bytes == B * 5120 * 4 * 2
        prefill_scan = op(r.prefill, "selective_scan")
        assert prefill_scan.kv_read_bytes == 0  # a fresh prompt starts from a zero state
        assert prefill_scan.kv_write_bytes == pytest.approx(B * 5120 * 16 * nbytes, rel=1e-12)


def test_jamba_attention_kv_and_mamba_state_use_their_own_bits():
    # tiny hybrid (conftest): 3 Mamba layers (d_inner 256, conv 4, state 16) + 1 attention layer (2 KV heads x 32).
    model = small_hybrid()
    B, P, G = 2, 40, 8
    r = analyze(model, H100, batch_size=B, prompt_len=P, gen_len=G, kv_bits=8, state_bits=16, group_size=0)
    mamba = 3 * (256 * 4 * 2 + 256 * 16 * 2)
    attention = (P + G) * 2 * 2 * 32 * 1
    assert r.memory.kv_cache_bytes == B * (mamba + attention)


def test_state_bits_in_the_json_scenario_and_the_sweep(capsys):
    code = main(["analyze", MAMBA, H100, "--state-bits", "16", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["scenario"]["state_bits"] == 16 and data["scenario"]["state_family"] == "float"
    assert data["memory"]["kv_cache_bytes"] == 64 * 5120 * (4 * 2 + 16 * 2)
    assert analyze(MAMBA, H100).scenario["state_bits"] == 32
    result = sweep(MAMBA, H100, state_bits=[8, 16, 32], group_size=0)
    assert list(result.columns["state_bits"]) == [8, 16, 32]
    assert list(result.columns["kv_cache_bytes"]) == [64 * 5120 * (8 + 16 * b) for b in (1, 2, 4)]


def test_sweep_cli_takes_state_bits(capsys):
    code = main(["sweep", MAMBA, H100, "--state-bits", "16,32", "--format", "json", "--group-size", "0"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["state_bits"] for r in rows] == [16, 32]


@pytest.mark.parametrize("bad", [0, 33, 2.5, True, "fp7"])
def test_bad_state_bits_name_the_field(bad):
    with pytest.raises(ScenarioError, match="state_bits"):
        analyze(MAMBA, H100, state_bits=bad)


def test_state_bits_is_checked_where_the_cli_parses_it(capsys):
    for command in (["analyze", MAMBA, H100], ["plot", "roofline", MAMBA, H100, "-o", "x.png"]):
        assert main([*command, "--state-bits", "33"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--state-bits" in err and "1..32" in err


def test_figures_take_state_bits():
    # The memory panel of the quantization figure: per sequence 64 x 5120 x (conv 4 x 2 B + state 16 x s B).
    from llm_roofline.plots import data

    for bits, size in ((32, 4), (8, 1)):
        panel = data.memory_breakdown(MAMBA, H100, configs=[("FP16", 16, 16, 16)], scenarios=[(2, 100)],
                                      state_bits=bits, group_size=0)
        assert panel.kv_cache_bytes[0, 0] == 2 * 64 * 5120 * (4 * 2 + 16 * size)


def test_the_web_api_takes_state_bits():
    pytest.importorskip("pydantic")
    from pydantic import ValidationError

    from llm_roofline.web import service
    from llm_roofline.web.schemas import AnalyzeRequest

    report = service.report(AnalyzeRequest(model=MAMBA, hardware=H100, state_bits=16, prompt_len=100))
    assert report["scenario"]["state_bits"] == 16
    assert report["memory"]["kv_cache_bytes"] == 64 * 5120 * (4 * 2 + 16 * 2)
    with pytest.raises(ValidationError):
        AnalyzeRequest(model=MAMBA, hardware=H100, state_bits=64)
