"""A dense MLP and a routed MoE side by side (Gemma 4's ``enable_moe_block``), after transformers'
``Gemma4TextDecoderLayer`` (https://github.com/huggingface/transformers/blob/v5.23.0/src/transformers/models/
gemma4/modeling_gemma4.py):

    h1 = post_feedforward_layernorm_1(mlp(pre_feedforward_layernorm(h)))
    h2 = post_feedforward_layernorm_2(experts(pre_feedforward_layernorm_2(h), router(h)))
    out = h1 + h2        (then post_feedforward_layernorm and the residual add, as in Gemma 2)

The router normalises h with an RMSNorm without weight, scales it by ``router.scale`` (D parameters,
counted on ``router.norm``) and projects it to the E experts (``router.proj``); the top-k weights are
scaled by ``per_expert_scale`` (E parameters, ``MoE.expert_scale``, on ``topk_routing``).
"""

from __future__ import annotations

from .ffn import mlp, moe
from .models.spec import MLPAndMoE, ModelSpec
from .ops import communicate, elementwise, norm


def mlp_and_moe(ops, sz, model: ModelSpec, pair: MLPAndMoE, count, *, src: str, residual: str,
                norm_kind: str, plan=None) -> str:
    """``src``: pre_feedforward_layernorm(h); ``residual``: h. Returns the summed output. Under a
    deployment (``plan``) each branch's partial output is reduced before its post-norm (a norm of a
    partial sum would be wrong): the MLP's all-reduce, then the experts' communication."""
    with ops.scoped("ffn"):
        return _mlp_and_moe(ops, sz, model, pair, count, src, residual, norm_kind, plan)


def _mlp_and_moe(ops, sz, model: ModelSpec, pair: MLPAndMoE, count, src: str, residual: str, norm_kind: str,
                 plan) -> str:
    D = model.hidden_size
    dense = pair.mlp
    h1 = mlp(ops, sz, model, count, dense.intermediate_size, dense.gated, dense.activation, dense.bias,
             dense.fused_gate_up, prefix="", src=src)
    h1 = communicate(plan, "ffn", ops, sz, dense, count, h1)
    h1 = norm(ops, sz, "post_feedforward_layernorm_1", count, D, norm_kind, False, inputs=(h1,))
    routed = norm(ops, sz, "router.norm", count, D, norm_kind, False, inputs=(residual,))  # weight = router.scale
    experts_in = norm(ops, sz, "pre_feedforward_layernorm_2", count, D, norm_kind, False, inputs=(residual,))
    h2 = moe(ops, sz, model, pair.moe, count, experts_in, router_src=routed, plan=plan)
    h2 = communicate(plan, "ffn", ops, sz, pair.moe, count, h2)
    h2 = norm(ops, sz, "post_feedforward_layernorm_2", count, D, norm_kind, False, inputs=(h2,))
    return elementwise(ops, sz, "mlp_moe_add", count, sz.M * D, 1, 2, 1, inputs=(h1, h2))
