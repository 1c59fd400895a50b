"""The KV cache a device holds while serving: paged blocks, per-request reserves and the usable budget.

Paged attention (vLLM's PagedAttention, SGLang, TRT-LLM): the cache of every full-attention layer is
allocated in blocks of ``block_size`` tokens, so a request that has ``n`` tokens in cache holds
ceil(n / block_size) blocks. What does not grow with the length is reserved when a request is admitted:
sliding-window and chunked-attention layers what the engine says they keep for its final length
(cache.cached_tokens: at most W - 1, or C - 1, tokens), recurrent layers (Mamba, Mamba-2, gated delta-net)
their fixed states: the recurrent state at the state precision, the conv state (and DeepSeek-V4's
compressor buffers) at the activations'. DeepSeek-V4's compressed entries grow with the length (one per
compress_ratio tokens) and are paged with the full-attention layers, at entry / ratio elements per token.
Bytes per element and the per-layer sizes come from the engine (cache.py, precision.py).

Usable budget = capacity x memory_fraction - weights - activation reserve, where weights are every
parameter once (as ``report.memory``; a pipelined worker: its device of the fullest stage, with
ceil(L / pp) layers and the larger model end, parallel.pipeline.stage_weights_bytes, holds the KV cache
and states of its layers only, every per-request size x ceil(L / pp) / L, mixed layer groups spread
evenly over the stages) and the activation reserve is the largest activation working set
of one operator (as ``report.memory``) for an iteration of ``max_batch_tokens`` prefill tokens or a decode
batch of ``max_seqs`` requests (vLLM profiles memory with such a dummy batch in the same way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cache import (
    cache_elements_per_token,
    cached_tokens,
    compressed_elements_per_entry,
    conv_state_elements_per_sequence,
    pending_elements_per_sequence,
    state_elements_per_sequence,
)
from ..errors import ScenarioError
from ..graph import build_ops
from ..parallel.pipeline import stage_weights_bytes
from ..precision import format_storage_bytes
from ..units import si
from .engine_cost import EngineCost
from .probes import probe_scenario
from .step_cost import StepCost


@dataclass(frozen=True)
class KVCapacity:
    """block_size (tokens); page_bytes: one block of every full-attention layer (bytes); local_layers: the
    sliding-window or chunked layers' mixers and bytes per cached token (all layers of the group);
    state_bytes: recurrent state per request (bytes); budget_bytes:
    memory left for the KV cache (bytes; a worker of several devices: attention_dp x one device's, see
    kv_capacity); weights_bytes, activations_bytes, usable_bytes: what it is left
    from (bytes)."""

    block_size: int
    page_bytes: float
    local_layers: tuple[tuple[object, float], ...]
    state_bytes: float
    budget_bytes: float
    weights_bytes: float
    activations_bytes: float
    usable_bytes: float

    def blocks(self, tokens) -> np.ndarray:
        """Blocks held by a request with ``tokens`` tokens in cache: ceil(tokens / block_size)."""
        return np.ceil(np.asarray(tokens, dtype=np.float64) / self.block_size)

    def reserve_bytes(self, total_len) -> np.ndarray:
        """Bytes reserved at admission for a request of ``total_len`` tokens in all (prompt + output):
        what the local layers cache for total_len rounded up to blocks, plus the recurrent state."""
        tokens = self.blocks(total_len) * self.block_size
        out = np.full(np.shape(tokens), self.state_bytes)
        for mixer, per_token in self.local_layers:
            out = out + per_token * cached_tokens(mixer, tokens)
        return out

    def request_bytes(self, tokens, total_len) -> np.ndarray:
        """What a request holds with ``tokens`` tokens in cache: its blocks and its reserve (bytes)."""
        return self.blocks(tokens) * self.page_bytes + self.reserve_bytes(total_len)

    @property
    def capacity_tokens(self) -> float:
        """Tokens the budget holds in full-attention layers (whole blocks; inf for a model without any)."""
        if self.page_bytes == 0:
            return np.inf
        return float(np.floor(self.budget_bytes / self.page_bytes) * self.block_size)

    def max_requests(self, mean_tokens, total_len) -> np.ndarray:
        """Requests that fit at once when each holds ``mean_tokens`` tokens on average."""
        return np.floor(self.budget_bytes / self.request_bytes(mean_tokens, total_len))


def kv_capacity(cost: StepCost | EngineCost, *, block_size: int, memory_fraction: float, max_batch_tokens: int,
                max_seqs: int) -> KVCapacity:
    """The KV budget of one worker. A worker of several devices: every size is one device's (its shard,
    its weights and communication rows); its attention-DP groups each hold their own requests, so the
    worker's budget is attention_dp x one device's (a request's bytes are those one device of its group
    holds: its share of the KV heads, or the whole latent of MLA, replicated)."""
    model, settings, plan, share = cost.shard, cost.settings, cost.plan, cost.stage_share
    kb = float(format_storage_bytes(settings.kv_cache, settings.group_size, settings.scale_bits)[0])
    sb = float(format_storage_bytes(settings.state, settings.group_size, settings.scale_bits)[0])
    ab = float(settings.activations.bits[0]) / 8.0
    page, state = 0.0, 0.0
    local: list[tuple[object, float]] = []
    for group in model.layer_groups:
        mixer = group.layer.mixer
        per_token = share * group.count * cache_elements_per_token(mixer) * kb
        if per_token and np.all(cached_tokens(mixer, np.array([1e18])) < 1e18):  # keeps a bounded number
            local.append((mixer, per_token))
        else:
            page += per_token * block_size
        entry = compressed_elements_per_entry(mixer)
        if entry:  # DeepSeek-V4: one compressed entry per compress_ratio tokens
            page += share * group.count * entry / mixer.compress_ratio * kb * block_size
        state += share * group.count * (state_elements_per_sequence(mixer) * sb
                                + (conv_state_elements_per_sequence(mixer) + pending_elements_per_sequence(mixer))
                                * ab)
    one = probe_scenario(settings, np.ones(1))
    tokens, seqs = max_batch_tokens / cost.attention_dp, max_seqs / cost.attention_dp  # one device's share
    prefill = build_ops(model, one, "prefill", T=np.array([tokens]), S=np.array([tokens]), plan=plan)
    decode = build_ops(model, probe_scenario(settings, np.array([seqs])), "decode", T=np.ones(1), S=np.ones(1),
                       plan=plan)
    weights = float((prefill.param_bytes[:, 0] * prefill.counts).sum()) if cost.pipeline_stages == 1 else \
        float(stage_weights_bytes(prefill, model, share)[0])
    activations = float(max(prefill.activation_bytes.max(), decode.activation_bytes.max()))
    usable = cost.hardware.memory_capacity_bytes * memory_fraction
    budget = usable - weights - activations
    if budget <= 0 and plan is not None:
        raise ScenarioError(
            f"{cost.model.name} does not fit this worker for serving: one device's weights {si(weights, 'B')} + "
            f"activations {si(activations, 'B')} (at {max_batch_tokens} batched tokens) exceed its usable "
            f"{si(usable, 'B')} (memory fraction {memory_fraction:g})")
    if budget <= 0:
        raise ScenarioError(
            f"{model.name} does not fit {cost.hardware.name} for serving: weights {si(weights, 'B')} + "
            f"activations {si(activations, 'B')} (at {max_batch_tokens} batched tokens) exceed the usable "
            f"{si(usable, 'B')} (memory fraction {memory_fraction:g}); use smaller formats, a smaller "
            "--max-batch-tokens, or a device with more memory")
    return KVCapacity(block_size=block_size, page_bytes=page, local_layers=tuple(local), state_bytes=state,
                      budget_bytes=budget * cost.attention_dp, weights_bytes=weights, activations_bytes=activations,
                      usable_bytes=usable)
