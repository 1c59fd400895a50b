"""Pipeline stages read off one device's operator table: a stage's time, a micro-batch's round trip, the
pipeline's period, and the weights of the fullest stage. One place for ``analyze``'s pipeline
(metrics.py) and serving's pipelined workers (serving/engine_cost.py).

The table of a device's shard holds the whole model: "head" rows (embedding ...), "layer" rows (counts
over all L layers), "handoff" rows (the pp - 1 send/recv of the residual between stages, plan.py; the
inter-node ones separate) and "tail" rows (final norm, lm_head). Stage s holds l_s consecutive layers,
the first stage the head and the last the tail; the fullest holds l = ceil(L / pp), share r = l / L.
Times are count x time summed per part (s), split into non-link ("_nl") and communication ("_l") rows:
- the stages together (s): head + layers + tail, exact (every layer and end sits on one stage);
- the fullest stage u (s): ends + r x layers, ends = head + tail (pp = 1) or the larger of the two;
  an upper bound of the slowest stage (exact when pp divides L and head = tail), and mixed layer groups
  count as spread evenly over the stages; with ``overlap``: max(non-link part, link part);
- the hand-offs H (s): the handoff rows, every boundary of one micro-batch.
A micro-batch's round trip through the pipeline = the stages + H. With m micro-batches in flight each
stage serves every micro-batch once per period, and a micro-batch starts its next pass only when its
round trip is done (its next token needs this one), so the period between its passes is
    period = max(stages + H, m x u):
the round trip while the pipeline is not full (m = 1: one request alone), m x u once the slowest stage
is busy all the time (m = pp micro-batches of balanced stages: pp u + H, the hand-offs on the link while
the stage serves another micro-batch are hidden only when m u exceeds the round trip).
"""

from __future__ import annotations

import numpy as np

PARTS = ("head", "layer", "handoff", "tail")


def part_masks(table) -> dict[str, np.ndarray]:
    """Row masks of each part, and of the communication rows ("comm")."""
    parts = np.array(table.parts)
    comm = np.array([k == "communication" for k in table.kinds], dtype=bool)
    return {"comm": comm, **{p: parts == p for p in PARTS}}


def part_sums(table, per_op: np.ndarray, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """``per_op`` (count x time of each selected row, s [rows, n]) summed over each part, split into
    non-link ("<part>_nl") and communication ("<part>_l") rows; ``rows``: the rows of ``table`` that
    ``per_op`` holds (None: all)."""
    masks = part_masks(table)
    if rows is not None:
        masks = {k: v[rows] for k, v in masks.items()}
    out = {}
    for part in PARTS:
        out[part + "_nl"] = per_op[masks[part] & ~masks["comm"]].sum(0)
        out[part + "_l"] = per_op[masks[part] & masks["comm"]].sum(0)
    return out


def stage_ends(s: dict, pp: int) -> tuple[np.ndarray, np.ndarray]:
    """(non-link, link) time of the model ends the fullest stage runs: both ends on one stage (pp = 1),
    else the larger of head and tail."""
    if pp == 1:
        return s["head_nl"] + s["tail_nl"], s["head_l"] + s["tail_l"]
    head_first = s["head_nl"] + s["head_l"] >= s["tail_nl"] + s["tail_l"]
    return (np.where(head_first, s["head_nl"], s["tail_nl"]), np.where(head_first, s["head_l"], s["tail_l"]))


def stage_time(s: dict, pp: int, share: float, overlap: bool = False) -> np.ndarray:
    """The fullest stage's time u (s): its end's rows + ``share`` (= ceil(L / pp) / L) x the layers'."""
    ends_nl, ends_l = stage_ends(s, pp)
    nonlink, link = ends_nl + share * s["layer_nl"], ends_l + share * s["layer_l"]
    return np.maximum(nonlink, link) if overlap else nonlink + link


def stages_time(s: dict) -> np.ndarray:
    """Every stage's time together (s): head + all layers + tail, communication included, no hand-offs."""
    return sum(s[f"{part}_{kind}"] for part in ("head", "layer", "tail") for kind in ("nl", "l"))


def handoff_time(s: dict) -> np.ndarray:
    """The pp - 1 hand-offs of one micro-batch between stages (s)."""
    return s["handoff_nl"] + s["handoff_l"]


def pipeline_period_s(s: dict, pp: int, share: float, micro_batches) -> np.ndarray:
    """The period between a micro-batch's passes (s): max(stages + H, m x u) with m = ``micro_batches``
    in flight (see the module docstring); its passes' round trip is the first term."""
    return np.maximum(stages_time(s) + handoff_time(s), micro_batches * stage_time(s, pp, share))


def stage_weights_bytes(table, model, share: float) -> np.ndarray:
    """Weights the fullest stage's device holds (bytes), pp > 1: the larger end (the last stage also holds
    the lm_head copy of tied embeddings) + ``share`` x the layers' parameter bytes."""
    masks = part_masks(table)
    per_op = table.param_bytes * table.counts[:, None]
    head, tail = per_op[masks["head"]].sum(0), per_op[masks["tail"]].sum(0)
    if model.tie_word_embeddings:
        tail = tail + table.param_bytes[table.names.index(model.op_name("embed_tokens"))]
    return np.maximum(head, tail) + share * per_op[masks["layer"]].sum(0)
