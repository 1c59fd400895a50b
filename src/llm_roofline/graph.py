"""build_ops: every operator of the model (model ends + one entry per distinct layer) for one stage.

Operators appear in dataflow order. Names follow the family's HF module names where a module
exists (``q_proj``, ``down_proj``, ``lm_head``...); the attention core, activations and residual
adds are named ``qk_matmul``, ``softmax``, ``sv_matmul`` / ``fused_attention``, ``act_fn``,
``residual_add``. Stage ``prefill``: T = S = prompt tokens; ``decode``: T = 1, S = KV length.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .attention import attention_core
from .cache import cache_chunk, cache_window, conv_state_elements_per_sequence, state_elements_per_sequence
from .compressed_attention import compressed_attention
from .ffn import ffn
from .ffn_pair import mlp_and_moe
from .hyper_connections import hc_expand, hc_head, hyper_layer
from .latent_attention import latent_attention
from .linear_attention import gated_delta_net
from .mamba2 import mamba2_mixer
from .models.spec import (
    Attention,
    CompressedAttention,
    GatedDeltaNet,
    LatentAttention,
    Layer,
    Mamba,
    Mamba2,
    MLPAndMoE,
    ModelSpec,
    SparseLatentAttention,
)
from .ops import (
    ACT_FLOPS,
    LAYER_INPUT,
    NORM_FLOPS,
    OpTable,
    OpTableBuilder,
    Sizes,
    communicate,
    elementwise,
    linear,
    norm,
    rope,
)
from .per_layer_inputs import per_layer_input_block, per_layer_inputs
from .precision import format_storage_bytes
from .scenario import Scenario
from .sparse_attention import sparse_latent_attention

STAGES = ("prefill", "decode")


def sizes_for(scenario: Scenario, T: np.ndarray, S: np.ndarray, options=None) -> Sizes:
    """``options``: the techniques' graph options (techniques/graph_options.py) or None."""
    sc = scenario
    return Sizes(
        B=sc.batch_size, T=T, S=S,
        wb=format_storage_bytes(sc.weights, sc.group_size, sc.scale_bits),
        ab=sc.activations.bits / 8.0,
        kb=format_storage_bytes(sc.kv_cache, sc.group_size, sc.scale_bits),
        sb=format_storage_bytes(sc.state, sc.group_size, sc.scale_bits),
        weights=None if options is None else options.weights,
        attention=None if options is None else options.attention,
    )


def build_ops(model: ModelSpec, scenario: Scenario, stage: str, *, T: np.ndarray, S: np.ndarray,
              apply_window: bool | np.ndarray = True, plan=None, all_logits: bool | np.ndarray = False,
              options=None) -> OpTable:
    """The operator table of ``model`` for ``stage`` with T new tokens and KV length S per sequence.

    ``apply_window=False`` ignores sliding windows (S keys are visible), for all scenarios or per
    scenario (a boolean array): the whole-generation sum uses it to read off each operator's cost as
    an affine function of S, then applies the window. ``all_logits``: lm_head runs on all T tokens of
    each sequence (a speculative verify step), not only the last; for all scenarios or per scenario.

    ``plan`` (one device of a multi-device deployment, ``parallel.plan.DevicePlan``): ``model`` is then
    that device's shard, and the plan adds the communication operators after the blocks whose outputs
    are partial (``ops.communicate``) and says how many routed tokens reach the device's experts.
    ``options``: the techniques' graph options (techniques/graph_options.py; None: every technique off).
    """
    sz = sizes_for(scenario, T, S, options)
    ops = OpTableBuilder(n=int(np.broadcast_shapes(sz.B.shape, T.shape, S.shape)[0]))
    D, V, name = model.hidden_size, model.vocab_size, model.op_name
    M = sz.M
    E = model.embedding_width
    # Embedding lookup: reads the rows of the tokens (at most V distinct), writes M x E.
    embed_wb = sz.weight_of(name("embed_tokens"))[0]
    table_bytes = V * E * embed_wb
    ops.add(name("embed_tokens"), "embedding", 1, params=V * E, param_bytes=table_bytes,
            weight_bytes=np.minimum(M, V) * E * embed_wb, act_write=M * E * sz.ab)
    communicate(plan, "embedding", ops, sz, None, 1, ops.last)
    if E != D:
        linear(ops, sz, "project_in", 1, E, D, False)
    if model.learned_positions:
        rows = model.learned_positions
        pos_wb = sz.weight_of(name("embed_positions"))[0]
        ops.add(name("embed_positions"), "embedding", 1, params=rows * D, param_bytes=rows * D * pos_wb,
                weight_bytes=np.minimum(T, rows) * D * pos_wb, flops=M * D,
                act_read=M * D * sz.ab, act_write=M * D * sz.ab)
    if model.embedding_norm:
        norm(ops, sz, name("embedding_norm"), 1, D, "layernorm", True)
    if model.hc_mult > 1:
        hc_expand(ops, sz, model)
    layer_in = ops.last
    if model.per_layer_input_size:
        per_layer_inputs(ops, sz, model, layer_in, plan)
        ops.last = layer_in

    layer_out = ops.last
    ops.part = "layer"
    with ops.scoped("layer"):
        for group in model.layer_groups:
            layer_out = _layer(ops, sz, model, group.layer, group.count, stage, scenario.flash_attention,
                               apply_window, plan)
    ops.last = layer_out
    ops.part = "handoff"  # between pipeline stages: the residual, hc_mult streams of D with hyper-connections
    communicate(plan, "stages", ops, sz, None, 1, ops.last, width=model.hc_mult * D)
    ops.part = "tail"
    if model.hc_mult > 1:
        hc_head(ops, sz, model)
    if model.final_norm:
        final = name("final_norm")
        if any(final in g.layer.norm_names for g in model.layer_groups):  # OPT: both are final_layer_norm
            final = "decoder." + final
        norm(ops, sz, final, 1, D, model.final_norm_kind, model.final_norm_bias)
    logits_tokens = M if stage == "prefill" and scenario.logits_all else sz.B
    if np.any(all_logits):
        logits_tokens = np.where(all_logits, M, logits_tokens)
    if E != D:
        linear(ops, sz, "project_out", 1, D, E, False, tokens=logits_tokens)
    linear(ops, sz, name("lm_head"), 1, E, V, model.lm_head_bias, tokens=logits_tokens)
    communicate(plan, "lm_head", ops, sz, None, 1, ops.last, tokens=logits_tokens)
    table = ops.build()
    if model.tie_word_embeddings:  # lm_head reads the embedding matrix; its parameters are counted once
        table = _untie_lm_head(table, name("lm_head"), V * E, table_bytes)
    return table


def _untie_lm_head(table: OpTable, lm_head: str, tied_params: int, tied_bytes: np.ndarray) -> OpTable:
    i = table.names.index(lm_head)
    params, active, param_bytes = table.params.copy(), table.active_params.copy(), table.param_bytes.copy()
    params[i] -= tied_params
    active[i] -= tied_params
    param_bytes[i] = param_bytes[i] - tied_bytes
    return replace(table, params=params, active_params=active, param_bytes=param_bytes)


def _layer(ops: OpTableBuilder, sz: Sizes, model: ModelSpec, layer: Layer, count: int, stage: str,
           flash: bool, apply_window: bool, plan=None) -> str:
    """One decoder layer, reading LAYER_INPUT; returns the operator that produces its output."""
    D = model.hidden_size
    window, chunk = cache_window(layer.mixer), cache_chunk(layer.mixer)
    norms = list(layer.norm_names)
    x = LAYER_INPUT

    def add_norm(src: str) -> str:
        if not norms:
            return src
        return norm(ops, sz, norms.pop(0), count, D, layer.norm_kind, layer.norm_bias, inputs=(src,))

    def residual(name: str, *sources: str) -> str:
        n = len(sources)
        return elementwise(ops, sz, name, count, sz.M * D, n - 1, n, 1, inputs=sources)

    def mixer(src: str) -> str:
        return communicate(plan, "mixer", ops, sz, layer.mixer, count, _mixer(*mixer_args, src=src, plan=plan))

    def feed_forward(src: str) -> str:
        return communicate(plan, "ffn", ops, sz, layer.ffn, count, ffn(ops, sz, model, layer, count, src=src,
                                                                         plan=plan))

    if layer.mixer is None:  # a feed-forward block alone (Nemotron-H's MLP and MoE layers)
        return residual("residual_add", x, feed_forward(add_norm(x)))
    suffix = ".chunked" if chunk != np.inf else "" if window == np.inf else ".sliding"
    mixer_args = (ops, sz, model, layer, count, stage, flash, (window, chunk), suffix, apply_window)
    if model.hc_mult > 1:  # DeepSeek-V4: the residual is hc_mult streams
        return hyper_layer(ops, sz, model, layer, count, mixer, feed_forward)
    if layer.parallel:  # GPT-J, NeoX, Falcon, Phi-2: x + attn(ln(x)) + mlp(ln'(x))
        attn_in = add_norm(x)
        mlp_in = add_norm(x) if norms else attn_in
        attn_out = mixer(attn_in)
        mlp_out = feed_forward(mlp_in)
        return residual("residual_add", x, attn_out, mlp_out)
    if layer.post_norm:  # OPT-350m: x = ln(x + attn(x)); x = ln'(x + mlp(x))
        h = add_norm(residual("attn_residual", x, mixer(x)))
        return add_norm(residual("mlp_residual", h, feed_forward(h)))
    if layer.output_norms:  # OLMo 2: x = x + ln(attn(x)); x = x + ln'(mlp(x))
        h = residual("attn_residual", x, add_norm(mixer(x)))
        return residual("mlp_residual", h, add_norm(feed_forward(h)))
    four_norms = len(norms) == 4  # Gemma 2/3: norms after the mixer and the MLP as well
    out = mixer(add_norm(x))
    if four_norms:
        out = add_norm(out)
    h = residual("attn_residual" if layer.ffn is not None else "residual_add", x, out)
    if layer.ffn is None:
        return h
    if isinstance(layer.ffn, MLPAndMoE):  # Gemma 4: the MoE reads h itself, besides the MLP's norm
        out = mlp_and_moe(ops, sz, model, layer.ffn, count, src=add_norm(h), residual=h, norm_kind=layer.norm_kind,
                          plan=plan)
    else:
        out = feed_forward(add_norm(h))
    if four_norms:
        out = add_norm(out)
    out = residual("mlp_residual", h, out)
    if model.per_layer_input_size:
        out = per_layer_input_block(ops, sz, model, count, _activation_of(layer), out, layer.norm_kind)
    return out


def _activation_of(layer: Layer) -> str:
    ffn = layer.ffn.mlp if isinstance(layer.ffn, MLPAndMoE) else layer.ffn
    return getattr(ffn, "activation", "gelu_tanh")


def _mixer(ops, sz, model, layer, count, stage, flash, local, suffix, apply_window, *, src: str, plan=None) -> str:
    with ops.scoped("mixer"):
        return _mixer_ops(ops, sz, model, layer, count, stage, flash, local, suffix, apply_window, src, plan)


def _mixer_ops(ops, sz, model, layer, count, stage, flash, local, suffix, apply_window, src: str, plan) -> str:
    mixer = layer.mixer
    if isinstance(mixer, Attention):
        return _attention(ops, sz, model, mixer, count, flash, local, suffix, apply_window, src)
    if isinstance(mixer, LatentAttention):
        return latent_attention(ops, sz, model, mixer, count, stage, flash, src)
    if isinstance(mixer, SparseLatentAttention):
        return sparse_latent_attention(ops, sz, model, mixer, count, stage, flash, apply_window, src)
    if isinstance(mixer, GatedDeltaNet):
        return gated_delta_net(ops, sz, model, mixer, count, stage, src)
    if isinstance(mixer, Mamba2):
        return mamba2_mixer(ops, sz, model, mixer, count, stage, src)
    if isinstance(mixer, CompressedAttention):
        return compressed_attention(ops, sz, model, mixer, count, flash, apply_window, src)
    return _mamba(ops, sz, model, mixer, count, stage, src, plan)


def _attention(ops, sz, model: ModelSpec, attn: Attention, count, flash, local, suffix, apply_window,
               src: str) -> str:
    D = model.hidden_size
    window, chunk = local
    N, K, H = attn.num_heads, attn.num_kv_heads, attn.head_dim
    # Sliding and global layers of different shapes (Gemma 4) keep apart: every operator of a sliding
    # layer then carries the suffix, not only the attention core.
    own = suffix if _attention_shapes_differ(model) else ""

    def name(role: str) -> str:
        return model.op_name(role) + own

    q_width = 2 * N * H if attn.output_gate else N * H  # the output gate comes out of q_proj too
    if attn.fused_qkv:
        q = k = v = linear(ops, sz, name("qkv_proj"), count, D, q_width + 2 * K * H, attn.qkv_bias,
                           kv_out=2 * K * H, inputs=(src,))
    else:
        q = linear(ops, sz, name("q_proj"), count, D, q_width, attn.qkv_bias, inputs=(src,))
        if attn.kv_shared:  # K and V come from an earlier layer's cache (Gemma 4)
            k = v = None
        else:
            k = linear(ops, sz, name("k_proj"), count, D, K * H, attn.qkv_bias, kv_out=K * H, inputs=(src,))
            v = k if attn.k_eq_v else linear(ops, sz, name("v_proj"), count, D, K * H, attn.qkv_bias,
                                             kv_out=K * H, inputs=(src,))
    gate = q
    if attn.qk_norm:
        q, k = _qk_norms(ops, sz, attn, count, q, k, own)
    if attn.v_norm and v is not None:  # an RMSNorm without weight over each value head; with k_eq_v it writes V
        v = ops.add("v_norm" + own, "norm", count, flops=(NORM_FLOPS["rmsnorm"] - 1) * sz.M * K * H, inputs=(v,),
                    act_read=sz.M * K * H * sz.ab, act_write=sz.M * K * H * sz.ab,
                    kv_write=sz.M * K * H * sz.kb if attn.k_eq_v else 0.0)
    if attn.rope_dim:
        rotated_heads = N if k is None else N + K
        q = rope(ops, sz, count, rotated_heads * attn.rope_dim, inputs=tuple(n for n in dict.fromkeys((q, k)) if n),
                 name="rope" + own)
        k = k if k is None else q
    out = attention_core(ops, sz, count, heads=N, kv_heads=K, qk_dim=H, v_dim=H, window=window, flash=flash,
                         suffix=suffix, apply_window=apply_window, chunk=chunk, sinks=attn.sinks,
                         q_src=(q,), k_src=(k,) if k else (), v_src=(v,) if v else ())
    if attn.output_gate:  # out * sigmoid(gate): 4 + 1 FLOPs per element, reading both
        out = elementwise(ops, sz, "attn_output_gate" + own, count, sz.M * N * H, ACT_FLOPS["silu"] + 1, 2, 1,
                          inputs=(out, gate))
    return linear(ops, sz, name("o_proj"), count, N * H, D, attn.o_bias, inputs=(out,))


def _qk_norms(ops, sz, attn: Attention, count, q: str, k: str | None, own: str) -> tuple[str, str | None]:
    """q_norm and k_norm over every query / key element: per head (width H; one H-wide weight for all
    heads, or one per head) or over the whole projection (width N*H and K*H). No k_norm when the layer
    has no keys of its own (Gemma 4's KV-shared layers)."""
    N, K, H, kind, bias = attn.num_heads, attn.num_kv_heads, attn.head_dim, attn.qk_norm_kind, attn.qk_norm_bias
    out: list[str | None] = []
    for name, heads, src in (("q_norm", N, q), ("k_norm", K, k)):
        if src is None:
            out.append(None)
        elif attn.qk_norm_scope == "projection":
            out.append(norm(ops, sz, name + own, count, heads * H, kind, bias, inputs=(src,)))
        else:
            one = 0 if kind == "weightless_rmsnorm" else H * (2 if bias else 1)
            params = one * heads if attn.qk_norm_scope == "per_head" else one
            out.append(norm(ops, sz, name + own, count, H, kind, bias, tokens=sz.M * heads, params=params,
                            inputs=(src,)))
    return out[0], out[1]


def _attention_shapes_differ(model: ModelSpec) -> bool:
    """Whether the model's attention layers differ in the shapes of their projections (Gemma 4's sliding
    and global layers: other head sizes, K = V); a window, a chunk, NoPE or a q/k norm alone does not."""
    shapes = {(m.num_heads, m.num_kv_heads, m.head_dim, m.k_eq_v, m.output_gate)
              for m in (g.layer.mixer for g in model.layer_groups) if isinstance(m, Attention)}
    return len(shapes) > 1


def _mamba(ops, sz, model: ModelSpec, mamba: Mamba, count, stage, src: str, plan=None) -> str:
    """Mamba (S6). The recurrent state is the layer's cache: decode reads and writes it every step,
    prefill writes the final one; the conv state (d_inner x d_conv) at activation precision, the SSM
    state (d_inner x d_state) at state precision (see cache.py). Non-matmul parameters are kept at
    activation precision. selective_scan: 9 FLOPs per (token, channel, state) for exp(dt*A), dt*B*x, the
    state update and C*h, plus skip (D*x) and SiLU(z) gating per (token, channel)."""
    D, Di, Ns, C, R = model.hidden_size, mamba.d_inner, mamba.d_state, mamba.d_conv, mamba.dt_rank
    B, M = sz.B, sz.M
    in_proj = linear(ops, sz, "in_proj", count, D, 2 * Di, mamba.proj_bias, inputs=(src,))
    conv_params = Di * C + (Di if mamba.conv_bias else 0)
    conv_state = B * conv_state_elements_per_sequence(mamba) * sz.ab
    conv = ops.add("conv1d", "conv", count, flops=2.0 * M * Di * C + M * Di * (1 + ACT_FLOPS["silu"]),
            params=conv_params, weight_bytes=conv_params * sz.ab, param_bytes=conv_params * sz.ab,
            act_read=M * Di * sz.ab, act_write=M * Di * sz.ab,
            kv_read=conv_state if stage == "decode" else 0.0, kv_write=conv_state)
    x_proj = dt = bc = linear(ops, sz, "x_proj", count, Di, R + 2 * Ns, False)
    x_proj = dt = bc = communicate(plan, "x_proj", ops, sz, None, count, x_proj, width=R + 2 * Ns)
    scan_inputs: tuple[str, ...] = (conv, x_proj)
    if mamba.inner_norms:
        kind = "rmsnorm" if mamba.inner_norm_weights else "weightless_rmsnorm"
        dt = norm(ops, sz, "dt_layernorm", count, R, kind, False, inputs=(x_proj,))
        b = norm(ops, sz, "b_layernorm", count, Ns, kind, False, inputs=(x_proj,))
        bc = norm(ops, sz, "c_layernorm", count, Ns, kind, False, inputs=(x_proj,))
        scan_inputs = (conv, b, bc)
    dt = linear(ops, sz, "dt_proj", count, R, Di, True, inputs=(dt,))
    scan_params = Di * Ns + Di  # A_log and D
    ssm_state = B * state_elements_per_sequence(mamba) * sz.sb
    scan = ops.add("selective_scan", "scan", count, params=scan_params, inputs=(*scan_inputs, dt, in_proj),
            flops=9.0 * M * Di * Ns + M * Di * (2 + ACT_FLOPS["silu"] + 1),
            weight_bytes=scan_params * sz.ab, param_bytes=scan_params * sz.ab,
            act_read=M * (3 * Di + 2 * Ns) * sz.ab, act_write=M * Di * sz.ab,
            kv_read=ssm_state if stage == "decode" else 0.0, kv_write=ssm_state)
    return linear(ops, sz, "out_proj", count, Di, D, mamba.proj_bias, inputs=(scan,))
