"""The fast-decoding technique options of the commands that analyse (``analyze``, ``sweep``, ``advise``,
``plot speculative``), defined once, and their translation to the API's ``speculative``, ``early_exit``,
``sparsity`` and ``kv_eviction`` values (``techniques.options`` checks them and names the flag's setting).

Argparse only at import time.
"""

from __future__ import annotations

from .flags import int_flag, real_flag

SPECULATIVE_HELP = ("speculative decoding: a preset (eagle3, eagle2, medusa2, mtp, lookahead, jacobi) or a method "
                    "(draft, eagle, eagle3, mtp, medusa, lookahead, jacobi); see `llm-roofline techniques`")


def add_technique_options(parser, *, speculative: bool = True) -> None:
    """The technique options as one argument group (``speculative``: include speculative decoding's)."""
    g = parser.add_argument_group("fast-decoding techniques (docs/techniques.md; each off unless given)")
    if speculative:
        g.add_argument("--speculative", metavar="PRESET|METHOD", help=SPECULATIVE_HELP)
        g.add_argument("--draft-model", metavar="MODEL", help="the draft model of --speculative draft (catalog name "
                                                               "or config.json)")
        g.add_argument("--spec-k", type=int_flag((1, 64)), metavar="K",
                       help="drafted tokens per iteration: chain length, tree depth, heads or guesses")
        g.add_argument("--spec-alpha", type=real_flag(0.0, 1.0), metavar="A",
                       help="per-token acceptance rate of a chain, 0..1 (E = (1 - A^(K+1)) / (1 - A))")
        g.add_argument("--spec-tau", type=real_flag(1.0, 65.0), metavar="TAU",
                       help="mean tokens kept per iteration, bonus token included (instead of --spec-alpha)")
        g.add_argument("--spec-tree-nodes", type=int_flag((1, 1024)), metavar="N",
                       help="tokens a tree's verify step checks per sequence (default: a chain, K + 1)")
        g.add_argument("--spec-width", type=int_flag((1, 64)), metavar="W",
                       help="tokens per draft pass after the first (EAGLE's top-k)")
        g.add_argument("--draft-vocab", type=int_flag((1, 1 << 24)), metavar="V",
                       help="rows of a draft head's own output layer (EAGLE-3: 32000)")
        g.add_argument("--lookahead", metavar="W,N,G", help="lookahead decoding's window, n-gram size and guesses")
    g.add_argument("--early-exit", type=real_flag(0.0, 1.0), metavar="F",
                   help="early exit / layer skipping: the share of the layers each token runs, 0..1")
    g.add_argument("--exit-distribution", metavar="D:Q,...",
                   help="exit depths (share of the layers) with their probabilities, e.g. 0.5:0.3,0.75:0.3,1:0.4")
    g.add_argument("--exit-kv", choices=["compute", "none"],
                   help="skipped layers still compute K/V for later tokens (compute, default) or not")
    g.add_argument("--exit-classifier", choices=["linear", "lm_head", "none"],
                   help="the exit decision per layer run (default linear)")
    g.add_argument("--sparsity-mlp", type=real_flag(0.0, 1.0), metavar="P",
                   help="contextual sparsity: share of MLP neurons active per token")
    g.add_argument("--sparsity-heads", type=real_flag(0.0, 1.0), metavar="P",
                   help="contextual sparsity: share of attention heads active per token")
    g.add_argument("--sparsity-rank", type=int_flag((0, 1 << 16)), metavar="R",
                   help="rank of the sparsity predictors (default 1024; 0: free)")
    g.add_argument("--kv-eviction", choices=["streaming", "h2o", "snapkv"],
                   help="KV-cache eviction: StreamingLLM, H2O or SnapKV")
    g.add_argument("--kv-budget", type=int_flag((2, 10_000_000)), metavar="N",
                   help="tokens each attention layer keeps (default 1024)")
    g.add_argument("--kv-sinks", type=int_flag((0, 10_000_000)), metavar="N", help="StreamingLLM's sink tokens (4)")


def techniques_from_args(args) -> dict:
    """The API's technique arguments from the parsed options (None for each technique not asked for)."""
    from .errors import ScenarioError

    out: dict = {"speculative": None, "early_exit": None, "sparsity": None, "kv_eviction": None}
    method = getattr(args, "speculative", None)
    spec_flags = {"draft_model": getattr(args, "draft_model", None), "k": getattr(args, "spec_k", None),
                  "alpha": getattr(args, "spec_alpha", None), "tau": getattr(args, "spec_tau", None),
                  "tree_nodes": getattr(args, "spec_tree_nodes", None), "width": getattr(args, "spec_width", None),
                  "draft_vocab": getattr(args, "draft_vocab", None)}
    if getattr(args, "lookahead", None):
        parts = args.lookahead.split(",")
        if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
            raise ScenarioError(f"--lookahead takes W,N,G (three integers), got {args.lookahead!r}")
        spec_flags.update(window=int(parts[0]), ngram=int(parts[1]), guesses=int(parts[2]))
    given = {k: v for k, v in spec_flags.items() if v is not None}
    if method is not None:
        from .techniques.presets import PRESETS

        key = "preset" if method.strip().lower() in PRESETS else "method"
        out["speculative"] = {key: method, **given}
    elif given:
        flags = {"draft_model": "--draft-model", "k": "--spec-k", "alpha": "--spec-alpha", "tau": "--spec-tau",
                 "tree_nodes": "--spec-tree-nodes", "width": "--spec-width", "draft_vocab": "--draft-vocab",
                 "window": "--lookahead", "ngram": "--lookahead", "guesses": "--lookahead"}
        raise ScenarioError(f"{flags[next(iter(given))]} needs --speculative")
    exit_flags = {"kv_fill": args.exit_kv, "classifier": args.exit_classifier}
    if args.early_exit is not None or args.exit_distribution:
        dist = _distribution(args.exit_distribution) if args.exit_distribution else None
        out["early_exit"] = {"fraction": args.early_exit, "distribution": dist,
                             **{k: v for k, v in exit_flags.items() if v is not None}}
        out["early_exit"] = {k: v for k, v in out["early_exit"].items() if v is not None}
    elif any(v is not None for v in exit_flags.values()):
        raise ScenarioError("--exit-kv and --exit-classifier need --early-exit or --exit-distribution")
    sparse = {"mlp": args.sparsity_mlp, "heads": args.sparsity_heads, "predictor_rank": args.sparsity_rank}
    if args.sparsity_mlp is not None or args.sparsity_heads is not None:
        out["sparsity"] = {k: v for k, v in sparse.items() if v is not None}
    elif args.sparsity_rank is not None:
        raise ScenarioError("--sparsity-rank needs --sparsity-mlp or --sparsity-heads")
    kv = {"budget": args.kv_budget, "sinks": args.kv_sinks}
    if args.kv_eviction:
        out["kv_eviction"] = {"method": args.kv_eviction, **{k: v for k, v in kv.items() if v is not None}}
    elif any(v is not None for v in kv.values()):
        raise ScenarioError("--kv-budget and --kv-sinks need --kv-eviction")
    return out


def _distribution(text: str) -> list[tuple[float, float]]:
    from .errors import ScenarioError

    pairs = []
    for item in text.split(","):
        depth, _, prob = item.partition(":")
        try:
            pairs.append((float(depth), float(prob)))
        except ValueError:
            raise ScenarioError(f"--exit-distribution takes DEPTH:PROBABILITY pairs, e.g. 0.5:0.3,1:0.7; got "
                                f"{item.strip()[:40]!r}") from None
    return pairs
