"""The per-operator weight options: each weight matrix's format, sparsity and rank, as graph options.

The graph's primitives (ops.linear, ffn's expert projections, the embeddings) ask ``Sizes.weights``
how the operator's weights are stored and multiplied; :class:`WeightPlan` answers from the techniques:

- format (per-tensor precision): the last ``tensor_formats`` pair whose selector matches the operator,
  else the scenario's weights format; its storage bytes per element and the compute role
  ``weights:<i>`` that makes the roofline pick the peak for that format (roofline.op_peaks);
- sparsity (pruning.py): storage per dense element and the share of multiply-adds performed, for the
  operators ``sparse_modules`` selects;
- rank (low_rank.py): the operator becomes two, ``NAME.lr_in`` and ``NAME``.

A format's storage is precision.format_storage_bytes': a named format's own (quant_formats.py), else the
bit-width with the scenario's group size and scale bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ops import linear_row
from ..precision import format_storage_bytes
from .low_rank import rank_for
from .modules import matches
from .pruning import sparse_flops_factor, sparse_role, sparse_storage


@dataclass(frozen=True)
class WeightPlan:
    """Resolved weight options for one model and one set of scenarios (see the module doc)."""

    model: object
    formats: tuple  # (selector, Format) pairs, later pairs win
    group_size: int
    scale_bits: int
    weight_sparsity: np.ndarray
    sparse_format: str
    sparse_index_bits: int
    sparse_modules: tuple[str, ...]
    sparse_2to4: bool
    low_rank: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_memo", {})  # per operator name: (format index, sparse, rank rule)

    def _rules(self, name: str) -> tuple[int | None, bool, float | None]:
        """Which rules select operator ``name``: the last matching format, sparsity, the last rank rule."""
        memo = self._memo
        if name not in memo:
            found = None
            for i, (selector, _fmt) in enumerate(self.formats):
                if matches(selector, name, self.model):
                    found = i
            sparse = self.sparse_format != "dense" and any(matches(sel, name, self.model)
                                                           for sel in self.sparse_modules)
            rank = None
            for selector, rule in self.low_rank:
                if matches(selector, name, self.model):
                    rank = rule
            memo[name] = (found, sparse, rank)
        return memo[name]

    def _format_index(self, name: str) -> int | None:
        return self._rules(name)[0]

    def _sparse(self, name: str) -> bool:
        return self._rules(name)[1]

    def weight_of(self, sz, name: str) -> tuple[np.ndarray, str]:
        """(bytes per stored element, compute role) of operator ``name``'s weights."""
        i = self._format_index(name)
        if i is None:
            wb, role = sz.wb, "weights"
        else:
            fmt = self.formats[i][1]
            wb, role = format_storage_bytes(fmt, self.group_size, self.scale_bits), f"weights:{i}"
        if self._sparse(name):
            wb = sparse_storage(wb, self.weight_sparsity, self.sparse_format, self.sparse_index_bits)
            role += sparse_role(self.sparse_format)
        return wb, role

    def _kernel(self, sz, name: str):
        wb, role = self.weight_of(sz, name)
        factor = (sparse_flops_factor(self.weight_sparsity, self.sparse_format, self.sparse_2to4)
                  if self._sparse(name) else 1.0)
        return wb, role, factor

    def _rank(self, name: str, d_in: int, d_out: int) -> int | None:
        rule = self._rules(name)[2]
        return None if rule is None else rank_for(rule, d_in, d_out)

    def linear(self, ops, sz, name, count, d_in, d_out, bias, *, M, kv_out=0, kind="matmul", inputs=None) -> str:
        wb, role, factor = self._kernel(sz, name)
        r = self._rank(name, d_in, d_out)
        if r is None:
            return linear_row(ops, sz, name, count, d_in, d_out, bias, M=M, kv_out=kv_out, kind=kind,
                              inputs=inputs, wb=wb, compute=role, flops_factor=factor)
        first = linear_row(ops, sz, f"{name}.lr_in", count, d_in, r, False, M=M, kind=kind, inputs=inputs, wb=wb,
                           compute=role, flops_factor=factor)
        return linear_row(ops, sz, name, count, r, d_out, bias, M=M, kv_out=kv_out, kind=kind, inputs=(first,),
                          wb=wb, compute=role, flops_factor=factor)

    def expert_linear(self, ops, sz, name, count, d_in, d_out, moe, routing, inputs) -> str:
        from ..ffn import expert_row

        wb, role, factor = self._kernel(sz, name)
        r = self._rank(name, d_in, d_out)
        if r is None:
            return expert_row(ops, sz, name, count, d_in, d_out, moe, routing, inputs, wb=wb, compute=role,
                              flops_factor=factor)
        first = expert_row(ops, sz, f"{name}.lr_in", count, d_in, r, _biasless(moe), routing, inputs, wb=wb,
                           compute=role, flops_factor=factor)
        return expert_row(ops, sz, name, count, r, d_out, moe, routing, (first,), wb=wb, compute=role,
                          flops_factor=factor)


def _biasless(moe):
    from dataclasses import replace

    return replace(moe, expert_bias=False)

