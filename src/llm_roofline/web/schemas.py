"""Request bodies of the web API (pydantic): every field typed and range-checked, unknown fields
rejected. The ranges are the engine's own (``llm_roofline.scenario.LIMITS``, the hardware
overrides' plausible ranges), so a request the API accepts is one the engine accepts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..defaults import DEFAULT_BATCH_SIZE, DEFAULT_GEN_LEN, DEFAULT_PROMPT_LEN, DEFAULT_STATE_BITS
from ..hardware.spec import PRECISIONS
from ..precision import MAX_BITS, MIN_BITS, NAMED_FORMATS
from ..scenario import GROUP_SIZE_LIMITS, LIMITS, SCALE_BITS_LIMITS

# Hard limits of the web face (the engine accepts more; a server bounds the work per request).
MAX_BODY_BYTES = 1_000_000  # a request body, an uploaded config.json included
MAX_SWEEP_VALUES = 512  # values of one sweep axis
MAX_SWEEP_POINTS = 4096  # points of a whole sweep grid
MAX_NAME_CHARS = 200
BANDWIDTH_RANGE = (1e6, 1e15)  # bytes/s, as the hardware catalog checks overrides
CAPACITY_RANGE = (1e6, 1e15)  # bytes
PEAK_RANGE = (1e6, 1e19)  # FLOP/s

FORMATS = ", ".join(NAMED_FORMATS)


def _count(name: str, default: int, description: str) -> Any:
    low, high = LIMITS[name]
    return Field(default, ge=low, le=high, description=f"{description} (integer {low}..{high})")


Bits = Annotated[int, Field(ge=MIN_BITS, le=MAX_BITS)] | Annotated[str, Field(min_length=1, max_length=8)]


def _bits(what: str) -> Any:
    return Field(16, description=f"{what}: bits {MIN_BITS}..{MAX_BITS} or one of {FORMATS}")


class Scenario(BaseModel):
    """The inference scenario and options, as ``llm-roofline analyze`` takes them."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = _count("batch_size", DEFAULT_BATCH_SIZE, "sequences per batch")
    prompt_len: int = _count("prompt_len", DEFAULT_PROMPT_LEN, "prompt tokens per sequence")
    gen_len: int = _count("gen_len", DEFAULT_GEN_LEN, "tokens generated after the prompt")
    kv_len: int | None = Field(None, ge=LIMITS["kv_len"][0], le=LIMITS["kv_len"][1],
                               description="KV length of the reported decode step (default: prompt_len)")
    w_bits: Bits | None = Field(None, description=f"weights: bits {MIN_BITS}..{MAX_BITS} or one of {FORMATS} "
                                "(default: the config's quantization_config, else 16)")
    a_bits: Bits = _bits("activations")
    kv_bits: Bits = _bits("KV cache")
    state_bits: Bits = Field(DEFAULT_STATE_BITS, description=f"recurrent states of Mamba / linear-attention layers: "
                             f"bits {MIN_BITS}..{MAX_BITS} or one of {FORMATS} (default 32: float32)")
    group_size: int = Field(128, ge=GROUP_SIZE_LIMITS[0], le=GROUP_SIZE_LIMITS[1],
                            description="quantization group size below 16 bits (0: no scales)")
    scale_bits: int = Field(16, ge=SCALE_BITS_LIMITS[0], le=SCALE_BITS_LIMITS[1],
                            description="bits of one group scale")
    flash_attention: bool = Field(False, description="fused, causal-aware attention kernel")
    logits_all: bool = Field(False, description="prefill computes logits for every prompt token")
    efficiency: Literal["ideal", "hardware"] = Field(
        "ideal", description="ideal: the paper's roofline; hardware: the device's measured fractions")
    compute_fraction: float | None = Field(None, gt=0, le=1, description="fraction of peak FLOP/s reached (0, 1]")
    bandwidth_fraction: float | None = Field(None, gt=0, le=1, description="fraction of bandwidth reached (0, 1]")
    kernel_overhead_us: float | None = Field(None, ge=0, lt=1e6,
                                             description="fixed cost per kernel launch, microseconds [0, 1e6)")


class Target(BaseModel):
    """Which model on which device: catalog names, with optional device overrides."""

    model_config = ConfigDict(extra="forbid")

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


class AnalyzeQuery(Target, Scenario):
    """``GET /api/analyze`` query parameters: catalog model and device, scenario, overrides."""


class CustomHardware(BaseModel):
    """A device that is not in the catalog."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("custom device", min_length=1, max_length=MAX_NAME_CHARS)
    memory_bandwidth_bytes_per_s: float = Field(..., ge=BANDWIDTH_RANGE[0], le=BANDWIDTH_RANGE[1],
                                                description="bytes/s")
    memory_capacity_bytes: float = Field(..., ge=CAPACITY_RANGE[0], le=CAPACITY_RANGE[1], description="bytes")
    peak_flops_per_s: dict[Literal[PRECISIONS], Annotated[float, Field(ge=PEAK_RANGE[0], le=PEAK_RANGE[1])]] = \
        Field(..., min_length=1, description=f"dense peak per precision, FLOP/s; precisions: {', '.join(PRECISIONS)}")


class AnalyzeRequest(AnalyzeQuery):
    """``POST /api/analyze`` body. The model is ``model`` (a catalog name) or ``config`` (the
    object of a Hugging Face config.json, parsed in memory); the device is ``hardware`` (a
    catalog name, with optional overrides) or ``custom_hardware``."""

    config: dict[str, Any] | None = Field(None, description="a Hugging Face config.json object")
    config_name: str | None = Field(None, min_length=1, max_length=MAX_NAME_CHARS,
                                    description="display name of the uploaded model")
    custom_hardware: CustomHardware | None = None


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

    batch_size: BatchAxis = Field(DEFAULT_BATCH_SIZE, description="one value or a list (sequences per batch)")
    prompt_len: PromptAxis = Field(DEFAULT_PROMPT_LEN, description="one value or a list (prompt tokens)")
    gen_len: GenAxis = Field(DEFAULT_GEN_LEN, description="one value or a list (generated tokens)")


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
    "compute_fraction": "a number in (0, 1]",
    "bandwidth_fraction": "a number in (0, 1]",
    "kernel_overhead_us": "a number of microseconds in [0, 1e6)",
    "memory_bandwidth_bytes_per_s": f"bytes/s in [{BANDWIDTH_RANGE[0]:g}, {BANDWIDTH_RANGE[1]:g}]",
    "memory_capacity_bytes": f"bytes in [{CAPACITY_RANGE[0]:g}, {CAPACITY_RANGE[1]:g}]",
    "peak_flops_per_s": f"FLOP/s in [{PEAK_RANGE[0]:g}, {PEAK_RANGE[1]:g}]",
    "efficiency": "'ideal' or 'hardware'",
    "flash_attention": "true or false",
    "logits_all": "true or false",
    "model": f"a catalog model name of 1..{MAX_NAME_CHARS} characters",
    "hardware": f"a catalog device name of 1..{MAX_NAME_CHARS} characters",
    "config_name": f"1..{MAX_NAME_CHARS} characters",
    "name": f"1..{MAX_NAME_CHARS} characters",
    "config": "a JSON object (the contents of a Hugging Face config.json)",
}
