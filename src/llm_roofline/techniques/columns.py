"""Several steps of one model in one build: named groups of copies of the scenarios, each with its own T
(query tokens per sequence), KV length S, windows on or off and lm_head on every token or the last."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from ..engine import cost_columns
from ..ops import OpTable
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

    def part(self, costs: OpCosts, name: str, shapes: bool = False) -> OpCosts:
        """The costs of group ``name`` as their own OpCosts; ``shapes``: keep the kernel shapes (only the
        calibrated efficiency reads them: without it they are left out, which saves cutting them)."""
        if shapes or costs.host_times or costs.serial_time_s is not None:  # offloading's arrays are cut there
            return cost_columns(costs, self.at(name))
        sl, table = self.at(name), costs.table
        part = replace(table, shapes=(), **{f.name: getattr(table, f.name)[:, sl] for f in _TABLE_ARRAYS})
        return replace(costs, table=part, **{f.name: getattr(costs, f.name)[:, sl] for f in _COST_ARRAYS
                                             if getattr(costs, f.name) is not None})


_TABLE_ARRAYS = [f for f in fields(OpTable)
                 if f.name in ("flops", "param_bytes", "weight_bytes", "act_read_bytes", "act_write_bytes",
                               "kv_read_bytes", "kv_write_bytes", "link_bytes", "link_time_s")]
_COST_ARRAYS = [f for f in fields(OpCosts) if f.name in ("peak_flops_per_s", "compute_time_s", "memory_time_s",
                                                         "time_s", "link_time_s", "roofline_time_s", "fixed_time_s")]
