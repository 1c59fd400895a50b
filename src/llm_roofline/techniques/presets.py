"""Named presets of multi-token decoding: a method's usual shape and a published mean acceptance length.

tau (tokens kept per iteration, bonus token included) depends on the model, the task and the sampling
temperature: each preset says where its number comes from and on what it was measured. Override it with
``tau=`` / ``--spec-tau`` (or ``alpha``) for your own workload. Presets marked ``assumed`` state a number the
source does not give directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..errors import UnknownNameError

PRESETS: Mapping[str, Mapping[str, object]] = MappingProxyType({
    "eagle3": MappingProxyType(dict(
        method="eagle3", k=7, width=10, tree_nodes=60, tau=6.0, draft_vocab=32000,
        source="EAGLE-3 (Li et al. 2025, https://arxiv.org/abs/2503.01840): acceptance lengths of about 6 "
               "on MT-bench (LLaMA-Instruct 3.1 8B, temperature 0); tree of 60 tokens, depth 7, top-k 10 "
               "(the defaults of https://github.com/SafeAILab/EAGLE); 32k draft vocabulary")),
    "eagle2": MappingProxyType(dict(
        method="eagle", k=5, width=10, tree_nodes=60, tau=4.8,
        source="EAGLE-2 (Li et al. 2024, https://arxiv.org/abs/2406.16858): acceptance lengths of 4 to 5.5, "
               "4.8 on MT-bench (temperature 0); tree of 60 tokens, depth 5, top-k 10; shares the target's "
               "lm_head")),
    "medusa2": MappingProxyType(dict(
        method="medusa", k=4, tree_nodes=64, tau=3.47,
        source="Medusa-2 (Cai et al. 2024, https://arxiv.org/abs/2401.10774): acceleration rate 3.47 tokens "
               "per step on Vicuna-7B (MT-bench), 2.83x speed-up at 1.22x overhead per step; 4 heads, a sparse "
               "tree of 64 candidates. Medusa-2 fine-tunes the backbone with the heads")),
    "mtp": MappingProxyType(dict(
        method="mtp", k=1, alpha=0.85,
        source="DeepSeek-V3 technical report (https://arxiv.org/abs/2412.19437), sec. 5.4.3: the second "
               "token's acceptance rate is 85-90 %, 1.8x tokens per second; one MTP module (k = 1), the low "
               "end taken")),
    "lookahead": MappingProxyType(dict(
        method="lookahead", k=4, window=15, ngram=5, guesses=15, tau=1.8,
        source="assumed: lookahead decoding (Fu et al. 2024, https://arxiv.org/abs/2402.02057, and "
               "https://lmsys.org/blog/2023-11-21-lookahead-decoding/) reports 1.5-2.3x speed-ups with W = 15, "
               "N = 5, G = 15 for 7B models; tau = 1.8 tokens per step is taken from those speed-ups")),
    "jacobi": MappingProxyType(dict(
        method="jacobi", k=15, tau=1.05,
        source="assumed: plain Jacobi decoding rarely fixes more than one token per step (Santilli et al. "
               "2023, https://arxiv.org/abs/2305.10427: about 1.05x); a block of 16 tokens")),
})


def preset(name: str) -> dict[str, object]:
    """The settings of preset ``name`` (a copy), or UnknownNameError with close matches."""
    key = name.strip().lower()
    if key not in PRESETS:
        raise UnknownNameError("speculative preset", name, PRESETS)
    return dict(PRESETS[key], preset=key)
