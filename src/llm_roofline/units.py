"""Units: decimal SI prefixes (GB = 1e9 bytes, GiB = 2**30 bytes), parsing of user quantities and
the formatters the faces use. The engine itself only ever sees SI base units."""

from __future__ import annotations

import math
import re

from .errors import ScenarioError

GB = 1e9
GiB = 2**30
_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_QUANTITY = re.compile(r"^\s*([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*([kKMGTPE]i?)?\s*"
                       r"(B/s|Bps|B|FLOPS|FLOP/s|OPS|FLOP)?\s*$")
_SUFFIXES = {"B/s": {"B/s", "Bps"}, "B": {"B"}, "FLOP/s": {"FLOPS", "FLOP/s", "OPS"}}


_EXAMPLES = {"B/s": "1.2e12 or 900GB/s", "B": "80e9, 80GB or 80GiB", "FLOP/s": "312e12 or 312TFLOPS"}


def parse_quantity(text: str | float, unit: str) -> float:
    """'900GB/s' -> 9e11, '80GiB' -> 85899345920, '312 TFLOPS' -> 3.12e14, '1.2e12' -> 1.2e12.

    ``unit`` ('B/s', 'B' or 'FLOP/s') names what the number measures, for the error message.
    """
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _QUANTITY.match(str(text))
        if not match:
            raise ScenarioError(f"cannot read {text!r} as a quantity in {unit} (e.g. 1.2e12, 900GB/s, 80GiB)")
        number, prefix, suffix = match.groups()
        if suffix and suffix not in _SUFFIXES.get(unit, {suffix}):
            raise ScenarioError(f"{text!r} is not a quantity in {unit} (e.g. {_EXAMPLES.get(unit, '1.2e12')})")
        try:
            value = float(number)
        except ValueError:
            raise ScenarioError(f"cannot read {text!r} as a number") from None
        prefix = prefix or ""
        value *= _BINARY[prefix] if prefix in _BINARY else _DECIMAL[prefix]
    if not math.isfinite(value) or value <= 0:
        raise ScenarioError(f"{text!r}: a quantity in {unit} must be a positive finite number")
    return value


def si(value: float | None, unit: str = "", digits: int = 3) -> str:
    """1.23e12, 'B' -> '1.23 TB' (decimal prefixes)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == 0:
        return f"0 {unit}".strip()
    for prefix, scale in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}".strip()


def seconds(value: float | None) -> str:
    """Seconds in the most readable of s, ms, us, ns."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def binary_bytes(value: float | None) -> str:
    """Bytes with binary prefixes (on-chip memories are sized in KiB/MiB): 262144 -> '256 KiB'."""
    if value is None:
        return "-"
    for prefix, scale in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {prefix}B"
    return f"{value:.4g} B"
