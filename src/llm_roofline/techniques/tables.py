"""OpTable -> OpTable helpers shared by the techniques: scale chosen operators' FLOPs and bytes, join
tables, prefix names. Pure functions over frozen tables (a new table each time)."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from ..ops import OpTable

PER_SCENARIO = ("flops", "param_bytes", "weight_bytes", "act_read_bytes", "act_write_bytes", "kv_read_bytes",
                "kv_write_bytes")
PER_OP = ("counts", "params", "active_params", "kv_window", "kv_chunk")
TRAFFIC = ("flops", "weight_bytes", "act_read_bytes", "act_write_bytes", "kv_read_bytes", "kv_write_bytes")


def scaled(table: OpTable, rows: np.ndarray, **factors) -> OpTable:
    """``table`` with the per-occurrence values named in ``factors`` (flops, weight_bytes, act_read_bytes,
    ...) multiplied by the factor on the operators where ``rows`` (bool [n_ops]) is true. A factor is a
    number or an array over scenarios ([n]) or over operators x scenarios ([n_ops, n])."""
    rows = np.asarray(rows, dtype=bool)
    if not rows.any() or not factors:
        return table
    changes = {}
    for name, factor in factors.items():
        if name not in PER_SCENARIO:
            raise ValueError(f"cannot scale {name!r}")  # a bug, not a user error
        values = getattr(table, name)
        factor = np.asarray(factor, dtype=np.float64)
        if factor.ndim == 1:
            factor = factor[None, :]
        changes[name] = np.where(rows[:, None], values * factor, values)
    return replace(table, **changes)


def concat(*tables: OpTable) -> OpTable:
    """The operators of several tables (same scenarios), in order."""
    tables = tuple(t for t in tables if t is not None and len(t.names))
    first = tables[0]
    if len(tables) == 1:
        return first
    values = {}
    for f in fields(OpTable):
        parts = [getattr(t, f.name) for t in tables]
        if any(isinstance(p, np.ndarray) for p in parts):  # optional per-operator arrays (offloading) fill in 0
            values[f.name] = np.concatenate([np.zeros_like(t.flops) if p is None else p
                                             for p, t in zip(parts, tables, strict=True)], axis=0)
        elif all(p is None for p in parts):
            values[f.name] = None
        elif f.name == "scopes":
            values[f.name] = sum((tuple(p) or ("model",) * len(t.names) for p, t in zip(parts, tables, strict=True)),
                                 ())
        else:
            values[f.name] = sum(parts, ())
    return OpTable(**values)


def prefixed(table: OpTable, prefix: str) -> OpTable:
    """Names (and the dataflow edges between them) with ``prefix`` in front."""
    names = set(table.names)
    return replace(table, names=tuple(prefix + n for n in table.names),
                   inputs=tuple(tuple(prefix + i if i in names else i for i in ins) for ins in table.inputs))


def unowned(table: OpTable, rows: np.ndarray) -> OpTable:
    """The operators where ``rows`` is true read weights they do not own (a draft head reading the
    target's embedding and lm_head): their parameters and parameter bytes count zero."""
    rows = np.asarray(rows, dtype=bool)
    return replace(table, params=np.where(rows, 0.0, table.params),
                   active_params=np.where(rows, 0.0, table.active_params),
                   param_bytes=np.where(rows[:, None], 0.0, table.param_bytes))


def layer_rows(table: OpTable) -> np.ndarray:
    """Operators inside the decoder layers (not the embedding, final norm or lm_head)."""
    return np.array([s != "model" for s in table.scopes], dtype=bool)
