"""Engine profiles: which fitted kernel family an engine runs, and its host costs.

``kernels``: the kernel tables whose fits apply (``trtllm``, ``vllm``, ``sglang``, or ``pooled``:
one fit over all three engines' rows, a generic well-tuned server). ``cuda_graphs``: decode steps
are replayed from CUDA graphs, so no host launch cost per kernel; otherwise every kernel costs at
least ``launch_overhead_s`` of host time (a kernel takes max(GPU time, host launch time): the
host cannot issue kernels faster than that). ``step_overhead_s``: host work per engine step that
the GPU waits for (scheduling, sampling), added once to the prefill and to every decode step.

Measured: the eager launch cost, 27 us per operator = the median over A100, H100, H200 and B200
of the eager minus CUDA-graph time of SGLang's custom all-reduce for messages <= 64 KiB in the
kernel tables (36, 28, 27, 25 us): one Python-launched operator. Assumptions (no measurement in
the tables, documented in docs/calibration.md): gpt-fast runs PyTorch GEMMs and flash attention
(the vLLM tables measure torch.nn.functional.linear and FlashAttention) from CUDA graphs
(torch.compile, mode "reduce-overhead"); llama.cpp's own kernels are not in the tables, so it
takes the pooled fits, with CUDA graphs (llama.cpp captures decode steps since 2024); a server's
host work per step is overlapped with the GPU (step_overhead_s = 0), as SGLang's overlap scheduler
and vLLM's asynchronous scheduling do.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ScenarioError, close_matches

EAGER_LAUNCH_S = 27e-6


@dataclass(frozen=True)
class EngineProfile:
    """How one inference engine runs the kernels (see the module doc)."""

    name: str
    kernels: str
    cuda_graphs: bool = True
    launch_overhead_s: float = 0.0
    step_overhead_s: float = 0.0
    notes: str = ""


ENGINES: dict[str, EngineProfile] = {e.name: e for e in (
    EngineProfile("generic", "pooled", notes="a well-tuned server: fits pooled over TensorRT-LLM, vLLM and SGLang"),
    EngineProfile("vllm", "vllm", notes="vLLM's kernels (fitted on vLLM 0.24 / 0.14 tables)"),
    EngineProfile("sglang", "sglang", notes="SGLang's kernels (fitted on SGLang 0.5.14 / 0.5.10 tables)"),
    EngineProfile("trtllm", "trtllm", notes="TensorRT-LLM's kernels (fitted on 1.3.0rc20 / 1.0.0 tables)"),
    EngineProfile("gpt-fast", "vllm", notes="assumption: PyTorch GEMMs and flash attention (as measured in the "
                  "vLLM tables) replayed from CUDA graphs"),
    EngineProfile("llama.cpp", "pooled", notes="assumption: llama.cpp's kernels are not in the tables; pooled fits, "
                  "CUDA graphs"),
    EngineProfile("hf-eager", "vllm", cuda_graphs=False, launch_overhead_s=EAGER_LAUNCH_S,
                  notes="PyTorch eager: PyTorch GEMMs and SDPA attention (vLLM tables), 27 us host launch cost "
                        "per operator (measured: eager minus CUDA-graph time in the SGLang tables)"),
)}
DEFAULT_ENGINE = "generic"


def engine_profile(name: str | EngineProfile) -> EngineProfile:
    """An engine by name (``generic`` when None); unknown names suggest close matches."""
    if isinstance(name, EngineProfile):
        return name
    key = (name or DEFAULT_ENGINE).strip().lower()
    if key not in ENGINES:
        near = close_matches(key, ENGINES)
        hint = f"; did you mean: {', '.join(near)}?" if near else ""
        raise ScenarioError(f"unknown engine {name!r}{hint} (engines: {', '.join(ENGINES)})")
    return ENGINES[key]
