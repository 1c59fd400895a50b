"""The techniques from what a user gives (Python values, the CLI, the web): None for off, a preset or
method name, a number, a mapping of settings, or the settings dataclass itself. Every error names the
technique and the field."""

from __future__ import annotations

import numbers
from collections.abc import Mapping

from ..errors import ScenarioError
from ..inputs import describe, kind_of
from .early_exit import EarlyExit
from .kv_eviction import METHODS as EVICTION_METHODS
from .kv_eviction import KVEviction
from .presets import PRESETS, preset
from .settings import Techniques
from .sparsity import ContextualSparsity
from .speculative import METHODS, Speculative, check_mapping_keys

SPECULATIVE_KEYS = ("preset", "method", "k", "width", "tree_nodes", "alpha", "tau", "draft_model", "draft_vocab",
                    "window", "ngram", "guesses")
EARLY_EXIT_KEYS = ("fraction", "distribution", "kv_fill", "classifier")
SPARSITY_KEYS = ("mlp", "heads", "predictor_rank")
EVICTION_KEYS = ("method", "budget", "sinks", "observation")
TECHNIQUE_ARGS = ("speculative", "early_exit", "sparsity", "kv_eviction")


def resolve_techniques(*, speculative=None, early_exit=None, sparsity=None, kv_eviction=None,
                       force_llama_like: bool = False) -> Techniques:
    """A Techniques from the API's / CLI's values (see each ``*_setting``)."""
    if isinstance(speculative, Techniques):  # already resolved
        return speculative
    return Techniques(speculative=speculative_setting(speculative, force_llama_like=force_llama_like),
                      early_exit=early_exit_setting(early_exit), sparsity=sparsity_setting(sparsity),
                      kv_eviction=eviction_setting(kv_eviction))


def _mapping(name: str, value: object) -> dict:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{name} must be None, a name or a mapping of settings, not {kind_of(value)} "
                            f"(got {describe(value)})")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise ScenarioError(f"{name}: setting names are text, got {describe(bad[0])}")
    return dict(value)


def speculative_setting(value, *, force_llama_like: bool = False) -> Speculative | None:
    """None; a preset name (``eagle3``, ``eagle2``, ``medusa2``, ``mtp``, ``lookahead``, ``jacobi``); a
    mapping {preset or method, k, width, tree_nodes, alpha or tau, draft_model, draft_vocab, window, ngram,
    guesses} (a preset's values overridden by those given; giving alpha drops the preset's tau and the
    other way round); or a Speculative. ``draft_model``: a catalog name, a config.json path or a ModelSpec."""
    if value is None or isinstance(value, Speculative):
        return value
    if isinstance(value, str):
        value = {"preset": value} if value.strip().lower() in PRESETS else {"method": value}
    given = _mapping("speculative", value)
    check_mapping_keys("speculative", given, SPECULATIVE_KEYS)
    settings: dict = {}
    if given.get("preset") is not None:
        settings = preset(str(given.pop("preset")))
        if given.get("method") not in (None, settings["method"]):
            raise ScenarioError(f"speculative: preset {settings['preset']!r} is method {settings['method']!r}, "
                                f"not {given['method']!r}")
    given.pop("preset", None)
    if given.get("alpha") is not None:
        settings.pop("tau", None)
    if given.get("tau") is not None:
        settings.pop("alpha", None)
    settings.update({k: v for k, v in given.items() if v is not None})
    method = settings.get("method")
    if method is None:
        raise ScenarioError("speculative needs a preset or a method: presets "
                            f"{', '.join(PRESETS)}; methods {', '.join(METHODS)}")
    if isinstance(method, str) and method.strip().lower() not in METHODS:
        from ..errors import UnknownNameError

        raise UnknownNameError("speculative method or preset", method, [*PRESETS, *METHODS])
    settings["method"] = str(method).strip().lower()
    draft = settings.get("draft_model")
    if draft is not None and not _is_spec(draft):
        from ..api import load_model

        settings["draft_model"] = load_model(draft, force_llama_like=force_llama_like)
    return Speculative(**settings)


def _is_spec(value) -> bool:
    from ..models.spec import ModelSpec

    return isinstance(value, ModelSpec)


def early_exit_setting(value) -> EarlyExit | None:
    """None; a number f (every token runs that share of the layers); a mapping {fraction or distribution,
    kv_fill, classifier}, the distribution as {depth: probability} or [(depth, probability), ...]; or an
    EarlyExit."""
    if value is None or isinstance(value, EarlyExit):
        return value
    if isinstance(value, numbers.Real) and kind_of(value) != "a bool":
        return EarlyExit(fraction=float(value))
    given = _mapping("early_exit", value)
    check_mapping_keys("early_exit", given, EARLY_EXIT_KEYS)
    dist = given.get("distribution")
    if dist is not None:
        items = dist.items() if isinstance(dist, Mapping) else dist
        try:
            given["distribution"] = tuple((float(e), float(q)) for e, q in items)
        except (TypeError, ValueError):
            raise ScenarioError("early_exit distribution must be {depth: probability} or a list of (depth, "
                                f"probability) pairs, got {describe(dist)}") from None
    return EarlyExit(**given)


def sparsity_setting(value) -> ContextualSparsity | None:
    """None; a mapping {mlp, heads, predictor_rank} (shares active per token); or a ContextualSparsity."""
    if value is None or isinstance(value, ContextualSparsity):
        return value
    given = _mapping("sparsity", value)
    check_mapping_keys("sparsity", given, SPARSITY_KEYS)
    return ContextualSparsity(**given)


def eviction_setting(value) -> KVEviction | None:
    """None; a method name (streaming, h2o, snapkv; budget 1024); an integer budget (StreamingLLM); a
    mapping {method, budget, sinks, observation}; or a KVEviction."""
    if value is None or isinstance(value, KVEviction):
        return value
    if isinstance(value, str):
        if value.strip().lower() not in EVICTION_METHODS:
            from ..errors import UnknownNameError

            raise UnknownNameError("technique kv_eviction method", value, EVICTION_METHODS)
        return KVEviction(method=value.strip().lower())
    if isinstance(value, numbers.Integral) and kind_of(value) != "a bool":
        return KVEviction(budget=int(value))
    given = _mapping("kv_eviction", value)
    check_mapping_keys("kv_eviction", given, EVICTION_KEYS)
    if isinstance(given.get("method"), str):
        given["method"] = given["method"].strip().lower()
    return KVEviction(**given)
