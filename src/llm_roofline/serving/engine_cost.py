"""The time of serving iterations evaluated by the engine itself: build_ops + roofline, many at once.

An iteration of a worker runs a decode group (n requests, one token each, at KV lengths S_i) and a
prefill group (k chunks of T new tokens at KV length S, the chunk included). EngineCost prices arrays
of iterations with the engine's own tables, so every efficiency setting (ideal, hardware, calibrated:
a curve of each kernel's shape, the engine's launch and step costs) and every deployment (one device's
shard, its collectives) applies exactly as in ``analyze``:
- token-wise operators (projections, norms, MLP and MoE, the collectives after them: those whose cost
  follows the tokens, or only the sequences as lm_head's one row each) run once over all of the
  iteration's tokens: one prefill table of n + k sequences holding n + kT tokens, so a GEMM sees
  M = n + kT rows and reads its weights once; the others (scans that work in chunks of each sequence,
  learned position tables) run per group, as attention does;
- decode attention, the per-sequence operators and the decode-only ones (MLA's absorbed projections): a
  decode table of the n requests at their mean KV length;
- prefill attention, the per-sequence operators and the prefill-only ones (MLA's kv_b_proj): a prefill
  table of k chunks of the group's mean T and S.
time = sum over those rows of count x time (s) + the engine's host time per step (calibrated engines). Under
a serving profile with ``prefill_launch_s`` (profiles.py) an iteration that carries prompt tokens runs
without CUDA graphs: each kernel with work takes max(its time, prefill_launch_s).

A worker of several devices (parallel.Deployment): the tables are those of its most loaded device (the
shard, its batch, its communication rows). With attention DP over a groups the decoders spread evenly
(n / a per group) but a prompt chunk is not split: the loaded group runs max(k / a, min(k, 1)) chunks,
while the experts receive every group's tokens, n + kT (parallel.plan.DevicePlan.moe_group_tokens).

A pipelined worker (pp stages; vLLM V1's batch queue, SGLang and TensorRT-LLM with PP): its running
requests are split into m = clip((n + k) / a, 1, M) micro-batches that hold sequences (M = the
deployment's micro-batches in flight, pp by default), each scheduled with the whole token budget
(scheduler.SchedulerConfig.period_tokens). One iteration here is one period of the pipeline, in which
every micro-batch passes every stage once, so every running request makes one token (or one chunk) per
iteration. Each micro-batch holds n / m decoders; the chunks go k / m to each (the mean micro-batch),
but a chunk is not split: the loaded one holds max(k / m, min(k, 1)). Their tables give the parts of the
model (parallel.pipeline: head, layers, hand-offs H, tail) and, with u the fullest stage,
    occupancy = max(stages + H, m x u) of the mean micro-batch (parallel.pipeline.pipeline_period_s, as
        analyze's decode step):
        every stage serves the m micro-batches once per period, and none passes faster than its round trip;
    heavy = max(stages + H of the loaded micro-batch, occupancy): its own round trip;
    iteration = heavy / m + (m - 1) / m x occupancy: the mean of the micro-batches' periods.
A request alone (m = 1) pays every stage and the pp - 1 hand-offs of its micro-batch over the system's
link; a full pipeline (m = pp) of balanced stages pays pp x u + H for n tokens, i.e. pp micro-batches
of n / pp per period. Approximations: every request of an iteration is charged the micro-batches' mean
period (a lone chunk's request in fact waits its loaded micro-batch's round trip, the others the
occupancy), the micro-batches are equal otherwise (an engine's differ by a request), u is the fullest
stage (an upper bound when pp does not divide L), and the host time per step is
paid once per period (the batch queue overlaps the other micro-batches' scheduling with the GPUs).

Iterations come as the sums of features.py (one key class: W = C = inf, so a group's keys are its KV
lengths); a group is evaluated at its mean shape: mean KV length keys / n, mean chunk tokens / k and
keys / k. Approximations, measured in tests/test_serving_engine_cost.py against exact sums:
- decode attention at the mean KV length instead of the sum over requests: exact whenever a kernel's
  time is linear in its keys (the ideal roofline on one side of its ridge), else the curve's convexity;
- prefill chunks of different lengths at their mean T and S (causal pairs are quadratic in T);
- a sliding window or an attention chunk applied to the mean KV length instead of to each request;
- a whole generation's decode steps (``decode_steps_s``): Gauss-Legendre quadrature with QUADRATURE
  nodes over the tagged request's KV range instead of the sum over every step.
The linear StepCost (step_cost.py) is exact for the ideal and hardware settings on one device; this one
serves the closed forms (steady state, disaggregation, plan) and the simulation (each iteration's own
features, decode_group.py) for every setting.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import DeploymentError
from ..graph import build_ops
from ..hardware.spec import Efficiency, Hardware
from ..models.spec import ModelSpec
from ..parallel.pipeline import part_sums, pipeline_period_s, round_trip_s
from ..roofline import roofline
from ..scenario import Scenario, tiled
from .features import IterationFeatures
from .probes import probe_scenario
from .profiles import NEUTRAL, ServingProfile

QUADRATURE = 3  # Gauss-Legendre nodes over a generation's KV range


@dataclass(frozen=True)
class EngineCost(IterationFeatures):
    """Iteration times from the engine (see the module docstring). ``model``: the whole model; ``shard``:
    one device's part (``model`` on one device); ``plan``: the device's parallel.plan.DevicePlan (None on
    one device); ``attention_dp``: attention-DP groups; ``token_rows`` / ``decode_rows`` / ``prefill_rows``:
    which operators of the token (prefill), decode and prefill tables an iteration runs;
    ``step_overhead_s``: host time per engine step (s); ``profile``: the engine's serving profile
    (profiles.py): its share of the kernels' fixed costs and its eager launches apply here, its request
    overhead in the closed forms and the simulation's frontend (simulate.py), its burst share in the closed
    forms. ``pipeline_stages``: pp; ``micro_batches``: the pipeline's micro-batches
    in flight (1 without stages); ``stage_share``: ceil(L / pp) / L, the fullest stage's layers."""

    model: ModelSpec
    shard: ModelSpec
    hardware: Hardware
    efficiency: Efficiency
    settings: Scenario
    plan: object | None
    attention_dp: int
    token_rows: np.ndarray
    decode_rows: np.ndarray
    prefill_rows: np.ndarray
    step_overhead_s: float = 0.0
    profile: ServingProfile = NEUTRAL
    windows: tuple[float, ...] = (np.inf,)
    chunks: tuple[float, ...] = (np.inf,)
    scan_chunks: tuple[float, ...] = ()
    pipeline_stages: int = 1
    micro_batches: int = 1
    stage_share: float = 1.0

    # --- the engine's tables ------------------------------------------------------------------------
    def _stage_time(self, stage: str, rows: np.ndarray, batch, T, S, group_tokens, eager):
        """sum over ``rows`` of count x time (s) of ``stage``'s table, per iteration; pipelined: per part
        of the model (parallel.pipeline.part_sums, a dict of arrays). In the ``eager`` iterations (those
        with prompt tokens) a kernel with work takes at least the profile's prefill_launch_s (the host
        launches it; no CUDA graph)."""
        scenario = probe_scenario(self.settings, batch)
        plan = None if self.plan is None else replace(self.plan, moe_group_tokens=group_tokens)
        table = build_ops(self.shard, scenario, stage, T=np.asarray(T, dtype=np.float64),
                          S=np.asarray(S, dtype=np.float64), plan=plan)
        if len(table.names) != rows.size:  # the operator list never depends on the sizes
            raise RuntimeError(f"engine cost: {stage} table of {self.shard.name} changed its operators")
        costs = roofline(table, scenario, self.hardware, self.efficiency)
        time = costs.time_s[rows]
        if self.profile.fixed_share < 1.0:  # the engine's fusion and overlap save part of the fixed costs
            time = time - (1.0 - self.profile.fixed_share) * costs.fixed_time_s[rows]
        launch = self.profile.prefill_launch_s
        if launch and eager.any():
            launched = eager[None, :] & (costs.time_s[rows] > 0.0)
            time = np.where(launched, np.maximum(time, launch), time)
        if self.pipeline_stages > 1:
            return part_sums(table, table.counts[rows][:, None] * time, rows)
        return table.counts[rows] @ time

    def iteration_s(self, n, kv_len, k, T, S) -> np.ndarray:
        """Time of iterations (s) of ``n`` decoders at mean KV length ``kv_len`` and ``k`` prefill chunks of
        ``T`` tokens at KV length ``S`` (arrays broadcast; n = 0 or k = 0: that group is absent)."""
        n, kv_len, k, T, S = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.float64))
                                                   for v in (n, kv_len, k, T, S)))
        busy = (n + k) > 0
        if self.pipeline_stages == 1:
            return self._groups(n, kv_len, k, T, S) + self.step_overhead_s * busy
        # m micro-batches (module docstring): the loaded one (n / m decoders, a chunk not split) and the mean
        # one (k / m chunks) side by side in one evaluation
        m = np.clip((n + k) / float(self.attention_dp), 1.0, float(self.micro_batches))
        loaded_k = np.where(k > 0, np.maximum(k / m, np.minimum(k, 1.0)), 0.0)
        size = n.size
        parts = self._groups(np.tile(n / m, 2), np.tile(kv_len, 2), np.concatenate([loaded_k, k / m]),
                             np.tile(T, 2), np.tile(S, 2))
        loaded, mean = ({key: v[:size] for key, v in parts.items()}, {key: v[size:] for key, v in parts.items()})
        occupancy = pipeline_period_s(mean, self.pipeline_stages, self.stage_share, m)
        heavy = np.maximum(round_trip_s(loaded), occupancy)
        return heavy / m + (m - 1.0) / m * occupancy + self.step_overhead_s * busy

    def _groups(self, n, kv_len, k, T, S):
        """The engine's time (s) of ``n`` decoders and ``k`` chunks on the loaded device of a stage (without
        the host time per step): summed over the rows, or per part of the model when pipelined."""
        a = float(self.attention_dp)
        n_dev = n / a
        k_dev = np.where(k > 0, np.maximum(k / a, np.minimum(k, 1.0)), 0.0)
        seqs, tokens, group = n_dev + k_dev, n_dev + k_dev * T, n + k * T
        busy, decoding, prefilling = seqs > 0, n > 0, k > 0
        one = np.ones_like(n)
        per_seq = np.where(busy, tokens / np.where(busy, seqs, 1.0), 1.0)
        groups = [(self._stage_time("prefill", self.token_rows, np.where(busy, seqs, 1.0), per_seq, per_seq,
                                    np.where(busy, group, 1.0), prefilling), busy)]
        if decoding.any():
            groups.append((self._stage_time("decode", self.decode_rows, np.where(decoding, n_dev, 1.0), one,
                                            np.where(decoding, np.maximum(kv_len, 1.0), 1.0), group, prefilling),
                           decoding))
        if prefilling.any():
            Tp = np.where(prefilling, np.maximum(T, 1.0), 1.0)
            groups.append((self._stage_time("prefill", self.prefill_rows, np.where(prefilling, k_dev, 1.0), Tp,
                                            np.where(prefilling, np.maximum(S, Tp), 1.0), group, prefilling),
                           prefilling))
        if self.pipeline_stages > 1:
            return {key: sum(value[key] * mask for value, mask in groups) for key in groups[0][0]}
        return sum(value * mask for value, mask in groups)

    # --- the features interface (steady.py, disagg.py) ------------------------------------------------
    def time_s(self, x: np.ndarray) -> np.ndarray:
        """Iteration time (s) for each column of the feature matrix x (features.py), each group at its mean."""
        x = np.asarray(x, dtype=np.float64)
        x = x[:, None] if x.ndim == 1 else x
        n, keys, tokens, k, chunk_keys = x[0], x[1], x[2], x[3], x[4]
        with np.errstate(invalid="ignore", divide="ignore"):
            kv_len = np.where(n > 0, keys / n, 1.0)
            T = np.where(k > 0, tokens / k, 1.0)
            S = np.where(k > 0, chunk_keys / k, 1.0)
        return self.iteration_s(n, kv_len, k, T, S)

    def one_time_s(self, x: np.ndarray) -> float:
        return float(self.time_s(x)[0])

    def tabulate(self, max_tokens: int) -> EngineCost:
        """Nothing to tabulate: the engine is evaluated at each iteration's own token count."""
        return self

    def decode_quadrature(self, R, P, G, mean_keys):
        """A tagged request's G - 1 decode steps among R decoders (its KV length runs over P+1 .. P+G-1,
        the other R - 1 sit at their mean ``mean_keys`` [1, n]) as QUADRATURE decode-only iterations per
        point (Gauss-Legendre nodes in its KV length on [P + 1/2, P + G - 1/2], each step a unit cell):
        (their features [F, QUADRATURE x n], and the function of their times that gives the steps' time (s))."""
        R, P, G = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (R, P, G)))
        others = np.broadcast_to(np.asarray(mean_keys, dtype=np.float64).reshape(-1), R.shape)
        steps = np.maximum(G - 1.0, 0.0)
        nodes, weights = np.polynomial.legendre.leggauss(QUADRATURE)
        lo, hi = P + 0.5, P + G - 0.5
        own = (lo + hi)[None, :] / 2.0 + (hi - lo)[None, :] / 2.0 * nodes[:, None]  # [q, n]
        keys = (R - 1.0)[None, :] * others[None, :] + own
        x = self.decode_features(np.tile(R, QUADRATURE), keys.ravel())

        def total(times: np.ndarray) -> np.ndarray:
            return steps * ((weights / 2.0) @ np.asarray(times).reshape(QUADRATURE, -1))

        return x, total

    def decode_steps_s(self, R, P, G, mean_keys) -> np.ndarray:
        """Time of a tagged request's G - 1 decode steps (s) among R decoders (``decode_quadrature``)."""
        x, total = self.decode_quadrature(R, P, G, mean_keys)
        return total(self.time_s(x))


def engine_cost(model: ModelSpec, hardware: Hardware, efficiency: Efficiency, settings: Scenario,
                deployment=None, system=None, profile: ServingProfile = NEUTRAL) -> EngineCost:
    """The engine-evaluated iteration cost of ``model`` with the formats of ``settings`` (one scenario; its
    lengths and batch are ignored) on ``hardware``, or on ``deployment`` over ``system`` (one worker),
    under the serving ``profile``."""
    from ..parallel.analysis import check_deployment
    from ..parallel.plan import DevicePlan

    shard, plan, a, pipeline = model, None, 1, {}
    if deployment is not None and not deployment.is_single_device:
        if deployment.dp > 1:
            raise DeploymentError("replicas (dp) inside a serving worker are not modelled: use workers for "
                                  "replicas")
        if deployment.overlap:
            raise DeploymentError("serving workers run their communication serially: overlap is not modelled "
                                  "in serving; leave it off")
        lay, shard = check_deployment(model, system, deployment)
        plan = DevicePlan(layout=lay, vocab_size=model.vocab_size, embedding_width=model.embedding_width,
                          hidden_size=model.hidden_size)
        hardware, a = system.device, deployment.attention_dp
        if deployment.pp > 1:
            pipeline = dict(pipeline_stages=deployment.pp, micro_batches=deployment.pipeline_micro_batches,
                            stage_share=lay.stage_layers / lay.layers)
    settings = replace(tiled(settings, 1), batch_size=np.ones(1))
    one, ones = probe_scenario(settings, np.ones(1)), np.ones(1)
    dec = build_ops(shard, one, "decode", T=ones, S=ones, plan=plan)
    pre = build_ops(shard, one, "prefill", T=ones, S=ones, plan=plan)
    # Two sequences of one token, one of two, two of two: an operator runs once over the whole iteration
    # when its cost follows the tokens (the first two equal) or the sequences (the first and last equal).
    two = 2.0 * ones
    wide = build_ops(shard, probe_scenario(settings, two), "prefill", T=ones, S=ones, plan=plan)
    long = build_ops(shard, one, "prefill", T=two, S=two, plan=plan)
    both = build_ops(shard, probe_scenario(settings, two), "prefill", T=two, S=two, plan=plan)
    dec_index = {name: i for i, name in enumerate(dec.names)}

    def same(a, b, j: int) -> bool:
        return bool(np.allclose(a.flops[j], b.flops[j], rtol=1e-12, atol=0.0)
                    and np.allclose(a.bytes[j], b.bytes[j], rtol=1e-12, atol=0.0))

    def shared(j: int) -> bool:
        i = dec_index.get(pre.names[j])
        return (i is not None and (same(wide, long, j) or same(wide, both, j))
                and "attention" not in (dec.kinds[i], pre.kinds[j])
                and dec.compute[i] == pre.compute[j] and dec.counts[i] == pre.counts[j])

    token_rows = np.array([shared(j) for j in range(len(pre.names))], dtype=bool)
    shared_names = {pre.names[j] for j in np.flatnonzero(token_rows)}
    decode_rows = np.array([name not in shared_names for name in dec.names], dtype=bool)
    return EngineCost(model=model, shard=shard, hardware=hardware, efficiency=efficiency, settings=settings,
                      plan=plan, attention_dp=a, token_rows=token_rows, decode_rows=decode_rows,
                      prefill_rows=~token_rows, step_overhead_s=float(getattr(efficiency, "step_overhead_s", 0.0)),
                      profile=profile, **pipeline)
