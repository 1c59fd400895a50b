"""Command-line options for several devices, shared by `analyze`, `sweep` and `plot scaling`: the degrees
of parallelism, the deployment options and the system the devices belong to. A face: parsing only."""

from __future__ import annotations

import argparse


def _degree(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def add_parallel_options(p, degree_type=_degree) -> None:
    """Degrees of parallelism and the multi-device options (docs/parallelism.md)."""
    from .parallel.choices import ALGORITHMS, EP_COMM, LIBRARIES, MODES, OPTION_DEFAULTS

    g = p.add_argument_group("several devices", "HARDWARE is then a system (llm-roofline hardware) or a device")
    g.add_argument("--tp", type=degree_type, default=1, help="tensor parallelism of attention and dense layers")
    g.add_argument("--pp", type=degree_type, default=1, help="pipeline stages")
    g.add_argument("--ep", type=degree_type, default=1, help="expert parallelism over tp x attention-dp devices")
    g.add_argument("--dp", type=degree_type, default=1, help="independent replicas (batch size is per replica)")
    g.add_argument("--attention-dp", type=degree_type, default=1,
                   help="attention data-parallel groups of tp devices inside a replica")
    g.add_argument("--nodes", type=_degree, help="nodes the devices span (default: as few as hold them)")
    g.add_argument("--micro-batches", type=_degree, help="pipeline micro-batches (default: pp)")
    g.add_argument("--overlap", action="store_true",
                   help="communication overlaps computation (optimistic; default: serial, as engines decode)")
    g.add_argument("--ep-imbalance", type=float, default=1.0,
                   help="tokens of the most loaded expert-parallel rank / the mean (default 1: uniform)")
    g.add_argument("--ep-comm", choices=EP_COMM, default=OPTION_DEFAULTS["ep_comm"],
                   help="how tokens reach the experts under attention DP (default all_to_all)")
    g.add_argument("--comm", choices=MODES,
                   help="collectives: ideal alpha-beta, or curves fitted on measured NCCL / engine tables "
                        "(default: fitted with --efficiency hardware, else ideal)")
    g.add_argument("--comm-library", choices=LIBRARIES, default=OPTION_DEFAULTS["comm_library"],
                   metavar="LIBRARY", help="whose measured all-reduce the fitted collectives use: nccl "
                                           "(default), trtllm, vllm or sglang")
    g.add_argument("--allreduce-algorithm", choices=ALGORITHMS, default=OPTION_DEFAULTS["allreduce_algorithm"],
                   metavar="ALGORITHM", help="all-reduce of the ideal model: ring (default), tree, two_shot, "
                                             "one_shot or nvls")


def parallel_from_args(args) -> dict:
    """The parallel keywords of lr.analyze / lr.sweep from parsed arguments."""
    return {"tp": args.tp, "pp": args.pp, "ep": args.ep, "dp": args.dp, "attention_dp": args.attention_dp,
            "nodes": args.nodes, "micro_batches": args.micro_batches, "overlap": args.overlap,
            "ep_imbalance": args.ep_imbalance, "ep_comm": args.ep_comm, "comm": args.comm,
            "comm_library": args.comm_library, "allreduce_algorithm": args.allreduce_algorithm}


def target_from_args(args, multi_device: bool):
    """The system (several devices) or device named on the command line, with the user's overrides
    (applied to the system's device as ``device_from_args`` applies them to a device)."""
    from .cli import device_from_args
    from .hardware.systems import resolve_system
    from .parallel.options import with_device

    system = resolve_system(args.hardware, multi_device=multi_device)
    return with_device(system, device_from_args(args, system.device))
