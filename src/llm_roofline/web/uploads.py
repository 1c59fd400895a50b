"""Uploaded ``config.json`` files: read from the request body in memory (never a temporary file,
never a path). Accepts a multipart form (field ``file``) or the JSON object as the body itself."""

from __future__ import annotations

import json
from typing import Any

from .service import ApiError

UPLOAD_FIELD = "file"


def _multipart_file(content_type: str, body: bytes) -> tuple[bytes, str]:
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError("file", "file: a multipart body needs a boundary")
    parts: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    header = {"field": b"", "value": b""}

    def on_part_begin():
        current.clear()
        current.update(headers={}, data=bytearray())

    def on_part_data(data, start, end):
        current["data"] += data[start:end]

    def on_part_end():
        parts.append(dict(current))

    def on_header_field(data, start, end):
        header["field"] += data[start:end]

    def on_header_value(data, start, end):
        header["value"] += data[start:end]

    def on_header_end():
        current["headers"][header["field"].decode("latin-1").lower()] = header["value"]
        header["field"], header["value"] = b"", b""

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_part_data": on_part_data, "on_part_end": on_part_end,
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end})
    try:
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # python-multipart raises its own error types for malformed bodies
        raise ApiError("file", f"file: malformed multipart body ({exc})") from None
    for part in parts:
        disposition = part["headers"].get("content-disposition", b"")
        _, options = parse_options_header(disposition)
        if options.get(b"name", b"").decode("utf-8", "replace") == UPLOAD_FIELD:
            filename = options.get(b"filename", b"config.json").decode("utf-8", "replace")
            return bytes(part["data"]), "".join(c for c in filename if c.isprintable())[:200]
    raise ApiError("file", f"file: the form has no field {UPLOAD_FIELD!r} (send the config.json as 'file')")


def read_upload(content_type: str, body: bytes) -> tuple[dict, str]:
    """(the config object, the file name as sent: a label, never opened)."""
    if content_type.lower().startswith("multipart/form-data"):
        data, filename = _multipart_file(content_type, body)
    else:
        data, filename = body, "config.json"
    if not data.strip():
        raise ApiError("file", "file: the upload is empty; send a Hugging Face config.json")
    try:
        # NaN / Infinity (Python's json writes them; real configs carry them, e.g. Nemotron-H's
        # time_step_limit) are not JSON: read them as null, so the config echoed back is strict JSON
        # and every later analysis sees the same object.
        config = json.loads(data.decode("utf-8-sig"), parse_constant=lambda _: None)
    except UnicodeDecodeError:
        raise ApiError("file", "file: a config.json must be UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ApiError("file", f"file: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ApiError("file", "file: JSON nested too deeply") from None
    if not isinstance(config, dict):
        raise ApiError("file", f"file: a config.json must be a JSON object, got {type(config).__name__}")
    return config, filename
