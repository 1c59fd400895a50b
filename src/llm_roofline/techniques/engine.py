"""The engine with fast-decoding techniques: the same pipe (build_ops -> roofline -> totals), with each
technique a transform on the way.

- KV eviction: the decode model's attention layers windowed at the budget (kv_eviction.evicted_model), and
  prefill too for StreamingLLM; H2O's / SnapKV's own operators joined to their stage.
- early exit, contextual sparsity: OpTable -> OpTable transforms of every decode-step table.
- speculative decoding, lookahead, Jacobi: generation-level. Per iteration, the draft passes (a draft
  table per pass width) and one verify step of the target at T = verify_tokens (lm_head on every token);
  the generation is G / E iterations at KV lengths growing by E, summed exactly per operator
  (iteration.py). TTFT adds the draft network's prefill, memory its weights and KV cache and the tokens
  being verified. The one-token decode step (with the other techniques) stays in ``Analysis.decode`` and
  gives the speed-up of the iteration over it.
Builds: the target's prefill; the target's decode steps (one-token and verify, every KV length the sums
need) in one build; the draft's passes (and, for attention-only drafts, its prefill) in one more.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from ..cache import cache_elements_per_token, cache_window
from ..engine import Analysis, _params
from ..graph import build_ops
from ..hardware.spec import Efficiency, Hardware
from ..models.spec import Attention, ModelSpec
from ..ops import OpTable
from ..precision import storage_bytes
from ..report import Generation, StageTotals, generation, memory, op_sum, stage_totals
from ..roofline import OpCosts, roofline
from ..scenario import Scenario
from .columns import Columns
from .device_draft import device_drafter
from .drafters import Drafter
from .early_exit import apply_early_exit
from .graph_options import graph_options
from .iteration import AffineStep, iteration_overhead, iteration_sum, passes_sum
from .kv_eviction import evicted_model, eviction_ops, untouched_layers
from .placement import with_extra as _with_extra
from .settings import Techniques
from .sparsity import apply_sparsity
from .structured import prune_model
from .tables import concat
from .transform import transform_table


@dataclass(frozen=True)
class SpeculativeResult:
    """One iteration at the reported KV length and the generation's totals (arrays over scenarios).

    verify / draft: the verify step (T = verify_tokens, KV length kv_len) and one draft pass (the widest,
    at kv_len + 1) on the roofline (draft None without a draft network); draft_time_s: all draft passes of
    one iteration at kv_len (s); verify_time_s; iteration_time_s = draft + verify; time_per_token_s =
    iteration_time_s / E; tokens_per_iteration E; one_token_tpot_s: TPOT of one-token decoding (the other
    techniques as set), speedup = one_token_tpot_s / tpot_s; draft_decode_s: the generation's draft time;
    draft_prefill_s: the draft network's prefill (in TTFT); draft_weights_bytes, draft_kv_cache_bytes."""

    verify: OpCosts
    draft: OpCosts | None
    draft_tokens: int
    draft_time_s: np.ndarray
    verify_time_s: np.ndarray
    iteration_time_s: np.ndarray
    time_per_token_s: np.ndarray
    tokens_per_iteration: float
    verify_tokens: int
    one_token_tpot_s: np.ndarray
    speedup: np.ndarray
    draft_decode_s: np.ndarray
    draft_prefill_s: np.ndarray
    draft_weights_bytes: np.ndarray
    draft_kv_cache_bytes: np.ndarray

    batch_size: np.ndarray

    @cached_property
    def verify_total(self) -> StageTotals:
        """The verify step's totals (computed when first asked for: a report needs them, a sweep not)."""
        return stage_totals(self.verify, self.batch_size * self.verify_tokens)

    @cached_property
    def draft_total(self) -> StageTotals | None:
        return None if self.draft is None else stage_totals(self.draft, self.batch_size * self.draft_tokens)


@dataclass(frozen=True)
class TechniqueResult:
    """The techniques' settings, one note per assumption, and with speculative decoding its iteration and
    the generation decoded one token per step (the other techniques as set), for comparison."""

    settings: Techniques
    notes: tuple[str, ...]
    speculative: SpeculativeResult | None
    one_token_generation: Generation | None


def _window_span(model: ModelSpec | None) -> float:
    """The largest finite sliding window of the model (0 without one)."""
    if model is None:
        return 0.0
    finite = [w for w in (cache_window(g.layer.mixer) for g in model.layer_groups) if np.isfinite(w)]
    return max(finite, default=0.0)


def _add_step(cols: Columns, name: str, T: float, S_report, span: float, logits: bool = False,
              report: bool = True) -> None:
    """A T-token step's columns: at the reported KV length (windows applied; ``report``), at 0 and 1
    (windows ignored: the affine coefficients) and past every window (only with one)."""
    if report:
        cols.add(name, T, S_report, True, logits)
    cols.add(name + "@0", T, 0.0, False, logits)
    cols.add(name + "@1", T, 1.0, False, logits)
    if span:
        cols.add(name + "@big", T, span + T + 1.0, True, logits)


def _affine(cols: Columns, costs: OpCosts, name: str) -> AffineStep:
    big = cols.at(name + "@big") if name + "@big" in cols.names else None
    return AffineStep.from_columns(costs, cols.at(name + "@0"), cols.at(name + "@1"), big)


def _transformed(table: OpTable, tech: Techniques, model: ModelSpec, decode_model: ModelSpec,
                 cols: Columns) -> OpTable:
    """The decode-step transforms of ``tech`` on a table built over ``cols``."""
    sc, T, S, apply = cols.scenario, cols.T, cols.S, cols.apply
    if tech.kv_eviction is not None:
        table = concat(table, eviction_ops(decode_model, tech.kv_eviction, sc, "decode", T, S, apply))
    if tech.early_exit is not None:
        table = apply_early_exit(table, tech.early_exit, model, sc, T, S)
    if tech.sparsity is not None:
        table = apply_sparsity(table, tech.sparsity, model, sc, T, S)
    return table


def _stage_free(model: ModelSpec) -> bool:
    """Standard attention only: the prefill's operators are those of a decode-stage step of T = S = P
    (only MLA, DSA and the recurrent mixers cost the two stages differently)."""
    return all(isinstance(g.layer.mixer, Attention) for g in model.layer_groups)


def evaluate_techniques(model: ModelSpec, hardware: Hardware, scenario: Scenario, efficiency: Efficiency,
                        tech: Techniques, *, plan=None) -> Analysis:
    """The analysis with ``tech`` on one device, or (``plan``) on one device of a deployment: ``model`` is
    then its shard, every build carries the plan's communication (the verify step's at T = verify_tokens
    per sequence) and the draft runs on the same devices (device_draft.py)."""
    sc = scenario
    opt = sc.optimizations
    calibrated = efficiency if getattr(efficiency, "mode", "") == "calibrated" else None
    params_before = None
    if opt.structured:  # the target is pruned first; everything below runs on the smaller model
        params_before = _params(model)
        model = prune_model(model, opt)
    ev, spec = tech.kv_eviction, tech.speculative
    decode_model = evicted_model(model, ev) if ev is not None else model
    prefill_model = decode_model if ev is not None and ev.prefill_windowed else model
    transforms = ev is not None or tech.early_exit is not None or tech.sparsity is not None
    # Without table transforms, an attention-only target's prefill joins the decode build (same operators;
    # not with a cached prefix or an attention plan, which build the stages differently: FA-2 vs
    # Flash-Decoding, paged reads; per-tensor formats, sparsity, low rank, fusion, offloading act alike).
    fold_prefill = (not transforms and _stage_free(model) and not opt.prefix and opt.attention != "fa2"
                    and not opt.attention_fp8 and opt.kv_allocation == "exact")
    drafter = device_drafter(spec, model, plan) if spec is not None else None
    if drafter is not None and opt.active:  # the optimizations reach the target only: the draft builds its own
        drafter = replace(drafter, own_build=True)
    new_tokens = sc.prompt_len - opt.prefix_len if opt.prefix else sc.prompt_len  # a cached prefix: no prefill
    cols = Columns(sc)
    if fold_prefill:
        cols.add("prefill", sc.prompt_len, sc.prompt_len, True, sc.logits_all)
    cols.add("decode", 1.0, sc.kv_len, True)
    cols.add("decode@0", 1.0, 0.0, False)
    cols.add("decode@1", 1.0, 1.0, False)
    if spec is not None:
        span = _window_span(decode_model)
        _add_step(cols, "verify", spec.verify_tokens, sc.kv_len, span, logits=True)
        if drafter.derivable:  # the draft head's passes: the target's layer at the passes' widths
            widths = sorted(set(spec.draft_passes()))
            for T in widths:
                _add_step(cols, f"pass{T}", T, sc.kv_len + 1.0, span, report=T == widths[-1])
    table = build_ops(decode_model, cols.scenario, "decode", T=cols.T, S=cols.S, apply_window=cols.apply,
                      all_logits=cols.logits, plan=plan,
                      options=graph_options(decode_model, hardware, cols.scenario, "decode"))
    if transforms:
        table = _transformed(table, tech, model, decode_model, cols)
    table = transform_table(table, decode_model, cols.scenario)  # fusion, offloading (after the techniques')
    costs = roofline(table, cols.scenario, hardware, efficiency)
    decode, at0, at1 = (cols.part(costs, k, shapes=calibrated is not None) for k in ("decode", "decode@0", "decode@1"))
    if fold_prefill:
        prefill = cols.part(costs, "prefill")
    else:
        pre_table = build_ops(prefill_model, sc, "prefill", T=new_tokens, S=sc.prompt_len, plan=plan,
                              options=graph_options(prefill_model, hardware, sc, "prefill"))
        if ev is not None:
            pre_table = concat(pre_table, eviction_ops(decode_model, ev, sc, "prefill", new_tokens, sc.prompt_len))
        prefill = roofline(transform_table(pre_table, prefill_model, sc), sc, hardware, efficiency)
    prefill_total = stage_totals(prefill, sc.batch_size * new_tokens)
    gen = generation(prefill_total.time_s, at0, at1, sc.prompt_len, sc.gen_len, sc.batch_size,
                     efficiency.kernel_overhead_s, calibrated=calibrated, scenario=sc)
    mem = memory(decode_model, sc, prefill, at0, at1, hardware)
    extra_weights = _decode_only_weights(decode.table, prefill.table)
    notes = list(tech.describe())
    if ev is not None and untouched_layers(model):
        notes.append(f"KV eviction leaves the cache of {untouched_layers(model)} non-attention layers as it is")
    spec_result, one_token = None, None
    if spec is not None:
        one_token = gen
        spec_result, gen, added = _speculative(spec, drafter, decode_model, sc, hardware, efficiency, cols, table,
                                               costs, prefill, prefill_total, one_token)
        mem = _with_extra(mem, added[0] + extra_weights, added[1], added[2], sc)
        notes.append(_spec_note(spec, decode_model))
    elif np.any(extra_weights):
        mem = _with_extra(mem, extra_weights, 0.0, 0.0, sc)
    table = prefill.table
    return Analysis(
        model=model, hardware=hardware, scenario=sc, efficiency=efficiency, prefill=prefill, decode=decode,
        decode_at0=at0, decode_at1=at1, prefill_total=prefill_total,
        decode_total=stage_totals(decode, sc.batch_size), generation=gen, memory=mem,
        params_total=float((table.params * table.counts).sum()),
        params_active=float((table.active_params * table.counts).sum()), params_before_pruning=params_before,
        techniques=TechniqueResult(settings=tech, notes=tuple(notes), speculative=spec_result,
                                   one_token_generation=one_token))


def _spec_note(spec, model: ModelSpec) -> str:
    note = (f"speculative: {spec.tokens_per_iteration:.3g} tokens kept per iteration on average (an input, not "
            "computed: it depends on the model pair, the task and the sampling); the KV length grows by that "
            "much per iteration")
    if spec.tree:
        note += "; the tree's verify step is costed as a causal block of its nodes"
    if any(np.isfinite(g.layer.mixer.attention_chunk or np.inf) for g in model.layer_groups
           if isinstance(g.layer.mixer, Attention)):
        note += "; chunked-attention layers are summed per token and divided by E"
    return note


def _table_columns(table: OpTable, sl: slice) -> OpTable:
    """The table restricted to the scenario columns ``sl``."""
    from ..engine import _columns

    return _columns(table, sl, table.flops.shape[1])


def _calibrated_sum(cols: Columns, costs: OpCosts, name: str, sc: Scenario, efficiency, first, steps) -> np.ndarray:
    """Per-operator sum of a step's calibrated time over ``steps`` consecutive KV lengths from ``first``
    (efficiency/steps.py: quadrature over the smooth curves), [n_ops, n]."""
    from ..efficiency.steps import decode_step_sums

    at0, at1 = cols.part(costs, name + "@0", shapes=True), cols.part(costs, name + "@1", shapes=True)
    first = np.asarray(first, dtype=np.float64) * np.ones(sc.size)
    return decode_step_sums(at0, at1, sc, efficiency, first, first + np.asarray(steps, dtype=np.float64) - 1.0)


def _decode_only_weights(decode_table: OpTable, prefill_table: OpTable) -> np.ndarray:
    """Parameters of operators only the decode step has (predictors, exit classifiers), in bytes."""
    names = set(prefill_table.names)
    own = np.array([name not in names for name in decode_table.names])
    if not own.any():
        return np.zeros(decode_table.flops.shape[1])
    return op_sum(decode_table.param_bytes[own] * decode_table.counts[own][:, None])


def _speculative(spec, drafter: Drafter, decode_model: ModelSpec, sc: Scenario, hardware: Hardware,
                 efficiency: Efficiency, cols: Columns, table: OpTable, costs: OpCosts, prefill: OpCosts,
                 prefill_total: StageTotals, one_token: Generation):
    """The iteration's generation, report and what it adds to memory (weights, KV, activation floor)."""
    P, G, B = sc.prompt_len, sc.gen_len, sc.batch_size
    E, Tv = spec.tokens_per_iteration, spec.verify_tokens
    iterations = G / E
    overhead = efficiency.kernel_overhead_s
    calibrated = efficiency if getattr(efficiency, "mode", "") == "calibrated" else None
    verify, vstep = cols.part(costs, "verify"), _affine(cols, costs, "verify")
    if calibrated is None:
        verify_per_op = iteration_sum(vstep, P + Tv, E, iterations)
    else:  # smooth calibrated curves: the per-token sum of the step's time (quadrature) over E
        verify_per_op = _calibrated_sum(cols, costs, "verify", sc, calibrated, P + Tv, G) / E
    if overhead:
        verify_per_op = verify_per_op + iteration_overhead(vstep, overhead, iterations)
    verify_time = op_sum(verify.time_s * verify.table.counts[:, None]) + verify.step_overhead_s

    draft = _draft(drafter, spec, sc, hardware, efficiency, iterations, cols, table, prefill)
    decode_s = op_sum(verify_per_op * vstep.counts[:, None]) + draft["decode"]
    # the engine's host time per forward pass (calibrated; 0 otherwise): the verify step and each draft pass
    steps_per_iteration = 1 + len(spec.draft_passes())
    decode_s = decode_s + verify.step_overhead_s * steps_per_iteration * iterations
    ttft = prefill_total.time_s + draft["prefill"]
    e2e = ttft + decode_s
    has_steps = G > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = np.where(has_steps, decode_s / G, np.nan)
        throughput = np.where(has_steps, B * G / e2e, np.nan)
        speedup = np.where(has_steps, one_token.tpot_s / tpot, np.nan)
    gen = Generation(ttft_s=ttft, decode_s=decode_s, decode_s_per_op=verify_per_op, tpot_s=tpot, e2e_s=e2e,
                     throughput_tokens_per_s=throughput)
    iteration_now = draft["now"] + verify_time
    result = SpeculativeResult(
        verify=verify, draft=draft["costs"], batch_size=B,
        draft_tokens=draft["tokens"], draft_time_s=draft["now"], verify_time_s=verify_time,
        iteration_time_s=iteration_now, time_per_token_s=iteration_now / E, tokens_per_iteration=E,
        verify_tokens=Tv, one_token_tpot_s=one_token.tpot_s, speedup=speedup, draft_decode_s=draft["decode"],
        draft_prefill_s=draft["prefill"], draft_weights_bytes=draft["weights"], draft_kv_cache_bytes=draft["kv"])
    # The tokens being verified sit in the target's cache while they are checked.
    kb = storage_bytes(sc.kv_cache.bits, sc.group_size, sc.scale_bits)
    per_token = sum(g.count * cache_elements_per_token(g.layer.mixer) for g in decode_model.layer_groups) * kb
    act_floor = np.maximum(verify.table.activation_bytes.max(0), draft["activations"])
    return result, gen, (draft["weights"], draft["kv"] + B * Tv * per_token, act_floor)


def _draft(drafter: Drafter, spec, sc: Scenario, hardware: Hardware, efficiency: Efficiency,
           iterations: np.ndarray, target_cols: Columns, target_table: OpTable, target_prefill: OpCosts) -> dict:
    """The draft passes summed over the generation, one iteration's passes at kv_len, the widest pass's
    costs, and the draft network's prefill, weights, KV cache and activations. A derivable draft head takes
    its passes from the target's build (``target_cols``, ``target_table``) and its prefill from the target's
    prefill; any other draft network gets one build of its own (its prefill in it when attention-only)."""
    n, P = sc.size, sc.prompt_len
    E, overhead = spec.tokens_per_iteration, efficiency.kernel_overhead_s
    zeros = np.zeros(n)
    out = dict(decode=zeros, now=zeros, costs=None, tokens=0, prefill=zeros, weights=zeros,
               kv=drafter.cache_bytes(sc, sc.prompt_len + sc.gen_len), activations=zeros)
    passes = spec.draft_passes()
    if not passes:
        return out
    widths = tuple(sorted(set(passes)))
    net = drafter.network
    if drafter.derivable:
        cols, sl = target_cols.subset("pass")
        table = drafter.derived(_table_columns(target_table, sl), cols.scenario, cols.T, cols.S)
        fold_prefill = False
    else:
        # An attention-only draft network runs the same operators in both stages: its prompt joins the
        # build as a decode-stage step of T = S = P (not k MTP modules: a pass runs one of them).
        fold_prefill = net is not None and _stage_free(net) and not (spec.method == "mtp" and spec.k > 1)
        cols = Columns(sc)
        span = _window_span(net)
        for T in widths:
            _add_step(cols, f"pass{T}", T, sc.kv_len + 1.0, span, report=T == widths[-1])
        if fold_prefill:
            cols.add("prefill", sc.prompt_len, sc.prompt_len, True)
        table = drafter.table(cols.scenario, "decode", cols.T, cols.S, cols.apply)
    dcosts = roofline(table, cols.scenario, hardware, efficiency)
    calibrated = efficiency if getattr(efficiency, "mode", "") == "calibrated" else None
    for T in widths:
        step = _affine(cols, dcosts, f"pass{T}")
        where = [float(i) for i, t in enumerate(passes, start=1) if t == T]
        if calibrated is None:
            per_op, now = passes_sum(step, (P, sc.kv_len), where, E, iterations)
        else:
            name = f"pass{T}"
            per_op = sum(_calibrated_sum(cols, dcosts, name, sc, calibrated, P + i, sc.gen_len) for i in where) / E
            now = sum(_calibrated_sum(cols, dcosts, name, sc, calibrated, sc.kv_len + i, 1.0) for i in where)
        if overhead:
            per_op = per_op + iteration_overhead(step, overhead, iterations) * len(where)
            now = now + np.where(step.works, overhead, 0.0) * len(where)
        out["decode"] = out["decode"] + op_sum(per_op * step.counts[:, None])
        out["now"] = out["now"] + op_sum(now * step.counts[:, None])
    out["activations"] = table.activation_bytes[:, cols.at(f"pass{widths[-1]}@1")].max(0)
    widest = widths[-1]
    out["costs"], out["tokens"] = cols.part(dcosts, f"pass{widest}"), widest
    if net is not None:
        if drafter.derivable:
            modules = spec.k if spec.method == "mtp" else 1
            pre = roofline(drafter.derived(target_prefill.table, sc, sc.prompt_len, sc.prompt_len, modules), sc,
                           hardware, efficiency)
        elif fold_prefill:
            pre = cols.part(dcosts, "prefill")
        else:
            pre = roofline(drafter.table(sc, "prefill", sc.prompt_len, sc.prompt_len), sc, hardware, efficiency)
        out["prefill"] = op_sum(pre.time_s * pre.table.counts[:, None]) + pre.step_overhead_s
        out["weights"] = drafter.weights_bytes(pre.table)
    else:  # Medusa: no prefill; its heads' parameters from a pass's table
        t = out["costs"].table
        out["weights"] = op_sum(t.param_bytes * t.counts[:, None])
    return out
