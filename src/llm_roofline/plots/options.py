"""Command-line values of the plot and sweep faces: integer lists, quantity lists, image formats.

Pure Python (no NumPy, no matplotlib): the CLI imports this module at start-up.

List syntax (``--batch-size``, ``--prompt-len``, ...): comma-separated items, each item one of

    ``N``          one integer                                  ``512``
    ``A..B``       every integer from A to B, both included     ``1..8``      = 1 2 3 4 5 6 7 8
    ``A..B:xK``    A, A*K, A*K*K, ... up to B (K an integer > 1) ``1..256:x2`` = 1 2 4 ... 256
    ``A..B:K``     A, A+K, A+2K, ... up to B (K >= 1)            ``0..64:16``  = 0 16 32 48 64

e.g. ``1,2,4..32:x2,48`` = 1 2 4 8 16 32 48. Values keep the order written; repeats are dropped.
"""

from __future__ import annotations

import re

from ..errors import RooflineError, ScenarioError
from ..limits import MAX_GRID_POINTS, SCENARIO_LIMITS

MAX_LIST_VALUES = MAX_GRID_POINTS  # no list can be longer than a whole grid may be
# Curves, bars or devices one figure draws: each is drawn, labelled and listed in the legend, so more
# would be unreadable and slow (300 x 300 breakdown bars once took 11 GB). The grid's points are
# capped by MAX_GRID_POINTS as everywhere else.
MAX_SERIES = 64
IMAGE_FORMATS = ("png", "svg", "pdf")

_RANGE = re.compile(r"^(\d+)\.\.(\d+)(?::(x?)(\d+))?$", re.ASCII)
_NUMBER = re.compile(r"^\d+$", re.ASCII)
_LIST_HELP = "N, A..B (every integer), A..B:xK (times K) or A..B:K (step K), comma-separated"


class PlotError(RooflineError, ValueError):
    """An output problem the user can fix: an unknown image format, an unwritable file."""


def check_series(count: int, what: str) -> None:
    """ScenarioError when a figure would draw more than MAX_SERIES curves or bars."""
    if count > MAX_SERIES:
        raise ScenarioError(f"{what}: {count:,} of them; a figure draws at most {MAX_SERIES}; list fewer values "
                            "(or use `llm-roofline sweep` for the numbers)")


def parse_int_list(text: str, name: str = "value") -> list[int]:
    """``'1..256:x2'`` -> [1, 2, 4, ..., 256]; ``'512,2048'`` -> [512, 2048] (see the module doc). A flag
    named after a scenario field (``--batch-size``) has that field's range (llm_roofline.limits)."""
    values: list[int] = []
    seen: set[int] = set()
    items = [item.strip() for item in str(text).split(",")]
    if not any(items):
        raise ScenarioError(f"{name}: empty list; use {_LIST_HELP}")
    limits = SCENARIO_LIMITS.get(name.lstrip("-").replace("-", "_"))
    for item in items:
        for value in _expand(item, name, limits):
            if value not in seen:
                seen.add(value)
                values.append(value)
            if len(values) > MAX_LIST_VALUES:
                raise ScenarioError(f"{name}: more than {MAX_LIST_VALUES:,} values in {_short(text)}")
    if limits is not None:
        low, high = limits
        bad = next((v for v in (min(values), max(values)) if not low <= v <= high), None)
        if bad is not None:
            raise ScenarioError(f"{name}: {bad} is outside {low}..{high}")
    return values


def _short(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def _expand(item: str, name: str, limits: tuple[int, int] | None):
    match = _RANGE.match(item)
    single = _NUMBER.match(item)
    if not (single or match):
        raise ScenarioError(f"{name}: cannot read {_short(item)}; use {_LIST_HELP}")
    longest = max(len(digits.lstrip("0")) for digits in re.findall(r"[0-9]+", item))
    if longest > 18:  # beyond every limit (and beyond what int() converts at 4,300 digits)
        valid = f" (valid: {limits[0]}..{limits[1]})" if limits else ""
        raise ScenarioError(f"{name}: a {longest}-digit number is out of range{valid}")
    if single:
        yield int(item)
        return
    start, stop, times, step_text = match.groups()
    start, stop = int(start), int(stop)
    if stop < start:
        raise ScenarioError(f"{name}: range {item!r} ends before it starts")
    step = int(step_text) if step_text else 1
    if times:
        if step < 2:
            raise ScenarioError(f"{name}: the factor in {item!r} must be an integer of at least 2")
        if start == 0:
            raise ScenarioError(f"{name}: a doubling range {item!r} cannot start at 0")
        value = start
        while value <= stop:
            yield value
            value *= step
        return
    if step < 1:
        raise ScenarioError(f"{name}: the step in {item!r} must be at least 1")
    if (stop - start) // step + 1 > MAX_LIST_VALUES:
        raise ScenarioError(f"{name}: more than {MAX_LIST_VALUES:,} values in {_short(item)}")
    yield from range(start, stop + 1, step)


def parse_bits_list(text: str, name: str) -> list[int | str]:
    """Bit-widths: a list of integers (``16,8,4``, ``2..8``) or one named format (``int4``, ``fp8``)."""
    text = str(text).strip()
    if text and not _NUMBER.match(text[0]):
        if "," in text:
            raise ScenarioError(f"{name}: a list of bit-widths takes numbers (e.g. 16,8,4); "
                                f"named formats ({text!r}) go one at a time")
        return [text]
    return parse_int_list(text, name)


def parse_pairs(text: str, name: str) -> list[tuple[int, int]]:
    """``'1x1024,16x1024'`` -> [(1, 1024), (16, 1024)]: batch size x prompt length pairs."""
    pairs = []
    for item in str(text).split(","):
        parts = item.strip().lower().split("x")
        if len(parts) != 2 or not all(_NUMBER.match(p.strip()) and len(p.strip()) <= 18 for p in parts):
            raise ScenarioError(f"{name}: cannot read {_short(item.strip())}; use BATCHxPROMPT pairs like "
                                "1x1024,16x1024")
        pairs.append((int(parts[0]), int(parts[1])))
    return pairs


def parse_names(text: str, name: str) -> list[str]:
    """A comma-separated list of names (devices), none empty."""
    names = [n.strip() for n in str(text).split(",")]
    if not names or not all(names):
        raise ScenarioError(f"{name}: empty name in {text!r}; give a comma-separated list")
    return names


def parse_floats(text: str, name: str) -> list[float]:
    """A comma-separated list of non-negative numbers (prices)."""
    out = []
    for item in str(text).split(","):
        try:
            value = float(item.strip().lstrip("$"))
        except ValueError:
            raise ScenarioError(f"{name}: cannot read {item.strip()!r} as a number") from None
        if not value > 0 or value == float("inf"):
            raise ScenarioError(f"{name}: {item.strip()!r} must be a positive number")
        out.append(value)
    return out


def image_format(path: str) -> str:
    """The image format named by the file's extension: png, svg or pdf."""
    suffix = str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else ""
    if suffix not in IMAGE_FORMATS:
        shown = f"'.{suffix}'" if suffix else "no extension"
        raise PlotError(f"cannot tell the image format of {path!r} ({shown}); end the file name in "
                        f"{', '.join('.' + f for f in IMAGE_FORMATS)}")
    return suffix
