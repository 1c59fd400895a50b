"""Checks of single user values at the boundary, shared by the API, the CLI, the plots and the web.

Pure Python (no NumPy): the CLI's argument types call these at parse time. Every check raises
:class:`~llm_roofline.errors.ScenarioError` whose message names the field (or, with ``name=""``,
starts with "must be ..." so a face can put its own flag name in front), says what type or range is
valid, and shows the offending value briefly (a 5,001-digit integer is described, never printed).
"""

from __future__ import annotations

import math
import numbers
import re
import reprlib

from .errors import ScenarioError
from .limits import HARDWARE_RANGES, MAX_GRID_POINTS

_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxlevel = 40, 40, 4, 4, 2
_INTEGER_TEXT = re.compile(r"^\s*[-+]?\d+\s*$")


def describe(value: object) -> str:
    """A short, safe rendering of ``value`` for an error message: huge integers by their size, long
    text and containers cut short, NumPy scalars as plain numbers."""
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() > 64:  # repr() of a 5,001-digit int raises; say how big it is instead
            return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return repr(float(value))  # the shortest exact form: 8.0, 1e-320, nan
    return _SHORT.repr(value)


def kind_of(value: object) -> str:
    """The user-facing name of a value's type: 'a bool', 'text', 'bytes', 'None', 'a list', ..."""
    if type(value).__name__ in ("bool", "bool_"):  # Python's and NumPy's
        return "a bool"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bytes | bytearray):
        return "bytes"
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _lead(name: str) -> str:
    return f"{name} must" if name else "must"


def _interval(low: float, high: float, high_open: bool) -> str:
    return f"[{low:g}, {high:g}{')' if high_open else ']'}"


def real(name: str, value: object, low: float, high: float, *, high_open: bool = False, unit: str = "",
         shown: str | None = None) -> float:
    """``value`` as a float if it is a real number (not a bool, not text) in [low, high] (or
    [low, high) with ``high_open``); ``unit`` is shown after the range, ``shown`` (the text the user
    wrote) instead of the value."""
    suffix = f" {unit}" if unit else ""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or kind_of(value) == "a bool":
        raise ScenarioError(f"{_lead(name)} be a number{f' of {unit}' if unit else ''}, not {kind_of(value)} "
                            f"(got {describe(value)})")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not (math.isfinite(number) and low <= number <= high and not (high_open and number == high)):
        raise ScenarioError(f"{_lead(name)} be a number in {_interval(low, high, high_open)}{suffix}, "
                            f"got {shown or describe(value)}")
    return number


def integer(name: str, value: object, low: int, high: int) -> int:
    """``value`` as an int if it is an integer (not a bool, not a float, not text) in low..high."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or kind_of(value) == "a bool":
        raise ScenarioError(f"{_lead(name)} be an integer in {low}..{high}, not {kind_of(value)} "
                            f"(got {describe(value)})")
    if not low <= int(value) <= high:
        raise ScenarioError(f"{_lead(name)} be an integer in {low}..{high}, got {describe(value)}")
    return int(value)


def integer_text(name: str, text: str, low: int, high: int) -> int:
    """A command-line integer: digits with an optional sign, in low..high. Handles any length (Python
    refuses to convert over 4,300 digits; such a number is out of range anyway)."""
    if not _INTEGER_TEXT.match(text):
        raise ScenarioError(f"{_lead(name)} be an integer in {low}..{high}, got {describe(text)}")
    digits = text.strip().lstrip("+-").lstrip("0")
    if len(digits) > 30:
        raise ScenarioError(f"{_lead(name)} be an integer in {low}..{high}, got a {len(digits)}-digit number")
    return integer(name, int(text), low, high)


def real_text(name: str, text: str, low: float, high: float, *, high_open: bool = False, unit: str = "") -> float:
    """A command-line number (``0.5``, ``1e-3``) in [low, high]."""
    try:
        value = float(text)
    except ValueError:
        raise ScenarioError(f"{_lead(name)} be a number in {_interval(low, high, high_open)}"
                            f"{f' {unit}' if unit else ''}, got {describe(text)}") from None
    return real(name, value, low, high, high_open=high_open, unit=unit, shown=text.strip()[:40])


def hardware_number(name: str, value: object, field: str) -> float:
    """A device's bandwidth, capacity or peak (SI base units) within ``HARDWARE_RANGES[field]``; a
    value below the range probably lacks its unit, and the message says so."""
    low, high, unit = HARDWARE_RANGES[field]
    number = isinstance(value, numbers.Real) and kind_of(value) != "a bool"
    shown = None
    if number:
        try:
            shown = f"{float(value):g}"
        except OverflowError:  # an int beyond float's range
            shown = describe(value)
    try:
        return real(name, value, low, high, unit=unit, shown=shown)
    except ScenarioError as exc:
        hint = f" (a unit missing? e.g. '{shown} G{unit}')" if number and 0 < value < low else ""
        raise ScenarioError(f"{exc}{hint}") from None


def grid_points(lengths: dict[str, int], what: str = "the grid") -> int:
    """The number of scenarios of a grid with these axis lengths, or ScenarioError when it exceeds
    ``MAX_GRID_POINTS`` (checked before anything is allocated)."""
    points = math.prod(lengths.values())
    if points > MAX_GRID_POINTS:
        shape = " x ".join(f"{n:,} {name}" for name, n in lengths.items() if n > 1)
        raise ScenarioError(f"{what} has {points:,} points ({shape}); at most {MAX_GRID_POINTS:,} per call: "
                            "use fewer or coarser values (e.g. 1..4096:x2)")
    return points
