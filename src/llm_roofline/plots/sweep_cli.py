"""``llm-roofline sweep``: the engine over a grid of scenarios, written as CSV or JSON records.

Import-time cost is argparse only; the engine loads when the command runs.
"""

from __future__ import annotations

import argparse

from ..cli_scenario import add_scenario_options
from ..cli_techniques import add_technique_options, techniques_from_args
from ..defaults import SWEEP_AXES
from ..limits import SWEEP_CHUNK_POINTS
from .arguments import hardware_options, positional_args
from .commands import device_of, efficiency_of, model_of

SWEEP_DESCRIPTION = """\
Every combination of the listed values (at most 100,000 points), evaluated in
vectorized chunks and written as CSV (one row per point), JSON records or JSON
lines as each chunk is ready, so memory stays flat.

Lists: comma-separated items, each N (one value), A..B (every integer from A
to B), A..B:xK (A, A*K, A*K*K, ... up to B) or A..B:K (step K), e.g.
1,2,4..32:x2. Bit-widths take a list of numbers or one format (int4, fp8...)."""
SWEEP_COLUMNS_HELP = """\
columns (SI units; one row per point of the grid):
  batch_size, prompt_len, gen_len, kv_len,      the scenario
    w_bits, a_bits, kv_bits, state_bits
  prefill_flops, prefill_bytes,                 the whole prefill
    prefill_time_s, prefill_tokens_per_s
  decode_flops, decode_bytes,                   one decode step at KV length
    decode_time_s, decode_tokens_per_s          kv_len
  ttft_s, tpot_s, e2e_s,                        the generation of gen_len tokens
    throughput_tokens_per_s                     (tpot_s, throughput empty if 0)
  weights_bytes, kv_cache_bytes,                the memory footprint
    activations_bytes, total_bytes
  fits, max_batch_size                          against the device's memory
  sparsity, prefix_len, offload_weights,        the techniques switched on;
    offload_kv, device_bytes, host_bytes        memory by place
with --tp/--pp/--ep/--dp/--attention-dp (lists too; HARDWARE is then a
system): tp, pp, ep, dp, attention_dp, devices, device_batch,
throughput_tokens_per_s_per_device, prefill_comm_time_s, decode_comm_time_s,
comm_buffer_bytes; generation columns are the deployment's, memory per device
with --speculative: tokens_per_iteration, verify_tokens, iteration_time_s
(at kv_len), one_token_tpot_s, speedup (one_token_tpot_s / tpot_s)
rows: the grid in the column order above (the last listed axis varies fastest)."""


def add_sweep_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="the engine over a grid of scenarios, as CSV or JSON",
        description=SWEEP_DESCRIPTION,
        epilog=SWEEP_COLUMNS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    positional_args(p)
    add_scenario_options(p, lists=SWEEP_AXES, title="scenario (each a list: every combination is evaluated)")
    add_technique_options(p)
    from ..cli_optimizations import add_optimization_options

    add_optimization_options(p, lists=True)
    hardware_options(p)
    from ..cli_parallel import add_parallel_options
    from ..flags import output_file

    add_parallel_options(p, degree_type=str)  # --tp 1,2,4,8 ... are grid axes here
    o = p.add_argument_group("output")
    o.add_argument("--format", "-f", choices=["csv", "json", "jsonl"], default="csv",
                   help="csv (default), json (an array of records, one per line) or jsonl (JSON lines)")
    o.add_argument("--output", "-o", metavar="FILE", type=output_file,
                   help="write to this file instead of standard output")
    p.set_defaults(run=run_sweep)


CHUNK_POINTS = SWEEP_CHUNK_POINTS  # rows per chunk (tests shrink it)


def run_sweep(args):
    """The grid evaluated and written CHUNK_POINTS rows at a time (memory stays one chunk's)."""
    import math

    from ..api import sweep_chunks
    from ..cli_optimizations import optimizations_from_args
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
    from ..cli_parallel import parallel_from_args, target_from_args
    from ..parallel.choices import DEGREE_AXES, default_comm

    parallel = parallel_from_args(args)
    if parallel["comm"] is None:  # the efficiency setting picks the collectives
        parallel["comm"] = default_comm(args.efficiency)
    degrees = {}
    for name in DEGREE_AXES:
        values = parse_int_list(str(parallel.pop(name)), "--" + name.replace("_", "-"))
        if values != [1]:
            degrees[name] = values
    axes = {**degrees, **axes}  # the degrees vary slowest: few engine calls per chunk
    multi = any(v > 1 for k, vs in degrees.items() if k != "ep" for v in vs)
    target = target_from_args(args, True) if multi else device_of(args)
    model = model_of(args)
    optimizations = optimizations_from_args(args, lists=True)
    chunks = sweep_chunks(model, target, chunk_points=CHUNK_POINTS,
                          efficiency=efficiency_of(args, target.device if multi else target),
                          flash_attention=args.flash_attention, logits_all=args.logits_all,
                          group_size=args.group_size, scale_bits=args.scale_bits, **techniques_from_args(args),
                          **(parallel if degrees else {}), **axes, **optimizations)
    total = math.prod(len(v) for v in {**axes, **optimizations}.values() if isinstance(v, list))
    return _stream_sweep(chunks, args.format, ProgressBar("sweep"), -(-total // CHUNK_POINTS))


def _stream_sweep(chunks, fmt: str, progress, n_chunks: int):
    """Text chunks of the sweep's output: CSV (a header, then rows), a JSON array with one record per
    line, or JSON lines. Strict JSON: a missing value (NaN) is null, never NaN or Infinity. Each chunk's
    results are dropped before the next is computed, so memory stays that of one chunk."""
    for i, result in enumerate(chunks):
        text = _chunk_text(result.columns, fmt, first=i == 0)
        del result
        progress(i + 1, n_chunks)
        yield text
    if fmt == "json":
        yield "\n]\n"


def _chunk_text(columns: dict, fmt: str, first: bool) -> str:
    import json

    names = list(columns)
    rows = zip(*(_column_values(columns[k]) for k in names), strict=True)
    if fmt == "csv":
        lines = [",".join(_csv_text(v) for v in row) for row in rows]
        return "\n".join([",".join(names), *lines] if first else lines) + "\n"
    records = [json.dumps(dict(zip(names, row, strict=True)), allow_nan=False) for row in rows]
    if fmt == "jsonl":
        return "\n".join(records) + "\n"
    return ("[\n" if first else ",\n") + ",\n".join(records)


def _csv_text(value) -> str:
    return "" if value is None else "true" if value is True else "false" if value is False else repr(value)


def _column_values(values) -> list:
    """One column as JSON-ready Python values: bools, exact integers, floats, None for NaN (and for an
    infinity, which no valid input produces)."""
    import numpy as np

    values = np.asarray(values)
    if values.dtype == bool:
        return values.tolist()
    finite = np.isfinite(values)
    if finite.all() and (values == np.round(values)).all() and np.abs(values).max(initial=0) < 2**53:
        return values.astype(np.int64).tolist()
    return [None if not f else int(v) if v.is_integer() and abs(v) < 2**53 else v
            for v, f in zip(values.astype(float).tolist(), finite.tolist(), strict=True)]
