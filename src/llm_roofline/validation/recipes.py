"""How the InferenceX runs of the development table were made: what their recipes set beyond the columns.

Most rows of ``serving-dev.csv`` come from SemiAnalysis's InferenceX (formerly InferenceMAX) benchmark
(``silicon_data_source`` ``source_file=YYYY-MM-DD.csv`` or ``db-dump/...``, isl / osl 1k/1k, 1k/8k, 8k/1k).
Its recipes (github.com/SemiAnalysisAI/InferenceX ``benchmarks/single_node/fixed_seq_len/*.sh``, e.g.
``dsr1_fp8_b200.sh``, ``dsr1_fp4_b200.sh``, ``qwen3.5_fp8_b200.sh``, ``dsr1_fp8_h200.sh``) state two things
the columns do not:
- the client draws each request's lengths with ``--random-range-ratio 0.8``: uniform integers from
  int(0.8 x L) to L for L = isl and osl (github.com/kimbochen/bench_serving ``benchmark_serving.py``,
  ``sample_random_requests``; ``--num-prompts`` 10 x concurrency), so requests started together do not
  finish together (``lengths_vary``; profiles.derived_burst_share) and the mean request is shorter than
  stated: (int(0.8 L) + L) / 2 tokens (``mean_length``; the serving call prices the mean request);
- SGLang on B200 polls for new requests every 30 decode iterations at higher concurrency and every 10
  below (``--scheduler-recv-interval``: DeepSeek-R1 30 at concurrency >= 16, 10 below, 10 at tp 4 in FP8,
  1 with DP attention; Qwen3.5 30 above concurrency 4, 10 at or below); its H200 recipes leave the
  default, 1 (``recv_interval``);
- TensorRT-LLM serving DeepSeek-R1 with attention data parallelism balances the ranks' prompts
  (``attention_dp_config: batching_wait_iters: 0, enable_balance: true, timeout_iters: 60`` in
  ``dsr1_fp4_b200_trt.sh``, ``dsr1_fp8_b200_trt.sh``, ``dsr1_fp8_h200_trt.sh`` whenever DP_ATTENTION is true;
  ``adp_balance_iterations``).
These are the recipes as published; runs made before a recipe changed may have used other settings.
One more file holds InferenceX runs under another name: ``source_file=qwen3.5-397b-gap-analysis.csv``
(Qwen3.5-397B on B200 and H200, SGLang): 43 of its 54 rows repeat an InferenceX row of the same
configuration to 1e-3 in TTFT, and the other 11 are the same configurations at other concurrencies of
InferenceX's grid (``REEXPORTED``).
"""

from __future__ import annotations

import re

from .table import Row

RANGE_RATIO = 0.8  # InferenceX's RANDOM_RANGE_RATIO
_DATED_FILE = re.compile(r"(^|;\s*)source_file=\d{4}-\d{2}-\d{2}\.csv")
REEXPORTED = ("qwen3.5-397b-gap-analysis.csv",)  # files of InferenceX runs under another name (above)


def inferencex_run(row: Row) -> bool:
    """Whether ``row`` comes from an InferenceX run (its data source names a dated results file, the
    results database dump, or a file of REEXPORTED runs)."""
    source = row.text("silicon_data_source")
    files = re.findall(r"(?:^|;\s*)source_file=([^;]+)", source)
    return (source.startswith("db-dump/") or _DATED_FILE.search(source) is not None
            or any(name.strip() in REEXPORTED for name in files))


def lengths_vary(row: Row) -> bool:
    """Whether the row's requests drew their lengths from a range (InferenceX: --random-range-ratio 0.8)
    rather than all having the stated isl / osl."""
    return inferencex_run(row)


def mean_length(tokens: int, vary: bool) -> float:
    """The mean of the lengths a client drew for a stated length ``tokens`` (count): (int(0.8 x tokens) +
    tokens) / 2, the mean of uniform integers from int(0.8 x tokens) to tokens, when they vary (a row's
    ``lengths_vary``), else ``tokens``."""
    return (int(tokens * RANGE_RATIO) + tokens) / 2.0 if vary else float(tokens)


def recv_interval(row: Row, engine: str, system: str, model: str, concurrency: float, tp: int,
                  attention_dp: int, w_bits) -> int:
    """SGLang's --scheduler-recv-interval in the recipe that made ``row`` (1 where none is set)."""
    if engine != "sglang" or system != "b200_sxm" or attention_dp > 1 or not inferencex_run(row):
        return 1
    name = model.lower()
    if "deepseek" in name:
        if tp == 4 and w_bits in ("fp8-block", "fp8-tensor"):
            return 10
        return 30 if concurrency >= 16 else 10
    if "qwen3.5" in name:
        return 30 if concurrency > 4 else 10
    return 1


ADP_BALANCE_TIMEOUT_ITERATIONS = 60  # the DeepSeek-R1 TensorRT-LLM recipes' attention_dp_config.timeout_iters


def adp_balance_iterations(row: Row, engine: str, model: str, attention_dp: int) -> int:
    """TensorRT-LLM's attention-DP balancing timeout in the recipe that made ``row`` (iterations; 0: off):
    the InferenceX DeepSeek recipes with DP attention set it (the module docstring)."""
    if engine != "trtllm" or attention_dp <= 1 or "deepseek" not in model.lower() or not inferencex_run(row):
        return 0
    return ADP_BALANCE_TIMEOUT_ITERATIONS
