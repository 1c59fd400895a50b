"""Serving profiles: what an engine's serving stack adds to, or saves on, its kernels' times.

Three physical parameters per engine, fitted on measured serving runs (``llm-roofline validate --fit``;
docs/accuracy.md gives the values, the fit and its cross-validation):
- ``fixed_share`` (0..1): the share of each kernel's fixed cost (the calibrated curves' t0, measured on
  isolated kernels) that an engine's iteration pays. Engines fuse what the operator graph keeps apart
  (q/k/v and gate/up projections into one GEMM, norms with residual adds, rope into attention) and
  overlap a kernel's prologue with the previous one's tail inside their CUDA graphs (programmatic
  dependent launch), so a step costs less than its kernels' isolated fixed costs;
- ``request_overhead_s`` (s): per-request latency outside the GPU's iterations (HTTP, frontend and
  router, tokenization, scheduling, returning the first token), added to TTFT and end to end;
- ``burst_share`` (0..1): the share of a closed loop's requests that arrive together and queue for
  their prefill (a benchmark's start; identical requests stay in such waves): their TTFT is the mean
  wait of a burst of prompts through the token budget (steady.burst_ttft_s) rather than the steady
  state's one prefill.
Only the engine-evaluated closed forms use a profile (the calibrated setting); the ideal roofline stays
the bound it is.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources

from ..errors import ConfigError

PARAMS = "profiles.json"


@dataclass(frozen=True)
class ServingProfile:
    """One engine's serving parameters (see the module docstring); ``source``: where they come from."""

    engine: str
    fixed_share: float = 1.0
    request_overhead_s: float = 0.0
    burst_share: float = 0.0
    source: str = "none: the kernels' own times"

    def __post_init__(self) -> None:
        for name, low, high in (("fixed_share", 0.0, 1.0), ("request_overhead_s", 0.0, 10.0),
                                ("burst_share", 0.0, 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise ConfigError(f"serving profile {self.engine}: {name} must be in [{low:g}, {high:g}], "
                                  f"got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)


NEUTRAL = ServingProfile("none")


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
