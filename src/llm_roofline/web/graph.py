"""The operator graph the page draws, read off the engine's operator table (its dataflow edges).

Sections: ``embedding`` (the ops before the first layer: token / position embeddings, embedding
norm), ``layer`` (the decoder layer: every op on the dataflow from ``layer_input``; models with
several layer kinds merge identical operators, so this is their union and each op keeps its own
count) and ``head`` (final norm and lm_head: the chain of single-occurrence ops at the end).

The layout is a layered drawing of the layer's DAG: rank = longest path from ``layer_input``,
order within a rank by the barycenter of the inputs (a few sweeps). Coordinates are abstract
(rank, slot); the page turns them into pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models.spec import Attention, LatentAttention, Mamba, MLPAndMoE, ModelSpec, routed_experts
from ..ops import LAYER_INPUT, OpTable

SECTIONS = ("embedding", "layer", "head")


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    count: int
    inputs: tuple[str, ...]
    section: str
    rank: int = 0
    slot: float = 0.0


def _reachable_from_layer_input(names: tuple[str, ...], inputs: tuple[tuple[str, ...], ...]) -> set[str]:
    seen = {LAYER_INPUT}
    for name, srcs in zip(names, inputs, strict=True):  # the table is in dataflow (topological) order
        if any(s in seen for s in srcs):
            seen.add(name)
    seen.discard(LAYER_INPUT)
    return seen


def head_names(model: ModelSpec) -> set[str]:
    """The names the engine gives the model's last ops (final norm, lm_head)."""
    final = model.op_name("final_norm")
    return {model.op_name("lm_head"), final, "decoder." + final}


PART_SECTIONS = {"head": "embedding", "layer": "layer", "handoff": "head", "tail": "head"}


def sections(table: OpTable, head_candidates: set[str]) -> dict[str, str]:
    """Operator name -> ``embedding`` | ``layer`` | ``head``: where build_ops put it (``table.parts``:
    the model's input end, a layer, the pipeline hand-offs and the output end), or, for a table
    without parts, read off the dataflow."""
    if "tail" in table.parts:
        return {name: PART_SECTIONS[part] for name, part in zip(table.names, table.parts, strict=True)}
    names, inputs, counts = table.names, table.inputs, table.counts
    in_layer = _reachable_from_layer_input(names, inputs)
    head: set[str] = set()
    # Walk back from the last op (lm_head) along single inputs while the ops are head ops.
    i = len(names) - 1
    while i >= 0 and names[i] in head_candidates and counts[i] == 1 and LAYER_INPUT not in inputs[i]:
        head.add(names[i])
        srcs = inputs[i]
        if len(srcs) != 1 or srcs[0] not in names:
            break
        i = names.index(srcs[0])
    out = {}
    for name in names:
        if name in head:
            out[name] = "head"
        elif name in in_layer:
            out[name] = "layer"
        else:
            out[name] = "embedding"
    return out


def _layout(names: list[str], inputs: dict[str, tuple[str, ...]],
            group: dict[str, int] | None = None) -> dict[str, tuple[int, float]]:
    """(rank, slot) of each layer op; ``layer_input`` sits at rank 0, slot 0. Slots are centred on 0.
    ``group`` (0, 1, 2...) keeps blocks together within a rank, left to right (MoE: dense MLP,
    router and routed experts, shared experts)."""
    group = group or {}
    rank: dict[str, int] = {LAYER_INPUT: 0}
    for name in names:  # topological order
        rank[name] = 1 + max((rank[s] for s in inputs[name] if s in rank), default=0)
    by_rank: dict[int, list[str]] = {}
    for name in names:
        by_rank.setdefault(rank[name], []).append(name)
    slot: dict[str, float] = {LAYER_INPUT: 0.0}

    def place(row: list[str]) -> None:
        width = len(row)
        for k, name in enumerate(row):
            slot[name] = k - (width - 1) / 2.0

    for r in sorted(by_rank):
        place(by_rank[r])
    consumers: dict[str, list[str]] = {}
    for name in names:
        for s in inputs[name]:
            consumers.setdefault(s, []).append(name)
    # Barycenter sweeps: down (by inputs), then up (by consumers), keeping first-appearance order on ties.
    for _ in range(3):
        for r in sorted(by_rank):
            row = by_rank[r]
            row.sort(key=lambda n: _mean([slot[s] for s in inputs[n] if s in slot], slot[n]))
            place(row)
        for r in sorted(by_rank, reverse=True):
            row = by_rank[r]
            row.sort(key=lambda n: _mean([slot[c] for c in consumers.get(n, ()) if c in slot], slot[n]))
            place(row)
    for r in sorted(by_rank):
        row = by_rank[r]
        row.sort(key=lambda n: (group.get(n, 0), _mean([slot[s] for s in inputs[n] if s in slot], slot[n])))
        place(row)
    _separate_groups(names, rank, slot, group)
    return {name: (rank[name], slot[name]) for name in names}


def _separate_groups(names: list[str], rank: dict[str, int], slot: dict[str, float], group: dict[str, int]) -> None:
    """Keep each group in columns of its own (so its box encloses no other op): shared experts to
    the right of every routed-expert column, the ops beside the experts (a dense MLP) to the left."""
    routed = [n for n in names if group.get(n) == 1]
    if not routed:
        return
    lo, hi = min(slot[n] for n in routed), max(slot[n] for n in routed)
    span = range(min(rank[n] for n in routed), max(rank[n] for n in routed) + 1)
    shared = [n for n in names if group.get(n) == 2]
    if shared and min(slot[n] for n in shared) < hi + 1:
        shift = hi + 1 - min(slot[n] for n in shared)
        for n in shared:
            slot[n] += shift
    left = [n for n in names if group.get(n, 0) == 0 and rank[n] in span and slot[n] <= hi]
    if left and max(slot[n] for n in left) > lo - 1:
        shift = max(slot[n] for n in left) - (lo - 1)
        for n in left:
            slot[n] -= shift


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def is_residual_edge(source: str, target: str) -> bool:
    """A skip connection: the layer input (or an earlier residual sum) entering a residual add."""
    return "residual" in target and (source == LAYER_INPUT or "residual" in source)


def resolved_inputs(table: OpTable) -> tuple[tuple[str, ...], ...]:
    """The table's ``inputs``, with one repair: when two different operators share a name the
    engine renames the later one ``name[2]`` but its consumers still list ``name``; such an input
    is taken to be the nearest variant (``name``, ``name[2]``...) that precedes the consumer."""
    names = table.names
    position = {n: i for i, n in enumerate(names)}
    variants: dict[str, list[str]] = {}
    for n in names:
        base = n.split("[", 1)[0] if n.endswith("]") and "[" in n else n
        variants.setdefault(base, []).append(n)
    out = []
    for i, srcs in enumerate(table.inputs):
        fixed = []
        for s in srcs:
            options = [v for v in variants.get(s, ()) if position[v] < i]
            fixed.append(max(options, key=position.__getitem__) if len(options) > 1 else s)
        out.append(tuple(dict.fromkeys(fixed)))
    return tuple(out)


def moe_groups(names: list[str], inputs: dict[str, tuple[str, ...]], experts: str, shared: str) -> dict[str, int]:
    """1 for the router and the routed experts, 2 for the shared experts (not their final add)."""
    out: dict[str, int] = {}
    routed = {n for n in names if n.startswith(experts)}
    for n in names:
        if n.startswith(shared.rstrip(".")) and n != shared + "add":
            out[n] = 2
        elif n in routed:
            out[n] = 1
    for n in names:  # the router and its top-k: what the routed experts read besides the layer's stream
        if n in routed:
            for s in inputs[n]:
                if s not in routed and any(s in inputs[m] for m in routed) and "routing" in s:
                    out[s] = 1
                    out.update({g: 1 for g in inputs.get(s, ()) if g in names})
    return out


def stage_graph(table: OpTable, head_candidates: set[str], experts: str = "experts.",
                shared: str = "shared_experts.") -> dict:
    """Nodes (with section, rank, slot) and edges of one stage's operator table."""
    from dataclasses import replace

    table = replace(table, inputs=resolved_inputs(table))
    sec = sections(table, head_candidates)
    names = list(table.names)
    inputs = dict(zip(names, table.inputs, strict=True))
    layer = [n for n in names if sec[n] == "layer"]
    layer_inputs = {n: tuple(s for s in inputs[n] if s == LAYER_INPUT or sec.get(s) == "layer") for n in layer}
    groups = moe_groups(layer, layer_inputs, experts, shared)
    pos = _layout(layer, layer_inputs, groups)
    nodes = []
    for k, name in enumerate(names):
        rank, slot = pos.get(name, (0, 0.0))
        nodes.append({"name": name, "kind": table.kinds[k], "count": int(table.counts[k]),
                      "inputs": list(table.inputs[k]), "section": sec[name], "rank": rank, "slot": slot,
                      "group": ("routed_experts", "shared_experts")[groups[name] - 1] if name in groups else None})
    edges = [{"source": s, "target": name, "residual": is_residual_edge(s, name)}
             for name in names for s in inputs[name]]
    return {"nodes": nodes, "edges": edges,
            "layer_output": layer[-1] if layer else None,
            "ranks": 1 + max((pos[n][0] for n in layer), default=0)}


def layer_kinds(model: ModelSpec) -> list[dict]:
    """The distinct decoder-layer kinds: count, mixer, FFN (MoE: experts, top-k, shared width)."""
    out = []
    for group in model.layer_groups:
        layer = group.layer
        mixer = layer.mixer
        if isinstance(mixer, Attention):
            m = {"type": "attention", "heads": mixer.num_heads, "kv_heads": mixer.num_kv_heads,
                 "head_dim": mixer.head_dim, "sliding_window": mixer.sliding_window,
                 "attention_chunk": mixer.attention_chunk, "sinks": mixer.sinks}
        elif isinstance(mixer, LatentAttention):
            m = {"type": "latent_attention", "heads": mixer.num_heads, "kv_lora_rank": mixer.kv_lora_rank}
        elif isinstance(mixer, Mamba):
            m = {"type": "mamba"}
        elif mixer is None:  # a feed-forward block alone (Nemotron-H)
            m = None
        else:  # the newer mixers: their class name (sparselatentattention, gateddeltanet, mamba2, ...)
            m = {"type": type(mixer).__name__.lower()}
        ffn = layer.ffn
        moe = routed_experts(ffn)
        if moe is not None:
            f = {"type": "moe", "num_experts": moe.num_experts, "top_k": moe.top_k,
                 "expert_intermediate_size": moe.expert_intermediate_size,
                 "shared_intermediate_size": moe.shared_intermediate_size}
            if isinstance(ffn, MLPAndMoE):  # Gemma 4: a dense MLP beside the experts
                f.update(type="mlp+moe", intermediate_size=ffn.mlp.intermediate_size)
        elif ffn is None:
            f = None
        else:
            f = {"type": "mlp", "intermediate_size": ffn.intermediate_size}
        out.append({"count": group.count, "mixer": m, "ffn": f, "parallel": layer.parallel})
    return out


def model_graph(model: ModelSpec, prefill: OpTable, decode: OpTable) -> dict:
    """What ``/api/graph`` returns: both stages' graphs and the model's layer kinds."""
    experts, shared = model.op_name("experts") + ".", model.op_name("shared_experts") + "."
    return {
        "model": model.name,
        "num_layers": model.num_layers,
        "layer_kinds": layer_kinds(model),
        "experts_prefix": experts,
        "shared_experts_prefix": shared,
        "prefill": stage_graph(prefill, head_names(model), experts, shared),
        "decode": stage_graph(decode, head_names(model), experts, shared),
    }
