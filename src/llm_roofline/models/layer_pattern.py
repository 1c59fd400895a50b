"""Layer groups from a per-layer rule, without a list of layers.

A family's config describes its layers by rules (every k-th layer is MoE, the first n are dense,
layers at or past m slide, ...) or by explicit per-layer lists. ``pattern_groups`` counts how many
layers each distinct layer has, evaluating the rule once per (segment, residue): the cost grows with
the number of segments and the period, not with the number of layers, so a 10,000-layer config
parses as fast as a 2-layer one. A rule that reads an explicit per-layer list (``layer_types``)
passes ``period=len(list)``: then every index is visited once, which is the size of the config.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

from .spec import Layer, LayerGroup

K = TypeVar("K", bound=Hashable)


def pattern_counts(num_layers: int, key_at: Callable[[int], K], *, period: int = 1,
                   breaks: Iterable[int] = ()) -> dict[K, int]:
    """{key: number of layers with it}, in order of first appearance, for ``key_at(i)`` that depends
    on the layer index i only through i % period and which of the segments cut at ``breaks`` holds i.

    Each segment [a, b) and residue r holds the indices a + ((r - a) mod period) + j*period < b,
    counted arithmetically; ``key_at`` runs at the first of them. Cost O(segments * min(period,
    segment length)).
    """
    cuts = sorted({0, num_layers, *(b for b in breaks if 0 < b < num_layers)})
    first: dict[K, int] = {}
    counts: dict[K, int] = {}
    for a, b in zip(cuts, cuts[1:], strict=False):
        for start in range(a, min(b, a + period)):
            key = key_at(start)
            counts[key] = counts.get(key, 0) + (b - 1 - start) // period + 1
            first.setdefault(key, start)
    return {key: counts[key] for key in sorted(counts, key=first.__getitem__)}


def pattern_groups(num_layers: int, key_at: Callable[[int], K], make: Callable[[K], Layer], *,
                   period: int = 1, breaks: Iterable[int] = ()) -> tuple[LayerGroup, ...]:
    """Layer groups for a per-layer key (see pattern_counts); ``make`` builds the layer of a key,
    once per distinct key. Keys that build equal layers merge into one group."""
    groups: dict[Layer, int] = {}
    for key, count in pattern_counts(num_layers, key_at, period=period, breaks=breaks).items():
        layer = make(key)
        groups[layer] = groups.get(layer, 0) + count
    return tuple(LayerGroup(layer, count) for layer, count in groups.items())
