"""Speed of the compression and system optimizations against the plain analysis (issue 12: within 2x).
Run by hand:

    python benchmarks/bench_optimizations.py

One scenario of Llama-3.1-8B on an H100 (batch 1, prompt 1024, 256 generated tokens), analysed with each
optimization and without, the runs interleaved; prints each one's median time and its ratio to the plain
analysis, for the engine (``evaluate``, the scenario resolved once as a face would) and the whole API call
(``lr.analyze``: model and option checks, the report included). A second table shows a 256-scenario
batch sweep, for information.
"""

from __future__ import annotations

from ratios import interleaved, ratio_table

import llm_roofline as lr
from llm_roofline.api import load_hardware, load_model, resolve_efficiency
from llm_roofline.engine import evaluate
from llm_roofline.techniques.resolve import scenario_for

OPTIMIZATIONS = {
    "per-tensor precision (embed/lm_head 16, attention fp8)": {"w_bits": 4, "embed_bits": 16, "lm_head_bits": 16,
                                                               "module_bits": {"attention": "fp8"}},
    "2:4 sparsity": {"sparse_format": "2:4"},
    "50% csr sparsity": {"weight_sparsity": 0.5, "sparse_format": "csr"},
    "structured pruning (25% layers, 30% MLP)": {"prune_layers": 0.25, "prune_intermediate": 0.3},
    "low rank (mlp 0.25)": {"low_rank": {"mlp": 0.25}},
    "fusion elementwise": {"fusion": "elementwise"},
    "fusion aggressive": {"fusion": "aggressive"},
    "FlashAttention-2 tiling": {"attention": "fa2"},
    "offload weights 0.3 + KV 0.5": {"offload_weights": 0.3, "offload_kv": 0.5},
    "offload, CPU computes": {"offload_weights": 0.3, "offload_kv": 0.5, "offload_compute": "cpu"},
    "paged KV cache": {"kv_allocation": "paged"},
    "prefix caching (512)": {"prefix_len": 512},
    "all of them at once": {"fusion": "aggressive", "attention": "fa2", "offload_kv": 0.5, "kv_allocation": "paged",
                            "prefix_len": 512, "weight_sparsity": 0.5, "sparse_format": "bitmap"},
}
TARGET = 2.0


def table(title: str, medians: dict, judged: bool = True) -> None:
    ratio_table(title, medians, TARGET, judged, width=56)


def main() -> None:
    model, device = load_model("llama-3.1-8b"), load_hardware("h100-sxm")
    eff = resolve_efficiency("ideal", device)
    for n, repeat in ((1, 100), (256, 10)):
        batch = list(range(1, n + 1)) if n > 1 else 1

        def scenario(options: dict, batch=batch):
            scenario_options = {k: v for k, v in options.items() if k == "w_bits"}
            return scenario_for(model, {k: v for k, v in options.items() if k != "w_bits"}, batch_size=batch,
                                prompt_len=1024, gen_len=256, **scenario_options)

        plain = scenario({})
        calls = {"plain": lambda sc=plain: evaluate(model, device, sc, eff)}
        for name, options in OPTIMIZATIONS.items():
            sc = scenario(options)
            calls[name] = lambda sc=sc: evaluate(model, device, sc, eff)
        title = (f"engine, one scenario (target <= {TARGET:g}x)" if n == 1
                 else f"engine, a {n}-scenario sweep (for information)")
        table(title, interleaved(calls, repeat), judged=n == 1)
    calls = {"plain": lambda: lr.analyze(model, device)}
    calls |= {name: (lambda kw=kw: lr.analyze(model, device, **kw)) for name, kw in OPTIMIZATIONS.items()}
    table(f"lr.analyze, one scenario, report included (target <= {TARGET:g}x)", interleaved(calls, 50))


if __name__ == "__main__":
    main()
