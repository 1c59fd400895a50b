"""Serving figures: the Pareto front of a deployment search, and latency / throughput against the load.

``pareto_data`` is lr.plan's result; ``load_data`` evaluates a load axis with the serving engine: request
rates with the discrete-event simulation (percentiles), or closed-loop concurrencies with the closed-form
steady state (means; the paper's serving figure, throughput and latency against the batch, with the KV
cache's limit). Drawing only formats what the engine computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.ticker import FuncFormatter

from .render.common import PALETTE, figure_legend, new_figure, time_unit


@dataclass(frozen=True)
class LoadSeries:
    """One curve: label; latencies (s) and output tokens/s per load value; kv_limit: the load beyond which the
    KV cache caps the running requests (None if it never does in the range)."""

    label: str
    ttft_s: np.ndarray
    ttft_p90_s: np.ndarray | None
    tpot_s: np.ndarray
    tpot_p90_s: np.ndarray | None
    output_tokens_per_s: np.ndarray
    kv_limit: float | None


@dataclass(frozen=True)
class LoadData:
    x: np.ndarray
    axis: str  # "rate" (requests/s, simulated) or "concurrency" (closed loop, closed form)
    series: tuple[LoadSeries, ...]
    ttft_slo_s: float | None
    tpot_slo_s: float | None
    title: str


def load_data(model, hardware, *, isl=(2048,), osl=512, rates=None, concurrency=None, requests: int = 500,
              ttft_slo_s=None, tpot_slo_s=None, progress=None, **serving) -> LoadData:
    """One curve per input length in ``isl``, over ``rates`` (Poisson, simulated) or ``concurrency`` (closed
    loop, closed form). ``serving``: scheduler, formats and efficiency keywords of lr.simulate."""
    from ..serving.api import estimate_serving, simulate

    isl = [isl] if np.ndim(isl) == 0 else list(isl)
    series = []
    if concurrency is not None:
        x = np.asarray(concurrency, dtype=np.float64)
        for i, n in enumerate(isl):
            est = estimate_serving(model, hardware, concurrency=x, isl=n, osl=osl, **serving)
            limited = [j for j, why in enumerate(est["limited_by"]) if why == "kv_cache"]
            holds = float(est["running"][limited[0]]) if limited else None  # requests the KV cache holds
            series.append(LoadSeries(f"input {n}", est["ttft_s"], None, est["tpot_s"], None,
                                     est["output_tokens_per_s"], holds))
            if progress:
                progress(i + 1, len(isl))
        axis, what = "concurrency", "closed loop, closed form"
    else:
        x = np.asarray(rates, dtype=np.float64)
        total, done = len(isl) * x.size, 0
        for n in isl:
            rows = []
            for rate in x.tolist():
                rows.append(simulate(model, hardware, rate=rate, requests=requests, isl=n, osl=osl, **serving))
                done += 1
                if progress:
                    progress(done, total)
            sims = [r.simulation for r in rows]
            waited = [i for i, s in enumerate(sims) if s.requests_waited_for_kv or s.preemptions]
            series.append(LoadSeries(
                f"input {n}", np.array([s.ttft_s.p50 for s in sims]), np.array([s.ttft_s.p90 for s in sims]),
                np.array([s.tpot_s.p50 for s in sims]), np.array([s.tpot_s.p90 for s in sims]),
                np.array([s.output_tokens_per_s for s in sims]), float(x[waited[0]]) if waited else None))
        axis, what = "rate", f"Poisson arrivals, {requests} requests simulated"
    name = getattr(model, "name", model)
    device = getattr(hardware, "name", hardware)
    return LoadData(x=x, axis=axis, series=tuple(series), ttft_slo_s=ttft_slo_s, tpot_slo_s=tpot_slo_s,
                    title=f"{name} on {device}: output {osl} tokens, {what}")


def draw_load(data: LoadData, *, size=None, title=None):
    fig = new_figure(size or (12, 4.2))
    axes = fig.subplots(1, 3)
    label = "requests/s (offered)" if data.axis == "rate" else "concurrency (requests in flight)"
    panels = (("ttft_s", "ttft_p90_s", "TTFT", data.ttft_slo_s), ("tpot_s", "tpot_p90_s", "TPOT", data.tpot_slo_s))
    handles: dict[str, object] = {}
    for ax, (mean_key, p90_key, name, slo) in zip(axes[:2], panels, strict=True):
        values = [getattr(s, mean_key) for s in data.series] + ([slo] if slo else [])
        scale, unit = time_unit(np.concatenate([np.atleast_1d(v) for v in values]))
        for color, s in zip(PALETTE, data.series, strict=False):
            (line,) = ax.plot(data.x, getattr(s, mean_key) / scale, color=color, marker="o", ms=3)
            handles.setdefault(s.label, line)
            p90 = getattr(s, p90_key)
            if p90 is not None:
                (dotted,) = ax.plot(data.x, p90 / scale, color=color, ls=":")
                handles.setdefault(s.label + " p90", dotted)
            if s.kv_limit is not None:
                ax.axvline(s.kv_limit, color=color, ls="--", lw=0.9, alpha=0.6)
        if slo:
            handles[f"{name} SLO"] = ax.axhline(slo / scale, color="black", ls="--", lw=1.0)
        what = "p50 (dotted: p90)" if data.axis == "rate" else "mean"
        ax.set(xlabel=label, ylabel=f"{name} ({unit})", title=f"{name}, {what}")
        _log_x(ax, data)
    ax = axes[2]
    for color, s in zip(PALETTE, data.series, strict=False):
        ax.plot(data.x, s.output_tokens_per_s, color=color, marker="o", ms=3)
        if s.kv_limit is not None:
            handles.setdefault("KV cache full beyond", ax.axvline(s.kv_limit, color=color, ls="--", lw=0.9,
                                                                  alpha=0.6))
    ax.set(xlabel=label, ylabel="output tokens/s", title="throughput")
    _log_x(ax, data)
    figure_legend(fig, list(handles.values()), list(handles))
    fig.suptitle(title or data.title)
    return fig


def _log_x(ax, data: LoadData) -> None:
    if data.x.size > 2 and data.x.min() > 0 and data.x.max() / data.x.min() >= 16:
        ax.set_xscale("log", base=2)


MODE_COLORS = {"agg": PALETTE[0], "disagg": PALETTE[1]}


def draw_pareto(result, *, size=None, title=None):
    """Every point of a plan (tokens/s per user across, tokens/s per GPU up): aggregated and disaggregated
    in two colours, hollow where the SLOs are missed; the front as a line, the best under the SLOs starred."""
    fig = new_figure(size or (7.5, 5.0))
    ax = fig.subplots()
    cols = result.columns
    user, gpu = cols["tokens_per_s_per_user"], cols["tokens_per_s_per_gpu"]
    ok = result.slo.met(cols["ttft_s"], cols["tpot_s"])
    modes = np.array([c["mode"] for c in result.configs])
    handles: dict[str, object] = {}
    for mode, color in MODE_COLORS.items():
        for meets in (True, False):
            pick = (modes == mode) & (ok == meets)
            if pick.any():
                handles[mode + ("" if meets else " (misses the SLOs)")] = ax.scatter(
                    user[pick], gpu[pick], s=14, color=color if meets else "none", edgecolors=color,
                    linewidths=0.8, alpha=0.8)
    front = result.pareto[::-1]  # by tokens/s per user, ascending: the attainable region's staircase
    if front.size:
        (handles["Pareto front"],) = ax.plot(user[front], gpu[front], color="black", lw=1.2, drawstyle="steps-pre")
    if result.best is not None:
        b = result.best
        handles["best under the SLOs"] = ax.scatter([user[b]], [gpu[b]], marker="*", s=180, color=PALETTE[4],
                                                    edgecolors="black", zorder=5)
    if result.slo.tpot_s:
        handles["TPOT SLO"] = ax.axvline(1.0 / result.slo.tpot_s, color="black", ls="--", lw=0.9)
    ax.set(xlabel="output tokens/s per user (1 / TPOT)", ylabel="output tokens/s per GPU")
    ax.set_xscale("log")
    finite = user[np.isfinite(user) & (user > 0)]
    if finite.size:
        decades = 10.0 ** np.arange(np.floor(np.log10(finite.min())), np.ceil(np.log10(finite.max())) + 1)
        ticks = np.array([d * m for d in decades for m in (1, 2, 5)])
        ax.set_xticks(ticks[(ticks >= finite.min() / 1.5) & (ticks <= finite.max() * 1.5)])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _pos: ""))
    figure_legend(fig, list(handles.values()), list(handles), where="right")
    default = f"{result.gpus} GPUs, {result.isl:,.0f} -> {result.osl:,.0f} tokens: {len(result.configs)} points"
    ax.set_title(title or default)
    return fig
