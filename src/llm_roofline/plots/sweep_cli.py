"""``llm-roofline sweep``: the engine over a grid of scenarios, written as CSV or JSON records.

Import-time cost is argparse only; the engine loads when the command runs.
"""

from __future__ import annotations

import argparse

from ..cli_scenario import add_scenario_options
from ..defaults import SWEEP_AXES
from .arguments import hardware_options, positional_args
from .commands import device_of, efficiency_of, model_of, scenario_error

SWEEP_DESCRIPTION = """\
Every combination of the listed values, evaluated in one vectorized pass and
written as CSV (one row per point) or JSON records.

Lists: comma-separated items, each N (one value), A..B (every integer from A
to B), A..B:xK (A, A*K, A*K*K, ... up to B) or A..B:K (step K), e.g.
1,2,4..32:x2. Bit-widths take a list of numbers or one format (int4, fp8...)."""
SWEEP_COLUMNS_HELP = """\
columns (SI units; one row per point of the grid):
  batch_size, prompt_len, gen_len, kv_len,      the scenario
    w_bits, a_bits, kv_bits
  prefill_flops, prefill_bytes,                 the whole prefill
    prefill_time_s, prefill_tokens_per_s
  decode_flops, decode_bytes,                   one decode step at KV length
    decode_time_s, decode_tokens_per_s          kv_len
  ttft_s, tpot_s, e2e_s,                        the generation of gen_len tokens
    throughput_tokens_per_s                     (tpot_s, throughput empty if 0)
  weights_bytes, kv_cache_bytes,                the memory footprint
    activations_bytes, total_bytes
  fits, max_batch_size                          against the device's memory
rows: the grid in the column order above (the last listed axis varies fastest)."""


def add_sweep_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="the engine over a grid of scenarios, as CSV or JSON",
        description=SWEEP_DESCRIPTION,
        epilog=SWEEP_COLUMNS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    positional_args(p)
    add_scenario_options(p, lists=SWEEP_AXES, title="scenario (each a list: every combination is evaluated)")
    hardware_options(p)
    o = p.add_argument_group("output")
    o.add_argument("--format", "-f", choices=["csv", "json"], default="csv", help="csv (default) or json records")
    o.add_argument("--output", "-o", metavar="FILE", help="write to this file instead of standard output")
    p.set_defaults(run=run_sweep)


CHUNK_POINTS = 50_000


MAX_POINTS = 1_000_000  # rows are gathered in memory before writing


def run_sweep(args) -> str:
    import math

    from ..api import sweep
    from .options import parse_bits_list, parse_int_list
    from .progress import ProgressBar

    axes = {}
    for name in SWEEP_AXES:
        text = getattr(args, name)
        if text is None:
            continue
        flag = "--" + name.replace("_", "-")
        values = parse_bits_list(text, flag) if name.endswith("bits") else parse_int_list(text, flag)
        axes[name] = values[0] if isinstance(values[0], str) else values  # a named format is one fixed value
    total = math.prod(len(v) for v in axes.values() if isinstance(v, list))
    if total > MAX_POINTS:
        raise scenario_error(f"the grid has {total:,} points; at most {MAX_POINTS:,} per sweep")
    device = device_of(args)
    model = model_of(args)
    common = dict(efficiency=efficiency_of(args, device), flash_attention=args.flash_attention,
                  logits_all=args.logits_all, group_size=args.group_size, scale_bits=args.scale_bits)
    # Chunks along the outermost axis with several values keep the grid's row order.
    names = list(axes)
    outer = next((n for n in names if isinstance(axes[n], list) and len(axes[n]) > 1), None)
    chunks = [axes]
    if outer is not None and total > CHUNK_POINTS:
        inner = total // len(axes[outer])  # points per value of the outer axis
        step = max(1, CHUNK_POINTS // inner)
        chunks = [{**axes, outer: axes[outer][i:i + step]} for i in range(0, len(axes[outer]), step)]
    progress = ProgressBar("sweep")
    columns: dict[str, list] = {}
    for i, chunk in enumerate(chunks):
        result = sweep(model, device, **common, **chunk)
        for key, values in result.columns.items():
            columns.setdefault(key, []).append(values)
        progress(i + 1, len(chunks))
    import numpy as np

    merged = {k: np.concatenate(v) for k, v in columns.items()}
    return _format_sweep(merged, args.format)


def _column_values(values) -> list:
    """One column as JSON-ready Python values: bools, exact integers, floats, None for NaN."""
    import numpy as np

    values = np.asarray(values)
    if values.dtype == bool:
        return values.tolist()
    finite = np.isfinite(values)
    if finite.all() and (values == np.round(values)).all() and np.abs(values).max(initial=0) < 2**53:
        return values.astype(np.int64).tolist()
    return [None if not f else int(v) if v.is_integer() and abs(v) < 2**53 else v
            for v, f in zip(values.astype(float).tolist(), finite.tolist(), strict=True)]


def _format_sweep(columns: dict, fmt: str) -> str:
    import json

    names = list(columns)
    cols = [_column_values(columns[k]) for k in names]
    if fmt == "json":
        return json.dumps([dict(zip(names, row, strict=True)) for row in zip(*cols, strict=True)], indent=1) + "\n"

    def text(col: list) -> list[str]:
        return ["" if v is None else "true" if v is True else "false" if v is False else repr(v) for v in col]

    lines = [",".join(names), *(",".join(row) for row in zip(*(text(c) for c in cols), strict=True))]
    return "\n".join(lines) + "\n"
