"""Speculative decoding and its draft-free relatives, as settings: how many tokens an iteration verifies,
how many it keeps, and what drafts them.

One iteration = the draft passes (a draft model, or draft heads on the target) + one verify step of the
target with T = ``verify_tokens`` query tokens per sequence at KV length S; it keeps E tokens on average.
Sources: Leviathan, Kalman and Matias, "Fast Inference from Transformers via Speculative Decoding", ICML
2023 (https://arxiv.org/abs/2211.17192), eq. (1) and Theorem 3.8; Chen et al., "Accelerating Large Language
Model Decoding with Speculative Sampling", 2023 (https://arxiv.org/abs/2302.01318).

- chain of k drafted tokens, each accepted with probability alpha (i.i.d.): E = (1 - alpha^(k+1)) / (1 -
  alpha) (Leviathan eq. 1; alpha = 1: k + 1; alpha = 0: 1), verify T = k + 1;
- a tree (EAGLE-2/3, Medusa): ``tree_nodes`` verified tokens, E given as the mean accepted length tau
  (tokens per iteration, the bonus token included, as the EAGLE and Medusa papers report it);
- lookahead decoding (Fu et al., ICML 2024, https://arxiv.org/abs/2402.02057): window W, n-gram N and
  G guesses verify T = 1 + (W + G)(N - 1) tokens per step, no draft model; Jacobi decoding of a block of
  k guesses: T = k + 1. Both keep tau tokens per step, an assumption the user states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import ScenarioError
from ..inputs import describe, integer, kind_of, real
from ..models.spec import ModelSpec

METHODS = ("draft", "eagle", "eagle3", "mtp", "medusa", "lookahead", "jacobi")
DRAFT_FREE = ("lookahead", "jacobi")
MAX_DRAFT_TOKENS = 64          # k: drafted tokens per iteration (chain length, tree depth, heads)
MAX_TREE_NODES = 1024          # tokens one verify step checks per sequence
MAX_WIDTH = 64                 # tokens per draft pass of a tree (EAGLE's top-k)
MAX_LOOKAHEAD = 64             # W, N and G of lookahead decoding

METHOD_TITLES = {
    "draft": "a draft model", "eagle": "EAGLE / EAGLE-2 draft head", "eagle3": "EAGLE-3 draft head",
    "mtp": "multi-token prediction modules (DeepSeek-V3)", "medusa": "Medusa heads",
    "lookahead": "lookahead decoding (no draft model)", "jacobi": "Jacobi decoding (no draft model)",
}


@dataclass(frozen=True)
class Speculative:
    """Settings of one multi-token decoding method (see the module docstring).

    ``k``: drafted tokens per iteration: the chain length (``draft``, ``mtp``: the MTP modules run in turn),
    the tree depth (``eagle``, ``eagle3``: draft passes), the heads (``medusa``: one pass), the guesses
    (``jacobi``). ``width``: tokens per draft pass after the first (EAGLE's top-k; 1 for a chain).
    ``tree_nodes``: tokens the verify step checks per sequence (None: a chain, k + 1). ``alpha``:
    per-token acceptance rate of a chain; ``tau``: mean tokens kept per iteration (one of the two).
    ``draft_model``: the draft LLM of method ``draft``. ``draft_vocab``: the vocabulary of a draft head's own
    output layer (EAGLE-3's 32k); None shares the target's lm_head. ``window``, ``ngram``, ``guesses``:
    W, N, G of lookahead decoding. ``preset`` / ``source``: where the numbers come from.
    """

    method: str
    k: int = 4
    width: int = 1
    tree_nodes: int | None = None
    alpha: float | None = None
    tau: float | None = None
    draft_model: ModelSpec | None = None
    draft_vocab: int | None = None
    window: int = 15
    ngram: int = 5
    guesses: int = 15
    preset: str = ""
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ScenarioError(f"speculative method must be one of {', '.join(METHODS)}, got {describe(self.method)}")
        integer("speculative k (draft tokens per iteration)", self.k, 1, MAX_DRAFT_TOKENS)
        integer("speculative width (tokens per draft pass)", self.width, 1, MAX_WIDTH)
        if self.tree_nodes is not None:
            integer("speculative tree_nodes", self.tree_nodes, 1, MAX_TREE_NODES)
        for name in ("window", "ngram", "guesses"):
            integer(f"lookahead {name}", getattr(self, name), 1 if name != "ngram" else 2, MAX_LOOKAHEAD)
        if self.draft_vocab is not None:
            integer("speculative draft_vocab", self.draft_vocab, 1, 1 << 24)
        if (self.alpha is None) == (self.tau is None):
            raise ScenarioError("speculative decoding needs one of alpha (per-token acceptance rate) or tau "
                                "(mean tokens per iteration), not " + ("both" if self.alpha is not None else "neither"))
        if self.alpha is not None:
            real("speculative alpha", self.alpha, 0.0, 1.0)
            if self.tree:
                raise ScenarioError("alpha describes a chain; give tau (mean tokens per iteration) for a tree "
                                    f"of {self.tree_nodes} nodes")
            if self.method in DRAFT_FREE:
                raise ScenarioError(f"{self.method} decoding takes tau (mean tokens per step), not alpha")
        if self.tau is not None:
            real("speculative tau", self.tau, 1.0, float(self.max_tokens))
        if self.method == "draft" and not isinstance(self.draft_model, ModelSpec):
            raise ScenarioError("speculative method 'draft' needs a draft model (a catalog name or a config.json)")
        if self.method != "draft" and self.draft_model is not None:
            raise ScenarioError(f"a draft model is for method 'draft', not {self.method!r}")
        if self.tree and self.tree_nodes < self.longest_path:
            raise ScenarioError(f"a tree of {self.tree_nodes} nodes cannot hold a path of {self.longest_path} "
                                "drafted tokens (tree_nodes >= k)")

    @property
    def tree(self) -> bool:
        return self.tree_nodes is not None

    @property
    def longest_path(self) -> int:
        """Drafted tokens one iteration can accept at most (the bonus token aside)."""
        if self.method == "lookahead":
            return self.ngram - 1
        return self.k

    @property
    def max_tokens(self) -> int:
        """The most tokens an iteration can keep: the longest path + the target's own (bonus) token."""
        return self.longest_path + 1

    @property
    def verify_tokens(self) -> int:
        """T of the verify step: k + 1 (a chain or Jacobi block: the last token and k guesses), the tree's
        nodes, or 1 + (W + G)(N - 1) for lookahead (its lookahead and verification branches)."""
        if self.method == "lookahead":
            return 1 + (self.window + self.guesses) * (self.ngram - 1)
        if self.tree:
            return int(self.tree_nodes)
        return self.k + 1

    @property
    def tokens_per_iteration(self) -> float:
        """E: tau, or (1 - alpha^(k+1)) / (1 - alpha) for a chain (k + 1 at alpha = 1)."""
        if self.tau is not None:
            return float(self.tau)
        return expected_tokens(float(self.alpha), self.k)

    def draft_passes(self) -> tuple[int, ...]:
        """Query tokens per sequence of each sequential draft pass of one iteration: a chain runs k passes
        of one token; a tree one pass of one token then k - 1 passes of ``width``; Medusa one pass (all
        heads at once); lookahead and Jacobi none."""
        if self.method in DRAFT_FREE:
            return ()
        if self.method == "medusa":
            return (1,)
        return (1,) + (self.width,) * (self.k - 1)

    def with_acceptance(self, *, alpha: float | None = None, tau: float | None = None) -> Speculative:
        return replace(self, alpha=alpha, tau=tau)

    def describe(self) -> str:
        """One line: the method, its shape and its acceptance."""
        shape = (f"W={self.window}, N={self.ngram}, G={self.guesses}" if self.method == "lookahead"
                 else f"{self.k} heads" if self.method == "medusa"
                 else f"tree of {self.tree_nodes} nodes, depth {self.k}, width {self.width}" if self.tree
                 else f"{self.k} guessed tokens" if self.method == "jacobi" else f"chain of {self.k}")
        acceptance = f"alpha {self.alpha:g}" if self.alpha is not None else f"tau {self.tau:g}"
        draft = f" ({self.draft_model.name})" if self.draft_model is not None else ""
        return (f"{METHOD_TITLES[self.method]}{draft}, {shape}, verifying {self.verify_tokens} tokens, "
                f"{acceptance}: {self.tokens_per_iteration:.3g} tokens per iteration")

    def to_dict(self) -> dict:
        return {"method": self.method, "preset": self.preset or None, "k": self.k, "width": self.width,
                "tree_nodes": self.tree_nodes, "alpha": self.alpha, "tau": self.tau,
                "draft_model": None if self.draft_model is None else self.draft_model.name,
                "draft_vocab": self.draft_vocab,
                "lookahead": ({"window": self.window, "ngram": self.ngram, "guesses": self.guesses}
                              if self.method == "lookahead" else None),
                "verify_tokens": self.verify_tokens, "draft_passes": list(self.draft_passes()),
                "tokens_per_iteration": self.tokens_per_iteration, "source": self.source or None}


def expected_tokens(alpha: float | np.ndarray, k: int | np.ndarray) -> np.ndarray | float:
    """Leviathan et al. eq. (1): tokens per iteration of a chain of k drafts accepted i.i.d. with
    probability alpha, the bonus token included: (1 - alpha^(k+1)) / (1 - alpha); k + 1 at alpha = 1."""
    alpha = np.asarray(alpha, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(alpha < 1.0, (1.0 - alpha ** (k + 1.0)) / (1.0 - alpha), k + 1.0)
    return float(value) if value.ndim == 0 else value


def leviathan_speedup(alpha: float, k: int, c: float) -> float:
    """Leviathan et al. Theorem 3.8: the expected walltime improvement factor of a chain of k drafts, a
    draft step costing c target steps and the verify step one target step: E / (k c + 1)."""
    return expected_tokens(alpha, k) / (k * c + 1.0)


def check_mapping_keys(what: str, given: dict, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        from ..errors import close_matches

        hints = {u: close_matches(u, allowed, 1) for u in unknown}
        shown = ", ".join(f"{u!r}" + (f" (did you mean {hints[u][0]!r}?)" if hints[u] else "") for u in unknown)
        raise ScenarioError(f"{what}: unknown setting {shown}; valid: {', '.join(allowed)}")


def finite_positive(name: str, value: object) -> float:
    if kind_of(value) == "a bool" or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise ScenarioError(f"{name} must be a number, got {describe(value)}")
    return float(value)
