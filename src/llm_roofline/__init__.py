"""llm-roofline: roofline analysis of LLM inference.

    >>> import llm_roofline as lr
    >>> report = lr.analyze("meta-llama/Llama-2-7b-hf", "nvidia_A6000", prompt_len=2048)
    >>> report.decode.total.time_s

The public names load on first use (PEP 562), so ``import llm_roofline.cli`` stays light.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "advise": "techniques.advise",
    "analyze": "api", "analyze_many": "api", "load_hardware": "api", "load_model": "api", "sweep": "api",
    "SweepResult": "api", "ConfigError": "errors", "RooflineError": "errors", "ScenarioError": "errors",
    "UnknownNameError": "errors", "Efficiency": "hardware.spec", "Hardware": "hardware.spec",
    "ModelSpec": "models.spec", "Report": "result",
    "simulate": "serving.api", "estimate_serving": "serving.api", "ServingReport": "serving.api",
    "plan": "serving.plan", "PlanResult": "serving.plan",
    "validate": "validation.api", "ValidationReport": "validation.report",
}
__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'llm_roofline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
