"""Several steps of one model in one build: named groups of copies of the scenarios, each with its own T
(query tokens per sequence), KV length S, windows on or off and lm_head on every token or the last."""

from __future__ import annotations

import numpy as np

from ..engine import cost_columns
from ..roofline import OpCosts
from ..scenario import Scenario, tiled


class Columns:
    """Collect groups with :meth:`add`, build once over :attr:`scenario` (``T``, ``S``, ``apply``,
    ``logits`` per column), then take a group's costs back with :meth:`part` (or its columns, :meth:`at`)."""

    def __init__(self, scenario: Scenario):
        self.base = scenario
        self.names: list[str] = []
        self._T, self._S, self._apply, self._logits = [], [], [], []
        self._scenario: Scenario | None = None

    def add(self, name: str, T, S, apply: bool, logits: bool = False) -> None:
        if self._scenario is not None:
            raise RuntimeError("columns added after the scenario was read")  # a bug
        n = self.base.size
        self.names.append(name)
        self._T.append(T if isinstance(T, np.ndarray) else np.full(n, float(T)))
        self._S.append(S if isinstance(S, np.ndarray) else np.full(n, float(S)))
        self._apply.append(apply)
        self._logits.append(logits)

    @property
    def scenario(self) -> Scenario:
        if self._scenario is None:
            self._scenario = tiled(self.base, len(self.names))
        return self._scenario

    @property
    def T(self) -> np.ndarray:
        return np.concatenate(self._T)

    @property
    def S(self) -> np.ndarray:
        return np.concatenate(self._S)

    @property
    def apply(self) -> np.ndarray:
        return np.repeat(np.array(self._apply, dtype=bool), self.base.size)

    @property
    def logits(self) -> np.ndarray:
        return np.repeat(np.array(self._logits, dtype=bool), self.base.size)

    def subset(self, prefix: str) -> tuple[Columns, slice]:
        """The groups whose names start with ``prefix`` (added one after the other) as Columns of their own,
        and their columns in this one."""
        picked = [i for i, name in enumerate(self.names) if name.startswith(prefix)]
        sub = Columns(self.base)
        for i in picked:
            sub.names.append(self.names[i])
            sub._T.append(self._T[i])
            sub._S.append(self._S[i])
            sub._apply.append(self._apply[i])
            sub._logits.append(self._logits[i])
        n = self.base.size
        return sub, slice(picked[0] * n, (picked[-1] + 1) * n)

    def at(self, name: str) -> slice:
        """The columns of group ``name``."""
        k, n = self.names.index(name), self.base.size
        return slice(k * n, (k + 1) * n)

    def part(self, costs: OpCosts, name: str) -> OpCosts:
        """The costs of group ``name`` as their own OpCosts."""
        return cost_columns(costs, self.at(name))
