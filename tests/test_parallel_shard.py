"""Deployment checks that name the field, and sharding rules: every operator of one device's shard is
the whole model's operator divided by the degree, or replicated, as each rule's derivation says, so
the shards sum to the single-device model (plus the replicated parts)."""

from __future__ import annotations

import pytest

from llm_roofline.errors import DeploymentError
from llm_roofline.hardware.spec import IDEAL
from llm_roofline.hardware.systems import load_system
from llm_roofline.models.spec import Attention, Layer, LayerGroup, ModelSpec
from llm_roofline.parallel.analysis import evaluate_deployment
from llm_roofline.parallel.deployment import Deployment, layout
from llm_roofline.parallel.shard import shard_model
from llm_roofline.scenario import Scenario
from shard_checks import check_shards, prefill

from conftest import llama, small_hybrid, small_mla, small_moe

H100 = load_system("dgx-h100")


@pytest.mark.parametrize("kwargs, message", [
    (dict(tp=0), "tp must be an integer"), (dict(pp=1.5), "pp must be an integer"),
    (dict(ep=2), r"ep \(2\) must divide tp x attention_dp"), (dict(tp=2, micro_batches=2), "micro_batches"),
    (dict(tp=2, ep=2, ep_imbalance=3.0), "ep_imbalance"), (dict(ep_comm="broadcast"), "ep_comm"),
    (dict(nodes=2), r"nodes \(2\) exceeds the 1 device"),
])
def test_bad_degrees_name_the_field(kwargs, message):
    with pytest.raises(DeploymentError, match=message):
        Deployment(**kwargs)


@pytest.mark.parametrize("model, kwargs, message", [
    (llama("x", D=256, L=2, N=6, K=6, F=512, V=1000), dict(tp=4), r"tp \(4\) must divide the query heads \(6\)"),
    (llama("x", D=256, L=2, N=8, K=4, F=512, V=1000), dict(tp=8), None),  # K < tp, tp % K == 0: replicated
    (llama("x", D=288, L=2, N=12, K=3, F=512, V=1000), dict(tp=4),
     r"tp \(4\) exceeds the 3 KV heads .* not a multiple"),
    (llama("x", D=256, L=2, N=8, K=8, F=500, V=1000), dict(tp=8), r"tp \(8\) must divide the MLP width \(500\)"),
    (llama("x", D=256, L=2, N=8, K=8, F=512, V=1000), dict(pp=3), r"pp \(3\) exceeds the model's 2 layers"),
    (llama("x", D=256, L=2, N=8, K=8, F=512, V=1000), dict(tp=2, ep=2), "needs a mixture-of-experts model"),
    (small_moe(), dict(tp=1, attention_dp=16, ep=16), r"ep \(16\) must divide the 8 experts"),
    (llama("x", D=256, L=2, N=32, K=32, F=512, V=1000), dict(tp=16), None),  # TP across two nodes of 8
    (llama("x", D=256, L=2, N=32, K=32, F=512, V=1000), dict(tp=16, nodes=1),
     r"16 devices on 1 node\(s\) is 16 per node; dgx-h100 has 8"),
    (llama("x", D=256, L=2, N=32, K=32, F=512, V=1000), dict(tp=16, nodes=3), r"nodes \(3\) must divide"),
    (llama("x", D=256, L=2, N=8, K=8, F=512, V=1000), dict(tp=8, dp=200), "exceed dgx-h100's"),
    (llama("x", D=252, L=2, N=6, K=6, F=510, V=1000), dict(tp=3, dp=3), r"nodes \(2\) must divide the 9 devices"),
    (llama("x", D=252, L=2, N=6, K=6, F=510, V=1000), dict(tp=3, dp=4, nodes=3),
     r"tp \(3\) must divide the 4 devices per node"),
])
def test_deployments_that_do_not_fit_the_model_or_system(model, kwargs, message):
    deployment = Deployment(**kwargs)
    if message is None:
        layout(deployment, model, H100)
        return
    with pytest.raises(DeploymentError, match=message):
        layout(deployment, model, H100)
        shard_model(model, deployment.tp, deployment.moe_tp)


def test_sixteen_devices_span_two_nodes_and_nodes_can_be_given():
    model = llama("x", D=256, L=2, N=32, K=32, F=512, V=1000)
    lay = layout(Deployment(tp=8, pp=2), model, H100)
    assert (lay.nodes, lay.per_node, lay.inter_node_handoffs) == (2, 8, 1)
    lay = layout(Deployment(tp=4, pp=2), model, H100)
    assert (lay.nodes, lay.per_node, lay.inter_node_handoffs) == (1, 8, 0)
    lay = layout(Deployment(tp=8, nodes=2), model, H100)  # a TP group across two nodes of 4
    assert (lay.nodes, lay.per_node) == (2, 4)


def test_a_mixer_without_a_rule_is_a_clear_error():
    class Retention(Attention):  # a new family's layer type, not yet given a sharding rule
        pass

    layer = Layer(mixer=Retention(4, 4, 64), ffn=None)
    model = ModelSpec(name="new", model_type="new", hidden_size=256, vocab_size=100,
                      layer_groups=(LayerGroup(layer, 2),))
    with pytest.raises(DeploymentError, match="no sharding rule for the Retention layers"):
        shard_model(model, 2, 2)
    assert shard_model(model, 1, 1) is model  # one device needs no rule


LLAMA_SHARDED = {"embed_tokens", "q_proj", "k_proj", "v_proj", "rope", "qk_matmul", "softmax", "sv_matmul",
                 "o_proj", "gate_proj", "up_proj", "act_fn", "down_proj", "lm_head"}
LLAMA_REPLICATED = {"input_layernorm", "post_attention_layernorm", "attn_residual", "mlp_residual", "norm"}


@pytest.mark.parametrize("tp", [2, 4])
def test_llama_column_and_row_parallel(tp):
    # Megatron-LM (Shoeybi et al. 2019, sec. 3): attention heads and the MLP width split, norms and
    # residual adds on every device; vocabulary-parallel embedding and lm_head.
    check_shards(llama("tiny", D=256, L=2, N=4, K=4, F=512, V=1000), tp, tp, LLAMA_SHARDED, LLAMA_REPLICATED)


def test_kv_heads_fewer_than_tp_are_replicated():
    # N=8, K=2, tp=8: each device holds 1 query head and 1 KV head (each KV head on 4 devices), so k_proj
    # and v_proj are 1/K of the whole, not 1/tp; the rotary work covers N/tp + 1 heads.
    model = llama("gqa", D=256, L=2, N=8, K=2, F=512, V=1024)
    whole = prefill(model)
    special = {n: (whole[n][0] / 2, whole[n][1] / 2) for n in ("k_proj", "v_proj")}
    special["rope"] = (whole["rope"][0] * (8 / 8 + 1) / (8 + 2), 0.0)
    check_shards(model, 8, 8, LLAMA_SHARDED - set(special), LLAMA_REPLICATED, special)


def test_mla_latent_replicated_heads_split():
    # DeepSeek MLA (vLLM / SGLang): q_a_proj, kv_a_proj_with_mqa and their norms replicated; q_b_proj, kv_b_proj
    # and o_proj split by heads; rope rotates N/tp query heads + the one shared key head.
    model = small_mla()  # N=4 heads, d_rope 8
    whole = prefill(model)
    M = 2 * 32
    special = {"rope": (3.0 * M * (4 / 2 + 1) * 8 * 4, 0.0)}  # 4 layers
    sharded = {"embed_tokens", "q_b_proj", "kv_b_proj", "qk_matmul", "softmax", "sv_matmul", "o_proj", "gate_proj",
               "up_proj", "act_fn", "down_proj", "experts.gate_proj", "experts.up_proj", "experts.act_fn",
               "experts.down_proj", "shared_experts.gate_proj", "shared_experts.up_proj", "shared_experts.act_fn",
               "shared_experts.down_proj", "lm_head"}
    replicated = {"input_layernorm", "q_a_proj", "q_a_layernorm", "kv_a_proj_with_mqa", "kv_a_layernorm",
                  "post_attention_layernorm", "attn_residual", "mlp_residual", "router", "topk_routing",
                  "experts.combine", "shared_experts.add", "norm"}
    assert whole["rope"][0] == pytest.approx(3.0 * M * (4 + 1) * 8 * 4)
    check_shards(model, 2, 2, sharded, replicated, special)


def test_moe_experts_split_by_moe_tp_router_replicated():
    model = small_moe(shared=64, gate=True)
    sharded = LLAMA_SHARDED - {"gate_proj", "up_proj", "act_fn", "down_proj"} | {
        "experts.gate_proj", "experts.up_proj", "experts.act_fn", "experts.down_proj", "shared_experts.gate_proj",
        "shared_experts.up_proj", "shared_experts.act_fn", "shared_experts.down_proj"}
    replicated = LLAMA_REPLICATED | {"router", "topk_routing", "experts.combine", "shared_expert_gate",
                                     "shared_experts.add"}
    check_shards(model, 2, 2, sharded, replicated)


def test_mamba_inner_width_split():
    # Mamba TP (vLLM MambaMixer): d_inner split; x_proj row-parallel; the attention + MoE layer as above.
    model = small_hybrid()
    sharded = {"embed_tokens", "in_proj", "conv1d", "x_proj", "dt_proj", "selective_scan", "out_proj", "gate_proj",
               "up_proj", "act_fn", "down_proj", "q_proj", "k_proj", "v_proj", "qk_matmul", "softmax", "sv_matmul",
               "o_proj", "experts.gate_proj", "experts.up_proj", "experts.act_fn", "experts.down_proj", "lm_head"}
    replicated = {"input_layernorm", "pre_ff_layernorm", "attn_residual", "mlp_residual", "router", "topk_routing",
                  "experts.combine", "norm"}
    check_shards(model, 2, 2, sharded, replicated)


def test_expert_parallel_routing_sums_to_the_whole():
    # Uniform routing: the a*M tokens of the MoE group choose k of E experts; each of the ep ranks holds E/ep
    # experts and computes a*M*k/ep token-expert pairs, so the ranks together compute a*M*k pairs; each rank
    # hits (E/ep)(1 - (1 - k/E)^(a*M)) experts: together the single-device expected count.
    model = small_moe()  # E=8, k=2
    sc = Scenario.build(batch_size=16, prompt_len=4)
    one = evaluate_deployment(model, H100, sc, IDEAL, Deployment())
    ep = evaluate_deployment(model, H100, sc, IDEAL, Deployment(attention_dp=4, ep=4))
    i1, i4 = one.prefill.table.names.index("experts.up_proj"), ep.prefill.table.names.index("experts.up_proj")
    assert 4 * ep.prefill.table.flops[i4, 0] == pytest.approx(one.prefill.table.flops[i1, 0])
    distinct_one = one.prefill.table.weight_bytes[i1, 0]
    assert 4 * ep.prefill.table.weight_bytes[i4, 0] == pytest.approx(distinct_one)
    assert 4 * ep.prefill.table.param_bytes[i4, 0] == pytest.approx(one.prefill.table.param_bytes[i1, 0])
    # An imbalance factor f puts f x the mean pairs on the straggler.
    hot = evaluate_deployment(model, H100, sc, IDEAL, Deployment(attention_dp=4, ep=4, ep_imbalance=1.5))
    assert hot.prefill.table.flops[i4, 0] == pytest.approx(1.5 * ep.prefill.table.flops[i4, 0])
