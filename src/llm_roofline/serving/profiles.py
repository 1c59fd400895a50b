"""Serving profiles: what an engine's serving stack adds to, or saves on, its kernels' times.

Five physical parameters per engine, three fitted on measured serving runs (``llm-roofline validate --fit``;
docs/accuracy.md gives the values, the fit and its cross-validation):
- ``fixed_share`` (0..1): the share of each kernel's fixed cost (the calibrated curves' t0, measured on
  isolated kernels) that an engine's iteration pays. Engines fuse what the operator graph keeps apart
  (q/k/v and gate/up projections into one GEMM, norms with residual adds, rope into attention) and
  overlap a kernel's prologue with the previous one's tail inside their CUDA graphs (programmatic
  dependent launch), so a step costs less than its kernels' isolated fixed costs;
- ``request_overhead_s`` (s): per-request latency outside the GPU's iterations (HTTP, frontend and
  router, scheduling, returning the first token), added to TTFT and end to end;
- ``prompt_token_s`` (s per prompt token): the part of that latency that grows with the prompt, on the
  host before the prompt reaches an iteration (the frontend tokenizes the prompt's text and the engine
  turns its tokens into a request: parsing, input processing, handing the token ids to the scheduler).
  Tokenizers run at about 2 us per token on ordinary text (Qwen3.5's, 22k tokens in 41.7 ms:
  ModelTC/LightLLM pull request 1258) and at 10-21 us per token measured through Hugging Face's
  tokenizers behind a C++ server (tenstorrent/tt-inference-server issue 2173); the fits (docs/accuracy.md)
  lie in that range. It is one number per engine for every model: the host's work, not the GPU's. A
  request of P prompt tokens spends ``request_overhead_s + prompt_token_s x P`` outside the iterations
  (``frontend_s``);
- ``burst_share`` (0..1): the share of a closed loop's requests that arrive together and queue for
  their prefill: their TTFT is the mean wait of a burst of prompts through the token budget
  (steady._burst) rather than the steady state's one prefill. Not fitted: it follows from the engine's
  scheduler (``derived_burst_share``). A benchmark starts all its C requests at once. An engine that
  runs waiting prefills before any decode step and never mixes the two (SGLang's default scheduler)
  keeps that wave for good: the wave's prompts are all prefilled, then decode in lockstep, finish in the
  same step and return together, so every request is in a burst (1), as long as the requests have the same
  lengths: lengths drawn from a range stagger the finishes and dissolve the wave after its first round,
  as a mixing scheduler does (``derived_burst_share``'s ``lengths_vary``). An engine that mixes prefill
  chunks into decode iterations (TensorRT-LLM's in-flight batching, vLLM's chunked prefill) starts
  decoding the first prompts while later ones prefill, so the wave dissolves into the steady state
  after its first round: only the first round's C requests of the benchmark's N are in a burst, C / N
  = 1 / BENCHMARK_ROUNDS.
- ``prefill_launch_s`` (s): the host's launch time per kernel in iterations that carry prompt tokens.
  Not fitted: engines replay decode-only steps from CUDA graphs but run iterations with prompt chunks
  eagerly (TensorRT-LLM captures generation-only batches; SGLang captures decode batches; vLLM's graphs
  stop at 512 tokens per iteration, below a prompt chunk), so in such an iteration a kernel takes
  max(its GPU time, the launch time): the host cannot issue kernels faster. The value is the measured
  eager launch cost (efficiency.engines.EAGER_LAUNCH_S, 27 us per operator, from the kernel tables).
A user who knows their own stack's overhead replaces the fitted one (``with_request_overhead``: the
``request_overhead_s`` keyword of simulate / estimate_serving / plan, ``--request-overhead`` on the command
line, the web's "request overhead (ms)"): their number is then the whole time a request spends outside the
iterations (``prompt_token_s`` becomes 0: a measured overhead already holds their prompts' tokenization);
the rest of the profile stays the fit, and its ``source`` says so.
Only the calibrated setting uses a profile: the engine-evaluated closed forms all five parameters, the
discrete-event simulation the iteration-time ones and the frontend time (its closed loop makes its own
bursts; serving/simulate.py). The ideal roofline stays the bound it is.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from functools import cache
from importlib import resources
from numbers import Real

from ..efficiency.engines import EAGER_LAUNCH_S
from ..errors import ConfigError, ScenarioError

PARAMS = "profiles.json"
# A request overhead a user may set (s): 0 (none) up to a minute, past any frontend's latency (the fits are
# a few ms to 200 ms; a minute is a queue in front of the engine, not an overhead).
MAX_REQUEST_OVERHEAD_S = 60.0
# A host cost per prompt token (s): up to 1 ms, 50x the slowest tokenizer cited in the module docstring.
MAX_PROMPT_TOKEN_S = 1e-3
USER_OVERHEAD_SOURCE = "request_overhead_s set by the user"  # how a profile's source starts once a user set it
OTHERS = "; the other parameters: "


@dataclass(frozen=True)
class ServingProfile:
    """One engine's serving parameters (see the module docstring); ``source``: where they come from."""

    engine: str
    fixed_share: float = 1.0
    request_overhead_s: float = 0.0
    burst_share: float = 0.0
    prompt_token_s: float = 0.0
    prefill_launch_s: float = 0.0
    source: str = "none: the kernels' own times"

    def __post_init__(self) -> None:
        for name, low, high in (("fixed_share", 0.0, 1.0), ("request_overhead_s", 0.0, MAX_REQUEST_OVERHEAD_S),
                                ("burst_share", 0.0, 1.0), ("prefill_launch_s", 0.0, 1e-3),
                                ("prompt_token_s", 0.0, MAX_PROMPT_TOKEN_S)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise ConfigError(f"serving profile {self.engine}: {name} must be in [{low:g}, {high:g}], "
                                  f"got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def frontend_s(self, prompt_tokens):
        """Time a request of ``prompt_tokens`` prompt tokens spends outside the GPU's iterations (s):
        request_overhead_s + prompt_token_s x prompt_tokens (a number or an array)."""
        return self.request_overhead_s + self.prompt_token_s * prompt_tokens


NEUTRAL = ServingProfile("none")

# Closed-loop benchmarks send BENCHMARK_ROUNDS x concurrency requests (the genai-perf / AIPerf recipes'
# --request-count 10 x concurrency, e.g. https://github.com/ai-dynamo/aiperf); an assumption about how the
# measured runs were made, not a fitted number.
BENCHMARK_ROUNDS = 10
PREFILL_FIRST = ("sglang",)  # schedulers that run waiting prefills first, never mixed with decode steps


def derived_burst_share(engine: str | None, lengths_vary: bool = False) -> float:
    """The share of a closed-loop benchmark's requests that arrive in a burst (see the module docstring):
    1 for a prefill-first scheduler that never mixes when every request has the same lengths (its wave
    persists), else the first round's 1 / BENCHMARK_ROUNDS: mixing schedulers dissolve the wave, and so do
    lengths drawn from a range (``lengths_vary``; e.g. a client's --random-range-ratio 0.8 spreads the
    wave's finishes over a fifth of its decode steps, so its replacements arrive staggered)."""
    return 1.0 if engine in PREFILL_FIRST and not lengths_vary else 1.0 / BENCHMARK_ROUNDS


def derived_prefill_launch_s(engine: str | None) -> float:
    """Host launch time per kernel (s) in an iteration that carries prompt tokens (see the module
    docstring): the measured eager launch cost, for every serving engine here (none graphs its prompt
    chunks by default)."""
    return EAGER_LAUNCH_S


@cache
def fitted_profiles() -> dict[str, ServingProfile]:
    """The shipped fits by engine name (``generic``: one fit over every engine's rows)."""
    data = json.loads(resources.files(__package__).joinpath("params", PARAMS).read_text())
    source = data["source"]
    return {name: ServingProfile(engine=name, source=source, **values) for name, values in data["engines"].items()}


def serving_profile(engine: str | None) -> ServingProfile:
    """The fitted profile of ``engine`` (a calibrated engine profile's name); engines without a fit of
    their own (gpt-fast, llama.cpp, hf-eager) take the ``generic`` one."""
    fits = fitted_profiles()
    return fits.get(engine or "generic", fits["generic"])


def profile_for(efficiency) -> ServingProfile:
    """The profile an efficiency setting serves with when none is given: the calibrated engine's fitted
    one, none (NEUTRAL) for the ideal and hardware settings."""
    if getattr(efficiency, "mode", "") != "calibrated":
        return NEUTRAL
    return serving_profile(efficiency.engine.name)


def check_request_overhead(value) -> float:
    """A user's request overhead (s) as a float in [0, MAX_REQUEST_OVERHEAD_S]; ScenarioError naming the
    field and the range otherwise."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) \
            or not 0.0 <= value <= MAX_REQUEST_OVERHEAD_S:
        raise ScenarioError(f"request_overhead_s must be a duration in seconds in [0, {MAX_REQUEST_OVERHEAD_S:g}], "
                            f"got {value!r}")
    return float(value)


def with_request_overhead(profile: ServingProfile, seconds: float | None) -> ServingProfile:
    """``profile`` with its request overhead replaced by the user's ``seconds`` (s; None: unchanged): the
    whole frontend time, so its cost per prompt token becomes 0 (a measured overhead holds the user's own
    tokenization); the other parameters as they are; its ``source`` says the overhead was set by the user.
    A serving setting
    without a profile (NEUTRAL: ideal, hardware) has no overhead to replace: ScenarioError."""
    if seconds is None:
        return profile
    value = check_request_overhead(seconds)
    if profile.engine == NEUTRAL.engine:
        raise ScenarioError("request_overhead_s applies to a serving profile: efficiency 'calibrated' (its engine's "
                            "fitted profile) or a ServingProfile given as profile; the ideal and hardware settings "
                            "have none")
    rest = profile.source.split(OTHERS, 1)[1] if profile.source.startswith(USER_OVERHEAD_SOURCE) else profile.source
    return replace(profile, request_overhead_s=value, prompt_token_s=0.0,
                   source=f"{USER_OVERHEAD_SOURCE}{OTHERS}{rest}")
