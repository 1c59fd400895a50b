"""Stage time split by operator kind or by operator."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import api
from ...defaults import DEFAULT_SCALE_BITS
from ...errors import ScenarioError
from .common import as_list, axis_value, load_pair, scenario_label


@dataclass(frozen=True)
class BreakdownData:
    """Time of each operator group (rows) in each scenario (columns), count included."""

    model: str
    hardware: str
    group_by: str                      # "kind" or "op"
    groups: tuple[str, ...]
    scenarios: tuple[str, ...]
    prefill_time_s: np.ndarray         # [n_groups, n_scenarios]
    decode_time_s: np.ndarray
    prefill_total_s: np.ndarray        # [n_scenarios], the engine's stage totals
    decode_total_s: np.ndarray


def breakdown(model, hardware, *, batch_size=1, prompt_len=1024, kv_len=None, w_bits=16, a_bits=16, kv_bits=16,
              flash_attention=False, logits_all=False, group_size=128, scale_bits=DEFAULT_SCALE_BITS,
              efficiency="ideal", group_by: str = "kind") -> BreakdownData:
    """Prefill and decode-step time split by operator kind (``matmul``, ``attention``, ``norm``...) or by
    operator (``group_by='op'``), for each combination of the listed settings."""
    if group_by not in ("kind", "op"):
        raise ScenarioError(f"group_by must be kind or op, got {group_by!r}")
    spec, device = load_pair(model, hardware)
    axes = {"batch_size": batch_size, "prompt_len": prompt_len, "kv_len": kv_len, "w_bits": w_bits,
            "a_bits": a_bits, "kv_bits": kv_bits}
    listed = {k: as_list(v) for k, v in axes.items() if as_list(v)}
    r = api.sweep(spec, device, flash_attention=flash_attention, logits_all=logits_all, group_size=group_size,
                  scale_bits=scale_bits, efficiency=efficiency, **{k: axis_value(v) for k, v in listed.items()})
    varying = [k for k, v in listed.items() if len(v) > 1]
    labels = tuple(scenario_label({k: r.columns[k][i].item() for k in varying}) or "scenario"
                   for i in range(len(r)))
    a = r.analysis

    def grouped(costs):
        keys = costs.table.kinds if group_by == "kind" else costs.table.names
        per_op = costs.time_s * costs.table.counts[:, None]
        return {g: per_op[[i for i, k in enumerate(keys) if k == g]].sum(0) for g in dict.fromkeys(keys)}

    pre, dec = grouped(a.prefill), grouped(a.decode)
    groups = tuple(dict.fromkeys([*pre, *dec]))
    zeros = np.zeros(len(r))
    return BreakdownData(model=spec.name, hardware=device.name, group_by=group_by, groups=groups, scenarios=labels,
                         prefill_time_s=np.stack([pre.get(g, zeros) for g in groups]),
                         decode_time_s=np.stack([dec.get(g, zeros) for g in groups]),
                         prefill_total_s=a.prefill_total.time_s, decode_total_s=a.decode_total.time_s)
