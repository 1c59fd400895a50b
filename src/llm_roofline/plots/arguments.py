"""Argument groups shared by ``llm-roofline plot`` and ``llm-roofline sweep`` (argparse only). The
scenario options themselves are ``llm_roofline.cli_scenario``'s, shared with ``analyze``."""

from __future__ import annotations

DPI_RANGE = (10, 1200)
POINTS_RANGE = (1, 1_000)  # bandwidths of a bandwidth figure (one engine call each)
TOP_RANGE = (1, 1_000)  # groups of a breakdown figure


def int_flag(field):
    """An integer option checked where argparse parses it (llm_roofline.flags)."""
    from ..flags import int_flag as checked

    return checked(field)


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
    from ..flags import output_file, real_flag

    o = p.add_argument_group("output")
    o.add_argument("-o", "--output", dest="image", required=True, metavar="FILE", type=output_file,
                   help="image file; the extension picks the format: .png, .svg or .pdf")
    o.add_argument("--dpi", type=real_flag(*DPI_RANGE), default=150,
                   help=f"resolution of PNG output, {DPI_RANGE[0]}..{DPI_RANGE[1]} (default 150)")
    o.add_argument("--size", help="figure size in inches, WIDTHxHEIGHT (e.g. 10x4; default per kind; a figure "
                                  "with a long legend grows to hold it)")
    o.add_argument("--title", help="figure title (default: model, device and scenario)")
