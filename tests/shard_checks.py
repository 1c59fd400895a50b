"""The shards-sum-to-whole check of the sharding rules (parallel/shard.py), shared by the shard tests: every
operator of one device's shard is the whole model's operator divided by its degree, or replicated, as
each rule's derivation says; the few that are neither are given by hand."""

from __future__ import annotations

import numpy as np
import pytest

from llm_roofline.graph import build_ops
from llm_roofline.models.spec import ModelSpec
from llm_roofline.parallel.shard import shard_model
from llm_roofline.scenario import Scenario


def prefill(model: ModelSpec) -> dict[str, tuple[float, float]]:
    """{operator: (FLOPs x count, parameter bytes x count)} of a 64-token prefill at 16 bits."""
    sc = Scenario.build(batch_size=2, prompt_len=32)
    t = build_ops(model, sc, "prefill", T=sc.prompt_len, S=sc.prompt_len)
    return {n: (float(t.flops[i, 0] * t.counts[i]), float(t.param_bytes[i, 0] * t.counts[i]))
            for i, n in enumerate(t.names)}


def check_shards(model: ModelSpec, tp: int, moe_tp: int, sharded: set, replicated: set, special=None):
    """Every operator of the whole model is either divided by its degree (``sharded``: tp; experts:
    moe_tp) or whole on every device (``replicated``); ``special`` gives the shard's value by hand."""
    whole, shard = prefill(model), prefill(shard_model(model, tp, moe_tp))
    assert set(whole) == set(shard) == sharded | replicated | set(special or {})
    for name in sharded:
        degree = moe_tp if name.startswith("experts.") else tp
        assert shard[name][0] * degree == pytest.approx(whole[name][0]), name
        assert shard[name][1] * degree == pytest.approx(whole[name][1]), name
    for name in replicated:
        assert shard[name] == pytest.approx(whole[name]), name
    for name, (flops, weights) in (special or {}).items():
        assert shard[name] == pytest.approx((flops, weights)), name
    # Sum over the tp shards = the whole model + (tp - 1) x the replicated part.
    rep = np.sum([whole[n] for n in replicated], axis=0) if replicated else 0.0
    assert tp * np.sum(list(shard.values()), axis=0) == pytest.approx(
        np.sum(list(whole.values()), axis=0) + (tp - 1) * rep + tp * _special_excess(whole, special, tp))


def _special_excess(whole, special, tp):
    if not special:
        return 0.0
    return np.sum([np.array(v) - np.array(whole[n]) / tp for n, v in special.items()], axis=0)
