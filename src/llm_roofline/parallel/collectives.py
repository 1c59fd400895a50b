"""Collectives on the alpha-beta model: time = steps x alpha + link bytes / (bandwidth x efficiency).

Conventions (nccl-tests'): ``size`` is the buffer of an all-reduce, the gathered output of an
all-gather, the input of a reduce-scatter, everything one device sends in an all-to-all (its own
share included) and the message of a point-to-point send. ``p`` devices take part. Link bytes are
what one device puts on its link in one direction; the bandwidth is the link's per-direction rate:

    algorithm            link bytes per device      steps (latency terms)
    ring all-reduce      2 (p-1)/p x size           2 (p-1)
    tree all-reduce      2 (p-1)/p x size           2 ceil(log2 p)
    two-shot all-reduce  2 (p-1)/p x size           2           (reduce-scatter + all-gather, all peers at once)
    one-shot all-reduce  (p-1) x size               1           (every device reads every peer's buffer)
    NVLS all-reduce      size                       2           (NVLink SHARP: the switch reduces)
    all-gather, reduce-scatter, all-to-all (ring / pairwise)  (p-1)/p x size   p-1
    point-to-point       size                       1

A group that spans nodes runs hierarchically: the intra-node phase on the scale-up link, the
inter-node phase on the scale-out link (each device drives its own NICs), e.g. all-reduce =
reduce-scatter inside the node + all-reduce across nodes on size/q + all-gather inside the node
(q devices of the group per node).

``ideal`` links: alpha = the link's latency per step, efficiency 1. ``fitted`` links: the curve
measured on that link for the chosen library and GPU count (``params/collectives.json``): time =
base + link bytes / (bandwidth x eta(link bytes)), eta(L) = eta_max / (1 + (L_half / L)^gamma), in
the ring convention (the library picks its own algorithm; the fit absorbs it).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ..errors import ScenarioError
from ..hardware.system import Link
from .choices import ALGORITHMS, LIBRARIES, MODES

KINDS = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "p2p")


def ring_link_bytes(kind: str, size, p: int):
    """Bytes one device sends in the ring / pairwise algorithm (see the module table)."""
    if p <= 1:
        return np.zeros_like(np.asarray(size, dtype=np.float64))
    factor = {"all_reduce": 2.0 * (p - 1) / p, "all_gather": (p - 1) / p, "reduce_scatter": (p - 1) / p,
              "all_to_all": (p - 1) / p, "p2p": 1.0}[kind]
    return factor * np.asarray(size, dtype=np.float64)


def ring_steps(kind: str, p: int) -> int:
    if p <= 1:
        return 0
    return {"all_reduce": 2 * (p - 1), "all_gather": p - 1, "reduce_scatter": p - 1, "all_to_all": p - 1,
            "p2p": 1}[kind]


def algorithm_cost(kind: str, size, p: int, algorithm: str):
    """(link bytes per device, steps) of ``kind`` over ``p`` devices with ``algorithm`` (all-reduce only;
    the other collectives always use the ring / pairwise form)."""
    size = np.asarray(size, dtype=np.float64)
    if p <= 1:
        return np.zeros_like(size), 0
    if kind != "all_reduce" or algorithm == "ring":
        return ring_link_bytes(kind, size, p), ring_steps(kind, p)
    if algorithm == "tree":
        return ring_link_bytes(kind, size, p), 2 * math.ceil(math.log2(p))
    if algorithm == "two_shot":
        return ring_link_bytes(kind, size, p), 2
    if algorithm == "one_shot":
        return (p - 1) * size, 1
    if algorithm == "nvls":
        return size.copy(), 2
    raise ScenarioError(f"collective algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")


@dataclass(frozen=True)
class Curve:
    """A fitted collective at one GPU count: base + L / (bandwidth x eta(L)) seconds, eta(L) =
    eta_max / (1 + (half_bytes / L)^gamma), L = ring link bytes per device. eta may exceed 1
    (up to 1.2): NCCL's NVLS all-reduce moves less than the ring's 2 (p-1)/p x size."""

    base_s: float
    eta_max: float
    half_bytes: float
    gamma: float

    def time(self, link_bytes, bandwidth: float):
        link_bytes = np.asarray(link_bytes, dtype=np.float64)
        safe = np.maximum(link_bytes, 1e-30)
        eta = self.eta_max / (1.0 + (self.half_bytes / safe) ** self.gamma)
        return self.base_s + np.where(link_bytes > 0, link_bytes / (bandwidth * eta), 0.0)


@functools.cache
def fitted_tables() -> dict:
    """The shipped fit (params/collectives.json): {link fit key: {library: {collective: {p: fields}}}}."""
    text = resources.files(__package__).joinpath("params", "collectives.json").read_text(encoding="utf-8")
    return json.loads(text)


def fitted_time(link: Link, library: str, kind: str, size, p: int):
    """Seconds of a collective from the curves fitted on ``link`` (None when there are none): the
    library's own table where it has one (the engines measured only all-reduce), else NCCL's. A GPU
    count that was not measured takes the curve of the nearest measured count (in log2) with its
    base latency moved by the link's latency per ring step for the extra (or fewer) steps."""
    tables = fitted_tables()["fits"].get(link.fit) if link.fit else None
    if not tables:
        return None
    per_p = next((tables[lib][kind] for lib in (library, "nccl") if kind in tables.get(lib, {})), None)
    if per_p is None:
        return None
    measured = sorted(int(g) for g in per_p)
    ref = min(measured, key=lambda g: (abs(math.log2(g) - math.log2(p)), -g))
    entry = per_p[str(ref)]
    base = max(entry["base_s"] + link.latency_s * (ring_steps(kind, p) - ring_steps(kind, ref)), 0.0)
    curve = Curve(base, entry["eta_max"], entry["half_bytes"], entry["gamma"])
    return curve.time(ring_link_bytes(kind, size, p), link.device_bandwidth_bytes_per_s)


@dataclass(frozen=True)
class CommSettings:
    """How collectives are costed: ``mode`` ideal (alpha-beta at the link's nominal numbers) or fitted
    (the measured curve where the link has one, ideal elsewhere); ``library`` whose measured all-reduce
    to use (nccl, trtllm, vllm, sglang); ``algorithm`` of the ideal all-reduce."""

    mode: str = "ideal"
    library: str = "nccl"
    algorithm: str = "ring"

    def __post_init__(self) -> None:
        for name, valid in (("mode", MODES), ("library", LIBRARIES), ("algorithm", ALGORITHMS)):
            if getattr(self, name) not in valid:
                raise ScenarioError(f"comm {name} must be one of {', '.join(valid)}, got {getattr(self, name)!r}")


def flat_time(kind: str, size, p: int, link: Link, settings: CommSettings):
    """(link bytes per device, seconds) of a collective over ``p`` devices on one ``link``."""
    size = np.asarray(size, dtype=np.float64)
    if p <= 1:
        return np.zeros_like(size), np.zeros_like(size)
    if settings.mode == "fitted":
        seconds = fitted_time(link, settings.library, kind, size, p)
        if seconds is not None:
            return ring_link_bytes(kind, size, p), seconds
    link_bytes, steps = algorithm_cost(kind, size, p, settings.algorithm)
    return link_bytes, steps * link.latency_s + link_bytes / link.device_bandwidth_bytes_per_s


def collective_time(kind: str, size, p: int, per_node: int, up: Link, out: Link | None, settings: CommSettings):
    """(link bytes per device, seconds) of a collective over ``p`` devices placed ``per_node`` to a node
    (p <= per_node: one node, scale-up only; else hierarchical over ``p / per_node`` nodes)."""
    size = np.asarray(size, dtype=np.float64)
    if p <= per_node or p <= 1:
        return flat_time(kind, size, p, up, settings)
    if out is None:
        raise ScenarioError(f"a group of {p} devices spans nodes of {per_node}, but the system has no "
                            "scale-out link")
    q, n = per_node, p // per_node
    if kind == "all_reduce":
        parts = (flat_time("reduce_scatter", size, q, up, settings),
                 flat_time("all_reduce", size / q, n, out, settings),
                 flat_time("all_gather", size, q, up, settings))
    elif kind == "all_gather":
        parts = (flat_time("all_gather", size / n, q, up, settings),
                 flat_time("all_gather", size / q, n, out, settings))
    elif kind == "reduce_scatter":
        parts = (flat_time("reduce_scatter", size / q, n, out, settings),
                 flat_time("reduce_scatter", size / n, q, up, settings))
    elif kind == "all_to_all":  # the share for same-node peers on scale-up, the rest on scale-out
        parts = (flat_time("all_to_all", size * q / p, q, up, settings),
                 flat_time("p2p", size * (p - q) / p, 2, out, settings))
    else:
        parts = (flat_time("p2p", size, 2, out, settings),)
    return sum(b for b, _ in parts), sum(t for _, t in parts)
