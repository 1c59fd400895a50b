"""DevicePlan: what build_ops adds for one device of a deployment (communication operators) and how
many routed tokens reach its experts.

Per device, M = B*T tokens of its attention group per micro-batch (B = its sequences), D the model
width, ab the activation bytes per element, t = tp, G = tp x attention_dp, a = attention_dp:
- after attention / MLA / Mamba (row-parallel o_proj / out_proj) and after a dense MLP (down_proj):
  all-reduce over t of M*D*ab ("attn_all_reduce", "mlp_all_reduce");
- Mamba x_proj (row-parallel): all-reduce over t of M*(dt_rank + 2 d_state)*ab;
- vocabulary-parallel embedding: all-reduce over t of M*E*ab (Gemma 4's per-layer table likewise,
  M*L*p*ab, "per_layer_all_reduce"); lm_head: all-gather over t of the logits, M_logits*V*ab;
- Gemma 4's MLP + MoE block: each branch is reduced before its own post-norm (an MLP all-reduce, then
  the MoE's communication below);
- MoE without attention DP: every device of the tp group holds all M tokens, computes its E/ep experts'
  share and the partial sums are all-reduced over t like a dense MLP ("moe_all_reduce");
- MoE with attention DP: each device sends its M/t tokens to the experts that own them: all-to-all
  dispatch of (M/t) x k x moe_tp x D x ab over G (DeepSeek-V3, sec. 3.2.2: each token goes to its k
  experts), the same volume back (combine), then (t > 1) an all-reduce over t of M*D*ab that
  gathers the tp group's tokens and sums the shared experts' partial outputs. ``ep_comm=all_gather``:
  all-gather the group's tokens (a*M*D*ab) and reduce-scatter the outputs instead;
- between pipeline stages: send/recv of the residual, M*D*ab ("pp_send_recv", inter-node ones separate;
  M*n*D*ab with DeepSeek-V4's n hyper-connection streams).
With ``ep_imbalance`` f, the most loaded rank (the one reported) computes f x the mean pairs and its
dispatch / combine traffic is f x the mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ffn import Routing
from ..models.spec import MoE
from ..ops import OpTableBuilder, Sizes
from .collectives import collective_time
from .deployment import Layout


@dataclass(frozen=True)
class DevicePlan:
    """The hooks build_ops calls for one device (the most loaded one) of ``layout``; ``vocab_size``
    and ``embedding_width`` of the whole model (the logits all-gather gathers all V columns).
    ``moe_group_tokens``: tokens the whole MoE group routes, per scenario, when its attention-DP groups
    are not equally loaded (a serving iteration: one group carries a prompt chunk, the others decode
    tokens only); None: the device's tokens x attention_dp (every group like this one)."""

    layout: Layout
    vocab_size: int
    embedding_width: int
    hidden_size: int
    moe_group_tokens: np.ndarray | None = None

    def routed(self, moe: MoE, tokens: np.ndarray) -> Routing:
        """Routing of this device's experts: the MoE group's a*M tokens pick k of E experts each; this
        device holds E/ep of them and computes f x (a*M*k/ep) pairs; it hits (E/ep)(1-(1-k/E)^(f*a*M))
        distinct experts (the one-device formula for f*a*M tokens, per E/ep); its combine step sums the
        k outputs of each of its tokens (after an all-to-all) or only the pairs it computed (partial sums
        before the tp all-reduce, no attention DP)."""
        d = self.layout.deployment
        E, k, f = moe.num_experts, moe.top_k, d.ep_imbalance
        group_tokens = tokens * d.attention_dp if self.moe_group_tokens is None else \
            np.broadcast_to(np.asarray(self.moe_group_tokens, dtype=np.float64), np.shape(tokens))
        experts = E // d.ep
        pairs = f * group_tokens * k / d.ep
        distinct = experts * (1.0 - (1.0 - k / E) ** (f * group_tokens))
        combined = k if d.attention_dp > 1 else f * k / d.ep
        return Routing(pairs=pairs, distinct=distinct, combined=combined, experts=experts)

    def after(self, role: str, ops: OpTableBuilder, sz: Sizes, block, count: int, src: str, **info) -> str:
        """The communication after ``src``, a block in ``role`` (``block``: its mixer or FFN spec)."""
        d = self.layout.deployment
        t, D, M, ab = d.tp, self.hidden_size, sz.M, sz.ab
        if role == "embedding":
            return self._collective(ops, sz, "embed_all_reduce", "all_reduce", M * self.embedding_width * ab, t,
                                    count, src)
        if role == "per_layer_embedding":
            return self._collective(ops, sz, "per_layer_all_reduce", "all_reduce", M * info["width"] * ab, t,
                                    count, src)
        if role == "lm_head":
            return self._collective(ops, sz, "logits_all_gather", "all_gather",
                                    info["tokens"] * self.vocab_size * ab, t, count, src)
        if role == "x_proj":
            return self._collective(ops, sz, "x_proj_all_reduce", "all_reduce", M * info["width"] * ab, t, count, src)
        if role == "mixer":
            return self._collective(ops, sz, "attn_all_reduce", "all_reduce", M * D * ab, t, count, src)
        if role == "ffn":
            if isinstance(block, MoE):
                return self._moe(ops, sz, block, count, src)
            return self._collective(ops, sz, "mlp_all_reduce", "all_reduce", M * D * ab, t, count, src)
        if role == "stages":
            return self._handoffs(ops, sz, src, info["width"])
        raise ValueError(f"unknown plan role {role!r}")  # a bug, not a user error

    def _moe(self, ops, sz: Sizes, moe: MoE, count: int, src: str) -> str:
        d = self.layout.deployment
        t, a, G, D, M, ab = d.tp, d.attention_dp, d.stage_devices, self.hidden_size, sz.M, sz.ab
        if a > 1:
            f = d.ep_imbalance
            if d.ep_comm == "all_to_all":
                size = f * (M / t) * moe.top_k * d.moe_tp * D * ab
                src = self._collective(ops, sz, "moe_dispatch", "all_to_all", size, G, count, src)
                src = self._collective(ops, sz, "moe_combine", "all_to_all", size, G, count, src)
            else:
                size = a * M * D * ab
                src = self._collective(ops, sz, "moe_all_gather", "all_gather", size, G, count, src)
                src = self._collective(ops, sz, "moe_reduce_scatter", "reduce_scatter", size, G, count, src)
        return self._collective(ops, sz, "moe_all_reduce", "all_reduce", M * D * ab, t, count, src)

    def _handoffs(self, ops, sz: Sizes, src: str, width: int) -> str:
        lay = self.layout
        boundaries = lay.deployment.pp - 1
        size = sz.M * width * sz.ab
        intra = boundaries - lay.inter_node_handoffs
        out = src
        for name, n, per_node in (("pp_send_recv", intra, 2), ("pp_send_recv.inter_node", lay.inter_node_handoffs, 1)):
            if n:
                out = self._collective(ops, sz, name, "p2p", size, 2, n, src, per_node=per_node)
        return out

    def _collective(self, ops: OpTableBuilder, sz: Sizes, name: str, kind: str, size, p: int, count: int, src: str,
                    per_node: int | None = None) -> str:
        """One communication operator: reads and writes its buffer once in memory (an all-reduce or
        reduce-scatter also adds (p-1)/p of it, one add per element) and puts the collective's link
        bytes on the link for the collective's alpha-beta time. Nothing when p = 1. Its kernel shape names
        the collective family, so the calibrated setting keeps this time (the fitted curves are the
        collective's calibration) instead of applying a kernel curve."""
        if p <= 1:
            return src
        lay = self.layout
        system = lay.system
        per_node = lay.group_per_node(p) if per_node is None else per_node
        link_bytes, seconds = collective_time(kind, size, p, per_node, system.scale_up, system.scale_out,
                                              lay.deployment.comm)
        adds = (p - 1) / p * size / sz.ab if kind in ("all_reduce", "reduce_scatter") else 0.0
        comm = lay.deployment.comm
        mode = "ideal alpha-beta" if comm.mode == "ideal" else \
            f"fitted ({comm.library} tables where the link has a curve, else ideal alpha-beta)"
        shape = {"kernel": "collective", "collective": kind, "p": p, "bytes": size, "mode": mode}
        return ops.add(name, "communication", count, flops=adds, act_read=size, act_write=size, shape=shape,
                       link_bytes=link_bytes, link_time=seconds, inputs=(src,))
