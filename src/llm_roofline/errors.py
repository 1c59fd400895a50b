"""One exception tree for user errors. Faces turn these into one line and a non-zero exit."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RooflineError(Exception):
    """Base class of every error caused by the user's input (never by a bug)."""


class UnknownNameError(RooflineError, LookupError):
    """A model or hardware name that is not in the catalog."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind = kind
        self.name = name
        self.suggestions = close_matches(name, known)
        hint = f"; did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        shown = name if len(name) <= 80 else f"{name[:77]}..."
        super().__init__(f"unknown {kind} {shown!r}{hint} (list them with `llm-roofline {kind_cmd(kind)}`)")


class ConfigError(RooflineError, ValueError):
    """A model config or hardware file that is malformed, incomplete or inconsistent."""


class ScenarioError(RooflineError, ValueError):
    """A scenario value (batch size, length, bit-width, option) outside its valid range."""


class DeploymentError(ScenarioError):
    """Degrees of parallelism that do not fit the model or the system (the message names the field)."""


def kind_cmd(kind: str) -> str:
    if kind.startswith(("speculative", "technique")):
        return "techniques"
    return "models" if kind.startswith("model") else "hardware"  # systems are listed by `hardware` too


MAX_SUGGESTED_NAME_CHARS = 200


def close_matches(name: str, known: Iterable[str], n: int = 5) -> list[str]:
    """Up to ``n`` catalog names close to ``name``: substring hits first, then difflib's ratio."""
    if len(name) > MAX_SUGGESTED_NAME_CHARS:  # difflib is quadratic in the name's length
        return []
    known = list(known)
    lowered = {k.lower(): k for k in known}
    key = name.lower().strip()
    hits = [lowered[k] for k in lowered if key and (key in k or k in key)]
    fuzzy = difflib.get_close_matches(key, list(lowered), n=n, cutoff=0.5)
    out: list[str] = []
    for k in sorted(hits, key=len) + [lowered[f] for f in fuzzy]:
        if k not in out:
            out.append(k)
    return out[:n]
