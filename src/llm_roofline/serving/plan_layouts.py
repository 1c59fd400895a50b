"""The worker layouts of the deployment search: how many devices one worker spans and how the model is
split over them (tensor, expert, attention-data and pipeline parallelism; parallel.Deployment).

A layout is a tuple (tp, ep, attention_dp, pp); a worker spans tp x attention_dp x pp devices (pp
pipeline stages of tp x attention_dp devices; engine_cost.py prices its iterations as the pipeline's
periods). Aggregated serving
runs gpus / devices replicas of it; disaggregated serving splits those workers into a prefill and a decode
pool, both of this layout (one layout for both pools keeps the search at one axis: a product of
prefill and decode layouts would square it).

Defaults (``default_layouts``): TP in powers of two up to min(gpus, devices per node of the system); a
mixture-of-experts model also gets expert parallelism under TP (ep = tp: each device holds whole
experts) and attention-DP x EP (attention_dp = ep = a, tp 1: DeepSeek-style wide EP), a in the same
powers of two; each of them with pp in DEFAULT_PP (a pipeline across nodes when the stages' devices
fill one), as long as the worker's devices stay within the gpus. Without a multi-device system (a device
no bundled system is built from) only one device per worker. Which of them are valid the parallel
package decides (``check_layout``: the Deployment's own checks, the system's nodes, the shard's head and
expert divisibility) and the search adds that pp divides the layers (engines split them evenly by
default); an invalid one is skipped with its reason. ``resolve_target``: the model, device, efficiency
and system a search runs on; ``comm_of``: how the collectives of multi-device workers are costed.
"""

from __future__ import annotations

import itertools

from ..errors import DeploymentError, ScenarioError
from ..models.spec import ModelSpec, routed_experts

SINGLE = (1, 1, 1, 1)
MAX_LAYOUTS = 64  # layouts in one search (a product of the four lists beyond it is refused)
DEFAULT_PP = (1, 2, 4)  # pipeline stages searched by default


def devices(layout: tuple[int, int, int, int]) -> int:
    tp, _, attention_dp, pp = layout
    return tp * attention_dp * pp


def label(layout: tuple[int, int, int, int]) -> dict:
    """The layout's keys in a plan row: tp, ep, attention_dp, pp and devices_per_worker."""
    tp, ep, attention_dp, pp = layout
    return {"tp": tp, "ep": ep, "attention_dp": attention_dp, "pp": pp, "devices_per_worker": devices(layout)}


def is_moe(model: ModelSpec) -> bool:
    return any(routed_experts(g.layer.ffn) is not None for g in model.layer_groups)


def default_layouts(model: ModelSpec, system, gpus: int) -> list[tuple[int, int, int, int]]:
    """The layouts searched when none are given (see the module docstring)."""
    if system is None:
        return [SINGLE]
    top = min(gpus, system.devices_per_node)
    powers = [2 ** k for k in range(top.bit_length()) if 2 ** k <= top]
    stages = [(t, 1, 1) for t in powers]
    if is_moe(model):
        stages += [(t, t, 1) for t in powers if t > 1] + [(1, a, a) for a in powers if a > 1]
    return [(*s, pp) for pp in DEFAULT_PP for s in stages if devices((*s, pp)) <= gpus]


def given_layouts(tp, ep, attention_dp, pp=None) -> list[tuple[int, int, int, int]]:
    """The product of the given degree lists (None: 1)."""
    lists = []
    for name, values in (("tp", tp), ("ep", ep), ("attention_dp", attention_dp), ("pp", pp)):
        values = (1,) if values is None else tuple(values)
        if not values:
            raise ScenarioError(f"{name}: give at least one value")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 1024:
                raise ScenarioError(f"{name} must be integers in 1..1024, got {v!r}")
        lists.append(tuple(dict.fromkeys(values)))
    out = list(itertools.product(*lists))
    if len(out) > MAX_LAYOUTS:
        raise ScenarioError(f"tp x ep x attention_dp x pp gives {len(out)} layouts; at most {MAX_LAYOUTS}")
    return out


def deployment(layout: tuple[int, int, int, int], comm: str):
    """The parallel Deployment of a layout (None for one device: the linear single-device cost)."""
    if layout == SINGLE:
        return None
    from ..parallel.options import make_deployment

    tp, ep, attention_dp, pp = layout
    return make_deployment(tp=tp, ep=ep, attention_dp=attention_dp, pp=pp, efficiency=comm)


def check_layout(layout: tuple[int, int, int, int], model: ModelSpec, system, gpus: int, comm: str) -> None:
    """Raise DeploymentError (with the reason) if ``layout`` cannot serve ``model`` on ``gpus`` devices of
    ``system``: the Deployment's checks, the system's nodes, the shard (heads, experts), pp dividing the
    layers, and the workers (its devices must divide gpus)."""
    dep = deployment(layout, comm)
    if dep is None:
        return
    if system is None:
        raise DeploymentError("a worker of several devices needs a system (devices and links); this device has "
                              "no bundled system: name one")
    n = dep.devices
    shape = f"tp {dep.tp} x attention_dp {dep.attention_dp}" + (f" x pp {dep.pp}" if dep.pp > 1 else "")
    if n > gpus:
        raise DeploymentError(f"a worker of {n} devices ({shape}) exceeds the {gpus} GPUs")
    if gpus % n:
        raise DeploymentError(f"a worker of {n} devices ({shape}) does not divide the {gpus} GPUs")
    if model.num_layers % dep.pp:
        raise DeploymentError(f"pp ({dep.pp}) does not divide the {model.num_layers} layers of {model.name} "
                              "(the search splits layers evenly over the stages)")
    from ..parallel.deployment import layout as check_system
    from ..parallel.shard import shard_model

    check_system(dep, model, system)  # the system's nodes and the experts
    shard_model(model, dep.tp, dep.moe_tp)


def resolve_target(model, hardware, efficiency):
    """(model, device, efficiency, system): ``hardware`` is a device, a system or a name of either; the
    system is the named one or the first bundled system built from the device (None when there is none:
    one device per worker only)."""
    from ..errors import ConfigError
    from ..hardware.spec import Hardware
    from ..hardware.system import System
    from ..hardware.systems import resolve_system
    from ..parallel.options import with_device
    from .api import _context

    try:
        system = resolve_system(hardware, multi_device=True)
    except ConfigError:
        system = None
    device = hardware if isinstance(hardware, Hardware) or system is None else system.device
    spec, device, eff = _context(model, device, efficiency)
    if isinstance(hardware, System):
        system = hardware
    return spec, device, eff, (None if system is None else with_device(system, device))


def comm_of(efficiency, comm: str | None = None) -> str:
    """How multi-device workers' collectives are costed: ``comm``, else as estimate_serving does: fitted
    under the hardware and calibrated settings, ideal otherwise."""
    from ..parallel.choices import default_comm

    return comm if comm is not None else default_comm(efficiency)
