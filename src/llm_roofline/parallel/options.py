"""The parallelism options every face takes (CLI flags, API keywords, web fields), in one place."""

from __future__ import annotations

from dataclasses import replace

from ..errors import DeploymentError
from ..hardware.system import System
from .choices import default_comm
from .collectives import CommSettings
from .deployment import Deployment


def make_deployment(*, tp=1, pp=1, ep=1, dp=1, attention_dp=1, nodes=None, micro_batches=None, overlap=False,
                    ep_imbalance=1.0, ep_comm="all_to_all", comm=None, comm_library="nccl",
                    allreduce_algorithm="ring", efficiency="ideal") -> Deployment:
    """A Deployment from keyword options. ``comm``: ideal or fitted collectives; None follows the
    efficiency setting (choices.default_comm: ``hardware`` or ``calibrated`` -> fitted, else ideal)."""
    mode = comm if comm is not None else default_comm(efficiency)
    settings = CommSettings(mode=mode, library=comm_library, algorithm=allreduce_algorithm)
    try:
        return Deployment(tp=tp, pp=pp, ep=ep, dp=dp, attention_dp=attention_dp, nodes=nodes,
                          micro_batches=micro_batches, overlap=overlap, ep_imbalance=ep_imbalance, ep_comm=ep_comm,
                          comm=settings)
    except TypeError as exc:  # pragma: no cover - keyword misuse
        raise DeploymentError(str(exc)) from None


def with_device(system: System, device) -> System:
    return system if device is system.device else replace(system, device=device)
