"""Operator-table transforms of the techniques, in order: fusion (fewer kernels, less activation
traffic), then offloading (which bytes cross the host link). Each is skipped when off."""

from __future__ import annotations

from ..ops import OpTable


def transform_table(table: OpTable, model, scenario) -> OpTable:
    t = scenario.optimizations
    if t.fusion != "none":
        from .fusion import fuse

        table = fuse(table, t.fusion, model)
    if t.offloads:
        from .offload import offload_table

        table = offload_table(table, model, scenario)
    return table
