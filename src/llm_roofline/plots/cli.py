"""``llm-roofline plot KIND MODEL HARDWARE [options] -o FILE`` and ``llm-roofline sweep``.

Registered by ``llm_roofline.cli`` through :func:`add_parser`. Import-time cost is argparse only:
NumPy, matplotlib and the engine load inside the command that needs them. List options are parsed
inside the commands (not by argparse) so a bad list is one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse

from .options import _LIST_HELP

KINDS = ("roofline", "batch-sweep", "seq-sweep", "quantization", "flash-attention", "bandwidth", "hardware",
         "breakdown")
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


# ------------------------------------------------------------------------------------------------
# shared option groups
# ------------------------------------------------------------------------------------------------

def _positional(p, devices: bool = False) -> None:
    p.add_argument("model", help="catalog id or alias (see `llm-roofline models`), or a HF config.json path")
    if devices:
        p.add_argument("hardware", help="comma-separated devices (see `llm-roofline hardware`), e.g. "
                                        "a100-80g,h100-sxm,rtx-a6000")
    else:
        p.add_argument("hardware", help="catalog name or alias (see `llm-roofline hardware`), or a device YAML")


def _hardware_options(p) -> None:
    from ..cli import add_device_options

    add_device_options(p)


def _image_options(p) -> None:
    o = p.add_argument_group("output")
    o.add_argument("-o", "--output", dest="image", required=True, metavar="FILE",
                   help="image file; the extension picks the format: .png, .svg or .pdf")
    o.add_argument("--dpi", type=float, default=150, help="resolution of PNG output (default 150)")
    o.add_argument("--size", help="figure size in inches, WIDTHxHEIGHT (e.g. 10x4; default per kind)")
    o.add_argument("--title", help="figure title (default: model, device and scenario)")


def _bits_options(p, lists: bool) -> None:
    what = "list of bit-widths (e.g. 16,8,4) or one format" if lists else "bits 1..32 or a format"
    p.add_argument("--w-bits", default="16", help=f"weights: {what} (fp16, int8, int4, nf4, fp8...; default 16)")
    p.add_argument("--a-bits", default="16", help=f"activations: {what} (default 16)")
    p.add_argument("--kv-bits", default="16", help=f"KV cache: {what} (default 16)")
    p.add_argument("--group-size", type=int, default=128,
                   help="quantization group size (one 16-bit scale per group below 16 bits; 0: none; default 128)")


def _scenario(p, *, batch: str | None, prompt: str | None, lists: tuple[str, ...] = (), gen: bool = True,
              kv_len: bool = True, flash: bool = True, logits: bool = True, bit_lists: bool | None = None) -> None:
    s = p.add_argument_group("scenario")
    if batch is not None:
        kind = f"list ({_LIST_HELP})" if "batch" in lists else "one value"
        s.add_argument("--batch-size", "-b", default=batch, help=f"sequences per batch: {kind} (default {batch})")
    if prompt is not None:
        kind = f"list ({_LIST_HELP})" if "prompt" in lists else "one value"
        s.add_argument("--prompt-len", "-p", default=prompt, help=f"prompt tokens: {kind} (default {prompt})")
    if gen:
        s.add_argument("--gen-len", "-g", type=int, default=0,
                       help="tokens generated after the prompt; latency becomes the time per output token and "
                            "throughput the whole generation's (default 0: one decode step)")
    if kv_len:
        s.add_argument("--kv-len", type=int, default=None, help="KV length of the decode step (default: prompt)")
    _bits_options(s, lists=bool(lists) if bit_lists is None else bit_lists)
    if flash:
        s.add_argument("--flash-attention", action="store_true", help="fused, causal-aware attention kernel")
    if logits:
        s.add_argument("--logits-all", action="store_true", help="prefill computes logits for every token")


# ------------------------------------------------------------------------------------------------
# parsers
# ------------------------------------------------------------------------------------------------

def add_parser(subparsers) -> None:
    """Add ``plot`` (one sub-command per figure) and ``sweep`` to the main parser's sub-commands."""
    plot = subparsers.add_parser(
        "plot", help="draw a figure (roofline, serving sweeps, quantization, ...) as PNG, SVG or PDF",
        description="Draw one of the paper's figures for any model and device. The image format follows "
                    "the output file's extension (.png, .svg, .pdf).")
    kinds = plot.add_subparsers(dest="kind", required=True, metavar="KIND")

    p = kinds.add_parser("roofline", help="every operator of a stage on the device's roofline (paper Fig. 5, 6)",
                         description="The device roofline with each operator of prefill and/or decode as a point "
                                     "(blue memory-bound, vermillion compute-bound; area ~ share of time), the "
                                     "memory- and compute-bound regions and the ridge point.")
    _positional(p)
    p.add_argument("--stage", choices=["prefill", "decode", "both"], default="both", help="default both")
    p.add_argument("--precision", help="ceilings to draw, comma-separated (fp16, bf16, int8, fp8, int4, fp4, "
                                       "tf32, fp32; default: those the operators use)")
    p.add_argument("--measured", metavar="FILE", help="a device YAML written by `llm-roofline measure`: draw its "
                                                      "measured roof and points over the datasheet roofline")
    _scenario(p, batch="1", prompt="1024", gen=False)
    _hardware_options(p)
    _image_options(p)
    p.set_defaults(run=_run_plot)

    p = kinds.add_parser("batch-sweep", help="latency, throughput and memory vs batch size (paper Fig. 19)",
                         description="Decode latency, throughput and memory footprint against the batch size, a "
                                     "curve for each combination of the other listed settings; the device's "
                                     "memory is drawn as a line and scenarios that do not fit are faint.")
    _positional(p)
    _scenario(p, batch="1..256:x2", prompt="1024", lists=("batch", "prompt"))
    _hardware_options(p)
    _image_options(p)
    p.set_defaults(run=_run_plot)

    p = kinds.add_parser("seq-sweep", help="latency, throughput and memory vs sequence length",
                         description="As batch-sweep, against the prompt length (the decode step reads a KV "
                                     "cache of the prompt's length).")
    _positional(p)
    _scenario(p, batch="1", prompt="128..16384:x2", lists=("batch", "prompt"), kv_len=False)
    _hardware_options(p)
    _image_options(p)
    p.set_defaults(run=_run_plot)

    p = kinds.add_parser("quantization", help="time vs batch / length per weight bit-width and memory breakdown "
                                              "(paper Fig. 7, 8, 9)")
    _positional(p)
    s = p.add_argument_group("scenario")
    s.add_argument("--w-bits", default="16,8,4", help="weight bit-widths, one curve each (default 16,8,4)")
    s.add_argument("--a-bits", default="16", help="activations: bits or format (default 16)")
    s.add_argument("--kv-bits", default="16", help="KV cache: bits or format (default 16)")
    s.add_argument("--group-size", type=int, default=128, help="quantization group size (0: no scales)")
    s.add_argument("--batch-size", "-b", default="1..64", help="x axis of the decode panel (default 1..64)")
    s.add_argument("--decode-prompt-len", type=int, default=1024, help="KV length of the decode panel (1024)")
    s.add_argument("--prompt-len", "-p", default="16..4096:x2", help="x axis of the prefill panel "
                                                                   "(default 16..4096:x2)")
    s.add_argument("--prefill-batch-size", type=int, default=1, help="batch size of the prefill panel (1)")
    s.add_argument("--memory-configs", default="FP16,W4,W4KV4,W4A4",
                   help="formats of the memory panel, e.g. FP16,W8A8,W4KV4 (A defaults to 16, KV to A)")
    s.add_argument("--memory-scenarios", default="1x1024,1x4096,16x1024",
                   help="BATCHxPROMPT pairs of the memory panel (default 1x1024,1x4096,16x1024)")
    _hardware_options(p)
    _image_options(p)
    p.set_defaults(run=_run_plot)

    p = kinds.add_parser("flash-attention", help="memory traffic and time with and without FlashAttention "
                                                 "(paper Fig. 16)")
    _positional(p)
    _scenario(p, batch="1,16", prompt="512..16384:x2", lists=("batch", "prompt"), gen=False, kv_len=False,
              flash=False, logits=False, bit_lists=False)
    _hardware_options(p)
    _image_options(p)
    p.set_defaults(run=_run_plot)

    p = kinds.add_parser("bandwidth", help="decode time vs memory bandwidth of a hypothetical device "
                                           "(paper Fig. 20)",
                         description="The device with its memory bandwidth replaced by each value of "
                                     "--bandwidths (use --peak to set its compute, e.g. --peak 200TFLOPS).")
    _positional(p)
    p.add_argument("--bandwidths", default="0.2TB/s..4TB/s",
                   help="LO..HI (evenly spaced, --points values) or a comma-separated list, with units "
                        "(default 0.2TB/s..4TB/s)")
    p.add_argument("--points", type=int, default=20, help="values in a LO..HI range (default 20)")
    _scenario(p, batch="1", prompt="1024", lists=("batch",), gen=False, kv_len=False, logits=False, bit_lists=False)
    _hardware_options(p)
    _image_options(p)
    p.set_defaults(run=_run_plot)

    p = kinds.add_parser("hardware", help="the same scenario on several devices, as bars",
                         description="Decode step time, prefill time, tokens/s and (with --price) tokens/s per "
                                     "USD on each device; hatched bars do not fit in the device's memory.")
    _positional(p, devices=True)
    p.add_argument("--price", help="price of each device in USD (purchase or per hour, your choice), "
                                   "comma-separated in the order of the devices")
    _scenario(p, batch="1", prompt="1024", kv_len=False, logits=False)
    _hardware_options(p)
    _image_options(p)
    p.set_defaults(run=_run_plot)

    p = kinds.add_parser("breakdown", help="stacked time per operator kind for prefill and decode",
                         description="Prefill and decode-step time split by operator kind (or by operator), "
                                     "one stacked bar for each combination of the listed settings.")
    _positional(p)
    p.add_argument("--group-by", choices=["kind", "op"], default="kind", help="default kind")
    p.add_argument("--share", action="store_true", help="show shares of the stage's time, not seconds")
    p.add_argument("--top", type=int, default=8, help="groups shown before the rest is lumped (default 8)")
    _scenario(p, batch="1", prompt="1024", lists=("batch", "prompt"), gen=False)
    _hardware_options(p)
    _image_options(p)
    p.set_defaults(run=_run_plot)

    _add_sweep(subparsers)


def _add_sweep(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="the engine over a grid of scenarios, as CSV or JSON",
        description="Every combination of the listed values, evaluated in one vectorized pass. "
                    f"Lists: {_LIST_HELP}; e.g. --batch-size 1..256 (every integer), 1..256:x2 (doubling).",
        epilog=SWEEP_COLUMNS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _positional(p)
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
    _hardware_options(p)
    o = p.add_argument_group("output")
    o.add_argument("--format", "-f", choices=["csv", "json"], default="csv", help="csv (default) or json records")
    o.add_argument("--output", "-o", help="write to this file instead of standard output")
    p.set_defaults(run=_run_sweep)


# ------------------------------------------------------------------------------------------------
# commands
# ------------------------------------------------------------------------------------------------

def _device(args, name: str | None = None):
    from ..cli import device_from_args

    return device_from_args(args, name)


def _efficiency(args, device):
    from ..cli import efficiency_from_args

    return efficiency_from_args(args, device)


def _one(text: str, name: str) -> int:
    from .options import parse_int_list

    values = parse_int_list(text, name)
    if len(values) != 1:
        raise _scenario_error(f"{name}: this figure takes one value, got {len(values)}")
    return values[0]


def _scenario_error(message: str):
    from ..errors import ScenarioError

    return ScenarioError(message)


def _bits(text: str, name: str, lists: bool):
    from ..cli import _bits as one_bits
    from .options import parse_bits_list

    if not lists:
        return one_bits(text)
    values = parse_bits_list(text, name)
    return values if len(values) > 1 else values[0]


def _ints(text: str, name: str):
    from .options import parse_int_list

    values = parse_int_list(text, name)
    return values if len(values) > 1 else values[0]


def _size(text: str | None):
    if text is None:
        return None
    parts = text.lower().split("x")
    try:
        w, h = (float(v) for v in parts)
    except ValueError:
        raise _scenario_error(f"--size: cannot read {text!r}; use WIDTHxHEIGHT in inches, e.g. 10x4") from None
    if not (0.5 <= w <= 60 and 0.5 <= h <= 60):
        raise _scenario_error(f"--size: {text!r} must be between 0.5 and 60 inches each way")
    return (w, h)


def _memory_configs(text: str):
    import re

    configs = []
    for item in text.split(","):
        label = item.strip()
        key = label.upper()
        if key in ("FP16", "BF16", "W16A16", "W16A16KV16"):
            configs.append((label, 16, 16, 16))
            continue
        m = re.fullmatch(r"W(\d+)(?:A(\d+))?(?:KV(\d+))?", key)
        if not m:
            raise _scenario_error(f"--memory-configs: cannot read {label!r}; use FP16 or W<bits>[A<bits>][KV<bits>]")
        w = int(m.group(1))
        a = int(m.group(2)) if m.group(2) else 16
        kv = int(m.group(3)) if m.group(3) else a
        configs.append((label, w, a, kv))
    return configs


def _bandwidths(text: str, points: int) -> list[float]:
    from ..units import parse_quantity

    if ".." in text:
        lo_text, hi_text = text.split("..", 1)
        lo, hi = parse_quantity(lo_text, "B/s"), parse_quantity(hi_text, "B/s")
        if hi < lo:
            raise _scenario_error(f"--bandwidths: {text!r} ends before it starts")
        if not 1 <= points <= 10_000:
            raise _scenario_error("--points must be in 1..10000")
        if points == 1:
            return [lo]
        return [lo + (hi - lo) * i / (points - 1) for i in range(points)]
    return [parse_quantity(item, "B/s") for item in text.split(",")]


DPI_RANGE = (10, 1200)


def _run_plot(args) -> str:
    if not DPI_RANGE[0] <= args.dpi <= DPI_RANGE[1]:
        raise _scenario_error(f"--dpi must be in {DPI_RANGE[0]}..{DPI_RANGE[1]}, got {args.dpi:g}")
    from . import data as d
    from . import render as r
    from .options import image_format, parse_floats, parse_names, parse_pairs
    from .progress import ProgressBar

    image_format(args.image)  # fail before any work on a bad extension or a missing folder
    _check_folder(args.image)
    size, title, kind = _size(args.size), args.title, args.kind
    lists = kind in ("batch-sweep", "seq-sweep", "breakdown")  # bit-widths may be lists (one curve / bar each)
    if kind == "hardware":
        names = parse_names(args.hardware, "hardware")
        devices = [_device(args, n) for n in names]
        eff = [_efficiency(args, dev) for dev in devices]
        prices = parse_floats(args.price, "--price") if args.price else None
        common = dict(batch_size=_one(args.batch_size, "--batch-size"),
                      prompt_len=_one(args.prompt_len, "--prompt-len"), gen_len=args.gen_len,
                      w_bits=_bits(args.w_bits, "--w-bits", False), a_bits=_bits(args.a_bits, "--a-bits", False),
                      kv_bits=_bits(args.kv_bits, "--kv-bits", False), flash_attention=args.flash_attention,
                      group_size=args.group_size)
        if len({(e.compute_fraction, e.bandwidth_fraction, e.kernel_overhead_s) for e in eff}) > 1:
            rows = [d.hardware_comparison(args.model, [dev], efficiency=e, **common)
                    for dev, e in zip(devices, eff, strict=True)]
            data = _merge_hardware(rows, prices)
        else:
            data = d.hardware_comparison(args.model, devices, efficiency=eff[0], prices=prices,
                                         progress=ProgressBar("devices"), **common)
        fig = r.draw_hardware(data, size=size, title=title)
        r.save(fig, args.image, dpi=args.dpi)
        return ""
    device = _device(args)
    eff = _efficiency(args, device)
    if kind == "quantization":
        data = d.quantization(args.model, device, w_bits=_as_list(_bits(args.w_bits, "--w-bits", True)),
                              a_bits=_bits(args.a_bits, "--a-bits", False), kv_bits=_bits(args.kv_bits, "--kv-bits",
                                                                                          False),
                              batch_size=_as_list(_ints(args.batch_size, "--batch-size")),
                              decode_prompt_len=args.decode_prompt_len,
                              prompt_len=_as_list(_ints(args.prompt_len, "--prompt-len")),
                              prefill_batch_size=args.prefill_batch_size,
                              memory_configs=_memory_configs(args.memory_configs),
                              memory_scenarios=parse_pairs(args.memory_scenarios, "--memory-scenarios"),
                              group_size=args.group_size, efficiency=eff)
        fig = r.draw_quantization(data, size=size, title=title)
    elif kind == "bandwidth":
        data = d.bandwidth(args.model, device, bandwidths=_bandwidths(args.bandwidths, args.points),
                           batch_size=_as_list(_ints(args.batch_size, "--batch-size")),
                           prompt_len=_one(args.prompt_len, "--prompt-len"),
                           w_bits=_bits(args.w_bits, "--w-bits", False), a_bits=_bits(args.a_bits, "--a-bits", False),
                           kv_bits=_bits(args.kv_bits, "--kv-bits", False),
                           flash_attention=args.flash_attention, group_size=args.group_size, efficiency=eff,
                           progress=ProgressBar("bandwidths"))
        fig = r.draw_bandwidth(data, size=size, title=title)
    else:
        bits = {k: _bits(getattr(args, k), "--" + k.replace("_", "-"), lists) for k in ("w_bits", "a_bits", "kv_bits")}
        if kind == "roofline":
            stages = ("prefill", "decode") if args.stage == "both" else (args.stage,)
            precisions = [p.strip().lower() for p in args.precision.split(",")] if args.precision else ()
            data = d.roofline(args.model, device, stages=stages, precisions=precisions,
                              batch_size=_one(args.batch_size, "--batch-size"),
                              prompt_len=_one(args.prompt_len, "--prompt-len"), kv_len=args.kv_len,
                              flash_attention=args.flash_attention, logits_all=args.logits_all,
                              group_size=args.group_size, efficiency=eff, measured=args.measured, **bits)
            fig = r.draw_roofline(data, size=size, title=title)
        elif kind in ("batch-sweep", "seq-sweep"):
            common = dict(gen_len=args.gen_len, flash_attention=args.flash_attention, logits_all=args.logits_all,
                          group_size=args.group_size, efficiency=eff, **bits)
            if kind == "batch-sweep":
                data = d.batch_sweep(args.model, device, batch_size=_as_list(_ints(args.batch_size, "--batch-size")),
                                     prompt_len=_ints(args.prompt_len, "--prompt-len"), kv_len=args.kv_len, **common)
            else:
                data = d.seq_sweep(args.model, device, prompt_len=_as_list(_ints(args.prompt_len, "--prompt-len")),
                                   batch_size=_ints(args.batch_size, "--batch-size"), **common)
            fig = r.draw_sweep(data, size=size, title=title)
        elif kind == "flash-attention":
            data = d.flash_attention(args.model, device, batch_size=_as_list(_ints(args.batch_size, "--batch-size")),
                                     prompt_len=_as_list(_ints(args.prompt_len, "--prompt-len")),
                                     group_size=args.group_size, efficiency=eff, **bits)
            fig = r.draw_flash_attention(data, size=size, title=title)
        else:  # breakdown
            data = d.breakdown(args.model, device, batch_size=_ints(args.batch_size, "--batch-size"),
                               prompt_len=_ints(args.prompt_len, "--prompt-len"), kv_len=args.kv_len,
                               flash_attention=args.flash_attention, logits_all=args.logits_all,
                               group_size=args.group_size, efficiency=eff, group_by=args.group_by, **bits)
            fig = r.draw_breakdown(data, size=size, title=title, share=args.share, top=args.top)
    r.save(fig, args.image, dpi=args.dpi)
    return ""


def _check_folder(path: str) -> None:
    from pathlib import Path

    from .options import PlotError

    folder = Path(path).parent
    if not folder.is_dir():
        raise PlotError(f"cannot write {path}: folder {str(folder)!r} does not exist")


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _merge_hardware(rows, prices):
    """Devices evaluated one at a time (each with its own measured efficiency) as one HardwareData."""
    from dataclasses import replace

    import numpy as np

    first = rows[0]
    cat = {f: np.concatenate([getattr(r, f) for r in rows]) for f in
           ("ttft_s", "decode_time_s", "e2e_s", "throughput_tokens_per_s", "total_bytes", "capacity_bytes", "fits")}
    price = None if prices is None else np.asarray(prices, dtype=float)
    return replace(first, devices=tuple(r.devices[0] for r in rows), prices=price,
                   throughput_per_usd=None if price is None else cat["throughput_tokens_per_s"] / price, **cat)


# ------------------------------------------------------------------------------------------------
# sweep
# ------------------------------------------------------------------------------------------------

CHUNK_POINTS = 50_000
MAX_POINTS = 1_000_000  # rows are gathered in memory before writing


def _run_sweep(args) -> str:
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
        raise _scenario_error(f"the grid has {total:,} points; at most {MAX_POINTS:,} per sweep")
    device = _device(args)
    common = dict(efficiency=_efficiency(args, device), flash_attention=args.flash_attention,
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
