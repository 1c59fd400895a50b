"""Per-layer embeddings (PLE, Gemma 4's ``hidden_size_per_layer_input``): every decoder layer receives a
small extra input, made once per token from a second embedding table and a projection of the token
embeddings, after transformers' ``Gemma4TextModel.get_per_layer_inputs`` / ``project_per_layer_inputs``
and ``Gemma4TextDecoderLayer`` (https://github.com/huggingface/transformers/blob/v5.23.0/src/transformers/
models/gemma4/modeling_gemma4.py). With L layers and a per-layer width p:

- model start: ``embed_tokens_per_layer`` (V_p rows of L*p), ``per_layer_model_projection`` D -> L*p,
  ``per_layer_projection_norm`` (RMSNorm over p, for each of the L slices), and their sum scaled by
  1/sqrt(2) (``per_layer_inputs``: 2 FLOPs per element);
- in every layer, after the feed-forward residual: ``per_layer_input_gate`` D -> p, the activation
  times the layer's slice (``per_layer_act``), ``per_layer_projection`` p -> D,
  ``post_per_layer_input_norm`` and a residual add.
"""

from __future__ import annotations

import numpy as np

from .models.spec import ModelSpec
from .ops import ACT_FLOPS, communicate, elementwise, linear, norm

PER_LAYER_INPUTS = "per_layer_inputs"  # the operator whose output every layer's slice comes from


def per_layer_inputs(ops, sz, model: ModelSpec, activation_src: str, plan=None) -> str:
    """Model-start operators; ``activation_src`` holds the (scaled) token embeddings. Under tensor
    parallelism (``plan``) the table is vocabulary-parallel like ``embed_tokens``: its rows are
    all-reduced (M*L*p elements)."""
    D, M, L, p = model.hidden_size, sz.M, model.num_layers, model.per_layer_input_size
    V = model.per_layer_vocab_size
    wb = sz.weight_of("embed_tokens_per_layer")[0]
    table = ops.add("embed_tokens_per_layer", "embedding", 1, params=V * L * p, param_bytes=V * L * p * wb,
                    weight_bytes=np.minimum(M, V) * L * p * wb, act_write=M * L * p * sz.ab, inputs=())
    table = communicate(plan, "per_layer_embedding", ops, sz, None, 1, table, width=L * p)
    projected = linear(ops, sz, "per_layer_model_projection", 1, D, L * p, False, inputs=(activation_src,))
    normed = norm(ops, sz, "per_layer_projection_norm", 1, p, "rmsnorm", False, tokens=M * L, inputs=(projected,))
    return elementwise(ops, sz, PER_LAYER_INPUTS, 1, M * L * p, 2, 2, 1, inputs=(normed, table))


def per_layer_input_block(ops, sz, model: ModelSpec, count, activation: str, src: str, norm_kind: str) -> str:
    """The per-layer input step at the end of a layer reading ``src``; returns its output operator."""
    D, M, p = model.hidden_size, sz.M, model.per_layer_input_size
    gate = linear(ops, sz, "per_layer_input_gate", count, D, p, False, inputs=(src,))
    mixed = elementwise(ops, sz, "per_layer_act", count, M * p, ACT_FLOPS[activation] + 1, 2, 1,
                        inputs=(gate, PER_LAYER_INPUTS))
    out = linear(ops, sz, "per_layer_projection", count, p, D, False, inputs=(mixed,))
    out = norm(ops, sz, "post_per_layer_input_norm", count, D, norm_kind, False, inputs=(out,))
    return elementwise(ops, sz, "per_layer_residual", count, M * D, 1, 2, 1, inputs=(src, out))
