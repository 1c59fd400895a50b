"""The web server's limits: worker pools, queues, timeouts, the response cache and the host names it
answers to. One frozen value, made by ``llm-roofline serve`` (or a test) and handed to
``create_app``; the server's worker processes receive it through one environment variable."""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import asdict, dataclass

ENV_VAR = "LLM_ROOFLINE_WEB_SETTINGS"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class ServerSettings:
    """Every limit of the server, in SI units (seconds, bytes).

    Two lanes run the CPU work off the event loop: the *light* lane (one scenario: analyze, view,
    graph, CSV, upload; ~1-10 ms each) and the *heavy* lane (sweeps: up to ``MAX_SWEEP_POINTS``
    scenarios, ~0.1-1 s). Each lane runs at most ``*_threads`` jobs at once; at most ``*_queue``
    more wait, each for at most ``queue_timeout_s``; beyond that a request gets 503 with
    ``Retry-After``. Timeouts drop idle and half-open connections: ``head_timeout_s`` from the
    connection (or the first byte of a request) to the end of its request head, ``body_timeout_s``
    for the body, ``keep_alive_s`` between requests, ``send_timeout_s`` for a client that does not
    read its response; ``max_connections`` bounds open connections."""

    allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES  # Host header names (any port); "*": any
    light_threads: int = 2
    light_queue: int = 256
    heavy_threads: int = 1
    heavy_queue: int = 4
    queue_timeout_s: float = 10.0
    retry_after_s: int = 1
    cache_bytes: int = 64 * 2**20  # serialized responses kept (JSON text, 1 byte per character)
    head_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    keep_alive_s: int = 5
    send_timeout_s: float = 30.0
    max_connections: int = 1000  # open connections per server process (beyond: uvicorn's plain 503)

    def __post_init__(self):
        for name in ("light_threads", "heavy_threads"):
            if not 1 <= getattr(self, name) <= 256:
                raise ValueError(f"{name} must be in 1..256, got {getattr(self, name)}")
        for name in ("light_queue", "heavy_queue", "cache_bytes", "max_connections"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("queue_timeout_s", "head_timeout_s", "body_timeout_s", "send_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {getattr(self, name)}")

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, environ=os.environ) -> ServerSettings:
        text = environ.get(ENV_VAR)
        if not text:
            return cls()
        data = json.loads(text)
        data["allowed_hosts"] = tuple(data.get("allowed_hosts", LOOPBACK_NAMES))
        return cls(**data)


def hosts_for(bind_host: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The Host header names a server bound to ``bind_host`` answers to: the loopback names, the
    bound address itself, and ``extra``. A wildcard bind (0.0.0.0, ::) also takes any IP literal
    (``"ip"``): a numeric Host needs no DNS, so it cannot be rebound."""
    names = list(LOOPBACK_NAMES)
    if bind_host in WILDCARD_ADDRESSES:
        names.append("ip")
    elif bind_host not in names:
        names.append(bind_host.strip("[]").lower())
    names += [h.lower() for h in extra if h not in names]
    return tuple(names)


def host_allowed(header: str, allowed: tuple[str, ...]) -> bool:
    """Whether a Host header (``name``, ``name:port``, ``[v6]:port``) names an allowed host."""
    if "*" in allowed:
        return True
    text = header.strip().lower()
    if text.startswith("["):  # [v6] or [v6]:port
        name = text[1:text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        name = text.split(":", 1)[0]
    else:
        name = text
    name = name.rstrip(".")  # "localhost." is localhost
    if not name:
        return False
    if name in allowed:
        return True
    if "ip" in allowed:
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return False
    return False
