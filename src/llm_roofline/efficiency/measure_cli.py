"""``llm-roofline measure``: the empirical roofline of this machine as a device YAML (a face; the
work is in measure_run.py, measure_fit.py and measure_yaml.py). Needs scipy (the ``measure``
extra) for the curves; PyTorch when installed, else NumPy (cpu only)."""

from __future__ import annotations

import sys

from ..errors import RooflineError, ScenarioError


def add_parser(sub) -> None:
    p = sub.add_parser("measure", help="measure this machine's roofline (bandwidth, GEMM peaks, overheads) "
                                       "into a device YAML",
                       description="Time memory copies and triads over sizes, GEMMs over shapes in every format "
                                   "the device runs, the smallest kernel (launch / dispatch overhead) and, with "
                                   "several GPUs, all-reduce; write a device YAML with the measured peaks and "
                                   "fitted efficiency curves, for `analyze FILE --efficiency calibrated` and "
                                   "`plot roofline ... --measured FILE`.")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or mps")
    p.add_argument("--library", choices=["auto", "torch", "numpy"], default="auto",
                   help="auto (default): PyTorch when installed, else NumPy (cpu only)")
    p.add_argument("--quick", action="store_true", help="fewer, smaller points and shorter timings (about 1 s "
                                                        "on a CPU with NumPy)")
    p.add_argument("--formats", help="GEMM formats to time, comma-separated (fp32, tf32, fp16, bf16, fp8, int8; "
                                     "default: every one the device runs)")
    p.add_argument("--name", help="the device's name in the file (default: measured-<device>)")
    p.add_argument("--memory-capacity", metavar="SIZE",
                   help="memory the model may use, e.g. 64GB (default: what the system or GPU reports)")
    p.add_argument("--output", "-o", help="write the YAML to this file instead of standard output")
    p.set_defaults(run=_run)


def _say(text: str) -> None:
    print(f"measure: {text}", file=sys.stderr, flush=True)


def _run(args) -> str:
    try:
        import scipy  # noqa: F401
    except ImportError:
        raise RooflineError("measure needs scipy to fit the curves: pip install 'llm-roofline[measure]'") from None
    from ..plots.progress import ProgressBar
    from ..units import parse_quantity, si
    from .measure import Measurements, measure
    from .measure_backends import GEMM_FORMATS
    from .measure_yaml import device_yaml

    capacity = parse_quantity(args.memory_capacity, "B") if args.memory_capacity else None
    formats = None
    if args.formats:
        formats = tuple(f.strip().lower() for f in args.formats.split(",") if f.strip())
        unknown = [f for f in formats if f not in GEMM_FORMATS]
        if unknown or not formats:
            raise ScenarioError(f"--formats: unknown format {unknown[0] if unknown else args.formats!r}; "
                                f"valid: {', '.join(GEMM_FORMATS)}")
    device = measure(args.device, library=args.library, quick=args.quick, formats=formats, name=args.name,
                     memory_capacity_bytes=capacity, progress=ProgressBar("measure", delay_s=0.0))
    measurements = Measurements.from_dict(device.calibration.measurements)
    _say(f"measured with {measurements.library} on {measurements.device}{' (quick)' if args.quick else ''}")
    _say(f"memory bandwidth {si(device.memory_bandwidth_bytes_per_s, 'B/s')}, per-call overhead "
         f"{measurements.tiny_s * 1e6:.3g} us")
    for precision, peak in device.peak_flops_per_s.items():
        _say(f"peak {precision:<5} {si(peak, 'FLOP/s')}")
    for (cls, fmt), c in device.calibration.curves.items():
        _say(f"curve {cls} {fmt}: {c.rows} points, median error {100 * c.median_error:.1f} %, "
             f"p90 {100 * c.p90_error:.1f} %")
    for line in measurements.skipped:
        _say(f"skipped {line}")
    if args.output:
        _say(f"wrote {args.output}; use it with: llm-roofline analyze MODEL {args.output} --efficiency calibrated")
    return device_yaml(device)
