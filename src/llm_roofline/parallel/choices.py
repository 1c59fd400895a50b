"""The names and defaults of the multi-device options, written once (pure Python: the CLI builds its
flags from them without loading NumPy). The engine (deployment.py, collectives.py, options.py), the
CLI (cli_parallel.py) and the web API (web/schemas.py) all read them from here."""

from __future__ import annotations

DEGREE_AXES = ("tp", "pp", "ep", "dp", "attention_dp")  # degrees of parallelism; sweep axes too
EP_COMM = ("all_to_all", "all_gather")  # how tokens reach the experts under attention DP
MODES = ("ideal", "fitted")  # collectives: nominal alpha-beta, or curves fitted on measured tables
ALGORITHMS = ("ring", "tree", "two_shot", "one_shot", "nvls")  # all-reduce algorithms of the ideal model
LIBRARIES = ("nccl", "trtllm", "vllm", "sglang")  # whose measured all-reduce the fitted curves use
OPTION_DEFAULTS = {"nodes": None, "micro_batches": None, "overlap": False, "ep_imbalance": 1.0,
                   "ep_comm": "all_to_all", "comm": None, "comm_library": "nccl", "allreduce_algorithm": "ring"}


def default_comm(efficiency: object) -> str:
    """The collectives an efficiency setting implies when ``comm`` is not given: the measured (fitted)
    curves with ``hardware`` or ``calibrated`` (those curves are the collectives' calibration), the
    ideal alpha-beta model otherwise."""
    mode = efficiency if isinstance(efficiency, str) else getattr(efficiency, "mode", "")  # a resolved setting
    return "fitted" if mode in ("hardware", "calibrated") else "ideal"
