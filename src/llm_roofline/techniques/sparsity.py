"""Contextual sparsity (Deja Vu, Liu et al. ICML 2023, https://arxiv.org/abs/2310.17157): per token only a
fraction of the MLP neurons and of the attention heads run, chosen by small predictors.

Per decode step of M = B*T tokens, a fraction p_mlp of the F neurons of each dense MLP (and of the shared
experts of an MoE; the routed experts are sparse already) and a fraction p_heads of the query heads of each
attention layer are active per token:
- FLOPs and the activations on the sparse side scale by p (the up / gate outputs and down_proj's input
  for the MLP; the query heads, the attention core, o_proj's input for attention);
- weight bytes scale by the union of the active rows over the batch: a row is read when any of the M
  tokens uses it, 1 - (1 - p)^M of them under independent activation (the form of MoE's expert coverage):
  p at M = 1, all of them as M grows, so the gain vanishes with the batch;
- the keys and values a query head reads: its KV head is read when any of its N/K query heads is active,
  1 - (1 - p_heads)^(N/K) of the KV cache per sequence (no union over the batch: each sequence reads its
  own cache); k_proj and v_proj stay dense so the cache stays complete (Deja Vu keeps the KV cache whole).
- the predictors, per layer a low-rank MLP D -> r -> F (neurons) and D -> r -> N (heads), r =
  ``predictor_rank``, run dense on every token ("sparsity_predictor.*" operators).
Prefill runs dense: Deja Vu sparsifies generation, and over a prompt's B*P tokens the union is every row.
Only standard attention layers (MHA / GQA / MQA) and dense MLPs take part; other mixers stay dense.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ScenarioError
from ..graph import sizes_for
from ..inputs import integer, real
from ..models.spec import MLP, Attention, MLPAndMoE, ModelSpec, MoE
from ..ops import OpTable, OpTableBuilder, linear
from ..scenario import Scenario
from .tables import concat, scaled

MAX_PREDICTOR_RANK = 1 << 16
ATTENTION_CORE = ("qk_matmul", "softmax", "sv_matmul", "fused_attention")


@dataclass(frozen=True)
class ContextualSparsity:
    """``mlp``: share of MLP neurons active per token; ``heads``: share of attention query heads active per
    token (1: dense); ``predictor_rank``: r of the low-rank predictors (0: no predictor cost)."""

    mlp: float = 1.0
    heads: float = 1.0
    predictor_rank: int = 1024

    def __post_init__(self) -> None:
        for name in ("mlp", "heads"):
            value = real(f"sparsity {name} (share active per token)", getattr(self, name), 0.0, 1.0)
            if value <= 0:
                raise ScenarioError(f"sparsity {name} must be above 0 (some of the block must run)")
        integer("sparsity predictor_rank", self.predictor_rank, 0, MAX_PREDICTOR_RANK)

    def describe(self) -> str:
        return (f"contextual sparsity: {self.mlp:.3g} of the MLP neurons and {self.heads:.3g} of the attention "
                f"heads active per token, rank-{self.predictor_rank} predictors; prefill dense")

    def to_dict(self) -> dict:
        return {"mlp": self.mlp, "heads": self.heads, "predictor_rank": self.predictor_rank}


def coverage(p: float, tokens: np.ndarray) -> np.ndarray:
    """Share of rows that at least one of ``tokens`` tokens uses, each using a share p independently:
    1 - (1 - p)^tokens."""
    return 1.0 - (1.0 - p) ** np.asarray(tokens, dtype=np.float64)


def _roles(model: ModelSpec) -> dict[str, set[str]]:
    name = model.op_name
    mlp_in = {name(r) for r in ("gate_proj", "up_proj", "gate_up_proj")}
    shared = name("shared_experts") + "."
    return {"mlp_in": mlp_in | {shared + n for n in mlp_in}, "mlp_out": {name("down_proj"), shared + name("down_proj")},
            "mlp_act": {"act_fn", shared + "act_fn"}, "q": {name("q_proj")}, "qkv": {name("qkv_proj")},
            "o": {name("o_proj")}}


def _dense_mlp_layers(model: ModelSpec) -> list[tuple[int, int]]:
    """(F, layers) of every dense MLP: plain MLP layers, an MoE's shared experts, Gemma 4's dense MLP."""
    out: dict[int, int] = {}
    for g in model.layer_groups:
        ffn = g.layer.ffn
        widths = ([ffn.intermediate_size] if isinstance(ffn, MLP)
                  else [ffn.shared_intermediate_size] if isinstance(ffn, MoE) and ffn.shared_intermediate_size
                  else [ffn.mlp.intermediate_size] if isinstance(ffn, MLPAndMoE) else [])
        for F in widths:
            out[F] = out.get(F, 0) + g.count
    return sorted(out.items())


def _attention_layers(model: ModelSpec) -> list[tuple[int, int, int]]:
    """(N, K, layers) of the standard attention layers."""
    out: dict[tuple[int, int], int] = {}
    for g in model.layer_groups:
        m = g.layer.mixer
        if isinstance(m, Attention):
            out[(m.num_heads, m.num_kv_heads)] = out.get((m.num_heads, m.num_kv_heads), 0) + g.count
    return [(n, k, c) for (n, k), c in sorted(out.items())]


def _base(name: str) -> str:
    """An operator's name without the suffix of a sliding or chunked layer (``.sliding``, ``[2]``...)."""
    return name.split("[")[0].removesuffix(".sliding").removesuffix(".chunked")


def apply_sparsity(table: OpTable, sp: ContextualSparsity, model: ModelSpec, scenario: Scenario,
                   T: np.ndarray, S: np.ndarray) -> OpTable:
    """The decode-step table with contextual sparsity (module docstring); ``T`` tokens per sequence."""
    M = scenario.batch_size * T
    roles = _roles(model)
    names = [_base(n) for n in table.names]
    routed = table.active_params < table.params  # MoE routed experts: sparse already
    ffn = np.array([s == "ffn" for s in table.scopes]) & ~routed
    mixer = np.array([s == "mixer" for s in table.scopes])
    attn_layers = _attention_layers(model)
    out = table
    if sp.mlp < 1:
        p, cov = sp.mlp, coverage(sp.mlp, M)

        def rows(role: str) -> np.ndarray:
            return np.array([n in roles[role] for n in names]) & ffn

        out = scaled(out, rows("mlp_in"), flops=p, act_write_bytes=p, weight_bytes=cov)
        out = scaled(out, rows("mlp_act"), flops=p, act_read_bytes=p, act_write_bytes=p)
        out = scaled(out, rows("mlp_out"), flops=p, act_read_bytes=p, weight_bytes=cov)
    if sp.heads < 1 and attn_layers:
        p, cov = sp.heads, coverage(sp.heads, M)
        N, K, _ = max(attn_layers, key=lambda x: x[2])
        kv_cov = coverage(p, N // K)

        def rows(role_names) -> np.ndarray:
            return np.array([n in role_names for n in names]) & mixer

        out = scaled(out, rows(roles["q"]), flops=p, act_write_bytes=p, weight_bytes=cov)
        out = scaled(out, rows(roles["o"]), flops=p, act_read_bytes=p, weight_bytes=cov)
        out = scaled(out, rows(ATTENTION_CORE), flops=p, act_read_bytes=p, act_write_bytes=p, kv_read_bytes=kv_cov)
        qkv = rows(roles["qkv"])
        if qkv.any():  # fused q/k/v: only its query columns are sparse (act_write; K and V go to the cache)
            share = _query_share(model)
            out = scaled(out, qkv, flops=1 - share + share * p, weight_bytes=1 - share + share * cov,
                         act_write_bytes=p)
    if sp.predictor_rank == 0:
        return out
    return concat(out, _predictors(model, sp, scenario, T, S, attn_layers))


def _query_share(model: ModelSpec) -> float:
    """Share of a fused q/k/v projection's columns that are queries: N / (N + 2K)."""
    for g in model.layer_groups:
        m = g.layer.mixer
        if isinstance(m, Attention):
            return m.num_heads / (m.num_heads + 2 * m.num_kv_heads)
    return 0.0


def _predictors(model: ModelSpec, sp: ContextualSparsity, scenario: Scenario, T, S, attn_layers) -> OpTable:
    """Per layer: D -> r -> F for the MLP neurons and D -> r -> N for the heads, on every token."""
    sz = sizes_for(scenario, T, S)
    ops = OpTableBuilder(n=scenario.size)
    D, r = model.hidden_size, sp.predictor_rank
    with ops.scoped("layer"):
        if sp.mlp < 1:
            for i, (F, layers) in enumerate(_dense_mlp_layers(model)):
                tag = f"[{i + 1}]" if i else ""
                down = linear(ops, sz, f"sparsity_predictor.mlp{tag}.down", layers, D, r, False, inputs=())
                linear(ops, sz, f"sparsity_predictor.mlp{tag}.up", layers, r, F, False, inputs=(down,))
        if sp.heads < 1:
            for i, (N, _, layers) in enumerate(attn_layers):
                tag = f"[{i + 1}]" if i else ""
                down = linear(ops, sz, f"sparsity_predictor.heads{tag}.down", layers, D, r, False, inputs=())
                linear(ops, sz, f"sparsity_predictor.heads{tag}.up", layers, r, N, False, inputs=(down,))
    return ops.build()
