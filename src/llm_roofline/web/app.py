"""The web face: a FastAPI app serving the page (``static/``) and the JSON API it uses.

``/api/analyze`` returns exactly what ``llm-roofline analyze --format json`` prints for the same
inputs; the page's extras (the operator graph, whole-generation per-operator times) come from
``/api/graph`` and ``/api/view`` (a wrapper: ``{"report": <analyze JSON>, "graph": ..., ...}``).
Every request is validated (422 naming the field and its valid range); bodies, uploaded configs
included, are limited to ``MAX_BODY_BYTES`` and parsed in memory; no endpoint reads a file named by
the client (models and devices are catalog look-ups; static files come from the package).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..errors import RooflineError, UnknownNameError
from ..result import Report
from . import service
from .schemas import (
    MAX_BODY_BYTES,
    MAX_SWEEP_POINTS,
    MAX_SWEEP_VALUES,
    RANGES,
    AnalyzeQuery,
    AnalyzeRequest,
    GraphRequest,
    SweepRequest,
)

STATIC = Path(str(resources.files(__package__).joinpath("static")))

CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]


class BodyTooLarge(Exception):
    pass


class Guard:
    """ASGI middleware: bodies over ``limit`` bytes get 413 (declared or streamed), and every
    response carries the security headers (a strict Content-Security-Policy: the page loads
    nothing from elsewhere)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    return await _too_large(send, self.limit)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge()
            return message

        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = [(b"cache-control", b"no-cache")] if static else []  # revalidate after an upgrade
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS + extra
            await send(message)

        await self.app(scope, limited_receive, send_with_headers)


async def _too_large(send, limit: int) -> None:
    body = json.dumps({"detail": f"request body: at most {limit} bytes", "field": "body"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


def _json(data: Any) -> Response:
    # json.dumps as the CLI does (NaN stays NaN; the report itself has None for missing values).
    return Response(content=json.dumps(data, separators=(",", ":")), media_type="application/json")


def _error(status: int, detail: str, field: str | None, **extra) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail, "field": field, **extra})


def _validation_message(err: dict) -> tuple[str, str]:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query")]
    # Union members add their type to the location (e.g. w_bits.int): keep the request's field path.
    path = [p for p in loc if p not in ("int", "str", "float", "list[int]", "constrained-int", "constrained-str")
            and not p.startswith(("function-", "list[", "constrained"))]
    field = path[0] if path else "body"
    name = ".".join(path) or "body"
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return field, f"{name}: unknown field"
    if kind == "missing":
        return field, f"{name}: required"
    leaf = path[-1] if path else field
    valid = RANGES.get(leaf) or RANGES.get(field)
    if valid and any(p.startswith("list[") for p in loc):  # a sweep axis given as a list
        valid = f"{valid}, or a list of 1..{MAX_SWEEP_VALUES} such integers"
    given = err.get("input")
    shown = "" if isinstance(given, dict | list) or given is None else f", got {given!r}"
    if valid:
        return field, f"{name} must be {valid}{shown}"
    return field, f"{name}: {err.get('msg', 'invalid value')}{shown}"


def create_app() -> FastAPI:
    app = FastAPI(
        title="llm-roofline",
        version=__version__,
        summary="Roofline analysis of LLM inference: the API behind `llm-roofline serve`.",
        description="`/api/analyze` returns exactly `llm-roofline analyze --format json`. Values are SI base "
                    "units (FLOPs, bytes, seconds, FLOP/s, bytes/s). Errors: 422 with `detail` (a message "
                    "naming the field and its valid range) and `field`; 413 for bodies over "
                    f"{MAX_BODY_BYTES} bytes.",
        docs_url=None, redoc_url=None,  # the interactive docs load scripts from a CDN; the page works offline
    )

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError):
        errors = list(exc.errors())
        # A union (one value or a list) reports each member; for a list, its list member's error wins.
        errors.sort(key=lambda e: not (isinstance(e.get("input"), list)
                                       and any(str(p).startswith("list[") for p in e.get("loc", ()))))
        messages = [_validation_message(e) for e in errors]
        # One message per field (a union reports each of its members).
        seen: dict[str, str] = {}
        for field, message in messages:
            seen.setdefault(field, message)
        field, message = next(iter(seen.items())) if seen else ("body", "invalid request")
        return _error(422, message, field, errors=[{"field": f, "detail": m} for f, m in seen.items()])

    @app.exception_handler(RooflineError)
    async def on_roofline_error(request: Request, exc: RooflineError):
        extra = {"suggestions": exc.suggestions} if isinstance(exc, UnknownNameError | service.ApiError) else {}
        field = service.error_field(exc)
        return _error(422, str(exc), field, errors=[{"field": field, "detail": str(exc)}], **extra)

    @app.exception_handler(BodyTooLarge)
    async def on_too_large(request: Request, exc: BodyTooLarge):
        return _error(413, f"request body: at most {MAX_BODY_BYTES} bytes", "body")

    @app.exception_handler(RecursionError)
    async def on_deep_json(request: Request, exc: RecursionError):
        return _error(422, "request body: JSON nested too deeply", "body")

    # --- the page ---------------------------------------------------------------------------
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index():
        return Response((STATIC / "index.html").read_bytes(), media_type="text/html; charset=utf-8",
                        headers={"cache-control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # --- catalogs ---------------------------------------------------------------------------
    @app.get("/api/models", tags=["catalog"], summary="The bundled model catalog")
    async def models():
        """One entry per model: `id`, `aliases`, `family`, `description`, `source`."""
        return _json(service.RESPONSES.get_or_make("models", service.list_models))

    @app.get("/api/hardware", tags=["catalog"], summary="The bundled device catalog")
    async def hardware():
        """One entry per device: name, aliases, vendor, kind, bandwidth (bytes/s), capacity (bytes),
        dense peaks per precision (FLOP/s), measured efficiency, source."""
        return _json(service.list_hardware())

    @app.get("/api/meta", tags=["catalog"], summary="Version and the limits the API enforces")
    async def meta():
        from ..hardware.spec import PRECISIONS
        from ..precision import NAMED_FORMATS
        from ..scenario import LIMITS

        return {"version": __version__, "limits": {k: list(v) for k, v in LIMITS.items()},
                "max_body_bytes": MAX_BODY_BYTES, "max_sweep_values": MAX_SWEEP_VALUES,
                "max_sweep_points": MAX_SWEEP_POINTS, "max_layers": service.MAX_LAYERS,
                "formats": list(NAMED_FORMATS), "precisions": list(PRECISIONS)}

    # --- analysis ---------------------------------------------------------------------------
    report_doc = {200: {"model": Report, "description": "the report: exactly `llm-roofline analyze --format json`"}}

    def analyze_response(req: AnalyzeRequest) -> Response:
        key = service.digest("analyze", req.model_dump(mode="json"))
        body = service.RESPONSES.get_or_make(key, lambda: json.dumps(service.report(req), separators=(",", ":")))
        return Response(content=body, media_type="application/json")

    @app.get("/api/analyze", tags=["analysis"], summary="Analyze a catalog model on a catalog device",
             response_class=Response, responses=report_doc)
    async def analyze_get(q: Annotated[AnalyzeQuery, Query()]):
        """Per-operator roofline of prefill and one decode step, the whole generation (TTFT, TPOT, e2e,
        tokens/s) and the memory footprint. Same fields as the CLI's options."""
        return analyze_response(AnalyzeRequest.model_construct(**q.model_dump()))

    @app.post("/api/analyze", tags=["analysis"], response_class=Response, responses=report_doc,
              summary="Analyze (catalog or uploaded model, catalog or custom device)")
    async def analyze_post(req: AnalyzeRequest):
        """As `GET /api/analyze`, and the model may be `config` (an uploaded config.json object) and the
        device `custom_hardware`."""
        return analyze_response(req)

    @app.post("/api/analyze/csv", tags=["analysis"], summary="The operator tables as CSV",
              response_class=Response, responses={200: {"content": {"text/csv": {}}}})
    async def analyze_csv(req: AnalyzeRequest):
        """Both stages' operator tables, one row per operator (= `llm-roofline analyze --format csv`)."""
        from ..result import report_at
        from ..textreport import ops_csv

        text = ops_csv(report_at(service.analysis(req), 0))
        return Response(content=text, media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="llm-roofline-ops.csv"'})

    @app.post("/api/graph", tags=["analysis"], summary="The operator graph (dataflow edges) of both stages")
    async def graph(req: GraphRequest):
        """Nodes (`name`, `kind`, `count`, `inputs`, `section`: embedding | layer | head, `rank`, `slot`)
        and edges (`source`, `target`, `residual`) of prefill and decode, as the engine builds them;
        `layer_kinds` describes the distinct decoder layers (MoE: experts and top-k)."""
        key = service.digest("graph", req.model_dump(mode="json"))
        return _json(service.RESPONSES.get_or_make(key, lambda: _graph(service.analysis(req))))

    @app.post("/api/view", tags=["analysis"], summary="Everything the page shows for one state")
    async def view(req: AnalyzeRequest):
        """`{"report": <exactly /api/analyze>, "graph": <as /api/graph>, "generation_ops": [...]}`;
        `generation_ops` gives each operator's time, FLOPs and bytes over the whole generation (prefill
        plus all decode steps, summed exactly) and its share of the end-to-end time."""
        key = service.digest("view", req.model_dump(mode="json"))

        def make() -> str:
            from ..result import report_at
            from .wholegen import whole_generation_ops

            a = service.analysis(req)
            report_json = service.RESPONSES.get_or_make(
                service.digest("analyze", req.model_dump(mode="json")),
                lambda: json.dumps(report_at(a, 0).to_dict(), separators=(",", ":")))
            rest = json.dumps({"graph": _graph(a), "generation_ops": whole_generation_ops(a)},
                              separators=(",", ":"))
            return '{"report":' + report_json + "," + rest[1:]

        return Response(content=service.RESPONSES.get_or_make(key, make), media_type="application/json")

    @app.post("/api/sweep", tags=["analysis"], summary="A grid of scenarios (vectorized)",
              description=f"`batch_size`, `prompt_len` and `gen_len` may be lists (at most {MAX_SWEEP_VALUES} "
                          f"values each, {MAX_SWEEP_POINTS} points in all); every combination is evaluated. "
                          "Returns `points`, `capacity_bytes` and `columns`: one list per column of "
                          "`llm_roofline.sweep` (`batch_size`, `prompt_len`, `ttft_s`, `tpot_s`, `e2e_s`, "
                          "`throughput_tokens_per_s`, `weights_bytes`, `kv_cache_bytes`, `total_bytes`, `fits`...).")
    async def sweep(req: SweepRequest):
        key = service.digest("sweep", req.model_dump(mode="json"))
        result = service.RESPONSES.get(key)
        if result is None:
            result = await run_in_threadpool(lambda: json.dumps(service.sweep_result(req), separators=(",", ":")))
            service.RESPONSES.put(key, result)
        return Response(content=result, media_type="application/json")

    @app.post("/api/upload", tags=["models"], summary="Parse an uploaded config.json (in memory)",
              openapi_extra={"requestBody": {"content": {
                  "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
                  "application/json": {"schema": {"type": "object"}}}}})
    async def upload(request: Request):
        """A Hugging Face `config.json`, as a multipart form field `file` or as the JSON body itself
        (at most the body limit). It is parsed in memory, never stored. Returns `name`, a `model`
        summary and the `config` object to send back as `config` in analyze requests."""
        from .uploads import read_upload

        body = await request.body()
        config, filename = read_upload(request.headers.get("content-type", ""), body)
        spec = service.uploaded_model(config, None)
        return {"name": spec.name, "filename": filename,
                "model": {"name": spec.name, "model_type": spec.model_type, "num_layers": spec.num_layers,
                          "hidden_size": spec.hidden_size, "vocab_size": spec.vocab_size},
                "config": config}

    from .serving import add_serving_routes  # /api/serve-sim, /api/plan

    add_serving_routes(app)
    app.add_middleware(Guard, limit=MAX_BODY_BYTES)
    return app


def _graph(a) -> dict:
    from .graph import model_graph

    return model_graph(a.model, a.prefill.table, a.decode.table)
