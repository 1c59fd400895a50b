"""``llm-roofline sweep``: the engine over a grid of scenarios, written as CSV or JSON records.

Import-time cost is argparse only; the engine loads when the command runs.
"""

from __future__ import annotations

import argparse

from .arguments import hardware_options, positional_args
from .commands import device_of, efficiency_of, scenario_error
from .options import _LIST_HELP

SWEEP_COLUMNS_HELP = """\
columns (one row per point of the grid, SI units):
  batch_size, prompt_len, gen_len, kv_len, w_bits, a_bits, kv_bits   the scenario
  prefill_flops, prefill_bytes, prefill_time_s, prefill_tokens_per_s the whole prefill
  decode_flops, decode_bytes, decode_time_s, decode_tokens_per_s     one decode step at KV length kv_len
  ttft_s, tpot_s, e2e_s, throughput_tokens_per_s                     the generation (tpot/throughput
                                                                     empty without --gen-len)
  weights_bytes, kv_cache_bytes, activations_bytes, total_bytes      memory footprint
  fits, max_batch_size                                               against the device's memory
rows: the Cartesian grid in the column order above (the last listed axis varies fastest)."""


def add_sweep_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="the engine over a grid of scenarios, as CSV or JSON",
        description="Every combination of the listed values, evaluated in one vectorized pass. "
                    f"Lists: {_LIST_HELP}; e.g. --batch-size 1..256 (every integer), 1..256:x2 (doubling).",
        epilog=SWEEP_COLUMNS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    positional_args(p)
    s = p.add_argument_group("grid (each a list)")
    s.add_argument("--batch-size", "-b", default="1", help="sequences per batch (default 1)")
    s.add_argument("--prompt-len", "-p", default="1024", help="prompt tokens (default 1024)")
    s.add_argument("--gen-len", "-g", default="0", help="tokens generated after the prompt (default 0)")
    s.add_argument("--kv-len", default=None, help="KV length of the decode step (default: the prompt length)")
    s.add_argument("--w-bits", default="16", help="weight bit-widths, or one format (default 16)")
    s.add_argument("--a-bits", default="16", help="activation bit-widths, or one format (default 16)")
    s.add_argument("--kv-bits", default="16", help="KV cache bit-widths, or one format (default 16)")
    s.add_argument("--group-size", type=int, default=128, help="quantization group size (0: no scales)")
    s.add_argument("--flash-attention", action="store_true", help="fused, causal-aware attention kernel")
    s.add_argument("--logits-all", action="store_true", help="prefill computes logits for every token")
    hardware_options(p)
    o = p.add_argument_group("output")
    o.add_argument("--format", "-f", choices=["csv", "json"], default="csv", help="csv (default) or json records")
    o.add_argument("--output", "-o", help="write to this file instead of standard output")
    p.set_defaults(run=run_sweep)


CHUNK_POINTS = 50_000


MAX_POINTS = 1_000_000  # rows are gathered in memory before writing


def run_sweep(args) -> str:
    import math

    from ..api import SWEEP_AXES, sweep
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
    common = dict(efficiency=efficiency_of(args, device), flash_attention=args.flash_attention,
                  logits_all=args.logits_all, group_size=args.group_size)
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
        result = sweep(args.model, device, **common, **chunk)
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
