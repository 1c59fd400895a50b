"""Techniques: the fast-decoding techniques one analysis applies, each off (None) or its settings."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ScenarioError
from .early_exit import EarlyExit
from .kv_eviction import KVEviction
from .sparsity import ContextualSparsity
from .speculative import Speculative


@dataclass(frozen=True)
class Techniques:
    """``speculative`` (or lookahead / Jacobi), ``early_exit``, ``sparsity`` (contextual), ``kv_eviction``."""

    speculative: Speculative | None = None
    early_exit: EarlyExit | None = None
    sparsity: ContextualSparsity | None = None
    kv_eviction: KVEviction | None = None

    def __post_init__(self) -> None:
        for name, kind in (("speculative", Speculative), ("early_exit", EarlyExit),
                           ("sparsity", ContextualSparsity), ("kv_eviction", KVEviction)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise ScenarioError(f"{name} must be a {kind.__name__} or None, got {type(value).__name__}")
        if self.speculative is not None and self.early_exit is not None:
            raise ScenarioError("early exit and speculative decoding do not combine here: the verify step runs "
                                "the whole target (for self-speculation, model the early-exit draft as method "
                                "'draft' with a shallower config)")

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.speculative, self.early_exit, self.sparsity, self.kv_eviction))

    def describe(self) -> list[str]:
        """One line per technique switched on, saying what is assumed."""
        return [t.describe() for t in (self.speculative, self.early_exit, self.sparsity, self.kv_eviction)
                if t is not None]

    def to_dict(self) -> dict:
        return {name: (None if value is None else value.to_dict())
                for name, value in (("speculative", self.speculative), ("early_exit", self.early_exit),
                                    ("sparsity", self.sparsity), ("kv_eviction", self.kv_eviction))}


NO_TECHNIQUES = Techniques()
