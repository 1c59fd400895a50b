"""``llm-roofline plot KIND ...``: turn the parsed options into a figure and save it.

Import-time cost is nothing: NumPy, matplotlib and the engine load inside the functions.
"""

from __future__ import annotations


def device_of(args, name: str | None = None):
    from ..cli import device_from_args

    return device_from_args(args, name)


def model_of(args):
    from ..cli import model_from_args

    return model_from_args(args)


def efficiency_of(args, device):
    from ..cli import efficiency_from_args

    return efficiency_from_args(args, device)


def _one(text: str, name: str) -> int:
    from .options import parse_int_list

    values = parse_int_list(text, name)
    if len(values) != 1:
        raise scenario_error(f"{name}: this figure takes one value, got {len(values)}")
    return values[0]


def scenario_error(message: str):
    from ..errors import ScenarioError

    return ScenarioError(message)


def _bits(text: str | None, name: str, lists: bool):
    from ..flags import bits_value
    from .options import parse_bits_list

    if text is None:  # --w-bits not given: the model's own format (its quantization_config, else 16)
        return None
    if not lists:
        return bits_value(text, name)
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
        raise scenario_error(f"--size: cannot read {text!r}; use WIDTHxHEIGHT in inches, e.g. 10x4") from None
    if not (0.5 <= w <= 60 and 0.5 <= h <= 60):
        raise scenario_error(f"--size: {text!r} must be between 0.5 and 60 inches each way")
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
        m = re.fullmatch(r"W(\d{1,3})(?:A(\d{1,3}))?(?:KV(\d{1,3}))?", key, re.ASCII)
        if not m:
            raise scenario_error(f"--memory-configs: cannot read {label[:40]!r}; "
                                 "use FP16 or W<bits>[A<bits>][KV<bits>]")
        w = int(m.group(1))
        a = int(m.group(2)) if m.group(2) else 16
        kv = int(m.group(3)) if m.group(3) else a
        configs.append((label, w, a, kv))
    return configs


def _bandwidths(text: str, points: int) -> list[float]:
    from .arguments import POINTS_RANGE

    if ".." in text:
        lo_text, hi_text = text.split("..", 1)
        lo, hi = _bandwidth(lo_text), _bandwidth(hi_text)
        if hi < lo:
            raise scenario_error(f"--bandwidths: {text[:60]!r} ends before it starts")
        if points == 1:
            return [lo]
        return [lo + (hi - lo) * i / (points - 1) for i in range(points)]
    items = text.split(",")
    if len(items) > POINTS_RANGE[1]:
        raise scenario_error(f"--bandwidths: {len(items):,} values; at most {POINTS_RANGE[1]:,}")
    return [_bandwidth(item) for item in items]


def _bandwidth(text: str) -> float:
    from ..inputs import hardware_number
    from ..units import parse_quantity

    return hardware_number("--bandwidths", parse_quantity(text, "B/s"), "memory_bandwidth_bytes_per_s")


def run_plot(args) -> str:
    from . import data as d
    from . import render as r
    from .options import image_format, parse_floats, parse_names, parse_pairs
    from .progress import ProgressBar

    image_format(args.image)  # fail before any work on a bad extension or a missing folder
    _check_folder(args.image)
    size, title, kind = _size(args.size), args.title, args.kind
    model = model_of(args)
    lists = kind in ("batch-sweep", "seq-sweep", "breakdown")  # bit-widths may be lists (one curve / bar each)
    if kind == "hardware":
        names = parse_names(args.hardware, "hardware")
        devices = [device_of(args, n) for n in names]
        eff = [efficiency_of(args, dev) for dev in devices]
        prices = parse_floats(args.price, "--price") if args.price else None
        common = dict(batch_size=_one(args.batch_size, "--batch-size"),
                      prompt_len=_one(args.prompt_len, "--prompt-len"), gen_len=args.gen_len,
                      w_bits=_bits(args.w_bits, "--w-bits", False), a_bits=_bits(args.a_bits, "--a-bits", False),
                      kv_bits=_bits(args.kv_bits, "--kv-bits", False), flash_attention=args.flash_attention,
                      **_grouping(args))
        if len({(e.compute_fraction, e.bandwidth_fraction, e.kernel_overhead_s) for e in eff}) > 1:
            rows = [d.hardware_comparison(model, [dev], efficiency=e, **common)
                    for dev, e in zip(devices, eff, strict=True)]
            data = _merge_hardware(rows, prices)
        else:
            data = d.hardware_comparison(model, devices, efficiency=eff[0], prices=prices,
                                         progress=ProgressBar("devices"), **common)
        fig = r.draw_hardware(data, size=size, title=title)
        r.save(fig, args.image, dpi=args.dpi)
        return ""
    device = device_of(args)
    eff = efficiency_of(args, device)
    if kind in ("speculative", "techniques", "gain"):
        fig = _technique_figure(args, model, device, eff, d, r, size, title)
        r.save(fig, args.image, dpi=args.dpi)
        return ""
    if kind == "quantization":
        data = d.quantization(model, device, w_bits=_as_list(_bits(args.w_bits, "--w-bits", True)),
                              a_bits=_bits(args.a_bits, "--a-bits", False), kv_bits=_bits(args.kv_bits, "--kv-bits",
                                                                                          False),
                              batch_size=_as_list(_ints(args.batch_size, "--batch-size")),
                              decode_prompt_len=args.decode_prompt_len,
                              prompt_len=_as_list(_ints(args.prompt_len, "--prompt-len")),
                              prefill_batch_size=args.prefill_batch_size,
                              memory_configs=_memory_configs(args.memory_configs),
                              memory_scenarios=parse_pairs(args.memory_scenarios, "--memory-scenarios"),
                              **_grouping(args), efficiency=eff)
        fig = r.draw_quantization(data, size=size, title=title)
    elif kind == "bandwidth":
        data = d.bandwidth(model, device, bandwidths=_bandwidths(args.bandwidths, args.points),
                           batch_size=_as_list(_ints(args.batch_size, "--batch-size")),
                           prompt_len=_one(args.prompt_len, "--prompt-len"),
                           w_bits=_bits(args.w_bits, "--w-bits", False), a_bits=_bits(args.a_bits, "--a-bits", False),
                           kv_bits=_bits(args.kv_bits, "--kv-bits", False),
                           flash_attention=args.flash_attention, **_grouping(args), efficiency=eff,
                           progress=ProgressBar("bandwidths"))
        fig = r.draw_bandwidth(data, size=size, title=title)
    else:
        bits = {k: _bits(getattr(args, k), "--" + k.replace("_", "-"), lists) for k in ("w_bits", "a_bits", "kv_bits")}
        if kind == "roofline":
            stages = ("prefill", "decode") if args.stage == "both" else (args.stage,)
            precisions = [p.strip().lower() for p in args.precision.split(",")] if args.precision else ()
            data = d.roofline(model, device, stages=stages, precisions=precisions,
                              batch_size=_one(args.batch_size, "--batch-size"),
                              prompt_len=_one(args.prompt_len, "--prompt-len"), kv_len=args.kv_len,
                              flash_attention=args.flash_attention, logits_all=args.logits_all,
                              **_grouping(args), efficiency=eff, measured=args.measured, **bits)
            fig = r.draw_roofline(data, size=size, title=title)
        elif kind in ("batch-sweep", "seq-sweep"):
            common = dict(gen_len=args.gen_len, flash_attention=args.flash_attention, logits_all=args.logits_all,
                          **_grouping(args), efficiency=eff, **bits)
            if kind == "batch-sweep":
                data = d.batch_sweep(model, device, batch_size=_as_list(_ints(args.batch_size, "--batch-size")),
                                     prompt_len=_ints(args.prompt_len, "--prompt-len"), kv_len=args.kv_len, **common)
            else:
                data = d.seq_sweep(model, device, prompt_len=_as_list(_ints(args.prompt_len, "--prompt-len")),
                                   batch_size=_ints(args.batch_size, "--batch-size"), **common)
            fig = r.draw_sweep(data, size=size, title=title)
        elif kind == "flash-attention":
            data = d.flash_attention(model, device, batch_size=_as_list(_ints(args.batch_size, "--batch-size")),
                                     prompt_len=_as_list(_ints(args.prompt_len, "--prompt-len")),
                                     **_grouping(args), efficiency=eff, **bits)
            fig = r.draw_flash_attention(data, size=size, title=title)
        else:  # breakdown
            data = d.breakdown(model, device, batch_size=_ints(args.batch_size, "--batch-size"),
                               prompt_len=_ints(args.prompt_len, "--prompt-len"), kv_len=args.kv_len,
                               flash_attention=args.flash_attention, logits_all=args.logits_all,
                               **_grouping(args), efficiency=eff, group_by=args.group_by, **bits)
            fig = r.draw_breakdown(data, size=size, title=title, share=args.share, top=args.top)
    r.save(fig, args.image, dpi=args.dpi)
    return ""


def _technique_figure(args, model, device, eff, d, r, size, title):
    common = dict(w_bits=_bits(args.w_bits, "--w-bits", False), a_bits=_bits(args.a_bits, "--a-bits", False),
                  kv_bits=_bits(args.kv_bits, "--kv-bits", False), flash_attention=args.flash_attention,
                  logits_all=args.logits_all, **_grouping(args))
    if args.kind == "gain":
        names = [n.strip() for n in args.techniques.split(",") if n.strip()]
        other = "prompt_len" if args.x == "batch_size" else "batch_size"
        xs = _as_list(_ints(getattr(args, args.x), "--" + args.x.replace("_", "-")))
        data = d.gains(model, device, techniques=names, x_name=args.x, x=xs, efficiency=eff, gen_len=args.gen_len,
                       **{other: _one(getattr(args, other), "--" + other.replace("_", "-"))}, **common)
        return r.draw_gain(data, size=size, title=title)
    if args.kind == "techniques":
        only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
        data = d.techniques_ranking(model, device, rank_by=args.rank_by, only=only, draft_model=args.draft_model,
                                    efficiency=eff, batch_size=_one(args.batch_size, "--batch-size"),
                                    prompt_len=_one(args.prompt_len, "--prompt-len"), gen_len=args.gen_len, **common)
        return r.draw_techniques(data, size=size, title=title)
    from ..cli_techniques import techniques_from_args
    from .options import parse_floats

    chosen = techniques_from_args(args)
    others = [k for k in ("early_exit", "sparsity", "kv_eviction") if chosen[k] is not None]
    spec = chosen["speculative"] or {"preset": "eagle3"}
    acceptance = parse_floats(args.acceptance, "--acceptance") if args.acceptance else None
    if acceptance is None and (spec.get("alpha") is not None or spec.get("tau") is not None):
        acceptance = [spec.get("alpha") if spec.get("alpha") is not None else spec["tau"]]
    data = d.speculative(model, device, speculative=spec, acceptance=acceptance,
                         batch_size=_as_list(_ints(args.batch_size, "--batch-size")),
                         prompt_len=_one(args.prompt_len, "--prompt-len"), gen_len=args.gen_len, efficiency=eff,
                         **{k: chosen[k] for k in others}, **common)
    return r.draw_speculative(data, size=size, title=title)


def _grouping(args) -> dict:
    """Grouped quantization and the recurrent-state precision, as every figure takes them."""
    return {"group_size": args.group_size, "scale_bits": args.scale_bits, "state_bits": args.state_bits}


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
