"""Whole-deployment metrics from one device's analysis: pipeline, overlap, memory, communication.

The analysed device is the most loaded one: its tables hold every layer of its tensor / expert shard
(counts over all L layers), with the batch b = ceil(B / (attention_dp x m)) of one micro-batch.
head / layers / tail sum count x time over those rows (communication included); pipeline.py derives:
    u = ends + r x layers (the fullest stage: ceil(L/pp) = l layers, r = l / L; ends = head + tail
        (pp = 1) or max(head, tail)): exact when pp divides L, else an upper bound; mixed layer groups
        count as spread evenly over the stages. With ``overlap``: u = max(non-link part, link part);
    stages = head + layers + tail (every stage once, exact), H = all pp - 1 hand-offs of one micro-batch,
        round trip = stages + H (``overlap``: max(non-link part, link part) of the stages + H).
Pipeline of pp stages and m micro-batches, as serving's pipelined workers (serving/engine_cost.py):
    TTFT = stages_prefill + H + (m - 1) u_prefill: the first micro-batch's round trip, then one more
        every u (GPipe's (m + pp - 1) u + H when the stages are equal);
    decode step (a token for every sequence) = max(stages + H, m u) = pipeline.pipeline_period_s;
    bubbles: the fullest stage's idle share of the pipeline's time (the host time per step excluded):
        prefill 1 - m u / (stages + H + (m - 1) u), decode 1 - m u / max(stages + H, m u); 0 at pp = 1;
        the prefill one is (pp - 1) / (m + pp - 1) for equal stages and H = 0.
Decode sums these steps over the KV lengths P+1 .. P+G exactly (steps.py: a maximum of lines in the
layers' time, split where the winner changes). With fast-decoding techniques
(pp = 1, no overlap) TTFT and decode are the engine's own (techniques/engine.py: the draft's prefill in
TTFT, the speculative iterations' sum in decode), so TPOT and tokens/s carry the speed-up. Tokens/s of the deployment
= dp x B x G / (TTFT + decode); per device = that / devices.
Memory per device: weights = max(head, tail) + r x layers (pp > 1; the last stage also holds the lm_head
copy of tied embeddings), KV cache of all m micro-batches of its stage's layers, activations of one
micro-batch, communication buffers = 2 x the largest message (double-buffered staging).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine import Analysis
from ..errors import DeploymentError
from ..scenario import Scenario
from .deployment import Layout
from .pipeline import (
    part_masks,
    part_sums,
    period_lines,
    pipeline_fill_s,
    pipeline_period_s,
    stage_time,
    stage_weights_bytes,
)
from .steps import GRID, AtLeast, Curves, Larger, Rows, UndecidedMaximum


@dataclass(frozen=True)
class ParallelMetrics:
    """Arrays over scenarios (s, tokens/s, bytes). batch_size: sequences per replica (B); device_batch:
    sequences one device's attention group runs per micro-batch (b); micro_batches: the pipeline's
    micro-batches that hold sequences (m)."""

    layout: Layout | None
    batch_size: np.ndarray
    device_batch: np.ndarray
    micro_batches: np.ndarray
    ttft_s: np.ndarray
    decode_s: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    decode_step_s: np.ndarray
    throughput_tokens_per_s: np.ndarray
    throughput_tokens_per_s_per_device: np.ndarray
    prefill_bubble_fraction: np.ndarray
    decode_bubble_fraction: np.ndarray
    weights_bytes: np.ndarray
    kv_cache_bytes: np.ndarray
    activations_bytes: np.ndarray
    comm_buffer_bytes: np.ndarray
    total_bytes: np.ndarray
    capacity_bytes: float
    fits: np.ndarray
    max_batch_size: np.ndarray
    prefill_link_bytes: np.ndarray
    prefill_comm_time_s: np.ndarray
    decode_link_bytes: np.ndarray
    decode_comm_time_s: np.ndarray

    @property
    def devices(self) -> int:
        return 1 if self.layout is None else self.layout.deployment.devices


def single_device(a: Analysis) -> ParallelMetrics:
    """One device: the engine's own numbers, unchanged."""
    g, m, sc = a.generation, a.memory, a.scenario
    zeros = np.zeros_like(g.ttft_s)
    return ParallelMetrics(
        layout=None, batch_size=sc.batch_size, device_batch=sc.batch_size, micro_batches=np.ones_like(g.ttft_s),
        ttft_s=g.ttft_s, decode_s=g.decode_s,
        tpot_s=g.tpot_s, e2e_s=g.e2e_s, decode_step_s=a.decode_total.time_s,
        throughput_tokens_per_s=g.throughput_tokens_per_s, throughput_tokens_per_s_per_device=g.throughput_tokens_per_s,
        prefill_bubble_fraction=zeros, decode_bubble_fraction=zeros, weights_bytes=m.weights_bytes,
        kv_cache_bytes=m.kv_cache_bytes, activations_bytes=m.activations_bytes, comm_buffer_bytes=zeros,
        total_bytes=m.total_bytes, capacity_bytes=m.capacity_bytes, fits=m.fits, max_batch_size=m.max_batch_size,
        prefill_link_bytes=zeros, prefill_comm_time_s=zeros, decode_link_bytes=zeros, decode_comm_time_s=zeros)


def _sums(costs) -> dict[str, np.ndarray]:
    """count x time summed over each part, split into non-link ("nl") and communication ("l") rows."""
    return part_sums(costs.table, costs.time_s * costs.table.counts[:, None])


def parallel_metrics(a: Analysis, lay: Layout, replica: Scenario) -> ParallelMetrics:
    d = lay.deployment
    pp, share, overlap = d.pp, lay.stage_layers / lay.layers, d.overlap
    m = micro_batches(replica.batch_size, d.attention_dp, d.pipeline_micro_batches)
    sc = a.scenario
    pre, dec = _sums(a.prefill), _sums(a.decode)
    u_prefill, fill = stage_time(pre, pp, share, overlap), pipeline_fill_s(pre, pp, share, m, overlap)
    u_step, period = stage_time(dec, pp, share, overlap), pipeline_period_s(dec, pp, share, m, overlap)
    P, G = sc.prompt_len, sc.gen_len
    if pp == 1 and not overlap:  # the engine's own sums: every operator, communication included, the host
        ttft = a.generation.ttft_s  # time per step (calibrated) and a draft network's prefill (speculative
        decode, step = a.generation.decode_s, a.decode_total.time_s  # decoding) included
    else:  # the stage sums hold the operators only: the engine's host time per step once
        ttft = fill + a.prefill.step_overhead_s
        step = period + a.decode.step_overhead_s
        decode = _decode_sum(a, dec, pp, m, share, overlap, P + 1.0, P + G)
    e2e = ttft + decode
    B = replica.batch_size
    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = np.where(G > 0, decode / G, np.nan)
        replica_rate = np.where(G > 0, B * G / e2e, np.nan)
        prefill_bubble, decode_bubble = (np.where(whole > 0, 1.0 - m * u / whole, 0.0)
                                         for u, whole in ((u_prefill, fill), (u_step, period)))
    if pp == 1:  # one stage: nothing waits for another
        prefill_bubble, decode_bubble = np.zeros_like(ttft), np.zeros_like(ttft)
    rate = d.dp * replica_rate
    memory = _memory(a, lay, share, m, B)
    return ParallelMetrics(
        layout=lay, batch_size=B, device_batch=sc.batch_size, micro_batches=m, ttft_s=ttft, decode_s=decode,
        tpot_s=tpot, e2e_s=e2e,
        decode_step_s=step, throughput_tokens_per_s=rate, throughput_tokens_per_s_per_device=rate / d.devices,
        prefill_bubble_fraction=np.clip(prefill_bubble, 0.0, 1.0),
        decode_bubble_fraction=np.clip(decode_bubble, 0.0, 1.0), **memory,
        prefill_link_bytes=a.prefill_total.link_bytes, prefill_comm_time_s=a.prefill_total.link_time_s,
        decode_link_bytes=a.decode_total.link_bytes, decode_comm_time_s=a.decode_total.link_time_s)


def _decode_sum(a: Analysis, dec, pp, m, share, overlap, first, last) -> np.ndarray:
    """Sum over decode steps S = first..last of the period max(stages(S) + H, m u(S)) (s) + the engine's
    host time per step. Only the layers' non-communication operators change with S, x(S); the ends, the
    communication and the hand-offs are read off the reported step, so the period is
    max(a_1 + b_1 x(S), a_2 + b_2 x(S)[, floor]) (pipeline.period_lines), summed exactly by steps.py.
    x(S): the ideal / hardware step times (Rows; chunked attention makes them non-monotone) or, calibrated,
    the layers' curves (Curves: each step's curves, their sums by efficiency/steps.py's quadrature) with a
    floor under each step. A maximum whose winner changes within the generation is split at the first step
    where the other line wins (bisection on the steps), which needs steps that grow with S; otherwise
    (chunked attention, or calibrated steps seen to fall) it is refused."""
    masks = part_masks(a.decode_at0.table)
    layer_rows = masks["layer"] & ~masks["comm"]
    calibrated = getattr(a.efficiency, "mode", "") == "calibrated"
    if calibrated and overlap:
        raise DeploymentError("efficiency calibrated with overlap is not modelled (each step is then a maximum of "
                              "calibrated curves, which has no closed sum); use overlap off, or efficiency ideal / "
                              "hardware")
    if calibrated:
        x = _calibrated_layers(a, layer_rows, first, last)
    else:
        x = Rows(a.decode_at0, a.decode_at1, layer_rows, a.efficiency.kernel_overhead_s)
    lines, floor = period_lines(dec, pp, share, m, overlap)
    period = Larger(x, *lines) if floor is None else AtLeast(Larger(x, *lines), floor)
    steps = np.clip(last - first + 1.0, 0.0, None)
    try:
        return period.total(first, last) + steps * a.decode.step_overhead_s
    except UndecidedMaximum:
        terms = ("its computation and its communication (overlap)" if overlap
                 else "the pipeline's round trip and micro_batches x its fullest stage")
        if calibrated and not x.chunked:
            raise DeploymentError(
                f"efficiency calibrated: the decode step's larger of {terms} changes within the generation, and "
                f"the layers' calibrated step time falls somewhere as the KV length grows (seen at {GRID} steps "
                "spread over the generation), so the sum cannot be split at one step; use micro_batches 1 or pp "
                "with pp dividing the layers, or efficiency ideal / hardware") from None
        raise DeploymentError(
            f"the decode step's larger of {terms} changes within the generation, which has no exact sum for "
            "models with chunked-attention layers (their decode steps do not grow monotonically); use overlap "
            "off, and micro_batches 1 or pp with pp dividing the layers") from None


def _calibrated_layers(a: Analysis, layer_rows, first, last) -> Curves:
    """The layers' non-communication time under calibrated curves (s): at each decode step S (the curves at
    its KV length) and summed over any range of steps (efficiency/steps.py: quadrature over S), with a
    floor under each step: the rows whose cost does not change with the KV length (the others take at
    least 0)."""
    from ..efficiency.steps import decode_step_sums, decode_step_times, kv_constant_rows

    at0, at1, sc, eff = a.decode_at0, a.decode_at1, a.scenario, a.efficiency
    counts = at0.table.counts[:, None]

    def layers(per_op: np.ndarray) -> np.ndarray:  # count x time over the layer rows ([..., n_ops, n] -> [..., n])
        return (per_op[..., layer_rows, :] * counts[layer_rows]).sum(-2)

    constant = layer_rows & kv_constant_rows(at0, at1)
    return Curves(first, last, step=lambda S: layers(decode_step_times(at0, at1, sc, eff, S)),
                  summed=lambda lo, hi: layers(decode_step_sums(at0, at1, sc, eff, lo, hi)),
                  low=(at0.time_s[constant] * counts[constant]).sum(0),
                  chunked=bool(np.isfinite(at0.table.kv_chunk[layer_rows]).any()))


def _memory(a: Analysis, lay: Layout, share: float, m: int, B: np.ndarray) -> dict:
    d, mem, t = lay.deployment, a.memory, a.prefill.table
    weights = mem.weights_bytes if d.pp == 1 else stage_weights_bytes(t, a.model, share)
    kv = mem.kv_cache_bytes * (m * share)
    buffers = 2.0 * np.maximum(_largest_message(a.prefill.table), _largest_message(a.decode.table))
    spec = a.techniques.speculative if a.techniques is not None else None
    if spec is not None:  # the verify step's T = verify_tokens messages, and the widest draft pass's
        for costs in (spec.verify, spec.draft):
            if costs is not None:
                buffers = np.maximum(buffers, 2.0 * _largest_message(costs.table))
    activations = mem.activations_bytes
    total = weights + kv + activations + buffers
    capacity = mem.capacity_bytes
    per_sequence = (kv + activations + buffers) / B
    max_batch = np.floor(np.maximum(capacity - weights, 0.0) / per_sequence)
    return dict(weights_bytes=weights, kv_cache_bytes=kv, activations_bytes=activations, comm_buffer_bytes=buffers,
                total_bytes=total, capacity_bytes=capacity, fits=total <= capacity, max_batch_size=max_batch)


def _largest_message(table) -> np.ndarray:
    comm = part_masks(table)["comm"]
    if not comm.any():
        return np.zeros(table.flops.shape[1])
    return table.act_read_bytes[comm].max(0)


def micro_batches(batch_size: np.ndarray, attention_dp: int, micro_batches: int) -> np.ndarray:
    """Micro-batches that hold sequences: m, or fewer when an attention group has fewer than m
    sequences, min(m, ceil(B / a))."""
    return np.minimum(float(micro_batches), np.ceil(batch_size / attention_dp))


def micro_batch(batch_size: np.ndarray, attention_dp: int, micro_batches_: np.ndarray) -> np.ndarray:
    """Sequences per attention group per micro-batch, of the fullest group: ceil(B / (a x m))."""
    return np.ceil(batch_size / (attention_dp * micro_batches_))


