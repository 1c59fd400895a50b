"""The command line: ``llm-roofline analyze | models | hardware``.

A face: it parses arguments, calls the API and formats. User errors print one line to stderr
and exit with status 2; nothing here computes a formula. Heavy imports happen inside commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from .cli_optimizations import add_optimization_options, optimizations_from_args
from .cli_scenario import add_scenario_options
from .cli_techniques import add_technique_options, techniques_from_args
from .errors import RooflineError, ScenarioError
from .flags import output_file, quantity_flag, real_flag

EXIT_USER_ERROR = 2


def _add_analyze(sub) -> None:
    p = sub.add_parser("analyze", help="roofline analysis of one model on one device",
                       description="Per-operator roofline of prefill and one decode step, the whole "
                                   "generation (TTFT, TPOT, throughput) and the memory footprint.")
    p.add_argument("model", help="catalog id or alias (see `llm-roofline models`), or a path to a HF "
                                 "config.json or its folder")
    p.add_argument("hardware", help="catalog name or alias (see `llm-roofline hardware`; LLM-Viewer "
                                    "names like nvidia_A6000 work), or a path to a device YAML file")
    add_scenario_options(p)
    add_technique_options(p)
    add_optimization_options(p)
    add_model_options(p)
    add_device_options(p)
    from .cli_parallel import add_parallel_options

    add_parallel_options(p)
    o = p.add_argument_group("output")
    o.add_argument("--format", "-f", choices=["table", "json", "csv"], default="table",
                   help="table (default), json (the full report), csv (the operator tables)")
    o.add_argument("--output", "-o", metavar="FILE", type=output_file,
                   help="write to this file instead of standard output")
    o.add_argument("--summary", action="store_true",
                   help="the headline only: TTFT, TPOT, throughput, memory, bounds (table format)")
    o.add_argument("--stage", choices=["prefill", "decode", "both"], default="both",
                   help="the operator tables shown (table and csv formats; default both)")
    p.set_defaults(run=_run_analyze)


def add_model_options(p) -> None:
    """Model options shared by every command that analyses a model."""
    p.add_argument("--force-llama-like", action="store_true",
                   help="analyse a config whose model_type has no parser as a Llama-style decoder (with a "
                        "warning; its numbers are right only if it is one)")


def model_from_args(args):
    """The model named on the command line; each of its warnings goes to stderr as one line."""
    from .api import load_model

    spec = load_model(args.model, force_llama_like=args.force_llama_like)
    for warning in spec.warnings:
        print(f"llm-roofline: warning: {warning}", file=sys.stderr)
    return spec


def add_device_options(p) -> None:
    """Hardware overrides and the efficiency setting: shared by every command that analyses."""
    from .efficiency.engines import DEFAULT_ENGINE, ENGINES
    from .limits import FRACTION_LIMITS, KERNEL_OVERHEAD_LIMITS_S

    h = p.add_argument_group("hardware overrides and efficiency")
    h.add_argument("--bandwidth", type=quantity_flag("B/s", "memory_bandwidth_bytes_per_s"), metavar="B/S",
                   help="memory bandwidth in bytes/s (e.g. 1.2e12 or 1.2TB/s)")
    h.add_argument("--capacity", type=quantity_flag("B", "memory_capacity_bytes"), metavar="BYTES",
                   help="memory capacity in bytes (e.g. 80e9, 80GB or 80GiB)")
    h.add_argument("--peak", type=quantity_flag("FLOP/s", "peak_flops_per_s"), metavar="FLOP/S",
                   help="dense 16-bit peak in FLOP/s (e.g. 312e12 or 312TFLOPS); the other "
                        "precisions keep their ratios to it")
    h.add_argument("--efficiency", default="ideal", choices=["ideal", "hardware", "calibrated"], metavar="SETTING",
                   help="ideal: the paper's roofline (default); hardware: the device's measured fractions; "
                        "calibrated: per-kernel curves fitted on measured kernel times (docs/calibration.md)")
    h.add_argument("--engine", choices=list(ENGINES), metavar="ENGINE",
                   help=f"with --efficiency calibrated: whose kernels and host costs: {', '.join(ENGINES)} "
                        f"(default {DEFAULT_ENGINE}, a well-tuned server)")
    low, high = FRACTION_LIMITS
    h.add_argument("--compute-fraction", type=real_flag(low, high), metavar="F",
                   help=f"fraction of peak FLOP/s reached, {low:g}..{high:g}")
    h.add_argument("--bandwidth-fraction", type=real_flag(low, high), metavar="F",
                   help=f"fraction of bandwidth reached, {low:g}..{high:g}")
    h.add_argument("--kernel-overhead-us", type=real_flag(KERNEL_OVERHEAD_LIMITS_S[0] * 1e6,
                                                          KERNEL_OVERHEAD_LIMITS_S[1] * 1e6, high_open=True),
                   metavar="US", help="fixed cost per kernel launch, microseconds (below 1e6; calibrated: the "
                                      "host launch cost of an engine without CUDA graphs)")


def device_from_args(args, name: str | None = None):
    """The device named on the command line (or ``name``), with the user's overrides applied."""
    from .api import load_hardware

    overrides = {"memory_bandwidth_bytes_per_s": args.bandwidth, "memory_capacity_bytes": args.capacity,
                 "peak_flops_per_s": args.peak}  # in SI base units, range-checked where parsed
    device = load_hardware(name or args.hardware)
    try:
        return load_hardware(device, **overrides)
    except RooflineError as exc:  # e.g. --peak scales another precision out of range: name the flag
        flag = {"memory_bandwidth": "--bandwidth", "memory_capacity": "--capacity", "peak_flops": "--peak"}
        prefix = next((f for field, f in flag.items() if str(exc).startswith(field)), None)
        raise ScenarioError(f"{prefix}: {exc}" if prefix else str(exc)) from None


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
    from .cli_parallel import parallel_from_args, target_from_args
    from .parallel.choices import default_comm

    _check_output_options(args)
    parallel = parallel_from_args(args)
    if parallel["comm"] is None:  # the efficiency setting picks the collectives (fitted with hardware / calibrated)
        parallel["comm"] = default_comm(args.efficiency)
    multi = args.tp * args.pp * args.dp * args.attention_dp > 1
    model = model_from_args(args)
    system = target_from_args(args, multi)
    report = analyze(model, system if multi else system.device, batch_size=args.batch_size,
                     prompt_len=args.prompt_len, gen_len=args.gen_len, kv_len=args.kv_len, w_bits=args.w_bits,
                     a_bits=args.a_bits, kv_bits=args.kv_bits, state_bits=args.state_bits,
                     flash_attention=args.flash_attention, logits_all=args.logits_all, group_size=args.group_size,
                     scale_bits=args.scale_bits, efficiency=_efficiency(args, system.device),
                     force_llama_like=args.force_llama_like, **techniques_from_args(args), **parallel,
                     **optimizations_from_args(args))
    stages = ("prefill", "decode") if args.stage == "both" else (args.stage,)
    if args.format == "json":
        return json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"  # strict JSON, always
    if args.format == "csv":
        from .textreport import ops_csv

        return ops_csv(report, stages)
    from .textreport import render

    return render(report, width=output_width(args.output), stages=stages, summary=args.summary)


def _check_output_options(args) -> None:
    if args.format == "json" and (args.summary or args.stage != "both"):
        raise RooflineError("--summary and --stage shape the table (and --stage the csv); "
                            "--format json is always the whole report")
    if args.format == "csv" and args.summary:
        raise RooflineError("--summary is the headline of --format table; csv holds the operator tables")


def output_width(output: str | None) -> int | None:
    """Characters per line for the table: ``COLUMNS`` if set, else the terminal's width when standard
    output is a terminal; no limit for a file (``-o``) or a pipe, which get every column."""
    import os
    import shutil

    if output:
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.strip().isdigit() and int(columns) > 0:
        return int(columns)
    isatty = getattr(sys.stdout, "isatty", lambda: False)
    return shutil.get_terminal_size().columns if isatty() else None


def _add_models(sub) -> None:
    p = sub.add_parser("models", help="list the bundled model catalog",
                       description="The models bundled with llm-roofline: their catalog ids (Hugging Face "
                                   "names), families and short aliases. Any of them, or a path to a HF "
                                   "config.json, is a MODEL for analyze, sweep and plot.")
    p.add_argument("--format", "-f", choices=["table", "json"], default="table",
                   help="table (default) or json (every field of each entry)")
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
    p = sub.add_parser("hardware", help="list the bundled devices and systems, or show one in full",
                       description="The devices bundled with llm-roofline (memory bandwidth, capacity, 16-bit "
                                   "peak, aliases) and the systems for several devices (devices per node, links), "
                                   "or with a NAME that device's or system's full spec: every peak and its ridge "
                                   "point, caches, links, measured efficiency and the sources.")
    p.add_argument("name", nargs="?", help="a device or system name or alias: show its spec and sources")
    p.add_argument("--format", "-f", choices=["table", "json"], default="table",
                   help="table (default) or json (every field, in SI units)")
    p.set_defaults(run=_run_hardware)


def _hardware_dict(device) -> dict:
    from dataclasses import asdict, fields

    d = {f.name: getattr(device, f.name) for f in fields(device)}
    d.update(peak_flops_per_s=dict(device.peak_flops_per_s), aliases=list(device.aliases),
             efficiency=asdict(device.efficiency),
             calibration=device.calibration.to_dict() if device.calibration is not None else None)
    return d


def _run_hardware(args) -> str:
    from .hardware.catalog import _find, list_hardware, load_hardware
    from .hardware.systems import find_system, list_systems, systems_with_device
    from .systemtext import system_detail, system_dict, systems_table
    from .units import binary_bytes, si

    if args.name and _find(args.name) is None and find_system(args.name) is not None:
        system = find_system(args.name)
        return json.dumps(system_dict(system), indent=2) + "\n" if args.format == "json" else system_detail(system)
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
        systems = systems_with_device(device)
        if systems:
            lines.append(f"  systems: {', '.join(s.name for s in systems)} (see `llm-roofline hardware SYSTEM`)")
        lines.append(f"  source: {device.source_url}")
        if device.notes:
            lines.append(f"  notes: {device.notes}")
        return "\n".join(lines) + "\n"
    devices = list_hardware()
    if args.format == "json":
        return json.dumps({"devices": [_hardware_dict(d) for d in devices],
                           "systems": [system_dict(s) for s in list_systems()]}, indent=2) + "\n"
    width = max(len(d.name) for d in devices)
    lines = [f"{'name'.ljust(width)}  {'bandwidth':>11}  {'memory':>8}  {'16-bit peak':>14}  aliases"]
    for d in devices:
        peak = d.peak_16bit_flops_per_s
        lines.append(f"{d.name.ljust(width)}  {si(d.memory_bandwidth_bytes_per_s, 'B/s'):>11}  "
                     f"{si(d.memory_capacity_bytes, 'B'):>8}  {si(peak, 'FLOP/s'):>14}  {', '.join(d.aliases)}")
    return "\n".join(lines) + "\n\n" + systems_table(list_systems())


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (and the subcommand's usage under --help only), and no
    abbreviated options: `plan --tp 2` must be an unknown option, not `--tpot-slo 2`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

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
                   "llm_roofline.cli_serving", "llm_roofline.cli_advise", "llm_roofline.efficiency.measure_cli",
                   "llm_roofline.cli_validate")


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
        output = args.run(args)  # text, or an iterator of text chunks (a streamed sweep)
        _emit([output] if isinstance(output, str) else output, getattr(args, "output", None))
    except RooflineError as exc:
        print(f"llm-roofline: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        target = getattr(args, "output", None) or getattr(args, "image", None) or "standard output"
        print(f"llm-roofline: error: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


def _emit(chunks: Iterable[str], output: str | None) -> None:
    """Write each chunk as it comes, to ``output`` or standard output (memory stays one chunk). The
    file is opened when the first chunk is ready, so an error found before that leaves no file."""
    if output is None:
        try:
            for chunk in chunks:
                sys.stdout.write(chunk)
            sys.stdout.flush()
        except BrokenPipeError:  # the reader went away (`| head`): stop quietly
            _silence_stdout()
        return
    handle = None
    try:
        for chunk in chunks:
            if handle is None:
                handle = Path(output).open("w", encoding="utf-8")
            handle.write(chunk)
    finally:
        if handle is not None:
            handle.close()


def _silence_stdout() -> None:
    """Point standard output at /dev/null so the interpreter's last flush does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (e.g. captured by a test)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
