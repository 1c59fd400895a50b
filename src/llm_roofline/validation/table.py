"""Reading a measured serving table: the CSV columns of ``../shared/validation/serving-dev.csv``.

The columns are those of NVIDIA AIConfigurator's accuracy tables (its ``silicon_sample.csv``; the
README next to the shared file describes each). Only the standard library reads it (no pandas): a
file of 2,662 rows reads in milliseconds. Every problem names the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..files import read_text, shown, user_path

MAX_CSV_BYTES = 64 * 2**20  # the shared development table is 1.7 MB
MAX_ROWS = 100_000

# Columns every row needs, and those a mode needs (empty cells allowed where the mode does not use them).
REQUIRED = ("id", "backend", "model_path", "system", "precision", "mode", "isl", "osl", "gemm_quant_mode",
            "moe_quant_mode", "silicon_ttft_ms", "silicon_tpot_ms")
AGG = ("batch_size", "tp_size", "pp_size", "attention_dp_size", "moe_tp_size", "moe_ep_size")
POOL = ("batch_size", "num_workers", "tp_size", "pp_size", "attention_dp_size", "moe_tp_size", "moe_ep_size")
DISAGG = tuple(f"{side}_{c}" for side in ("prefill", "decode") for c in POOL)
OPTIONAL = ("silicon_data_source", "backend_version")
COLUMNS = (*REQUIRED, *AGG, *DISAGG, *OPTIONAL)
_CONCURRENCY = re.compile(r"silicon_concurrency=(\d+)")


@dataclass(frozen=True)
class Row:
    """One measured serving run as written: ``line`` (1-based, the header is line 1), ``cells`` by column
    (strings, '' where empty)."""

    line: int
    cells: dict[str, str]

    @property
    def id(self) -> str:
        return self.cells["id"]

    def text(self, column: str) -> str:
        return self.cells.get(column, "").strip()

    def number(self, column: str) -> float | None:
        """A numeric cell, None when empty or not a finite number."""
        text = self.text(column)
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    def stated_concurrency(self) -> float | None:
        """The benchmark's concurrency as its data source states it (``silicon_concurrency=N``), if it does."""
        match = _CONCURRENCY.search(self.text("silicon_data_source"))
        return float(match.group(1)) if match else None


def read_table(path: str | Path) -> list[Row]:
    """The rows of a measured serving CSV (ConfigError naming the file for a missing column or a bad file)."""
    where = shown(str(path))
    p = user_path(path)
    text = read_text(p, MAX_CSV_BYTES)
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in (*REQUIRED, *AGG, *DISAGG) if c not in header]
    if missing:
        raise ConfigError(f"{where}: missing column(s) {', '.join(missing)} (a measured serving table needs the "
                          f"columns of ../shared/validation/serving-dev.csv: {', '.join(COLUMNS)})")
    rows = []
    for i, record in enumerate(reader):
        if i >= MAX_ROWS:
            raise ConfigError(f"{where}: more than {MAX_ROWS:,} rows")
        if None in record:  # more cells than the header has
            raise ConfigError(f"{where}, line {reader.line_num}: more cells than the header's {len(header)} columns")
        rows.append(Row(line=reader.line_num, cells={k: (v or "") for k, v in record.items()}))
    if not rows:
        raise ConfigError(f"{where}: no rows after the header")
    return rows
