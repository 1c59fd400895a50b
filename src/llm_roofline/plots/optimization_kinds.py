"""``llm-roofline plot fusion`` (the paper's Fig. 15) and ``plot offload`` (Fig. 17-18): argparse only at
import time; the engine and matplotlib load when the command runs."""

from __future__ import annotations

from ..cli_optimizations import add_optimization_options
from ..cli_scenario import add_scenario_options
from .arguments import hardware_options, image_options, positional_args

ONE_VALUE = ("batch_size", "prompt_len", "w_bits", "a_bits", "kv_bits")


def add_optimization_kinds(kinds) -> None:
    """Add the ``fusion`` and ``offload`` kinds to ``plot``'s sub-commands."""
    p = kinds.add_parser("fusion", help="operator fusion on the roofline (paper Fig. 15)",
                         description="Prefill and decode operators on the roofline without fusion (hollow) and "
                                     "fused (filled), and each stage's time at every fusion level: fusing a "
                                     "memory-bound chain saves its intermediate traffic, fusing compute-bound "
                                     "matrix products saves nothing.")
    positional_args(p)
    p.add_argument("--level", choices=("elementwise", "aggressive"), default="aggressive",
                   help="the fusion level drawn on the rooflines (default aggressive)")
    add_scenario_options(p, text=ONE_VALUE, omit=("gen_len", "kv_len"), defaults={"prompt_len": 2048})
    add_optimization_options(p, omit=("fusion",))
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=run_optimization_plot)

    p = kinds.add_parser("offload", help="offloading's three rooflines and TPOT vs offloaded fraction "
                                         "(paper Fig. 17-18)",
                         description="The decode step's operators on three rooflines (device memory + device, "
                                     "host memory + device over the host link, host memory + host CPU) and the "
                                     "time per output token against the offloaded fraction of the weights and "
                                     "of the KV cache.")
    positional_args(p)
    add_scenario_options(p, text=ONE_VALUE, omit=("kv_len",), defaults={"gen_len": 64})
    add_optimization_options(p, omit=("offload_weights", "offload_kv", "offload_compute", "offload_to",
                                   "disk_bandwidth"))
    hardware_options(p)
    image_options(p)
    p.set_defaults(run=run_optimization_plot)


def run_optimization_plot(args) -> str:
    from ..cli_optimizations import optimizations_from_args
    from . import render
    from .commands import _bits, _check_folder, _grouping, _one, _size, device_of, efficiency_of, model_of
    from .data.optimizations import fusion, offload
    from .options import image_format
    from .render.optimizations import draw_fusion, draw_offload

    image_format(args.image)
    _check_folder(args.image)
    model, device = model_of(args), device_of(args)
    common = dict(batch_size=_one(args.batch_size, "--batch-size"), prompt_len=_one(args.prompt_len, "--prompt-len"),
                  efficiency=efficiency_of(args, device), flash_attention=args.flash_attention,
                  logits_all=args.logits_all, **_grouping(args), **optimizations_from_args(args),
                  **{k: _bits(getattr(args, k), "--" + k.replace("_", "-"), False) for k in ONE_VALUE[2:]})
    common = {k: v for k, v in common.items() if v is not None}
    if args.kind == "fusion":
        fig = draw_fusion(fusion(model, device, level=args.level, **common), size=_size(args.size), title=args.title)
    else:
        host = common.pop("host", "xeon-8480-plus")
        fig = draw_offload(offload(model, device, host=host, gen_len=args.gen_len, **common), size=_size(args.size),
                           title=args.title)
    render.save(fig, args.image, dpi=args.dpi)
    return ""
