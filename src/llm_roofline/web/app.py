"""The web face: a FastAPI app serving the page (``static/``) and the JSON API it uses.

``/api/analyze`` returns exactly what ``llm-roofline analyze --format json`` prints for the same
inputs; the page's extras (the operator graph, whole-generation per-operator times) come from
``/api/graph`` and ``/api/view`` (a wrapper: ``{"report": <analyze JSON>, "graph": ..., ...}``).
Every request is validated (422 naming the field and its valid range); bodies, uploaded configs
included, are limited to ``MAX_BODY_BYTES`` and parsed in memory; no endpoint reads a file named by
the client (models and devices are catalog look-ups; static files come from the package).

The CPU work runs in two bounded worker pools (``pool.py``: single scenarios in the light lane,
sweeps in the heavy lane), never on the event loop; serialized responses are kept in a cache
bounded in bytes. The limits are a :class:`~llm_roofline.web.settings.ServerSettings`.
"""

from __future__ import annotations

import contextlib
import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..errors import RooflineError, UnknownNameError
from ..result import Report
from . import service
from .cache import BoundedCache
from .guard import Guard
from .pool import Busy, WorkPool, stats
from .schemas import (
    DEFAULTS,
    MAX_BODY_BYTES,
    MAX_DEGREE,
    MAX_SWEEP_POINTS,
    MAX_SWEEP_VALUES,
    AdviseRequest,
    AnalyzeQuery,
    AnalyzeRequest,
    GraphRequest,
    SweepRequest,
)
from .settings import ServerSettings
from .validation import field_message, json_error, query_model

STATIC = Path(str(resources.files(__package__).joinpath("static")))


class NonFiniteResult(RooflineError):
    """A result that strict JSON cannot carry (NaN or Infinity)."""


def dumps(data: Any) -> str:
    """Strict, compact JSON (never NaN or Infinity: a client's JSON parser would reject them)."""
    try:
        return json.dumps(data, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise NonFiniteResult("the analysis produced a number that is not finite for these inputs; "
                              "check that the scenario and device values are in range") from None


def _json_response(text: str) -> Response:
    return Response(content=text, media_type="application/json")


def _error(status: int, detail: str, field: str | None, headers: dict | None = None, **extra) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail, "field": field, **extra}, headers=headers)


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or ServerSettings()
    cache = BoundedCache(settings.cache_bytes)
    pools: dict[str, WorkPool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        pools["light"] = WorkPool("light", settings.light_threads, settings.light_queue, settings.queue_timeout_s,
                                  settings.retry_after_s)
        pools["heavy"] = WorkPool("heavy", settings.heavy_threads, settings.heavy_queue, settings.queue_timeout_s,
                                  settings.retry_after_s)
        yield
        for pool in pools.values():
            pool.close()

    app = FastAPI(
        title="llm-roofline",
        version=__version__,
        summary="Roofline analysis of LLM inference: the API behind `llm-roofline serve`.",
        description="`/api/analyze` returns exactly `llm-roofline analyze --format json`. Values are SI base "
                    "units (FLOPs, bytes, seconds, FLOP/s, bytes/s). Errors: 422 with `detail` (a message "
                    "naming the field and its valid range) and `field`; 413 for bodies over "
                    f"{MAX_BODY_BYTES} bytes; 503 with `Retry-After` when the server is busy.",
        docs_url=None, redoc_url=None,  # the interactive docs load scripts from a CDN; the page works offline
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.cache = cache
    app.state.pools = pools

    async def cached(lane: str, key: str, make) -> str:
        """The cached response for ``key``, or ``make()`` run in the lane's worker pool."""
        text = cache.get(key)
        if text is None:
            text = await pools[lane].run(make)
            cache.put(key, text)
        return text

    # --- errors -----------------------------------------------------------------------------------
    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError):
        errors = list(exc.errors())
        bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if bad_json is not None:
            pos = next((p for p in bad_json.get("loc", ()) if isinstance(p, int)), 0)
            field, message = json_error(exc.body, pos, bad_json.get("ctx", {}).get("error", "malformed"))
            return _error(422, message, field, errors=[{"field": field, "detail": message}])
        # A union (one value or a list) reports each member; for a list, its list member's error wins.
        errors.sort(key=lambda e: not (isinstance(e.get("input"), list)
                                       and any(str(p).startswith("list[") for p in e.get("loc", ()))))
        seen: dict[str, str] = {}  # one message per field (a union reports each of its members)
        for field, message in map(field_message, errors):
            seen.setdefault(field, message)
        field, message = next(iter(seen.items())) if seen else ("body", "invalid request")
        return _error(422, message, field, errors=[{"field": f, "detail": m} for f, m in seen.items()])

    @app.exception_handler(RooflineError)
    async def on_roofline_error(request: Request, exc: RooflineError):
        extra = {"suggestions": exc.suggestions} if isinstance(exc, UnknownNameError | service.ApiError) else {}
        field = service.error_field(exc)
        return _error(422, str(exc), field, errors=[{"field": field, "detail": str(exc)}], **extra)

    @app.exception_handler(Busy)
    async def on_busy(request: Request, exc: Busy):
        return _error(503, str(exc), None, headers={"retry-after": str(exc.retry_after_s)})

    @app.exception_handler(RecursionError)
    async def on_deep_json(request: Request, exc: RecursionError):
        return _error(422, "request body: JSON nested too deeply", "body")

    # --- the page ---------------------------------------------------------------------------------
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index():
        return Response((STATIC / "index.html").read_bytes(), media_type="text/html; charset=utf-8",
                        headers={"cache-control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # --- catalogs ---------------------------------------------------------------------------------
    @app.get("/api/models", tags=["catalog"], summary="The bundled model catalog")
    async def models():
        """One entry per model: `id`, `aliases`, `family`, `description`, `source`."""
        return _json_response(cache.get_or_make("models", lambda: dumps(service.list_models())))

    @app.get("/api/hardware", tags=["catalog"], summary="The bundled device catalog")
    async def hardware():
        """One entry per device: name, aliases, vendor, kind, bandwidth (bytes/s), capacity (bytes),
        dense peaks per precision (FLOP/s), measured efficiency, source."""
        return _json_response(cache.get_or_make("hardware", lambda: dumps(service.list_hardware())))

    @app.get("/api/systems", tags=["catalog"], summary="The bundled multi-device systems")
    async def systems():
        """One entry per system: name, aliases, device, devices_per_node, max_nodes, scale_up and scale_out
        links (per-port and per-device bandwidth per direction in bytes/s, ports, latency per collective
        step in s, fitted curves), source. Any degree > 1 in an analysis makes `hardware` a system."""
        return _json_response(cache.get_or_make("systems", lambda: dumps(service.list_systems())))

    @app.get("/api/meta", tags=["catalog"], summary="Version, defaults and the limits the API enforces")
    async def meta():
        from ..hardware.spec import PRECISIONS
        from ..precision import MAX_BITS, MIN_BITS, NAMED_FORMATS
        from ..scenario import LIMITS
        from .efficiency import efficiency_choices

        return {"version": __version__, "limits": {k: list(v) for k, v in LIMITS.items()},
                "defaults": DEFAULTS, "bits": [MIN_BITS, MAX_BITS],
                "max_body_bytes": MAX_BODY_BYTES, "max_sweep_values": MAX_SWEEP_VALUES,
                "max_sweep_points": MAX_SWEEP_POINTS, "max_layers": service.MAX_LAYERS, "max_degree": MAX_DEGREE,
                "formats": list(NAMED_FORMATS), "precisions": list(PRECISIONS), **efficiency_choices()}

    @app.get("/api/status", tags=["catalog"], summary="The worker pools and the response cache, now")
    async def status():
        return {"pools": stats(pools), "cache": {"entries": len(cache), "bytes": cache.size,
                                                 "max_bytes": cache.max_size}}

    # --- analysis ---------------------------------------------------------------------------------
    report_doc = {200: {"model": Report, "description": "the report: exactly `llm-roofline analyze --format json`"}}

    def report_key(req: AnalyzeRequest) -> str:
        return service.digest("analyze", req.model_dump(mode="json"))

    async def analyze_response(req: AnalyzeRequest) -> Response:
        return _json_response(await cached("light", report_key(req), lambda: dumps(service.report(req))))

    @app.get("/api/analyze", include_in_schema=False)
    async def analyze_get_query(request: Request):
        """The route that answers ``GET /api/analyze`` (the first that matches): the query read as FastAPI
        reads ``analyze_get``'s (validation.query_model), without its per-request inspection of the fields."""
        q = query_model(AnalyzeQuery, request.query_params)
        return await analyze_response(AnalyzeRequest.model_construct(**q.model_dump()))

    # The schema of GET /api/analyze; analyze_get_query above, registered first, answers the requests.
    @app.get("/api/analyze", tags=["analysis"], summary="Analyze a catalog model on a catalog device",
             response_class=Response, responses=report_doc)
    async def analyze_get(q: Annotated[AnalyzeQuery, Query()]):
        """Per-operator roofline of prefill and one decode step, the whole generation (TTFT, TPOT, e2e,
        tokens/s) and the memory footprint. Same fields as the CLI's options."""
        return await analyze_response(AnalyzeRequest.model_construct(**q.model_dump()))

    @app.post("/api/analyze", tags=["analysis"], response_class=Response, responses=report_doc,
              summary="Analyze (catalog or uploaded model, catalog or custom device)")
    async def analyze_post(req: AnalyzeRequest):
        """As `GET /api/analyze`, and the model may be `config` (an uploaded config.json object) and the
        device `custom_hardware`."""
        return await analyze_response(req)

    @app.post("/api/analyze/csv", tags=["analysis"], summary="The operator tables as CSV",
              response_class=Response, responses={200: {"content": {"text/csv": {}}}})
    async def analyze_csv(req: AnalyzeRequest):
        """Both stages' operator tables, one row per operator (= `llm-roofline analyze --format csv`)."""
        from ..result import report_at
        from ..textreport import ops_csv

        text = await pools["light"].run(lambda: ops_csv(report_at(service.analysis(req), 0)))
        return Response(content=text, media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="llm-roofline-ops.csv"'})

    @app.post("/api/graph", tags=["analysis"], summary="The operator graph (dataflow edges) of both stages")
    async def graph(req: GraphRequest):
        """Nodes (`name`, `kind`, `count`, `inputs`, `section`: embedding | layer | head, `rank`, `slot`)
        and edges (`source`, `target`, `residual`) of prefill and decode, as the engine builds them;
        `layer_kinds` describes the distinct decoder layers (MoE: experts and top-k)."""
        key = service.digest("graph", req.model_dump(mode="json"))
        return _json_response(await cached("light", key, lambda: dumps(_graph(service.analysis(req)))))

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
            report_json = cache.get_or_make(report_key(req), lambda: dumps(report_at(a, 0).to_dict()))
            rest = dumps({"graph": _graph(a), "generation_ops": whole_generation_ops(a)})
            return '{"report":' + report_json + "," + rest[1:]

        return _json_response(await cached("light", key, make))

    @app.post("/api/sweep", tags=["analysis"], summary="A grid of scenarios (vectorized)",
              description=f"`batch_size`, `prompt_len` and `gen_len` may be lists (at most {MAX_SWEEP_VALUES} "
                          f"values each, {MAX_SWEEP_POINTS} points in all); every combination is evaluated. "
                          "Returns `points`, `capacity_bytes` and `columns`: one list per column of "
                          "`llm_roofline.sweep` (`batch_size`, `prompt_len`, `ttft_s`, `tpot_s`, `e2e_s`, "
                          "`throughput_tokens_per_s`, `weights_bytes`, `kv_cache_bytes`, `total_bytes`, `fits`...).")
    async def sweep(req: SweepRequest):
        service.check_sweep_size(req)  # before queueing: an oversized grid is refused at once
        key = service.digest("sweep", req.model_dump(mode="json"))
        return _json_response(await cached("heavy", key, lambda: dumps(service.sweep_result(req))))

    @app.get("/api/techniques", tags=["catalog"], summary="The advisor's techniques and the speculative presets")
    async def techniques_list():
        from ..techniques.presets import PRESETS
        from ..techniques.registry import techniques

        return {"techniques": [{"name": t.name, "title": t.title, "family": t.family,
                                "affects_accuracy": t.affects_accuracy, "note": t.note, "source": t.source}
                               for t in techniques().values()],
                "speculative_presets": {k: dict(v) for k, v in PRESETS.items()}}

    @app.post("/api/advise", tags=["analysis"], summary="Rank the techniques on a scenario (the advisor)")
    async def advise(req: AdviseRequest):
        """Exactly `llm-roofline advise --format json`: the baseline, then every technique that applies
        (settings, gains in TPOT / TTFT / throughput / memory, bounds, one sentence of why), ranked."""
        key = service.digest("advise", req.model_dump(mode="json"))
        return _json_response(await cached("heavy", key, lambda: dumps(service.advice(req))))

    @app.post("/api/upload", tags=["models"], summary="Parse an uploaded config.json (in memory)",
              openapi_extra={"requestBody": {"content": {
                  "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
                  "application/json": {"schema": {"type": "object"}}}}})
    async def upload(request: Request):
        """A Hugging Face `config.json`, as a multipart form field `file` or as the JSON body itself
        (at most the body limit). It is parsed in memory, never stored. Returns `name`, a `model`
        summary and the `config` object to send back as `config` in analyze requests (numbers that
        strict JSON cannot carry, NaN and Infinity, are read as null)."""
        from .uploads import read_upload

        body = await request.body()
        content_type = request.headers.get("content-type", "")

        def parse() -> str:
            config, filename = read_upload(content_type, body)
            spec = service.uploaded_model(config, None)
            return dumps({"name": spec.name, "filename": filename,
                          "model": {"name": spec.name, "model_type": spec.model_type, "num_layers": spec.num_layers,
                                    "hidden_size": spec.hidden_size, "vocab_size": spec.vocab_size},
                          "config": service.finite_json(config)})

        return _json_response(await pools["light"].run(parse))

    from .serving import add_serving_routes  # /api/serve-sim, /api/plan (in the heavy lane)

    add_serving_routes(app, lambda fn: pools["heavy"].run(fn))
    app.add_middleware(Guard, limit=MAX_BODY_BYTES, settings=settings)
    return app


def create_app_from_env() -> FastAPI:
    """The app with the settings ``llm-roofline serve`` put in the environment (its worker
    processes import the app by name, so the settings travel as text)."""
    return create_app(ServerSettings.from_env())


def _graph(a) -> dict:
    from .graph import model_graph

    return model_graph(a.model, a.prefill.table, a.decode.table)
