"""Feed-forward blocks: the dense MLP (gated or plain) and the routed mixture of experts.

Each function adds its operators to the builder, reading the operator ``src``, and returns the
operator that produces the block's output.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .models.spec import Layer, ModelSpec, MoE
from .ops import ACT_FLOPS, elementwise, linear


def ffn(ops, sz, model: ModelSpec, layer: Layer, count, *, src: str, plan=None) -> str:
    ffn = layer.ffn
    with ops.scoped("ffn"):
        if isinstance(ffn, MoE):
            return moe(ops, sz, model, ffn, count, src, plan=plan)
        return mlp(ops, sz, model, count, ffn.intermediate_size, ffn.gated, ffn.activation, ffn.bias,
                   ffn.fused_gate_up, prefix="", src=src)


def mlp(ops, sz, model: ModelSpec, count, F, gated, activation, bias, fused, prefix, src: str) -> str:
    """Gated: gate/up D -> F, act(gate) * up, down F -> D. Plain: up D -> F, act, down F -> D."""
    D, name, M = model.hidden_size, model.op_name, sz.M
    if gated and fused:
        branches = (linear(ops, sz, prefix + name("gate_up_proj"), count, D, 2 * F, bias, inputs=(src,)),)
    elif gated:
        branches = (linear(ops, sz, prefix + name("gate_proj"), count, D, F, bias, inputs=(src,)),
                    linear(ops, sz, prefix + name("up_proj"), count, D, F, bias, inputs=(src,)))
    else:
        branches = (linear(ops, sz, prefix + name("up_proj"), count, D, F, bias, inputs=(src,)),)
    act = ACT_FLOPS[activation]
    if gated:
        elementwise(ops, sz, prefix + "act_fn", count, M * F, act + 1, 2, 1, inputs=branches)
    else:
        elementwise(ops, sz, prefix + "act_fn", count, M * F, act, 1, 1, inputs=branches)
    return linear(ops, sz, prefix + name("down_proj"), count, F, D, bias)


class Routing(NamedTuple):
    """What one device's routed experts do in one MoE layer: ``pairs`` token-expert products it
    computes, ``distinct`` experts those hit (expected), ``combined`` expert outputs its combine step
    sums per token, ``experts`` experts it holds. One device: (M*k, E*(1-(1-k/E)^M), k, E)."""

    pairs: np.ndarray
    distinct: np.ndarray
    combined: float
    experts: int


def expected_distinct_experts(tokens: np.ndarray, num_experts: int, top_k: int) -> np.ndarray:
    """Experts that at least one of ``tokens`` tokens routes to, in expectation, when each token
    picks k of E experts uniformly: E * (1 - (1 - k/E)^tokens)."""
    return num_experts * (1.0 - (1.0 - top_k / num_experts) ** tokens)


def moe(ops, sz, model: ModelSpec, moe: MoE, count, src: str, router_src: str | None = None, plan=None) -> str:
    """Routed experts: each of the M tokens runs k experts (FLOPs of M*k expert MLPs); the
    weights read are those of the expected number of distinct experts the batch routes to.
    ``router_src``: what the router reads, when not the experts' input ``src`` (Gemma 4).
    With a ``plan`` (expert parallelism), ``plan.routed`` gives the token-expert pairs this device
    computes, the distinct local experts they hit, and the pairs its combine step reads."""
    D, E, k, Fe, name = model.hidden_size, moe.num_experts, moe.top_k, moe.expert_intermediate_size, \
        model.op_name
    M = sz.M
    linear(ops, sz, name("router"), count, D, E, moe.router_bias, inputs=(router_src or src,))
    scales = E if moe.expert_scale else 0  # Gemma 4's per_expert_scale: one factor per expert
    routing = ops.add("topk_routing", "elementwise", count, flops=(3 + 2) * M * E, params=scales,
                      weight_bytes=scales * sz.ab, param_bytes=scales * sz.ab,
                      act_read=M * E * sz.ab, act_write=M * 2 * k * sz.ab)
    routing_ = Routing(M * k, expected_distinct_experts(M, E, k), k, E) if plan is None else plan.routed(moe, M)
    pairs, combined = routing_.pairs, routing_.combined
    prefix = name("experts") + "."
    if moe.gated and moe.fused_gate_up:  # one gate_up_proj tensor, D -> 2F per expert
        branches: tuple[str, ...] = (_expert_linear(ops, sz, prefix + name("gate_up_proj"), count, D, 2 * Fe, moe,
                                                    routing_, (src, routing)),)
    else:
        roles = ("gate_proj", "up_proj") if moe.gated else ("up_proj",)
        branches = tuple(_expert_linear(ops, sz, prefix + name(role), count, D, Fe, moe, routing_, (src, routing))
                         for role in roles)
    act = ACT_FLOPS[moe.activation]
    elementwise(ops, sz, prefix + "act_fn", count, pairs * Fe, act + (1 if moe.gated else 0),
                2 if moe.gated else 1, 1, inputs=branches)  # per expert output: gate and up read, one written
    down = _expert_linear(ops, sz, prefix + name("down_proj"), count, Fe, D, moe, routing_, None)
    out = elementwise(ops, sz, prefix + "combine", count, M * D, 2 * combined, combined, 1, inputs=(down, routing))
    if not moe.shared_intermediate_size:
        return out
    shared = name("shared_experts") + "."
    shared_out = mlp(ops, sz, model, count, moe.shared_intermediate_size, moe.gated, moe.activation, False,
                      False, prefix=shared, src=src)
    if not moe.shared_expert_gate:  # routed + shared
        return elementwise(ops, sz, shared + "add", count, M * D, 1, 2, 1, inputs=(out, shared_out))
    gate = linear(ops, sz, "shared_expert_gate", count, D, 1, False, inputs=(src,))
    # routed + sigmoid(gate) * shared: per output element a multiply and an add, reading both M x D
    # inputs; the M x 1 gate is read once per token and its sigmoid costs 4 FLOPs per token.
    return elementwise(ops, sz, shared + "add", count, M * D, 2 + 4 / D, 2 + 1 / D, 1,
                       inputs=(out, shared_out, gate))


def _expert_linear(ops, sz, name, count, d_in, d_out, moe: MoE, routing: Routing, inputs) -> str:
    """One projection of the routed experts a device holds (expert_row). With the techniques' weight
    options (``sz.weights``: precision, sparsity or low rank of these weights; techniques/tensors.py),
    those decide the storage and the kernel."""
    if sz.weights is not None:
        return sz.weights.expert_linear(ops, sz, name, count, d_in, d_out, moe, routing, inputs)
    return expert_row(ops, sz, name, count, d_in, d_out, moe, routing, inputs)


def expert_row(ops, sz, name, count, d_in, d_out, moe: MoE, routing: Routing, inputs, *, wb=None,
               compute="weights", flops_factor=1.0) -> str:
    """``routing.pairs`` token-expert products y = x @ W_e (+ b_e) (M*k on one device): FLOPs
    2*pairs*d_in*d_out (+ pairs*d_out), the weights of ``routing.distinct`` experts read (of
    ``routing.experts`` held), x read and y written per product. ``wb``, ``compute``,
    ``flops_factor`` as in ops.linear_row."""
    E, k, pairs = routing.experts, moe.top_k, routing.pairs
    wb = sz.wb if wb is None else wb
    per_expert = d_in * d_out + (d_out if moe.expert_bias else 0)
    expert_bytes = d_in * d_out * wb + (d_out * sz.ab if moe.expert_bias else 0.0)
    bias_flops = pairs * d_out if moe.expert_bias else 0.0  # as linear(): one add per output
    # Kernel shape: the grouped GEMM over the device's pairs (as tokens x top_k) and the experts they hit.
    return ops.add(name, "matmul", count, compute=compute,
            flops=2.0 * flops_factor * pairs * d_in * d_out + bias_flops,
            inputs=inputs, shape={"kernel": "moe", "m": pairs / k, "n": d_out, "k": d_in, "experts": E,
                                  "top_k": k, "distinct": routing.distinct},
            params=E * per_expert, active_params=k * per_expert, param_bytes=E * expert_bytes,
            weight_bytes=routing.distinct * expert_bytes, act_read=pairs * d_in * sz.ab,
            act_write=pairs * d_out * sz.ab)
