"""Scenario: what is being run, as NumPy arrays so that one call evaluates many scenarios.

Every numeric field is a float64 array of one common shape ``(n,)``; scalars broadcast.
T (query tokens per sequence), S (KV length) and B (batch) follow the JAX scaling book.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from . import defaults
from .errors import ScenarioError
from .inputs import describe, integer, kind_of
from .limits import GROUP_SIZE_LIMITS, MAX_GRID_POINTS, SCALE_BITS_LIMITS, SCENARIO_LIMITS
from .precision import Format, format_name, parse_format
from .techniques.optimizations import OFF, Optimizations

# Valid ranges, inclusive (defined in limits.py). Lengths and batch are counts of tokens / sequences.
LIMITS = SCENARIO_LIMITS
__all__ = ["GROUP_SIZE_LIMITS", "LIMITS", "MAX_GRID_POINTS", "SCALE_BITS_LIMITS", "Scenario", "axis_values",
           "is_single_value"]


def is_single_value(value: object) -> bool:
    """True for one value (a number, a bool, text, bytes, None, a 0-d array, any non-iterable object);
    False for a list, tuple, range, 1-D array, mapping, set or other iterable."""
    if isinstance(value, str | bytes | bytearray | numbers.Number) or value is None:
        return True
    if isinstance(value, np.ndarray):
        return value.ndim == 0
    return not isinstance(value, Iterable)


def _check_item(name: str, item: object) -> None:
    """One element of a scenario list: a real number (not a bool, text, bytes, None or a nested list)."""
    if isinstance(item, list | tuple | range | np.ndarray):
        raise ScenarioError(f"{name}: nested lists are not accepted; give one flat list of numbers")
    if kind_of(item) == "a bool":
        raise ScenarioError(f"{name} must be a number, not a bool (got {item!r}; True is not 1)")
    if not isinstance(item, numbers.Real):
        raise ScenarioError(f"{name} must be a number or a flat list of numbers, not {kind_of(item)} "
                            f"(got {describe(item)})")
    if isinstance(item, numbers.Integral) and abs(int(item)) > 2**53:  # beyond every limit, and float()'s reach
        low, high = LIMITS[name]
        raise ScenarioError(f"{name} must be an integer in {low}..{high}, got {describe(item)}")


def axis_values(name: str, value: object) -> np.ndarray:
    """A scenario field as a 1-D float64 array of integers in ``LIMITS[name]``, from one number or a flat
    list (list, tuple, range or 1-D array) of at most MAX_GRID_POINTS numbers. Rejects, naming the field:
    bools (True is not 1), text, bytes, None, mappings, sets, nested lists, fractions, values out of range."""
    low, high = LIMITS[name]
    if type(value) is int and low <= value <= high:  # the common case: one valid Python int
        return np.array([float(value)])
    if isinstance(value, np.ndarray) and value.ndim > 0:
        if value.ndim > 1:
            raise ScenarioError(f"{name}: nested lists are not accepted; give one flat list of numbers")
        if value.dtype.kind not in "iuf":
            raise ScenarioError(f"{name} must be numbers, got an array of {value.dtype}")
        items = value
    elif isinstance(value, list | tuple | range):
        items = value
        if len(items) <= MAX_GRID_POINTS:
            for item in items:
                _check_item(name, item)
    elif is_single_value(value):
        _check_item(name, value)
        items = [value]
    else:
        raise ScenarioError(f"{name} must be a number or a flat list of numbers, not {kind_of(value)} "
                            f"(got {describe(value)})")
    if len(items) == 0:
        raise ScenarioError(f"{name} must be a number or a non-empty list of numbers")
    if len(items) > MAX_GRID_POINTS:
        raise ScenarioError(f"{name}: {len(items):,} values; at most {MAX_GRID_POINTS:,} scenarios per call")
    array = np.asarray(items, dtype=np.float64).reshape(-1)
    bad = ~np.isfinite(array) | (array != np.round(array)) | (array < low) | (array > high)
    if bad.any():
        raise ScenarioError(f"{name} must be an integer in {low}..{high}, got {array[bad][0]:g}")
    return array


def _check_int(name: str, value: object, limits: tuple[int, int]) -> int:
    return integer(name, value, *limits)


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
    ``optimizations``: compression and system techniques (techniques/optimizations.py; all off by
    default); its per-scenario settings (weight sparsity, offload fractions, prefix length) share the
    scenario axis.
    """

    batch_size: np.ndarray
    prompt_len: np.ndarray
    gen_len: np.ndarray
    kv_len: np.ndarray
    weights: Format
    activations: Format
    kv_cache: Format
    state: Format
    flash_attention: bool = False
    logits_all: bool = False
    group_size: int = 128
    scale_bits: int = 16
    optimizations: Optimizations = OFF

    @property
    def size(self) -> int:
        return int(self.batch_size.shape[0])

    @classmethod
    def build(cls, *, batch_size: object = defaults.DEFAULT_BATCH_SIZE,
              prompt_len: object = defaults.DEFAULT_PROMPT_LEN, gen_len: object = defaults.DEFAULT_GEN_LEN,
              kv_len: object = None, w_bits: object = defaults.DEFAULT_BITS, a_bits: object = defaults.DEFAULT_BITS,
              kv_bits: object = defaults.DEFAULT_BITS,
              state_bits: object = defaults.DEFAULT_STATE_BITS, flash_attention: bool = False, logits_all: bool = False,
              group_size: int = defaults.DEFAULT_GROUP_SIZE, scale_bits: int = defaults.DEFAULT_SCALE_BITS,
              optimizations: Optimizations | None = None) -> Scenario:
        """Validate and broadcast. Each numeric argument is a scalar or a 1-D list; lists of
        different lengths > 1 are an error (use ``llm_roofline.sweep`` for a grid). Defaults:
        ``llm_roofline.defaults`` (one place for every face)."""
        w_value, w_family = parse_format("w_bits", w_bits)
        a_value, a_family = parse_format("a_bits", a_bits)
        kv_value, kv_family = parse_format("kv_bits", kv_bits)
        state_value, state_family = parse_format("state_bits", state_bits)
        fields = {
            "batch_size": axis_values("batch_size", batch_size),
            "prompt_len": axis_values("prompt_len", prompt_len),
            "gen_len": axis_values("gen_len", gen_len),
            "w_bits": w_value,
            "a_bits": a_value,
            "kv_bits": kv_value,
            "state_bits": state_value,
        }
        fields["kv_len"] = (fields["prompt_len"] if kv_len is None
                            else axis_values("kv_len", kv_len))
        optimizations = OFF if optimizations is None else optimizations
        fields.update(optimizations.arrays())
        try:
            arrays = dict(zip(fields, np.broadcast_arrays(*fields.values()), strict=True))
        except ValueError:
            sizes = {k: v.size for k, v in fields.items() if v.size > 1}
            raise ScenarioError(f"scenario lists must have equal lengths, got {sizes}; "
                                "use sweep() for a grid of combinations") from None
        optimizations = optimizations.with_arrays({k: arrays.pop(k) for k in optimizations.arrays()})
        optimizations = optimizations.broadcast(arrays["batch_size"].shape[0])
        if np.any(optimizations.prefix_len >= arrays["prompt_len"]):
            bad = np.flatnonzero(optimizations.prefix_len >= arrays["prompt_len"])[0]
            raise ScenarioError(f"prefix_len ({optimizations.prefix_len[bad]:g}) must be below prompt_len "
                                f"({arrays['prompt_len'][bad]:g}): at least one prompt token is new")
        for flag, on in (("flash_attention", flash_attention), ("logits_all", logits_all)):
            if kind_of(on) != "a bool":
                raise ScenarioError(f"{flag} must be True or False, not {kind_of(on)} (got {describe(on)})")
        return cls(
            batch_size=arrays["batch_size"], prompt_len=arrays["prompt_len"],
            gen_len=arrays["gen_len"], kv_len=arrays["kv_len"],
            weights=Format(arrays["w_bits"], w_family, *format_name(w_bits)),
            activations=Format(arrays["a_bits"], a_family, *format_name(a_bits)),
            kv_cache=Format(arrays["kv_bits"], kv_family, *format_name(kv_bits)),
            state=Format(arrays["state_bits"], state_family, *format_name(state_bits)),
            flash_attention=bool(flash_attention), logits_all=bool(logits_all),
            group_size=_check_int("group_size", group_size, GROUP_SIZE_LIMITS),
            scale_bits=_check_int("scale_bits", scale_bits, SCALE_BITS_LIMITS), optimizations=optimizations,
        )


def tiled(scenario: Scenario, times: int) -> Scenario:
    """The same scenarios repeated ``times`` times (for evaluating several KV lengths at once)."""
    def tile(a: np.ndarray) -> np.ndarray:
        return np.tile(a, times)

    def tile_format(f: Format) -> Format:
        return Format(tile(f.bits), f.family, f.name, f.storage_bits)

    sc = scenario
    return Scenario(batch_size=tile(sc.batch_size), prompt_len=tile(sc.prompt_len), gen_len=tile(sc.gen_len),
                    kv_len=tile(sc.kv_len), weights=tile_format(sc.weights), activations=tile_format(sc.activations),
                    kv_cache=tile_format(sc.kv_cache), state=tile_format(sc.state),
                    flash_attention=sc.flash_attention, logits_all=sc.logits_all, group_size=sc.group_size,
                    scale_bits=sc.scale_bits, optimizations=sc.optimizations.tiled(times))


# Scenario.build's signature, computed once: techniques.resolve.split_options reads its parameter names
# on every analysis, and inspect.signature returns a function's ``__signature__`` instead of rebuilding it.
Scenario.build.__func__.__signature__ = inspect.signature(Scenario.build.__func__)
