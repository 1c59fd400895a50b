"""Validation helpers shared by the ModelSpec dataclasses: every error names the owner and the field."""

from __future__ import annotations

from ..errors import ConfigError


def _positive(owner: str, **values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{owner}.{name} must be a positive integer, got {value!r}")


def _non_negative(owner: str, **values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{owner}.{name} must be a non-negative integer, got {value!r}")
