"""The time of one serving-engine iteration, read off the engine's own operator tables.

An iteration of a continuous-batching engine (vLLM, SGLang, TRT-LLM in-flight batching) runs two groups:
- decode: requests that add one token each (T = 1) at KV lengths S_i;
- prefill: chunks of T_j new prompt tokens at KV length S_j (the chunk included).
Both groups share every token-wise operator (projections, norms, MLP / MoE, lm_head ...): one kernel per
operator over all the iteration's tokens, its weights read once. Attention runs one kernel per group, and
operators of one stage only (MLA's absorbed projections in decode, kv_b_proj in prefill) run for their group.

Per operator, the FLOPs and the bytes other than weights are linear in these features (W: the operator's
sliding window and C its attention chunk, inf without; keys(T, S, W, C) and pairs(T, S, W, C) from
attention.keys_touched and attention.causal_pairs, and attention.decode_keys(S, W, C) = min(S, W), or
((S - 1) mod C) + 1 with chunks; each distinct (W, C) of the model is a key class):
    decode:  seqs;  per key class: sum_i decode_keys(S_i, W, C)
    prefill: tokens sum_j T_j;  chunks;  per key class: sum_j keys_j, sum_j T_j * keys_j, sum_j pairs_j;
             per scan chunk length Q (gated delta rule, Mamba-2's SSD): sum_j ceil(T_j / Q)
The coefficients are read off ``build_ops`` at probe points (no formula is written twice) and checked to
reproduce every probe. Weight bytes depend on a kernel's token count only (the distinct experts the tokens
route to, the embedding rows read): ``build_ops`` at that count gives them. Then the roofline, per kernel:
time = max(FLOPs / peak, bytes / bandwidth) + launch overhead, summed over kernels x occurrences.
A uniform batch reproduces the engine's prefill and decode-step times exactly (tests/test_serving_step_cost.py).

This module is the one place where serving meets the engine. Two settings of the engine do not fit this
decomposition and are refused with a message rather than approximated:
- ``efficiency="calibrated"``: a kernel's calibrated time is roofline_time / efficiency(shape) + fixed_time,
  and its efficiency is a non-linear curve of the kernel's shape (tokens, keys, waves per SM), so the time
  of an iteration is not a function of these per-kernel FLOP and byte lines (pricing each iteration's
  kernels through the curves would be needed);
- multi-device workers (tensor / expert parallelism inside a worker): their collectives' times are not
  linear in the tokens either (alpha-beta latency terms, fitted curves), and the sharded tables would have
  to be probed per deployment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..errors import DeploymentError, ScenarioError
from ..hardware.spec import Efficiency, Hardware
from ..models.spec import ModelSpec
from ..roofline import op_peaks
from ..scenario import Scenario, tiled
from .features import IterationFeatures
from .probes import (
    WEIGHT_PROBES,
    decode_table,
    fit_prefill,
    prefill_probes,
    prefill_table,
    probe_scenario,
    scan_chunk_sizes,
)

DECODE, PREFILL, SHARED = 0, 1, 2


@dataclass(frozen=True)
class StepCost(IterationFeatures):
    """Iteration time as a function of the batch features (see the module docstring).

    Feature vector x: features.py's layout (decode seqs, decode keys per key class, prefill tokens,
    chunks, (keys, T*keys, pairs) per key class, ceil(T / Q) per scan chunk length Q). ``kernels``: names;
    ``group``: DECODE / PREFILL / SHARED per kernel; ``flops_coef`` / ``bytes_coef`` [K, F] (FLOPs and
    non-weight bytes per unit of each feature); ``peak_flops_per_s`` [K]; ``bandwidth_bytes_per_s``;
    ``counts`` [K] occurrences; ``weight_const`` [K] weight bytes of kernels whose weights do not depend on
    the token count; ``weight_rows``: for the others, (kernel, stage, row of the stage's table).
    """

    model: ModelSpec
    hardware: Hardware
    efficiency: Efficiency
    settings: Scenario
    windows: tuple[float, ...]
    chunks: tuple[float, ...]
    scan_chunks: tuple[float, ...]
    kernels: tuple[str, ...]
    group: np.ndarray
    counts: np.ndarray
    peak_flops_per_s: np.ndarray
    bandwidth_bytes_per_s: float
    flops_coef: np.ndarray
    bytes_coef: np.ndarray
    works: np.ndarray
    weight_const: np.ndarray
    weight_rows: tuple[tuple[int, str, int], ...]
    weight_table: np.ndarray | None = None  # [n_varying, max_tokens + 1], see tabulate
    # One device running the whole model (EngineCost: a deployment's shard, its plan, attention-DP groups).
    plan = None
    attention_dp = 1
    pipeline_stages = 1
    micro_batches = 1
    stage_share = 1.0

    @property
    def shard(self) -> ModelSpec:
        return self.model

    # --- costs ----------------------------------------------------------------------------------------
    @cached_property
    def _fast(self) -> dict:
        """Derived arrays for the hot path (the simulation prices thousands of iterations)."""
        g = self.group
        token_map = np.stack([(g == DECODE) | (g == SHARED), (g == PREFILL) | (g == SHARED)], axis=1).astype(float)
        return {"token_map": token_map, "token_rows": [0, self.i_prefill_tokens],
                "compute": self.flops_coef / self.peak_flops_per_s[:, None],
                "memory": self.bytes_coef / self.bandwidth_bytes_per_s,
                "weights": self.weight_const[:, None] / self.bandwidth_bytes_per_s,
                "varying": np.array([k for k, _, _ in self.weight_rows], dtype=np.intp),
                "rows": np.arange(len(self.weight_rows))[:, None],
                "both": np.vstack([self.flops_coef / self.peak_flops_per_s[:, None],
                                   self.bytes_coef / self.bandwidth_bytes_per_s]),
                "keyed": np.flatnonzero(self._keyed_mask()),
                "key_column": self._key_column()}

    def _keyed_mask(self) -> np.ndarray:
        nw = len(self.windows)
        return (np.abs(self.flops_coef[:, 1:1 + nw]) + np.abs(self.bytes_coef[:, 1:1 + nw])).sum(1) > 0

    def _key_column(self) -> np.ndarray:
        """Index (into windows) of the decode-key feature each keyed kernel uses."""
        nw = len(self.windows)
        cols = np.abs(self.flops_coef[:, 1:1 + nw]) + np.abs(self.bytes_coef[:, 1:1 + nw])
        keyed = np.flatnonzero(cols.sum(1) > 0)
        return cols[keyed].argmax(axis=1) if nw else np.zeros(0, dtype=np.intp)

    def kernel_tokens(self, x: np.ndarray) -> np.ndarray:
        """Tokens each kernel processes [K, n]: its group's, or both groups' for shared kernels."""
        return self._fast["token_map"] @ x[self._fast["token_rows"]]

    def weight_bytes(self, tokens: np.ndarray) -> np.ndarray:
        """Weight bytes each kernel reads [K, n] given its tokens (``kernel_tokens``); 0 where it does not run."""
        out = self.weight_const[:, None] * (tokens > 0)
        if self.weight_rows:
            varying = self._fast["varying"]
            out[varying] = self._varying_weights(tokens[varying])
        return out

    def _varying_weights(self, tm: np.ndarray) -> np.ndarray:
        table = self.weight_table
        if table is not None and tm.max(initial=0) <= table.shape[1] - 1:
            low = np.floor(tm).astype(np.intp)
            exact = table[self._fast["rows"], low]
            if np.array_equal(tm, low):
                return exact
            # a mean batch between two integers: linear between the engine's values at both (exact for the
            # embedding rows, within a part in 1e6 for the smooth, concave distinct-expert count)
            high = np.minimum(low + 1, table.shape[1] - 1)
            return exact + (tm - low) * (table[self._fast["rows"], high] - exact)
        values = np.unique(tm)
        sources = {"decode": decode_table(self.model, self.settings, values, 1.0).weight_bytes,
                   "prefill": prefill_table(self.model, self.settings, np.ones(values.size), values,
                                             values).weight_bytes}
        out = np.empty_like(tm)
        for j, (_, stage, row) in enumerate(self.weight_rows):
            out[j] = np.where(tm[j] > 0, sources[stage][row][np.searchsorted(values, tm[j])], 0.0)
        return out

    def tabulate(self, max_tokens: int) -> StepCost:
        """The same cost with the token-dependent weight bytes tabulated for 0..max_tokens tokens (the
        discrete-event simulation looks them up instead of rebuilding operator tables)."""
        if not self.weight_rows or (self.weight_table is not None and self.weight_table.shape[1] > max_tokens):
            return self
        m = np.arange(max_tokens + 1, dtype=np.float64)
        sources = {"decode": decode_table(self.model, self.settings, m, 1.0).weight_bytes,
                   "prefill": prefill_table(self.model, self.settings, np.ones(m.size), m, m).weight_bytes}
        table = np.stack([sources[stage][row] for _, stage, row in self.weight_rows])
        table[:, 0] = 0.0  # no tokens: the kernel does not run
        return replace(self, weight_table=table)

    def kernel_parts(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per kernel and column of x [K, n]: compute time FLOPs / peak, memory time bytes / bandwidth, and
        the launch overhead (s; 0 where the kernel's group is absent)."""
        fast = self._fast
        x = np.asarray(x, dtype=np.float64)
        x = x[:, None] if x.ndim == 1 else x
        tokens = self.kernel_tokens(x)
        compute = fast["compute"] @ x
        memory = fast["memory"] @ x
        if self.weight_rows:
            memory += self.weight_bytes(tokens) / self.bandwidth_bytes_per_s
        else:
            memory += fast["weights"] * (tokens > 0)
        overhead = 0.0 * compute
        if self.efficiency.kernel_overhead_s:
            overhead = np.where((tokens > 0) & self.works[:, None], self.efficiency.kernel_overhead_s, 0.0)
        return compute, memory, overhead

    def kernel_times(self, x: np.ndarray) -> np.ndarray:
        """Time of one occurrence of each kernel [K, n] (s): max(FLOPs / peak, bytes / bandwidth) + overhead."""
        compute, memory, overhead = self.kernel_parts(x)
        return np.maximum(compute, memory) + overhead

    def time_s(self, x: np.ndarray) -> np.ndarray:
        """Iteration time (s) for each column of the feature matrix x."""
        return self.counts @ self.kernel_times(x)

    def one_time_s(self, x: np.ndarray) -> float:
        """``time_s`` of a single iteration (x: 1-D features), with as few array operations as possible."""
        fast = self._fast
        both = fast["both"] @ x
        tokens = fast["token_map"] @ x[fast["token_rows"]]
        runs = tokens > 0
        weights = fast["weights"][:, 0] * runs
        if self.weight_rows:
            table, varying = self.weight_table, fast["varying"]
            idx = tokens[varying].astype(np.intp)
            if table is not None and idx.max() < table.shape[1]:
                weights[varying] = table[fast["rows"][:, 0], idx] / self.bandwidth_bytes_per_s
            else:
                weights[varying] = self._varying_weights(tokens[varying][:, None])[:, 0] / self.bandwidth_bytes_per_s
        k = len(self.kernels)
        time = np.maximum(both[:k], both[k:] + weights)
        if self.efficiency.kernel_overhead_s:
            time += (runs & self.works) * self.efficiency.kernel_overhead_s
        return float(self.counts @ time)

    def key_slopes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The kernels whose time grows with the decode keys (attention): their indices [k], compute and
        memory time per key (s) [k], and the window W and chunk C of the keys they see [k]."""
        fast = self._fast
        keyed, column = fast["keyed"], fast["key_column"]
        return (keyed, fast["compute"][keyed, 1 + column], fast["memory"][keyed, 1 + column],
                np.array(self.windows)[column] if column.size else np.zeros(0),
                np.array(self.chunks)[column] if column.size else np.zeros(0))

    def decode_lines(self, seqs: int) -> tuple:
        """Decode-only iterations of ``seqs`` requests as lines in their keys: (time of the kernels that do
        not depend on the keys (s), the keyed kernels' indices, their window column, and their compute and
        memory time at zero keys and per key). The simulation prices decode-only stretches from these."""
        x = np.zeros(self.n_features)
        x[0] = seqs
        compute, memory, overhead = (v[:, 0] for v in self.kernel_parts(x))
        keyed, per_key_c, per_key_m, _, _ = self.key_slopes()
        window = self._fast["key_column"]
        flat = np.ones(len(self.kernels), dtype=bool)
        flat[keyed] = False
        const = float(self.counts[flat] @ (np.maximum(compute, memory) + overhead)[flat])
        return const, keyed, window, compute[keyed], per_key_c, memory[keyed], per_key_m, overhead[keyed], \
            self.counts[keyed]


def step_cost(model: ModelSpec, hardware: Hardware, efficiency: Efficiency, settings: Scenario,
              deployment: object = None) -> StepCost:
    """Build the iteration-cost model of ``model`` on ``hardware`` with the formats and options of
    ``settings`` (a one-scenario Scenario; its lengths and batch are ignored). One device per worker, the
    ideal or hardware efficiency (see the module docstring for why not calibrated or several devices)."""
    if deployment is not None:
        raise DeploymentError("serving models one device per worker: multi-device workers (tp, ep, pp inside a "
                              "worker) are not part of the serving model; use workers / prefill_workers / "
                              "decode_workers of one device each")
    if getattr(efficiency, "mode", "") == "calibrated":
        raise ScenarioError("efficiency: serving prices iterations from per-kernel FLOP and byte lines, which "
                            "calibrated kernel curves (non-linear in each kernel's shape) do not fit; use "
                            "efficiency ideal or hardware for serve-sim and plan")
    settings = replace(tiled(settings, 1), batch_size=np.ones(1))
    dec = decode_table(model, settings, np.ones(2), np.array([0.0, 1.0]), apply_window=False)
    B, T, S = prefill_probes(sorted({w for w in np.concatenate([dec.kv_window, dec.kv_chunk]) if np.isfinite(w)}))
    pre = prefill_table(model, settings, B, T, S)
    scans = scan_chunk_sizes(model)
    pre_coef = fit_prefill(pre, B, T, S, scans)
    dec_q = np.stack([dec.flops, dec.bytes - dec.weight_bytes], axis=1)  # [n_ops, 2, 2 (S=0, S=1)]
    dec_slope = dec_q[..., 1] - dec_q[..., 0]
    dec_class = list(zip(dec.kv_window.tolist(), dec.kv_chunk.tolist(), strict=True))
    pre_class = list(zip(pre.kv_window.tolist(), pre.kv_chunk.tolist(), strict=True))
    classes = sorted({c for i, c in enumerate(dec_class) if dec_slope[i].any()}
                     | {c for j, c in enumerate(pre_class) if pre_coef[j, :, 2:5].any()})
    col = {c: k for k, c in enumerate(classes)}
    nw = len(classes)
    n_feat = 3 + 4 * nw + len(scans)
    i_tok = 1 + nw

    w_dec = decode_table(model, settings, WEIGHT_PROBES, 1.0).weight_bytes
    w_pre = prefill_table(model, settings, np.ones(WEIGHT_PROBES.size), WEIGHT_PROBES, WEIGHT_PROBES).weight_bytes
    dec_scn, pre_scn = probe_scenario(settings, np.ones(1)), probe_scenario(settings, np.ones(1))
    dec_peak = op_peaks(decode_table(model, settings, np.ones(1), 1.0), dec_scn, hardware, efficiency)[:, 0]
    pre_peak = op_peaks(prefill_table(model, settings, np.ones(1), [1.0], [1.0]), pre_scn, hardware, efficiency)[:, 0]
    dec_works = (dec.flops > 0).any(1) | (dec.bytes > 0).any(1)
    pre_works = (pre.flops > 0).any(1) | (pre.bytes > 0).any(1)

    pre_index = {name: i for i, name in enumerate(pre.names)}
    kernels, group, counts, peaks, works, fcoef, bcoef, wconst, wrows = [], [], [], [], [], [], [], [], []
    shared_pre: set[int] = set()

    def decode_row(i):
        rows = np.zeros((2, n_feat))
        rows[:, 0] = dec_q[i, :, 0]
        if dec_slope[i].any():
            rows[:, 1 + col[dec_class[i]]] = dec_slope[i]
        return rows

    def prefill_row(j):
        rows = np.zeros((2, n_feat))
        rows[:, i_tok], rows[:, i_tok + 1] = pre_coef[j, :, 0], pre_coef[j, :, 1]
        if pre_coef[j, :, 2:5].any():
            k = col[pre_class[j]]
            rows[:, i_tok + 2 + 3 * k: i_tok + 5 + 3 * k] = pre_coef[j, :, 2:5]
        rows[:, 3 + 4 * nw:] = pre_coef[j, :, 5:]
        return rows

    def add(name, grp, count, peak, work, rows, w_values, stage, row):
        kernels.append(name)
        group.append(grp)
        counts.append(count)
        peaks.append(peak)
        works.append(work)
        fcoef.append(rows[0])
        bcoef.append(rows[1])
        varying = not np.allclose(w_values, w_values[0], rtol=1e-12, atol=0.0)
        wconst.append(0.0 if varying else w_values[0])
        if varying:
            wrows.append((len(kernels) - 1, stage, row))

    for i, name in enumerate(dec.names):
        j = pre_index.get(name)
        shared = (j is not None and dec.kinds[i] != "attention" and pre.kinds[j] != "attention"
                  and dec.compute[i] == pre.compute[j] and dec.counts[i] == pre.counts[j]
                  and dec_peak[i] == pre_peak[j] and np.array_equal(w_dec[i], w_pre[j]))
        if shared:
            shared_pre.add(j)
            add(name, SHARED, dec.counts[i], dec_peak[i], dec_works[i] or pre_works[j],
                decode_row(i) + prefill_row(j), w_dec[i], "decode", i)
        else:
            add(f"decode/{name}", DECODE, dec.counts[i], dec_peak[i], dec_works[i], decode_row(i), w_dec[i],
                "decode", i)
    for j, name in enumerate(pre.names):
        if j not in shared_pre:
            add(f"prefill/{name}", PREFILL, pre.counts[j], pre_peak[j], pre_works[j], prefill_row(j), w_pre[j],
                "prefill", j)
    return StepCost(
        model=model, hardware=hardware, efficiency=efficiency, settings=settings,
        windows=tuple(w for w, _ in classes), chunks=tuple(c for _, c in classes), scan_chunks=scans,
        kernels=tuple(kernels), group=np.array(group, dtype=np.intp), counts=np.array(counts, dtype=np.float64),
        peak_flops_per_s=np.array(peaks), bandwidth_bytes_per_s=hardware.memory_bandwidth_bytes_per_s
        * efficiency.bandwidth_fraction, flops_coef=np.array(fcoef), bytes_coef=np.array(bcoef),
        works=np.array(works, dtype=bool), weight_const=np.array(wconst), weight_rows=tuple(wrows))
