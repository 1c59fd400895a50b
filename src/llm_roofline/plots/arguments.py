"""Argument groups shared by ``llm-roofline plot`` and ``llm-roofline sweep`` (argparse only). The
scenario options themselves are ``llm_roofline.cli_scenario``'s, shared with ``analyze``."""

from __future__ import annotations


def positional_args(p, devices: bool = False) -> None:
    from ..cli import add_model_options

    p.add_argument("model", help="catalog id or alias (see `llm-roofline models`), or a HF config.json path")
    add_model_options(p)
    if devices:
        p.add_argument("hardware", help="comma-separated devices (see `llm-roofline hardware`), e.g. "
                                        "a100-80g,h100-sxm,rtx-a6000")
    else:
        p.add_argument("hardware", help="catalog name or alias (see `llm-roofline hardware`), or a device YAML")


def hardware_options(p) -> None:
    from ..cli import add_device_options

    add_device_options(p)


def image_options(p) -> None:
    o = p.add_argument_group("output")
    o.add_argument("-o", "--output", dest="image", required=True, metavar="FILE",
                   help="image file; the extension picks the format: .png, .svg or .pdf")
    o.add_argument("--dpi", type=float, default=150, help="resolution of PNG output (default 150)")
    o.add_argument("--size", help="figure size in inches, WIDTHxHEIGHT (e.g. 10x4; default per kind; a figure "
                                  "with a long legend grows to hold it)")
    o.add_argument("--title", help="figure title (default: model, device and scenario)")
