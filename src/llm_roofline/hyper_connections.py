"""Manifold-constrained hyper-connections (mHC, DeepSeek-V4's ``hc_mult``): the residual is n streams of
D, collapsed into one block input and expanded back after the block, after transformers'
``DeepseekV4HyperConnection`` / ``DeepseekV4HyperHead`` (https://github.com/huggingface/transformers/blob/
v5.23.0/src/transformers/models/deepseek_v4/modeling_deepseek_v4.py). Per block (``attn_hc`` before
attention, ``ffn_hc`` before the MoE), per token:

- ``{site}.norm``: an RMSNorm without weight over the n*D streams (3 FLOPs per element);
- ``{site}.fn``: n*D -> (2 + n)*n mixing logits (the ``fn`` parameter, (2 + n)*n x n*D);
- ``{site}.weights``: pre and post sigmoids, the comb softmax and its Sinkhorn-Knopp normalisation
  (``base`` (2 + n)*n and ``scale`` 3 parameters): 2 per logit (scale, bias), 5 per sigmoid / softmax
  entry, 4 per comb entry and Sinkhorn iteration (``hc_sinkhorn_iters``, 20 in V4-Flash: a constant
  here, nominal FLOPs on n^2 = 16 numbers);
- ``{site}.collapse``: the pre-weighted sum of the streams, 2*n*D FLOPs;
- after the block, ``{site}.expand``: post * output + comb^T @ streams, (2*n + 2*n^2)*D FLOPs, writing
  the n streams.

Model ends: ``hc_expand`` copies the embeddings into n streams; ``hc_head.fn`` (n*D -> n) and
``hc_head`` (sigmoid weights, ``hc_base`` n and ``hc_scale`` 1 parameters, and the weighted sum) make one
stream before the final norm.
"""

from __future__ import annotations

from collections.abc import Callable

from .models.spec import Layer, ModelSpec
from .ops import LAYER_INPUT, NORM_FLOPS, elementwise, linear, norm

SINKHORN_ITERS = 20  # hc_sinkhorn_iters of DeepSeek-V4-Flash


def _weights_flops(n: int) -> int:
    return 2 * (2 + n) * n + 5 * (2 * n + n * n) + 4 * n * n * SINKHORN_ITERS


def hyper_layer(ops, sz, model: ModelSpec, layer: Layer, count, mixer: Callable[[str], str],
                ffn: Callable[[str], str]) -> str:
    """One decoder layer with hyper-connections; ``mixer`` and ``ffn`` build the blocks from their input."""
    n, D, M = model.hc_mult, model.hidden_size, sz.M
    streams = LAYER_INPUT
    for site, norm_name, block in (("attn_hc", layer.norm_names[0], mixer), ("ffn_hc", layer.norm_names[1], ffn)):
        flat = elementwise(ops, sz, f"{site}.norm", count, M * n * D, NORM_FLOPS["rmsnorm"] - 1, 1, 1,
                           inputs=(streams,))
        logits = linear(ops, sz, f"{site}.fn", count, n * D, (2 + n) * n, False, inputs=(flat,))
        params = (2 + n) * n + 3
        weights = ops.add(f"{site}.weights", "elementwise", count, inputs=(logits,), params=params,
                          weight_bytes=params * sz.ab, param_bytes=params * sz.ab, flops=M * _weights_flops(n),
                          act_read=M * (2 + n) * n * sz.ab, act_write=M * (2 + n) * n * sz.ab)
        collapsed = ops.add(f"{site}.collapse", "elementwise", count, inputs=(streams, weights),
                            flops=2.0 * M * n * D, act_read=M * n * D * sz.ab, act_write=M * D * sz.ab)
        out = block(norm(ops, sz, norm_name, count, D, layer.norm_kind, layer.norm_bias, inputs=(collapsed,)))
        streams = ops.add(f"{site}.expand", "elementwise", count, inputs=(out, streams, weights),
                          flops=M * (2.0 * n + 2.0 * n * n) * D, act_read=M * (n + 1) * D * sz.ab,
                          act_write=M * n * D * sz.ab)
    return streams


def hc_expand(ops, sz, model: ModelSpec) -> str:
    """The embeddings copied into n streams."""
    n, D = model.hc_mult, model.hidden_size
    return ops.add("hc_expand", "elementwise", 1, act_read=sz.M * D * sz.ab, act_write=sz.M * n * D * sz.ab)


def hc_head(ops, sz, model: ModelSpec) -> str:
    """The n streams collapsed into one before the final norm."""
    n, D, M = model.hc_mult, model.hidden_size, sz.M
    flat = elementwise(ops, sz, "hc_head.norm", 1, M * n * D, NORM_FLOPS["rmsnorm"] - 1, 1, 1)
    logits = linear(ops, sz, "hc_head.fn", 1, n * D, n, False, inputs=(flat,))
    params = n + 1
    return ops.add("hc_head", "elementwise", 1, inputs=(logits,), params=params, weight_bytes=params * sz.ab,
                   param_bytes=params * sz.ab, flops=M * (5.0 * n + 2.0 * n * D), act_read=M * n * D * sz.ab,
                   act_write=M * D * sz.ab)
