"""The drafter of one device of a deployment: what a speculative iteration's draft runs there.

The engines run the draft on the target's devices with the target's tensor parallelism:
- a separate draft model (``draft``) is sharded with the target's tp (and its expert layout): vLLM's
  ``draft_tensor_parallel_size`` defaults to the target's tp (https://docs.vllm.ai/en/latest/features/spec_decode.html),
  and SGLang's draft worker runs in the target's tp group (https://docs.sglang.ai/advanced_features/speculative_decoding.html).
  Its builds carry the communication of its own plan (its width D_d and vocabulary V_d in the messages);
- a draft head (EAGLE, EAGLE-3, MTP) is one layer of the target's kind: on a device it is the shard's
  layer with the target's all-reduces; its own output layer (EAGLE-3's ``draft_vocab`` rows) is
  vocabulary-parallel, ceil(V_draft / tp) rows per device, its logits all-gathered (V_draft columns);
  ``fc`` / ``eh_proj`` (2D or 3D -> D) are replicated, plain linears in vLLM's EAGLE and MTP heads;
- Medusa's heads: residual blocks replicated, output layers vocabulary-parallel (drafters._medusa).
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..errors import DeploymentError
from ..models.spec import ModelSpec, routed_experts
from .drafters import Drafter
from .speculative import Speculative


def device_drafter(spec: Speculative, target: ModelSpec, plan=None) -> Drafter:
    """The drafter of ``spec`` for ``target`` (one device's shard when ``plan`` is a DevicePlan)."""
    if plan is None:
        return Drafter(spec, target)
    from ..parallel.analysis import check_deployment
    from ..parallel.plan import DevicePlan

    d = plan.layout.deployment
    if spec.method == "draft":
        net = spec.draft_model
        if not any(routed_experts(g.layer.ffn) for g in net.layer_groups):  # a dense draft: no expert layout
            d = replace(d, ep=1, ep_imbalance=1.0)
        try:
            lay, shard = check_deployment(net, plan.layout.system, d)
        except DeploymentError as exc:
            raise DeploymentError(f"the draft model {net.name} runs with the target's tp: {exc}") from None
        draft_plan = DevicePlan(layout=lay, vocab_size=net.vocab_size, embedding_width=net.embedding_width,
                                hidden_size=net.hidden_size)
        return Drafter(replace(spec, draft_model=shard), target, plan=draft_plan)
    vocab = min(spec.draft_vocab or plan.vocab_size, plan.vocab_size)  # the head's whole output layer
    local = replace(spec, draft_vocab=math.ceil(spec.draft_vocab / d.tp)) if spec.draft_vocab else spec
    return Drafter(local, target, plan=replace(plan, vocab_size=vocab))
