"""The server's connections: the listening socket and uvicorn's HTTP protocol with a deadline on
the request head.

uvicorn closes a keep-alive connection that stays idle between requests, but a connection that
never sends a request, or sends its head a byte at a time, stays open for ever (slowloris).
:class:`HeadTimeoutProtocol` closes any connection whose request head is not complete within
``head_timeout_s`` of the connection or of the request's first byte. TCP keepalive probes on the
socket drop peers that vanished without closing (half-open connections).
"""

from __future__ import annotations

import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .settings import ServerSettings

TCP_KEEPALIVE = {"TCP_KEEPIDLE": 30, "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 3}  # dead peer found after ~60 s


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket (not yet listening; uvicorn calls listen). proto=IPPROTO_TCP: asyncio turns
    Nagle off (TCP_NODELAY) only on sockets that say they are TCP; without it every keep-alive
    response waits ~40 ms for a delayed ACK. Accepted connections inherit the keepalive options."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in TCP_KEEPALIVE.items():
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class HeadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a connection whose request head is not complete within
    ``config.head_timeout_s`` (set by ``server.uvicorn_config``) of the connection or of the
    request's first byte. A module-level class: uvicorn pickles it into its worker processes."""

    _head_timer = None

    def __init__(self, config, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        self._head_timeout_s = getattr(config, "head_timeout_s", ServerSettings.head_timeout_s)

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self._head_timeout_s, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport):
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self):
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self):
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc):
        self._disarm()
        super().connection_lost(exc)
