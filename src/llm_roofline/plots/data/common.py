"""Helpers shared by the figures' data: loading, list handling, scenario labels, the grid sweep."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ... import api

Progress = Callable[[int, int], None] | None


AXIS_LABELS = {"batch_size": "batch {}", "prompt_len": "prompt {}", "gen_len": "gen {}", "kv_len": "KV length {}",
               "w_bits": "W{}", "a_bits": "A{}", "kv_bits": "KV{}"}


def load_pair(model, hardware) -> tuple:
    spec, device = api.load_model(model), api.load_hardware(hardware)
    return spec, device


def as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, str) or np.ndim(value) == 0:
        return [value]
    return list(value)


def axis_value(values: list):
    """A one-value list of a named format goes to ``api.sweep`` as that value (a fixed axis)."""
    return values[0] if len(values) == 1 and isinstance(values[0], str) else values


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float | np.floating) else str(value)


def scenario_label(settings: dict) -> str:
    """``{'w_bits': 8, 'prompt_len': 512}`` -> ``'W8, prompt 512'`` (bit-widths written together)."""
    bits = "".join(AXIS_LABELS[k].format(_fmt(settings[k])) for k in ("w_bits", "a_bits", "kv_bits") if k in settings)
    rest = [AXIS_LABELS[k].format(_fmt(v)) for k, v in settings.items() if k not in ("w_bits", "a_bits", "kv_bits")]
    return ", ".join(([bits] if bits else []) + rest)


def grid_sweep(spec, device, x_name, xs, axes: dict, *, flash_attention, logits_all, group_size, scale_bits,
               efficiency):
    """api.sweep over ``axes`` (lists) and the x axis last; returns columns shaped [*series, x]."""
    ordered = {k: as_list(v) for k, v in axes.items() if k != x_name and as_list(v)}
    ordered[x_name] = list(xs)
    result = api.sweep(spec, device, flash_attention=flash_attention, logits_all=logits_all,
                       group_size=group_size, scale_bits=scale_bits, efficiency=efficiency,
                       **{k: axis_value(v) for k, v in ordered.items()})
    shape = [len(v) if not any(isinstance(i, str) for i in v) else 1 for v in ordered.values()]
    cols = {k: np.asarray(v).reshape(shape) for k, v in result.columns.items()}
    return ordered, cols, result
