"""What drafts the tokens of a speculative iteration, as operator tables (names prefixed ``draft.``).

- ``draft``: a whole draft LLM (any catalog model or config.json), its own weights and KV cache;
- ``eagle`` / ``eagle3`` (EAGLE, https://arxiv.org/abs/2401.15077; EAGLE-3, https://arxiv.org/abs/2503.01840):
  one decoder layer of the target's kind fed by ``fc``, a linear of 2D -> D (the token embedding and the
  target's feature; EAGLE-3 fuses three layers' features, 3D -> D), then the final norm and an output
  layer: the target's lm_head (EAGLE, read again each pass, not stored twice) or its own over a
  reduced vocabulary (EAGLE-3's 32k, ``draft_vocab``). The token embedding is the target's. One layer of KV.
- ``mtp`` (DeepSeek-V3, https://arxiv.org/abs/2412.19437, sec. 2.2): per module two RMSNorms, ``eh_proj``
  2D -> D and one transformer block of the target's kind; embedding and output head shared.
- ``medusa`` (https://arxiv.org/abs/2401.10774): k heads on the target's last hidden state, each a
  residual block (a D x D linear with bias and SiLU) and its own D x V output layer; no KV cache.

On a device of a deployment (``plan``, techniques/device_draft.py) the target is that device's shard and
the draft's builds carry the plan's communication: a head's layer is the shard's, its output layer
vocabulary-parallel (Medusa's k logits all-gathered); fc / eh_proj / Medusa's residual blocks replicated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..cache import cache_bytes_per_sequence
from ..graph import build_ops, sizes_for
from ..models.spec import LayerGroup, ModelSpec
from ..ops import ACT_FLOPS, OpTable, OpTableBuilder, elementwise, linear, norm
from ..precision import storage_bytes
from ..scenario import Scenario
from .speculative import Speculative
from .tables import concat, layer_rows, prefixed, scaled, unowned

FUSION = {"eagle": 2, "eagle3": 3, "mtp": 2}


@dataclass(frozen=True)
class Drafter:
    """The draft network of ``spec`` for ``target``: its per-pass operator table, prefill table, KV cache."""

    spec: Speculative
    target: ModelSpec
    plan: object = None  # parallel.plan.DevicePlan of the draft network's builds (None: one device)
    own_build: bool = False  # a draft head built on its own (the target's optimizations do not reach it)

    @cached_property
    def network(self) -> ModelSpec | None:
        """The draft model as a ModelSpec: the draft LLM, or one layer of the target (EAGLE, MTP); None for
        Medusa heads (no layers) and the draft-free methods."""
        s = self.spec
        if s.method == "draft":
            return s.draft_model
        if s.method not in FUSION:
            return None
        t = self.target
        layer = t.layer_groups[-1].layer
        return replace(t, name=f"{t.name} {s.method} draft", layer_groups=(LayerGroup(layer, s.k if s.method == "mtp"
                                                                                       else 1),),
                       vocab_size=self.vocab, tie_word_embeddings=False, notes=(), warnings=())

    @property
    def vocab(self) -> int:
        """Rows of the draft head's output layer: its own draft vocabulary (at most the target's), or the
        target's (shared lm_head)."""
        return min(self.spec.draft_vocab or self.target.vocab_size, self.target.vocab_size)

    def table(self, scenario: Scenario, stage: str, T: np.ndarray, S: np.ndarray,
              apply_window: bool | np.ndarray = True) -> OpTable | None:
        """One draft pass (``decode``: T tokens per sequence at KV length S) or the prompt (``prefill``;
        a decode-stage build with T = S = P serves as the prompt of an attention-only draft network, whose
        operators do not depend on the stage)."""
        s = self.spec
        if s.method in ("lookahead", "jacobi"):
            return None
        if s.method == "medusa":
            return None if stage == "prefill" else _medusa(self.target, s.k, scenario, T, S, self.plan)
        net = self.network
        body = build_ops(net, scenario, stage, T=T, S=S, apply_window=apply_window, plan=self.plan)
        if s.method == "draft":
            return prefixed(body, "draft.")
        if s.method == "mtp" and stage == "decode":  # one module per pass: the k modules run in turn
            body = replace(body, counts=np.where(np.array([sc != "model" for sc in body.scopes]),
                                                 body.counts / s.k, body.counts))
        shared = np.array([k == "embedding" for k in body.kinds])
        if not s.draft_vocab:
            shared |= np.array([n == net.op_name("lm_head") for n in body.names])
        body = unowned(body, shared)
        modules = s.k if s.method == "mtp" and stage == "prefill" else 1
        fc = _fusion(self.target, FUSION[s.method], s.method, modules, scenario, T, S)
        return prefixed(concat(fc, body), "draft.")

    @property
    def derivable(self) -> bool:
        """A draft head (EAGLE, EAGLE-3, MTP) on a target whose layers are all alike: its table is the
        target's own, cut down (:meth:`derived`), so it needs no build of its own. Not on a device of a
        deployment with a draft vocabulary (its logits all-gather differs from the target's), nor with the
        target's optimizations on (``own_build``: they act on the target's build, not on the draft's)."""
        own_gather = self.plan is not None and bool(self.spec.draft_vocab)
        return (self.spec.method in FUSION and len(self.target.layer_groups) == 1 and not own_gather
                and not self.own_build)

    def derived(self, table: OpTable, scenario: Scenario, T: np.ndarray, S: np.ndarray, modules: int = 1) -> OpTable:
        """The draft head's table from the target's table over the same scenarios (its one layer is the
        target's layer: layer operators count ``modules`` instead of L), with the embedding and (EAGLE, MTP)
        lm_head read but not owned, or (EAGLE-3) an lm_head over draft_vocab rows, and the fc / eh_proj."""
        s, t = self.spec, self.target
        inside = layer_rows(table)
        table = replace(table, counts=np.where(inside, modules, table.counts))
        lm_head = np.array([n == t.op_name("lm_head") for n in table.names])
        if s.draft_vocab:  # its own output layer, D x draft_vocab (even when the target ties its lm_head)
            r = self.vocab / t.vocab_size
            table = scaled(table, lm_head, flops=r, weight_bytes=r, act_write_bytes=r)
            own = self.vocab * t.embedding_width
            table = replace(table, params=np.where(lm_head, own, table.params),
                            active_params=np.where(lm_head, own, table.active_params),
                            param_bytes=np.where(lm_head[:, None], table.weight_bytes, table.param_bytes))
            shared = np.array([k == "embedding" for k in table.kinds])
        else:
            shared = lm_head | np.array([k == "embedding" for k in table.kinds])
        table = unowned(table, shared)
        fc = _fusion(t, FUSION[s.method], s.method, modules, scenario, T, S)
        return prefixed(concat(fc, table), "draft.")

    def weights_bytes(self, prefill: OpTable) -> np.ndarray:
        """The draft's own parameters in memory (bytes): its prompt table's parameter bytes x counts."""
        return (prefill.param_bytes * prefill.counts[:, None]).sum(0)

    def cache_bytes(self, scenario: Scenario, tokens: np.ndarray) -> np.ndarray:
        """KV cache of the draft network for B sequences after ``tokens`` tokens (bytes)."""
        net = self.network
        if net is None:
            return np.zeros_like(np.asarray(tokens, dtype=np.float64))
        sc = scenario
        kb = storage_bytes(sc.kv_cache.bits, sc.group_size, sc.scale_bits)
        sb = storage_bytes(sc.state.bits, sc.group_size, sc.scale_bits)
        return sc.batch_size * cache_bytes_per_sequence(net, tokens, kb, sb, sc.activations.bits / 8.0)


def _fusion(target: ModelSpec, width: int, method: str, count: int, scenario: Scenario, T, S) -> OpTable:
    """EAGLE's fc / MTP's norms and eh_proj: (width x D) -> D over the B*T draft tokens (``count`` MTP
    modules)."""
    D = target.hidden_size
    sz = sizes_for(scenario, T, S)
    ops = OpTableBuilder(n=int(np.broadcast_shapes(sz.B.shape, np.shape(T), np.shape(S))[0]))
    if method == "mtp":
        norm(ops, sz, "enorm", count, D, "rmsnorm", False, inputs=())
        norm(ops, sz, "hnorm", count, D, "rmsnorm", False, inputs=())
        linear(ops, sz, "eh_proj", count, width * D, D, False, inputs=("enorm", "hnorm"))
    else:
        linear(ops, sz, "fc", 1, width * D, D, method == "eagle3", inputs=())
    return ops.build()


def _medusa(target: ModelSpec, heads: int, scenario: Scenario, T, S, plan=None) -> OpTable:
    """k Medusa heads on the last hidden state: x + SiLU(W x + b) (D x D, with bias), then each head's own
    D x V output layer; one pass per iteration, one token per sequence. With a ``plan`` (the target a
    device's shard, V its vocabulary rows) each head's logits are all-gathered as the lm_head's."""
    D, V = target.hidden_size, target.vocab_size
    sz = sizes_for(scenario, T, S)
    ops = OpTableBuilder(n=int(np.broadcast_shapes(sz.B.shape, np.shape(T), np.shape(S))[0]))
    linear(ops, sz, "medusa_head.linear", heads, D, D, True, inputs=())
    elementwise(ops, sz, "medusa_head.act_residual", heads, sz.M * D, ACT_FLOPS["silu"] + 1, 2, 1)
    head = linear(ops, sz, "medusa_head.lm_head", heads, D, V, False)
    if plan is not None:
        plan.after("lm_head", ops, sz, None, heads, head, tokens=sz.M)
    return prefixed(ops.build(), "draft.")

