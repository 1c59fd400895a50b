"""A plain-text table fitted to a width: it never wraps a row. When the full table is wider than the
terminal it first uses the columns' short cells, then drops whole columns, least important first,
and only then truncates the columns that may be cut (names), marking each cut with '~'.
ASCII only, so it prints on any terminal encoding. Formatting only: the cells come formatted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

GAP = "  "
CUT = "~"


@dataclass(frozen=True)
class Column:
    """``keep``: 0 for a column that is never dropped; otherwise columns with a larger ``keep`` are
    dropped first. ``short``: narrower cells with the same meaning (e.g. 'mem' for 'memory').
    ``min_width``: a column that may be truncated down to this many characters (None: never cut)."""

    header: str
    cells: Sequence[str]
    right: bool = True
    keep: int = 0
    short: Sequence[str] | None = None
    min_width: int | None = None

    def width(self, cells: Sequence[str] | None = None) -> int:
        return max([len(self.header), *(len(c) for c in (self.cells if cells is None else cells))])


@dataclass(frozen=True)
class FittedTable:
    lines: list[str]
    dropped: list[str]  # headers of the columns left out, in the table's order


def _total(widths: Sequence[int]) -> int:
    return sum(widths) + len(GAP) * (len(widths) - 1)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - len(CUT)] + CUT


def fit_table(columns: Sequence[Column], width: int | None) -> FittedTable:
    """Lay out ``columns`` (each with one cell per row) in at most ``width`` characters per line
    (None: no limit). Lines end without trailing spaces; a rule of dashes follows the headers."""
    cells = {i: list(c.cells) for i, c in enumerate(columns)}
    shown = list(range(len(columns)))

    def widths() -> list[int]:
        return [columns[i].width(cells[i]) for i in shown]

    if width is not None and _total(widths()) > width:
        for i, c in enumerate(columns):
            if c.short is not None:
                cells[i] = list(c.short)
    droppable = sorted((i for i, c in enumerate(columns) if c.keep), key=lambda i: -columns[i].keep)
    while width is not None and _total(widths()) > width and droppable:
        shown.remove(droppable.pop(0))
    sizes = dict(zip(shown, widths(), strict=True))
    excess = 0 if width is None else _total(list(sizes.values())) - width
    for i in shown:  # names give up characters last, down to their minimum
        if excess <= 0:
            break
        floor = columns[i].min_width
        if floor is not None and sizes[i] > floor:
            cut = min(excess, sizes[i] - floor)
            sizes[i] -= cut
            excess -= cut

    def line(texts: list[str]) -> str:
        parts = []
        for i, text in zip(shown, texts, strict=True):
            text = _cut(text, sizes[i])
            parts.append(text.rjust(sizes[i]) if columns[i].right else text.ljust(sizes[i]))
        return GAP.join(parts).rstrip()

    rows = len(columns[0].cells) if columns else 0
    lines = [line([columns[i].header for i in shown]), GAP.join("-" * sizes[i] for i in shown)]
    lines += [line([cells[i][r] for i in shown]) for r in range(rows)]
    dropped = [c.header for i, c in enumerate(columns) if i not in shown]
    return FittedTable(lines=lines, dropped=dropped)
