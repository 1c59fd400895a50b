"""The bundled model catalog (``catalog.yaml``) and name-or-path model lookup.

Each catalog entry is a compact, HF-style config (family defaults + the model's own fields)
that goes through :func:`~llm_roofline.models.hf_config.spec_from_hf_config`, the same parser
as real ``config.json`` files. The YAML is read once per process, lazily.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

import yaml

from ..errors import ConfigError, UnknownNameError
from ..files import existing_path, shown, user_path
from ..yaml_load import load_yaml
from .hf_config import load_hf_config, spec_from_hf_config
from .spec import ModelSpec

__all__ = ["all_model_keys", "catalog_config", "list_models", "load_model", "model_names"]

_CATALOG = "catalog.yaml"


@dataclass(frozen=True)
class _Entry:
    """One catalog model: HF-style id, short aliases, family, a one-line description, a source."""

    id: str
    aliases: tuple[str, ...]
    family: str
    description: str
    source: str


@dataclass(frozen=True)
class _Catalog:
    entries: tuple[_Entry, ...]
    configs: Mapping[str, Mapping[str, Any]]  # id -> merged HF-style config
    index: Mapping[str, str]  # lower-cased id / alias / id tail -> id
    families: Mapping[str, str]  # family -> description


def _err(message: str) -> ConfigError:
    return ConfigError(f"{_CATALOG}: {message}")


def _str_list(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _err(f"{what} must be a list of names")
    return tuple(v.strip() for v in value)


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return copy.copy(value)


def _parse(text: str) -> _Catalog:
    try:
        data = load_yaml(text, _CATALOG, bundled=True)
    except yaml.YAMLError as exc:
        raise _err(f"invalid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("families"), dict) \
            or not isinstance(data.get("models"), list):
        raise _err("expected top-level 'families' (a mapping) and 'models' (a list)")

    families: dict[str, dict[str, Any]] = {}
    descriptions: dict[str, str] = {}
    for fam, body in data["families"].items():
        if not isinstance(body, dict) or not isinstance(body.get("config", {}), dict):
            raise _err(f"family {fam!r} must be a mapping with a 'config' mapping")
        families[fam] = dict(body.get("config") or {})
        descriptions[fam] = str(body.get("description", ""))

    raw: dict[str, dict[str, Any]] = {}
    entries: list[_Entry] = []
    index: dict[str, str] = {}
    for item in data["models"]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise _err(f"every model needs an 'id': {item!r}")
        mid = item["id"]
        family = item.get("family")
        if family not in families:
            raise _err(f"{mid}: unknown family {family!r}")
        if not isinstance(item.get("config", {}), dict):
            raise _err(f"{mid}: 'config' must be a mapping")
        if not item.get("source"):
            raise _err(f"{mid}: every model needs a 'source'")
        entry = _Entry(id=mid, aliases=_str_list(item.get("aliases"), f"{mid}: aliases"), family=family,
                           description=str(item.get("description", "")), source=str(item["source"]))
        for key in (mid, *entry.aliases):
            if key.lower() in index:
                raise _err(f"name {key!r} is used twice ({index[key.lower()]} and {mid})")
            index[key.lower()] = mid
        raw[mid] = item
        entries.append(entry)

    # Short forms of the ids ("Llama-2-7b-hf") where they are unambiguous and not already taken.
    tails: dict[str, list[str]] = {}
    for entry in entries:
        tail = entry.id.rsplit("/", 1)[-1].lower()
        tails.setdefault(tail, []).append(entry.id)
    for tail, ids in tails.items():
        if len(ids) == 1 and tail not in index:
            index[tail] = ids[0]

    configs: dict[str, dict[str, Any]] = {}

    def merged(mid: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if mid in configs:
            return configs[mid]
        if mid in seen:
            raise _err(f"'base' cycle: {' -> '.join((*seen, mid))}")
        item = raw[mid]
        out = copy.deepcopy(families[item["family"]])
        base = item.get("base")
        if base is not None:
            if base not in raw:
                raise _err(f"{mid}: unknown base {base!r}")
            out.update(copy.deepcopy(merged(base, (*seen, mid))))
        out.update(copy.deepcopy(item.get("config") or {}))
        configs[mid] = out
        return out

    for entry in entries:
        merged(entry.id)
    return _Catalog(entries=tuple(entries), configs=MappingProxyType({k: _freeze(v) for k, v in configs.items()}),
                    index=MappingProxyType(index), families=MappingProxyType(descriptions))


@functools.cache
def _catalog() -> _Catalog:
    text = resources.files(__package__).joinpath(_CATALOG).read_text(encoding="utf-8")
    return _parse(text)


@functools.cache
def _spec(model_id: str) -> ModelSpec:
    entry = next(e for e in _catalog().entries if e.id == model_id)
    return spec_from_hf_config(catalog_config(model_id), name=model_id, source=entry.source,
                               where=f"{_CATALOG}: {model_id}")


def _lookup(name: str) -> str | None:
    return _catalog().index.get(name.strip().lower())


def model_names() -> list[str]:
    """The catalog's model ids, in catalog order."""
    return [entry.id for entry in _catalog().entries]


def all_model_keys() -> list[str]:
    """Every name the catalog answers to and lists: ids and aliases (lookup is case-insensitive)."""
    return [key for entry in _catalog().entries for key in (entry.id, *entry.aliases)]


def list_models() -> list[dict[str, Any]]:
    """The catalog, one JSON-ready dict per model, in catalog order: ``id``, ``aliases`` (list),
    ``family``, ``description`` (one line) and ``source`` (model card / paper)."""
    return [{"id": e.id, "aliases": list(e.aliases), "family": e.family, "description": e.description,
             "source": e.source} for e in _catalog().entries]


def catalog_config(name: str) -> dict[str, Any]:
    """A fresh copy of the HF-style config dict a catalog entry stands for (for cross-checks)."""
    model_id = _lookup(name)
    if model_id is None:
        raise UnknownNameError("model", name, all_model_keys())
    return _thaw(_catalog().configs[model_id])


def catalog_model(name: str) -> ModelSpec:
    """A bundled model by id or alias only (never a path): for names from untrusted clients."""
    model_id = _lookup(name)
    if model_id is None:
        raise UnknownNameError("model", name, all_model_keys())
    return _spec(model_id)


def _looks_like_path(name: str) -> bool:
    return name.endswith(".json") or name.startswith(("/", "./", "../", "~", ".\\")) or name in (".", "..")


def load_model(name_or_path: str | os.PathLike[str], *, force_llama_like: bool = False) -> ModelSpec:
    """A :class:`ModelSpec` from a catalog id or alias (case-insensitive), or from a path to a HF
    ``config.json`` or a folder containing one. Catalog names win over same-named local folders;
    write ``./name`` to force the path. Raises :class:`UnknownNameError` (with close matches) for an
    unknown name and :class:`ConfigError` for a missing or malformed file, or one whose model_type
    no parser knows (unless ``force_llama_like``: see hf_config.spec_from_hf_config)."""
    if isinstance(name_or_path, os.PathLike):
        return load_hf_config(name_or_path, force_llama_like=force_llama_like)
    if not isinstance(name_or_path, str):
        raise ConfigError(f"model must be a catalog name, a path to a config.json or a ModelSpec, not "
                          f"{type(name_or_path).__name__}")
    name = name_or_path.strip()
    model_id = None if _looks_like_path(name) else _lookup(name)
    if model_id is not None:
        return _spec(model_id)
    path = existing_path(name) if name else None
    if path is not None:
        return load_hf_config(path, force_llama_like=force_llama_like)
    if _looks_like_path(name):
        user_path(name)  # says why a name cannot be a path (no such user's home, a name over 255 bytes)
        raise ConfigError(f"{shown(name)}: no such config file or folder")
    raise UnknownNameError("model", name, all_model_keys())
