"""Scenario: what is being run, as NumPy arrays so that one call evaluates many scenarios.

Every numeric field is a float64 array of one common shape ``(n,)``; scalars broadcast.
T (query tokens per sequence), S (KV length) and B (batch) follow the JAX scaling book.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import defaults
from .errors import ScenarioError
from .precision import MAX_BITS, MIN_BITS, Format, parse_format

# Valid ranges, inclusive. Lengths and batch are counts of tokens / sequences.
LIMITS = {
    "batch_size": (1, 1_000_000),
    "prompt_len": (1, 10_000_000),
    "gen_len": (0, 10_000_000),
    "kv_len": (1, 10_000_000),
    "w_bits": (MIN_BITS, MAX_BITS),
    "a_bits": (MIN_BITS, MAX_BITS),
    "kv_bits": (MIN_BITS, MAX_BITS),
}
GROUP_SIZE_LIMITS = (0, 1 << 20)
SCALE_BITS_LIMITS = (1, 32)


def _as_int_array(name: str, value: object) -> np.ndarray:
    if np.asarray(value).dtype == bool:
        raise ScenarioError(f"{name} must be a number or a list of numbers, got {value!r}")
    try:
        array = np.atleast_1d(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        raise ScenarioError(f"{name} must be a number or a list of numbers, got {value!r}") from None
    if array.ndim != 1 or array.size == 0:
        raise ScenarioError(f"{name} must be a number or a non-empty 1-D list of numbers")
    low, high = LIMITS[name]
    bad = ~np.isfinite(array) | (array != np.round(array)) | (array < low) | (array > high)
    if bad.any():
        raise ScenarioError(f"{name} must be an integer in {low}..{high}, got {array[bad][0]:g}")
    return array


def _check_int(name: str, value: object, limits: tuple[int, int]) -> int:
    low, high = limits
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not low <= value <= high:
        raise ScenarioError(f"{name} must be an integer in {low}..{high}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Scenario:
    """Inference settings for n scenarios at once.

    batch_size B (sequences), prompt_len P (tokens), gen_len G (tokens generated after the
    prompt), kv_len (KV length of the single decode step reported as ``decode``; LLM-Viewer's
    convention is kv_len = P). ``weights``, ``activations``, ``kv_cache``: formats.
    ``flash_attention``: one fused, causal-aware attention kernel that never writes scores.
    ``logits_all``: prefill computes logits for every prompt token, not just the last.
    ``group_size`` / ``scale_bits``: grouped quantization of weights and KV cache (bits < 16):
    one ``scale_bits`` scale per ``group_size`` elements (0 = no scale overhead).
    """

    batch_size: np.ndarray
    prompt_len: np.ndarray
    gen_len: np.ndarray
    kv_len: np.ndarray
    weights: Format
    activations: Format
    kv_cache: Format
    flash_attention: bool = False
    logits_all: bool = False
    group_size: int = 128
    scale_bits: int = 16

    @property
    def size(self) -> int:
        return int(self.batch_size.shape[0])

    @classmethod
    def build(cls, *, batch_size: object = defaults.DEFAULT_BATCH_SIZE,
              prompt_len: object = defaults.DEFAULT_PROMPT_LEN, gen_len: object = defaults.DEFAULT_GEN_LEN,
              kv_len: object = None, w_bits: object = defaults.DEFAULT_BITS, a_bits: object = defaults.DEFAULT_BITS,
              kv_bits: object = defaults.DEFAULT_BITS, flash_attention: bool = False, logits_all: bool = False,
              group_size: int = defaults.DEFAULT_GROUP_SIZE, scale_bits: int = defaults.DEFAULT_SCALE_BITS) -> Scenario:
        """Validate and broadcast. Each numeric argument is a scalar or a 1-D list; lists of
        different lengths > 1 are an error (use ``llm_roofline.sweep`` for a grid). Defaults:
        ``llm_roofline.defaults`` (one place for every face)."""
        w_value, w_family = parse_format("w_bits", w_bits)
        a_value, a_family = parse_format("a_bits", a_bits)
        kv_value, kv_family = parse_format("kv_bits", kv_bits)
        fields = {
            "batch_size": _as_int_array("batch_size", batch_size),
            "prompt_len": _as_int_array("prompt_len", prompt_len),
            "gen_len": _as_int_array("gen_len", gen_len),
            "w_bits": _as_int_array("w_bits", w_value),
            "a_bits": _as_int_array("a_bits", a_value),
            "kv_bits": _as_int_array("kv_bits", kv_value),
        }
        fields["kv_len"] = (fields["prompt_len"] if kv_len is None
                            else _as_int_array("kv_len", kv_len))
        try:
            arrays = dict(zip(fields, np.broadcast_arrays(*fields.values()), strict=True))
        except ValueError:
            sizes = {k: v.size for k, v in fields.items() if v.size > 1}
            raise ScenarioError(f"scenario lists must have equal lengths, got {sizes}; "
                                "use sweep() for a grid of combinations") from None
        if not isinstance(flash_attention, bool | np.bool_) or not isinstance(logits_all, bool | np.bool_):
            raise ScenarioError("flash_attention and logits_all must be true or false")
        return cls(
            batch_size=arrays["batch_size"], prompt_len=arrays["prompt_len"],
            gen_len=arrays["gen_len"], kv_len=arrays["kv_len"],
            weights=Format(arrays["w_bits"], w_family),
            activations=Format(arrays["a_bits"], a_family),
            kv_cache=Format(arrays["kv_bits"], kv_family),
            flash_attention=bool(flash_attention), logits_all=bool(logits_all),
            group_size=_check_int("group_size", group_size, GROUP_SIZE_LIMITS),
            scale_bits=_check_int("scale_bits", scale_bits, SCALE_BITS_LIMITS),
        )


def tiled(scenario: Scenario, times: int) -> Scenario:
    """The same scenarios repeated ``times`` times (for evaluating several KV lengths at once)."""
    from dataclasses import replace

    def tile(a: np.ndarray) -> np.ndarray:
        return np.tile(a, times)

    sc = scenario
    return replace(sc, batch_size=tile(sc.batch_size), prompt_len=tile(sc.prompt_len),
                   gen_len=tile(sc.gen_len), kv_len=tile(sc.kv_len),
                   weights=Format(tile(sc.weights.bits), sc.weights.family),
                   activations=Format(tile(sc.activations.bits), sc.activations.family),
                   kv_cache=Format(tile(sc.kv_cache.bits), sc.kv_cache.family))
