"""Low-rank factorization: a linear layer W (d_in x d_out) replaced by two, A (d_in x r) and B (r x d_out).

ASVD (Yuan et al. 2023, https://arxiv.org/abs/2312.05821) and LASER (Sharma et al. 2023,
https://arxiv.org/abs/2312.13558) keep the top r singular directions of chosen matrices. The factored
layer computes y = (x A) B: FLOPs 2*M*r*(d_in + d_out) instead of 2*M*d_in*d_out, weights
r*(d_in + d_out) instead of d_in*d_out, and the M x r intermediate is written by the first product and
read by the second. It pays off when r < d_in*d_out / (d_in + d_out). Shown as two operators: ``NAME.lr_in``
(d_in -> r) and ``NAME`` (r -> d_out, which keeps the bias and any KV-cache output).

A rank is an integer r >= 1 or a ratio rho in (0, 1) of the full rank: r = max(1, round(rho * min(d_in,
d_out))). A rank at or above the full rank leaves the matrix dense (factoring it would only cost more).
"""

from __future__ import annotations

import math


def rank_for(rank: float, d_in: int, d_out: int) -> int | None:
    """The rank r of a d_in x d_out matrix under the rule ``rank`` (integer or ratio); None when r is at
    least the full rank min(d_in, d_out) (the matrix stays as it is)."""
    full = min(d_in, d_out)
    r = int(rank) if rank >= 1 else max(1, int(math.floor(rank * full + 0.5)))
    return r if r < full else None


def factored_params(r: int, d_in: int, d_out: int) -> int:
    """Weights of the two factors: r * (d_in + d_out)."""
    return r * (d_in + d_out)
