"""The deployment search on a process pool (Python's concurrent.futures): configurations are independent.

ModelSpec and Hardware hold read-only mapping proxies, which pickle refuses: they travel as their class and
fields (proxies as dicts; their __post_init__ restores the proxies on the other side), field by field (a
System holds its Hardware).
"""

from __future__ import annotations


def _portable(value):
    from dataclasses import fields, is_dataclass
    from types import MappingProxyType

    if not is_dataclass(value):
        return value
    kwargs = {f.name: getattr(value, f.name) for f in fields(value) if f.init}
    return ("dataclass", type(value), {k: dict(v) if isinstance(v, MappingProxyType) else _portable(v)
                                       for k, v in kwargs.items()})


def _restore(value):
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "dataclass":
        return value[1](**{k: _restore(v) for k, v in value[2].items()})
    return value


def _evaluate_part(job):
    model, hardware, efficiency, system, profile, configs, args = job
    from .plan import _safe_eval
    from .profiles import NEUTRAL
    from .setup import CostCache

    profile = NEUTRAL if profile == NEUTRAL else profile  # the closed forms tell "no profile" by identity
    cache = CostCache(_restore(model), _restore(hardware), efficiency, _restore(system), profile=profile)
    return [_safe_eval(cache, config, *args) for config in configs]


def evaluate_in_pool(spec, device, efficiency, configs: list[dict], processes: int, args: tuple,
                     progress=None, system=None, profile=None) -> list[dict]:
    """evaluate_config over ``configs`` on ``processes`` processes; ``args``: (gpus, isl, osl, batches, link,
    comm); ``system``: the devices and links of multi-device workers (None: one device each); ``profile``:
    the serving profile of the costs (None: the efficiency's own, profiles.profile_for)."""
    from .profiles import profile_for

    profile = profile_for(efficiency) if profile is None else profile
    from concurrent.futures import ProcessPoolExecutor

    size = -(-len(configs) // (processes * 4))  # contiguous parts: results keep the configurations' order
    parts = [configs[i:i + size] for i in range(0, len(configs), size)]
    jobs = [(_portable(spec), _portable(device), efficiency, _portable(system), profile, part, args) for part in parts]
    results: list[dict] = []
    with ProcessPoolExecutor(max_workers=processes) as pool:
        for done, part in enumerate(pool.map(_evaluate_part, jobs), 1):
            results.extend(part)
            if progress:
                progress(done, len(jobs))
    return results
