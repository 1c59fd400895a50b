"""Refitting: the shipped parameters come back from the shared tables; a known curve comes back from
synthetic tables; measured rows lie within each fit's stated error. Skips without the optional
extra (pandas, pyarrow, scipy) or without ../shared/kernel-data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
pytest.importorskip("scipy")

from llm_roofline.cli import main  # noqa: E402
from llm_roofline.efficiency import calibrate, fitdata  # noqa: E402
from llm_roofline.efficiency.catalog import load_params  # noqa: E402
from llm_roofline.efficiency.curves import Curve  # noqa: E402

TABLES = Path(__file__).resolve().parents[2] / "shared" / "kernel-data"
needs_tables = pytest.mark.skipif(not TABLES.is_dir(), reason="../shared/kernel-data is not present")


def _shipped(system, fs):
    return load_params(system)["curves"][fs.kernels][fs.cls][fs.fmt]


@needs_tables
@pytest.mark.parametrize("loader, kernels, cls, fmt", [
    (fitdata.gemm_sets, "trtllm", "gemm", "bf16"),
    (fitdata.attention_sets, "vllm", "attention_decode", "bf16"),
    (fitdata.attention_sets, "trtllm", "attention_decode", "bf16"),  # with the engine's per-head kernel rule
    (fitdata.moe_sets, "trtllm", "moe", "bf16"),
])
def test_refit_reproduces_the_shipped_parameters(loader, kernels, cls, fmt):
    """The same rows through the same deterministic fit give the shipped curve: the same predicted
    time on every row (parameters the rows barely determine may differ in their last digits; the
    shipped ones are rounded to 6 significant digits) and the same stated errors."""
    sets = loader(TABLES, "h100_sxm", engines=(kernels,))
    fs = next(s for s in sets if (s.kernels, s.cls, s.fmt) == (kernels, cls, fmt))
    elementwise = Curve.from_dict(load_params("h100_sxm")["curves"][kernels]["elementwise"]["bf16"]["params"])
    for term in fs.terms:  # MoE layers: their elementwise operators at the (shipped) elementwise curve
        if term.cls == "elementwise":
            term.curve = elementwise
    shipped = _shipped("h100_sxm", fs)
    curve = calibrate.fit(fs)
    refit, ship = calibrate.predict(fs, curve), calibrate.predict(fs, Curve.from_dict(shipped["params"]))
    assert np.max(np.abs(refit / ship - 1)) < 2e-3
    for name in ("t0_s", "compute_eff", "memory_eff", "knee"):
        assert curve.to_dict()[name] == pytest.approx(shipped["params"][name], rel=1e-2), name
    again = calibrate.entry(fs, curve)
    assert again["rows"] == shipped["rows"]
    assert again["median_error"] == pytest.approx(shipped["median_error"], abs=1e-3)


@needs_tables
def test_a_measured_row_lies_within_the_stated_error():
    """H100 SXM, TensorRT-LLM, bf16 GEMM m=1, n=k=4096: the table's latency (read here) against the
    engine's calibrated time of a Llama-2-7B q_proj at batch 1 (the same GEMM), within the fit's
    stated 90th-percentile error."""
    import llm_roofline as lr

    from conftest import llama

    folder = sorted((TABLES / "h100_sxm" / "gemm" / "trtllm").glob("*"))[-1]
    df = pd.read_parquet(folder / "gemm_perf.parquet")
    row = df[(df.gemm_dtype == "bfloat16") & (df.m == 1) & (df.n == 4096) & (df.k == 4096)]
    measured = float(row.latency.iloc[0]) * 1e-3
    r = lr.analyze(llama(), "h100-sxm", batch_size=1, prompt_len=8, efficiency="calibrated", engine="trtllm")
    op = next(o for o in r.decode.ops if o.name == "q_proj")
    stated = load_params("h100_sxm")["curves"]["trtllm"]["gemm"]["bf16"]["p90_error"]
    assert abs(op.time_s / measured - 1) <= stated
    assert op.time_s > op.roofline_time_s


@needs_tables
def test_tensorrt_llm_per_head_decode_rows_lie_within_the_stated_error():
    """H100 SXM TensorRT-LLM decode attention, 64 query heads on 1 KV head (beyond XQA's group limit
    of 32: masked MHA, one CTA per query head), head size 128, bf16, batch 8, 4096 keys (a row read
    here): the shipped curve predicts it within its stated p90 error; the same curve without
    the per-head rule (one grouped kernel) is more than 3x too fast."""
    folder = sorted((TABLES / "h100_sxm" / "attention" / "trtllm").glob("*"))[-1]
    df = pd.read_parquet(folder / "generation_attention_perf.parquet")
    row = df[(df.num_heads == 64) & (df.num_key_value_heads == 1) & (df.head_dim == 128) & (df.batch_size == 8)
             & (df.isl + df.step == 4096) & (df.window_size == 0) & (df.kv_cache_dtype == "bfloat16")].iloc[0]
    hw = fitdata.load_hardware("h100-sxm")
    terms = fitdata._attention_terms(hw, np.array([8.0]), np.array([1.0]), np.array([4096.0]), heads=64,
                                     kv_heads=1, qk_dim=128, v_dim=128, window=np.inf, a_bits="bf16", kv_bits="bf16")
    fs = fitdata.FitSet("h100_sxm", "trtllm", "attention_decode", "bf16", np.array([row.latency * 1e-3]),
                        np.array(["64/1x128"]), terms, hw.memory_bandwidth_bytes_per_s, int(hw.sm_count))
    shipped = load_params("h100_sxm")["curves"]["trtllm"]["attention_decode"]["bf16"]
    curve = Curve.from_dict(shipped["params"])
    assert curve.group_limit == 32.0
    assert calibrate.errors(fs, curve)[0] <= shipped["p90_error"]
    grouped = Curve.from_dict({**shipped["params"], "group_limit": 0.0})
    assert calibrate.predict(fs, grouped)[0] < fs.measured[0] / 3


def _synthetic_tables(root: Path, curve: Curve) -> None:
    """A100 GEMM tables (bf16, trtllm) whose latencies follow ``curve`` exactly, through the engine's
    own roofline inputs (the same path the fitter takes)."""
    rows = [(m, n, k) for m in (1, 4, 16, 64, 256, 1024, 4096) for n in (512, 2048, 8192) for k in (256, 1024, 8192)]
    df = pd.DataFrame(rows, columns=["m", "n", "k"])
    df["gemm_dtype"], df["kernel_source"], df["latency"] = "bfloat16", "synthetic", 1.0
    folder = root / "a100_sxm" / "gemm" / "trtllm" / "0.0"
    folder.mkdir(parents=True)
    df.to_parquet(folder / "gemm_perf.parquet")
    fs = next(s for s in fitdata.gemm_sets(root, "a100_sxm") if s.fmt == "bf16")
    truth = calibrate.predict(fs, curve)
    order = {f"{n}x{k}": g.index for (n, k), g in df.groupby(["n", "k"])}
    latency = np.empty(len(df))
    latency[np.concatenate([order[label] for label in dict.fromkeys(fs.groups)])] = truth
    df["latency"] = latency * 1e3  # the tables are in milliseconds
    df.to_parquet(folder / "gemm_perf.parquet")


def test_calibrate_recovers_a_known_curve(tmp_path, capsys):
    """`llm-roofline calibrate` on synthetic tables made from a known curve writes that curve back."""
    truth = Curve(t0_s=3e-6, t1_s=4e-6, depth_half=800.0, compute_eff=0.75, memory_eff=0.85, knee=2.5,
                  extra_bytes=0.0)
    _synthetic_tables(tmp_path / "tables", truth)
    code = main(["calibrate", "--tables", str(tmp_path / "tables"), "--out", str(tmp_path / "out"),
                 "--system", "a100_sxm"])
    assert code == 0, capsys.readouterr().err
    import json

    doc = json.loads((tmp_path / "out" / "a100_sxm.json").read_text())
    entry = doc["curves"]["trtllm"]["gemm"]["bf16"]
    assert entry["median_error"] < 1e-3
    for name in ("t0_s", "compute_eff", "memory_eff", "knee"):
        assert entry["params"][name] == pytest.approx(truth.to_dict()[name], rel=0.02), name
    assert "elementwise" in doc["curves"]["trtllm"]


def test_calibrate_without_tables_is_a_clear_error(tmp_path, capsys):
    assert main(["calibrate", "--tables", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
