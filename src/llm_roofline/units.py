"""Units: decimal SI prefixes (GB = 1e9 bytes, GiB = 2**30 bytes), parsing of user quantities and
the formatters the faces use. The engine itself only ever sees SI base units."""

from __future__ import annotations

import math
import re

from .errors import ScenarioError

GB = 1e9
GiB = 2**30
_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
# dimension -> {unit as written: factor to the SI base unit}
UNITS: dict[str, dict[str, float]] = {
    "B": {p + "B": f for p, f in {**_DECIMAL, **_BINARY}.items()},
    "B/s": {p + u: f for p, f in {**_DECIMAL, **_BINARY}.items() for u in ("B/s", "Bps")},
    "FLOP/s": {p + u: f for p, f in _DECIMAL.items() for u in ("FLOPS", "FLOP/s", "OPS", "OP/s")},
    "s": {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9},
}
UNIT_HINTS = {
    "B": "B, kB, MB, GB, TB (decimal) or KiB, MiB, GiB, TiB (binary), e.g. '48 GB'",
    "B/s": "B/s, MB/s, GB/s, TB/s (decimal) or GiB/s, e.g. '768 GB/s'",
    "FLOP/s": "GFLOPS, TFLOPS, PFLOPS or GOPS, TOPS, POPS, e.g. '154.8 TFLOPS'",
    "s": "s, ms, us, ns, e.g. '2 us'",
}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-zµ/]*)\s*$")


def quantity(text: str | float, dimension: str, *, unit_required: bool = False) -> float:
    """A positive quantity of ``dimension`` ('B', 'B/s', 'FLOP/s' or 's') in SI base units:
    '900GB/s' -> 9e11, '80GiB' -> 85899345920, '312 TFLOPS' -> 3.12e14, '2 us' -> 2e-6, and a bare number as it is
    (unless ``unit_required``). Raises ValueError with a message that says what is accepted."""
    hint = UNIT_HINTS[dimension]
    if isinstance(text, int | float) and not isinstance(text, bool):
        if unit_required:
            raise ValueError(f"needs a number with a unit ({hint}), got {text!r}")
        value = float(text)
    else:
        match = _QUANTITY.match(str(text))
        if not match:
            raise ValueError(f"cannot read {text!r} as a quantity in {dimension}; write a number and a unit ({hint})")
        number, unit = match.groups()
        if not unit and unit_required:
            raise ValueError(f"needs a number with a unit ({hint}), got {text!r}")
        factor = UNITS[dimension].get(unit) if unit else 1.0
        if factor is None:
            raise ValueError(f"unknown unit {unit!r} in {text!r} for a quantity in {dimension}; use {hint}")
        value = float(number) * factor
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{text!r}: a quantity in {dimension} must be a positive finite number")
    return value


def parse_quantity(text: str | float, unit: str) -> float:
    """A user's quantity of dimension ``unit`` (a bare number or one with a unit), or ScenarioError."""
    try:
        return quantity(text, unit)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None


def _round_sig(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant digits, so that the unit is chosen after rounding
    (999.96 ns -> 1000 ns -> '1 us', never '1e+03 ns')."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def plain(value: float | None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits in positional notation, thousands separated:
    0.000123, 0.75, 114, 1,020 (1023.5); exponent notation only outside 1e-4 .. 1e15.
    Used for arithmetic intensities (FLOP/byte), rates and counts."""
    if _missing(value):
        return "-"
    if value == 0:
        return "0"
    r = _round_sig(float(value), digits)
    if not 1e-4 <= abs(r) < 1e15:
        return f"{r:.{digits - 1}e}"
    return f"{r:,.0f}" if abs(r) >= 10 ** (digits - 1) else f"{r:.{digits}g}"


def si(value: float | None, unit: str = "", digits: int = 3) -> str:
    """1.23e12, 'B' -> '1.23 TB' (decimal prefixes, ``digits`` significant digits)."""
    if _missing(value):
        return "-"
    if value == 0:
        return f"0 {unit}".strip()
    r = _round_sig(float(value), digits)
    for prefix, scale in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(r) >= scale:
            return f"{_round_sig(r / scale, digits):.{digits}g} {prefix}{unit}"
    return f"{r:.{digits}g} {unit}".strip()


# Units of a duration, largest first: (name, seconds). Below a nanosecond a time shows as '< 1 ns'.
_DURATIONS = (("days", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3), ("us", 1e-6),
              ("ns", 1e-9))


def seconds(value: float | None) -> str:
    """A duration with 3 significant digits in the largest unit that keeps it at least 1: ns, us, ms,
    s, min, h or days (0.0186 -> '18.6 ms', 5400 -> '1.5 h'); '0 s' for zero, '< 1 ns' below a
    nanosecond (an operator that moves a few bytes), never '0.00805 ns'."""
    if _missing(value):
        return "-"
    if value == 0:
        return "0 s"
    r = _round_sig(float(value), 3)
    if abs(r) < 1e-9:
        return "< 1 ns"
    unit, scale = next((u, s) for u, s in _DURATIONS if abs(r) >= s)
    return f"{plain(r / scale)} {unit}"


def rate(value: float | None, unit: str = "tokens/s") -> str:
    """A rate with 3 significant digits: 50.9 tokens/s, 1,210 tokens/s; '-' when it does not exist."""
    return "-" if _missing(value) else f"{plain(value)} {unit}"


def percent(fraction: float | None) -> str:
    """A share (0..1) as a percentage with 3 significant digits: 0.0612 -> '6.12%', 1 -> '100%'; a
    nonzero share below 0.1% shows as '< 0.1%' (never as 0%)."""
    if _missing(fraction):
        return "-"
    if 0 < fraction < 1e-3:
        return "< 0.1%"
    return f"{plain(100 * fraction)}%"


def binary_bytes(value: float | None) -> str:
    """Bytes with binary prefixes (on-chip memories are sized in KiB/MiB): 262144 -> '256 KiB'."""
    if value is None:
        return "-"
    for prefix, scale in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {prefix}B"
    return f"{value:.4g} B"
