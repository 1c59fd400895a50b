"""``plot scaling``: TPOT, TTFT, tokens/s per device and memory per device against the number of
devices, one curve per way of spreading the model (TP, PP, TP inside a node x PP across, EP).

Data: one engine call per (strategy, device count); a combination the model or the system does not
allow is left out and its reason kept (``skipped``). Drawing: formatting only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import api
from ..defaults import DEFAULT_BATCH_SIZE, DEFAULT_BITS, DEFAULT_GEN_LEN, DEFAULT_PROMPT_LEN
from ..errors import DeploymentError, ScenarioError
from ..models.spec import routed_experts

STRATEGIES = {
    "tp": ("TP", lambda n, node: dict(tp=n)),
    "pp": ("PP", lambda n, node: dict(pp=n)),
    "tp_pp": ("TP in a node x PP", lambda n, node: dict(tp=min(n, node), pp=max(n // node, 1))),
    "ep": ("attention DP + EP", lambda n, node: dict(attention_dp=n, ep=n)),
    "tp_ep": ("TP + EP", lambda n, node: dict(tp=n, ep=n)),
}
MOE_ONLY = ("ep", "tp_ep")


@dataclass(frozen=True)
class ScalingCurve:
    """One strategy: the device counts it could run and, per count, the deployment's numbers
    (s, tokens/s, bytes) and whether one device's memory holds it."""

    strategy: str
    label: str
    devices: np.ndarray
    tpot_s: np.ndarray
    ttft_s: np.ndarray
    tokens_per_s_per_device: np.ndarray
    memory_bytes: np.ndarray
    fits: np.ndarray


@dataclass(frozen=True)
class ScalingData:
    model: str
    system: str
    capacity_bytes: float
    scenario: dict
    curves: tuple[ScalingCurve, ...]
    skipped: tuple[str, ...] = field(default_factory=tuple)  # "<strategy> on <n> devices: <reason>"
    left_out: tuple[tuple[str, int], ...] = field(default_factory=tuple)  # (strategy label, devices)


def scaling(model, system, *, devices: Sequence[int] | None = None, strategies: Sequence[str] | None = None,
            batch_size: int = DEFAULT_BATCH_SIZE, prompt_len: int = DEFAULT_PROMPT_LEN, gen_len: int = DEFAULT_GEN_LEN,
            w_bits=DEFAULT_BITS, a_bits=DEFAULT_BITS, kv_bits=DEFAULT_BITS, efficiency="ideal",
            **options) -> ScalingData:
    """The deployment metrics of each strategy at each device count (default: powers of two up to 64 or
    the system's size). ``options``: the other parallel options (overlap, comm, ...) and scenario options
    (state_bits, group_size, scale_bits)."""
    spec = api.load_model(model)
    sys_ = api.load_system(system)
    is_moe = any(routed_experts(g.layer.ffn) is not None for g in spec.layer_groups)
    if strategies is None:
        strategies = [s for s in STRATEGIES if is_moe or s not in MOE_ONLY]
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ScenarioError(f"unknown strategy {unknown[0]!r}; valid: {', '.join(STRATEGIES)}")
    if devices is None:
        devices = [2**i for i in range(7) if 2**i <= sys_.max_devices]
    scenario = dict(batch_size=batch_size, prompt_len=prompt_len, gen_len=max(gen_len, 1), w_bits=w_bits,
                    a_bits=a_bits, kv_bits=kv_bits)
    curves, skipped, left_out = [], [], []
    for name in strategies:
        label, degrees = STRATEGIES[name]
        rows = []
        for n in devices:
            try:
                a = api.analyze_many(spec, sys_ if n > 1 else sys_.device, efficiency=efficiency,
                                     **degrees(n, sys_.devices_per_node), **scenario, **options)
            except DeploymentError as exc:
                skipped.append(f"{label} on {n} devices: {exc}")
                left_out.append((label, n))
                continue
            p = a.parallel
            rows.append((n, p.tpot_s[0], p.ttft_s[0], p.throughput_tokens_per_s_per_device[0], p.total_bytes[0],
                         p.fits[0]))
        if rows:
            cols = [np.array(c) for c in zip(*rows, strict=True)]
            curves.append(ScalingCurve(name, label, cols[0].astype(int), *cols[1:5], cols[5].astype(bool)))
    return ScalingData(model=spec.name, system=sys_.name, capacity_bytes=sys_.device.memory_capacity_bytes,
                       scenario=scenario, curves=tuple(curves), skipped=tuple(skipped), left_out=tuple(left_out))


def draw_scaling(data: ScalingData, *, size=None, title=None):
    """Four panels against devices (log2 axis): TPOT, TTFT, tokens/s per device, memory per device with
    one device's capacity as a line; deployments that do not fit are hollow markers. One legend below."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, FuncFormatter

    from .render.common import PALETTE, figure_legend, log_y, new_figure, set_title

    fig = new_figure(size or (10.5, 7.0))
    axes = fig.subplots(2, 2).ravel()
    panels = (("TPOT (ms)", "tpot_s", 1e3), ("TTFT (ms)", "ttft_s", 1e3),
              ("tokens/s per device", "tokens_per_s_per_device", 1.0), ("memory per device (GB)", "memory_bytes", 1e-9))
    ticks = sorted({int(n) for c in data.curves for n in c.devices})
    for ax, (ylabel, attr, scale) in zip(axes, panels, strict=True):
        for i, c in enumerate(data.curves):
            color = PALETTE[i % len(PALETTE)]
            y = getattr(c, attr) * scale
            ax.plot(c.devices, y, color=color)
            ax.scatter(c.devices[c.fits], y[c.fits], color=color, s=22, zorder=3)
            ax.scatter(c.devices[~c.fits], y[~c.fits], facecolors="white", edgecolors=color, s=22, zorder=3)
        if attr == "memory_bytes":
            ax.axhline(data.capacity_bytes * scale, color="black", linestyle="--", linewidth=1.0)
        ax.set_xscale("log", base=2)
        if ticks:
            ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: ""))
        ax.set_xlabel("devices")
        ax.set_ylabel(ylabel)
        if attr != "tokens_per_s_per_device":
            log_y(ax)
    handles = [Line2D([], [], color=PALETTE[i % len(PALETTE)], marker="o", markersize=4)
               for i in range(len(data.curves))]
    labels = [c.label for c in data.curves]
    handles += [Line2D([], [], color="black", linestyle="--", linewidth=1.0),
                Line2D([], [], color="grey", marker="o", markerfacecolor="white", linestyle="none")]
    labels += ["one device's memory", "does not fit one device's memory"]
    figure_legend(fig, handles, labels)
    s = data.scenario
    default = (f"{data.model} on {data.system}: batch {s['batch_size']} per replica, prompt {s['prompt_len']}, "
               f"{s['gen_len']} generated, W{s['w_bits']} A{s['a_bits']} KV{s['kv_bits']}")
    if data.left_out:
        by_label: dict[str, list[int]] = {}
        for label, n in data.left_out:
            by_label.setdefault(label, []).append(n)
        default += "\nnot allowed by the model or the system: " + "; ".join(
            f"{label} on {', '.join(map(str, ns))}" for label, ns in by_label.items())
    set_title(fig, title, default)
    return fig


def run_scaling(args) -> str:
    """``llm-roofline plot scaling``: the parsed options -> the figure, saved."""
    from ..cli_parallel import target_from_args
    from ..parallel.choices import default_comm
    from .commands import _bits, _check_folder, _grouping, _one, _size, efficiency_of, model_of
    from .options import image_format, parse_int_list, parse_names
    from .render.common import save

    image_format(args.image)  # the dpi is checked where parsed
    _check_folder(args.image)
    system = target_from_args(args, True)
    comm = args.comm or default_comm(args.efficiency)
    data = scaling(model_of(args), system,
                   devices=parse_int_list(args.devices, "--devices") if args.devices else None,
                   strategies=parse_names(args.strategies, "--strategies") if args.strategies else None,
                   batch_size=_one(args.batch_size, "--batch-size"), prompt_len=_one(args.prompt_len, "--prompt-len"),
                   gen_len=args.gen_len, w_bits=_bits(args.w_bits, "--w-bits", False),
                   a_bits=_bits(args.a_bits, "--a-bits", False), kv_bits=_bits(args.kv_bits, "--kv-bits", False),
                   **_grouping(args), efficiency=efficiency_of(args, system.device), overlap=args.overlap, comm=comm)
    save(draw_scaling(data, size=_size(args.size), title=args.title), args.image, dpi=args.dpi)
    return ""
