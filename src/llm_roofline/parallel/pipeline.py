"""Pipeline stages read off one device's operator table: a stage's time, a micro-batch's round trip, the
pipeline's period and fill, and the weights of the fullest stage. One place for ``analyze``'s pipeline
(metrics.py) and serving's pipelined workers (serving/engine_cost.py), which therefore agree: analyze's
decode step is serving's decode iteration of the same micro-batches.

The table of a device's shard holds the whole model: "head" rows (embedding ...), "layer" rows (counts
over all L layers), "handoff" rows (the pp - 1 send/recv of the residual between stages, plan.py; the
inter-node ones separate) and "tail" rows (final norm, lm_head). Stage s holds l_s consecutive layers,
the first stage the head and the last the tail; the fullest holds l = ceil(L / pp), share r = l / L.
Times are count x time summed per part (s), split into non-link ("_nl") and communication ("_l") rows:
- the stages together (s): head + layers + tail, exact (every layer and end sits on one stage);
- the fullest stage u (s): ends + r x layers, ends = head + tail (pp = 1) or the larger of the two;
  an upper bound of the slowest stage (exact when pp divides L), and mixed layer groups count as spread
  evenly over the stages;
- the hand-offs H (s): the handoff rows, every boundary of one micro-batch.
A micro-batch's round trip through the pipeline = the stages + H. With m micro-batches in flight each
stage serves every micro-batch once per period, and a micro-batch starts its next pass only when its
round trip is done (its next token needs this one), so the period between its passes is
    period = max(stages + H, m x u):
the round trip while the pipeline is not full (m = 1: one request alone), m x u once the slowest stage
is busy all the time (the hand-offs on the link while the stage serves another micro-batch are hidden
only when m u exceeds the round trip). With stages of equal times (stages = pp u) and m = pp the
period is pp u + H. The m micro-batches of one prefill leave the pipeline after
    fill = stages + H + (m - 1) x u:
identical jobs through stages of times t_1..t_pp in series (a flow shop, hand-offs as delays) finish
the first after its round trip and the others one per slowest stage, max t_s <= u; stages of equal
times give GPipe's (m + pp - 1) u + H. The ends differ (embedding against final norm + lm_head, large
for big vocabularies) and pp need not divide L: the stages' sum is exact where pp x u is not.
With ``overlap`` (analyze only; an optimistic bound) every time is max(its non-link part, its link
part): u = max(non-link, link) of the fullest stage, the round trip max(non-link, link) of the stages
+ H (a micro-batch's collectives hidden behind the computation of its whole round trip).
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


def stage_parts(s: dict, pp: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """(non-link, link) time of the fullest stage (s): its end's rows + ``share`` (= ceil(L / pp) / L) x
    the layers'."""
    ends_nl, ends_l = stage_ends(s, pp)
    return ends_nl + share * s["layer_nl"], ends_l + share * s["layer_l"]


def stage_time(s: dict, pp: int, share: float, overlap: bool = False) -> np.ndarray:
    """The fullest stage's time u (s): its non-link + link parts (``overlap``: the larger of the two)."""
    nonlink, link = stage_parts(s, pp, share)
    return np.maximum(nonlink, link) if overlap else nonlink + link


def stages_parts(s: dict) -> tuple[np.ndarray, np.ndarray]:
    """(non-link, link) time of every stage together (s): head + tail + all layers, no hand-offs (summed
    in the order of stage_parts, so that one stage, pp = 1, gives the same bits)."""
    return (s["head_nl"] + s["tail_nl"] + s["layer_nl"], s["head_l"] + s["tail_l"] + s["layer_l"])


def stages_time(s: dict) -> np.ndarray:
    """Every stage's time together (s): head + all layers + tail, communication included, no hand-offs."""
    nonlink, link = stages_parts(s)
    return nonlink + link


def handoff_time(s: dict) -> np.ndarray:
    """The pp - 1 hand-offs of one micro-batch between stages (s)."""
    return s["handoff_nl"] + s["handoff_l"]


def round_trip_s(s: dict, overlap: bool = False) -> np.ndarray:
    """One micro-batch's pass through every stage (s): the stages + H (``overlap``: max(the stages' non-link
    part, their link part) + H)."""
    nonlink, link = stages_parts(s)
    return (np.maximum(nonlink, link) if overlap else nonlink + link) + handoff_time(s)


def pipeline_fill_s(s: dict, pp: int, share: float, micro_batches, overlap: bool = False) -> np.ndarray:
    """Until the last of m = ``micro_batches`` micro-batches leaves the pipeline (s): the first's round trip +
    (m - 1) x u (see the module docstring)."""
    return round_trip_s(s, overlap) + (micro_batches - 1.0) * stage_time(s, pp, share, overlap)


def period_lines(s: dict, pp: int, share: float, micro_batches, overlap: bool = False):
    """The period max(round trip, m x u) as a function of x = the layers' non-link time (s), the only part
    of a decode step that changes with the KV length: ``(lines, floor)`` with period(x) =
    max(a_1 + b_1 x, a_2 + b_2 x, floor), lines = ((a_1, b_1), (a_2, b_2)): the round trip's (slope 1:
    every layer) and m x u's (slope m x share); floor (``overlap``: the link parts, max(their round trip,
    m x u's); else None) is constant. The intercepts are the parts of ``s`` with ``layer_nl`` at 0."""
    fixed = {**s, "layer_nl": np.zeros_like(s["layer_nl"])}
    trip_nl, trip_l = stages_parts(fixed)
    stage_nl, stage_l = stage_parts(fixed, pp, share)
    handoff, m = handoff_time(s), micro_batches
    if overlap:
        return ((trip_nl + handoff, 1.0), (m * stage_nl, m * share)), np.maximum(trip_l + handoff, m * stage_l)
    return ((trip_nl + trip_l + handoff, 1.0), (m * (stage_nl + stage_l), m * share)), None


def pipeline_period_s(s: dict, pp: int, share: float, micro_batches, overlap: bool = False) -> np.ndarray:
    """The period between a micro-batch's passes (s): max(round trip, m x u) with m = ``micro_batches`` in
    flight (see the module docstring), evaluated through ``period_lines`` at x = the layers' non-link time."""
    (first, second), floor = period_lines(s, pp, share, micro_batches, overlap)
    x = s["layer_nl"]
    period = np.maximum(first[0] + first[1] * x, second[0] + second[1] * x)
    return period if floor is None else np.maximum(period, floor)


def stage_weights_bytes(table, model, share: float) -> np.ndarray:
    """Weights the fullest stage's device holds (bytes), pp > 1: the larger end (the last stage also holds
    the lm_head copy of tied embeddings) + ``share`` x the layers' parameter bytes."""
    masks = part_masks(table)
    per_op = table.param_bytes * table.counts[:, None]
    head, tail = per_op[masks["head"]].sum(0), per_op[masks["tail"]].sum(0)
    if model.tie_word_embeddings:
        tail = tail + table.param_bytes[table.names.index(model.op_name("embed_tokens"))]
    return np.maximum(head, tail) + share * per_op[masks["layer"]].sum(0)
