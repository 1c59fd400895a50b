"""Run the web app: the uvicorn configuration ``llm-roofline serve`` uses, and a background-thread
server for tests, notebooks and the benchmarks."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from .protocol import HeadTimeoutProtocol, listening_socket
from .settings import ServerSettings, hosts_for


def uvicorn_config(app, settings: ServerSettings, **options):
    """uvicorn's Config with the server's connection limits: the head deadline (protocol), the
    keep-alive timeout and the number of open connections."""
    import uvicorn

    config = uvicorn.Config(app, http=HeadTimeoutProtocol, timeout_keep_alive=settings.keep_alive_s,
                            limit_concurrency=settings.max_connections, **options)
    config.head_timeout_s = settings.head_timeout_s  # read by HeadTimeoutProtocol
    return config


@contextlib.contextmanager
def serve_in_thread(host: str = "127.0.0.1", port: int = 0, timeout_s: float = 20.0,
                    settings: ServerSettings | None = None) -> Iterator[str]:
    """Start uvicorn with the app on ``host:port`` (0: a free port) in a daemon thread; yields the
    base URL (``http://127.0.0.1:PORT/``) once the server accepts connections, stops it on exit."""
    import uvicorn

    from .app import create_app

    settings = settings or ServerSettings(allowed_hosts=hosts_for(host))
    sock = listening_socket(host, port)
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(create_app(settings), settings, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="llm-roofline-web")
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{bound_port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
