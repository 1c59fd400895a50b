"""llm-roofline: roofline analysis of LLM inference.

    >>> import llm_roofline as lr
    >>> report = lr.analyze("meta-llama/Llama-2-7b-hf", "nvidia_A6000", prompt_len=2048)
    >>> report.decode.total.time_s
"""

from .api import analyze, analyze_many, load_hardware, load_model, sweep
from .errors import ConfigError, RooflineError, ScenarioError, UnknownNameError
from .hardware.spec import Efficiency, Hardware
from .models.spec import ModelSpec
from .result import Report

__all__ = [
    "ConfigError", "Efficiency", "Hardware", "ModelSpec", "Report", "RooflineError", "ScenarioError",
    "UnknownNameError", "analyze", "analyze_many", "load_hardware", "load_model", "sweep",
]
__version__ = "0.1.0"
