"""ASGI middleware in front of the app: what every request passes before any route sees it.

- ``Host`` must name this server (``settings.allowed_hosts``): a page on another site that points
  its own domain at 127.0.0.1 (DNS rebinding) gets 400, not the API.
- The body is read here, whole, before the app runs: over ``limit`` bytes (declared by
  ``Content-Length`` or streamed in chunks) is 413; a body that stops arriving for
  ``body_timeout_s`` is 408. The app then reads the buffered body.
- A response the client does not read within ``send_timeout_s`` drops the connection.
- Every response carries the security headers (a strict Content-Security-Policy: the page loads
  nothing from elsewhere).
"""

from __future__ import annotations

import asyncio
import json

from .settings import ServerSettings, host_allowed

CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]


class ClientTooSlow(Exception):
    """The client did not read its response in time: the connection is dropped."""


class Guard:
    def __init__(self, app, limit: int, settings: ServerSettings):
        self.app = app
        self.limit = limit
        self.settings = settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers", ()))
        host = headers.get(b"host")
        if host is not None and not host_allowed(host.decode("latin-1"), self.settings.allowed_hosts):
            names = ", ".join(h for h in self.settings.allowed_hosts if h != "ip")
            return await reply(send, 400, f"host: this server answers to {names}, not "
                                          f"{host.decode('latin-1')[:100]!r} (llm-roofline serve --allow-host adds "
                                          "names)", "host")
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                return await reply(send, 400, "content-length: not an integer", "body")
            if too_big:
                return await reply(send, 413, f"request body: at most {self.limit} bytes", "body", close=True)
        try:
            body = await asyncio.wait_for(read_body(receive, self.limit), self.settings.body_timeout_s)
        except BodyTooLarge:
            return await reply(send, 413, f"request body: at most {self.limit} bytes", "body", close=True)
        except asyncio.TimeoutError:
            return await reply(send, 408, f"request body: not received within {self.settings.body_timeout_s:g} s",
                               "body", close=True)
        if body is None:  # the client went away
            return None
        try:
            await self.app(scope, replay(body, receive), self._send(scope, send))
        except ClientTooSlow:
            return None  # uvicorn closes a connection whose response was left incomplete

    def _send(self, scope, send):
        static = scope.get("path", "").startswith("/static/")
        timeout = self.settings.send_timeout_s

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = [(b"cache-control", b"no-cache")] if static else []  # revalidate after an upgrade
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS + extra
            try:
                await asyncio.wait_for(send(message), timeout)
            except asyncio.TimeoutError:
                raise ClientTooSlow(f"the client did not read its response within {timeout:g} s") from None

        return send_with_headers


class BodyTooLarge(Exception):
    pass


async def read_body(receive, limit: int) -> bytes | None:
    """The whole request body (None if the client disconnected); BodyTooLarge past ``limit``."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive):
    """A ``receive`` that hands the app the buffered body once, then waits for the disconnect."""
    sent = False

    async def receive_buffered():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_buffered


async def reply(send, status: int, detail: str, field: str, close: bool = False) -> None:
    """A JSON error response sent straight from the middleware (``close``: the unread rest of the
    request would otherwise be parsed as the next one)."""
    body = json.dumps({"detail": detail, "field": field}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *SECURITY_HEADERS]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
