"""Argument types of the command line: each checks its value where argparse parses it, so an error
names the flag (``argument --batch-size/-b: must be an integer in 1..1000000, got 0``).

Light at import time (argparse only): the checks of :mod:`llm_roofline.inputs` and the ranges of
:mod:`llm_roofline.limits` are imported when a flag is given.
"""

from __future__ import annotations

import argparse

from .errors import RooflineError, ScenarioError


def _flag_check(check):
    """An argparse type from a check that raises RooflineError."""

    def parse(text: str):
        try:
            return check(text)
        except RooflineError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def int_flag(field: str | tuple[int, int]):
    """An integer flag with the range of scenario field ``field`` (llm_roofline.limits), or (low, high)."""

    def check(text: str) -> int:
        from .inputs import integer_text
        from .limits import GROUP_SIZE_LIMITS, SCALE_BITS_LIMITS, SCENARIO_LIMITS

        low, high = field if isinstance(field, tuple) else {
            **SCENARIO_LIMITS, "group_size": GROUP_SIZE_LIMITS, "scale_bits": SCALE_BITS_LIMITS}[field]
        return integer_text("", text, low, high)

    return _flag_check(check)


def real_flag(low: float, high: float, *, high_open: bool = False, unit: str = ""):
    """A number flag in [low, high] (or [low, high))."""

    def check(text: str) -> float:
        from .inputs import real_text

        return real_text("", text, low, high, high_open=high_open, unit=unit)

    return _flag_check(check)


def output_file(text: str) -> str:
    """``-o FILE``: a non-empty file name (``-o ""`` is a mistake, not standard output)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty file name; leave out -o to write to standard output")
    return text


def bits_value(text: str, name: str = "") -> str | int:
    """One bit-width (``8``) or format name (``int4``); ScenarioError naming ``name`` otherwise."""
    from .inputs import describe, integer_text
    from .limits import MAX_BITS, MIN_BITS
    from .precision import NAMED_FORMATS, is_format_name

    lead = f"{name} must" if name else "must"
    if text.strip().isascii() and text.strip().isdigit():
        return integer_text(name, text, MIN_BITS, MAX_BITS)
    if is_format_name(text):
        return text
    raise ScenarioError(f"{lead} be a bit-width {MIN_BITS}..{MAX_BITS} or one of {', '.join(NAMED_FORMATS)}, "
                        f"got {describe(text)} (unknown format)")


bits_flag = _flag_check(bits_value)


def quantity_flag(dimension: str, field: str):
    """--bandwidth / --capacity / --peak: a number with an optional unit, in the plausible range."""

    def check(text: str) -> float:
        from .inputs import hardware_number
        from .units import quantity

        try:
            value = quantity(text, dimension)
        except ValueError as exc:
            raise ScenarioError(str(exc)) from None
        return hardware_number("", value, field)

    return _flag_check(check)
