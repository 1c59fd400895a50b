"""From user arguments to pools: formats, efficiency, scheduler settings and worker counts.

Every serving face (API, CLI, plan, web) goes through ``CostCache.pool`` so the iteration cost, the KV
capacity and the scheduler settings are built one way. Iteration costs are cached per (formats,
deployment) of one model, system and efficiency: the plan search reuses one for every scheduler setting.
Which cost: the linear StepCost (exact, and the simulation's fast path) for the ideal and hardware settings
on one device, the engine-evaluated EngineCost for the calibrated setting, for workers of several
devices, or when asked (``engine_evaluated``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..defaults import DEFAULT_BITS, DEFAULT_GROUP_SIZE, DEFAULT_SCALE_BITS, DEFAULT_STATE_BITS
from ..errors import DeploymentError
from ..hardware.spec import Efficiency, Hardware
from ..hardware.system import System
from ..models.spec import ModelSpec
from ..parallel.deployment import Deployment
from ..scenario import Scenario
from .capacity import kv_capacity
from .engine_cost import EngineCost, engine_cost
from .pool import Pool
from .profiles import NEUTRAL, ServingProfile
from .scheduler import SchedulerConfig
from .step_cost import StepCost, step_cost


@dataclass(frozen=True)
class Formats:
    """Formats and kernel options of a deployment (as ``analyze`` takes them); serving engines run fused
    attention, so ``flash_attention`` defaults to True here."""

    w_bits: object = DEFAULT_BITS
    a_bits: object = DEFAULT_BITS
    kv_bits: object = DEFAULT_BITS
    flash_attention: bool = True
    group_size: int = DEFAULT_GROUP_SIZE
    scale_bits: int = DEFAULT_SCALE_BITS
    state_bits: object = DEFAULT_STATE_BITS

    def scenario(self, model: ModelSpec | None = None) -> Scenario:
        """``w_bits`` None: the model's own format (its config's quantization_config, else 16 bits)."""
        w_bits = self.w_bits
        if w_bits is None:
            from ..techniques.precision_map import own_weights

            w_bits = own_weights(model) if model is not None else DEFAULT_BITS
        return Scenario.build(w_bits=w_bits, a_bits=self.a_bits, kv_bits=self.kv_bits,
                              state_bits=self.state_bits, flash_attention=self.flash_attention,
                              group_size=self.group_size, scale_bits=self.scale_bits)

    def to_dict(self) -> dict:
        return {"w_bits": self.w_bits, "a_bits": self.a_bits, "kv_bits": self.kv_bits, "state_bits": self.state_bits,
                "flash_attention": self.flash_attention, "group_size": self.group_size,
                "scale_bits": self.scale_bits}


class CostCache:
    """Iteration costs by (formats, deployment): one model, efficiency and system (``system``: the
    devices and links of multi-device workers; None: ``hardware`` alone); ``profile``: the engine's
    serving profile (profiles.py) of its engine-evaluated costs."""

    def __init__(self, model: ModelSpec, hardware: Hardware, efficiency: Efficiency, system: System | None = None,
                 engine_evaluated: bool = False, profile: ServingProfile = NEUTRAL):
        self.model, self.hardware, self.efficiency, self.system = model, hardware, efficiency, system
        self.engine_evaluated = engine_evaluated or getattr(efficiency, "mode", "") == "calibrated"
        self.profile = profile
        self._costs: dict[tuple, StepCost | EngineCost] = {}
        self._pools: dict[tuple, Pool] = {}

    def cost(self, formats: Formats, max_tokens: int = 0,
             deployment: Deployment | None = None) -> StepCost | EngineCost:
        """The iteration cost, with its token-dependent weights tabulated up to ``max_tokens`` tokens."""
        several = deployment is not None and not deployment.is_single_device
        key = (formats, deployment if several else None)
        if key not in self._costs:
            if several and self.system is None:
                raise DeploymentError("a worker of several devices needs a system (devices and links)")
            if several or self.engine_evaluated:
                self._costs[key] = engine_cost(self.model, self.hardware, self.efficiency, formats.scenario(self.model),
                                               deployment if several else None, self.system, self.profile)
            else:
                self._costs[key] = step_cost(self.model, self.hardware, self.efficiency, formats.scenario(self.model))
        if max_tokens:
            self._costs[key] = self._costs[key].tabulate(max_tokens)
        return self._costs[key]

    def pool(self, formats: Formats, config: SchedulerConfig, workers: int = 1,
             deployment: Deployment | None = None) -> Pool:
        key = (formats, config, workers, deployment)
        if key not in self._pools:
            # An iteration holds at most max_batch_tokens tokens; the closed form also prices mean batches of
            # up to max_seqs decoders beside a chunk: twice the budget covers both.
            cost = self.cost(formats, 2 * config.max_batch_tokens, deployment)
            kv = kv_capacity(cost, block_size=config.block_size, memory_fraction=config.memory_fraction,
                             max_batch_tokens=config.max_batch_tokens, max_seqs=config.max_seqs)
            self._pools[key] = Pool(cost=cost, kv=kv, config=config, workers=workers,
                                    gpus_per_worker=1 if deployment is None else deployment.devices)
        return self._pools[key]


def check_workers(value: object, name: str) -> int:
    from ..errors import ScenarioError

    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
        raise ScenarioError(f"{name} must be an integer in 1..100000, got {value!r}")
    return value
