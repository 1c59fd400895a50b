"""Feed-forward blocks: the dense MLP (gated or plain) and the routed mixture of experts.

Each function adds its operators to the builder, reading the operator ``src``, and returns the
operator that produces the block's output.
"""

from __future__ import annotations

import numpy as np

from .models.spec import Layer, ModelSpec, MoE
from .ops import ACT_FLOPS, elementwise, linear


def ffn(ops, sz, model: ModelSpec, layer: Layer, count, *, src: str) -> str:
    ffn = layer.ffn
    if isinstance(ffn, MoE):
        return moe(ops, sz, model, ffn, count, src)
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


def expected_distinct_experts(tokens: np.ndarray, num_experts: int, top_k: int) -> np.ndarray:
    """Experts that at least one of ``tokens`` tokens routes to, in expectation, when each token
    picks k of E experts uniformly: E * (1 - (1 - k/E)^tokens)."""
    return num_experts * (1.0 - (1.0 - top_k / num_experts) ** tokens)


def moe(ops, sz, model: ModelSpec, moe: MoE, count, src: str, router_src: str | None = None) -> str:
    """Routed experts: each of the M tokens runs k experts (FLOPs of M*k expert MLPs); the
    weights read are those of the expected number of distinct experts the batch routes to.
    ``router_src``: what the router reads, when not the experts' input ``src`` (Gemma 4)."""
    D, E, k, Fe, name = model.hidden_size, moe.num_experts, moe.top_k, moe.expert_intermediate_size, \
        model.op_name
    M = sz.M
    linear(ops, sz, name("router"), count, D, E, moe.router_bias, inputs=(router_src or src,))
    scales = E if moe.expert_scale else 0  # Gemma 4's per_expert_scale: one factor per expert
    routing = ops.add("topk_routing", "elementwise", count, flops=(3 + 2) * M * E, params=scales,
                      weight_bytes=scales * sz.ab, param_bytes=scales * sz.ab,
                      act_read=M * E * sz.ab, act_write=M * 2 * k * sz.ab)
    distinct = expected_distinct_experts(M, E, k)
    prefix = name("experts") + "."
    if moe.gated and moe.fused_gate_up:  # one gate_up_proj tensor, D -> 2F per expert
        branches: tuple[str, ...] = (_expert_linear(ops, sz, prefix + name("gate_up_proj"), count, D, 2 * Fe, moe,
                                                    distinct, (src, routing)),)
    else:
        roles = ("gate_proj", "up_proj") if moe.gated else ("up_proj",)
        branches = tuple(_expert_linear(ops, sz, prefix + name(role), count, D, Fe, moe, distinct, (src, routing))
                         for role in roles)
    act = ACT_FLOPS[moe.activation]
    elementwise(ops, sz, prefix + "act_fn", count, M * k * Fe, act + (1 if moe.gated else 0),
                2 if moe.gated else 1, 1, inputs=branches)  # per expert output: gate and up read, one written
    down = _expert_linear(ops, sz, prefix + name("down_proj"), count, Fe, D, moe, distinct, None)
    out = elementwise(ops, sz, prefix + "combine", count, M * D, 2 * k, k, 1, inputs=(down, routing))
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


def _expert_linear(ops, sz, name, count, d_in, d_out, moe: MoE, distinct, inputs) -> str:
    """One projection of all routed experts of a layer: M*k token-expert products (expert_row)."""
    if sz.weights is not None:  # techniques/tensors.py: precision, sparsity or low rank of these weights
        return sz.weights.expert_linear(ops, sz, name, count, d_in, d_out, moe, distinct, inputs)
    return expert_row(ops, sz, name, count, d_in, d_out, moe, distinct, inputs)


def expert_row(ops, sz, name, count, d_in, d_out, moe: MoE, distinct, inputs, *, wb=None, compute="weights",
               flops_factor=1.0, tokens=None) -> str:
    """M*k token-expert products y = x @ W_e (+ b_e): FLOPs 2*M*k*d_in*d_out (+ M*k*d_out); reads the
    weights of the ``distinct`` experts the batch routes to (E of them are stored) and x per product,
    writes y per product. ``wb``, ``compute``, ``flops_factor`` as in ops.linear_row; ``tokens``: the
    tokens M (default B*T)."""
    M, E, k = (sz.M if tokens is None else tokens), moe.num_experts, moe.top_k
    wb = sz.wb if wb is None else wb
    per_expert = d_in * d_out + (d_out if moe.expert_bias else 0)
    expert_bytes = d_in * d_out * wb + (d_out * sz.ab if moe.expert_bias else 0.0)
    bias_flops = M * k * d_out if moe.expert_bias else 0.0  # as linear(): one add per output
    return ops.add(name, "matmul", count, compute=compute,
            flops=2.0 * flops_factor * M * k * d_in * d_out + bias_flops, inputs=inputs,
            params=E * per_expert, active_params=k * per_expert, param_bytes=E * expert_bytes,
            weight_bytes=distinct * expert_bytes, act_read=M * k * d_in * sz.ab,
            act_write=M * k * d_out * sz.ab)
