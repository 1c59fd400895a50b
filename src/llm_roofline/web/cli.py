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
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="a host name the page may be reached by besides the bound address and localhost "
                        "(repeatable); requests naming another host are refused (DNS rebinding)")
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
    import os

    import uvicorn

    from ..errors import RooflineError
    from .protocol import listening_socket
    from .server import uvicorn_config
    from .settings import ENV_VAR, ServerSettings, hosts_for

    try:
        sock = listening_socket(args.host, args.port)
    except OSError as exc:
        raise RooflineError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    port = sock.getsockname()[1]
    if not _is_loopback(args.host):
        print(f"warning: listening on {args.host}: anyone who can reach this address can use the server",
              file=sys.stderr)
    settings = ServerSettings(allowed_hosts=hosts_for(args.host, tuple(args.allow_host)))
    print(f"llm-roofline viewer: {url_for(args.host, port)}  (API schema: {url_for(args.host, port)}openapi.json;"
          " Ctrl+C to stop)", flush=True)
    options = {"log_level": args.log_level, "access_log": args.log_level in ("info", "debug")}
    if args.workers > 1:
        import inspect

        from uvicorn.supervisors import Multiprocess

        # The worker processes import the app by name and read the settings from the environment.
        os.environ[ENV_VAR] = settings.to_env()
        config = uvicorn_config("llm_roofline.web.app:create_app_from_env", settings, factory=True,
                                workers=args.workers, **options)
        server = uvicorn.Server(config)
        # uvicorn < 0.30 takes the worker's entry point as ``target``; later versions build it themselves.
        extra = {"target": server.run} if "target" in inspect.signature(Multiprocess).parameters else {}
        Multiprocess(config, sockets=[sock], **extra).run()
    else:
        from .app import create_app

        uvicorn.Server(uvicorn_config(create_app(settings), settings, **options)).run(sockets=[sock])
    return ""
