"""``llm-roofline advise`` (which technique helps this model, on this device, at this scenario, and by how
much) and ``llm-roofline techniques`` (what the advisor knows, and the speculative presets).

A face: argparse at import time, the engine when a command runs; the ranking and every sentence come from
``techniques.advise``."""

from __future__ import annotations

import json

from .cli_scenario import add_scenario_options


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "advise", help="rank the fast-decoding and compression techniques for a model, device and scenario",
        description="Evaluate every technique that applies (quantization, FlashAttention, speculative "
                    "decoding presets, early exit, contextual sparsity, KV eviction, a larger batch...) at stated "
                    "typical settings on your scenario, and rank them by their gain in TPOT, TTFT, throughput or "
                    "memory, with the decode step's bound before and after and one sentence of why. Settings and "
                    "assumptions are printed; techniques that change the model's output are marked (the tool "
                    "models speed, not quality).")
    from .cli import add_device_options, add_model_options

    p.add_argument("model", help="catalog id or alias, or a path to a HF config.json or its folder")
    p.add_argument("hardware", help="catalog name or alias, or a path to a device YAML file")
    add_scenario_options(p)
    a = p.add_argument_group("advisor")
    a.add_argument("--rank-by", choices=["tpot", "ttft", "throughput", "memory"], default="tpot",
                   help="the gain the ranking sorts by (default tpot)")
    a.add_argument("--only", metavar="NAMES", help="comma-separated technique names (see `llm-roofline techniques`)")
    a.add_argument("--draft-model", metavar="MODEL", help="also rank speculative decoding with this draft model")
    a.add_argument("--draft-alpha", type=_alpha, default=0.7, metavar="A",
                   help="the draft model's acceptance rate, an assumption (default 0.7)")
    add_model_options(p)
    add_device_options(p)
    o = p.add_argument_group("output")
    o.add_argument("--format", "-f", choices=["table", "json"], default="table", help="table (default) or json")
    from .flags import output_file

    o.add_argument("--output", "-o", metavar="FILE", type=output_file, help="write to this file")
    p.set_defaults(run=run_advise)

    t = subparsers.add_parser(
        "techniques", help="list the techniques the advisor knows and the speculative decoding presets",
        description="The advisor's techniques (name, what it is, its typical settings, whether it changes the "
                    "model's output, its source) and the named presets of speculative decoding with their "
                    "published acceptance lengths.")
    t.add_argument("--format", "-f", choices=["table", "json"], default="table", help="table (default) or json")
    t.set_defaults(run=run_techniques)


def _alpha(text: str) -> float:
    from .flags import real_flag

    return real_flag(0.0, 1.0)(text)


def run_advise(args) -> str:
    from .cli import device_from_args, efficiency_from_args, model_from_args, output_width
    from .techniques.advise import advise

    model = model_from_args(args)
    device = device_from_args(args)
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    advice = advise(model, device, rank_by=args.rank_by, only=only, draft_model=args.draft_model,
                    draft_alpha=args.draft_alpha, efficiency=efficiency_from_args(args, device),
                    force_llama_like=args.force_llama_like, batch_size=args.batch_size, prompt_len=args.prompt_len,
                    gen_len=args.gen_len, kv_len=args.kv_len, w_bits=args.w_bits, a_bits=args.a_bits,
                    kv_bits=args.kv_bits, state_bits=args.state_bits, flash_attention=args.flash_attention,
                    logits_all=args.logits_all, group_size=args.group_size, scale_bits=args.scale_bits)
    if args.format == "json":
        return json.dumps(advice.to_dict(), indent=2, allow_nan=False) + "\n"
    from .textadvice import render_advice

    return render_advice(advice, output_width(args.output))


def run_techniques(args) -> str:
    from .techniques.presets import PRESETS
    from .techniques.registry import techniques

    entries = techniques()
    if args.format == "json":
        return json.dumps({"techniques": [{"name": t.name, "title": t.title, "family": t.family,
                                           "settings": {k: str(v) if not isinstance(v, int | float | bool | str | dict)
                                                        else v for k, v in t.settings.items()},
                                           "affects_accuracy": t.affects_accuracy, "note": t.note,
                                           "source": t.source} for t in entries.values()],
                           "speculative_presets": {k: dict(v) for k, v in PRESETS.items()}}, indent=2) + "\n"
    import textwrap

    from .cli import output_width

    columns = output_width(None) or 100
    width = max(len(n) for n in entries)
    lines = ["techniques of `llm-roofline advise` (* changes the model's output):"]
    for t in entries.values():
        lines.append(f"  {t.name.ljust(width)}  {'*' if t.affects_accuracy else ' '} {t.title}")
    lines += ["", "speculative presets (--speculative NAME; override with --spec-tau / --spec-alpha):"]
    for name, p in PRESETS.items():
        shape = ", ".join(f"{k} {p[k]}" for k in ("k", "width", "tree_nodes", "window", "ngram", "guesses", "tau",
                                                   "alpha", "draft_vocab") if k in p)
        lines.append(f"  {name:<10} {p['method']:<9} {shape}")
        lines += textwrap.wrap(f"source: {p['source']}", max(columns, 40), initial_indent=" " * 13,
                               subsequent_indent=" " * 13, break_on_hyphens=False)
    return "\n".join(lines) + "\n"
