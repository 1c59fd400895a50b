"""The advisor's entries for the compression and system optimizations (registry.py; docs/techniques.md):
each at stated typical settings, with what it assumes and where the setting comes from."""

from __future__ import annotations

from ..models.spec import Attention
from .registry import Technique, register


def _not_given(*keys: str):
    def check(model, base):
        given = [k for k in keys if base.get(k) not in (None, 0, 0.0, "none", "dense", "exact")]
        return f"{given[0]} is already set" if given else None
    return check


def _has_mlp(model, base):
    has = any(g.layer.ffn is not None for g in model.layer_groups)
    return None if has else "the model has no feed-forward blocks"


def _has_attention(model, base):
    has = any(isinstance(g.layer.mixer, Attention) for g in model.layer_groups)
    return None if has else "the model has no standard attention layers"


def _offload_to_fit(base: dict, baseline) -> dict:
    """The smallest shares (steps of 5 %) of the weights, then of the KV cache, whose move to host memory
    frees the overflow; nothing when the scenario fits already."""
    m = baseline.memory
    if m.fits:
        return dict(base)
    over = m.total_bytes - m.capacity_bytes

    def step(share: float) -> float:
        return round(min(1.0, -(-max(share, 0.0) // 0.05) * 0.05), 2)

    if over <= m.weights_bytes:
        return {**base, "offload_weights": step(over / m.weights_bytes)}
    return {**base, "offload_weights": 1.0, "offload_kv": step((over - m.weights_bytes) / max(m.kv_cache_bytes, 1.0))}


def _does_not_fit(model, base):
    return _not_given("offload_weights", "offload_kv")(model, base)


for name, title, level, note in (
    ("fusion-elementwise", "operator fusion (norms, activations, residual adds, RoPE into the GEMMs)",
     "elementwise", "their intermediate writes and reads disappear; their FLOPs stay"),
    ("fusion-aggressive", "aggressive fusion (also QKV and gate/up as one GEMM each)", "aggressive",
     "also the shared input of sibling GEMMs is read once"),
):
    register(Technique(
        name=name, title=title, family="fusion", settings={"fusion": level}, affects_accuracy=False, note=note,
        applies=_not_given("fusion"),
        source="the paper's section 5.2.1 and Fig. 15; TensorRT-LLM / vLLM fused kernels"))

register(Technique(
    name="sparsity-2to4", title="2:4 semi-structured sparsity (half the weights, sparse tensor cores)",
    family="pruning", settings={"sparse_format": "2:4"}, affects_accuracy=True,
    applies=_not_given("weight_sparsity", "sparse_format"),
    note="half the values + 2 bits of metadata per kept value; half the multiply-adds where the device has sparse "
         "tensor cores (its datasheet's sparse rate), all of them elsewhere",
    source="Mishra et al. 2021, https://arxiv.org/abs/2104.08378; SparseGPT, https://arxiv.org/abs/2301.00774"))

register(Technique(
    name="sparsity-50-bitmap", title="50 % unstructured sparsity, bitmap storage (a sparse kernel at peak)",
    family="pruning", settings={"weight_sparsity": 0.5, "sparse_format": "bitmap"}, affects_accuracy=True,
    applies=_not_given("weight_sparsity", "sparse_format"),
    note="values + 1 bit per weight (1.125 bytes per 16-bit weight); the sparse kernel is assumed to reach the "
         "peak (--sparse-efficiency sets less)",
    source="Wanda, https://arxiv.org/abs/2306.11695; Flash-LLM, https://arxiv.org/abs/2309.10285"))

register(Technique(
    name="prune-layers-25", title="remove 25 % of the layers", family="pruning", settings={"prune_layers": 0.25},
    affects_accuracy=True, applies=_not_given("prune_layers"),
    note="a smaller model: 3/4 of the decoder layers, every kind kept in proportion",
    source="ShortGPT, https://arxiv.org/abs/2403.03853"))

register(Technique(
    name="prune-intermediate-30", title="prune 30 % of the MLP channels", family="pruning",
    settings={"prune_intermediate": 0.3}, affects_accuracy=True, applies=_has_mlp,
    note="a smaller model: every MLP and expert keeps 70 % of its intermediate width",
    source="LLM-Pruner, https://arxiv.org/abs/2305.11627; Sheared-LLaMA, https://arxiv.org/abs/2310.06694"))

register(Technique(
    name="low-rank-mlp-50", title="low-rank MLP (half the full rank)", family="low-rank",
    settings={"low_rank": {"mlp": 0.5}}, affects_accuracy=True, applies=_has_mlp,
    note="each MLP matrix becomes two of rank min(d_in, d_out) / 2",
    source="ASVD, https://arxiv.org/abs/2312.05821"))

register(Technique(
    name="offload-to-fit", title="offload weights (then KV cache) to host memory until the rest fits",
    family="offloading",
    apply=_offload_to_fit, affects_accuracy=False, applies=_does_not_fit,
    note="the smallest share of the weights, then of the KV cache (in steps of 5 %), that frees the overflow, "
         "streamed over the host link each step, overlapped; slower, but it runs",
    source="FlexGen, https://arxiv.org/abs/2303.06865"))

register(Technique(
    name="prefix-cache-half", title="prefix caching (half of the prompt shared and cached)", family="kv-cache",
    apply=lambda base, baseline: {**base, "prefix_len": max(1, base.get("prompt_len", 1024) // 2)},
    affects_accuracy=False, applies=lambda model, base: _has_attention(model, base) or _not_given("prefix_len")(
        model, base),
    note="assumes the batch shares half of its prompt (a system prompt): its prefill is skipped and its KV stored "
         "once; set --prefix-len to your workload's",
    source="vLLM automatic prefix caching; SGLang RadixAttention, https://arxiv.org/abs/2312.07104"))

