"""Reading Hugging Face config fields: typed access that names the file and the field in every
error, and the helpers the family parsers share (head size, KV heads, tying, windows)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from .limits import LIMITS, limit_of_field

MISSING: Any = object()
# Largest magnitude of a float field (and of integer fields without a limit of their own, see
# limits.py): far above any real model, small enough that products of sizes stay finite in float64.
MAX_SIZE = LIMITS["other"]

# HF activation names -> spec.ACTIVATIONS.
ACTIVATION_NAMES = {
    "silu": "silu", "swish": "silu", "swiglu": "silu",
    "gelu": "gelu", "gelu_python": "gelu", "quick_gelu": "gelu", "gelu_10": "gelu",
    "gelu_new": "gelu_tanh", "gelu_fast": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_tanh": "gelu_tanh", "gelu_accurate": "gelu_tanh",
    "relu": "relu", "relu2": "relu2", "relu_squared": "relu2",
}


class Fields:
    """Typed access to a config dict; every error names ``where`` and the field."""

    def __init__(self, data: Mapping[str, Any], where: str):
        self.data = data
        self.where = where

    def with_defaults(self, defaults: Mapping[str, Any]) -> Fields:
        """The same config with a transformers config class's defaults for the fields it does not
        give (a field given as null stays null, as in transformers)."""
        return Fields({**defaults, **self.data}, self.where)

    def error(self, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: {message}")

    def has(self, *keys: str) -> bool:
        return any(self.data.get(key) is not None for key in keys)

    def _find(self, keys: Sequence[str]) -> tuple[str, Any]:
        for key in keys:
            if self.data.get(key) is not None:
                return key, self.data[key]
        return keys[0], None

    def require(self, *groups: str | tuple[str, ...]) -> None:
        """Raise one error listing every absent (or null) required field; a tuple is a set of
        aliases of which one must be present."""
        missing = []
        for group in groups:
            keys = (group,) if isinstance(group, str) else group
            if not self.has(*keys):
                missing.append(keys[0] if len(keys) == 1 else f"{keys[0]} (or {', '.join(keys[1:])})")
        if missing:
            raise self.error(f"missing required field(s): {', '.join(missing)}")

    def _get(self, keys: Sequence[str], default: Any) -> tuple[str, Any]:
        key, value = self._find(keys)
        if value is None and default is MISSING:
            raise self.error(f"missing required field(s): {key}")
        return key, value

    def int(self, *keys: str, default: Any = MISSING, minimum: int | None = 1) -> Any:
        """An integer (missing or null: ``default``), at most the field's limit (limits.py). Integral
        floats such as 4096.0 are accepted."""
        key, value = self._get(keys, default)
        if value is None:
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(f"field {key!r} must be an integer, got {value!r} ({type(value).__name__})")
        high = limit_of_field(key)
        if (minimum is not None and value < minimum) or value > high:
            low = "" if minimum is None else f"{minimum}.."
            shown = str(value) if len(str(value)) <= 20 else f"{float(value):.3g}"
            raise self.error(f"field {key!r} must be in {low}{high:,}, got {shown}")
        return value

    def float(self, *keys: str, default: Any = MISSING) -> Any:
        key, value = self._get(keys, default)
        if value is None:
            return default
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self.error(f"field {key!r} must be a number, got {value!r} ({type(value).__name__})")
        if not math.isfinite(value) or abs(value) > MAX_SIZE:
            raise self.error(f"field {key!r} must be a finite number of magnitude <= {MAX_SIZE}, got {value!r}")
        return float(value)

    def bool(self, *keys: str, default: Any = MISSING) -> Any:
        key, value = self._get(keys, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(f"field {key!r} must be true or false, got {value!r} ({type(value).__name__})")
        return value

    def str(self, *keys: str, default: Any = MISSING) -> Any:
        key, value = self._get(keys, default)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(f"field {key!r} must be a string, got {value!r} ({type(value).__name__})")
        return value

    def dict(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(f"field {key!r} must be an object, got {value!r} ({type(value).__name__})")
        return value

    def list(self, key: str, item: type, default: Any = MISSING) -> Any:
        _, value = self._get((key,), default)
        if value is None:
            return default
        if not isinstance(value, list) or not all(
                isinstance(v, item) and not (item is int and isinstance(v, bool)) for v in value):
            raise self.error(f"field {key!r} must be a list of {item.__name__}, got {value!r}")
        return value

    def layer_indices(self, key: str, num_layers: int) -> frozenset[int]:
        """A list of layer indices (``mlp_only_layers``, ``moe_layers``...), each in 0..num_layers-1."""
        indices = self.list(key, int, default=[])
        outside = [i for i in indices if not 0 <= i < num_layers]
        if outside:
            raise self.error(f"field {key!r}: layer index {outside[0]} is outside the model's layers "
                             f"0..{num_layers - 1}")
        return frozenset(indices)

    def per_layer(self, key: str, item: type, num_layers: int) -> list | None:
        """An explicit per-layer list (``layer_types``, ``no_rope_layers``...) of num_layers entries."""
        if not self.has(key):
            return None
        values = self.list(key, item)
        if len(values) != num_layers:
            raise self.error(f"field {key!r} has {len(values)} entries for {num_layers} layers")
        return values

    def activation(self, *keys: str, default: str) -> str:
        key, _ = self._find(keys)
        name = self.str(*keys, default=default)
        act = ACTIVATION_NAMES.get(name.lower())
        if act is None:
            raise self.error(f"field {key!r}: unsupported activation {name!r} "
                             f"(known: {', '.join(sorted(ACTIVATION_NAMES))})")
        return act

    def fraction(self, *keys: str, default: float) -> float:
        """A rotary fraction in (0, 1], also looked up inside ``rope_parameters`` (transformers 5)."""
        value = self.float(*keys, default=None)
        if value is None:
            nested = Fields(self.dict("rope_parameters"), self.where)
            value = nested.float(*keys, default=default)
        if not 0.0 <= value <= 1.0:
            raise self.error(f"field {keys[0]!r} must be between 0 and 1, got {value}")
        return value


# --- shared helpers -----------------------------------------------------------------------------

def head_dim_of(f: Fields, hidden: int, heads: int, key: str | None = "head_dim",
              default: int | None = None) -> int:
    """Explicit ``head_dim`` when given (Gemma, Qwen3, Mistral-Nemo), else hidden / heads."""
    if key is not None and f.has(key):
        return f.int(key)
    if default is not None:
        return default
    if hidden % heads:
        raise f.error(f"hidden_size ({hidden}) is not a multiple of the number of attention heads "
                      f"({heads}) and no head_dim is given")
    return hidden // heads


def kv_heads_of(f: Fields, heads: int, *keys: str) -> int:
    kv = f.int(*keys, default=heads)
    if heads % kv:
        raise f.error(f"field {keys[0]!r} ({kv}) must divide the number of attention heads ({heads})")
    return kv


def tied(f: Fields, default: bool) -> bool:
    return f.bool("tie_word_embeddings", default=default)


def window_value(f: Fields) -> int | None:
    return f.int("sliding_window", "sliding_window_size", default=None)


def layer_type_windows(f: Fields, num_layers: int, window: int | None) -> list[int | None] | None:
    """Per-layer windows from an explicit ``layer_types`` list (Gemma 2/3, newer Qwen2 configs)."""
    types = f.per_layer("layer_types", str, num_layers)
    if types is None:
        return None
    out: list[int | None] = []
    for kind in types:
        if kind == "sliding_attention":
            out.append(window)
        elif kind == "full_attention":
            out.append(None)
        else:
            raise f.error(f"field 'layer_types': unsupported layer type {kind!r}")
    return out
