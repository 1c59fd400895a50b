"""The techniques the advisor knows: one entry per technique at stated typical settings.

An entry says what it changes as keyword arguments of ``llm_roofline.analyze`` (``settings``), or as a
function of the analysis it improves on (``apply``: e.g. the largest batch that fits), whether it changes
the model's output (``affects_accuracy``: the tool models speed, not quality), when it does not apply,
and where its typical settings come from. Other packages add theirs with :func:`register` (each module
listed in ``ENTRY_MODULES`` registers its entries when the registry is first read).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import UnknownNameError

# Modules whose import registers entries (this package's built-ins first; add yours here).
ENTRY_MODULES = ("llm_roofline.techniques.entries", "llm_roofline.techniques.optimization_entries")


@dataclass(frozen=True)
class Technique:
    """One advisor entry.

    ``name``: a short id (``quant-w4``); ``title``: what it is; ``family``: quantization, attention,
    speculative, layers, sparsity, kv-cache, batching, parallelism...; ``settings``: the ``analyze``
    keyword arguments it sets; ``apply(base, baseline)``: instead, the keyword arguments from the base
    call's (a dict) and the baseline Report (None: base updated with ``settings``); ``applies(model,
    base)``: None when the entry applies, else the reason it does not; ``note``: what is assumed."""

    name: str
    title: str
    family: str
    settings: Mapping[str, object] = field(default_factory=dict)
    affects_accuracy: bool = False
    source: str = ""
    note: str = ""
    apply: Callable | None = None
    applies: Callable | None = None

    def arguments(self, base: dict, baseline) -> dict:
        """The ``analyze`` keyword arguments of this entry, from the base call's and the baseline report."""
        if self.apply is not None:
            return self.apply(dict(base), baseline)
        return {**base, **self.settings}

    def reason_not(self, model, base: dict) -> str | None:
        return None if self.applies is None else self.applies(model, base)

    def describe_settings(self, arguments: dict, base: dict) -> dict:
        """The settings shown: what the entry changed in the call."""
        return {k: v for k, v in arguments.items() if base.get(k, _MISSING) != v}


_MISSING = object()
_REGISTRY: dict[str, Technique] = {}
_LOADED: list[bool] = [False]


def register(technique: Technique) -> Technique:
    """Add (or replace) an entry; returns it."""
    _REGISTRY[technique.name] = technique
    return technique


def techniques() -> Mapping[str, Technique]:
    """Every registered entry by name, in registration order."""
    if not _LOADED[0]:
        _LOADED[0] = True
        for module in ENTRY_MODULES:
            importlib.import_module(module)
    return MappingProxyType(_REGISTRY)


def pick(names) -> list[Technique]:
    """The entries named (all of them for None); unknown names suggest close ones."""
    known = techniques()
    if names is None:
        return list(known.values())
    out = []
    for name in names:
        if name not in known:
            raise UnknownNameError("technique", name, known)
        out.append(known[name])
    return out
