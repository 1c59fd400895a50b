"""Request bodies of the web API (pydantic): every field typed and range-checked, unknown fields
rejected. The ranges are the engine's own (``llm_roofline.limits``: scenario values, efficiency
fractions, the hardware overrides' plausible ranges), so a request the API accepts is one the engine
accepts; the defaults
are ``llm_roofline.analyze``'s own (read off its signature, so they are written once).

JSON bodies are validated strictly: an integer field takes a JSON integer (not ``true``, ``8.0`` or
``"8"``), a flag takes ``true`` / ``false`` (not ``"yes"`` or ``1``), a number is finite. Query
strings (``GET /api/analyze``) are text by nature: integers are parsed from their digits and flags
take only ``true`` / ``false`` / ``1`` / ``0``."""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..api import EFFICIENCY_MODES, analyze
from ..efficiency.engines import ENGINES
from ..hardware.spec import PRECISIONS
from ..limits import (
    FRACTION_LIMITS,
    GROUP_SIZE_LIMITS,
    HARDWARE_RANGES,
    KERNEL_OVERHEAD_LIMITS_S,
    MAX_BITS,
    MIN_BITS,
    SCALE_BITS_LIMITS,
)
from ..limits import SCENARIO_LIMITS as LIMITS
from ..parallel.choices import ALGORITHMS, EP_COMM, LIBRARIES, MODES
from ..parallel.choices import OPTION_DEFAULTS as OPTIONS
from ..precision import NAMED_FORMATS
from ..serving.profiles import MAX_REQUEST_OVERHEAD_S

# Hard limits of the web face (the engine accepts more; a server bounds the work per request).
MAX_BODY_BYTES = 1_000_000  # a request body, an uploaded config.json included
MAX_SWEEP_VALUES = 512  # values of one sweep axis
MAX_SWEEP_POINTS = 4096  # points of a whole sweep grid
MAX_NAME_CHARS = 200
BANDWIDTH_RANGE = HARDWARE_RANGES["memory_bandwidth_bytes_per_s"][:2]  # bytes/s, as the catalog checks overrides
CAPACITY_RANGE = HARDWARE_RANGES["memory_capacity_bytes"][:2]  # bytes
PEAK_RANGE = HARDWARE_RANGES["peak_flops_per_s"][:2]  # FLOP/s
FRACTION_RANGE = f"a number in [{FRACTION_LIMITS[0]:g}, {FRACTION_LIMITS[1]:g}]"
OVERHEAD_US = (KERNEL_OVERHEAD_LIMITS_S[0] * 1e6, KERNEL_OVERHEAD_LIMITS_S[1] * 1e6)  # microseconds, high open
OVERHEAD_RANGE = f"a number of microseconds in [{OVERHEAD_US[0]:g}, {OVERHEAD_US[1]:g})"

FORMATS = ", ".join(NAMED_FORMATS)
DEFAULTS = {name: p.default for name, p in inspect.signature(analyze).parameters.items()
            if p.default is not inspect.Parameter.empty}
STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _count(name: str, description: str) -> Any:
    low, high = LIMITS[name]
    return Field(DEFAULTS[name], ge=low, le=high, description=f"{description} (integer {low}..{high})")


# A bit-width or a format name (the longest, fp8-tensor, has 10 characters).
Bits = Annotated[int, Field(ge=MIN_BITS, le=MAX_BITS)] | Annotated[str, Field(min_length=1, max_length=16)]


def _bits(name: str, what: str) -> Any:
    return Field(DEFAULTS[name], description=f"{what}: bits {MIN_BITS}..{MAX_BITS} or one of {FORMATS}")


MAX_DEGREE = 4096  # devices of one degree a request may ask for (the engine takes up to 2**20)


def _degree(name: str, description: str) -> Any:
    return Field(DEFAULTS[name], ge=1, le=MAX_DEGREE, description=f"{description} (integer 1..{MAX_DEGREE})")


class Scenario(BaseModel):
    """The inference scenario and options, as ``llm-roofline analyze`` takes them."""

    model_config = STRICT

    batch_size: int = _count("batch_size", "sequences per batch")
    prompt_len: int = _count("prompt_len", "prompt tokens per sequence")
    gen_len: int = _count("gen_len", "tokens generated after the prompt")
    kv_len: int | None = Field(None, ge=LIMITS["kv_len"][0], le=LIMITS["kv_len"][1],
                               description="KV length of the reported decode step (default: prompt_len)")
    w_bits: Bits | None = Field(None, description=f"weights: bits {MIN_BITS}..{MAX_BITS} or one of {FORMATS} "
                                "(default: the config's quantization_config, else 16)")
    a_bits: Bits = _bits("a_bits", "activations")
    kv_bits: Bits = _bits("kv_bits", "KV cache")
    state_bits: Bits = _bits("state_bits", "recurrent states of Mamba / linear-attention layers")
    group_size: int = Field(DEFAULTS["group_size"], ge=GROUP_SIZE_LIMITS[0], le=GROUP_SIZE_LIMITS[1],
                            description="quantization group size below 16 bits (0: no scales)")
    scale_bits: int = Field(DEFAULTS["scale_bits"], ge=SCALE_BITS_LIMITS[0], le=SCALE_BITS_LIMITS[1],
                            description="bits of one group scale")
    flash_attention: bool = Field(DEFAULTS["flash_attention"], description="fused, causal-aware attention kernel")
    logits_all: bool = Field(DEFAULTS["logits_all"], description="prefill computes logits for every prompt token")
    efficiency: Literal[EFFICIENCY_MODES] = Field(
        DEFAULTS["efficiency"], description="ideal: the paper's roofline; hardware: the device's measured fractions; "
                                            "calibrated: per-kernel curves fitted on measured kernel times")
    engine: Literal[tuple(ENGINES)] | None = Field(
        DEFAULTS["engine"], description="with efficiency calibrated: whose kernels and host costs (default generic)")
    compute_fraction: float | None = Field(None, ge=FRACTION_LIMITS[0], le=FRACTION_LIMITS[1],
                                           description=f"fraction of peak FLOP/s reached: {FRACTION_RANGE}")
    bandwidth_fraction: float | None = Field(None, ge=FRACTION_LIMITS[0], le=FRACTION_LIMITS[1],
                                             description=f"fraction of bandwidth reached: {FRACTION_RANGE}")
    kernel_overhead_us: float | None = Field(None, ge=OVERHEAD_US[0], lt=OVERHEAD_US[1],
                                             description=f"fixed cost per kernel launch: {OVERHEAD_RANGE}")
    # Several devices (docs/parallelism.md); with any degree > 1 ``hardware`` names a catalog system
    # (or a device whose first system is used). Defaults: llm_roofline.analyze's and parallel.options'.
    tp: int = _degree("tp", "tensor parallelism of attention and dense layers")
    pp: int = _degree("pp", "pipeline stages")
    ep: int = _degree("ep", "expert parallelism over tp x attention_dp devices")
    dp: int = _degree("dp", "independent replicas (batch_size is per replica)")
    attention_dp: int = _degree("attention_dp", "attention data-parallel groups inside a replica")
    nodes: int | None = Field(OPTIONS["nodes"], ge=1, le=MAX_DEGREE,
                              description="nodes the devices span (default: fewest)")
    micro_batches: int | None = Field(OPTIONS["micro_batches"], ge=1, le=MAX_DEGREE,
                                      description="pipeline micro-batches (default pp)")
    overlap: bool = Field(OPTIONS["overlap"], description="communication overlaps computation (optimistic bound)")
    ep_imbalance: float = Field(OPTIONS["ep_imbalance"], ge=1, le=MAX_DEGREE,
                                description="most loaded expert rank's tokens / mean")
    ep_comm: Literal[EP_COMM] = Field(OPTIONS["ep_comm"], description="MoE token exchange")
    comm: Literal[MODES] | None = Field(
        OPTIONS["comm"], description="collectives: ideal alpha-beta or fitted curves (default: fitted with "
                                     "efficiency hardware)")
    comm_library: Literal[LIBRARIES] = Field(OPTIONS["comm_library"], description="fitted all-reduce")
    allreduce_algorithm: Literal[ALGORITHMS] = Field(
        OPTIONS["allreduce_algorithm"], description="all-reduce algorithm of the ideal model")


class Target(BaseModel):
    """Which model on which device: catalog names, with optional device overrides."""

    model_config = STRICT

    model: str | None = Field(None, min_length=1, max_length=MAX_NAME_CHARS,
                              description="catalog model id or alias (GET /api/models)")
    hardware: str | None = Field(None, min_length=1, max_length=MAX_NAME_CHARS,
                                 description="catalog device name or alias (GET /api/hardware)")
    memory_bandwidth_bytes_per_s: float | None = Field(
        None, ge=BANDWIDTH_RANGE[0], le=BANDWIDTH_RANGE[1], description="override: memory bandwidth, bytes/s")
    memory_capacity_bytes: float | None = Field(
        None, ge=CAPACITY_RANGE[0], le=CAPACITY_RANGE[1], description="override: memory capacity, bytes")
    peak_flops_per_s: float | None = Field(
        None, ge=PEAK_RANGE[0], le=PEAK_RANGE[1],
        description="override: dense 16-bit peak, FLOP/s (other precisions keep their ratios)")


def _query_flag(value: Any) -> Any:
    """A flag in a query string: true / false / 1 / 0 (pydantic alone would also take yes, on, t...)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
    if isinstance(value, bool):
        return value
    raise ValueError("must be true or false")


QueryFlag = Annotated[bool, BeforeValidator(_query_flag)]


class AnalyzeQuery(Target, Scenario):
    """``GET /api/analyze`` query parameters: catalog model and device, scenario, overrides. Query
    values are text, so this one model parses numbers from their digits (not strict)."""

    model_config = ConfigDict(extra="forbid", strict=False, allow_inf_nan=False)

    flash_attention: QueryFlag = Field(DEFAULTS["flash_attention"], description="true or false")
    logits_all: QueryFlag = Field(DEFAULTS["logits_all"], description="true or false")
    overlap: QueryFlag = Field(OPTIONS["overlap"], description="true or false")


class CustomHardware(BaseModel):
    """A device that is not in the catalog."""

    model_config = STRICT

    name: str = Field("custom device", min_length=1, max_length=MAX_NAME_CHARS)
    memory_bandwidth_bytes_per_s: float = Field(..., ge=BANDWIDTH_RANGE[0], le=BANDWIDTH_RANGE[1],
                                                description="bytes/s")
    memory_capacity_bytes: float = Field(..., ge=CAPACITY_RANGE[0], le=CAPACITY_RANGE[1], description="bytes")
    peak_flops_per_s: dict[Literal[PRECISIONS], Annotated[float, Field(ge=PEAK_RANGE[0], le=PEAK_RANGE[1])]] = \
        Field(..., min_length=1, description=f"dense peak per precision, FLOP/s; precisions: {', '.join(PRECISIONS)}")


MAX_TECHNIQUE_SETTINGS = 16
# A technique's value, as llm_roofline.analyze takes it (checked there, each error naming the setting): a
# preset or method name, a number (early exit's share of the layers, an eviction budget) or a mapping.
TechniqueValue = (Annotated[str, Field(min_length=1, max_length=40)] | Annotated[int, Field(ge=0)]
                  | Annotated[float, Field(ge=0)]
                  | Annotated[dict[str, Any], Field(max_length=MAX_TECHNIQUE_SETTINGS)] | None)


class TechniquesRequest(BaseModel):
    """The fast-decoding techniques (docs/techniques.md), each None (off) or as ``llm_roofline.analyze``
    takes it. A speculative ``draft_model`` must be a catalog name."""

    model_config = STRICT

    speculative: TechniqueValue = Field(None, description="a preset (eagle3, eagle2, medusa2, mtp, lookahead, "
                                                          "jacobi) or {method, k, alpha | tau, ...}")
    early_exit: TechniqueValue = Field(None, description="the share of the layers each token runs, or "
                                                         "{fraction | distribution, kv_fill, classifier}")
    sparsity: TechniqueValue = Field(None, description="{mlp, heads, predictor_rank}: shares active per token")
    kv_eviction: TechniqueValue = Field(None, description="streaming | h2o | snapkv, a budget, or {method, budget, "
                                                          "sinks, observation}")


MAX_MODULE_RULES = 16
Fraction = Annotated[float, Field(ge=0, le=1)]
Module = Annotated[str, Field(min_length=1, max_length=64)]


class OptimizationsRequest(BaseModel):
    """The compression and system optimizations (docs/techniques.md), each as ``llm_roofline.analyze``
    takes it (checked there too, each error naming the option); ``host`` must be a catalog device."""

    model_config = STRICT

    embed_bits: Bits | None = Field(None, description="the embedding table's bits or format")
    lm_head_bits: Bits | None = Field(None, description="lm_head's bits or format")
    module_bits: dict[Module, Bits] | None = Field(None, max_length=MAX_MODULE_RULES,
                                                   description="{module group or operator name: bits or format}")
    config_quantization: bool = Field(True, description="read the config's quantization_config")
    weight_sparsity: Annotated[float, Field(ge=0, le=0.999)] = Field(0.0, description="fraction of zero weights")
    sparse_format: Literal["dense", "csr", "bitmap", "2:4"] = Field("dense", description="storage and kernel")
    sparse_index_bits: Annotated[int, Field(ge=1, le=64)] = Field(16, description="bits of a csr index")
    sparse_efficiency: Annotated[float, Field(ge=1e-3, le=1)] = Field(1.0, description="sparse kernels' share "
                                                                                        "of the peak")
    sparse_modules: Annotated[str, Field(min_length=1, max_length=200)] = Field("layers", description="pruned modules")
    prune_layers: Annotated[float, Field(ge=0, le=0.99)] = Field(0.0, description="fraction of layers removed")
    prune_heads: Annotated[float, Field(ge=0, le=0.99)] = Field(0.0, description="fraction of heads removed")
    prune_intermediate: Annotated[float, Field(ge=0, le=0.99)] = Field(0.0, description="fraction of MLP channels "
                                                                                         "removed")
    low_rank: dict[Module, Annotated[float, Field(gt=0)]] | None = Field(
        None, max_length=MAX_MODULE_RULES, description="{module: rank (>= 1) or ratio (< 1)}")
    fusion: Literal["none", "elementwise", "aggressive"] = Field("none", description="operator fusion")
    attention: Literal["naive", "ideal", "fa2"] | None = Field(None, description="attention kernel (default: "
                                                                                 "flash_attention's)")
    attention_fp8: bool = Field(False, description="FP8 attention operands (FlashAttention-3)")
    offload_weights: Fraction = Field(0.0, description="fraction of the weights in host memory")
    offload_kv: Fraction = Field(0.0, description="fraction of the KV cache in host memory")
    offload_modules: Annotated[str, Field(min_length=1, max_length=200)] = Field("all", description="which weights")
    offload_to: Literal["host", "disk"] = Field("host", description="where offloaded data lives")
    offload_overlap: bool = Field(True, description="transfers overlap compute")
    offload_compute: Literal["device", "cpu"] = Field("device", description="who computes the offloaded share")
    host: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)] = Field(
        "xeon-8480-plus", description="the host CPU (a catalog device)")
    host_memory: float | None = Field(None, ge=CAPACITY_RANGE[0], le=CAPACITY_RANGE[1], description="bytes")
    host_bandwidth: float | None = Field(None, ge=BANDWIDTH_RANGE[0], le=BANDWIDTH_RANGE[1],
                                         description="host link, both directions, bytes/s")
    disk_bandwidth: float | None = Field(None, ge=BANDWIDTH_RANGE[0], le=BANDWIDTH_RANGE[1], description="bytes/s")
    kv_allocation: Literal["exact", "paged", "contiguous"] = Field("exact", description="KV-cache memory")
    kv_block_size: Annotated[int, Field(ge=1, le=1 << 16)] = Field(16, description="tokens per KV block")
    max_seq_len: int | None = Field(None, ge=LIMITS["kv_len"][0], le=LIMITS["kv_len"][1],
                                    description="tokens a contiguous cache reserves per sequence")
    prefix_len: int = Field(0, ge=0, le=LIMITS["prompt_len"][1], description="cached prefix shared by the batch")


class AnalyzeRequest(Target, Scenario):
    """``POST /api/analyze`` body. The model is ``model`` (a catalog name) or ``config`` (the
    object of a Hugging Face config.json, parsed in memory); the device is ``hardware`` (a
    catalog name, with optional overrides) or ``custom_hardware``; ``techniques``: the fast-decoding
    techniques; ``optimizations``: the compression and system optimizations."""

    config: dict[str, Any] | None = Field(None, description="a Hugging Face config.json object")
    config_name: str | None = Field(None, min_length=1, max_length=MAX_NAME_CHARS,
                                    description="display name of the uploaded model")
    custom_hardware: CustomHardware | None = None
    techniques: TechniquesRequest | None = None
    optimizations: OptimizationsRequest | None = None


class AdviseRequest(AnalyzeRequest):
    """``POST /api/advise`` body: the scenario to advise on, ``rank_by`` (tpot, ttft, throughput, memory),
    ``only`` (technique names; all by default) and an optional catalog ``draft_model``."""

    rank_by: Literal["tpot", "ttft", "throughput", "memory"] = Field("tpot", description="the gain ranked by")
    only: list[Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]] | None = Field(
        None, max_length=64, description="technique names (GET /api/techniques)")
    draft_model: str | None = Field(None, min_length=1, max_length=MAX_NAME_CHARS,
                                    description="also rank a draft model (a catalog name)")


def _axis(name: str) -> Any:
    low, high = LIMITS[name]
    one = Annotated[int, Field(ge=low, le=high)]
    return one | Annotated[list[one], Field(min_length=1, max_length=MAX_SWEEP_VALUES)]


BatchAxis = _axis("batch_size")
PromptAxis = _axis("prompt_len")
GenAxis = _axis("gen_len")


class SweepRequest(AnalyzeRequest):
    """``POST /api/sweep`` body: an analyze request whose ``batch_size``, ``prompt_len`` or
    ``gen_len`` may be lists; every combination is evaluated (at most
    ``MAX_SWEEP_POINTS`` points, ``MAX_SWEEP_VALUES`` values per axis)."""

    batch_size: BatchAxis = Field(DEFAULTS["batch_size"], description="one value or a list (sequences per batch)")
    prompt_len: PromptAxis = Field(DEFAULTS["prompt_len"], description="one value or a list (prompt tokens)")
    gen_len: GenAxis = Field(DEFAULTS["gen_len"], description="one value or a list (generated tokens)")


class GraphRequest(AnalyzeRequest):
    """``POST /api/graph`` body: same as analyze (the graph depends on the model and options)."""


RANGES = {
    **{name: f"an integer in {low}..{high}" for name, (low, high) in LIMITS.items()},
    "w_bits": f"bits {MIN_BITS}..{MAX_BITS} or one of {FORMATS}",
    "a_bits": f"bits {MIN_BITS}..{MAX_BITS} or one of {FORMATS}",
    "kv_bits": f"bits {MIN_BITS}..{MAX_BITS} or one of {FORMATS}",
    "state_bits": f"bits {MIN_BITS}..{MAX_BITS} or one of {FORMATS}",
    "group_size": f"an integer in {GROUP_SIZE_LIMITS[0]}..{GROUP_SIZE_LIMITS[1]}",
    "scale_bits": f"an integer in {SCALE_BITS_LIMITS[0]}..{SCALE_BITS_LIMITS[1]}",
    "compute_fraction": FRACTION_RANGE,
    "bandwidth_fraction": FRACTION_RANGE,
    "kernel_overhead_us": OVERHEAD_RANGE,
    "memory_bandwidth_bytes_per_s": f"bytes/s in [{BANDWIDTH_RANGE[0]:g}, {BANDWIDTH_RANGE[1]:g}]",
    "memory_capacity_bytes": f"bytes in [{CAPACITY_RANGE[0]:g}, {CAPACITY_RANGE[1]:g}]",
    "peak_flops_per_s": f"FLOP/s in [{PEAK_RANGE[0]:g}, {PEAK_RANGE[1]:g}]",
    "efficiency": "'ideal', 'hardware' or 'calibrated'",
    "engine": f"one of {', '.join(ENGINES)}",
    "flash_attention": "true or false",
    "logits_all": "true or false",
    "model": f"a catalog model name of 1..{MAX_NAME_CHARS} characters",
    "hardware": f"a catalog device name of 1..{MAX_NAME_CHARS} characters",
    "config_name": f"1..{MAX_NAME_CHARS} characters",
    "name": f"1..{MAX_NAME_CHARS} characters",
    "config": "a JSON object (the contents of a Hugging Face config.json)",
    **{name: f"an integer in 1..{MAX_DEGREE}" for name in ("tp", "pp", "ep", "dp", "attention_dp", "nodes",
                                                          "micro_batches")},
    "ep_imbalance": f"a number in [1, {MAX_DEGREE}]",
    "overlap": "true or false",
    "ep_comm": "'all_to_all' or 'all_gather'",
    "comm": "'ideal' or 'fitted'",
    "comm_library": "'nccl', 'trtllm', 'vllm' or 'sglang'",
    "allreduce_algorithm": "'ring', 'tree', 'two_shot', 'one_shot' or 'nvls'",
    "speculative": "a preset name or a mapping of settings (docs/techniques.md)",
    "early_exit": "a share of the layers in (0, 1] or a mapping of settings",
    "sparsity": "a mapping {mlp, heads, predictor_rank}",
    "kv_eviction": "streaming, h2o, snapkv, a budget or a mapping of settings",
    "rank_by": "tpot, ttft, throughput or memory",
    "request_overhead_ms": f"milliseconds in [0, {MAX_REQUEST_OVERHEAD_S * 1e3:g}] (null: the engine's fitted "
                           "overhead)",
}
