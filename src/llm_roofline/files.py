"""The user's files, read safely: names that cannot be paths, a size cap, JSON / YAML bounded in depth.

Every problem is a :class:`~llm_roofline.errors.ConfigError` naming the file: ``~nosuchuser/...``
(no such home folder), a name over 255 bytes, a NUL byte, a file over ``MAX_FILE_BYTES``, text that
is not UTF-8, invalid JSON / YAML, nesting deeper than ``MAX_NESTING`` or more than ``MAX_NODES``
values (a YAML "billion laughs" of aliases counts every use). Limits: :mod:`llm_roofline.limits`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .limits import MAX_FILE_BYTES, MAX_NESTING, MAX_NODES

MAX_NAME_BYTES = 255  # one file or folder name, on every common file system


def shown(text: str) -> str:
    """A file name as errors show it: long names cut to 80 characters."""
    return text if len(text) <= 80 else f"{text[:60]}...{text[-17:]}"


def user_path(text: str | os.PathLike[str]) -> Path:
    """``text`` as a Path with ``~`` expanded, or ConfigError when it cannot name a file at all."""
    raw = os.fspath(text)
    if "\0" in raw:
        raise ConfigError(f"{shown(raw)!r}: a file name cannot contain a NUL character")
    path = Path(raw)
    try:
        path = path.expanduser()
    except RuntimeError:  # "~nosuchuser/..."
        raise ConfigError(f"{shown(raw)}: cannot expand {path.parts[0]!r}: no such user's home folder") from None
    for part in path.parts:
        if len(os.fsencode(part)) > MAX_NAME_BYTES:
            raise ConfigError(f"{shown(raw)}: a file or folder name is longer than {MAX_NAME_BYTES} bytes")
    return path


def kind_of_path(path: Path) -> str:
    """'file', 'folder' or 'missing' (a path the system refuses to look up counts as missing)."""
    try:
        if path.is_file():
            return "file"
        if path.is_dir():
            return "folder"
    except (OSError, ValueError):
        pass
    return "missing"


def existing_path(text: str | os.PathLike[str]) -> Path | None:
    """The file or folder ``text`` names if there is one, else None (never raises)."""
    try:
        path = user_path(text)
    except ConfigError:
        return None
    return None if kind_of_path(path) == "missing" else path


def read_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """A regular file's UTF-8 text (a leading BOM dropped), at most ``max_bytes`` bytes."""
    if kind_of_path(path) != "file":
        raise ConfigError(f"{shown(str(path))}: no such file")
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(f"{shown(str(path))}: cannot read the file ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise ConfigError(f"{shown(str(path))}: the file is larger than {max_bytes:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{shown(str(path))}: not UTF-8 text") from None


def parse_json(text: str, where: str) -> Any:
    """A JSON document, bounded by :func:`check_tree`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ConfigError(f"{where}: JSON nested more than {MAX_NESTING} levels deep") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ConfigError(f"{where}: invalid JSON: {exc}") from None
    check_tree(data, where)
    return data


def parse_yaml(text: str, where: str) -> Any:
    """A YAML document (safe loader: plain data only, a duplicate key is an error: yaml_load), bounded
    by :func:`check_tree`."""
    import yaml

    from .yaml_load import load_yaml

    try:
        data = load_yaml(text, where)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML{at}: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{where}: YAML nested more than {MAX_NESTING} levels deep") from None
    check_tree(data, where)
    return data


def check_tree(data: Any, where: str) -> None:
    """ConfigError when ``data`` nests deeper than MAX_NESTING or holds more than MAX_NODES values
    (counted per use, so shared YAML aliases cannot multiply the work of later steps)."""
    stack = [(data, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ConfigError(f"{where}: more than {MAX_NODES:,} values (or aliases expanding to them)")
        if depth > MAX_NESTING:
            raise ConfigError(f"{where}: nested more than {MAX_NESTING} levels deep")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
