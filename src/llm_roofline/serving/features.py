"""The features of a serving iteration: the decode group and the prefill chunks it runs, as sums.

An iteration is a column of x (rows: features; any number of columns = iterations at once):
    0: decode sequences; 1..nw: per key class (W, C), the sum over them of decode_keys(S_i, W, C);
    then prefill tokens sum_j T_j; chunks; per key class sum_j keys_j, sum_j T_j keys_j, sum_j pairs_j
    (attention.keys_touched / causal_pairs at the class's window W and chunk C); then per scan chunk
    length Q, sum_j ceil(T_j / Q).
Sums, so that groups add: the steady state and the simulation build iterations by adding requests.
Both iteration costs read them: StepCost (step_cost.py, linear in them, exact) and EngineCost
(engine_cost.py, which evaluates the engine at each group's mean shape).
"""

from __future__ import annotations

import numpy as np

from ..attention import causal_pairs, decode_keys, keys_touched


class IterationFeatures:
    """The feature layout of a cost with key classes ``windows`` / ``chunks`` and ``scan_chunks``."""

    windows: tuple[float, ...]
    chunks: tuple[float, ...]
    scan_chunks: tuple[float, ...]

    @property
    def n_features(self) -> int:
        return 3 + 4 * len(self.windows) + len(self.scan_chunks)

    @property
    def i_scan_chunks(self) -> int:
        return 3 + 4 * len(self.windows)

    @property
    def i_prefill_tokens(self) -> int:
        return 1 + len(self.windows)

    def decode_features(self, seqs, kv_sum_by_window) -> np.ndarray:
        """Decode group of ``seqs`` requests; ``kv_sum_by_window`` [nw, n]: sum over them of min(S_i, W)."""
        seqs = np.atleast_1d(np.asarray(seqs, dtype=np.float64))
        x = np.zeros((self.n_features, seqs.size))
        x[0] = seqs
        if self.windows:  # a model without attention (Mamba) has no decode keys
            x[1:1 + len(self.windows)] = np.asarray(kv_sum_by_window, dtype=np.float64).reshape(len(self.windows), -1)
        return x

    def uniform_decode(self, seqs, kv_len) -> np.ndarray:
        """``seqs`` requests, each at KV length ``kv_len`` (arrays broadcast)."""
        seqs, kv_len = np.broadcast_arrays(np.atleast_1d(np.asarray(seqs, dtype=np.float64)),
                                           np.atleast_1d(np.asarray(kv_len, dtype=np.float64)))
        keys = seqs * decode_keys(kv_len, np.array(self.windows)[:, None], np.array(self.chunks)[:, None]) \
            if self.windows else np.zeros((0, seqs.size))
        return self.decode_features(seqs, keys)

    def chunk_features(self, tokens, kv_len, count=1.0) -> np.ndarray:
        """``count`` prefill chunks of ``tokens`` new tokens each, at KV length ``kv_len`` (chunk included)."""
        T, S, c = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.float64))
                                        for v in (tokens, kv_len, count)))
        x = np.zeros((self.n_features, T.size))
        i = self.i_prefill_tokens
        x[i], x[i + 1] = c * T, c
        for k, (w, chunk) in enumerate(zip(self.windows, self.chunks, strict=True)):
            keys = keys_touched(T, S, w, chunk)
            x[i + 2 + 3 * k: i + 5 + 3 * k] = c * keys, c * T * keys, c * causal_pairs(T, S, w, chunk)
        for k, q in enumerate(self.scan_chunks):
            x[self.i_scan_chunks + k] = c * np.ceil(T / q)
        return x
