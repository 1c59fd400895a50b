"""``llm-roofline serve``: the web viewer. Imports only argparse-level things at import time;
FastAPI and uvicorn are imported when the command runs."""

from __future__ import annotations

import argparse
import ipaddress
import sys

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be an integer in 0..65535, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be an integer in 0..65535, got {value}")
    return value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"workers must be an integer in 1..64, got {text!r}") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"workers must be an integer in 1..64, got {value}")
    return value


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("serve", help="start the web viewer (an interactive page and a JSON API)",
                              description="Serve the interactive roofline viewer and its JSON API. Everything "
                                          "the page needs ships with the package: it works offline.")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}; the "
                                                        "server has no authentication, keep it on loopback)")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free port)")
    p.add_argument("--workers", type=_workers, default=1, help="worker processes (default 1)")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"],
                   help="server log level (default warning)")
    p.set_defaults(run=_run_serve)


def url_for(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    try:
        if ipaddress.ip_address(shown).version == 6 and not shown.startswith("["):
            shown = f"[{shown}]"
    except ValueError:
        pass
    return f"http://{shown}:{port}/"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _run_serve(args) -> str:
    import socket

    import uvicorn

    # proto=IPPROTO_TCP: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are TCP;
    # without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM,
                         socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        from ..errors import RooflineError

        raise RooflineError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    port = sock.getsockname()[1]
    if not _is_loopback(args.host):
        print(f"warning: listening on {args.host}: anyone who can reach this address can use the server",
              file=sys.stderr)
    print(f"llm-roofline viewer: {url_for(args.host, port)}  (API schema: {url_for(args.host, port)}openapi.json;"
          " Ctrl+C to stop)", flush=True)
    config = uvicorn.Config("llm_roofline.web.app:create_app", factory=True, log_level=args.log_level,
                            workers=args.workers, access_log=args.log_level in ("info", "debug"))
    server = uvicorn.Server(config)
    if args.workers > 1:
        import inspect

        from uvicorn.supervisors import Multiprocess

        # uvicorn < 0.30 takes the worker's entry point as ``target``; later versions build it themselves.
        extra = {"target": server.run} if "target" in inspect.signature(Multiprocess).parameters else {}
        Multiprocess(config, sockets=[sock], **extra).run()
    else:
        server.run(sockets=[sock])
    return ""
