"""Argument groups shared by ``llm-roofline plot`` and ``llm-roofline sweep`` (argparse only)."""

from __future__ import annotations

from .options import _LIST_HELP


def positional_args(p, devices: bool = False) -> None:
    p.add_argument("model", help="catalog id or alias (see `llm-roofline models`), or a HF config.json path")
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
    o.add_argument("--size", help="figure size in inches, WIDTHxHEIGHT (e.g. 10x4; default per kind)")
    o.add_argument("--title", help="figure title (default: model, device and scenario)")


def bits_options(p, lists: bool) -> None:
    what = "list of bit-widths (e.g. 16,8,4) or one format" if lists else "bits 1..32 or a format"
    p.add_argument("--w-bits", default="16", help=f"weights: {what} (fp16, int8, int4, nf4, fp8...; default 16)")
    p.add_argument("--a-bits", default="16", help=f"activations: {what} (default 16)")
    p.add_argument("--kv-bits", default="16", help=f"KV cache: {what} (default 16)")
    p.add_argument("--group-size", type=int, default=128,
                   help="quantization group size (one 16-bit scale per group below 16 bits; 0: none; default 128)")


def scenario_options(p, *, batch: str | None, prompt: str | None, lists: tuple[str, ...] = (), gen: bool = True,
              kv_len: bool = True, flash: bool = True, logits: bool = True, bit_lists: bool | None = None) -> None:
    s = p.add_argument_group("scenario")
    if batch is not None:
        kind = f"list ({_LIST_HELP})" if "batch" in lists else "one value"
        s.add_argument("--batch-size", "-b", default=batch, help=f"sequences per batch: {kind} (default {batch})")
    if prompt is not None:
        kind = f"list ({_LIST_HELP})" if "prompt" in lists else "one value"
        s.add_argument("--prompt-len", "-p", default=prompt, help=f"prompt tokens: {kind} (default {prompt})")
    if gen:
        s.add_argument("--gen-len", "-g", type=int, default=0,
                       help="tokens generated after the prompt; latency becomes the time per output token and "
                            "throughput the whole generation's (default 0: one decode step)")
    if kv_len:
        s.add_argument("--kv-len", type=int, default=None, help="KV length of the decode step (default: prompt)")
    bits_options(s, lists=bool(lists) if bit_lists is None else bit_lists)
    if flash:
        s.add_argument("--flash-attention", action="store_true", help="fused, causal-aware attention kernel")
    if logits:
        s.add_argument("--logits-all", action="store_true", help="prefill computes logits for every token")
