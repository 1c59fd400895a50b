"""Predicting the measured rows: one closed-form serving call per configuration, all its loads at once.

Rows of one configuration share a call (``Case.key``): estimate_serving evaluates the steady state at all
their loads (aggregated: concurrency and lengths; disaggregated: concurrency) in one vectorized pass.
Both efficiency settings price iterations through the engine itself (serving/engine_cost.py), so ideal
and calibrated differ only in the engine's per-operator times and the collectives (ideal alpha-beta vs
fitted). A configuration the serving model refuses (the model does not fit the worker, a deployment it
cannot shard ...) makes its rows unpredictable with that message; so does a row whose request does not
fit the KV cache.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import RooflineError
from ..serving.profiles import derived_burst_share, serving_profile
from .cases import Case, Skipped

EFFICIENCIES = ("ideal", "calibrated")


@dataclass(frozen=True)
class Predicted:
    """A row with its predictions: ``ttft_s`` / ``tpot_s`` by efficiency setting (s)."""

    case: Case
    ttft_s: dict[str, float]
    tpot_s: dict[str, float]


def serving_call(members: list[Case], efficiency: str, costs=None) -> dict:
    """estimate_serving for one configuration (``Case.key``) at its members' loads (arrays by member);
    ``costs``: a serving.api.serving_costs cache of its model, system and efficiency to reuse."""
    from ..serving.api import estimate_serving

    case = members[0]
    common = dict(concurrency=np.array([c.concurrency for c in members]), w_bits=case.w_bits, a_bits=case.a_bits,
                  kv_bits=case.kv_bits, efficiency=efficiency, engine_evaluated=True,
                  engine=case.engine if efficiency == "calibrated" else None, costs=costs)
    # The calibrated engines run their own all-reduce kernels (the fitted collective tables of that library).
    comm = {"comm_library": case.engine} if efficiency == "calibrated" else {}
    if case.mode == "agg":
        w = case.agg
        seqs = max(c.agg.max_seqs for c in members)  # never below a member's concurrency: all of it runs
        # a lone catalog device (no bundled system): the one-device worker, no deployment
        deployment = None if case.single_device else {**w.deployment, **comm}
        return estimate_serving(case.model, case.system, deployment=deployment, max_seqs=seqs,
                                max_batch_tokens=max(w.max_batch_tokens, seqs),
                                prefill_batch_tokens=w.prefill_batch_tokens, recv_interval=w.recv_interval,
                                adp_balance_iterations=w.adp_balance_iterations,
                                isl=[c.served_lengths()[0] for c in members],
                                osl=[c.served_lengths()[1] for c in members], **common)
    p, d = case.prefill, case.decode
    isl, osl = case.served_lengths()
    common.update(isl=isl, osl=osl)
    return estimate_serving(
        case.model, case.system, disagg=True, prefill_workers=p.workers, decode_workers=d.workers,
        prefill_deployment={**p.deployment, **comm}, decode_deployment={**d.deployment, **comm},
        max_batch_tokens=max(p.max_batch_tokens, d.max_batch_tokens), max_seqs=max(p.max_seqs, d.max_seqs),
        prefill_scheduler={"max_batch_tokens": p.max_batch_tokens, "max_seqs": p.max_seqs},
        decode_scheduler={"max_batch_tokens": d.max_batch_tokens, "max_seqs": d.max_seqs}, **common)


def _profile(case: Case, efficiency: str, profiles):
    """The serving profile a row is priced with: "auto" (none) outside the calibrated setting; the given
    ``profiles``' one for the engine (the fit's runs); else the shipped fit with the burst share the row's
    lengths give (profiles.derived_burst_share: a prefill-first engine's wave dissolves when lengths vary)."""
    if efficiency != "calibrated":
        return "auto"
    if profiles is not None:
        return profiles[case.engine]
    fitted = serving_profile(case.engine)
    return replace(fitted, burst_share=derived_burst_share(case.engine, case.lengths_vary))


def predict(cases: list[Case], efficiencies=EFFICIENCIES, progress=None,
            profiles=None) -> tuple[list[Predicted], list[Skipped]]:
    """Predictions for every case that all ``efficiencies`` can price, and the others with the reason.
    ``progress``: callback(done, total) over configurations. ``profiles``: the calibrated setting's
    serving profile by engine name (a mapping; None: the shipped fits, serving/profiles.py, each with the
    burst share its rows' lengths give: ``_profile``)."""
    groups: dict[tuple, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.key(), []).append(case)
    from ..serving.api import serving_costs

    done, skipped = [], []
    caches: dict[tuple, object] = {}  # iteration costs per model, system, efficiency and engine, for this run
    for i, members in enumerate(groups.values()):
        ttft: dict[str, np.ndarray] = {}
        tpot: dict[str, np.ndarray] = {}
        reason = None
        for eff in efficiencies:
            case = members[0]
            engine = case.engine if eff == "calibrated" else None
            try:
                profile = _profile(case, eff, profiles)
                key = (case.model, case.system, eff, engine, profile)
                if key not in caches:
                    caches[key] = serving_costs(case.model, case.system, eff, engine=engine,
                                                several=not case.single_device,
                                                engine_evaluated=True, profile=profile)
                out = serving_call(members, eff, caches[key])
            except RooflineError as exc:
                reason = str(exc)
                break
            ttft[eff], tpot[eff] = np.asarray(out["ttft_s"], float), np.asarray(out["tpot_s"], float)
        for j, case in enumerate(members):
            if reason is None and not all(np.isfinite(v[j]) for v in (*ttft.values(), *tpot.values())):
                skipped.append(Skipped(case.row, f"a request of {case.isl} + {case.osl} tokens does not fit the "
                                                 "KV cache of one worker"))
            elif reason is not None:
                skipped.append(Skipped(case.row, reason))
            else:
                done.append(Predicted(case, {e: float(v[j]) for e, v in ttft.items()},
                                      {e: float(v[j]) for e, v in tpot.items()}))
        if progress is not None:
            progress(i + 1, len(groups))
    return done, skipped
