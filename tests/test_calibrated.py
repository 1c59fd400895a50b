"""The calibrated efficiency setting end to end: bounds, provenance, engines, the generation sum."""

from __future__ import annotations

import json

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.api import analyze_many, resolve_efficiency
from llm_roofline.efficiency.catalog import load_params
from llm_roofline.efficiency.curves import Curve
from llm_roofline.efficiency.engines import ENGINES
from llm_roofline.errors import ScenarioError
from llm_roofline.hardware.catalog import list_hardware

from conftest import llama, small_mla, small_moe

H100 = "h100-sxm"
MODELS = {"llama": llama(), "moe": small_moe(shared=64, gate=True), "mla": small_mla(),
          "gemma-window": llama(name="swa", window=64)}


def _all_costs(analysis):
    return (analysis.prefill, analysis.decode, analysis.decode_at0, analysis.decode_at1)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("engine", ["generic", "trtllm", "hf-eager"])
def test_calibrated_time_is_never_below_the_roofline(name, engine):
    """Every operator: time >= roofline_time, efficiency in (0, 1], fixed >= 0, and
    time = roofline_time / efficiency + fixed_time (the report's decomposition)."""
    a = analyze_many(MODELS[name], H100, efficiency="calibrated", engine=engine, batch_size=[1, 8, 256],
                     prompt_len=[17, 512, 4096], gen_len=[1, 100, 300], flash_attention=name != "llama",
                     w_bits=[16, 8, 4], a_bits=16)
    for costs in _all_costs(a):
        assert (costs.time_s >= costs.roofline_time_s * (1 - 1e-12)).all()
        assert (costs.fixed_time_s >= 0).all()
        assert ((costs.efficiency > 0) & (costs.efficiency <= 1 + 1e-12)).all()
        busy = costs.roofline_time_s > 0
        rebuilt = costs.roofline_time_s / costs.efficiency + costs.fixed_time_s
        assert np.allclose(rebuilt[busy], costs.time_s[busy], rtol=1e-9)
    ideal = analyze_many(MODELS[name], H100, batch_size=[1, 8, 256], prompt_len=[17, 512, 4096],
                         gen_len=[1, 100, 300], flash_attention=name != "llama", w_bits=[16, 8, 4])
    assert (a.generation.ttft_s >= ideal.generation.ttft_s).all()
    assert (a.generation.e2e_s >= ideal.generation.e2e_s).all()


def test_gemm_time_grows_with_the_batch():
    """The curve is monotone in the work: a projection over more tokens never takes less time."""
    batches = np.arange(1, 600, 7)
    a = analyze_many(llama(), H100, efficiency="calibrated", batch_size=batches, prompt_len=64)
    i = a.decode.table.names.index("q_proj")
    assert (np.diff(a.decode.time_s[i]) >= 0).all()
    assert (np.diff(a.prefill.time_s[i]) >= 0).all()


def test_generation_sum_matches_a_step_by_step_loop():
    """The quadrature over decode steps against the sum of independently analysed steps at
    KV length P+1 .. P+G (one analysis per step), with and without a sliding window."""
    for model in (llama(), llama(name="swa", window=64)):
        for P, G, B in ((200, 150, 4), (10, 5000, 64), (1, 2, 256)):
            for fa in (True, False):
                total = analyze_many(model, H100, efficiency="calibrated", prompt_len=P, gen_len=G, batch_size=B,
                                     flash_attention=fa).generation.decode_s[0]
                steps = analyze_many(model, H100, efficiency="calibrated", prompt_len=P, batch_size=B,
                                     flash_attention=fa, kv_len=np.arange(P + 1, P + G + 1))
                assert total == pytest.approx(steps.decode_total.time_s.sum(), rel=1e-4)


def test_a_gemm_by_hand_from_the_shipped_parameters():
    """q_proj of Llama-2-7B at batch 1 (M = 1, N = K = 4096, bf16) on H100 SXM with the generic
    engine, recomputed here from the JSON: tc = 2*4096^2 / 989.4e12, tm = (4096^2*2 + 2*4096*2) /
    3.35e12; t = t0 + (lat^p + (tc/ec)^p + (tm/em)^p)^(1/p) + q * M*K / BW."""
    p = load_params("h100_sxm")["curves"]["pooled"]["gemm"]["bf16"]["params"]
    tc = 2 * 4096**2 / 989.4e12
    tm = (4096**2 * 2 + 2 * 4096 * 2) / 3.35e12
    lat = p["t1_s"] * 4096 / (4096 + p["depth_half"])
    body = (lat ** p["knee"] + (tc / p["compute_eff"]) ** p["knee"] + (tm / p["memory_eff"]) ** p["knee"]) \
        ** (1 / p["knee"])
    expected = p["t0_s"] + body + p["extra_bytes"] * 4096 / 3.35e12
    r = lr.analyze(llama(), H100, batch_size=1, prompt_len=8, efficiency="calibrated")
    op = next(o for o in r.decode.ops if o.name == "q_proj")
    assert op.time_s == pytest.approx(expected, rel=1e-9)
    assert op.roofline_time_s == pytest.approx(max(tc, tm), rel=1e-12)
    assert op.fixed_time_s == pytest.approx(p["t0_s"])
    assert op.efficiency_source.startswith("fitted: h100_sxm pooled gemm bf16")


def test_provenance_of_fitted_derived_and_foreign_devices():
    def source(device, **kw):
        r = lr.analyze(llama(), device, prompt_len=16, efficiency="calibrated", **kw)
        return next(o for o in r.decode.ops if o.name == "o_proj").efficiency_source, r.hardware["efficiency"]

    text, eff = source("h200")
    assert text.startswith("fitted: h200_sxm") and eff["curves"] == "fitted on its own kernel tables"
    text, eff = source("a100-40g-sxm")
    assert "derived for a100-40g-sxm by datasheet ratio" in text and "a100_sxm" in text
    assert eff["curves_from"] == "a100_sxm"
    text, _ = source("mi300x")
    assert "derived for mi300x" in text and "h100_sxm" in text
    text, _ = source(H100, w_bits="gptq")  # no H100 table of W4A16 GEMMs: the A100's, by ratio
    assert "int4_wo" in text and "a100_sxm" in text


@pytest.mark.parametrize("device", [d.name for d in list_hardware()])
def test_every_catalog_device_has_curves(device):
    a = analyze_many(small_mla(), device, efficiency="calibrated", prompt_len=32, flash_attention=True,
                     w_bits=[16, 8], kv_bits=[16, 8])
    assert np.isfinite(a.generation.ttft_s).all()
    assert all(s for s in a.decode.sources)


def test_engines_differ_and_eager_costs_host_time():
    times = {e: lr.analyze(llama(), H100, prompt_len=512, gen_len=64, efficiency="calibrated",
                           engine=e, flash_attention=True).generation.tpot_s for e in ENGINES}
    assert len({round(t, 9) for t in times.values()}) >= 4
    assert times["hf-eager"] > times["vllm"]
    eager = lr.analyze(llama(), H100, prompt_len=512, efficiency="calibrated", engine="hf-eager")
    assert all(op.time_s >= 27e-6 for op in eager.decode.ops if op.flops > 0 or op.bytes > 0)


def test_bad_combinations_are_clear_errors():
    with pytest.raises(ScenarioError, match="did you mean: vllm"):
        resolve_efficiency("calibrated", lr.load_hardware(H100), engine="vlm")
    with pytest.raises(ScenarioError, match="efficiency='calibrated'"):
        lr.analyze(llama(), H100, engine="vllm")
    with pytest.raises(ScenarioError, match="fitted per-kernel curves"):
        resolve_efficiency("calibrated", lr.load_hardware(H100), compute_fraction=0.5)


def test_report_fields_and_json():
    r = lr.analyze(small_moe(), H100, prompt_len=64, gen_len=8, efficiency="calibrated", engine="sglang")
    d = json.loads(json.dumps(r.to_dict()))
    op = d["decode"]["ops"][0]
    assert {"roofline_time_s", "efficiency", "fixed_time_s", "efficiency_source"} <= set(op)
    assert d["hardware"]["efficiency"]["mode"] == "calibrated"
    assert d["hardware"]["efficiency"]["engine"] == "sglang"
    experts = [o for o in r.decode.ops if o.name.startswith("experts.gate")]
    assert experts and "moe" in experts[0].efficiency_source
    ideal = lr.analyze(small_moe(), H100, prompt_len=64).decode.ops[3]
    assert ideal.efficiency == 1.0 and ideal.fixed_time_s == 0.0 and ideal.efficiency_source == "ideal roofline"


def test_sweep_matches_analyze():
    s = lr.sweep(llama(), H100, efficiency="calibrated", engine="vllm", batch_size=[1, 4], prompt_len=[128, 1024],
                 gen_len=32)
    one = lr.analyze(llama(), H100, efficiency="calibrated", engine="vllm", batch_size=4, prompt_len=1024, gen_len=32)
    row = s.to_records()[-1]
    assert row["tpot_s"] == pytest.approx(one.generation.tpot_s, rel=1e-12)
    assert row["ttft_s"] == pytest.approx(one.generation.ttft_s, rel=1e-12)


def test_shipped_parameters_load_and_are_in_bounds():
    for system in ("a100_sxm", "h100_sxm", "h200_sxm", "b200_sxm"):
        doc = load_params(system)
        for classes in doc["curves"].values():
            for formats in classes.values():
                for entry in formats.values():
                    Curve.from_dict(entry["params"])  # raises on a value outside its bounds


def test_overridden_device_keeps_its_generation():
    """A catalog A100 with a changed bandwidth keeps the A100's curves, derived by ratio."""
    r = lr.analyze(llama(), lr.load_hardware("a100-80g-sxm", memory_bandwidth_bytes_per_s=1e12), prompt_len=16,
                   efficiency="calibrated")
    assert r.hardware["efficiency"]["curves_from"] == "a100_sxm"
    assert "derived for a100-80g-sxm (custom)" in r.decode.ops[2].efficiency_source


def test_cli_and_web_accept_calibrated(capsys):
    """The CLI's JSON and the web API's answer are the same report (the web takes the API's values)."""
    from llm_roofline.cli import main

    args = ["meta-llama/Llama-2-7b-hf", "h100", "-g", "16", "--flash-attention"]
    assert main(["analyze", *args, "--efficiency", "calibrated", "-f", "json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["hardware"]["efficiency"]["engine"] == "generic"
    assert main(["analyze", *args, "--engine", "vllm"]) == 2
    assert "efficiency='calibrated'" in capsys.readouterr().err
    assert main(["sweep", "meta-llama/Llama-2-7b-hf", "h100", "--batch-size", "1,8", "--efficiency", "calibrated",
                 "--engine", "sglang", "--format", "csv"]) == 0
    capsys.readouterr()
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    from llm_roofline.web.server import serve_in_thread

    with serve_in_thread() as url, httpx.Client(base_url=url, timeout=30) as client:
        body = {"model": "meta-llama/Llama-2-7b-hf", "hardware": "h100", "gen_len": 16, "flash_attention": True,
                "efficiency": "calibrated"}
        response = client.post("/api/analyze", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == cli


def test_the_main_job_needs_neither_pandas_nor_scipy():
    """Calibrated analyses read only the shipped JSON: pandas, pyarrow and scipy stay unimported."""
    import subprocess
    import sys

    code = ("import sys, llm_roofline as lr; lr.analyze('meta-llama/Llama-2-7b-hf', 'h100', gen_len=8, "
            "efficiency='calibrated', engine='vllm'); "
            "print(sorted(m for m in ('pandas', 'pyarrow', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_kernel_family_without_curves_keeps_its_roofline_time():
    """An operator whose shape names a family without curves (a collective, say) is left at its
    datasheet roofline time, and says so; one without a shape is an elementwise kernel."""
    from llm_roofline.efficiency.model import calibrated
    from llm_roofline.ops import OpTableBuilder
    from llm_roofline.roofline import roofline
    from llm_roofline.scenario import Scenario

    ops = OpTableBuilder(n=1)
    ops.add("all_reduce", "comm", 1, act_read=4e6, act_write=4e6, shape={"kernel": "all_reduce"})
    ops.add("add", "elementwise", 1, flops=1e6, act_read=4e6, act_write=2e6)
    device = lr.load_hardware(H100)
    costs = roofline(ops.build(), Scenario.build(), device, calibrated(device))
    assert costs.time_s[0, 0] == pytest.approx(8e6 / 3.35e12) and costs.fixed_time_s[0, 0] == 0
    assert "no calibrated curve for kernel 'all_reduce'" in costs.sources[0]
    assert costs.time_s[1, 0] > costs.roofline_time_s[1, 0] and "elementwise" in costs.sources[1]
