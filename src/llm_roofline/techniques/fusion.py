"""Operator fusion: elementwise work folded into the matrix multiplications next to it (the paper's
Fig. 14-15), as an operator-table transform.

Level ``elementwise`` (what compilers and inference engines fuse into GEMM prologues and epilogues:
TensorRT-LLM, vLLM's fused kernels, torch.compile / Triton):

- a norm whose consumers are all matrix multiplications becomes their prologue: its read of x and its
  write of y disappear (the consumers read x instead of y, the same size); each consumer recomputes the
  normalization, so its FLOPs and its weight vector's reads count once per consumer;
- a rotary embedding whose producers are all matrix multiplications read by nothing else becomes their
  epilogue: its read and write disappear (the producers write rotated values instead of raw ones);
- any other norm or elementwise operator (activation, residual add, routing top-k, MoE combine, output
  gate) with a producing matrix multiplication that nothing else reads becomes that product's epilogue:
  the product's write of its output and the operator's read of it disappear (2 x the tensor); the
  operator's other reads (the residual stream, the gate branch) and its write remain.

Level ``aggressive`` also merges sibling matrix multiplications that read the same tensor in the same
module group into one GEMM (Q, K, V as one; gate and up as one, so the activation fuses too; MLA's
q_a_proj and kv_a_proj): the shared input is read once instead of once per product.

FLOPs stay (plus the recomputed norms); weights and KV-cache traffic stay. A fused group is one
operator, named after its members joined by ``+`` (``o_proj+attn_residual``), so the operator graph
shows what was fused and the per-kernel fixed cost (an efficiency setting's ``kernel_overhead_s``) is
paid once per group (under ``--efficiency calibrated`` the fitted fixed cost of the group's kernel, whose
shape is the host product's; merged siblings are one GEMM of their summed output width). Only
operators with the same count fuse. The tensor a product hands over is
taken to be its whole output; a projection whose output goes to the KV cache still writes the cache.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from ..ops import OpTable

FUSABLE = ("norm", "elementwise")


def _is_rope(name: str) -> bool:
    return name.split("[")[0].split(".")[0].endswith("rope")


class _Rows:
    """The table as mutable rows: 2-D arrays per row, 1-D values, tuples (names, kinds, inputs...)."""

    def __init__(self, table: OpTable):
        self.table = table
        self.matrix = [f.name for f in fields(table) if isinstance(getattr(table, f.name), np.ndarray)
                       and getattr(table, f.name).ndim == 2]
        self.vector = [f.name for f in fields(table) if isinstance(getattr(table, f.name), np.ndarray)
                       and getattr(table, f.name).ndim == 1]
        self.tuples = [f.name for f in fields(table) if isinstance(getattr(table, f.name), tuple)
                       and len(getattr(table, f.name)) == len(table.names)]
        self.rows = []
        for i, name in enumerate(table.names):
            row = {k: getattr(table, k)[i].copy() for k in self.matrix}
            row.update({k: getattr(table, k)[i] for k in self.vector})
            row.update({k: getattr(table, k)[i] for k in self.tuples})
            row["members"] = [name]
            self.rows.append(row)

    def alive(self):
        return [r for r in self.rows if r.get("gone") is None]

    def by_name(self) -> dict:
        return {r["name"]: r for r in self.alive()}

    def consumers(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for r in self.alive():
            for src in r["inputs"]:
                out.setdefault(src, []).append(r)
        return out

    def merge_into(self, host: dict, other: dict, keep_params: bool = True) -> None:
        """``other``'s work joins ``host`` (sums of traffic and FLOPs); other disappears."""
        for k in self.matrix:
            if k == "param_bytes" and not keep_params:
                continue
            host[k] = host[k] + other[k]
        if keep_params:
            for k in ("params", "active_params"):
                host[k] = host[k] + other[k]
        host["members"] = host["members"] + [m for m in other["members"] if m not in host["members"]]
        host["inputs"] = tuple(dict.fromkeys(i for i in (*host["inputs"], *other["inputs"])
                                             if i not in host["members"]))
        other["gone"] = host["name"]

    def to_table(self) -> OpTable:
        rows = self.alive()
        renamed = {}
        for r in self.rows:
            target = r
            while target.get("gone") is not None:
                target = next(x for x in self.rows if x["name"] == target["gone"])
            renamed[r["name"]] = "+".join(target["members"])
        values = {k: np.stack([r[k] for r in rows]) for k in self.matrix}
        values.update({k: np.array([r[k] for r in rows], dtype=np.float64) for k in self.vector})
        values.update({k: tuple(r[k] for r in rows) for k in self.tuples})
        values["names"] = tuple(renamed[r["name"]] for r in rows)
        values["inputs"] = tuple(tuple(dict.fromkeys(renamed.get(i, i) for i in r["inputs"]
                                                     if renamed.get(i, i) != renamed[r["name"]]))
                                 for r in rows)
        return replace(self.table, **values)


def _is_product(row: dict) -> bool:
    return row["kinds"] == "matmul" and str(row["compute"]).startswith("weights")


def fuse(table: OpTable, level: str, model=None) -> OpTable:
    """The table with the fusions of ``level`` (elementwise or aggressive) applied (module doc)."""
    rows = _Rows(table)
    for r in rows.rows:
        r["name"] = r["names"]
    if level == "aggressive":
        _merge_siblings(rows, model)
    _fold_elementwise(rows)
    for r in rows.alive():
        r["names"] = r["name"]
    return rows.to_table()


def _merge_siblings(rows: _Rows, model) -> None:
    """Products that read the same inputs, with the same count and module group, become one GEMM: the
    shared input is read once (the largest of their reads), the rest adds up."""
    from .modules import group_of

    groups: dict[tuple, list[dict]] = {}
    for r in rows.alive():
        if _is_product(r) and r["inputs"]:
            group = group_of(r["name"], model) if model is not None else ""
            groups.setdefault((r["inputs"], float(r["counts"]), group), []).append(r)
    for members in groups.values():
        if len(members) < 2:
            continue
        host = members[0]
        shared = np.maximum.reduce([m["act_read_bytes"] for m in members])
        shape = host.get("shapes")
        if isinstance(shape, dict) and all(isinstance(m.get("shapes"), dict) and "n" in m["shapes"] for m in members):
            host["shapes"] = {**shape, "n": sum(m["shapes"]["n"] for m in members)}  # one GEMM, outputs side by side
        for other in members[1:]:
            rows.merge_into(host, other)
        host["act_read_bytes"] = shared
        for r in rows.alive():  # consumers of the merged products now read the host
            r["inputs"] = tuple(dict.fromkeys(host["name"] if i in host["members"] else i for i in r["inputs"]))


def _fold_elementwise(rows: _Rows) -> None:
    for e in list(rows.alive()):
        if e.get("gone") is not None or e["kinds"] not in FUSABLE:
            continue
        if np.any(e["kv_read_bytes"]) or np.any(e["kv_write_bytes"]):
            continue  # writes the KV cache (Gemma 4's v_norm with K = V): left alone
        names, consumers = rows.by_name(), rows.consumers()
        producers = [names[i] for i in e["inputs"] if i in names]
        readers = consumers.get(e["name"], [])
        same = [p for p in producers if _is_product(p) and len(consumers.get(p["name"], [])) == 1
                and p["counts"] == e["counts"]]
        if e["kinds"] == "norm" and readers and all(_is_product(c) and c["counts"] == e["counts"] for c in readers):
            _prologue(rows, e, readers)
        elif _is_rope(e["name"]) and producers and len(producers) == len(e["inputs"]) and all(
                _is_product(p) and p["counts"] == e["counts"] for p in producers):
            _rope_epilogue(rows, e, producers)
        elif same:
            _epilogue(rows, e, same[-1])


def _prologue(rows: _Rows, e: dict, readers: list[dict]) -> None:
    """Norm e into the prologue of each reader: its activation traffic disappears; FLOPs and weight
    reads repeat in each reader; its parameters are counted once."""
    e["act_read_bytes"] = np.zeros_like(e["act_read_bytes"])
    e["act_write_bytes"] = np.zeros_like(e["act_write_bytes"])
    first, *rest = readers
    for reader in rest:
        copy = dict(e, members=[e["name"]], params=0.0, active_params=0.0)
        copy["param_bytes"] = np.zeros_like(e["param_bytes"])
        rows.merge_into(reader, copy)
        reader["members"] = [e["name"], *[m for m in reader["members"] if m != e["name"]]]
        reader["inputs"] = tuple(dict.fromkeys(i for i in (*e["inputs"], *reader["inputs"]) if i != e["name"]))
    rows.merge_into(first, e)
    first["members"] = [e["name"], *[m for m in first["members"] if m != e["name"]]]
    first["inputs"] = tuple(dict.fromkeys(i for i in (*e["inputs"], *first["inputs"]) if i != e["name"]))
    _reroute(rows, e["name"], first["name"])


def _rope_epilogue(rows: _Rows, e: dict, producers: list[dict]) -> None:
    """RoPE into the epilogue of each producer: its read and write disappear (each producer writes its
    rotated output instead of the raw one); its FLOPs are shared by the producers in proportion to what
    each writes. The producers stay separate operators."""
    written = [p["act_write_bytes"] + p["kv_write_bytes"] for p in producers]
    total = sum(written)
    for p, w in zip(producers, written, strict=True):
        share = np.divide(w, total, out=np.full_like(w, 1.0 / len(producers)), where=total > 0)
        part = dict(e, members=[e["name"]], params=0.0, active_params=0.0, inputs=())
        part.update({k: np.zeros_like(e[k]) for k in rows.matrix})
        part["flops"] = e["flops"] * share
        rows.merge_into(p, part)
    e["gone"] = producers[-1]["name"]
    _reroute(rows, e["name"], producers[-1]["name"])
    own = {p["name"] for p in producers}
    for r in rows.alive():  # what read the rotated q and k now reads them from their producers
        if producers[-1]["name"] in r["inputs"] and r["name"] not in own:
            r["inputs"] = tuple(dict.fromkeys(x for i in r["inputs"]
                                              for x in ([p["name"] for p in producers]
                                                        if i == producers[-1]["name"] else [i])))


def _epilogue(rows: _Rows, e: dict, p: dict) -> None:
    """e into p's epilogue: p's write of its output and e's read of it disappear."""
    handed = np.minimum(p["act_write_bytes"], e["act_read_bytes"])
    p["act_write_bytes"] = p["act_write_bytes"] - handed
    e["act_read_bytes"] = e["act_read_bytes"] - handed
    rows.merge_into(p, e)
    _reroute(rows, e["name"], p["name"])


def _reroute(rows: _Rows, old: str, new: str) -> None:
    for r in rows.alive():
        if old in r["inputs"]:
            r["inputs"] = tuple(dict.fromkeys(new if i == old else i for i in r["inputs"]
                                              if r["name"] != new or i != old))
