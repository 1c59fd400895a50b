"""``llm-roofline serve-sim`` and ``llm-roofline plan``: serving under load, and the deployment search.

A face: parses arguments, calls llm_roofline.serving and formats (servingtext.py). Registered by cli.py
through ``add_parser``; imports only argparse-level things at import time.
"""

from __future__ import annotations

import json
import re

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*(s|ms|us|µs|ns|min)?\s*$")
_SCALE = {None: 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "min": 60.0}


def parse_seconds(text: str, name: str, allow_zero: bool = False) -> float:
    """'1s', '50ms', '200us', '0.5' (seconds) -> seconds; a positive number (or 0 with ``allow_zero``),
    else ScenarioError."""
    from .errors import ScenarioError

    match = _DURATION.match(str(text))
    if not match or (float(match.group(1)) <= 0 and not allow_zero):
        raise ScenarioError(f"{name}: cannot read {text!r} as a duration; write e.g. 1s, 50ms or 200us")
    return float(match.group(1)) * _SCALE[match.group(2)]


def _request_overhead_value(text: str) -> float:
    """--request-overhead's argparse type: a duration (20ms, 0.1s, 0) in 0..60 s, in seconds."""
    from .errors import ScenarioError
    from .serving.profiles import MAX_REQUEST_OVERHEAD_S, check_request_overhead

    try:
        return check_request_overhead(parse_seconds(text, "--request-overhead", allow_zero=True))
    except ScenarioError:  # unreadable, negative or past the range: one message with the range
        raise ScenarioError(f"must be a duration in 0..{MAX_REQUEST_OVERHEAD_S:g} s (e.g. 20ms, 0.1s or 0), "
                            f"got {text!r}") from None


def add_request_overhead_option(p) -> None:
    """--request-overhead of every serving command that takes --efficiency (serve-sim, plan, plot pareto,
    plot load)."""
    from .flags import _flag_check

    p.add_argument("--request-overhead", type=_flag_check(_request_overhead_value), metavar="DURATION",
                   help="with --efficiency calibrated: the request overhead added to every TTFT and end to end "
                        "(HTTP, frontend, tokenization, scheduling), e.g. 20ms, 0.1s or 0, in 0..60 s, in place of "
                        "the engine's fitted one (docs/serving.md)")


def request_overhead(args) -> float | None:
    """The parsed --request-overhead (s), or None; refused outside the calibrated setting (the ideal and
    hardware settings have no serving profile to set it in)."""
    from .errors import ScenarioError

    value = getattr(args, "request_overhead", None)
    if value is not None and args.efficiency != "calibrated":
        raise ScenarioError("--request-overhead applies with --efficiency calibrated only: the ideal and hardware "
                            "settings have no serving profile (no request overhead)")
    return value


def _list(text: str | None, name: str, kind=str) -> list | None:
    from .errors import ScenarioError

    if text is None:
        return None
    out = []
    for item in text.split(","):
        item = item.strip()
        if kind is int:
            if item.lower() in ("none", "off", ""):
                out.append(None)
                continue
            if not item.isdigit():
                raise ScenarioError(f"{name}: {item!r} is not a positive integer")
            out.append(int(item))
        else:
            out.append(item.lower())
    return out


def _formats_group(p) -> None:
    """The formats of the scenario options (cli_scenario: defaults and checks written once), and the
    attention kernel: serving engines fuse it, so here the switch turns it off."""
    from .cli_scenario import add_scenario_options

    g = add_scenario_options(p, omit=("batch_size", "prompt_len", "gen_len", "kv_len", "flash_attention",
                                      "logits_all"), title="formats")
    g.add_argument("--no-flash-attention", action="store_true",
                   help="naive attention (scores written to memory); serving engines fuse it (the default)")


def _scheduler_group(p) -> None:
    g = p.add_argument_group("scheduler (per worker)")
    g.add_argument("--max-batch-tokens", type=int, default=8192,
                   help="tokens per iteration, decode and prefill together (default 8192)")
    g.add_argument("--max-seqs", type=int, default=256, help="requests running at once (default 256)")
    g.add_argument("--chunk", type=int, default=None,
                   help="most prefill tokens of one request per iteration (default: only the budget limits it)")
    g.add_argument("--block-size", type=int, default=16, help="tokens per KV-cache block (default 16)")
    g.add_argument("--memory-fraction", type=float, default=0.9,
                   help="share of device memory the engine uses (default 0.9)")


def _output_group(p, extra=()) -> None:
    o = p.add_argument_group("output")
    o.add_argument("--format", "-f", choices=["table", "json", *extra], default="table", help="default table")
    o.add_argument("--output", "-o", help="write to this file instead of standard output")


def add_parser(subparsers) -> None:
    from .cli import add_device_options

    p = subparsers.add_parser(
        "serve-sim", help="serve a load with continuous batching: TTFT, TPOT, throughput, KV cache",
        description="A discrete-event simulation of an iteration-level scheduler (vLLM / SGLang / TRT-LLM "
                    "style: decode tokens plus prefill chunks up to a token budget, paged KV cache, "
                    "preemption) on the roofline engine, with the closed-form steady state beside it.")
    model_and_device(p)
    load = p.add_argument_group("load (one of --concurrency, --rate, --trace)")
    load.add_argument("--concurrency", "-c", type=int, help="closed loop: requests in flight")
    load.add_argument("--rate", type=float, help="open loop: Poisson arrivals, requests/s")
    load.add_argument("--trace", help="JSON lines, one request each: arrival_s, input_tokens, output_tokens")
    load.add_argument("--requests", "-n", type=int, help="requests to simulate (default 10 x concurrency, at "
                                                         "least 200; 1000 with --rate)")
    load.add_argument("--isl", "--input-dist", dest="isl", default="2048",
                      help="input tokens: a number or uniform:LO:HI, normal:MEAN:STD, exponential:MEAN (2048)")
    load.add_argument("--osl", "--output-dist", dest="osl", default="512",
                      help="output tokens, the first included: a number or a distribution (512)")
    load.add_argument("--seed", type=int, default=0, help="random seed of arrivals and lengths (default 0)")
    add_request_overhead_option(load)
    _scheduler_group(p)
    d = p.add_argument_group("deployment")
    d.add_argument("--workers", type=int, default=1, help="aggregated: identical replicas, one device each")
    d.add_argument("--disagg", action="store_true", help="separate prefill and decode pools")
    d.add_argument("--prefill-workers", type=int, default=1, help="with --disagg: prefill workers (default 1)")
    d.add_argument("--decode-workers", type=int, default=1, help="with --disagg: decode workers (default 1)")
    d.add_argument("--link-bandwidth", help="KV-transfer link, one direction (default: half the device's "
                                            "interconnect), e.g. 450GB/s")
    _worker_devices_group(p)
    _formats_group(p)
    add_device_options(p)
    _output_group(p)
    p.set_defaults(run=_run_serve_sim)

    p = subparsers.add_parser(
        "plan", help="search deployments: Pareto front, best under SLOs, rate at SLO, fewest GPUs",
        description="Evaluate every configuration of the search space (aggregated or disaggregated, formats, "
                    "token budget, chunk, and the load per worker) with the closed-form steady state; print the "
                    "Pareto front of tokens/s per GPU against tokens/s per user and the best under the SLOs.")
    s = add_search_options(p)
    p.add_argument("--max-rate-at-slo", action="store_true", help="report the largest request rate meeting the SLOs")
    p.add_argument("--target-rate", type=float, help="requests/s to serve: report the fewest devices that do")
    s.add_argument("--processes", type=int, help="processes for the search (default: 1, or one per core past "
                                                 "the crossover in docs/serving.md)")
    add_device_options(p)
    _output_group(p)
    p.add_argument("--all-points", action="store_true", help="JSON: include every evaluated point")
    p.set_defaults(run=_run_plan)


POOLS = ("", "prefill-", "decode-")  # aggregated workers, and the two pools of --disagg


def _worker_devices_group(p) -> None:
    """One worker's devices (as analyze's --tp, --ep, --attention-dp, --pp), per pool with --disagg."""
    from .cli_parallel import _degree

    g = p.add_argument_group("devices per worker", "HARDWARE is then a system (llm-roofline hardware) or a "
                             "device (its first bundled system); iterations are priced by the engine on the "
                             "worker's most loaded device, with its collectives")
    for pool in POOLS:
        whose = {"": "each aggregated worker", "prefill-": "each prefill worker (--disagg)",
                 "decode-": "each decode worker (--disagg)"}[pool]
        g.add_argument(f"--{pool}tp", type=_degree, default=1, help=f"tensor parallelism of {whose} (default 1)")
        g.add_argument(f"--{pool}ep", type=_degree, default=1,
                       help=f"expert parallelism over tp x attention-dp devices of {whose} (default 1)")
        g.add_argument(f"--{pool}attention-dp", type=_degree, default=1,
                       help=f"attention data-parallel groups of tp devices in {whose} (default 1)")
        g.add_argument(f"--{pool}pp", type=_degree, default=1,
                       help=f"pipeline stages of tp x attention-dp devices each in {whose} (default 1; its "
                            "requests run as pp micro-batches, docs/serving.md)")


def _worker_devices(args) -> dict:
    """simulate's deployment keywords from the parsed flags: {"deployment": {...}} or the two pools' (the
    collectives follow the efficiency setting, as analyze's)."""
    from .errors import ScenarioError
    from .parallel.choices import default_comm

    out = {}
    for pool in POOLS:
        key = pool.replace("-", "_")
        degrees = {"tp": getattr(args, f"{key}tp"), "ep": getattr(args, f"{key}ep"),
                   "attention_dp": getattr(args, f"{key}attention_dp"), "pp": getattr(args, f"{key}pp")}
        if max(degrees.values()) == 1:
            continue
        if bool(pool) != args.disagg:
            why = ("a pool of --disagg only" if pool else
                   "aggregated workers only; with --disagg give each pool its own (--prefill-tp, --decode-tp ...)")
            raise ScenarioError(f"--{pool}tp / --{pool}ep / --{pool}attention-dp / --{pool}pp: {why}")
        out[f"{key}deployment"] = {**degrees, "comm": default_comm(args.efficiency)}
    return out


def model_and_device(p) -> None:
    """The positional model and device of every serving command, with the model options."""
    from .cli import add_model_options

    p.add_argument("model", help="catalog id or alias, or a HF config.json path")
    p.add_argument("hardware", help="catalog name or alias, or a device YAML")
    add_model_options(p)


def add_search_options(p):
    """The deployment search's arguments, shared by ``plan`` and ``plot pareto``: model and device, the
    devices, lengths and SLOs, and the search space (returned as a group for command-specific additions)."""
    model_and_device(p)
    p.add_argument("--gpus", type=int, default=8, help="devices to deploy on (default 8)")
    p.add_argument("--isl", type=int, default=2048, help="input tokens per request (default 2048)")
    p.add_argument("--osl", type=int, default=512, help="output tokens per request (default 512)")
    p.add_argument("--ttft-slo", help="mean time to first token objective, e.g. 1s or 500ms")
    p.add_argument("--tpot-slo", help="mean time per output token objective, e.g. 50ms")
    add_request_overhead_option(p)
    s = p.add_argument_group("search space")
    s.add_argument("--formats", help="comma-separated: bf16, fp8, fp8-kv16, int8, w8a16, w4a16, w4a16-kv8, fp4 "
                                     "(default bf16,fp8,w4a16)")
    s.add_argument("--modes", help="agg, disagg or both (default agg,disagg)")
    s.add_argument("--max-batch-tokens", help="token budgets to try (default 2048,8192)")
    s.add_argument("--chunks", help="prefill chunk sizes to try; none = only the budget (default none)")
    s.add_argument("--tp", help="tensor-parallel degrees of a worker to try, e.g. 1,2,4,8 (with --ep, "
                                "--attention-dp and --pp: every combination; default: powers of two up to a node, "
                                "expert-parallel layouts for MoE models, each with pp 1, 2 and 4, docs/serving.md)")
    s.add_argument("--ep", help="expert-parallel degrees to try (MoE models; default with --tp given: 1)")
    s.add_argument("--attention-dp", help="attention data-parallel groups to try (default with --tp given: 1)")
    s.add_argument("--pp", help="pipeline stages of a worker to try, e.g. 1,2,4 (default with --tp given: 1)")
    s.add_argument("--link-bandwidth", help="KV-transfer link for disaggregation, e.g. 450GB/s")
    return s


def search_target(args):
    """(what the search runs on, the efficiency): the system named (or the first bundled system of the
    device named: multi-device workers need its links), with the device overrides; a device no bundled
    system is built from stands alone (one device per worker)."""
    from .cli import efficiency_from_args
    from .cli_parallel import target_from_args
    from .errors import ConfigError

    try:
        target = target_from_args(args, multi_device=True)
        device = target.device
    except ConfigError:
        target = device = _device_and_efficiency(args)[0]
    return target, efficiency_from_args(args, device)


def search_keywords(args) -> dict:
    """lr.plan's search-space and SLO keywords from the parsed ``add_search_options`` arguments."""
    from .parallel.choices import default_comm

    return dict(gpus=args.gpus, isl=args.isl, osl=args.osl,
                ttft_slo=None if args.ttft_slo is None else parse_seconds(args.ttft_slo, "--ttft-slo"),
                tpot_slo=None if args.tpot_slo is None else parse_seconds(args.tpot_slo, "--tpot-slo"),
                formats=_list(args.formats, "--formats"), modes=_list(args.modes, "--modes"),
                max_batch_tokens=_list(args.max_batch_tokens, "--max-batch-tokens", int),
                chunks=_list(args.chunks, "--chunks", int), tp=_degrees(args.tp, "--tp"),
                ep=_degrees(args.ep, "--ep"), attention_dp=_degrees(args.attention_dp, "--attention-dp"),
                pp=_degrees(args.pp, "--pp"),
                link_bandwidth_bytes_per_s=_link(args), comm=default_comm(args.efficiency),
                request_overhead_s=request_overhead(args))


def _degrees(text: str | None, name: str) -> list[int] | None:
    from .errors import ScenarioError

    values = _list(text, name, int)
    if values is not None and (None in values or 0 in values):
        raise ScenarioError(f"{name}: degrees are positive integers, e.g. 1,2,4,8")
    return values


def _device_and_efficiency(args):
    from .cli import device_from_args, efficiency_from_args

    device = device_from_args(args)
    return device, efficiency_from_args(args, device)


def _model(args):
    from .cli import model_from_args

    return model_from_args(args)  # its warnings go to standard error


def _link(args):
    from .units import parse_quantity

    return None if args.link_bandwidth is None else parse_quantity(args.link_bandwidth, "B/s")


def _run_serve_sim(args) -> str:
    from .cli import efficiency_from_args
    from .cli_parallel import target_from_args
    from .plots.progress import ProgressBar
    from .serving.api import simulate

    devices = _worker_devices(args)
    system = target_from_args(args, multi_device=bool(devices))
    eff = efficiency_from_args(args, system.device)
    report = simulate(
        _model(args), system if devices else system.device, concurrency=args.concurrency, rate=args.rate,
        trace=args.trace, requests=args.requests, isl=args.isl, osl=args.osl, seed=args.seed,
        max_batch_tokens=args.max_batch_tokens, max_seqs=args.max_seqs,
        chunk=args.chunk, block_size=args.block_size, memory_fraction=args.memory_fraction, workers=args.workers,
        disagg=args.disagg, prefill_workers=args.prefill_workers, decode_workers=args.decode_workers,
        link_bandwidth_bytes_per_s=_link(args), w_bits=args.w_bits, a_bits=args.a_bits, kv_bits=args.kv_bits,
        flash_attention=not args.no_flash_attention, group_size=args.group_size, scale_bits=args.scale_bits,
        state_bits=args.state_bits, efficiency=eff, request_overhead_s=request_overhead(args),
        progress=ProgressBar("requests"), **devices)
    if args.format == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    from .servingtext import render_simulation

    return render_simulation(report)


def _run_plan(args) -> str:
    from .errors import ScenarioError
    from .plots.progress import ProgressBar
    from .serving.plan import plan

    target, eff = search_target(args)
    if args.processes is not None and not 1 <= args.processes <= 1024:
        raise ScenarioError(f"--processes must be in 1..1024, got {args.processes}")
    result = plan(_model(args), target, target_rate=args.target_rate, efficiency=eff, processes=args.processes,
                  progress=ProgressBar("configurations"), **search_keywords(args))
    if args.format == "json":
        return json.dumps(result.to_dict(all_points=args.all_points), indent=2) + "\n"
    from .servingtext import render_plan

    return render_plan(result, model=args.model, device=getattr(target, "device", target).name,
                       max_rate=args.max_rate_at_slo)
