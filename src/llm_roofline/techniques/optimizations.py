"""Optimizations: every compression and system technique of one analysis, as one frozen value.

The defaults switch every technique off, and then the engine's numbers are exactly those without
techniques (tests/test_techniques_off.py). Four settings may differ per scenario (arrays over the
scenario axis, like the scenario's own numbers): ``weight_sparsity``, ``offload_weights``, ``offload_kv`` and
``prefix_len``; the others hold for the whole call. Each technique's formulas live in a module of its
own (docs/techniques.md has one section per technique):

- per-tensor precision (``tensor_formats``; embedding, lm_head, any module group): ``tensors.py``
- unstructured and 2:4 sparsity (``weight_sparsity``, ``sparse_format``, ...): ``pruning.py``
- structured pruning (``prune_layers``, ``prune_heads``, ``prune_intermediate``): ``structured.py``
- low-rank factorization (``low_rank``): ``low_rank.py``
- operator fusion (``fusion``): ``fusion.py``
- FlashAttention as it tiles (``attention``, ``attention_fp8``): ``flash.py``
- offloading (``offload_*``, ``host``, ...): ``offload.py``
- paged KV cache (``kv_allocation``, ``kv_block_size``, ``max_seq_len``) and prefix caching
  (``prefix_len``): ``kv_memory.py``
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

FUSION_LEVELS = ("none", "elementwise", "aggressive")
ATTENTION_KERNELS = ("naive", "ideal", "fa2")
SPARSE_FORMATS = ("dense", "csr", "bitmap", "2:4")
KV_ALLOCATIONS = ("exact", "paged", "contiguous")
OFFLOAD_TARGETS = ("host", "disk")
OFFLOAD_COMPUTE = ("device", "cpu")
# Per-scenario settings (arrays over scenarios, broadcast with the scenario's own arrays).
ARRAY_FIELDS = ("weight_sparsity", "offload_weights", "offload_kv", "prefix_len")


@dataclass(frozen=True)
class Optimizations:
    """What is applied on top of the plain model (all off by default).

    tensor_formats: (module selector, Format) pairs, later pairs win: the weights of the matching
        operators are stored and multiplied in that format instead of the scenario's weights format.
    tensor_sources: for each pair, where it came from ("--embed-bits", "config.json quantization_config").
    weight_sparsity: fraction of zero weights s (0 <= s < 1) in ``sparse_modules``; ``sparse_format`` how the
        pruned matrices are stored and run: dense (zeros stored, dense kernels: nothing changes), csr
        (kept values + ``sparse_index_bits`` per kept value), bitmap (kept values + 1 bit per element),
        2:4 (half the values + 2 bits of metadata per kept value; s is then 0.5);
        ``sparse_efficiency``: fraction of the peak that sparse (csr / bitmap) kernels reach.
    prune_layers / prune_heads / prune_intermediate: structured pruning, fractions removed.
    low_rank: (module selector, rank) pairs; a rank below 1 is a ratio of the full rank min(d_in, d_out).
    fusion: none | elementwise | aggressive.
    attention: naive (scores in memory) | ideal (one read of Q, K, V) | fa2 (FlashAttention-2 tiling,
        Flash-Decoding for decode); attention_fp8: the attention matmuls run on FP8 operands (FA-3).
    offload_weights / offload_kv: fractions held in host memory (or on disk: ``offload_to``) and streamed
        over the host link each step; ``offload_modules``: which weights; ``offload_overlap``: transfers
        overlap compute; ``offload_compute``: the offloaded share runs on the device or on the host CPU
        ``host`` (a Hardware); ``host_memory_bytes``: host capacity (default the host's);
        ``host_bandwidth_bytes_per_s``: the host link, both directions together (default the device's);
        ``disk_bandwidth_bytes_per_s``: read bandwidth of the disk.
    kv_allocation: exact (today's: every cached token, nothing more) | paged (blocks of ``kv_block_size``
        tokens) | contiguous (every sequence reserves ``max_seq_len`` tokens).
    prefix_len: tokens of a prompt prefix shared by the batch and already cached (prefix caching).
    """

    tensor_formats: tuple = ()
    tensor_sources: tuple[str, ...] = ()
    weight_sparsity: np.ndarray = field(default_factory=lambda: np.zeros(1))
    sparse_format: str = "dense"
    sparse_index_bits: int = 16
    sparse_efficiency: float = 1.0
    sparse_modules: tuple[str, ...] = ("layers",)
    prune_layers: float = 0.0
    prune_heads: float = 0.0
    prune_intermediate: float = 0.0
    low_rank: tuple[tuple[str, float], ...] = ()
    fusion: str = "none"
    attention: str = "naive"
    attention_fp8: bool = False
    offload_weights: np.ndarray = field(default_factory=lambda: np.zeros(1))
    offload_kv: np.ndarray = field(default_factory=lambda: np.zeros(1))
    offload_modules: tuple[str, ...] = ("all",)
    offload_to: str = "host"
    offload_overlap: bool = True
    offload_compute: str = "device"
    host: object | None = None
    host_memory_bytes: float | None = None
    host_bandwidth_bytes_per_s: float | None = None
    disk_bandwidth_bytes_per_s: float | None = None
    kv_allocation: str = "exact"
    kv_block_size: int = 16
    max_seq_len: int | None = None
    prefix_len: np.ndarray = field(default_factory=lambda: np.zeros(1))

    # --- what is switched on (the engine skips every step that is off) -------------------------------
    @property
    def sparse(self) -> bool:
        """A sparse format is on (even at sparsity 0: a CSR matrix with every value kept still stores its
        indices, so the bytes never fall as the sparsity rises from 0)."""
        return self.sparse_format != "dense"

    @property
    def structured(self) -> bool:
        return bool(self.prune_layers or self.prune_heads or self.prune_intermediate)

    @property
    def offloads(self) -> bool:
        return bool(np.any(self.offload_weights > 0) or np.any(self.offload_kv > 0))

    @property
    def prefix(self) -> bool:
        return bool(np.any(self.prefix_len > 0))

    @property
    def shapes_weights(self) -> bool:
        """Whether any technique changes how weights are stored or multiplied (tensors.py)."""
        return bool(self.tensor_formats or self.sparse or self.low_rank)

    @property
    def active(self) -> tuple[str, ...]:
        """The names of the techniques switched on, for reports."""
        on = {"precision": bool(self.tensor_formats), "sparsity": self.sparse, "structured": self.structured,
              "low_rank": bool(self.low_rank), "fusion": self.fusion != "none",
              "attention": self.attention == "fa2" or self.attention_fp8, "offload": self.offloads,
              "kv_allocation": self.kv_allocation != "exact", "prefix": self.prefix}
        return tuple(k for k, v in on.items() if v)

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ARRAY_FIELDS}

    def with_arrays(self, arrays: dict[str, np.ndarray]) -> Optimizations:
        return replace(self, **arrays)

    def broadcast(self, n: int) -> Optimizations:
        """The per-tensor formats' bit-widths for n scenarios (they are given as one value)."""
        if not self.tensor_formats:
            return self
        from ..precision import Format

        formats = tuple((sel, Format(np.broadcast_to(f.bits, (n,)).copy(), f.family, *_extra(f)))
                        for sel, f in self.tensor_formats)
        return replace(self, tensor_formats=formats)

    def tiled(self, times: int) -> Optimizations:
        """The same techniques for ``times`` copies of the scenarios (engine.evaluate's decode build)."""
        from ..precision import Format

        formats = tuple((sel, Format(np.tile(f.bits, times), f.family, *_extra(f))) for sel, f in self.tensor_formats)
        return replace(self, tensor_formats=formats, **{k: np.tile(v, times) for k, v in self.arrays().items()})

    def columns(self, part: slice) -> Optimizations:
        """The techniques of the scenarios ``part`` (array fields cut)."""
        from ..precision import Format

        formats = tuple((sel, Format(f.bits[part], f.family, *_extra(f))) for sel, f in self.tensor_formats)
        return replace(self, tensor_formats=formats, **{k: v[part] for k, v in self.arrays().items()})


def _extra(fmt) -> tuple:
    """Format fields past bits and family (named quantized formats carry their storage)."""
    from dataclasses import fields

    return tuple(getattr(fmt, f.name) for f in fields(fmt)[2:])


OFF = Optimizations()
