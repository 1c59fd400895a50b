"""From user arguments to pools: formats, efficiency, scheduler settings and worker counts.

Every serving face (API, CLI, plan, web) goes through ``make_pool`` so the iteration cost, the KV capacity
and the scheduler settings are built one way. StepCosts are cached per (model, device, efficiency,
formats): the plan search reuses one for every scheduler setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..defaults import DEFAULT_BITS, DEFAULT_GROUP_SIZE, DEFAULT_SCALE_BITS, DEFAULT_STATE_BITS
from ..hardware.spec import Efficiency, Hardware
from ..models.spec import ModelSpec
from ..scenario import Scenario
from .capacity import kv_capacity
from .pool import Pool
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
    """StepCosts by (formats): one model, device and efficiency."""

    def __init__(self, model: ModelSpec, hardware: Hardware, efficiency: Efficiency):
        self.model, self.hardware, self.efficiency = model, hardware, efficiency
        self._costs: dict[Formats, StepCost] = {}

    def cost(self, formats: Formats, max_tokens: int = 0) -> StepCost:
        """The iteration cost, with its token-dependent weights tabulated up to ``max_tokens`` tokens."""
        if formats not in self._costs:
            self._costs[formats] = step_cost(self.model, self.hardware, self.efficiency, formats.scenario(self.model))
        if max_tokens:
            self._costs[formats] = self._costs[formats].tabulate(max_tokens)
        return self._costs[formats]

    def pool(self, formats: Formats, config: SchedulerConfig, workers: int = 1) -> Pool:
        # An iteration holds at most max_batch_tokens tokens; the closed form also prices mean batches of up
        # to max_seqs decoders beside a chunk: twice the budget covers both.
        cost = self.cost(formats, 2 * config.max_batch_tokens)
        kv = kv_capacity(cost, block_size=config.block_size, memory_fraction=config.memory_fraction,
                         max_batch_tokens=config.max_batch_tokens, max_seqs=config.max_seqs)
        return Pool(cost=cost, kv=kv, config=config, workers=workers)


def check_workers(value: object, name: str) -> int:
    from ..errors import ScenarioError

    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
        raise ScenarioError(f"{name} must be an integer in 1..100000, got {value!r}")
    return value
