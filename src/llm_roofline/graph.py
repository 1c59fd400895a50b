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
from .cache import cache_chunk, cache_elements_per_token, cache_window, cached_tokens, state_elements_per_sequence
from .ffn import ffn
from .models.spec import Attention, LatentAttention, Layer, Mamba, ModelSpec
from .ops import ACT_FLOPS, LAYER_INPUT, OpTable, OpTableBuilder, Sizes, elementwise, linear, norm
from .precision import storage_bytes
from .scenario import Scenario

STAGES = ("prefill", "decode")


def sizes_for(scenario: Scenario, T: np.ndarray, S: np.ndarray) -> Sizes:
    sc = scenario
    return Sizes(
        B=sc.batch_size, T=T, S=S,
        wb=storage_bytes(sc.weights.bits, sc.group_size, sc.scale_bits),
        ab=sc.activations.bits / 8.0,
        kb=storage_bytes(sc.kv_cache.bits, sc.group_size, sc.scale_bits),
    )


def build_ops(model: ModelSpec, scenario: Scenario, stage: str, *, T: np.ndarray, S: np.ndarray,
              apply_window: bool | np.ndarray = True) -> OpTable:
    """The operator table of ``model`` for ``stage`` with T new tokens and KV length S per sequence.

    ``apply_window=False`` ignores sliding windows (S keys are visible), for all scenarios or per
    scenario (a boolean array): the whole-generation sum uses it to read off each operator's cost as
    an affine function of S, then applies the window.
    """
    sz = sizes_for(scenario, T, S)
    ops = OpTableBuilder(n=int(np.broadcast_shapes(sz.B.shape, T.shape, S.shape)[0]))
    D, V, name = model.hidden_size, model.vocab_size, model.op_name
    M = sz.M
    E = model.embedding_width
    # Embedding lookup: reads the rows of the tokens (at most V distinct), writes M x E.
    table_bytes = V * E * sz.wb
    ops.add(name("embed_tokens"), "embedding", 1, params=V * E, param_bytes=table_bytes,
            weight_bytes=np.minimum(M, V) * E * sz.wb, act_write=M * E * sz.ab)
    if E != D:
        linear(ops, sz, "project_in", 1, E, D, False)
    if model.learned_positions:
        rows = model.learned_positions
        ops.add(name("embed_positions"), "embedding", 1, params=rows * D, param_bytes=rows * D * sz.wb,
                weight_bytes=np.minimum(T, rows) * D * sz.wb, flops=M * D,
                act_read=M * D * sz.ab, act_write=M * D * sz.ab)
    if model.embedding_norm:
        norm(ops, sz, name("embedding_norm"), 1, D, "layernorm", True)

    layer_out = ops.last
    for group in model.layer_groups:
        layer_out = _layer(ops, sz, model, group.layer, group.count, stage, scenario.flash_attention,
                           apply_window)
    ops.last = layer_out
    if model.final_norm:
        final = name("final_norm")
        if any(final in g.layer.norm_names for g in model.layer_groups):  # OPT: both are final_layer_norm
            final = "decoder." + final
        norm(ops, sz, final, 1, D, model.final_norm_kind, model.final_norm_bias)
    logits_tokens = M if (stage == "prefill" and scenario.logits_all) else sz.B
    if E != D:
        linear(ops, sz, "project_out", 1, D, E, False, tokens=logits_tokens)
    linear(ops, sz, name("lm_head"), 1, E, V, model.lm_head_bias, tokens=logits_tokens)
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
           flash: bool, apply_window: bool) -> str:
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

    suffix = ".chunked" if chunk != np.inf else "" if window == np.inf else ".sliding"
    mixer_args = (ops, sz, model, layer, count, stage, flash, (window, chunk), suffix, apply_window)
    if layer.parallel:  # GPT-J, NeoX, Falcon, Phi-2: x + attn(ln(x)) + mlp(ln'(x))
        attn_in = add_norm(x)
        mlp_in = add_norm(x) if norms else attn_in
        attn_out = _mixer(*mixer_args, src=attn_in)
        mlp_out = ffn(ops, sz, model, layer, count, src=mlp_in)
        return residual("residual_add", x, attn_out, mlp_out)
    if layer.post_norm:  # OPT-350m: x = ln(x + attn(x)); x = ln'(x + mlp(x))
        h = add_norm(residual("attn_residual", x, _mixer(*mixer_args, src=x)))
        return add_norm(residual("mlp_residual", h, ffn(ops, sz, model, layer, count, src=h)))
    if layer.output_norms:  # OLMo 2: x = x + ln(attn(x)); x = x + ln'(mlp(x))
        h = residual("attn_residual", x, add_norm(_mixer(*mixer_args, src=x)))
        return residual("mlp_residual", h, add_norm(ffn(ops, sz, model, layer, count, src=h)))
    four_norms = len(norms) == 4  # Gemma 2/3: norms after the mixer and the MLP as well
    out = _mixer(*mixer_args, src=add_norm(x))
    if four_norms:
        out = add_norm(out)
    h = residual("attn_residual" if layer.ffn is not None else "residual_add", x, out)
    if layer.ffn is None:
        return h
    out = ffn(ops, sz, model, layer, count, src=add_norm(h))
    if four_norms:
        out = add_norm(out)
    return residual("mlp_residual", h, out)


def _mixer(ops, sz, model, layer, count, stage, flash, window, suffix, apply_window, *, src: str) -> str:
    mixer = layer.mixer
    if isinstance(mixer, Attention):
        return _attention(ops, sz, model, mixer, count, flash, window, suffix, apply_window, src)
    if isinstance(mixer, LatentAttention):
        return _latent_attention(ops, sz, model, mixer, count, stage, flash, src)
    return _mamba(ops, sz, model, mixer, count, stage, src)


def _rope(ops: OpTableBuilder, sz: Sizes, count: int, rotated_per_token: int, inputs: tuple[str, ...]) -> str:
    """Rotary embedding: 3 FLOPs per rotated element (x*cos + rot(x)*sin), read and write once."""
    return elementwise(ops, sz, "rope", count, sz.M * rotated_per_token, 3, 1, 1, inputs=inputs)


def _attention(ops, sz, model: ModelSpec, attn: Attention, count, flash, local, suffix, apply_window,
               src: str) -> str:
    D, name = model.hidden_size, model.op_name
    window, chunk = local
    N, K, H = attn.num_heads, attn.num_kv_heads, attn.head_dim
    if attn.fused_qkv:
        q = k = v = linear(ops, sz, name("qkv_proj"), count, D, (N + 2 * K) * H, attn.qkv_bias,
                           kv_out=2 * K * H, inputs=(src,))
    else:
        q = linear(ops, sz, name("q_proj"), count, D, N * H, attn.qkv_bias, inputs=(src,))
        k = linear(ops, sz, name("k_proj"), count, D, K * H, attn.qkv_bias, kv_out=K * H, inputs=(src,))
        v = linear(ops, sz, name("v_proj"), count, D, K * H, attn.qkv_bias, kv_out=K * H, inputs=(src,))
    if attn.qk_norm:
        q, k = _qk_norms(ops, sz, attn, count, q, k)
    if attn.rope_dim:
        q = k = _rope(ops, sz, count, (N + K) * attn.rope_dim, inputs=tuple(dict.fromkeys((q, k))))
    out = attention_core(ops, sz, count, heads=N, kv_heads=K, qk_dim=H, v_dim=H, window=window, flash=flash,
                         suffix=suffix, apply_window=apply_window, chunk=chunk, sinks=attn.sinks,
                         q_src=(q,), k_src=(k,), v_src=(v,))
    return linear(ops, sz, name("o_proj"), count, N * H, D, attn.o_bias, inputs=(out,))


def _qk_norms(ops, sz, attn: Attention, count, q: str, k: str) -> tuple[str, str]:
    """q_norm and k_norm over every query / key element: per head (width H; one H-wide weight for all
    heads, or one per head) or over the whole projection (width N*H and K*H)."""
    N, K, H, kind, bias = attn.num_heads, attn.num_kv_heads, attn.head_dim, attn.qk_norm_kind, attn.qk_norm_bias
    out = []
    for name, heads, src in (("q_norm", N, q), ("k_norm", K, k)):
        if attn.qk_norm_scope == "projection":
            out.append(norm(ops, sz, name, count, heads * H, kind, bias, inputs=(src,)))
            continue
        one = 0 if kind == "weightless_rmsnorm" else H * (2 if bias else 1)
        params = one * heads if attn.qk_norm_scope == "per_head" else one
        out.append(norm(ops, sz, name, count, H, kind, bias, tokens=sz.M * heads, params=params, inputs=(src,)))
    return out[0], out[1]


def _latent_attention(ops, sz, model: ModelSpec, mla: LatentAttention, count, stage, flash, src: str) -> str:
    """MLA. Prefill decompresses K and V for the new tokens (kv_b_proj) and runs N-head attention
    on activations (as HF does). Decode uses the absorbed form: q_nope is mapped into the latent
    space (q_absorb, W_UK), attention runs over the cached latent as one shared KV head, and the
    result is mapped back per head (out_absorb, W_UV): the weights of kv_b_proj, read once.
    Model size is read off the prefill table, where kv_b_proj owns these parameters."""
    D, N = model.hidden_size, mla.num_heads
    r_q, r_kv, d_nope, d_rope, d_v = (mla.q_lora_rank, mla.kv_lora_rank, mla.qk_nope_head_dim,
                                      mla.qk_rope_head_dim, mla.v_head_dim)
    if r_q:
        q = linear(ops, sz, "q_a_proj", count, D, r_q, mla.bias, inputs=(src,))
        q = norm(ops, sz, "q_a_layernorm", count, r_q, "rmsnorm", False, inputs=(q,))
        q = linear(ops, sz, "q_b_proj", count, r_q, N * (d_nope + d_rope), False, inputs=(q,))
    else:
        q = linear(ops, sz, "q_proj", count, D, N * (d_nope + d_rope), False, inputs=(src,))
    kv = linear(ops, sz, "kv_a_proj_with_mqa", count, D, r_kv + d_rope, mla.bias, kv_out=r_kv + d_rope,
                inputs=(src,))
    latent = norm(ops, sz, "kv_a_layernorm", count, r_kv, "rmsnorm", False, inputs=(kv,))
    rope = _rope(ops, sz, count, (N + 1) * d_rope, inputs=(q, kv))
    if stage == "prefill":
        kv_full = linear(ops, sz, "kv_b_proj", count, r_kv, N * (d_nope + d_v), False, inputs=(latent,))
        out = attention_core(ops, sz, count, heads=N, kv_heads=N, qk_dim=d_nope + d_rope, v_dim=d_v,
                             window=np.inf, flash=flash, kv_from_cache=False, q_src=(q, rope),
                             k_src=(kv_full, rope), v_src=(kv_full,))
    else:
        w_uk, w_uv = N * d_nope * r_kv, N * r_kv * d_v
        q_latent = ops.add("q_absorb", "matmul", count, compute="weights", flops=2.0 * sz.M * w_uk,
                           weight_bytes=w_uk * sz.wb, act_read=sz.M * N * d_nope * sz.ab,
                           act_write=sz.M * N * r_kv * sz.ab, inputs=(q,))
        core = attention_core(ops, sz, count, heads=N, kv_heads=1, qk_dim=r_kv + d_rope, v_dim=r_kv,
                              window=np.inf, flash=flash, shared_kv=True, q_src=(q_latent, rope),
                              k_src=(latent, rope), v_src=(latent,))
        out = ops.add("out_absorb", "matmul", count, compute="weights", flops=2.0 * sz.M * w_uv,
                      weight_bytes=w_uv * sz.wb, act_read=sz.M * N * r_kv * sz.ab,
                      act_write=sz.M * N * d_v * sz.ab, inputs=(core,))
    return linear(ops, sz, "o_proj", count, N * d_v, D, False, inputs=(out,))


def _mamba(ops, sz, model: ModelSpec, mamba: Mamba, count, stage, src: str) -> str:
    """Mamba (S6). The recurrent state (conv + SSM) is the layer's cache: decode reads and writes
    it every step; prefill writes the final state. Non-matmul parameters are kept at activation
    precision. selective_scan: 9 FLOPs per (token, channel, state) for exp(dt*A), dt*B*x, the
    state update and C*h, plus skip (D*x) and SiLU(z) gating per (token, channel)."""
    D, Di, Ns, C, R = model.hidden_size, mamba.d_inner, mamba.d_state, mamba.d_conv, mamba.dt_rank
    B, M = sz.B, sz.M
    in_proj = linear(ops, sz, "in_proj", count, D, 2 * Di, mamba.proj_bias, inputs=(src,))
    conv_params = Di * C + (Di if mamba.conv_bias else 0)
    conv_state = B * Di * C * sz.kb
    conv = ops.add("conv1d", "conv", count, flops=2.0 * M * Di * C + M * Di * (1 + ACT_FLOPS["silu"]),
            params=conv_params, weight_bytes=conv_params * sz.ab, param_bytes=conv_params * sz.ab,
            act_read=M * Di * sz.ab, act_write=M * Di * sz.ab,
            kv_read=conv_state if stage == "decode" else 0.0, kv_write=conv_state)
    x_proj = dt = bc = linear(ops, sz, "x_proj", count, Di, R + 2 * Ns, False)
    scan_inputs: tuple[str, ...] = (conv, x_proj)
    if mamba.inner_norms:
        kind = "rmsnorm" if mamba.inner_norm_weights else "weightless_rmsnorm"
        dt = norm(ops, sz, "dt_layernorm", count, R, kind, False, inputs=(x_proj,))
        b = norm(ops, sz, "b_layernorm", count, Ns, kind, False, inputs=(x_proj,))
        bc = norm(ops, sz, "c_layernorm", count, Ns, kind, False, inputs=(x_proj,))
        scan_inputs = (conv, b, bc)
    dt = linear(ops, sz, "dt_proj", count, R, Di, True, inputs=(dt,))
    scan_params = Di * Ns + Di  # A_log and D
    ssm_state = B * Di * Ns * sz.kb
    scan = ops.add("selective_scan", "scan", count, params=scan_params, inputs=(*scan_inputs, dt, in_proj),
            flops=9.0 * M * Di * Ns + M * Di * (2 + ACT_FLOPS["silu"] + 1),
            weight_bytes=scan_params * sz.ab, param_bytes=scan_params * sz.ab,
            act_read=M * (3 * Di + 2 * Ns) * sz.ab, act_write=M * Di * sz.ab,
            kv_read=ssm_state if stage == "decode" else 0.0, kv_write=ssm_state)
    return linear(ops, sz, "out_proj", count, Di, D, mamba.proj_bias, inputs=(scan,))


def cache_elements(model: ModelSpec, tokens: np.ndarray) -> np.ndarray:
    """KV-cache (and recurrent-state) elements of one sequence that has seen ``tokens`` tokens,
    summed over layers."""
    total = np.zeros_like(np.asarray(tokens, dtype=np.float64))
    for group in model.layer_groups:
        mixer = group.layer.mixer
        total = total + group.count * (cached_tokens(mixer, tokens) * cache_elements_per_token(mixer)
                                       + state_elements_per_sequence(mixer))
    return total
