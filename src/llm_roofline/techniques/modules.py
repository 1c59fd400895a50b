"""Module selectors: which operators' weights a technique applies to.

A selector is a module group or an operator name (shell patterns allowed, e.g. ``*.down_proj``):

- ``embed``: the token (and position, per-layer) embedding tables;
- ``lm_head``: the output projection (and OPT's project_out);
- ``attention``: every projection of the sequence mixer (q/k/v/o, MLA's, DeepSeek-V4's, Mamba's and
  the linear-attention layers' in/out projections); ``mixer`` is the same group;
- ``mlp``: the dense MLP's projections (gate, up, down); ``shared_experts``: the always-on experts;
  ``experts``: the routed experts; ``router``: the routers and expert gates;
- ``layers``: every weight matrix of the decoder layers (all but ``embed`` and ``lm_head``);
- ``all``: every weight.

Operator names are the engine's (``q_proj``, ``experts.down_proj``...: ``llm-roofline analyze`` lists
them); a selector that matches nothing is an error naming the groups and close operator names.
"""

from __future__ import annotations

import fnmatch

from ..errors import ScenarioError, close_matches

GROUPS = ("embed", "lm_head", "attention", "mixer", "mlp", "shared_experts", "experts", "router", "layers", "all")
_MLP_ROLES = ("gate_proj", "up_proj", "gate_up_proj", "down_proj")
_EMBED = ("embed_tokens", "embed_positions")


def group_of(name: str, model) -> str:
    """The module group of operator ``name`` of ``model`` (one of embed, lm_head, attention, mlp,
    shared_experts, experts, router)."""
    names = model.op_names
    if name in (names["lm_head"], "project_out"):
        return "lm_head"
    if name in (names["embed_tokens"], names["embed_positions"], "embed_tokens_per_layer"):
        return "embed"
    if name.startswith(names["experts"] + "."):
        return "experts"
    if name.startswith(names["shared_experts"] + "."):
        return "shared_experts"
    base = name.split("[")[0]
    for suffix in (".sliding", ".chunked"):
        base = base.removesuffix(suffix)
    if base in (names["router"], "shared_expert_gate") or base.startswith(names["router"] + "."):
        return "router"
    if base in {names[role] for role in _MLP_ROLES}:
        return "mlp"
    return "attention"


def matches(selector: str, name: str, model) -> bool:
    """Whether ``selector`` (a group or an operator-name pattern) selects operator ``name``."""
    if selector == "all":
        return True
    if selector in GROUPS:
        group = group_of(name, model)
        if selector == "layers":
            return group not in ("embed", "lm_head")
        return group == ("attention" if selector == "mixer" else selector)
    return fnmatch.fnmatchcase(name, selector)


def check_selectors(option: str, selectors, names, model) -> None:
    """ScenarioError when a selector matches none of the operators ``names`` (the weight-bearing ones)."""
    for selector in selectors:
        if not any(matches(selector, n, model) for n in names):
            if selector in GROUPS:
                raise ScenarioError(f"{option}: {model.name or 'the model'} has no {selector!r} weights")
            hints = close_matches(selector, [*GROUPS, *names])
            hint = f"; did you mean {', '.join(hints)}?" if hints else ""
            raise ScenarioError(f"{option}: {selector!r} matches no operator with weights{hint} (groups: "
                                f"{', '.join(GROUPS)}, or operator names such as q_proj or *.down_proj)")
