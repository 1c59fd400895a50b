"""Deployment: how one model is spread over devices, and its check against the model and the system.

Degrees (each a positive integer):
- ``tp``: tensor parallelism of attention and dense layers (Megatron column / row-parallel linears);
- ``attention_dp``: attention data parallelism inside one replica: ``attention_dp`` groups of ``tp``
  devices each hold the attention weights and serve batch / attention_dp of the sequences;
- ``ep``: expert parallelism of MoE layers over the tp x attention_dp devices of a stage; the experts'
  own tensor parallelism is moe_tp = tp x attention_dp / ep;
- ``pp``: pipeline stages (consecutive layers); ``dp``: independent replicas.
devices = tp x attention_dp x pp x dp. Placement: tp innermost (neighbouring devices), then the
attention-DP groups, then the stages, then the replicas; ``nodes`` nodes hold devices / nodes each.
``batch_size`` of a scenario is the sequences one replica serves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import DeploymentError
from ..hardware.system import System
from ..models.spec import ModelSpec, routed_experts
from .choices import DEGREE_AXES, EP_COMM
from .collectives import CommSettings

MAX_DEGREE = 1 << 20


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DEGREE:
        raise DeploymentError(f"{name} must be an integer in 1..{MAX_DEGREE}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Deployment:
    """Degrees of parallelism and the options of the multi-device model (see the module docstring).

    nodes: nodes the devices span (None: as few as hold them). micro_batches: pipeline micro-batches
    (None: pp). overlap: communication overlaps computation (an optimistic bound: a stage then takes
    max(compute and memory time, link time)); off by default, as engines run decode serially.
    ep_imbalance: tokens of the most loaded expert-parallel rank / the mean (1 = uniform routing; at
    most ep). ep_comm: how tokens reach the experts under attention DP: all_to_all (dispatch and
    combine, DeepEP-style) or all_gather (gather every token, reduce-scatter the outputs).
    comm: how collectives are costed (collectives.CommSettings).
    """

    tp: int = 1
    pp: int = 1
    ep: int = 1
    dp: int = 1
    attention_dp: int = 1
    nodes: int | None = None
    micro_batches: int | None = None
    overlap: bool = False
    ep_imbalance: float = 1.0
    ep_comm: str = "all_to_all"
    comm: CommSettings = field(default_factory=CommSettings)

    def __post_init__(self) -> None:
        for name in DEGREE_AXES:
            _positive_int(name, getattr(self, name))
        if self.nodes is not None:
            _positive_int("nodes", self.nodes)
            if self.nodes > self.devices:
                raise DeploymentError(f"nodes ({self.nodes}) exceeds the {self.devices} device(s) of the deployment")
        if self.micro_batches is not None:
            _positive_int("micro_batches", self.micro_batches)
            if self.micro_batches > 1 and self.pp == 1:
                raise DeploymentError("micro_batches > 1 needs pipeline parallelism (pp > 1)")
        if not isinstance(self.overlap, bool):
            raise DeploymentError(f"overlap must be true or false, got {self.overlap!r}")
        f = self.ep_imbalance
        if isinstance(f, bool) or not isinstance(f, int | float) or not (math.isfinite(f) and 1.0 <= f <= self.ep):
            raise DeploymentError(f"ep_imbalance must be a number in [1, ep = {self.ep}] (the most loaded "
                                  f"expert-parallel rank's tokens / the mean), got {f!r}")
        if self.ep_comm not in EP_COMM:
            raise DeploymentError(f"ep_comm must be one of {', '.join(EP_COMM)}, got {self.ep_comm!r}")
        if not isinstance(self.comm, CommSettings):
            raise DeploymentError(f"comm must be a CommSettings, got {self.comm!r}")
        if self.stage_devices % self.ep:
            raise DeploymentError(f"ep ({self.ep}) must divide tp x attention_dp ({self.tp} x {self.attention_dp} "
                                  f"= {self.stage_devices}): the experts are spread over a stage's devices")

    @property
    def devices(self) -> int:
        return self.tp * self.attention_dp * self.pp * self.dp

    @property
    def stage_devices(self) -> int:
        """Devices of one pipeline stage of one replica: tp x attention_dp."""
        return self.tp * self.attention_dp

    @property
    def moe_tp(self) -> int:
        """Tensor parallelism inside each expert: tp x attention_dp / ep."""
        return self.stage_devices // self.ep

    @property
    def pipeline_micro_batches(self) -> int:
        return self.pp if self.micro_batches is None else self.micro_batches

    @property
    def is_single_device(self) -> bool:
        return self.devices == 1


@dataclass(frozen=True)
class Layout:
    """A deployment checked against a model and a system: ``nodes`` nodes of ``per_node`` devices each;
    ``stage_layers`` = ceil(L / pp) layers on the fullest stage; ``inter_node_handoffs`` of the pp - 1
    stage boundaries cross nodes."""

    deployment: Deployment
    system: System
    nodes: int
    per_node: int
    layers: int
    stage_layers: int
    inter_node_handoffs: int

    def group_per_node(self, size: int) -> int:
        """Devices of a group of ``size`` consecutive devices that share a node."""
        return min(size, self.per_node)


def layout(deployment: Deployment, model: ModelSpec, system: System) -> Layout:
    """Check ``deployment`` against ``model`` and ``system``; every error names the field."""
    d = deployment
    layers = model.num_layers
    if d.pp > layers:
        raise DeploymentError(f"pp ({d.pp}) exceeds the model's {layers} layers")
    _check_experts(d, model)
    devices = d.devices
    if devices > system.max_devices:
        raise DeploymentError(f"{devices} devices (tp {d.tp} x attention_dp {d.attention_dp} x pp {d.pp} x dp "
                              f"{d.dp}) exceed {system.name}'s {system.devices_per_node} per node x "
                              f"{system.max_nodes} nodes = {system.max_devices}")
    nodes = d.nodes if d.nodes is not None else math.ceil(devices / system.devices_per_node)
    if nodes > system.max_nodes:
        raise DeploymentError(f"nodes ({nodes}) exceeds {system.name}'s max_nodes ({system.max_nodes})")
    if devices % nodes:
        raise DeploymentError(f"nodes ({nodes}) must divide the {devices} devices (each node holds the same number)")
    per_node = devices // nodes
    if per_node > system.devices_per_node:
        raise DeploymentError(f"{devices} devices on {nodes} node(s) is {per_node} per node; {system.name} has "
                              f"{system.devices_per_node} per node (raise nodes)")
    for name, size in (("tp", d.tp), ("tp x attention_dp", d.stage_devices)):
        if size > per_node and size % per_node:
            raise DeploymentError(f"{name} ({size}) spans nodes of {per_node} devices: it must be a multiple of "
                                  f"{per_node}")
        if size < per_node and per_node % size:
            raise DeploymentError(f"{name} ({size}) must divide the {per_node} devices per node")
    stage = d.stage_devices
    inter = sum(1 for s in range(d.pp - 1)
                if ((s + 1) * stage) // per_node != ((s + 1) * stage - 1) // per_node or stage >= per_node)
    return Layout(deployment=d, system=system, nodes=nodes, per_node=per_node, layers=layers,
                  stage_layers=math.ceil(layers / d.pp), inter_node_handoffs=inter)


def _check_experts(d: Deployment, model: ModelSpec) -> None:
    moes = [m for m in (routed_experts(g.layer.ffn) for g in model.layer_groups) if m is not None]
    if d.ep > 1 and not moes:
        raise DeploymentError(f"ep ({d.ep}) needs a mixture-of-experts model; {model.name} has no experts")
    for moe in moes:
        if moe.num_experts % d.ep:
            raise DeploymentError(f"ep ({d.ep}) must divide the {moe.num_experts} experts of {model.name}")


def worker_deployment(*, tp: int = 1, pp: int = 1, attention_dp: int = 1, moe_tp: int | None = None,
                      moe_ep: int = 1, **options) -> Deployment:
    """One serving worker as TensorRT-LLM, SGLang and vLLM describe it: ``tp`` x ``pp`` x ``attention_dp``
    devices for attention, and the MoE layers spread over the same tp x attention_dp devices of a stage as
    ``moe_tp`` (each expert's tensor parallelism) x ``moe_ep`` (expert parallelism). E.g. DeepSeek-R1 on
    8 GPUs: attention DP 8 with EP 8 (moe_tp 1), or TP 8 with moe_tp 2 x EP 4. As a Deployment: ep =
    moe_ep and moe_tp = tp x attention_dp / ep, so moe_tp x moe_ep must equal tp x attention_dp (the
    error says so). ``moe_tp`` None: what the others leave. ``options``: Deployment's other fields."""
    for name, value in (("tp", tp), ("pp", pp), ("attention_dp", attention_dp), ("moe_ep", moe_ep)):
        _positive_int(name, value)
    if moe_tp is not None:
        _positive_int("moe_tp", moe_tp)
        if moe_tp * moe_ep != tp * attention_dp:
            raise DeploymentError(f"moe_tp x moe_ep ({moe_tp} x {moe_ep} = {moe_tp * moe_ep}) must equal tp x "
                                  f"attention_dp ({tp} x {attention_dp} = {tp * attention_dp}): the MoE layers "
                                  "run on the devices of the attention layers")
    return Deployment(tp=tp, pp=pp, attention_dp=attention_dp, ep=moe_ep, **options)
