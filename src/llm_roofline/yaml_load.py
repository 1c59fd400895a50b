"""The one YAML reader of the tool (model catalog, hardware catalog, user hardware files).

``yaml.safe_load`` keeps the last of two equal keys of a mapping and says nothing, so a typo'd
second ``memory_bandwidth_bytes_per_s:`` silently wins. ``load_yaml`` is safe_load that refuses a
duplicate key, naming the file, the key and both lines.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import ConfigError

__all__ = ["load_yaml"]


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int, first: int):
        super().__init__(key, line, first)
        self.key, self.line, self.first = key, line, first


class _UniqueKeys:
    """A SafeLoader mix-in whose mappings reject a key that appears twice."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *base" keys may be overridden
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: safe_load's own error follows
                    continue
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise _DuplicateKey(key, line, first)
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _UniqueKeyLoader(_UniqueKeys, yaml.SafeLoader):
    """The pure-Python SafeLoader with the check: user files (its errors and limits are the documented ones)."""


# libyaml's C scanner and parser when PyYAML was built with it: about 4x faster on the bundled catalogs,
# which every command reads; the constructor, and so the duplicate-key check, stays the Python one.
_BundledLoader = type("_BundledLoader", (_UniqueKeys, getattr(yaml, "CSafeLoader", yaml.SafeLoader)), {})


def load_yaml(text: str, where: str, bundled: bool = False) -> Any:
    """Parse YAML ``text`` read from ``where`` (a file name, for messages) as ``yaml.safe_load`` does;
    a key that appears twice in one mapping is a ConfigError naming ``where``, the key and its lines.
    Syntax errors propagate as ``yaml.YAMLError``. ``bundled``: a file of the package (libyaml's parser)."""
    try:
        return yaml.load(text, Loader=_BundledLoader if bundled else _UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as dup:
        raise ConfigError(f"{where}: duplicate key {dup.key!r} at line {dup.line} (first at line {dup.first})") \
            from None
