"""One call per figure: compute its data with the engine (``data.py``), draw it (``render.py``) and,
given ``output``, save it (the format follows the extension: .png, .svg, .pdf).

    >>> from llm_roofline import plots
    >>> fig = plots.plot_batch_sweep("meta-llama/Llama-2-13b-hf", "nvidia_A6000", w_bits=8, a_bits=8,
    ...                              kv_bits=8, prompt_len=[256, 512, 1024, 2048], output="serving.pdf")

Keyword arguments other than ``output``, ``size`` (inches), ``title`` and ``dpi`` go to the data
function of the same name (``plots.batch_sweep`` etc.); each returns the matplotlib Figure.
"""

from __future__ import annotations

from . import data, render


def _finish(fig, output, dpi):
    if output is not None:
        render.save(fig, str(output), dpi=dpi)
    return fig


def plot_roofline(model, hardware, *, output=None, size=None, title=None, dpi=150, **options):
    """Every operator of prefill and/or decode on the device's roofline (paper Fig. 5, 6)."""
    return _finish(render.draw_roofline(data.roofline(model, hardware, **options), size=size, title=title),
                   output, dpi)


def plot_batch_sweep(model, hardware, *, output=None, size=None, title=None, dpi=150, **options):
    """Latency, throughput and memory against the batch size (paper Fig. 19)."""
    return _finish(render.draw_sweep(data.batch_sweep(model, hardware, **options), size=size, title=title),
                   output, dpi)


def plot_seq_sweep(model, hardware, *, output=None, size=None, title=None, dpi=150, **options):
    """Latency, throughput and memory against the sequence length."""
    return _finish(render.draw_sweep(data.seq_sweep(model, hardware, **options), size=size, title=title),
                   output, dpi)


def plot_quantization(model, hardware, *, output=None, size=None, title=None, dpi=150, **options):
    """Decode / prefill time per weight bit-width and the memory breakdown (paper Fig. 7, 8, 9)."""
    return _finish(render.draw_quantization(data.quantization(model, hardware, **options), size=size,
                                            title=title), output, dpi)


def plot_flash_attention(model, hardware, *, output=None, size=None, title=None, dpi=150, **options):
    """Memory traffic and time with and without FlashAttention (paper Fig. 16)."""
    return _finish(render.draw_flash_attention(data.flash_attention(model, hardware, **options), size=size,
                                               title=title), output, dpi)


def plot_bandwidth(model, hardware, *, output=None, size=None, title=None, dpi=150, **options):
    """Decode time against the memory bandwidth of a hypothetical device (paper Fig. 20)."""
    return _finish(render.draw_bandwidth(data.bandwidth(model, hardware, **options), size=size, title=title),
                   output, dpi)


def plot_hardware(model, devices, *, output=None, size=None, title=None, dpi=150, **options):
    """The same scenario on several devices, as bars (tokens/s per USD with ``prices``)."""
    return _finish(render.draw_hardware(data.hardware_comparison(model, devices, **options), size=size,
                                        title=title), output, dpi)


def plot_breakdown(model, hardware, *, output=None, size=None, title=None, dpi=150, share=False, top=8,
                   **options):
    """Stacked time per operator kind (or operator) for prefill and decode."""
    return _finish(render.draw_breakdown(data.breakdown(model, hardware, **options), size=size, title=title,
                                         share=share, top=top), output, dpi)


def plot_scaling(model, system, *, output=None, size=None, title=None, dpi=150, **options):
    """TPOT, TTFT, tokens/s and memory per device against devices (``scaling``, plots/scaling_figure.py)."""
    from .scaling_figure import draw_scaling, scaling

    return _finish(draw_scaling(scaling(model, system, **options), size=size, title=title), output, dpi)


def plot_pareto(model, hardware, *, output=None, size=None, title=None, dpi=150, **plan):
    """Search deployments (lr.plan keywords) and draw every point and the Pareto front (plots/serving.py)."""
    from ..serving.plan import plan as run_plan
    from .serving import draw_pareto

    return _finish(draw_pareto(run_plan(model, hardware, **plan), size=size, title=title), output, dpi)


def plot_load(model, hardware, *, output=None, size=None, title=None, dpi=150, **options):
    """Latency and throughput against the load (``load_data`` keywords, plots/serving.py)."""
    from .serving import draw_load, load_data

    return _finish(draw_load(load_data(model, hardware, **options), size=size, title=title), output, dpi)
def plot_fusion(model, hardware, *, output=None, size=None, title=None, dpi=150, **options):
    """Operator fusion on the roofline and each stage's time per fusion level (paper Fig. 15)."""
    from .data.optimizations import fusion
    from .render.optimizations import draw_fusion

    return _finish(draw_fusion(fusion(model, hardware, **options), size=size, title=title), output, dpi)


def plot_offload(model, hardware, *, output=None, size=None, title=None, dpi=150, **options):
    """Offloading's three rooflines and TPOT against the offloaded fraction (paper Fig. 17-18)."""
    from .data.optimizations import offload
    from .render.optimizations import draw_offload

    return _finish(draw_offload(offload(model, hardware, **options), size=size, title=title), output, dpi)
