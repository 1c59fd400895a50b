"""Speed of the fast-decoding techniques against the plain analysis (issue 11: within 2x). Run by hand:

    python benchmarks/bench_techniques.py

One scenario of Llama-3.1-8B on an H100 (batch 1, prompt 1024, 256 generated tokens), analysed with each
technique and without, the runs interleaved; prints each technique's median time and its ratio to the plain
analysis, for the engine (``evaluate``) and the whole API call (``lr.analyze``, the report included).
A second table shows a 256-scenario batch sweep, where the extra stages' columns (the verify step at
T = k + 1, the draft passes) are extra work in proportion. The lr.analyze table also has EAGLE-3 with
aggressive fusion and FP8 layers (techniques and optimizations together). A last line: Llama-3.1-70B on a DGX H100 at
tensor parallelism 8 with EAGLE-3 against the same deployment without it (the shard with its plan).
"""

from __future__ import annotations

from ratios import interleaved, ratio_table

import llm_roofline as lr
from llm_roofline.api import load_hardware, load_model, resolve_efficiency
from llm_roofline.engine import evaluate
from llm_roofline.scenario import Scenario
from llm_roofline.techniques.options import resolve_techniques

TECHNIQUES = {
    "speculative eagle3 (tree of 60)": {"speculative": "eagle3"},
    "speculative draft model (llama-3.2-1b)": {"speculative": {"method": "draft", "draft_model": "llama-3.2-1b",
                                                               "k": 4, "alpha": 0.7}},
    "speculative mtp": {"speculative": "mtp"},
    "medusa2": {"speculative": "medusa2"},
    "lookahead": {"speculative": "lookahead"},
    "early exit 0.75": {"early_exit": 0.75},
    "contextual sparsity": {"sparsity": {"mlp": 0.3, "heads": 0.5}},
    "kv eviction h2o 512": {"kv_eviction": {"method": "h2o", "budget": 512}},
}
# A technique with the compression and system optimizations (docs/techniques.md), against the plain analysis.
COMBINED = {"fusion + fp8 (optimizations alone)": {"fusion": "aggressive", "module_bits": {"layers": "fp8"}},
            "eagle3 + fusion + fp8": {"speculative": "eagle3", "fusion": "aggressive",
                                      "module_bits": {"layers": "fp8"}}}
TARGET = 2.0


def table(title: str, medians: dict, judged: bool = True) -> None:
    ratio_table(title, medians, TARGET, judged, width=40)


def main() -> None:
    model, device = load_model("llama-3.1-8b"), load_hardware("h100-sxm")
    eff = resolve_efficiency("ideal", device)
    resolved = {name: resolve_techniques(**kw) for name, kw in TECHNIQUES.items()}
    for n, repeat in ((1, 200), (256, 20)):
        sc = Scenario.build(batch_size=list(range(1, n + 1)) if n > 1 else 1, prompt_len=1024, gen_len=256)
        calls = {"plain": lambda sc=sc: evaluate(model, device, sc, eff)}
        calls |= {name: (lambda sc=sc, t=t: evaluate(model, device, sc, eff, t)) for name, t in resolved.items()}
        title = (f"engine, one scenario (target <= {TARGET:g}x)" if n == 1
                 else f"engine, a {n}-scenario sweep (for information: the extra steps are extra columns)")
        table(title, interleaved(calls, repeat), judged=n == 1)
    calls = {"plain": lambda: lr.analyze(model, device)}
    calls |= {name: (lambda kw=kw: lr.analyze(model, device, **kw)) for name, kw in TECHNIQUES.items()}
    calls |= {name: (lambda kw=kw: lr.analyze(model, device, **kw)) for name, kw in COMBINED.items()}
    table(f"lr.analyze, one scenario, report included (target <= {TARGET:g}x)", interleaved(calls, 100))
    calls = {"plain": lambda: lr.analyze("llama-3.1-70b", "dgx-h100", tp=8),
             "tp 8 + speculative eagle3": lambda: lr.analyze("llama-3.1-70b", "dgx-h100", tp=8, speculative="eagle3")}
    table("lr.analyze, llama-3.1-70b on dgx-h100 at tp 8 (for information)", interleaved(calls, 50), judged=False)


if __name__ == "__main__":
    main()
