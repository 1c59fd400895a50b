"""Reading a measured serving table and mapping its rows to serving calls (hand-checked rows of
tests/data/serving-small.csv, written for these tests), the error statistics on hand-computed values,
and the worker layouts of TensorRT-LLM / SGLang rows as parallel Deployments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llm_roofline.errors import ConfigError, DeploymentError
from llm_roofline.parallel.deployment import worker_deployment
from llm_roofline.validation.cases import Case, Skipped, catalog_model, map_row
from llm_roofline.validation.stats import error_stats, errors_pct
from llm_roofline.validation.table import read_table

SMALL = Path(__file__).parent / "data" / "serving-small.csv"


@pytest.fixture(scope="module")
def mapped():
    return {m.row.id: m for m in (map_row(r) for r in read_table(SMALL))}


def test_rows_keep_their_line_and_cells():
    rows = read_table(SMALL)
    assert [r.line for r in rows] == list(range(2, 2 + len(rows)))  # the header is line 1
    assert rows[0].id == "dense_tp2_fp8" and rows[0].number("isl") == 1024.0
    assert rows[0].stated_concurrency() == 16.0  # "silicon_concurrency=16" in the data source
    assert rows[1].stated_concurrency() is None and rows[1].number("attention_dp_size") is None


def test_dense_row_concurrency_formats_and_worker(mapped):
    case = mapped["dense_tp2_fp8"]
    assert isinstance(case, Case)
    # nvidia/Llama-3.1-8B-Instruct-FP8 -> the base architecture; the quant columns give the formats
    assert case.model == "meta-llama/Llama-3.1-8B"
    assert (case.w_bits, case.a_bits, case.kv_bits) == ("fp8-tensor", "fp8", "fp8")
    assert case.concurrency == 16.0  # the source's concurrency, not batch_size (8, per GPU here)
    assert (case.agg.tp, case.agg.attention_dp, case.agg.ep, case.agg.workers) == (2, 1, 1, 1)
    assert case.agg.max_seqs == 16 and case.agg.max_batch_tokens == 8192  # every request runs; 8192 per rank
    assert (case.ttft_s, case.tpot_s) == (0.1, 0.005) and case.engine == "trtllm" and case.system == "h100_sxm"


def test_empty_quant_columns_are_the_checkpoints_bf16(mapped):
    case = mapped["dense_bf16"]
    assert (case.w_bits, case.a_bits, case.kv_bits) == (16, 16, 16)
    assert case.concurrency == 4.0  # batch_size, as no data source states one
    assert case.agg.ep == 1  # a dense model ignores the MoE columns (moe_ep_size 0 here)


def test_attention_dp_with_expert_parallelism(mapped):
    case = mapped["moe_adp8_ep8"]
    w = case.agg
    assert (w.tp, w.attention_dp, w.ep) == (1, 8, 8)
    assert w.max_batch_tokens == 8 * 8192  # a token budget per attention-DP rank
    assert (case.w_bits, case.a_bits, case.kv_bits) == ("nvfp4", "nvfp4", "fp8")  # fp4 runs keep an FP8 cache


def test_disaggregated_pools(mapped):
    case = mapped["disagg_pools"]
    assert case.mode == "disagg" and case.agg is None
    p, d = case.prefill, case.decode
    assert (p.workers, p.tp, p.attention_dp, p.ep) == (2, 8, 1, 8)
    assert (d.workers, d.tp, d.attention_dp, d.ep) == (1, 1, 8, 8)
    assert case.concurrency == 4 * 1 * 8  # decode_batch_size (per rank) x workers x attention-DP ranks
    assert d.max_seqs == 32 and p.max_seqs == 1 and p.max_batch_tokens == 8192  # max(isl, 8192) x 1 rank
    # gemm fp8 (per tensor) and experts fp8_block: same width, the experts' format (most of the weights)
    assert case.w_bits == "fp8-block"


def test_pipeline_parallel_rows_are_pipelined_workers(mapped):
    """Llama-3.1-70B at tp_size 2, pp_size 2: one worker of 2 stages of 2 devices (serving's pipelined
    worker, engine_cost.py)."""
    case = mapped["pipeline"]
    w = case.agg
    assert (w.workers, w.tp, w.pp, w.attention_dp, w.ep) == (1, 2, 2, 1, 1)
    assert w.gpus == 4 and w.deployment == {"tp": 2, "attention_dp": 1, "ep": 1, "pp": 2}


@pytest.mark.parametrize("row, words", [
    ("unknown_model", ["unknown model 'acme/NoSuchModel-7B'"]),
    ("bad_layout", ["moe_tp x moe_ep (4 x 1 = 4)", "tp x attention_dp (2 x 1 = 2)"]),
    ("bad_format", ["'int3_magic' has no named format"]),
])
def test_unpredictable_rows_say_why(mapped, row, words):
    skipped = mapped[row]
    assert isinstance(skipped, Skipped)
    for w in words:
        assert w in skipped.reason


def test_checkpoint_names_map_to_their_architecture():
    assert catalog_model("nvidia/DeepSeek-R1-NVFP4")[1].name == "deepseek-ai/DeepSeek-R1"
    assert catalog_model("nvidia/DeepSeek-V3.1-NVFP4")[1].name == "deepseek-ai/DeepSeek-V3"
    assert catalog_model("meta-llama/Llama-3.3-70B-Instruct")[1].name == "meta-llama/Llama-3.1-70B"


def test_a_table_without_the_columns_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,model_path\nx,y\n")
    with pytest.raises(ConfigError, match="missing column"):
        read_table(bad)
    with pytest.raises(ConfigError, match="no such file"):
        read_table(tmp_path / "nope.csv")


def test_error_statistics_by_hand():
    # predicted / measured: 0.5, 0.9, 1.1, 1.2, 3.0 -> errors -50, -10, +10, +20, +200 %
    e = errors_pct([0.5, 0.9, 1.1, 1.2, 3.0], [1.0, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(e, [-50.0, -10.0, 10.0, 20.0, 200.0], rtol=1e-12)
    s = error_stats(e)
    # |e| sorted: 10, 10, 20, 50, 200: median 20; p90 at rank 0.9 x 4 = 3.6: 50 + 0.6 x 150 = 140
    assert s.n == 5 and s.median_abs_pct == pytest.approx(20.0)
    assert s.p90_abs_pct == pytest.approx(140.0)
    assert s.bias_pct == pytest.approx(10.0)  # the median signed error
    assert s.faster_share == pytest.approx(2 / 5)  # two rows predicted no slower than measured
    assert error_stats([]).n == 0


def test_worker_layouts_as_deployments():
    # DeepSeek on 8 GPUs, TensorRT-LLM style: attention DP 8 + EP 8 (experts unsplit), or TP 8 with
    # experts split moe_tp 2 x EP 4; the Deployment derives moe_tp = tp x attention_dp / ep.
    a = worker_deployment(tp=1, attention_dp=8, moe_tp=1, moe_ep=8)
    assert (a.devices, a.ep, a.moe_tp, a.attention_dp) == (8, 8, 1, 8)
    b = worker_deployment(tp=8, moe_tp=2, moe_ep=4)
    assert (b.devices, b.ep, b.moe_tp) == (8, 4, 2)
    c = worker_deployment(tp=4)  # a dense model: moe_tp not given
    assert (c.devices, c.ep, c.moe_tp) == (4, 1, 4)
    with pytest.raises(DeploymentError, match="must equal tp x attention_dp"):
        worker_deployment(tp=2, moe_tp=4, moe_ep=1)
    with pytest.raises(DeploymentError, match="moe_ep"):
        worker_deployment(tp=2, moe_ep=0)


HEADER = SMALL.read_text().splitlines()[0]


def _lone_device_table(tmp_path) -> Path:
    """Two Qwen2.5-7B fp16 rows on ``a100_pcie`` (a catalog device, no bundled system): one GPU at
    concurrency 8 (512 in / 256 out), and a TP2 row that cannot be priced on one device."""
    empty = "," * 14
    table = tmp_path / "lone.csv"
    table.write_text(HEADER + "\n"
                     + f"one_gpu,hand-made; silicon_concurrency=8,vllm,,Qwen/Qwen2.5-7B-Instruct,a100_pcie,fp16,agg,"
                       f"512,256,fp16,fp16,8,1,1,1,1,1{empty},70,11\n"
                     + f"two_gpus,hand-made,vllm,,Qwen/Qwen2.5-7B-Instruct,a100_pcie,fp16,agg,"
                       f"512,256,fp16,fp16,8,2,1,1,2,1{empty},70,11\n")
    return table


def test_a_lone_catalog_device_prices_single_device_rows(tmp_path):
    one, two = (map_row(r) for r in read_table(_lone_device_table(tmp_path)))
    assert isinstance(one, Case) and one.single_device
    assert one.system == "a100-80g-pcie"  # a100_pcie: the catalog's A100 80GB PCIe (no bundled system)
    assert one.model == "Qwen/Qwen2.5-7B" and (one.w_bits, one.a_bits, one.kv_bits) == (16, 16, 16)
    assert one.concurrency == 8.0 and (one.agg.tp, one.agg.attention_dp, one.agg.gpus) == (1, 1, 1)
    assert (one.ttft_s, one.tpot_s) == (0.07, 0.011)
    assert isinstance(two, Skipped) and "one device (a100-80g-pcie)" in two.reason
    # a bundled system's alias keeps its system (the multi-device path), as before
    bundled = [r for r in read_table(SMALL) if r.id == "dense_bf16"][0]
    assert not map_row(bundled).single_device


def test_a_lone_device_row_is_predicted_on_that_device(tmp_path):
    import llm_roofline as lr

    report = lr.validate(_lone_device_table(tmp_path))
    (row,) = report.rows
    assert row.system == "a100_pcie" and [s.id for s in report.skipped] == ["two_gpus"]
    # Hand bound on the ideal decode step: every weight but the embedding table is read once per step
    # from HBM at 1935 GB/s (A100 80GB PCIe datasheet). Qwen2.5-7B (config.json): hidden 3584, 28 layers,
    # q 28 x 128, kv 4 x 128 heads with q/k/v biases, FFN 18944, untied vocab 152064:
    # per layer 3584 x (3584 + 2 x 512) + (3584 + 2 x 512) + 3584 x 3584 + 3 x 3584 x 18944 + 2 x 3584 norms
    layer = 3584 * (3584 + 1024) + (3584 + 1024) + 3584 * 3584 + 3 * 3584 * 18944 + 2 * 3584
    read = (28 * layer + 3584 + 3584 * 152064) * 2  # + final norm + lm_head, 2 bytes each
    floor = read / 1935e9  # 7.31 ms
    assert floor == pytest.approx(7.31e-3, rel=1e-3)
    # Above it: the KV cache (28 layers x 2 x 4 x 128 x 2 B = 57,344 B per token; 8 requests of <= 768
    # tokens: 0.35 GB, < 2.5 % of the 14.1 GB of weights) and the prompts interleaved with the decode steps
    # (steady state: 8 prompts of 512 tokens per 255 steps, 2 x 7.07e9 FLOP per token at 312 TFLOP/s:
    # 0.186 s / 255 = 0.73 ms per step).
    ceiling = 1.025 * floor + 8 * 512 * 2 * 7.07e9 / 312e12 / 255
    assert floor <= row.predicted["ideal"]["tpot_s"] <= ceiling
    assert row.predicted["ideal"]["tpot_s"] <= row.predicted["calibrated"]["tpot_s"]


def test_fp4_recipes_run_weight_only_without_fp4_tensor_cores(tmp_path):
    """The same nvfp4 recipe on B200 (FP4 tensor cores: FP4 activations) and on H200 (none: its 4-bit
    weights run weight-only, with 16-bit activations, as gpt-oss's experts do on Hopper)."""
    header, *lines = SMALL.read_text().splitlines()
    row = next(line for line in lines if line.startswith("moe_adp8_ep8,"))
    path = tmp_path / "fp4.csv"
    path.write_text("\n".join([header, row, row.replace("moe_adp8_ep8,", "hopper,").replace("b200_sxm", "h200_sxm")]))
    blackwell, hopper = (map_row(r) for r in read_table(path))
    assert (blackwell.w_bits, blackwell.a_bits, blackwell.kv_bits) == ("nvfp4", "nvfp4", "fp8")
    assert (hopper.w_bits, hopper.a_bits, hopper.kv_bits) == ("nvfp4", 16, "fp8")  # H200 has FP8, no FP4


def test_sglang_prefill_batches_follow_its_memory_tiers(tmp_path):
    """SGLang's default chunked_prefill_size by device memory (server_args.py: 2048 below 35 GiB, 8192 below
    160 GiB, 16384 above): H100 80 GB = 74.5 GiB and H200 141 GB = 131 GiB -> 8192, B200 180 GB = 167.6 GiB
    -> 16384, a 24 GB card -> 2048. A row's SGLang worker carries it for its prefill batches; the other
    engines keep the mixing budget (None: max_batch_tokens)."""
    from llm_roofline.validation.cases import sglang_prefill_batch_tokens

    assert [sglang_prefill_batch_tokens(m) for m in (24e9, 80e9, 141e9, 180e9, 186e9)] == \
        [2048, 8192, 8192, 16384, 16384]
    assert sglang_prefill_batch_tokens(160 * 2**30 - 1) == 8192 and sglang_prefill_batch_tokens(160 * 2**30) == 16384
    header, *lines = SMALL.read_text().splitlines()
    row = next(line for line in lines if line.startswith("moe_adp8_ep8,"))
    variants = [row.replace("moe_adp8_ep8,", f"{e}_{s},").replace("b200_sxm", s).replace(",sglang,", f",{e},")
                for e in ("trtllm", "sglang") for s in ("b200_sxm", "h200_sxm")]
    path = tmp_path / "sglang.csv"
    path.write_text("\n".join([header, *variants]))
    got = {c.row.id: c.agg.prefill_batch_tokens for c in map(map_row, read_table(path))}
    assert got == {"trtllm_b200_sxm": None, "trtllm_h200_sxm": None, "sglang_b200_sxm": 16384,
                   "sglang_h200_sxm": 8192}
