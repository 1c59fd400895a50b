"""Validation helpers shared by the ModelSpec dataclasses: every error names the owner and the field,
and every size is bounded by its kind's documented limit (``llm_roofline.limits.MODEL_LIMITS``)."""

from __future__ import annotations

from ..errors import ConfigError
from .limits import LIMITS


def _bounded(owner: str, kind: str, low: int, values: dict[str, int]) -> None:
    high = LIMITS[kind]
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"{owner}.{name} must be an integer in {low}..{high:,}, got {value!r}")


def _positive(owner: str, kind: str = "other", **values: int) -> None:
    """Each value an integer in 1..LIMITS[kind]."""
    _bounded(owner, kind, 1, values)


def _non_negative(owner: str, kind: str = "other", **values: int) -> None:
    """Each value an integer in 0..LIMITS[kind]."""
    _bounded(owner, kind, 0, values)
