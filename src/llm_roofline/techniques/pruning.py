"""Pruned weights: how a matrix with a fraction s of zeros is stored and multiplied.

Unstructured pruning (SparseGPT, Frantar & Alistarh 2023, https://arxiv.org/abs/2301.00774; Wanda, Sun
et al. 2023, https://arxiv.org/abs/2306.11695) zeroes single weights. What that buys depends on the
storage format and the kernel, per stored (dense) element of w bytes:

- ``dense``: zeros stored, dense kernels: w bytes and every multiply-add (nothing changes);
- ``csr``: the kept values and a column index of ``index_bits`` each (compressed sparse rows; 16 bits
  index rows up to 65,536 wide): (1 - s) * (w + index_bits / 8) bytes; the row pointers (one 32-bit
  offset per output row, < 0.1% for rows of a few thousand kept values) are left out;
- ``bitmap``: the kept values and a presence bit per element (as Flash-LLM's tiled bitmap and
  SparTA's formats do): (1 - s) * w + 1/8 bytes.

A sparse kernel (csr, bitmap) performs the (1 - s) share of the multiply-adds that are not zero, at
``sparse_efficiency`` of the device's peak (unstructured sparse kernels reach far less than dense ones
on tensor cores; 1.0, the default, is the ideal roofline, as for dense kernels).

Semi-structured 2:4 (NVIDIA's sparse tensor cores, Mishra et al. 2021, https://arxiv.org/abs/2104.08378):
2 of every 4 weights kept, each with 2 bits of position metadata: 0.5 * w + 0.5 * 2/8 bytes. On a device
with sparse tensor cores (Hardware.sparse_2to4, the datasheet's "with sparsity" rate, twice the dense
one) the kernel performs half the multiply-adds at the dense rate, which is the same time as all of
them at the sparse peak; elsewhere the matrix is expanded and multiplied densely (all multiply-adds).
"""

from __future__ import annotations

import numpy as np

BITMAP_BITS = 1.0  # presence bit per element
META_BITS_2TO4 = 2.0  # position metadata per kept value


def sparse_storage(wb: np.ndarray, s: np.ndarray, fmt: str, index_bits: int) -> np.ndarray:
    """Bytes per dense element of a matrix pruned to sparsity ``s``, stored in ``fmt``, with values of
    ``wb`` bytes (see the module doc)."""
    if fmt == "csr":
        return (1.0 - s) * (wb + index_bits / 8.0)
    if fmt == "bitmap":
        return (1.0 - s) * wb + BITMAP_BITS / 8.0
    if fmt == "2:4":
        return 0.5 * wb + 0.5 * META_BITS_2TO4 / 8.0
    return wb


def sparse_flops_factor(s: np.ndarray, fmt: str, sparse_2to4: bool) -> np.ndarray | float:
    """Share of the dense multiply-adds the kernel performs."""
    if fmt in ("csr", "bitmap"):
        return 1.0 - s
    if fmt == "2:4" and sparse_2to4:
        return np.full_like(np.asarray(s, dtype=np.float64), 0.5)
    return 1.0


def sparse_role(fmt: str) -> str:
    """Role suffix of an operator run by a sparse kernel (its peak is scaled by sparse_efficiency)."""
    return "+sparse" if fmt in ("csr", "bitmap") else ""
