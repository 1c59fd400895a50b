"""The command line: ``llm-roofline analyze | models | hardware``.

A face: it parses arguments, calls the API and formats. User errors print one line to stderr
and exit with status 2; nothing here computes a formula. Heavy imports happen inside commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import RooflineError

EXIT_USER_ERROR = 2


def _bits(text: str) -> str | int:
    return int(text) if text.strip().isdigit() else text


def _add_analyze(sub) -> None:
    p = sub.add_parser("analyze", help="roofline analysis of one model on one device",
                       description="Per-operator roofline of prefill and one decode step, the whole "
                                   "generation (TTFT, TPOT, throughput) and the memory footprint.")
    p.add_argument("model", help="catalog id or alias (see `llm-roofline models`), or a path to a HF "
                                 "config.json or its folder")
    p.add_argument("hardware", help="catalog name or alias (see `llm-roofline hardware`; LLM-Viewer "
                                    "names like nvidia_A6000 work), or a path to a device YAML file")
    s = p.add_argument_group("scenario")
    s.add_argument("--batch-size", "-b", type=int, default=1, help="sequences per batch (default 1)")
    s.add_argument("--prompt-len", "-p", type=int, default=1024, help="prompt tokens (default 1024)")
    s.add_argument("--gen-len", "-g", type=int, default=0,
                   help="tokens generated after the prompt, for the generation metrics (default 0)")
    s.add_argument("--kv-len", type=int, default=None,
                   help="KV length of the reported decode step (default: prompt length)")
    s.add_argument("--w-bits", type=_bits, default=16, help="weights: bits 1..32 or fp16, bf16, fp8, int8, "
                                                           "int4, nf4, fp4 (default 16)")
    s.add_argument("--a-bits", type=_bits, default=16, help="activations: bits or format (default 16)")
    s.add_argument("--kv-bits", type=_bits, default=16, help="KV cache: bits or format (default 16)")
    s.add_argument("--group-size", type=int, default=128,
                   help="quantization group size for weights and KV below 16 bits; one 16-bit scale per "
                        "group is counted (0: no scales; default 128)")
    s.add_argument("--scale-bits", type=int, default=16,
                   help="bits of each group's scale in grouped quantization (default 16)")
    s.add_argument("--flash-attention", action="store_true", help="fused, causal-aware attention kernel")
    s.add_argument("--logits-all", action="store_true", help="prefill computes logits for every token")
    add_device_options(p)
    o = p.add_argument_group("output")
    o.add_argument("--format", "-f", choices=["table", "json", "csv"], default="table",
                   help="table (default), json (the full report), csv (the operator tables)")
    o.add_argument("--output", "-o", help="write to this file instead of standard output")
    p.set_defaults(run=_run_analyze)


def add_device_options(p) -> None:
    """Hardware overrides and the efficiency setting: shared by every command that analyses."""
    h = p.add_argument_group("hardware overrides and efficiency")
    h.add_argument("--bandwidth", help="memory bandwidth in bytes/s (e.g. 1.2e12 or 1.2TB/s)")
    h.add_argument("--capacity", help="memory capacity in bytes (e.g. 80e9, 80GB or 80GiB)")
    h.add_argument("--peak", help="dense 16-bit peak in FLOP/s (e.g. 312e12 or 312TFLOPS); the other "
                                  "precisions keep their ratios to it")
    h.add_argument("--efficiency", default="ideal", choices=["ideal", "hardware", "calibrated"],
                   help="ideal: the paper's roofline (default); hardware: the device's measured fractions; "
                        "calibrated: per-kernel curves fitted on measured kernel times (docs/calibration.md)")
    h.add_argument("--engine", choices=["generic", "vllm", "sglang", "trtllm", "llama.cpp", "gpt-fast", "hf-eager"],
                   help="with --efficiency calibrated: whose kernels and host costs (default generic, a "
                        "well-tuned server)")
    h.add_argument("--compute-fraction", type=float, help="fraction of peak FLOP/s reached (0, 1]")
    h.add_argument("--bandwidth-fraction", type=float, help="fraction of bandwidth reached (0, 1]")
    h.add_argument("--kernel-overhead-us", type=float,
                   help="fixed cost per kernel launch, microseconds (calibrated: host launch cost of an engine "
                        "without CUDA graphs)")


def device_from_args(args, name: str | None = None):
    """The device named on the command line (or ``name``), with the user's overrides applied."""
    from .api import load_hardware
    from .units import parse_quantity

    overrides = {
        "memory_bandwidth_bytes_per_s": None if args.bandwidth is None else parse_quantity(args.bandwidth, "B/s"),
        "memory_capacity_bytes": None if args.capacity is None else parse_quantity(args.capacity, "B"),
        "peak_flops_per_s": None if args.peak is None else parse_quantity(args.peak, "FLOP/s"),
    }
    return load_hardware(name or args.hardware, **overrides)


def efficiency_from_args(args, device):
    """The efficiency setting chosen on the command line, with single fractions overridden."""
    return _efficiency(args, device)


def _efficiency(args, device):
    from .api import resolve_efficiency

    overhead = None if args.kernel_overhead_us is None else args.kernel_overhead_us * 1e-6
    return resolve_efficiency(args.efficiency, device, compute_fraction=args.compute_fraction,
                              bandwidth_fraction=args.bandwidth_fraction, kernel_overhead_s=overhead,
                              engine=getattr(args, "engine", None))


def _run_analyze(args) -> str:
    from .api import analyze

    device = device_from_args(args)
    report = analyze(args.model, device, batch_size=args.batch_size, prompt_len=args.prompt_len,
                     gen_len=args.gen_len, kv_len=args.kv_len, w_bits=args.w_bits, a_bits=args.a_bits,
                     kv_bits=args.kv_bits, flash_attention=args.flash_attention, logits_all=args.logits_all,
                     group_size=args.group_size, scale_bits=args.scale_bits,
                     efficiency=_efficiency(args, device))
    if args.format == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    if args.format == "csv":
        from .textreport import ops_csv

        return ops_csv(report)
    from .textreport import render

    return render(report)


def _add_models(sub) -> None:
    p = sub.add_parser("models", help="list the bundled model catalog")
    p.add_argument("--format", "-f", choices=["table", "json"], default="table")
    p.set_defaults(run=_run_models)


def _run_models(args) -> str:
    from .models.catalog import list_models

    entries = list_models()
    if args.format == "json":
        return json.dumps(entries, indent=2) + "\n"
    width = max(len(e["id"]) for e in entries)
    lines = [f"{'id'.ljust(width)}  {'family':<10}  aliases"]
    lines += [f"{e['id'].ljust(width)}  {e.get('family', ''):<10}  {', '.join(e.get('aliases', []))}"
              for e in entries]
    return "\n".join(lines) + "\n"


def _add_hardware(sub) -> None:
    p = sub.add_parser("hardware", help="list the bundled devices, or show one device's full spec")
    p.add_argument("name", nargs="?", help="a device name or alias: show its spec and sources")
    p.add_argument("--format", "-f", choices=["table", "json"], default="table")
    p.set_defaults(run=_run_hardware)


def _hardware_dict(device) -> dict:
    from dataclasses import asdict, fields

    d = {f.name: getattr(device, f.name) for f in fields(device)}
    d.update(peak_flops_per_s=dict(device.peak_flops_per_s), aliases=list(device.aliases),
             efficiency=asdict(device.efficiency),
             calibration=device.calibration.to_dict() if device.calibration is not None else None)
    return d


def _run_hardware(args) -> str:
    from .hardware.catalog import list_hardware, load_hardware
    from .units import binary_bytes, si

    if args.name:
        device = load_hardware(args.name)
        d = _hardware_dict(device)
        if args.format == "json":
            return json.dumps(d, indent=2) + "\n"
        lines = [f"{device.name}  ({device.vendor} {device.kind})",
                 f"  memory bandwidth   {si(device.memory_bandwidth_bytes_per_s, 'B/s')}",
                 f"  memory capacity    {si(device.memory_capacity_bytes, 'B')}"]
        for precision, peak in device.peak_flops_per_s.items():
            lines.append(f"  peak {precision:<13} {si(peak, 'FLOP/s')}  "
                         f"(ridge {peak / device.memory_bandwidth_bytes_per_s:.1f} FLOP/B)")
        for label, key, unit in (("SRAM per SM", "sram_per_sm_bytes", "B"), ("SMs / CUs", "sm_count", ""),
                                 ("L2 cache", "l2_bytes", "B"),
                                 ("interconnect", "interconnect_bandwidth_bytes_per_s", "B/s"),
                                 ("host link", "host_bandwidth_bytes_per_s", "B/s")):
            if d.get(key) is not None:
                text = binary_bytes(d[key]) if unit == "B" else si(d[key], unit)  # on-chip sizes are binary
                lines.append(f"  {label:<18} {text}")
        e = device.efficiency
        lines.append(f"  measured efficiency: compute {e.compute_fraction:g}, bandwidth {e.bandwidth_fraction:g}")
        if device.calibration is not None:  # a file written by `llm-roofline measure`
            lines.append(f"  calibration: {device.calibration.provenance}; curves: " + ", ".join(
                f"{cls} {fmt} ({100 * c.median_error:.1f} %)" for (cls, fmt), c in device.calibration.curves.items()))
        if device.aliases:
            lines.append(f"  aliases: {', '.join(device.aliases)}")
        lines.append(f"  source: {device.source_url}")
        if device.notes:
            lines.append(f"  notes: {device.notes}")
        return "\n".join(lines) + "\n"
    devices = list_hardware()
    if args.format == "json":
        return json.dumps([_hardware_dict(d) for d in devices], indent=2) + "\n"
    width = max(len(d.name) for d in devices)
    lines = [f"{'name'.ljust(width)}  {'bandwidth':>11}  {'memory':>8}  {'16-bit peak':>14}  aliases"]
    for d in devices:
        peak = d.peak_16bit_flops_per_s
        lines.append(f"{d.name.ljust(width)}  {si(d.memory_bandwidth_bytes_per_s, 'B/s'):>11}  "
                     f"{si(d.memory_capacity_bytes, 'B'):>8}  {si(peak, 'FLOP/s'):>14}  {', '.join(d.aliases)}")
    return "\n".join(lines) + "\n"


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (and the subcommand's usage under --help only)."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="llm-roofline", description="Roofline analysis of LLM inference on a given device.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_analyze(sub)
    _add_models(sub)
    _add_hardware(sub)
    for module_name in COMMAND_MODULES:
        _register(sub, module_name)
    return parser


# Faces that live in packages of their own add their subcommands through ``add_parser(subparsers)``.
# Those modules must import only argparse-level things at import time (start-up stays light).
COMMAND_MODULES = ("llm_roofline.plots.cli", "llm_roofline.web.cli", "llm_roofline.efficiency.cli",
                   "llm_roofline.efficiency.measure_cli")


def _register(sub, module_name: str) -> None:
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):  # that face is not part of this build
            return
        raise
    module.add_parser(sub)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed in one line
        return exc.code if isinstance(exc.code, int) else EXIT_USER_ERROR
    try:
        text = args.run(args)
    except RooflineError as exc:
        print(f"llm-roofline: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    if getattr(args, "output", None):
        try:
            Path(args.output).write_text(text)
        except OSError as exc:
            print(f"llm-roofline: error: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return EXIT_USER_ERROR
    else:
        try:
            sys.stdout.write(text)
        except BrokenPipeError:  # e.g. piped into `head`
            return 0
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
