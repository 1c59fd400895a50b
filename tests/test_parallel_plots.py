"""`plot scaling`: its numbers are the engine's, combinations the model forbids are left out with the
reason, and the figure is written."""

from __future__ import annotations

import pytest

import llm_roofline as lr
from llm_roofline.cli import main
from llm_roofline.errors import ScenarioError
from llm_roofline.plots import scaling

from conftest import llama

MODEL = llama("tiny", D=512, L=4, N=8, K=2, F=1024, V=1000)


def test_scaling_data_are_the_engine_numbers():
    data = scaling(MODEL, "dgx-h100", devices=[1, 2, 4, 8, 16], batch_size=8, gen_len=16)
    curves = {c.strategy: c for c in data.curves}
    assert set(curves) == {"tp", "pp", "tp_pp"}  # no experts: no EP curves
    tp = curves["tp"]
    assert list(tp.devices) == [1, 2, 4, 8]  # tp 16 exceeds the 8 query heads
    alone = lr.analyze(MODEL, "dgx-h100", tp=4, batch_size=8, gen_len=16)
    assert tp.tpot_s[2] == pytest.approx(alone.generation.tpot_s)
    assert tp.tokens_per_s_per_device[2] == pytest.approx(alone.generation.throughput_tokens_per_s_per_device)
    assert tp.memory_bytes[2] == pytest.approx(alone.memory.total_bytes)
    assert any("TP on 16 devices" in reason and "query heads" in reason for reason in data.skipped)
    assert list(curves["pp"].devices) == [1, 2, 4]  # pp <= 4 layers
    assert data.capacity_bytes == 80e9


def test_unknown_strategy_is_named():
    with pytest.raises(ScenarioError, match="unknown strategy 'zz'"):
        scaling(MODEL, "dgx-h100", strategies=["zz"])


def test_plot_scaling_command_writes_the_figure(tmp_path, capsys):
    out = tmp_path / "scaling.png"
    code = main(["plot", "scaling", "mixtral-8x7b", "dgx-h100", "--devices", "1,2,4,8", "-b", "32", "-g", "16",
                 "--strategies", "tp,ep", "-o", str(out)])
    assert code == 0 and out.stat().st_size > 10_000
    code = main(["plot", "scaling", "mixtral-8x7b", "dgx-h100", "--strategies", "nope", "-o", str(out)])
    assert code == 2 and "unknown strategy" in capsys.readouterr().err
