"""Fast-decoding techniques on a multi-device deployment: the analysed device's shard with its plan's
communication (the verify step's all-reduces at T = k + 1 tokens per sequence), the draft on the same
devices, and the deployment's TPOT / tokens/s from the speculative generation. Oracles: the plain
engine (techniques off; the one-token generation), the single-device technique result (tensor degree 1),
hand counts of the collectives (Megatron-LM: two all-reduces of B x T x D per layer), the chain formula
E = (1 - alpha^(k+1)) / (1 - alpha) and the split of every sharded operator's FLOPs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.cli import main
from llm_roofline.errors import DeploymentError, ScenarioError
from llm_roofline.hardware.spec import IDEAL
from llm_roofline.hardware.systems import load_system
from llm_roofline.parallel.analysis import evaluate_deployment
from llm_roofline.parallel.deployment import Deployment
from llm_roofline.scenario import Scenario
from llm_roofline.techniques.options import speculative_setting
from llm_roofline.techniques.settings import Techniques

from conftest import llama, small_moe

H100 = load_system("dgx-h100")
ALPHA, BW = H100.scale_up.latency_s, H100.scale_up.device_bandwidth_bytes_per_s
LLAMA70 = llama("llama-3.1-70b", D=8192, L=80, N=64, K=8, F=28672, V=128256)
CHAIN = {"method": "eagle", "k": 4, "alpha": 0.8}


def ring_all_reduce_s(size: float, p: int = 8) -> float:
    return 2 * (p - 1) * ALPHA + 2 * (p - 1) / p * size / BW


def _spec(**kw) -> Techniques:
    return Techniques(speculative=speculative_setting(kw or CHAIN))


def test_inactive_techniques_change_nothing_on_several_devices():
    sc = Scenario.build(batch_size=[1, 16], prompt_len=512, gen_len=64)
    d = Deployment(tp=8)
    plain = evaluate_deployment(LLAMA70, H100, sc, IDEAL, d)
    off = evaluate_deployment(LLAMA70, H100, sc, IDEAL, d, Techniques())
    assert off.techniques is None
    for field in ("ttft_s", "tpot_s", "decode_s", "throughput_tokens_per_s", "total_bytes", "comm_buffer_bytes"):
        assert np.array_equal(getattr(off.parallel, field), getattr(plain.parallel, field))
    assert np.array_equal(off.decode.time_s, plain.decode.time_s)


@pytest.mark.parametrize("spec", [CHAIN, {"method": "eagle3", "k": 3, "width": 4, "tree_nodes": 10, "tau": 3.0,
                                          "draft_vocab": 32000},
                                  {"method": "medusa", "k": 3, "tau": 2.0}])
def test_tensor_degree_1_is_the_single_device_result_exactly(spec):
    """dp = 2 replicas of one device each: a deployment object with a plan whose collectives are all of one
    device (none), so every number is the single-device technique result; tokens/s counts both replicas."""
    sc = Scenario.build(batch_size=[1, 8], prompt_len=300, gen_len=50)
    tech = _spec(**spec)
    one = evaluate_deployment(LLAMA70, H100, sc, IDEAL, Deployment(), tech)
    two = evaluate_deployment(LLAMA70, H100, sc, IDEAL, Deployment(dp=2), tech)
    s1, s2 = one.techniques.speculative, two.techniques.speculative
    for field in ("verify_time_s", "draft_time_s", "iteration_time_s", "draft_decode_s", "draft_prefill_s",
                  "draft_weights_bytes", "draft_kv_cache_bytes", "speedup"):
        assert np.array_equal(getattr(s1, field), getattr(s2, field)), field
    for field in ("ttft_s", "tpot_s", "decode_s", "e2e_s"):
        assert np.array_equal(getattr(one.parallel, field), getattr(two.parallel, field)), field
    assert np.array_equal(one.memory.total_bytes, two.memory.total_bytes)
    assert np.allclose(two.parallel.throughput_tokens_per_s, 2 * one.parallel.throughput_tokens_per_s, rtol=1e-15)


def test_speculative_tp8_llama_70b_by_hand():
    B, k, D, t = 4, 4, 8192, 8
    r = lr.analyze(LLAMA70, "dgx-h100", tp=t, batch_size=B, prompt_len=1024, gen_len=256, speculative=CHAIN)
    spec = r.techniques.speculative
    ops = {op.name: op for op in spec.verify.ops}
    size = B * (k + 1) * D * 2  # B x T x D x 2 bytes, T = k + 1 tokens per sequence
    for name in ("attn_all_reduce", "mlp_all_reduce"):
        op = ops[name]
        assert op.count == 80 and op.act_read_bytes == size
        assert op.link_bytes == pytest.approx(2 * (t - 1) / t * size)
        assert op.time_s == pytest.approx(ring_all_reduce_s(size)) and op.bound == "link"
    per_layer = ops["attn_all_reduce"].link_bytes + ops["mlp_all_reduce"].link_bytes
    assert per_layer == pytest.approx(2 * 2 * (k + 1) * B * D * 2 * (t - 1) / t)
    # the logits of all k + 1 tokens are gathered: (t-1)/t of B (k+1) V x 2 bytes
    assert ops["logits_all_gather"].link_bytes == pytest.approx((t - 1) / t * B * (k + 1) * 128256 * 2)
    # the EAGLE head's layer on the same devices: its two all-reduces of one token per sequence
    draft = {op.name: op for op in spec.draft.ops}
    assert draft["draft.attn_all_reduce"].count == 1 and draft["draft.attn_all_reduce"].act_read_bytes == B * D * 2
    # TPOT = iteration time / E, E from the chain formula, the iteration from the reported step times
    E = (1 - 0.8 ** (k + 1)) / (1 - 0.8)
    verify_s = sum(op.time_s * op.count for op in spec.verify.ops)
    assert spec.verify_time_s == pytest.approx(verify_s)
    assert spec.tokens_per_iteration == pytest.approx(E)
    assert spec.time_per_token_s == pytest.approx((spec.draft_time_s + spec.verify_time_s) / E)
    # the deployment's TPOT is the speculative generation's (KV lengths 1024..1280 around kv_len 1152)
    assert r.generation.tpot_s == pytest.approx(spec.time_per_token_s, rel=0.02)
    plain = lr.analyze(LLAMA70, "dgx-h100", tp=t, batch_size=B, prompt_len=1024, gen_len=256)
    assert r.techniques.one_token["tpot_s"] == plain.generation.tpot_s  # the plain deployment, exactly
    assert r.generation.ttft_s == pytest.approx(plain.generation.ttft_s + spec.draft_prefill_s)
    assert r.generation.tpot_s < plain.generation.tpot_s / 2
    assert r.to_dict()["generation"]["throughput_tokens_per_s"] > 2 * plain.generation.throughput_tokens_per_s


def _split_check(shard_ops, whole_ops, t: int, split: set[str]) -> None:
    """Every non-communication operator of a shard does 1/t of the whole model's FLOPs (``split``) or
    all of them (replicated, each device a copy)."""
    whole = {op.name: op for op in whole_ops}
    seen = set()
    total = 0.0
    for op in shard_ops:
        if op.kind == "communication":
            continue
        w = whole[op.name]
        if op.name in split:
            assert op.flops * t == pytest.approx(w.flops, rel=1e-12), op.name
            seen.add(op.name)
            total += t * op.flops * op.count
        else:
            assert op.flops == pytest.approx(w.flops, rel=1e-12), op.name
            total += op.flops * op.count
    assert seen == split
    # t shards' split work + one copy of the replicated work = the single-device step's FLOPs
    assert total == pytest.approx(sum(w.flops * w.count for w in whole_ops), rel=1e-12)


SPLIT = {"q_proj", "k_proj", "v_proj", "o_proj", "qk_matmul", "sv_matmul", "softmax", "rope", "gate_proj",
         "up_proj", "act_fn", "down_proj", "lm_head"}


def test_shards_of_the_verify_step_add_up_to_the_single_device_step():
    kw = dict(batch_size=2, prompt_len=512, gen_len=32, speculative=CHAIN)
    one = lr.analyze(LLAMA70, "h100-sxm", **kw).techniques.speculative
    eight = lr.analyze(LLAMA70, "dgx-h100", tp=8, **kw).techniques.speculative
    _split_check(eight.verify.ops, one.verify.ops, 8, SPLIT)
    _split_check(eight.draft.ops, one.draft.ops, 8, {"draft." + n for n in SPLIT})  # draft.fc replicated


def test_draft_model_runs_with_the_target_tp():
    """vLLM / SGLang shard the draft model with the target's tp: its weights per device by hand."""
    draft = llama("tiny-draft", D=2048, L=4, N=16, K=8, F=8192, V=128256)
    spec = {"method": "draft", "draft_model": draft, "k": 3, "alpha": 0.7}
    r = lr.analyze(LLAMA70, "dgx-h100", tp=8, batch_size=2, prompt_len=256, gen_len=32, speculative=spec)
    s = r.techniques.speculative
    per_layer = (2048 * 2048 * 2 + 2 * 2048 * 1024 + 3 * 2048 * 8192) // 8 + 2 * 2048  # shards + 2 norms
    params = 4 * per_layer + 2 * (128256 // 8) * 2048 + 2048  # vocabulary-parallel embedding and lm_head
    assert s.draft_weights_bytes == 2 * params
    ops = {op.name: op for op in s.draft.ops}
    assert ops["draft.attn_all_reduce"].act_read_bytes == 2 * 1 * 2048 * 2  # the draft's own width
    assert ops["draft.logits_all_gather"].link_bytes == pytest.approx(7 / 8 * 2 * 128256 * 2)
    bad = llama("odd-draft", D=1536, L=2, N=12, K=6, F=4096, V=32000)
    with pytest.raises(DeploymentError, match="draft model odd-draft .* tp"):
        lr.analyze(LLAMA70, "dgx-h100", tp=8, speculative={**spec, "draft_model": bad})


def test_eagle3_draft_vocabulary_is_vocabulary_parallel():
    r = lr.analyze(LLAMA70, "dgx-h100", tp=8, batch_size=3, speculative="eagle3")
    ops = {op.name: op for op in r.techniques.speculative.draft.ops}
    assert ops["draft.lm_head"].weight_bytes == 32000 // 8 * 8192 * 2
    tokens = ops["draft.lm_head"].act_write_bytes / (32000 // 8 * 2)  # the pass's B x T tokens
    assert ops["draft.logits_all_gather"].act_read_bytes == pytest.approx(tokens * 32000 * 2)
    assert ops["draft.fc"].weight_bytes == (3 * 8192 + 1) * 8192 * 2  # replicated, with its bias


def test_mtp_on_attention_dp_and_ep():
    model = small_moe()
    kw = dict(batch_size=16, prompt_len=256, gen_len=32, speculative={"method": "mtp", "k": 1, "alpha": 0.8})
    r = lr.analyze(model, "dgx-h100", attention_dp=8, ep=8, **kw)
    names = {op.name for op in r.techniques.speculative.draft.ops}
    assert {"draft.moe_dispatch", "draft.moe_combine"} <= names
    verify = {op.name: op for op in r.techniques.speculative.verify.ops}
    assert verify["moe_dispatch"].act_read_bytes == pytest.approx(2 * 2 * model.layer_groups[-1].layer.ffn.top_k
                                                                  * model.hidden_size * 2)  # 2 seqs x T 2
    plain = lr.analyze(model, "dgx-h100", attention_dp=8, ep=8, **{k: v for k, v in kw.items() if k != "speculative"})
    assert r.techniques.one_token["tpot_s"] == plain.generation.tpot_s


@pytest.mark.parametrize("kw, field", [(dict(pp=2, speculative="eagle3"), "pp"),
                                       (dict(tp=8, overlap=True, kv_eviction=512), "overlap"),
                                       (dict(tp=8, early_exit=0.5), "early_exit")])
def test_refused_combinations_name_the_field(kw, field):
    with pytest.raises(ScenarioError, match=field):
        lr.analyze(LLAMA70, "dgx-h100", **kw)


def test_other_techniques_on_tp8():
    """KV eviction and contextual sparsity act on the shard's operators; the collectives stay whole."""
    common = dict(tp=8, batch_size=8, prompt_len=16384, gen_len=64)
    base = lr.analyze(LLAMA70, "dgx-h100", **common)
    plain_comm = {op.name: op.time_s for op in base.decode.ops if op.kind == "communication"}
    plain_flops = {op.name: op.flops for op in base.decode.ops}
    for kw in (dict(kv_eviction=512), dict(sparsity={"mlp": 0.5})):
        r = lr.analyze(LLAMA70, "dgx-h100", **common, **kw)
        if "kv_eviction" in kw:
            assert r.generation.tpot_s < base.generation.tpot_s
        else:  # half of the shard's neurons: half of its MLP FLOPs
            assert {op.name: op.flops for op in r.decode.ops}["down_proj"] == 0.5 * plain_flops["down_proj"]
        comm = {op.name: op.time_s for op in r.decode.ops if op.kind == "communication"}
        assert comm == plain_comm and len(comm) == 4


def test_cli_and_sweep(capsys):
    code = main(["analyze", "llama-3.1-70b", "dgx-h100", "--tp", "8", "--speculative", "eagle3", "-g", "64"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert "comm " in out and "TECHNIQUES" in out and "speculative iterations" in out and "attn_all_reduce" in out
    code = main(["sweep", "llama-3.1-70b", "dgx-h100", "--tp", "4,8", "--speculative", "eagle3", "-g", "64",
                 "-f", "json"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    rows = json.loads(out)
    alone = lr.analyze("llama-3.1-70b", "dgx-h100", tp=8, gen_len=64, speculative="eagle3")
    row = next(r for r in rows if r["tp"] == 8)
    assert row["tpot_s"] == pytest.approx(alone.generation.tpot_s)
    code = main(["analyze", "llama-3.1-70b", "dgx-h100", "--pp", "2", "--speculative", "eagle3"])
    assert code != 0 and "pp (2)" in capsys.readouterr().err


def test_web_analyze_takes_tp_with_speculative():
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    from llm_roofline.web.server import serve_in_thread

    body = {"model": "llama-3.1-70b", "hardware": "dgx-h100", "tp": 8, "gen_len": 64,
            "techniques": {"speculative": "eagle3"}}
    with serve_in_thread() as url, httpx.Client(base_url=url, timeout=60) as c:
        r = c.post("/api/analyze", json=body)
    assert r.status_code == 200, r.text
    want = lr.analyze("llama-3.1-70b", "dgx-h100", tp=8, gen_len=64, speculative="eagle3").to_dict()
    assert r.json() == json.loads(json.dumps(want))
    assert r.json()["parallelism"]["tp"] == 8 and r.json()["techniques"]["speculative"] is not None
