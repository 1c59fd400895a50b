"""The efficiency settings the web face offers, read from the engine (never written twice): the modes
``llm_roofline.analyze`` takes and, for ``calibrated``, the engine profiles of ``--engine``
(``llm_roofline.efficiency.engines``). ``GET /api/meta`` carries them, so the page builds its controls
from what the API accepts."""

from __future__ import annotations

from ..api import EFFICIENCY_MODES
from ..efficiency.engines import DEFAULT_ENGINE, ENGINES


def efficiency_choices() -> dict:
    """``efficiency_modes`` (names), ``default_engine`` and ``engines``: one entry per profile with
    its ``name``, ``kernels`` (whose fitted kernel tables), ``cuda_graphs``, ``launch_overhead_s``
    (host launch cost per kernel, s), ``step_overhead_s`` (host time per engine step, s) and ``notes``."""
    return {
        "efficiency_modes": list(EFFICIENCY_MODES),
        "default_engine": DEFAULT_ENGINE,
        "engines": [{"name": e.name, "kernels": e.kernels, "cuda_graphs": e.cuda_graphs,
                     "launch_overhead_s": e.launch_overhead_s, "step_overhead_s": e.step_overhead_s,
                     "notes": e.notes} for e in ENGINES.values()],
    }
