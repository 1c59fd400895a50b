"""``llm-roofline plot KIND MODEL HARDWARE [options] -o FILE`` and ``llm-roofline sweep``.

Registered by ``llm_roofline.cli`` through :func:`add_parser`. Import-time cost is argparse only:
NumPy, matplotlib and the engine load inside the command that needs them. List options are parsed
inside the commands (not by argparse) so a bad list is one line on stderr with exit status 2.
"""

from __future__ import annotations

from ..cli_scenario import add_scenario_options
from ..parallel.choices import MODES
from .accuracy import add_kind as add_accuracy
from .arguments import POINTS_RANGE, TOP_RANGE, hardware_options, image_options, int_flag, positional_args
from .commands import run_plot
from .optimization_kinds import add_optimization_kinds
from .sweep_cli import add_sweep_parser

BITS = ("w_bits", "a_bits", "kv_bits")
ONE_VALUE = ("batch_size", "prompt_len", *BITS)  # read as text: the figure says "one value" itself
LISTS = ("batch_size", "prompt_len", *BITS)  # one curve or bar for each combination
KINDS = ("roofline", "batch-sweep", "seq-sweep", "quantization", "flash-attention", "bandwidth", "hardware",
         "breakdown", "scaling", "speculative", "techniques", "gain", "fusion", "offload")


def add_parser(subparsers) -> None:
    """Add ``plot`` (one sub-command per figure) and ``sweep`` to the main parser's sub-commands."""
    plot = subparsers.add_parser(
        "plot", help="draw a figure (roofline, serving sweeps, quantization, ...) as PNG, SVG or PDF",
        description="Draw one of the paper's figures for any model and device. The image format follows "
                    "the output file's extension (.png, .svg, .pdf). Options that take lists (see each "
                    "KIND's --help) read comma-separated items, each N, A..B (every integer), A..B:xK (times "
                    "K) or A..B:K (step K), e.g. 1,2,4..32:x2.")
    kinds = plot.add_subparsers(dest="kind", required=True, metavar="KIND")

    p = kinds.add_parser("roofline", help="every operator of a stage on the device's roofline (paper Fig. 5, 6)",
                         description="The device roofline with each operator of prefill and/or decode as a point "
                                     "(blue memory-bound, vermillion compute-bound; area ~ share of time), the "
                                     "memory- and compute-bound regions and the ridge point.")
    positional_args(p)
    p.add_argument("--stage", choices=["prefill", "decode", "both"], default="both", help="default both")
    p.add_argument("--precision", help="ceilings to draw, comma-separated (fp16, bf16, int8, fp8, int4, fp4, "
                                       "tf32, fp32; default: those the operators use)")
    p.add_argument("--measured", metavar="FILE", help="a device YAML written by `llm-roofline measure`: draw its "
                                                      "measured roof and points over the datasheet roofline")
    add_scenario_options(p, text=ONE_VALUE, omit=("gen_len",))
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=run_plot)

    p = kinds.add_parser("batch-sweep", help="latency, throughput and memory vs batch size (paper Fig. 19)",
                         description="Decode latency, throughput and memory footprint against the batch size, a "
                                     "curve for each combination of the other listed settings; the device's "
                                     "memory is drawn as a line and scenarios that do not fit are faint.")
    positional_args(p)
    add_scenario_options(p, lists=LISTS, defaults={"batch_size": "1..256:x2"})
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=run_plot)

    p = kinds.add_parser("seq-sweep", help="latency, throughput and memory vs sequence length",
                         description="As batch-sweep, against the prompt length (the decode step reads a KV "
                                     "cache of the prompt's length).")
    positional_args(p)
    add_scenario_options(p, lists=LISTS, omit=("kv_len",), defaults={"prompt_len": "128..16384:x2"})
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=run_plot)

    p = kinds.add_parser("quantization", help="time vs batch / length per weight bit-width and memory breakdown "
                                              "(paper Fig. 7, 8, 9)",
                         description="Three panels: decode step time against the batch size and prefill time "
                                     "against the prompt length, one curve per weight bit-width, and the memory "
                                     "footprint (weights, KV cache, activations) of each format in each "
                                     "BATCHxPROMPT scenario, relative to the first format.")
    positional_args(p)
    s = add_scenario_options(p, lists=("w_bits", "batch_size", "prompt_len"), text=("a_bits", "kv_bits"),
                             omit=("gen_len", "kv_len", "flash_attention", "logits_all"),
                             defaults={"w_bits": "16,8,4", "batch_size": "1..64", "prompt_len": "16..4096:x2"},
                             helps={"w_bits": "weights, one curve per bit-width",
                                    "batch_size": "batch sizes, the x axis of the decode panel",
                                    "prompt_len": "prompt lengths, the x axis of the prefill panel"})
    s.add_argument("--decode-prompt-len", type=int_flag("prompt_len"), default=1024,
                   help="KV length of the decode panel (default 1024)")
    s.add_argument("--prefill-batch-size", type=int_flag("batch_size"), default=1,
                   help="batch size of the prefill panel (default 1)")
    s.add_argument("--memory-configs", default="FP16,W4,W4KV4,W4A4",
                   help="formats of the memory panel, e.g. FP16,W8A8,W4KV4 (A defaults to 16, KV to A)")
    s.add_argument("--memory-scenarios", default="1x1024,1x4096,16x1024",
                   help="BATCHxPROMPT pairs of the memory panel (default 1x1024,1x4096,16x1024)")
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=run_plot)

    p = kinds.add_parser("flash-attention", help="memory traffic and time with and without FlashAttention "
                                                 "(paper Fig. 16)",
                         description="Memory traffic and time of prefill and of one decode step (KV length = "
                                     "prompt length) against the prompt length, with the standard attention "
                                     "kernel and with FlashAttention, a curve pair per batch size.")
    positional_args(p)
    add_scenario_options(p, lists=("batch_size", "prompt_len"), text=BITS,
                         omit=("gen_len", "kv_len", "flash_attention", "logits_all"),
                         defaults={"batch_size": "1,16", "prompt_len": "512..16384:x2"})
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=run_plot)

    p = kinds.add_parser("bandwidth", help="decode time vs memory bandwidth of a hypothetical device "
                                           "(paper Fig. 20)",
                         description="The device with its memory bandwidth replaced by each value of "
                                     "--bandwidths (use --peak to set its compute, e.g. --peak 200TFLOPS).")
    positional_args(p)
    p.add_argument("--bandwidths", default="0.2TB/s..4TB/s",
                   help="LO..HI (evenly spaced, --points values) or a comma-separated list, with units "
                        "(default 0.2TB/s..4TB/s)")
    p.add_argument("--points", type=int_flag(POINTS_RANGE), default=20,
                   help=f"values in a LO..HI range, {POINTS_RANGE[0]}..{POINTS_RANGE[1]} (default 20)")
    add_scenario_options(p, lists=("batch_size",), text=("prompt_len", *BITS),
                         omit=("gen_len", "kv_len", "logits_all"))
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=run_plot)

    p = kinds.add_parser("hardware", help="the same scenario on several devices, as bars",
                         description="Decode step time, prefill time, tokens/s and (with --price) tokens/s per "
                                     "USD on each device; hatched bars do not fit in the device's memory.")
    positional_args(p, devices=True)
    p.add_argument("--price", help="price of each device in USD (purchase or per hour, your choice), "
                                   "comma-separated in the order of the devices")
    add_scenario_options(p, text=ONE_VALUE, omit=("kv_len", "logits_all"))
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=run_plot)

    p = kinds.add_parser("breakdown", help="stacked time per operator kind for prefill and decode",
                         description="Prefill and decode-step time split by operator kind (or by operator), "
                                     "one stacked bar for each combination of the listed settings.")
    positional_args(p)
    p.add_argument("--group-by", choices=["kind", "op"], default="kind", help="default kind")
    p.add_argument("--share", action="store_true", help="show shares of the stage's time, not seconds")
    p.add_argument("--top", type=int_flag(TOP_RANGE), default=8,
                   help="groups shown before the rest is lumped (default 8)")
    add_scenario_options(p, lists=LISTS, omit=("gen_len",))
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=run_plot)

    p = kinds.add_parser("scaling", help="TPOT, TTFT, tokens/s and memory per device vs devices, per TP/PP/EP choice",
                         description="The deployment's TPOT, TTFT, tokens/s per device and memory per device "
                                     "against the number of devices, one curve per way of spreading the model "
                                     "(tp, pp, tp_pp: TP inside a node x PP across, ep: attention DP + EP, tp_ep); "
                                     "one device's memory as a line, deployments that do not fit hollow.")
    positional_args(p)  # HARDWARE: a system (see `llm-roofline hardware`), or a device (its first system)
    p.add_argument("--devices", help="device counts (default: 1,2,4,... up to 64 or the system's size)")
    p.add_argument("--strategies", help="comma-separated: tp, pp, tp_pp, ep, tp_ep (default: all that apply)")
    p.add_argument("--overlap", action="store_true", help="communication overlaps computation (optimistic)")
    p.add_argument("--comm", choices=MODES, help="collectives (default: fitted with --efficiency "
                                                               "hardware, else ideal)")
    add_scenario_options(p, text=ONE_VALUE, omit=("kv_len", "logits_all", "flash_attention"),
                         defaults={"batch_size": 1})
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=_run_scaling)

    add_optimization_kinds(kinds)
    from .serving_cli import add_kinds  # plot pareto, plot load

    add_kinds(kinds)
    _add_technique_kinds(kinds)
    add_accuracy(kinds)
    add_sweep_parser(subparsers)


def _run_scaling(args) -> str:
    from .scaling_figure import run_scaling

    return run_scaling(args)


def _add_technique_kinds(kinds) -> None:
    from ..cli_techniques import add_technique_options

    p = kinds.add_parser("speculative", help="speculative decoding's speed-up against the batch size, crossover "
                                              "marked",
                         description="The TPOT speed-up of speculative decoding (or lookahead / Jacobi) over one-token "
                                     "decoding against the batch size, one curve per acceptance value, the batch where "
                                     "it falls below 1 marked, and the verify step's arithmetic intensity against the "
                                     "ridge point (above it the step is compute-bound and the gain collapses).")
    positional_args(p)
    add_scenario_options(p, lists=("batch_size",), text=("prompt_len", *BITS), omit=("kv_len",),
                         defaults={"batch_size": "1..256:x2"})
    add_technique_options(p)
    p.add_argument("--acceptance", metavar="LIST",
                   help="acceptance values, one curve each: alpha (0..1) for a chain, tau (tokens per iteration) "
                        "for a tree, lookahead or Jacobi (default: a spread; --spec-alpha / --spec-tau: one curve)")
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=run_plot)

    p = kinds.add_parser("techniques", help="the advisor's ranking of techniques as bars",
                         description="Every technique `llm-roofline advise` evaluates on the scenario, as bars of its "
                                     "gain (log scale), coloured by family, hatched where it changes the model's "
                                     "output, faint where it does not fit.")
    positional_args(p)
    add_scenario_options(p, text=ONE_VALUE)
    p.add_argument("--rank-by", choices=["tpot", "ttft", "throughput", "memory"], default="tpot",
                   help="the gain drawn and sorted by (default tpot)")
    p.add_argument("--only", metavar="NAMES", help="comma-separated technique names (see `llm-roofline techniques`)")
    p.add_argument("--draft-model", metavar="MODEL", help="also a draft-model entry")
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=run_plot)

    p = kinds.add_parser("gain", help="techniques' TPOT and throughput gains against the batch or prompt length",
                         description="The gain of each named technique (the advisor's entries with fixed settings, see "
                                     "`llm-roofline techniques`) over the plain analysis, against the batch size or "
                                     "the prompt length: where a technique's gain grows, shrinks or vanishes.")
    positional_args(p)
    p.add_argument("--techniques", required=True, metavar="NAMES",
                   help="comma-separated technique names, e.g. early-exit,contextual-sparsity,quant-w4")
    p.add_argument("--x", choices=["batch_size", "prompt_len"], default="batch_size", help="the x axis (default "
                                                                                          "batch_size)")
    add_scenario_options(p, lists=("batch_size", "prompt_len"), text=BITS, omit=("kv_len",),
                         defaults={"batch_size": "1..256:x2"},
                         helps={"batch_size": "batch sizes (the x axis with --x batch_size, else one value)",
                                "prompt_len": "prompt lengths (the x axis with --x prompt_len, else one value)"})
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=run_plot)
