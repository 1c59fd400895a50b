"""The web face of serving: ``POST /api/serve-sim`` (exactly ``llm-roofline serve-sim --format json``, worker
layouts included: ``tp``, ``ep``, ``attention_dp`` and the pools' ``prefill_*`` / ``decode_*``) and
``POST /api/plan`` (exactly ``llm-roofline plan --format json --all-points``), with request bodies typed and
bounded so one request stays a fraction of a second to a few seconds of work. They run in the app's heavy
worker pool (503 + Retry-After when it is full), and the bodies are validated strictly as every API body
(schemas.STRICT)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..api import EFFICIENCY_MODES
from ..efficiency.engines import ENGINES
from ..serving.plan import FORMAT_PRESETS
from ..serving.profiles import MAX_REQUEST_OVERHEAD_S
from .schemas import MAX_DEGREE, STRICT, Bits
from .service import ApiError, catalog_hardware, catalog_model

MAX_REQUESTS = 5000  # simulated requests per call
MAX_CONCURRENCY = 4096
MAX_GPUS = 64
MAX_TOKENS = 131_072
Length = int | str  # a number of tokens, or a distribution such as uniform:512:2048
# A parallel degree of a worker layout: analyze's bound, so the one message validation.RANGES gives for tp, ep
# and attention_dp holds here too (a layout past the GPUs or the system is refused with its reason).
Degree = Annotated[int, Field(ge=1, le=MAX_DEGREE)]
# The user's request overhead (ms) in place of the calibrated engine's fitted one (serve-sim's and plan's
# --request-overhead); null: the fit.
OverheadMs = Annotated[float, Field(ge=0, le=MAX_REQUEST_OVERHEAD_S * 1e3, allow_inf_nan=False)]
OVERHEAD_HELP = "with efficiency calibrated: the request overhead in every TTFT (ms); null: the engine's fitted one"


class ServeSimRequest(BaseModel):
    """A load on a catalog model and device, as ``llm-roofline serve-sim`` takes it."""

    model_config = STRICT

    model: str = Field(..., min_length=1, max_length=200, description="catalog model id or alias")
    hardware: str = Field(..., min_length=1, max_length=200, description="catalog device name or alias")
    load: Literal["concurrency", "rate"] = Field("concurrency", description="closed loop or Poisson arrivals")
    concurrency: int = Field(16, ge=1, le=MAX_CONCURRENCY, description="closed loop: requests in flight")
    rate: float = Field(4.0, gt=0, le=10_000, description="open loop: requests/s")
    requests: int | None = Field(None, ge=1, le=MAX_REQUESTS, description="requests to simulate")
    isl: Length = Field(2048, description="input tokens: a number or uniform:LO:HI, normal:MEAN:STD, exponential:MEAN")
    osl: Length = Field(512, description="output tokens, the first included: a number or a distribution")
    seed: int = Field(0, ge=0, le=2**31, description="random seed")
    max_batch_tokens: int = Field(8192, ge=1, le=MAX_TOKENS, description="tokens per iteration")
    max_seqs: int = Field(256, ge=1, le=MAX_CONCURRENCY, description="requests running at once")
    chunk: int | None = Field(None, ge=1, le=MAX_TOKENS, description="prefill tokens per request per iteration")
    workers: int = Field(1, ge=1, le=MAX_GPUS, description="aggregated replicas")
    disagg: bool = Field(False, description="separate prefill and decode pools")
    prefill_workers: int = Field(1, ge=1, le=MAX_GPUS)
    decode_workers: int = Field(1, ge=1, le=MAX_GPUS)
    # One worker's devices (as serve-sim's --tp, --ep, --attention-dp, --pp and the pools' --prefill-*, --decode-*);
    # several devices run on the device's first bundled system.
    tp: Degree = Field(1, description="aggregated workers: tensor-parallel devices of each")
    ep: Degree = Field(1, description="aggregated workers: expert parallelism over tp x attention_dp devices")
    attention_dp: Degree = Field(1, description="aggregated workers: attention data-parallel groups of tp devices")
    pp: Degree = Field(1, description="aggregated workers: pipeline stages of each")
    prefill_tp: Degree = Field(1, description="with disagg: tensor-parallel devices of each prefill worker")
    prefill_ep: Degree = Field(1, description="with disagg: expert parallelism of each prefill worker")
    prefill_attention_dp: Degree = Field(1, description="with disagg: attention-DP groups of each prefill worker")
    prefill_pp: Degree = Field(1, description="with disagg: pipeline stages of each prefill worker")
    decode_tp: Degree = Field(1, description="with disagg: tensor-parallel devices of each decode worker")
    decode_ep: Degree = Field(1, description="with disagg: expert parallelism of each decode worker")
    decode_attention_dp: Degree = Field(1, description="with disagg: attention-DP groups of each decode worker")
    decode_pp: Degree = Field(1, description="with disagg: pipeline stages of each decode worker")
    w_bits: Bits = 16
    a_bits: Bits = 16
    kv_bits: Bits = 16
    flash_attention: bool = True
    efficiency: Literal[EFFICIENCY_MODES] = Field("ideal", description="ideal, hardware or calibrated")
    engine: Literal[tuple(ENGINES)] | None = Field(
        None, description="with efficiency calibrated: whose kernels, host costs and serving profile (default generic)")
    request_overhead_ms: OverheadMs | None = Field(None, description=OVERHEAD_HELP)


class PlanRequest(BaseModel):
    """A deployment search, as ``llm-roofline plan`` takes it."""

    model_config = STRICT

    model: str = Field(..., min_length=1, max_length=200)
    hardware: str = Field(..., min_length=1, max_length=200)
    gpus: int = Field(8, ge=1, le=MAX_GPUS, description="devices")
    isl: int = Field(2048, ge=1, le=MAX_TOKENS)
    osl: int = Field(512, ge=1, le=MAX_TOKENS)
    ttft_slo_s: float | None = Field(None, gt=0, le=3600, description="mean TTFT objective (s)")
    tpot_slo_s: float | None = Field(None, gt=0, le=60, description="mean TPOT objective (s)")
    target_rate: float | None = Field(None, gt=0, le=1e6, description="requests/s to serve: fewest devices")
    formats: list[Literal[tuple(FORMAT_PRESETS)]] | None = Field(None, min_length=1, max_length=len(FORMAT_PRESETS))
    modes: list[Literal["agg", "disagg"]] | None = Field(None, min_length=1, max_length=2)
    tp: list[Degree] | None = Field(None, min_length=1, max_length=8, description="tensor-parallel degrees of a "
                                    "worker (with ep, attention_dp and pp: every combination; none of the four: "
                                    "the model's defaults, docs/serving.md)")
    ep: list[Degree] | None = Field(None, min_length=1, max_length=8, description="expert-parallel degrees")
    attention_dp: list[Degree] | None = Field(None, min_length=1, max_length=8,
                                              description="attention data-parallel groups")
    pp: list[Degree] | None = Field(None, min_length=1, max_length=8, description="pipeline stages of a worker")
    efficiency: Literal[EFFICIENCY_MODES] = Field("ideal", description="ideal, hardware or calibrated")
    engine: Literal[tuple(ENGINES)] | None = Field(
        None, description="with efficiency calibrated: whose kernels, host costs and serving profile (default generic)")
    request_overhead_ms: OverheadMs | None = Field(None, description=OVERHEAD_HELP)


def _efficiency(req: ServeSimRequest | PlanRequest):
    """The efficiency as the CLI resolves it: an engine goes with calibrated only. Both the simulation and
    the plan's closed form take every setting (calibrated iterations are priced by the engine itself)."""
    if req.engine is not None and req.efficiency != "calibrated":
        raise ApiError("engine", "engine: an engine applies to the calibrated efficiency only")
    if req.efficiency != "calibrated":
        return req.efficiency
    from ..api import resolve_efficiency

    return resolve_efficiency("calibrated", catalog_hardware(req.hardware), engine=req.engine)


def _request_overhead(req: ServeSimRequest | PlanRequest) -> float | None:
    """The body's request overhead in seconds (None: the engine's fitted one); a profile exists under the
    calibrated setting only, as the CLI's --request-overhead."""
    if req.request_overhead_ms is None:
        return None
    if req.efficiency != "calibrated":
        raise ApiError("request_overhead_ms", "request_overhead_ms: applies to the calibrated efficiency only (the "
                                              "ideal and hardware settings have no serving profile)")
    return req.request_overhead_ms / 1e3


def _catalog(req: ServeSimRequest | PlanRequest):
    """The request's model and device from the catalogs only (a client string never names a server file)."""
    return catalog_model(req.model), catalog_hardware(req.hardware)


def _length(value):
    return value if isinstance(value, int) else str(value)


POOLS = {"": "worker", "prefill_": "prefill worker", "decode_": "decode worker"}  # field prefix -> whose layout
DEGREES = ("tp", "ep", "attention_dp", "pp")  # plan_layouts' layout order


def _field(prefix: str, layout: tuple[int, ...]) -> str:
    """The field of a layout's first degree above 1 (what an error about the layout points at)."""
    return prefix + DEGREES[next(i for i, v in enumerate(layout) if v != 1)]


def _layouts(req: ServeSimRequest) -> dict[str, tuple[int, ...]]:
    """The body's worker layouts of several devices by field prefix: "" (aggregated workers), or "prefill_"
    and "decode_" (the pools of disagg), as the CLI pairs its flags with --disagg."""
    out = {}
    for prefix in POOLS:
        layout = tuple(getattr(req, prefix + d) for d in DEGREES)
        if all(v == 1 for v in layout):
            continue
        if bool(prefix) != req.disagg:
            field = _field(prefix, layout)
            why = ("applies with disagg only" if prefix else
                   "applies to aggregated workers only; with disagg give each pool its own (prefill_tp, decode_tp ...)")
            raise ApiError(field, f"{field}: {why}")
        out[prefix] = layout
    return out


def _check_layout(prefix: str, layout: tuple[int, ...], model, hardware, efficiency) -> None:
    """The parallel package's checks of one worker layout (plan's check_layout: the Deployment, the
    system's nodes, heads and experts), its message naming the pool and its field."""
    from ..errors import RooflineError
    from ..serving.plan_layouts import check_layout, comm_of, devices, resolve_target

    spec, device, eff, system = resolve_target(model, hardware, efficiency)
    first = _field(prefix, layout)
    if system is None:
        raise ApiError(first, f"{first}: a worker of several devices needs a system (devices and links), and no "
                              f"bundled system is built from {device.name}: pick a device of one (GET /api/systems)")
    try:
        check_layout(layout, spec, system, devices(layout), comm_of(eff))
    except RooflineError as exc:  # the degree the message starts with, else the layout's first above 1
        named = [d for d in DEGREES if str(exc).startswith(f"{d} ")]
        field = prefix + named[0] if named else first
        raise ApiError(field, f"{POOLS[prefix]}: {exc}" if prefix else str(exc)) from None


def add_serving_routes(app: FastAPI, run_heavy: Callable[[Callable[[], str]], Awaitable[str]]) -> None:
    """``run_heavy``: runs a job in the app's heavy worker pool (raises Busy when it is full)."""
    @app.post("/api/serve-sim", tags=["serving"], summary="Simulate serving a load (continuous batching)")
    async def serve_sim(req: ServeSimRequest):
        """TTFT, TPOT, ITL and end-to-end percentiles, throughput, KV-cache use and preemptions of a closed
        loop or Poisson arrivals, with the closed-form steady state: exactly `llm-roofline serve-sim -f json`."""
        from ..serving.api import simulate

        efficiency, overhead = _efficiency(req), _request_overhead(req)
        load = {"concurrency": req.concurrency} if req.load == "concurrency" else {"rate": req.rate}
        model, hardware = _catalog(req)
        layouts = _layouts(req)

        def run() -> str:
            for prefix, layout in layouts.items():
                _check_layout(prefix, layout, model, hardware, efficiency)
            devices = {f"{prefix}deployment": dict(zip(DEGREES, layout, strict=True))
                       for prefix, layout in layouts.items()}
            report = simulate(model, hardware, requests=req.requests, isl=_length(req.isl),
                              osl=_length(req.osl), seed=req.seed, max_batch_tokens=req.max_batch_tokens,
                              max_seqs=req.max_seqs, chunk=req.chunk, workers=req.workers, disagg=req.disagg,
                              prefill_workers=req.prefill_workers, decode_workers=req.decode_workers,
                              w_bits=req.w_bits, a_bits=req.a_bits, kv_bits=req.kv_bits,
                              flash_attention=req.flash_attention, efficiency=efficiency,
                              request_overhead_s=overhead, **devices, **load)
            return json.dumps(report.to_dict(), separators=(",", ":"), allow_nan=False)

        return Response(content=await run_heavy(run), media_type="application/json")

    @app.post("/api/plan", tags=["serving"], summary="Search deployments: Pareto front and the best under SLOs")
    async def plan(req: PlanRequest):
        """Every point of the search (`points`), the Pareto front, the best point under the SLOs, the largest
        rate at the SLOs and the fewest devices for a target rate: exactly
        `llm-roofline plan -f json --all-points`."""
        from ..serving.plan import plan as run_plan

        efficiency, overhead = _efficiency(req), _request_overhead(req)
        model, hardware = _catalog(req)

        def run() -> str:
            result = run_plan(model, hardware, gpus=req.gpus, isl=req.isl, osl=req.osl,
                              ttft_slo=req.ttft_slo_s, tpot_slo=req.tpot_slo_s, target_rate=req.target_rate,
                              formats=req.formats, modes=req.modes, tp=req.tp, ep=req.ep,
                              attention_dp=req.attention_dp, pp=req.pp, efficiency=efficiency, processes=1,
                              request_overhead_s=overhead)
            return json.dumps(result.to_dict(all_points=True), separators=(",", ":"), allow_nan=False)

        return Response(content=await run_heavy(run), media_type="application/json")
