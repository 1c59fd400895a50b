"""summarize: stage totals, whole-generation metrics and the memory footprint, for n scenarios.

Generation (per request of B sequences): TTFT = prefill time of P tokens; then G decode steps
at KV lengths P+1 .. P+G (summed exactly, see generation.py); TPOT = mean decode step time;
e2e = TTFT + sum of decode steps; throughput = B*G / e2e (generated tokens per second).
Memory: weights (every parameter once, tied embeddings once), KV cache of P+G tokens (and the
recurrent states) for each of the B sequences, and peak live activations = the largest activation working set (reads +
writes) of any single operator in prefill or decode, not the sum of all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .attention import most_decode_keys
from .cache import cache_bytes_per_sequence
from .generation import windowed_step_sum, windowed_step_sum_lines
from .hardware.spec import Hardware
from .precision import format_storage_bytes
from .roofline import OpCosts


@dataclass(frozen=True)
class StageTotals:
    """Whole-model totals of one stage (arrays over scenarios): FLOPs, bytes by kind, time (s);
    arithmetic_intensity = FLOPs / bytes of the whole stage (FLOP/byte); performance = FLOPs / time
    (FLOP/s); tokens_per_s = tokens the stage processes (B*T) / time; compute_bound_time_s = time of
    the compute-bound operators, counts included (s); compute_bound: the stage is compute-bound when
    those operators take more than half of its time (else memory-bound); bound_time_share = the share
    of the stage's time in operators of the stage's bound (1 for a stage that takes no time);
    link_bytes = bytes this device puts on links; link_time_s = time of the communication operators;
    link_bound: those take more than half of the stage's time (the stage's bound is then "link")."""

    flops: np.ndarray
    bytes: np.ndarray
    weight_bytes: np.ndarray
    activation_bytes: np.ndarray
    kv_cache_bytes: np.ndarray
    time_s: np.ndarray
    arithmetic_intensity: np.ndarray
    performance_flops_per_s: np.ndarray
    tokens_per_s: np.ndarray
    compute_bound_time_s: np.ndarray
    compute_bound: np.ndarray
    bound_time_share: np.ndarray
    link_bytes: np.ndarray | None = None
    link_time_s: np.ndarray | None = None
    link_bound: np.ndarray | None = None
    # Offloading: the stage is host-bound when operators bound by the host link or CPU take more than
    # half of its time (None without offloading).
    host_bound: np.ndarray | None = None


def op_sum(values: np.ndarray) -> np.ndarray:
    """Sum over operators (axis 0 of [n_ops, n]) in dataflow order, the same rounding for any number of
    scenarios. NumPy adds the rows of a [n_ops, n > 1] array one after the other, but sums a lone
    scenario's column pairwise, which can differ in the last bit (a sweep written in chunks would then
    not match the whole sweep); cumsum adds in order."""
    return values.sum(0) if values.shape[1] > 1 else np.cumsum(values, axis=0)[-1]


def stage_totals(costs: OpCosts, tokens: np.ndarray) -> StageTotals:
    """Totals = sum over operators of (per-occurrence value x count), plus the engine's host time per
    step (calibrated setting; 0 otherwise); ``tokens`` = B*T per scenario."""
    t, c = costs.table, costs.table.counts[:, None]
    flops, traffic, time = op_sum(t.flops * c), op_sum(t.bytes * c), op_sum(costs.time_s * c)
    if costs.step_overhead_s:
        time = time + costs.step_overhead_s
    comm = t.link_bytes > 0
    compute_bound_time = op_sum(np.where(costs.compute_bound, costs.time_s * c, 0.0))
    share = _ratio(compute_bound_time, time)  # of the stage's time, in compute-bound operators
    compute_bound = share > 0.5
    link_time = op_sum(np.where(comm, costs.time_s, 0.0) * c)
    link_share = _ratio(link_time, time)
    link_bound = link_share > 0.5
    memory_share = 1 - share - link_share  # the memory-bound operators' share (link-bound ones are apart)
    bound_share = np.where(link_bound, link_share, np.where(compute_bound, share, memory_share))
    host_bound = None
    if costs.host_times or costs.serial_time_s is not None:  # offloading: operators bound by the host side
        host = costs.host_bound & ~comm
        host_share = _ratio(op_sum(np.where(host, costs.time_s * c, 0.0)), time)
        share = _ratio(op_sum(np.where(costs.compute_bound & ~host, costs.time_s * c, 0.0)), time)
        host_bound = ~link_bound & (host_share > 0.5)
        compute_bound = ~link_bound & ~host_bound & (share > 0.5)
        memory_share = 1 - share - link_share - host_share
        bound_share = np.where(link_bound, link_share, np.where(host_bound, host_share,
                                                                np.where(compute_bound, share, memory_share)))
    return StageTotals(
        flops=flops, bytes=traffic, weight_bytes=op_sum(t.weight_bytes * c),
        activation_bytes=op_sum(t.activation_bytes * c), kv_cache_bytes=op_sum(t.kv_cache_bytes * c),
        time_s=time, arithmetic_intensity=_ratio(flops, traffic), performance_flops_per_s=_ratio(flops, time),
        tokens_per_s=_ratio(tokens * np.ones_like(time), time), compute_bound_time_s=compute_bound_time,
        compute_bound=compute_bound,
        bound_time_share=np.where(time > 0, bound_share, 1.0),
        link_bytes=op_sum(t.link_bytes * c), link_time_s=link_time, link_bound=link_bound, host_bound=host_bound,
    )


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


@dataclass(frozen=True)
class Generation:
    """ttft_s = prefill time; decode_s = sum of the G decode steps; decode_s_per_op: that sum per
    operator (one occurrence, [n_ops, n], in the decode table's order); tpot_s = decode_s / G;
    e2e_s = ttft_s + decode_s; throughput = B*G / e2e_s (s, s, s, s, tokens/s)."""

    ttft_s: np.ndarray
    decode_s: np.ndarray
    decode_s_per_op: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    throughput_tokens_per_s: np.ndarray


def generation(prefill_time_s: np.ndarray, at0: OpCosts, at1: OpCosts, prompt_len: np.ndarray,
               gen_len: np.ndarray, batch_size: np.ndarray, overhead_s: float, *, calibrated=None,
               scenario=None) -> Generation:
    """``at0`` / ``at1``: decode costs evaluated at KV length 0 and 1 without windows, which give
    each operator's compute and memory time as affine functions of its visible keys. With a
    ``calibrated`` efficiency setting the steps are summed by efficiency/steps.py (``scenario``
    gives the formats) and the engine's host time per step is added to every step."""
    first, last = prompt_len + 1.0, prompt_len + gen_len
    if calibrated is not None:
        from .efficiency.steps import decode_step_sums

        per_op = decode_step_sums(at0, at1, scenario, calibrated, first, last)
        if at0.host_times or at0.serial_time_s is not None:  # a lower bound: the max of the two sums
            host, serial = _host_step_sums(at0, at1, first, last, gen_len, device=False)
            per_op = np.maximum(per_op, host) + serial
    elif at0.host_times or at0.serial_time_s is not None:  # offloading: more resources, all affine in x
        host, serial = _host_step_sums(at0, at1, first, last, gen_len)
        per_op = host + serial
    else:
        c0, c1 = at0.compute_time_s, at1.compute_time_s - at0.compute_time_s
        m0, m1 = at0.memory_time_s, at1.memory_time_s - at0.memory_time_s
        # Operators whose cost does not depend on the KV length take G times their step time (a
        # communication operator's link time never depends on it).
        grows = np.flatnonzero((c1 != 0).any(1) | (m1 != 0).any(1))
        per_op = gen_len * np.maximum(np.maximum(c0, m0), at0.link_time_s)
        window, chunk = at0.table.kv_window[grows, None], at0.table.kv_chunk[grows, None]
        per_op[grows] = windowed_step_sum(first, last, window, c0[grows], c1[grows], m0[grows], m1[grows], chunk)
    if overhead_s:  # one launch per step for every operator that does any work (as roofline() counts it)
        works = ((at1.table.flops > 0) | (at1.table.bytes > 0)).any(axis=1, keepdims=True)
        per_op = per_op + np.where(works, overhead_s, 0.0) * gen_len
    decode = op_sum(per_op * at0.table.counts[:, None]) + at0.step_overhead_s * gen_len
    e2e = prefill_time_s + decode
    has_steps = gen_len > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = np.where(has_steps, decode / gen_len, np.nan)
        throughput = np.where(has_steps, batch_size * gen_len / e2e, np.nan)
    return Generation(ttft_s=prefill_time_s, decode_s=decode, decode_s_per_op=per_op, tpot_s=tpot, e2e_s=e2e,
                      throughput_tokens_per_s=throughput)


def _host_step_sums(at0: OpCosts, at1: OpCosts, first, last, gen_len, device: bool = True):
    """Per operator, the sums over the decode steps of max(compute, memory, link, host resources) (only
    the host resources and the link without ``device``) and of the serial host time, each affine in the
    keys seen (as in ``generation``). Operators whose cost does not grow with the KV length take G times
    their step; a resource that is zero everywhere is left out of the envelope."""
    parts0 = [*([at0.compute_time_s, at0.memory_time_s] if device else []), at0.link_time_s, *at0.host_times]
    parts1 = [*([at1.compute_time_s, at1.memory_time_s] if device else []), at1.link_time_s, *at1.host_times]
    lines = [(p0, p1 - p0) for p0, p1 in zip(parts0, parts1, strict=True) if p0.any() or p1.any()]
    zeros = np.zeros_like(at0.time_s)
    if not lines:
        lines = [(zeros, zeros)]
    grows = np.flatnonzero(np.any([(b != 0).any(1) for _, b in lines], axis=0))
    total = gen_len * np.max([a for a, _ in lines], axis=0)
    if grows.size:
        window, chunk = at0.table.kv_window[grows, None], at0.table.kv_chunk[grows, None]
        total[grows] = windowed_step_sum_lines(first, last, window, [(a[grows], b[grows]) for a, b in lines], chunk)
    total = np.where(gen_len > 0, total, 0.0)
    serial = zeros
    if at0.serial_time_s is not None:
        s0, s1 = at0.serial_time_s, at1.serial_time_s
        window, chunk = at0.table.kv_window[:, None], at0.table.kv_chunk[:, None]
        serial = np.where(gen_len > 0, windowed_step_sum(first, last, window, s0, s1 - s0, s0, s1 - s0, chunk), 0.0)
    return total, serial


def summed_over_steps(value0: np.ndarray, value1: np.ndarray, window: np.ndarray, prompt_len: np.ndarray,
                      gen_len: np.ndarray, chunk: np.ndarray | None = None) -> np.ndarray:
    """sum over decode steps S = P+1 .. P+G of a per-operator quantity (FLOPs, bytes) that is affine in
    the visible keys (min(S, W), or ((S-1) mod C) + 1 with a chunk C): ``value0`` / ``value1`` are its
    values at KV length 0 and 1; ``window`` / ``chunk``: the table's kv_window / kv_chunk."""
    slope = value1 - value0
    chunk = np.full_like(window, np.inf) if chunk is None else chunk
    return windowed_step_sum(prompt_len + 1.0, prompt_len + gen_len, window[:, None], value0, slope, value0, slope,
                             chunk[:, None])


@dataclass(frozen=True)
class Memory:
    """Bytes: weights, KV cache, peak live activations, their total; capacity, fits, max batch."""

    weights_bytes: np.ndarray
    kv_cache_bytes: np.ndarray
    activations_bytes: np.ndarray
    total_bytes: np.ndarray
    capacity_bytes: float
    fits: np.ndarray
    max_batch_size: np.ndarray
    # Under the techniques (techniques/placement.py; None when they do not change the placement): the
    # KV cache kept once for the batch (a cached prefix), bytes on the device and in host memory (or on
    # disk), and the host's capacity (bytes; inf for a disk).
    kv_cache_shared_bytes: np.ndarray | None = None
    device_bytes: np.ndarray | None = None
    host_bytes: np.ndarray | None = None
    host_capacity_bytes: float | None = None


def memory(model, scenario, prefill: OpCosts, at0: OpCosts, at1: OpCosts, hardware: Hardware) -> Memory:
    """KV cache = B * (bytes one sequence caches after P+G tokens: KV cache at KV precision, recurrent
    states at state precision, conv states at activation precision; see cache.py). Every byte but the
    weights scales with B, so the largest batch that fits is floor((capacity - weights) /
    (per-sequence KV + activations)). Decode activations peak at the step that sees the most keys: the last, S = P + G,
    or with chunked attention the last of a chunk (they are affine in the visible keys; ``at0`` /
    ``at1`` as in ``generation``)."""
    sc = scenario
    weights = op_sum(prefill.table.param_bytes * prefill.table.counts[:, None])
    kb = format_storage_bytes(sc.kv_cache, sc.group_size, sc.scale_bits)
    sb = format_storage_bytes(sc.state, sc.group_size, sc.scale_bits)
    a0, a1 = at0.table.activation_bytes, at1.table.activation_bytes
    keys = most_decode_keys(sc.prompt_len + 1.0, sc.prompt_len + np.maximum(sc.gen_len, 1.0),
                            at0.table.kv_window[:, None], at0.table.kv_chunk[:, None])
    decode_peak = (a0 + (a1 - a0) * keys).max(0)
    activations = np.maximum(prefill.table.activation_bytes.max(0), decode_peak)
    capacity = hardware.memory_capacity_bytes
    t = sc.optimizations
    if t.offloads or t.prefix or t.kv_allocation != "exact":
        from .techniques.placement import placed_memory

        placed = placed_memory(model, sc, prefill.table, weights, activations, capacity, kb, sb,
                               sc.activations.bits / 8.0)
        return Memory(weights_bytes=weights, activations_bytes=activations, capacity_bytes=capacity, **placed)
    kv = sc.batch_size * cache_bytes_per_sequence(model, sc.prompt_len + sc.gen_len, kb, sb, sc.activations.bits / 8.0)
    total = weights + kv + activations
    per_sequence = (kv + activations) / sc.batch_size
    max_batch = np.floor(np.maximum(capacity - weights, 0.0) / per_sequence)
    return Memory(weights_bytes=weights, kv_cache_bytes=kv, activations_bytes=activations,
                  total_bytes=total, capacity_bytes=capacity, fits=total <= capacity,
                  max_batch_size=max_batch)
