"""Whole-deployment metrics from one device's analysis: pipeline, overlap, memory, communication.

The analysed device is the most loaded one: its tables hold every layer of its tensor / expert shard
(counts over all L layers), with the batch b = ceil(B / (attention_dp x m)) of one micro-batch.
Stage time (a stage holds ceil(L/pp) = l layers; r = l / L):
    u = ends + r x layers,  ends = head + tail (pp = 1) or max(head, tail) (the end-holding stage),
where head / layers / tail sum count x time over those rows (communication included). This is exact
when pp divides L; otherwise an upper bound (the fullest stage is charged the larger end), and mixed
layer groups count as spread evenly over the stages. With ``overlap``: u = max(non-link part, link part).
Pipeline of pp stages, m micro-batches, H = all pp - 1 hand-offs of one micro-batch:
    TTFT = (m + pp - 1) u_prefill + H,  prefill bubble = (pp - 1) / (m + pp - 1);
    decode step (a token for every sequence) = max(pp u + H, m u),  bubble = 1 - m u / step.
Decode sums these steps over the KV lengths P+1 .. P+G exactly (steps.py). With fast-decoding techniques
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
from .pipeline import part_masks, part_sums, stage_ends, stage_time, stage_weights_bytes
from .steps import Affine, AtLeast, Rows


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
    pp, share = d.pp, lay.stage_layers / lay.layers
    m = micro_batches(replica.batch_size, d.attention_dp, d.pipeline_micro_batches)
    sc = a.scenario
    pre = _sums(a.prefill)
    handoff_prefill = pre["handoff_nl"] + pre["handoff_l"]
    u_prefill = stage_time(pre, pp, share, d.overlap)
    if pp == 1 and not d.overlap:  # the engine's TTFT: the host time per step (calibrated) and a draft
        u_prefill = a.generation.ttft_s  # network's prefill (speculative decoding) included
        ttft = (m + pp - 1) * u_prefill + handoff_prefill
    else:  # the stage sums hold the operators only: the engine's host time per step once
        ttft = (m + pp - 1) * u_prefill + handoff_prefill + a.prefill.step_overhead_s
    dec = _sums(a.decode)
    u_step = stage_time(dec, pp, share, d.overlap)
    handoff = dec["handoff_nl"] + dec["handoff_l"]
    step = np.maximum(pp * u_step + handoff, m * u_step) + a.decode.step_overhead_s
    P, G = sc.prompt_len, sc.gen_len
    if pp == 1 and not d.overlap:  # the engine's own sum: every operator, communication included
        decode, step = a.generation.decode_s, a.decode_total.time_s
    else:
        decode = _decode_sum(a, dec, pp, m, share, d.overlap, handoff, P + 1.0, P + G)
    e2e = ttft + decode
    B = replica.batch_size
    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = np.where(G > 0, decode / G, np.nan)
        replica_rate = np.where(G > 0, B * G / e2e, np.nan)
        decode_bubble = np.where(step > 0, 1.0 - m * u_step / step, 0.0)
    rate = d.dp * replica_rate
    memory = _memory(a, lay, share, m, B)
    return ParallelMetrics(
        layout=lay, batch_size=B, device_batch=sc.batch_size, micro_batches=m, ttft_s=ttft, decode_s=decode,
        tpot_s=tpot, e2e_s=e2e,
        decode_step_s=step, throughput_tokens_per_s=rate, throughput_tokens_per_s_per_device=rate / d.devices,
        prefill_bubble_fraction=(pp - 1) / (m + pp - 1.0),
        decode_bubble_fraction=np.clip(decode_bubble, 0.0, 1.0), **memory,
        prefill_link_bytes=a.prefill_total.link_bytes, prefill_comm_time_s=a.prefill_total.link_time_s,
        decode_link_bytes=a.decode_total.link_bytes, decode_comm_time_s=a.decode_total.link_time_s)


def _decode_sum(a: Analysis, dec, pp, m, share, overlap, handoff, first, last) -> np.ndarray:
    """Sum over decode steps S = first..last of max(pp u(S) + H, m u(S)), u the stage time. Only the
    layers' non-communication operators change with S; the ends and the communication are read off
    the reported step."""
    masks = part_masks(a.decode_at0.table)
    ends_nl, ends_l = stage_ends(dec, pp)
    link = ends_l + share * dec["layer_l"]
    if getattr(a.efficiency, "mode", "") == "calibrated":
        return _calibrated_decode_sum(a, masks["layer"] & ~masks["comm"], pp, m, share, overlap,
                                      ends_nl + link, handoff, first, last)
    layers_nl = Rows(a.decode_at0, a.decode_at1, masks["layer"] & ~masks["comm"], a.efficiency.kernel_overhead_s)
    if (overlap or (m > pp).any()) and not layers_nl.monotone:
        raise DeploymentError("overlap, or more micro-batches than pipeline stages, is not modelled for models "
                              "with chunked-attention layers (their decode steps do not grow monotonically); "
                              "use overlap off and micro_batches <= pp")
    if overlap:
        u = AtLeast(Affine(layers_nl, share, ends_nl), link)
    else:
        u = Affine(layers_nl, share, ends_nl + link)
    total = Affine(u, float(pp), handoff).total(first, last)
    if (m > pp).any():  # the first stage is busy with m micro-batches longer than one token's round trip
        total = total + AtLeast(Affine(u, np.maximum(m - pp, 0.0), -handoff), 0.0).total(first, last)
    return total


def _calibrated_decode_sum(a: Analysis, layer_rows, pp, m, share, overlap, fixed, handoff, first, last):
    """The pipeline's decode sum under calibrated curves: sum_S (pp u(S) + H) with u(S) = share x the
    layers' calibrated step time + ``fixed`` (ends and communication): linear in the per-operator step
    sums, which efficiency/steps.py gives (quadrature over S), plus the engine's host time per step.
    Overlap and more micro-batches than stages take a maximum of curves at every step, which has no
    such sum: they are refused rather than approximated."""
    from ..efficiency.steps import decode_step_sums

    if overlap or (m > pp).any():
        raise DeploymentError("efficiency calibrated with overlap, or with more micro-batches than pipeline stages, "
                              "is not modelled (each step is then a maximum of calibrated curves); use overlap off "
                              "and micro_batches <= pp, or efficiency ideal / hardware")
    at0 = a.decode_at0
    per_op = decode_step_sums(at0, a.decode_at1, a.scenario, a.efficiency, first, last)
    layers = (per_op[layer_rows] * at0.table.counts[layer_rows][:, None]).sum(0)
    steps = np.clip(last - first + 1.0, 0.0, None)
    return pp * (share * layers + steps * fixed) + steps * (handoff + at0.step_overhead_s)


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


