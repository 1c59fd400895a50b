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
from .cache import cache_elements_per_token, cache_window, cached_tokens, state_elements_per_sequence
from .models.spec import MLP, Attention, LatentAttention, Layer, Mamba, ModelSpec, MoE
from .ops import ACT_FLOPS, OpTable, OpTableBuilder, Sizes, elementwise, linear, norm
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
              apply_window: bool = True) -> OpTable:
    """The operator table of ``model`` for ``stage`` with T new tokens and KV length S per sequence.

    ``apply_window=False`` ignores sliding windows (S keys are visible): the whole-generation sum
    uses it to read off each operator's cost as an affine function of S, then applies the window.
    """
    sz = sizes_for(scenario, T, S)
    ops = OpTableBuilder(n=int(np.broadcast_shapes(sz.B.shape, T.shape, S.shape)[0]))
    D, V, name = model.hidden_size, model.vocab_size, model.op_name
    M = sz.M
    # Embedding lookup: reads the rows of the tokens (at most V distinct), writes M x D.
    table_bytes = V * D * sz.wb
    ops.add(name("embed_tokens"), "embedding", 1, params=V * D, param_bytes=table_bytes,
            weight_bytes=np.minimum(M, V) * D * sz.wb, act_write=M * D * sz.ab)
    if model.learned_positions:
        rows = model.learned_positions
        ops.add(name("embed_positions"), "embedding", 1, params=rows * D, param_bytes=rows * D * sz.wb,
                weight_bytes=np.minimum(T, rows) * D * sz.wb, flops=M * D,
                act_read=M * D * sz.ab, act_write=M * D * sz.ab)
    if model.embedding_norm:
        norm(ops, sz, name("embedding_norm"), 1, D, "layernorm", True)

    for group in model.layer_groups:
        layer = group.layer
        _layer(ops, sz, model, layer, group.count, stage, scenario.flash_attention, apply_window)

    if model.final_norm:
        norm(ops, sz, name("final_norm"), 1, D, model.final_norm_kind, model.final_norm_bias)
    logits_tokens = M if (stage == "prefill" and scenario.logits_all) else sz.B
    linear(ops, sz, name("lm_head"), 1, D, V, model.lm_head_bias, tokens=logits_tokens)
    table = ops.build()
    if model.tie_word_embeddings:  # lm_head reads the embedding matrix; its parameters are counted once
        table = _untie_lm_head(table, name("lm_head"), V * D, table_bytes)
    return table


def _untie_lm_head(table: OpTable, lm_head: str, tied_params: int, tied_bytes: np.ndarray) -> OpTable:
    i = table.names.index(lm_head)
    params, active, param_bytes = table.params.copy(), table.active_params.copy(), table.param_bytes.copy()
    params[i] -= tied_params
    active[i] -= tied_params
    param_bytes[i] = param_bytes[i] - tied_bytes
    return replace(table, params=params, active_params=active, param_bytes=param_bytes)


def _layer(ops: OpTableBuilder, sz: Sizes, model: ModelSpec, layer: Layer, count: int, stage: str,
           flash: bool, apply_window: bool) -> None:
    D = model.hidden_size
    window = cache_window(layer.mixer)
    norms = list(layer.norm_names)

    def add_norm() -> None:
        if norms:
            norm(ops, sz, norms.pop(0), count, D, layer.norm_kind, layer.norm_bias)

    def residual(name: str, inputs: int) -> None:
        elementwise(ops, sz, name, count, sz.M * D, inputs - 1, inputs, 1)

    suffix = "" if window == np.inf else ".sliding"
    if layer.parallel:  # GPT-J, NeoX, Falcon, Phi-2: x + attn(ln(x)) + mlp(ln'(x))
        while norms:
            add_norm()
        _mixer(ops, sz, model, layer, count, stage, flash, window, suffix, apply_window)
        _ffn(ops, sz, model, layer, count)
        residual("residual_add", 3)
        return
    four_norms = len(norms) == 4  # Gemma 2: norms after the mixer and the MLP as well
    add_norm()
    _mixer(ops, sz, model, layer, count, stage, flash, window, suffix, apply_window)
    if four_norms:
        add_norm()
    residual("attn_residual" if layer.ffn is not None else "residual_add", 2)
    if layer.ffn is None:
        return
    add_norm()
    _ffn(ops, sz, model, layer, count)
    if four_norms:
        add_norm()
    residual("mlp_residual", 2)


def _mixer(ops, sz, model, layer, count, stage, flash, window, suffix, apply_window) -> None:
    mixer = layer.mixer
    if isinstance(mixer, Attention):
        _attention(ops, sz, model, mixer, count, flash, window, suffix, apply_window)
    elif isinstance(mixer, LatentAttention):
        _latent_attention(ops, sz, model, mixer, count, stage, flash)
    elif isinstance(mixer, Mamba):
        _mamba(ops, sz, model, mixer, count, stage)


def _rope(ops: OpTableBuilder, sz: Sizes, count: int, rotated_per_token: int, suffix: str = "") -> None:
    """Rotary embedding: 3 FLOPs per rotated element (x*cos + rot(x)*sin), read and write once."""
    elementwise(ops, sz, f"rope{suffix}", count, sz.M * rotated_per_token, 3, 1, 1)


def _attention(ops, sz, model: ModelSpec, attn: Attention, count, flash, window, suffix, apply_window) -> None:
    D, name = model.hidden_size, model.op_name
    N, K, H = attn.num_heads, attn.num_kv_heads, attn.head_dim
    if attn.fused_qkv:
        linear(ops, sz, name("qkv_proj"), count, D, (N + 2 * K) * H, attn.qkv_bias, kv_out=2 * K * H)
    else:
        linear(ops, sz, name("q_proj"), count, D, N * H, attn.qkv_bias)
        linear(ops, sz, name("k_proj"), count, D, K * H, attn.qkv_bias, kv_out=K * H)
        linear(ops, sz, name("v_proj"), count, D, K * H, attn.qkv_bias, kv_out=K * H)
    if attn.qk_norm:
        norm(ops, sz, "q_norm", count, H, "rmsnorm", False, tokens=sz.M * N)
        norm(ops, sz, "k_norm", count, H, "rmsnorm", False, tokens=sz.M * K)
    if attn.rope_dim:
        _rope(ops, sz, count, (N + K) * attn.rope_dim)
    attention_core(ops, sz, count, heads=N, kv_heads=K, qk_dim=H, v_dim=H, window=window,
                   flash=flash, suffix=suffix, apply_window=apply_window)
    linear(ops, sz, name("o_proj"), count, N * H, D, attn.o_bias)


def _latent_attention(ops, sz, model: ModelSpec, mla: LatentAttention, count, stage, flash) -> None:
    """MLA. Prefill decompresses K and V for the new tokens (kv_b_proj) and runs N-head attention
    on activations (as HF does). Decode uses the absorbed form: q_nope is mapped into the latent
    space (q_absorb, W_UK), attention runs over the cached latent as one shared KV head, and the
    result is mapped back per head (out_absorb, W_UV): the weights of kv_b_proj, read once.
    Model size is read off the prefill table, where kv_b_proj owns these parameters."""
    D, N = model.hidden_size, mla.num_heads
    r_q, r_kv, d_nope, d_rope, d_v = (mla.q_lora_rank, mla.kv_lora_rank, mla.qk_nope_head_dim,
                                      mla.qk_rope_head_dim, mla.v_head_dim)
    if r_q:
        linear(ops, sz, "q_a_proj", count, D, r_q, mla.bias)
        norm(ops, sz, "q_a_layernorm", count, r_q, "rmsnorm", False)
        linear(ops, sz, "q_b_proj", count, r_q, N * (d_nope + d_rope), False)
    else:
        linear(ops, sz, "q_proj", count, D, N * (d_nope + d_rope), False)
    linear(ops, sz, "kv_a_proj_with_mqa", count, D, r_kv + d_rope, mla.bias, kv_out=r_kv + d_rope)
    norm(ops, sz, "kv_a_layernorm", count, r_kv, "rmsnorm", False)
    _rope(ops, sz, count, (N + 1) * d_rope)
    if stage == "prefill":
        linear(ops, sz, "kv_b_proj", count, r_kv, N * (d_nope + d_v), False)
        attention_core(ops, sz, count, heads=N, kv_heads=N, qk_dim=d_nope + d_rope, v_dim=d_v,
                       window=np.inf, flash=flash, kv_from_cache=False)
    else:
        w_uk, w_uv = N * d_nope * r_kv, N * r_kv * d_v
        ops.add("q_absorb", "matmul", count, compute="weights", flops=2.0 * sz.M * w_uk,
                weight_bytes=w_uk * sz.wb, act_read=sz.M * N * d_nope * sz.ab,
                act_write=sz.M * N * r_kv * sz.ab)
        attention_core(ops, sz, count, heads=N, kv_heads=1, qk_dim=r_kv + d_rope, v_dim=r_kv,
                       window=np.inf, flash=flash, shared_kv=True)
        ops.add("out_absorb", "matmul", count, compute="weights", flops=2.0 * sz.M * w_uv,
                weight_bytes=w_uv * sz.wb, act_read=sz.M * N * r_kv * sz.ab,
                act_write=sz.M * N * d_v * sz.ab)
    linear(ops, sz, "o_proj", count, N * d_v, D, False)


def _mamba(ops, sz, model: ModelSpec, mamba: Mamba, count, stage) -> None:
    """Mamba (S6). The recurrent state (conv + SSM) is the layer's cache: decode reads and writes
    it every step; prefill writes the final state. Non-matmul parameters are kept at activation
    precision. selective_scan: 9 FLOPs per (token, channel, state) for exp(dt*A), dt*B*x, the
    state update and C*h, plus skip (D*x) and SiLU(z) gating per (token, channel)."""
    D, Di, Ns, C, R = model.hidden_size, mamba.d_inner, mamba.d_state, mamba.d_conv, mamba.dt_rank
    B, M = sz.B, sz.M
    linear(ops, sz, "in_proj", count, D, 2 * Di, mamba.proj_bias)
    conv_params = Di * C + (Di if mamba.conv_bias else 0)
    conv_state = B * Di * C * sz.kb
    ops.add("conv1d", "conv", count, flops=2.0 * M * Di * C + M * Di * (1 + ACT_FLOPS["silu"]),
            params=conv_params, weight_bytes=conv_params * sz.ab, param_bytes=conv_params * sz.ab,
            act_read=M * Di * sz.ab, act_write=M * Di * sz.ab,
            kv_read=conv_state if stage == "decode" else 0.0, kv_write=conv_state)
    linear(ops, sz, "x_proj", count, Di, R + 2 * Ns, False)
    if mamba.inner_norms:
        norm(ops, sz, "dt_layernorm", count, R, "rmsnorm", False)
        norm(ops, sz, "b_layernorm", count, Ns, "rmsnorm", False)
        norm(ops, sz, "c_layernorm", count, Ns, "rmsnorm", False)
    linear(ops, sz, "dt_proj", count, R, Di, True)
    scan_params = Di * Ns + Di  # A_log and D
    ssm_state = B * Di * Ns * sz.kb
    ops.add("selective_scan", "scan", count, params=scan_params,
            flops=9.0 * M * Di * Ns + M * Di * (2 + ACT_FLOPS["silu"] + 1),
            weight_bytes=scan_params * sz.ab, param_bytes=scan_params * sz.ab,
            act_read=M * (3 * Di + 2 * Ns) * sz.ab, act_write=M * Di * sz.ab,
            kv_read=ssm_state if stage == "decode" else 0.0, kv_write=ssm_state)
    linear(ops, sz, "out_proj", count, Di, D, mamba.proj_bias)


def _ffn(ops, sz, model: ModelSpec, layer: Layer, count) -> None:
    ffn = layer.ffn
    if isinstance(ffn, MLP):
        _mlp(ops, sz, model, count, ffn.intermediate_size, ffn.gated, ffn.activation, ffn.bias,
             ffn.fused_gate_up, prefix="")
    elif isinstance(ffn, MoE):
        _moe(ops, sz, model, ffn, count)


def _mlp(ops, sz, model: ModelSpec, count, F, gated, activation, bias, fused, prefix,
         tokens=None) -> None:
    """Gated: gate/up D -> F, act(gate) * up, down F -> D. Plain: up D -> F, act, down F -> D."""
    D, name = model.hidden_size, model.op_name
    M = sz.M if tokens is None else tokens
    if gated and fused:
        linear(ops, sz, prefix + name("gate_up_proj"), count, D, 2 * F, bias, tokens=M)
    elif gated:
        linear(ops, sz, prefix + name("gate_proj"), count, D, F, bias, tokens=M)
        linear(ops, sz, prefix + name("up_proj"), count, D, F, bias, tokens=M)
    else:
        linear(ops, sz, prefix + name("up_proj"), count, D, F, bias, tokens=M)
    act = ACT_FLOPS[activation]
    if gated:
        elementwise(ops, sz, prefix + "act_fn", count, M * F, act + 1, 2, 1)
    else:
        elementwise(ops, sz, prefix + "act_fn", count, M * F, act, 1, 1)
    linear(ops, sz, prefix + name("down_proj"), count, F, D, bias, tokens=M)


def expected_distinct_experts(tokens: np.ndarray, num_experts: int, top_k: int) -> np.ndarray:
    """Experts that at least one of ``tokens`` tokens routes to, in expectation, when each token
    picks k of E experts uniformly: E * (1 - (1 - k/E)^tokens)."""
    return num_experts * (1.0 - (1.0 - top_k / num_experts) ** tokens)


def _moe(ops, sz, model: ModelSpec, moe: MoE, count) -> None:
    """Routed experts: each of the M tokens runs k experts (FLOPs of M*k expert MLPs); the
    weights read are those of the expected number of distinct experts the batch routes to."""
    D, E, k, Fe, name = model.hidden_size, moe.num_experts, moe.top_k, moe.expert_intermediate_size, \
        model.op_name
    M = sz.M
    linear(ops, sz, name("router"), count, D, E, False)
    router_params = E if moe.router_bias else 0
    ops.add("topk_routing", "elementwise", count, flops=(3 + 2) * M * E, params=router_params,
            weight_bytes=router_params * sz.ab, param_bytes=router_params * sz.ab,
            act_read=M * E * sz.ab, act_write=M * 2 * k * sz.ab)
    distinct = expected_distinct_experts(M, E, k)
    prefix = name("experts") + "."
    projections = ([("gate_proj", D, Fe), ("up_proj", D, Fe)] if moe.gated else [("up_proj", D, Fe)])
    for role, d_in, d_out in projections:
        _expert_linear(ops, sz, prefix + name(role), count, d_in, d_out, moe, distinct)
    act = ACT_FLOPS[moe.activation]
    elementwise(ops, sz, prefix + "act_fn", count, M * k * Fe, act + (1 if moe.gated else 0),
                2 if moe.gated else 1, 1)
    _expert_linear(ops, sz, prefix + name("down_proj"), count, Fe, D, moe, distinct)
    elementwise(ops, sz, prefix + "combine", count, M * D, 2 * k, k, 1)
    if moe.shared_intermediate_size:
        shared = name("shared_experts") + "."
        _mlp(ops, sz, model, count, moe.shared_intermediate_size, moe.gated, moe.activation, False,
             False, prefix=shared)
        if moe.shared_expert_gate:
            linear(ops, sz, "shared_expert_gate", count, D, 1, False)
        elementwise(ops, sz, shared + "add", count, M * D, 2 if moe.shared_expert_gate else 1,
                    3 if moe.shared_expert_gate else 2, 1)


def _expert_linear(ops, sz, name, count, d_in, d_out, moe: MoE, distinct) -> None:
    """One projection of all routed experts of a layer: M*k token-expert products."""
    M, E, k = sz.M, moe.num_experts, moe.top_k
    per_expert = d_in * d_out + (d_out if moe.expert_bias else 0)
    expert_bytes = d_in * d_out * sz.wb + (d_out * sz.ab if moe.expert_bias else 0.0)
    ops.add(name, "matmul", count, compute="weights", flops=2.0 * M * k * d_in * d_out,
            params=E * per_expert, active_params=k * per_expert, param_bytes=E * expert_bytes,
            weight_bytes=distinct * expert_bytes, act_read=M * k * d_in * sz.ab,
            act_write=M * k * d_out * sz.ab)


def cache_elements(model: ModelSpec, tokens: np.ndarray) -> np.ndarray:
    """KV-cache (and recurrent-state) elements of one sequence that has seen ``tokens`` tokens,
    summed over layers."""
    total = np.zeros_like(np.asarray(tokens, dtype=np.float64))
    for group in model.layer_groups:
        mixer = group.layer.mixer
        total = total + group.count * (cached_tokens(mixer, tokens) * cache_elements_per_token(mixer)
                                       + state_elements_per_sequence(mixer))
    return total
