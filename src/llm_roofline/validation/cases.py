"""From a measured row to the serving call that predicts it, or the reason it cannot be predicted.

Mapping (each a documented choice; docs/accuracy.md):
- model_path: the catalog id when it is one; else the checkpoint's base architecture: the name without its
  organisation and the suffixes -Instruct, -FP8, -NVFP4, -FP4 (nvidia/Llama-3.1-8B-Instruct-FP8 ->
  llama-3.1-8b), and MODEL_ALIASES for newer releases of one architecture (DeepSeek-V3.1 -> DeepSeek-V3,
  Llama-3.3-70B -> Llama-3.1-70B).
  The row's quant columns, not the checkpoint name, give the formats.
- formats: WEIGHT_FORMATS maps gemm_quant_mode / moe_quant_mode to the named ``w_bits`` / ``a_bits``
  (fp8 per tensor, fp8_block 128x128 blocks, nvfp4, w4a16 = AWQ-style int4 group 128, bf16). The engine
  has one weight format per model: a MoE model takes moe_quant_mode (its experts hold most weights); the
  two must then have the same bit-width. FP4 activations need FP4 tensor cores: on a device without an
  FP4 peak (Hopper) an nvfp4 recipe runs its 4-bit weights weight-only, with 16-bit activations (as
  engines run gpt-oss's 4-bit experts on H100 / H200: Marlin / Triton MXFP4 MoE kernels). Both columns
  empty: the format ``precision`` names (fp8, fp4 ->
  nvfp4, int4 -> w4a16), or bf16 (the checkpoint's own weights) when it is empty too. KV cache
  (``precision``): fp8 and fp4 runs keep an FP8 cache, bf16, int4 and unnamed ones a 16-bit one (the
  engines' defaults for those recipes).
- engine: ``backend`` is the calibrated engine profile (trtllm, sglang, vllm); system: a bundled system, or
  a catalog device with no bundled system (a100_pcie -> a100-80g-pcie, h100_pcie, a100-40g ...) for a row
  whose worker is that one device (agg, tp x attention_dp 1): it is priced on the device alone.
- workers (parallel.deployment.worker_deployment): tp x pp x attention_dp devices, MoE layers over
  moe_tp x moe_ep of them; empty or 0 cells read 1; a dense model ignores the MoE columns.
- load: the concurrency the data source states (``silicon_concurrency=N``), else ``batch_size`` (agg) or
  decode_batch_size x decode_num_workers x decode_attention_dp_size (disagg: batch sizes are per
  attention-DP rank).
- scheduler (per worker): agg: every in-flight request runs (max_seqs = concurrency), TOKEN_BUDGET tokens
  per iteration per attention-DP rank; SGLang's prefill batches (its burst) carry its default
  chunked_prefill_size, which depends on the device's memory (sglang_prefill_batch_tokens); disagg: a
  prefill worker batches up to prefill_batch_size prompts per rank within max(isl, TOKEN_BUDGET) tokens per
  rank, a decode worker holds decode_batch_size requests per rank.
- recipes (recipes.py): InferenceX runs draw their request lengths from a range (``lengths_vary``, which
  sets a prefill-first engine's burst share) and some of their SGLang recipes set a recv interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..errors import DeploymentError, RooflineError
from ..parallel.deployment import worker_deployment
from .recipes import adp_balance_iterations, lengths_vary, mean_length, recv_interval
from .table import Row

TOKEN_BUDGET = 8192  # tokens per iteration per attention-DP rank (TRT-LLM max_num_tokens, vLLM V1's default)
WEIGHT_FORMATS = {"bf16": (16, 16), "fp16": (16, 16), "fp8": ("fp8-tensor", "fp8"), "fp8_block": ("fp8-block", "fp8"),
                  "nvfp4": ("nvfp4", "nvfp4"), "mxfp4": ("mxfp4", 16), "w4a16": ("awq", 16), "int4_wo": ("awq", 16),
                  "w8a16": (8, 16), "int8_wo": (8, 16), "int8": (8, 8)}
KV_FORMATS = {"fp8": "fp8", "fp4": "fp8", "bf16": 16, "fp16": 16, "int4": 16, "": 16}
UNQUANTIZED = {"": "bf16", "fp4": "nvfp4", "int4": "w4a16"}  # empty quant columns: the format precision names
ENGINES = ("trtllm", "sglang", "vllm")
FP4_ACTIVATIONS = ("nvfp4", "mxfp4")  # activation formats that need FP4 tensor cores (Blackwell)
WEIGHT_ONLY_ACTIVATIONS = 16  # what engines run 4-bit weights with on a device without them
MODEL_ALIASES = {"deepseek-v3.1": "deepseek-v3",  # same architecture, newer checkpoints
                 "llama-3.3-70b": "llama-3.1-70b"}
SUFFIXES = ("-nvfp4", "-fp8", "-fp4", "-instruct")


@dataclass(frozen=True)
class Worker:
    """One pool's workers: ``workers`` of them, each a deployment (tp, attention_dp, ep, pp) with its
    scheduler: ``max_seqs`` requests and ``max_batch_tokens`` tokens per iteration (at least max_seqs when
    called; per micro-batch of a pipelined worker); ``prefill_batch_tokens``: tokens of a prefill-only
    iteration (SGLang's chunked_prefill_size; None: the budget); ``recv_interval``: SGLang's
    --scheduler-recv-interval in the run's recipe; ``adp_balance_iterations``: TensorRT-LLM's attention-DP
    balancing timeout in it (recipes.py)."""

    workers: int
    tp: int
    attention_dp: int
    ep: int
    max_seqs: int
    max_batch_tokens: int
    pp: int = 1
    prefill_batch_tokens: int | None = None
    recv_interval: int = 1  # decode iterations between the scheduler's polls for new requests (recipes.py)
    adp_balance_iterations: int = 0  # TensorRT-LLM's attention-DP balancing timeout in the recipe (recipes.py)

    @property
    def deployment(self) -> dict:
        return {"tp": self.tp, "attention_dp": self.attention_dp, "ep": self.ep, "pp": self.pp}

    @property
    def gpus(self) -> int:
        return self.workers * self.tp * self.attention_dp * self.pp


@dataclass(frozen=True)
class Case:
    """A predictable row: the serving call's arguments and the measured TTFT and TPOT (s)."""

    row: Row
    model: str
    system: str
    engine: str
    w_bits: object
    a_bits: object
    kv_bits: object
    mode: str
    isl: int
    osl: int
    concurrency: float
    agg: Worker | None
    prefill: Worker | None
    decode: Worker | None
    ttft_s: float
    tpot_s: float
    single_device: bool = False  # ``system`` is then a catalog device (no bundled system), one per worker
    lengths_vary: bool = False  # the run drew request lengths from a range (recipes.lengths_vary)

    def served_lengths(self) -> tuple[float, float]:
        """The mean prompt and output tokens of the row's requests (recipes.mean_length: shorter than the
        stated isl / osl when the client drew them from a range), which the serving call prices."""
        return mean_length(self.isl, self.lengths_vary), mean_length(self.osl, self.lengths_vary)

    @property
    def version(self) -> str:
        """The engine and the version the row states (its ``backend_version`` column), e.g. "trtllm 1.2.0rc2";
        "trtllm (unstated)" when the cell is empty or the table has no such column."""
        return f"{self.engine} {self.row.text('backend_version') or '(unstated)'}"

    def key(self) -> tuple:
        """Rows that share one (vectorized) call: aggregated rows of one worker layout and token budget
        (their concurrency and lengths are arrays of the call), disaggregated rows of the same pools and
        lengths (their concurrency is)."""
        common = (self.model, self.system, self.engine, self.w_bits, self.a_bits, self.kv_bits, self.mode)
        if self.agg is not None:
            return (*common, self.agg.tp, self.agg.attention_dp, self.agg.ep, self.agg.pp, self.agg.max_batch_tokens,
                    self.agg.recv_interval, self.agg.adp_balance_iterations, self.lengths_vary)
        return (*common, self.isl, self.osl, self.prefill, self.decode, self.lengths_vary)


@dataclass(frozen=True)
class Skipped:
    """A row that cannot be predicted, and why."""

    row: Row
    reason: str


def _degree(row: Row, column: str) -> int:
    value = row.number(column)
    if value is None or value == 0:
        return 1
    if value < 0 or value != int(value):
        raise _Skip(f"{column} = {row.text(column)!r} is not a whole number of devices")
    return int(value)


class _Skip(Exception):
    pass


def catalog_model(path: str):
    """(catalog name, ModelSpec) of a measured row's model_path (see the module docstring)."""
    from ..api import load_model

    tried = [path]
    try:
        return path, load_model(path)
    except RooflineError:
        pass
    base = path.rsplit("/", 1)[-1].lower()
    stripped = True
    while stripped:
        stripped = False
        for suffix in SUFFIXES:
            if base.endswith(suffix):
                base, stripped = base[: -len(suffix)], True
    for name in (base, MODEL_ALIASES.get(base)):
        if name and name not in tried:
            tried.append(name)
            try:
                return name, load_model(name)
            except RooflineError:
                pass
    raise _Skip(f"unknown model {path!r} (tried {', '.join(tried)}; add its config.json to the catalog)")


def _formats(row: Row, is_moe: bool):
    gemm, moe = row.text("gemm_quant_mode").lower(), row.text("moe_quant_mode").lower()
    precision = row.text("precision").lower()
    if not gemm and not moe:  # no quantization recipe: the checkpoint's weights, or what precision names
        gemm = moe = UNQUANTIZED.get(precision, precision)
    for column, mode in (("gemm_quant_mode", gemm), ("moe_quant_mode", moe)):
        if (column == "gemm_quant_mode" or is_moe) and mode not in WEIGHT_FORMATS:
            raise _Skip(f"{column} {mode or '(empty)'!r} has no named format (known: {', '.join(WEIGHT_FORMATS)})")
    w, a = WEIGHT_FORMATS[moe if is_moe else gemm]
    if is_moe and _bits(WEIGHT_FORMATS[gemm][0]) != _bits(w):
        raise _Skip(f"dense weights in {gemm} and experts in {moe}: the engine takes one weight format per model")
    if precision not in KV_FORMATS:
        raise _Skip(f"precision {precision or '(empty)'!r} names no KV-cache format (known: {', '.join(KV_FORMATS)})")
    return w, a, KV_FORMATS[precision]


def _bits(fmt) -> float:
    from ..precision import parse_format

    return float(parse_format("w_bits", fmt)[0][0])


def _worker(row: Row, prefix: str, is_moe: bool, workers: int, max_seqs: int, budget: int) -> Worker:
    tp, pp, adp = (_degree(row, f"{prefix}{c}") for c in ("tp_size", "pp_size", "attention_dp_size"))
    moe_tp, moe_ep = _degree(row, f"{prefix}moe_tp_size"), _degree(row, f"{prefix}moe_ep_size")
    try:
        d = worker_deployment(tp=tp, pp=pp, attention_dp=adp, moe_tp=moe_tp if is_moe else None,
                              moe_ep=moe_ep if is_moe else 1)
    except DeploymentError as exc:
        raise _Skip(f"{prefix or 'worker '}layout not expressible: {exc}") from None
    max_seqs = max(1, min(max_seqs, 1_000_000))
    return Worker(workers=workers, tp=d.tp, attention_dp=d.attention_dp, ep=d.ep, pp=d.pp, max_seqs=max_seqs,
                  max_batch_tokens=min(budget, 10_000_000))


def sglang_prefill_batch_tokens(memory_bytes: float) -> int:
    """SGLang's default chunked_prefill_size (tokens of one prefill batch, for the whole worker: with DP
    attention each rank gets 1 / dp of it), chosen by the device's memory: 2048 below 35 GiB, 8192 below
    160 GiB (A100, H100, H200), 16384 above (B200, GB200): sgl-project/sglang
    python/sglang/srt/server_args.py (_handle_gpu_memory_settings; the DP-attention division)."""
    gib = memory_bytes / 2**30
    return 2048 if gib < 35 else 8192 if gib < 160 else 16384


def map_row(row: Row) -> Case | Skipped:
    """The serving call that predicts ``row``, or why there is none."""
    try:
        return _map(row)
    except _Skip as skip:
        return Skipped(row, str(skip))


def _positive(row: Row, column: str) -> float:
    value = row.number(column)
    if value is None or value <= 0:
        raise _Skip(f"{column} {row.text(column) or '(empty)'!r} is not a positive number")
    return value


def _map(row: Row) -> Case:
    from ..api import load_hardware, load_system
    from ..models.spec import routed_experts

    mode = row.text("mode").lower()
    if mode not in ("agg", "disagg"):
        raise _Skip(f"mode {row.text('mode')!r} is neither agg nor disagg")
    isl, osl = (int(_positive(row, c)) for c in ("isl", "osl"))
    ttft, tpot = (_positive(row, c) / 1e3 for c in ("silicon_ttft_ms", "silicon_tpot_ms"))
    spec = catalog_model(row.text("model_path"))[1]
    name = spec.name  # the catalog id: one name per architecture in the tables
    is_moe = any(routed_experts(g.layer.ffn) is not None for g in spec.layer_groups)
    w, a, kv = _formats(row, is_moe)
    engine = row.text("backend").lower()
    if engine not in ENGINES:
        raise _Skip(f"backend {engine!r} has no engine profile (known: {', '.join(ENGINES)})")
    system = row.text("system")
    device = None
    try:
        sys_spec = load_system(system, multi_device=True)
    except RooflineError as exc:
        device = _lone_device(system)
        if device is None:
            raise _Skip(str(exc)) from None
    hardware = sys_spec.device if device is None else load_hardware(device)
    peaks = hardware.peak_flops_per_s
    if a in FP4_ACTIVATIONS and "fp4" not in peaks:
        a = WEIGHT_ONLY_ACTIVATIONS  # no FP4 tensor cores: the 4-bit weights run weight-only
    stated = row.stated_concurrency()
    agg = prefill = decode = None
    if mode == "agg":
        concurrency = stated if stated is not None else _positive(row, "batch_size")
        adp = _degree(row, "attention_dp_size")
        agg = _worker(row, "", is_moe, 1, math.ceil(concurrency), TOKEN_BUDGET * adp)
        if engine == "sglang":  # its prefill-first scheduler's prefill batches (the burst)
            agg = replace(agg, prefill_batch_tokens=sglang_prefill_batch_tokens(hardware.memory_capacity_bytes))
        agg = replace(agg, recv_interval=recv_interval(row, engine, system, name, concurrency, agg.tp,
                                                       agg.attention_dp, w),
                      adp_balance_iterations=adp_balance_iterations(row, engine, name, agg.attention_dp))
    else:
        for side in ("prefill", "decode"):
            for column in ("num_workers", "batch_size"):
                if row.number(f"{side}_{column}") is None:
                    raise _Skip(f"disagg row without {side}_{column} (the pools cannot be built)")
        p_adp, d_adp = _degree(row, "prefill_attention_dp_size"), _degree(row, "decode_attention_dp_size")
        p_batch, d_batch = _positive(row, "prefill_batch_size"), _positive(row, "decode_batch_size")
        d_workers = int(_positive(row, "decode_num_workers"))
        p_budget = max(isl, TOKEN_BUDGET) * p_adp
        prefill = _worker(row, "prefill_", is_moe, int(_positive(row, "prefill_num_workers")),
                          min(math.ceil(p_batch * p_adp), p_budget), p_budget)
        decode = _worker(row, "decode_", is_moe, d_workers, math.ceil(d_batch * d_adp), TOKEN_BUDGET * d_adp)
        concurrency = stated if stated is not None else d_batch * d_workers * d_adp
    if device is not None:
        if agg is None or agg.tp * agg.attention_dp * agg.pp > 1:
            raise _Skip(f"system {system!r} is one device ({device}) with no bundled system: only a worker on "
                        "that one device (agg, tp x attention_dp x pp 1) can be priced on it")
        system = device
    return Case(row=row, model=name, system=system, engine=engine, w_bits=w, a_bits=a, kv_bits=kv, mode=mode,
                isl=isl, osl=osl, concurrency=float(max(concurrency, 1.0)), agg=agg, prefill=prefill, decode=decode,
                ttft_s=ttft, tpot_s=tpot, single_device=device is not None, lengths_vary=lengths_vary(row))


def _lone_device(name: str) -> str | None:
    """The catalog device ``name`` names (its canonical name; aliases and a100_pcie-style spellings work),
    or None when it names none."""
    from ..api import load_hardware

    try:
        return load_hardware(name).name
    except RooflineError:
        return None
