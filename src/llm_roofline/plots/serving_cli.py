"""``llm-roofline plot pareto`` and ``llm-roofline plot load``: argparse only at import time."""

from __future__ import annotations


def add_kinds(kinds) -> None:
    from ..cli import add_device_options
    from ..cli_serving import (
        _formats_group,
        _scheduler_group,
        add_request_overhead_option,
        add_search_options,
        model_and_device,
    )
    from .arguments import image_options
    from .options import _LIST_HELP

    p = kinds.add_parser("pareto", help="tokens/s per GPU vs tokens/s per user of a deployment search",
                         description="Run `llm-roofline plan` and draw every point: aggregated and disaggregated "
                                     "configurations, the Pareto front and the best point under the SLOs.")
    add_search_options(p)
    add_device_options(p)
    image_options(p)
    p.set_defaults(run=_run_pareto)

    p = kinds.add_parser("load", help="latency and throughput against the request rate or the concurrency",
                         description="TTFT, TPOT and output tokens/s against the load, one curve per input length, "
                                     "with the SLOs as lines: --rates simulates Poisson arrivals (p50 and p90), "
                                     "--concurrency gives the closed-loop steady state (means) and marks where "
                                     "the KV cache becomes the limit.")
    model_and_device(p)
    load = p.add_argument_group("load (one of)")
    load.add_argument("--rates", help="requests/s: a comma-separated list, or LO..HI with --points values")
    load.add_argument("--concurrency", help=f"closed-loop concurrencies: {_LIST_HELP}")
    p.add_argument("--points", type=int, default=8, help="values in a LO..HI rate range (default 8)")
    p.add_argument("--isl", default="2048", help=f"input tokens, one curve each: {_LIST_HELP} (default 2048)")
    p.add_argument("--osl", type=int, default=512, help="output tokens (default 512)")
    p.add_argument("--requests", "-n", type=int, default=500, help="requests simulated per rate (default 500)")
    p.add_argument("--ttft-slo", help="TTFT objective drawn as a line, e.g. 1s")
    p.add_argument("--tpot-slo", help="TPOT objective drawn as a line, e.g. 50ms")
    add_request_overhead_option(p)
    _scheduler_group(p)
    _formats_group(p)
    add_device_options(p)
    image_options(p)
    p.set_defaults(run=_run_load)


def _prepare(args):
    from .commands import _check_folder, _size
    from .options import image_format

    image_format(args.image)  # the dpi is checked where parsed
    _check_folder(args.image)
    return _size(args.size)


def _slos(args):
    from ..cli_serving import parse_seconds

    return (None if args.ttft_slo is None else parse_seconds(args.ttft_slo, "--ttft-slo"),
            None if args.tpot_slo is None else parse_seconds(args.tpot_slo, "--tpot-slo"))


def _run_pareto(args) -> str:
    from ..cli_serving import search_keywords, search_target
    from .figures import plot_pareto
    from .progress import ProgressBar
    from .render import save

    size = _prepare(args)
    target, eff = search_target(args)
    from ..cli import model_from_args

    fig = plot_pareto(model_from_args(args), target, size=size, title=args.title, efficiency=eff,
                      progress=ProgressBar("configurations"), **search_keywords(args))
    save(fig, args.image, dpi=args.dpi)
    return ""


def _rates(text: str, points: int) -> list[float]:
    from ..errors import ScenarioError

    try:
        if ".." in text:
            lo, hi = (float(v) for v in text.split("..", 1))
            if not 0 < lo <= hi or not 1 <= points <= 1000:
                raise ValueError
            return [lo + (hi - lo) * i / max(points - 1, 1) for i in range(points)] if points > 1 else [lo]
        values = [float(v) for v in text.split(",")]
        if not all(v > 0 for v in values):
            raise ValueError
        return values
    except ValueError:
        raise ScenarioError(f"--rates: cannot read {text!r}; use positive requests/s, e.g. 1,2,4 or 0.5..8 "
                            "(with --points 1..1000)") from None


def _run_load(args) -> str:
    from ..errors import ScenarioError
    from .figures import plot_load
    from .options import parse_int_list
    from .progress import ProgressBar
    from .render import save

    size = _prepare(args)
    if (args.rates is None) == (args.concurrency is None):
        raise ScenarioError("give one load axis: --rates or --concurrency")
    from ..cli_serving import _device_and_efficiency, request_overhead

    device, eff = _device_and_efficiency(args)
    ttft, tpot = _slos(args)
    load = ({"rates": _rates(args.rates, args.points)} if args.rates is not None
            else {"concurrency": parse_int_list(args.concurrency, "--concurrency")})
    from ..cli import model_from_args

    fig = plot_load(model_from_args(args), device, size=size, title=args.title,
                    isl=parse_int_list(args.isl, "--isl"),
                    osl=args.osl, requests=args.requests, ttft_slo_s=ttft, tpot_slo_s=tpot,
                    max_batch_tokens=args.max_batch_tokens, max_seqs=args.max_seqs, chunk=args.chunk,
                    block_size=args.block_size, memory_fraction=args.memory_fraction, w_bits=args.w_bits,
                    a_bits=args.a_bits, kv_bits=args.kv_bits, flash_attention=not args.no_flash_attention,
                    group_size=args.group_size, scale_bits=args.scale_bits, state_bits=args.state_bits, efficiency=eff,
                    request_overhead_s=request_overhead(args), progress=ProgressBar("load points"), **load)
    save(fig, args.image, dpi=args.dpi)
    return ""
