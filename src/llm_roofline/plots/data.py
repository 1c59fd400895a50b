"""The data behind every figure, computed by the engine: one function and one frozen dataclass per kind.

Each function takes a model and a device (catalog names, or a ModelSpec / Hardware, e.g. one made by
``llm_roofline.load_hardware(name, memory_bandwidth_bytes_per_s=...)``) and returns arrays read from
the engine's results; the renderers in ``render.py`` only draw them. Times are seconds, sizes bytes,
rates FLOP/s, bytes/s and tokens/s. Two derived quantities are defined here, once:

- decode throughput at one decode step (no ``gen_len``): the engine's ``decode_tokens_per_s``
  (batch size / decode step time);
  with ``gen_len > 0`` the engine's whole-generation throughput (prefill included) is used instead;
- a stage's overall roofline point: the engine's stage ``arithmetic_intensity`` and
  ``performance_flops_per_s`` (total FLOPs / total bytes, total FLOPs / total time).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import api
from ..errors import ScenarioError
from ..hardware.spec import PRECISIONS, Hardware
from ..result import report_at
from ..roofline import device_peaks

Progress = Callable[[int, int], None] | None
AXIS_LABELS = {"batch_size": "batch {}", "prompt_len": "prompt {}", "gen_len": "gen {}", "kv_len": "KV length {}",
               "w_bits": "W{}", "a_bits": "A{}", "kv_bits": "KV{}"}
# Preferred name of a ceiling when several precisions share a peak (fp16 before bf16, int8 before fp8...).
_CEILING_NAMES = ("fp16", "bf16", "int8", "fp8", "int4", "fp4", "fp32", "tf32")


def _load(model, hardware) -> tuple:
    spec, device = api.load_model(model), api.load_hardware(hardware)
    return spec, device


def _listed(value) -> list:
    if value is None:
        return []
    if isinstance(value, str) or np.ndim(value) == 0:
        return [value]
    return list(value)


def _axis(values: list):
    """A one-value list of a named format goes to ``api.sweep`` as that value (a fixed axis)."""
    return values[0] if len(values) == 1 and isinstance(values[0], str) else values


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float | np.floating) else str(value)


def scenario_label(settings: dict) -> str:
    """``{'w_bits': 8, 'prompt_len': 512}`` -> ``'W8, prompt 512'`` (bit-widths written together)."""
    bits = "".join(AXIS_LABELS[k].format(_fmt(settings[k])) for k in ("w_bits", "a_bits", "kv_bits") if k in settings)
    rest = [AXIS_LABELS[k].format(_fmt(v)) for k, v in settings.items() if k not in ("w_bits", "a_bits", "kv_bits")]
    return ", ".join(([bits] if bits else []) + rest)


# ------------------------------------------------------------------------------------------------
# roofline
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StageRoofline:
    """Every operator of one stage as a roofline point (arrays over operators, per occurrence)."""

    stage: str
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    counts: np.ndarray
    flops: np.ndarray
    bytes: np.ndarray
    arithmetic_intensity: np.ndarray      # FLOP/byte
    performance_flops_per_s: np.ndarray   # attained
    peak_flops_per_s: np.ndarray          # the ceiling that applies to the operator
    time_s: np.ndarray
    time_share: np.ndarray                # of the stage's total time (count included)
    compute_bound: np.ndarray
    total_time_s: float
    total_intensity: float                # the whole stage as one point
    total_performance_flops_per_s: float


@dataclass(frozen=True)
class RooflineData:
    model: str
    hardware: str
    scenario: dict
    bandwidth_bytes_per_s: float           # after the efficiency setting
    ceilings: dict[str, float]             # label -> FLOP/s (after the efficiency setting)
    ridge_points: dict[str, float]         # label -> FLOP/byte
    stages: tuple[StageRoofline, ...]
    measured: object = None                # efficiency.measure_points.MeasuredRoofline (--measured FILE)

    def roof(self, label: str, intensity: np.ndarray) -> np.ndarray:
        """Attainable FLOP/s under ceiling ``label`` at each arithmetic intensity (FLOP/byte)."""
        return np.minimum(self.ceilings[label], self.bandwidth_bytes_per_s * np.asarray(intensity, dtype=float))


def ceiling_label(device: Hardware, precision: str) -> str:
    resolved = device.resolve_precision(precision)
    return precision if resolved == precision else f"{precision} (runs as {resolved})"


def roofline(model, hardware, *, stages: Sequence[str] = ("prefill", "decode"), precisions: Sequence[str] = (),
             batch_size: int = 1, prompt_len: int = 1024, kv_len: int | None = None, w_bits=16, a_bits=16,
             kv_bits=16, flash_attention: bool = False, logits_all: bool = False, group_size: int = 128,
             efficiency="ideal", measured=None) -> RooflineData:
    """Operators of ``stages`` on the device's roofline. ``precisions``: ceilings to draw (default: those
    the operators use). Ceilings are the device's peaks and bandwidth times the efficiency fractions.
    ``measured``: a device file (or Hardware) written by ``llm-roofline measure``, whose measured roof
    and points are drawn over the datasheet roofline."""
    spec, device = _load(model, hardware)
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown:
        raise ScenarioError(f"unknown precision {unknown[0]!r}; valid: {', '.join(PRECISIONS)}")
    bad = [s for s in stages if s not in ("prefill", "decode")]
    if bad or not stages:
        raise ScenarioError(f"stage must be prefill, decode or both, got {bad[0] if bad else 'nothing'!r}")
    a = api.analyze_many(spec, device, batch_size=batch_size, prompt_len=prompt_len, kv_len=kv_len, w_bits=w_bits,
                         a_bits=a_bits, kv_bits=kv_bits, flash_attention=flash_attention, logits_all=logits_all,
                         group_size=group_size, efficiency=efficiency)
    report = report_at(a, 0)
    cf = a.efficiency.compute_fraction
    peaks = {p: v * cf for p, v in device_peaks(device).items()}  # per requested precision, fallbacks applied
    out = []
    for stage in stages:
        result = getattr(report, stage)
        ops = result.ops
        arr = {k: np.array([getattr(o, k) for o in ops], dtype=float)
               for k in ("count", "flops", "bytes", "arithmetic_intensity", "performance_flops_per_s",
                         "peak_flops_per_s", "time_s", "time_share")}
        t = result.total
        out.append(StageRoofline(
            stage=stage, names=tuple(o.name for o in ops), kinds=tuple(o.kind for o in ops), counts=arr["count"],
            flops=arr["flops"], bytes=arr["bytes"], arithmetic_intensity=arr["arithmetic_intensity"],
            performance_flops_per_s=arr["performance_flops_per_s"], peak_flops_per_s=arr["peak_flops_per_s"],
            time_s=arr["time_s"], time_share=arr["time_share"],
            compute_bound=np.array([o.bound == "compute" for o in ops]), total_time_s=t.time_s,
            total_intensity=t.arithmetic_intensity, total_performance_flops_per_s=t.performance_flops_per_s))
    if precisions:
        ceilings = {ceiling_label(device, p): peaks[p] for p in precisions}
    else:
        used = sorted({float(v) for s in out for v, f in zip(s.peak_flops_per_s, s.flops, strict=True) if f > 0})
        ceilings = {next(p for p in _CEILING_NAMES if peaks[p] == v): v for v in used}
    bandwidth = float(a.prefill.bandwidth_bytes_per_s)
    if measured is not None:
        from ..efficiency.measure_points import measured_roofline

        measured = measured_roofline(api.load_hardware(measured))
    return RooflineData(model=spec.name, hardware=device.name, scenario=report.scenario,
                        bandwidth_bytes_per_s=bandwidth, ceilings=ceilings,
                        ridge_points={k: v / bandwidth for k, v in ceilings.items()}, stages=tuple(out),
                        measured=measured)


# ------------------------------------------------------------------------------------------------
# batch and sequence-length sweeps
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Series:
    """One curve: a setting (the values that vary between curves) over the x axis."""

    label: str
    settings: dict
    x: np.ndarray
    latency_s: np.ndarray              # decode step time (gen_len 0) or TPOT (gen_len > 0)
    ttft_s: np.ndarray                 # prefill time
    throughput_tokens_per_s: np.ndarray
    total_bytes: np.ndarray
    weights_bytes: np.ndarray
    kv_cache_bytes: np.ndarray
    activations_bytes: np.ndarray
    fits: np.ndarray
    max_batch_size: np.ndarray


@dataclass(frozen=True)
class SweepData:
    model: str
    hardware: str
    x_name: str                        # "batch_size" or "prompt_len"
    fixed: dict                        # settings shared by every curve
    gen_len: int
    capacity_bytes: float
    series: tuple[Series, ...]


def _grid(spec, device, x_name, xs, axes: dict, *, flash_attention, logits_all, group_size, efficiency):
    """api.sweep over ``axes`` (lists) and the x axis last; returns columns shaped [*series, x]."""
    ordered = {k: _listed(v) for k, v in axes.items() if k != x_name and _listed(v)}
    ordered[x_name] = list(xs)
    result = api.sweep(spec, device, flash_attention=flash_attention, logits_all=logits_all,
                       group_size=group_size, efficiency=efficiency, **{k: _axis(v) for k, v in ordered.items()})
    shape = [len(v) if not any(isinstance(i, str) for i in v) else 1 for v in ordered.values()]
    cols = {k: np.asarray(v).reshape(shape) for k, v in result.columns.items()}
    return ordered, cols, result


def _sweep(model, hardware, x_name, xs, *, batch_size, prompt_len, gen_len, kv_len, w_bits, a_bits, kv_bits,
           flash_attention, logits_all, group_size, efficiency) -> SweepData:
    spec, device = _load(model, hardware)
    axes = {"batch_size": batch_size, "prompt_len": prompt_len, "gen_len": gen_len, "kv_len": kv_len,
            "w_bits": w_bits, "a_bits": a_bits, "kv_bits": kv_bits}
    if len(_listed(gen_len)) > 1:
        raise ScenarioError("gen_len: one value per figure (it changes what latency means)")
    ordered, cols, result = _grid(spec, device, x_name, xs, axes, flash_attention=flash_attention,
                                  logits_all=logits_all, group_size=group_size, efficiency=efficiency)
    a = result.analysis
    varying = [k for k in ordered if k != x_name and len(ordered[k]) > 1]
    fixed = {k: v[0] for k, v in ordered.items() if k != x_name and len(v) == 1}
    g = int(_listed(gen_len)[0]) if _listed(gen_len) else 0
    shape = cols["batch_size"].shape
    decode_time = a.decode_total.time_s.reshape(shape)
    series = []
    for index in itertools.product(*(range(n) for n in shape[:-1])):
        settings = {k: ordered[k][i] for k, i in zip(list(ordered)[:-1], index, strict=True) if k in varying}
        c = {k: v[index] for k, v in cols.items()}
        latency = c["tpot_s"] if g > 0 else decode_time[index]
        throughput = c["throughput_tokens_per_s"] if g > 0 else c["decode_tokens_per_s"]
        series.append(Series(label=scenario_label(settings) or scenario_label(fixed), settings=settings,
                             x=c[x_name].astype(float), latency_s=latency, ttft_s=c["ttft_s"],
                             throughput_tokens_per_s=throughput, total_bytes=c["total_bytes"],
                             weights_bytes=c["weights_bytes"], kv_cache_bytes=c["kv_cache_bytes"],
                             activations_bytes=c["activations_bytes"], fits=c["fits"].astype(bool),
                             max_batch_size=c["max_batch_size"]))
    return SweepData(model=spec.name, hardware=device.name, x_name=x_name, fixed=fixed, gen_len=g,
                     capacity_bytes=float(a.memory.capacity_bytes), series=tuple(series))


def batch_sweep(model, hardware, *, batch_size: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128, 256),
                prompt_len=1024, gen_len=0, kv_len=None, w_bits=16, a_bits=16, kv_bits=16,
                flash_attention=False, logits_all=False, group_size=128, efficiency="ideal") -> SweepData:
    """Latency, throughput and memory against the batch size; a curve for each combination of the other
    listed settings (e.g. ``prompt_len=[256, 512, 1024, 2048]``). Latency: the decode step at KV length
    ``kv_len`` (default: the prompt length) or, with ``gen_len > 0``, the mean time per output token."""
    return _sweep(model, hardware, "batch_size", _listed(batch_size), batch_size=None, prompt_len=prompt_len,
                  gen_len=gen_len, kv_len=kv_len, w_bits=w_bits, a_bits=a_bits, kv_bits=kv_bits,
                  flash_attention=flash_attention, logits_all=logits_all, group_size=group_size,
                  efficiency=efficiency)


def seq_sweep(model, hardware, *, prompt_len: Sequence[int] = (128, 256, 512, 1024, 2048, 4096, 8192, 16384),
              batch_size=1, gen_len=0, w_bits=16, a_bits=16, kv_bits=16, flash_attention=False, logits_all=False,
              group_size=128, efficiency="ideal") -> SweepData:
    """As :func:`batch_sweep` against the sequence (prompt) length; the decode step reads a KV cache
    of the prompt's length."""
    return _sweep(model, hardware, "prompt_len", _listed(prompt_len), batch_size=batch_size, prompt_len=None,
                  gen_len=gen_len, kv_len=None, w_bits=w_bits, a_bits=a_bits, kv_bits=kv_bits,
                  flash_attention=flash_attention, logits_all=logits_all, group_size=group_size,
                  efficiency=efficiency)


# ------------------------------------------------------------------------------------------------
# quantization
# ------------------------------------------------------------------------------------------------

DEFAULT_MEMORY_CONFIGS = (("FP16", 16, 16, 16), ("W4", 4, 16, 16), ("W4KV4", 4, 16, 4), ("W4A4", 4, 4, 4))


@dataclass(frozen=True)
class MemoryBreakdown:
    """Footprint of each format (columns) in each scenario (rows): weights, KV cache, activations."""

    configs: tuple[str, ...]
    scenarios: tuple[tuple[int, int], ...]    # (batch size, prompt length)
    weights_bytes: np.ndarray                 # [n_scenarios, n_configs]
    kv_cache_bytes: np.ndarray
    activations_bytes: np.ndarray
    total_bytes: np.ndarray
    fractions: np.ndarray                     # [n_scenarios, n_configs, 3]: each config's own shares, sum 1
    relative: np.ndarray                      # [n_scenarios, n_configs, 3]: shares of the first config's total


@dataclass(frozen=True)
class QuantizationData:
    model: str
    hardware: str
    w_bits: tuple
    a_bits: int | str
    kv_bits: int | str
    batch_sizes: np.ndarray
    decode_prompt_len: int
    decode_time_s: np.ndarray                 # [n_w_bits, n_batch]
    prompt_lens: np.ndarray
    prefill_batch_size: int
    prefill_time_s: np.ndarray                # [n_w_bits, n_prompt]
    memory: MemoryBreakdown


def memory_breakdown(model, hardware, *, configs=DEFAULT_MEMORY_CONFIGS,
                     scenarios: Sequence[tuple[int, int]] = ((1, 1024), (1, 4096), (16, 1024)), gen_len=0,
                     group_size=128) -> MemoryBreakdown:
    """The engine's memory footprint (weights, KV cache of prompt + generated tokens, peak activations)
    for each format ``(label, w_bits, a_bits, kv_bits)`` and each ``(batch size, prompt length)``."""
    spec, device = _load(model, hardware)
    configs = tuple(configs)
    n_s, n_c = len(scenarios), len(configs)
    b = [s[0] for s in scenarios for _ in configs]
    p = [s[1] for s in scenarios for _ in configs]
    w, ab, kv = ([c[i] for _ in scenarios for c in configs] for i in (1, 2, 3))
    a = api.analyze_many(spec, device, batch_size=b, prompt_len=p, gen_len=gen_len, w_bits=w, a_bits=ab,
                         kv_bits=kv, group_size=group_size)
    m = a.memory
    parts = np.stack([m.weights_bytes, m.kv_cache_bytes, m.activations_bytes], -1).reshape(n_s, n_c, 3)
    total = m.total_bytes.reshape(n_s, n_c)
    return MemoryBreakdown(configs=tuple(c[0] for c in configs), scenarios=tuple(tuple(s) for s in scenarios),
                           weights_bytes=parts[..., 0], kv_cache_bytes=parts[..., 1],
                           activations_bytes=parts[..., 2], total_bytes=total,
                           fractions=parts / total[..., None], relative=parts / total[:, :1, None])


def quantization(model, hardware, *, w_bits: Sequence[int] = (16, 8, 4), a_bits=16, kv_bits=16,
                 batch_size: Sequence[int] = tuple(range(1, 65)), decode_prompt_len: int = 1024,
                 prompt_len: Sequence[int] = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
                 prefill_batch_size: int = 1, memory_configs=DEFAULT_MEMORY_CONFIGS,
                 memory_scenarios=((1, 1024), (1, 4096), (16, 1024)), group_size=128,
                 efficiency="ideal") -> QuantizationData:
    """Decode step time against the batch size (KV length ``decode_prompt_len``) and prefill time against
    the prompt length (batch ``prefill_batch_size``) for each weight bit-width, and the memory breakdown
    of ``memory_configs`` (paper Fig. 7-9)."""
    spec, device = _load(model, hardware)
    w_bits = tuple(_listed(w_bits))
    if any(isinstance(v, str) for v in w_bits) and len(w_bits) > 1:
        raise ScenarioError("w_bits: a list of bit-widths takes numbers")
    common = dict(flash_attention=False, logits_all=False, group_size=group_size, efficiency=efficiency)
    axes = {"w_bits": w_bits, "a_bits": a_bits, "kv_bits": kv_bits}
    _, dec, dec_r = _grid(spec, device, "batch_size", _listed(batch_size),
                          {**axes, "prompt_len": decode_prompt_len}, **common)
    _, pre, pre_r = _grid(spec, device, "prompt_len", _listed(prompt_len),
                          {**axes, "batch_size": prefill_batch_size}, **common)
    n_w = len(w_bits)
    return QuantizationData(
        model=spec.name, hardware=device.name, w_bits=w_bits, a_bits=a_bits, kv_bits=kv_bits,
        batch_sizes=np.asarray(_listed(batch_size), dtype=float), decode_prompt_len=int(decode_prompt_len),
        decode_time_s=dec_r.analysis.decode_total.time_s.reshape(n_w, -1),
        prompt_lens=np.asarray(_listed(prompt_len), dtype=float), prefill_batch_size=int(prefill_batch_size),
        prefill_time_s=pre_r.analysis.prefill_total.time_s.reshape(n_w, -1),
        memory=memory_breakdown(spec, device, configs=memory_configs, scenarios=memory_scenarios,
                                group_size=group_size))


# ------------------------------------------------------------------------------------------------
# FlashAttention
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FlashAttentionData:
    """Arrays [2, n_batch, n_prompt]: index 0 without FlashAttention, 1 with it."""

    model: str
    hardware: str
    batch_sizes: np.ndarray
    prompt_lens: np.ndarray
    prefill_bytes: np.ndarray
    prefill_time_s: np.ndarray
    decode_bytes: np.ndarray
    decode_time_s: np.ndarray
    settings: dict = field(default_factory=dict)


def flash_attention(model, hardware, *, batch_size: Sequence[int] = (1, 16),
                    prompt_len: Sequence[int] = (512, 1024, 2048, 4096, 8192, 16384), w_bits=16, a_bits=16,
                    kv_bits=16, group_size=128, efficiency="ideal") -> FlashAttentionData:
    """Memory traffic and time of prefill and of one decode step (KV length = prompt length), without
    and with the fused FlashAttention kernel (paper Fig. 16)."""
    spec, device = _load(model, hardware)
    out = {k: [] for k in ("prefill_bytes", "prefill_time_s", "decode_bytes", "decode_time_s")}
    bs, ps = _listed(batch_size), _listed(prompt_len)
    for fa in (False, True):
        r = api.sweep(spec, device, batch_size=bs, prompt_len=ps, w_bits=w_bits, a_bits=a_bits, kv_bits=kv_bits,
                      flash_attention=fa, group_size=group_size, efficiency=efficiency)
        a, shape = r.analysis, (len(bs), len(ps))
        out["prefill_bytes"].append(a.prefill_total.bytes.reshape(shape))
        out["prefill_time_s"].append(a.prefill_total.time_s.reshape(shape))
        out["decode_bytes"].append(a.decode_total.bytes.reshape(shape))
        out["decode_time_s"].append(a.decode_total.time_s.reshape(shape))
    return FlashAttentionData(model=spec.name, hardware=device.name, batch_sizes=np.asarray(bs, dtype=float),
                              prompt_lens=np.asarray(ps, dtype=float), **{k: np.stack(v) for k, v in out.items()},
                              settings={"w_bits": w_bits, "a_bits": a_bits, "kv_bits": kv_bits})


# ------------------------------------------------------------------------------------------------
# bandwidth and hardware comparison
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BandwidthData:
    model: str
    hardware: str                      # the base device
    device_bandwidth_bytes_per_s: float
    peak_flops_per_s: float            # its 16-bit peak
    bandwidths: np.ndarray             # bytes/s
    batch_sizes: np.ndarray
    prompt_len: int
    decode_time_s: np.ndarray          # [n_batch, n_bandwidths]
    throughput_tokens_per_s: np.ndarray


def bandwidth(model, hardware, *, bandwidths: Sequence[float], batch_size: Sequence[int] = (1,),
              prompt_len: int = 1024, w_bits=16, a_bits=16, kv_bits=16, flash_attention=False, group_size=128,
              efficiency="ideal", progress: Progress = None) -> BandwidthData:
    """Decode step time (KV length = prompt length) of a device whose memory bandwidth is replaced by
    each of ``bandwidths`` (bytes/s); everything else is the device's (paper Fig. 20)."""
    spec, device = _load(model, hardware)
    bws = [float(b) for b in _listed(bandwidths)]
    if not bws:
        raise ScenarioError("bandwidths: give at least one value")
    bs = _listed(batch_size)
    times = np.empty((len(bs), len(bws)))
    rates = np.empty_like(times)
    for j, bw in enumerate(bws):
        dev = api.load_hardware(device, memory_bandwidth_bytes_per_s=bw)
        a = api.analyze_many(spec, dev, batch_size=bs, prompt_len=prompt_len, w_bits=w_bits, a_bits=a_bits,
                             kv_bits=kv_bits, flash_attention=flash_attention, group_size=group_size,
                             efficiency=efficiency)
        times[:, j] = a.decode_total.time_s
        rates[:, j] = a.decode_total.tokens_per_s
        if progress:
            progress(j + 1, len(bws))
    batch = np.asarray(bs, dtype=float)
    return BandwidthData(model=spec.name, hardware=device.name,
                         device_bandwidth_bytes_per_s=device.memory_bandwidth_bytes_per_s,
                         peak_flops_per_s=device.peak_16bit_flops_per_s, bandwidths=np.asarray(bws), batch_sizes=batch,
                         prompt_len=int(prompt_len), decode_time_s=times,
                         throughput_tokens_per_s=rates)


@dataclass(frozen=True)
class HardwareData:
    model: str
    devices: tuple[str, ...]
    scenario: dict
    ttft_s: np.ndarray
    decode_time_s: np.ndarray          # one decode step at KV length = prompt length
    e2e_s: np.ndarray                  # NaN without gen_len
    throughput_tokens_per_s: np.ndarray
    total_bytes: np.ndarray
    capacity_bytes: np.ndarray
    fits: np.ndarray
    prices: np.ndarray | None          # USD, as given
    throughput_per_usd: np.ndarray | None


def hardware_comparison(model, devices: Sequence, *, batch_size: int = 1, prompt_len: int = 1024, gen_len: int = 0,
                        w_bits=16, a_bits=16, kv_bits=16, flash_attention=False, group_size=128,
                        efficiency="ideal", prices: Sequence[float] | None = None,
                        progress: Progress = None) -> HardwareData:
    """One scenario on each device. Throughput: decode tokens/s (``batch / decode step``) without
    ``gen_len``, else the whole generation's tokens/s; per USD when ``prices`` (one per device) are given."""
    devices = list(devices)
    if not devices:
        raise ScenarioError("give at least one device")
    if prices is not None and len(prices) != len(devices):
        raise ScenarioError(f"{len(prices)} prices for {len(devices)} devices; give one price per device")
    spec = api.load_model(model)
    rows = []
    for i, d in enumerate(devices):
        r = api.analyze(spec, d, batch_size=batch_size, prompt_len=prompt_len, gen_len=gen_len, w_bits=w_bits,
                        a_bits=a_bits, kv_bits=kv_bits, flash_attention=flash_attention, group_size=group_size,
                        efficiency=efficiency)
        rows.append(r)
        if progress:
            progress(i + 1, len(devices))
    dec = np.array([r.decode.total.time_s for r in rows])
    if gen_len > 0:
        thr = np.array([r.generation.throughput_tokens_per_s for r in rows], dtype=float)
        e2e = np.array([r.generation.e2e_s for r in rows])
    else:
        thr = np.array([r.decode.total.tokens_per_s for r in rows])
        e2e = np.full(len(rows), np.nan)
    price = None if prices is None else np.asarray(prices, dtype=float)
    return HardwareData(model=spec.name, devices=tuple(r.hardware["name"] for r in rows), scenario=rows[0].scenario,
                        ttft_s=np.array([r.generation.ttft_s for r in rows]), decode_time_s=dec, e2e_s=e2e,
                        throughput_tokens_per_s=thr, total_bytes=np.array([r.memory.total_bytes for r in rows]),
                        capacity_bytes=np.array([r.memory.capacity_bytes for r in rows]),
                        fits=np.array([r.memory.fits for r in rows]), prices=price,
                        throughput_per_usd=None if price is None else thr / price)


# ------------------------------------------------------------------------------------------------
# time breakdown
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BreakdownData:
    """Time of each operator group (rows) in each scenario (columns), count included."""

    model: str
    hardware: str
    group_by: str                      # "kind" or "op"
    groups: tuple[str, ...]
    scenarios: tuple[str, ...]
    prefill_time_s: np.ndarray         # [n_groups, n_scenarios]
    decode_time_s: np.ndarray
    prefill_total_s: np.ndarray        # [n_scenarios], the engine's stage totals
    decode_total_s: np.ndarray


def breakdown(model, hardware, *, batch_size=1, prompt_len=1024, kv_len=None, w_bits=16, a_bits=16, kv_bits=16,
              flash_attention=False, logits_all=False, group_size=128, efficiency="ideal",
              group_by: str = "kind") -> BreakdownData:
    """Prefill and decode-step time split by operator kind (``matmul``, ``attention``, ``norm``...) or by
    operator (``group_by='op'``), for each combination of the listed settings."""
    if group_by not in ("kind", "op"):
        raise ScenarioError(f"group_by must be kind or op, got {group_by!r}")
    spec, device = _load(model, hardware)
    axes = {"batch_size": batch_size, "prompt_len": prompt_len, "kv_len": kv_len, "w_bits": w_bits,
            "a_bits": a_bits, "kv_bits": kv_bits}
    listed = {k: _listed(v) for k, v in axes.items() if _listed(v)}
    r = api.sweep(spec, device, flash_attention=flash_attention, logits_all=logits_all, group_size=group_size,
                  efficiency=efficiency, **{k: _axis(v) for k, v in listed.items()})
    varying = [k for k, v in listed.items() if len(v) > 1]
    labels = tuple(scenario_label({k: r.columns[k][i].item() for k in varying}) or "scenario"
                   for i in range(len(r)))
    a = r.analysis

    def grouped(costs):
        keys = costs.table.kinds if group_by == "kind" else costs.table.names
        per_op = costs.time_s * costs.table.counts[:, None]
        return {g: per_op[[i for i, k in enumerate(keys) if k == g]].sum(0) for g in dict.fromkeys(keys)}

    pre, dec = grouped(a.prefill), grouped(a.decode)
    groups = tuple(dict.fromkeys([*pre, *dec]))
    zeros = np.zeros(len(r))
    return BreakdownData(model=spec.name, hardware=device.name, group_by=group_by, groups=groups, scenarios=labels,
                         prefill_time_s=np.stack([pre.get(g, zeros) for g in groups]),
                         decode_time_s=np.stack([dec.get(g, zeros) for g in groups]),
                         prefill_total_s=a.prefill_total.time_s, decode_total_s=a.decode_total.time_s)
