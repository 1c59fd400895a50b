"""Serving inputs: workloads (lengths, arrivals, traces), scheduler settings, and the errors bad input gets."""

from __future__ import annotations

import json

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.errors import RooflineError, ScenarioError
from llm_roofline.serving.scheduler import SchedulerConfig
from llm_roofline.serving.workload import closed_loop, lengths, poisson, trace

from conftest import llama


def test_lengths_fixed_and_distributions():
    rng = np.random.default_rng(0)
    assert (lengths(128, 5, rng, "isl") == 128).all()
    assert (lengths("64", 3, rng, "isl") == 64).all()
    u = lengths("uniform:10:20", 20_000, rng, "isl")
    assert u.min() == 10 and u.max() == 20 and abs(u.mean() - 15) < 0.1
    n = lengths("normal:500:50", 20_000, rng, "osl")
    assert abs(n.mean() - 500) < 2 and abs(n.std() - 50) < 2
    e = lengths("exponential:100", 20_000, rng, "osl")
    assert e.min() >= 1 and abs(e.mean() - 100) < 3


@pytest.mark.parametrize("spec", ["uniform:20:10", "gauss:1:2", "normal:1", "exponential:0", "uniform:a:b", "0", -3])
def test_bad_lengths_say_what_is_accepted(spec):
    with pytest.raises(ScenarioError):
        lengths(spec, 3, np.random.default_rng(0), "input length")


def test_poisson_arrivals_have_the_rate():
    w = poisson(4.0, 20_000, 100, 10, seed=1)
    assert w.arrival_s[0] == 0 and np.all(np.diff(w.arrival_s) >= 0)
    assert (w.size - 1) / w.arrival_s[-1] == pytest.approx(4.0, rel=0.03)
    assert w.to_dict()["offered_rate_per_s"] == pytest.approx(4.0, rel=0.03)
    assert closed_loop(8, 100, 10, 10).to_dict()["mode"] == "closed"


def test_trace_is_read_sorted_and_checked(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"arrival_s": 2.0, "input_tokens": 10, "output_tokens": 3}\n\n'
                    '{"timestamp": 1.5, "isl": 20, "osl": 4}\n')
    w = trace(path)
    assert w.arrival_s.tolist() == [0.0, 0.5] and w.isl.tolist() == [20, 10] and w.osl.tolist() == [4, 3]
    for text, message in (('{"arrival_s": 1}', "missing input_tokens"), ("[1, 2]", "expected an object"),
                          ("not json", "not JSON"), ('{"arrival_s": 1, "isl": 2.5, "osl": 1}', "integer")):
        path.write_text(text + "\n")
        with pytest.raises(ScenarioError, match=message):
            trace(path)
    with pytest.raises(ScenarioError, match="cannot read trace"):
        trace(tmp_path / "missing.jsonl")


def test_a_trace_runs(tmp_path, a6000):
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps({"arrival_s": 0.05 * i, "input_tokens": 100 + i, "output_tokens": 20})
                              for i in range(30)))
    report = lr.simulate(llama(), a6000, trace=str(path))
    assert report.simulation.requests == 30 and report.workload["arrivals"] == "trace t.jsonl"
    assert report.steady is None


@pytest.mark.parametrize("kwargs", [dict(max_batch_tokens=0), dict(max_seqs=300, max_batch_tokens=256),
                                    dict(chunk=0), dict(block_size=True), dict(memory_fraction=1.5)])
def test_bad_scheduler_settings(kwargs):
    with pytest.raises(ScenarioError):
        SchedulerConfig(**kwargs)


@pytest.mark.parametrize("kwargs", [dict(), dict(concurrency=4, rate=2.0), dict(concurrency=0),
                                    dict(concurrency=2, workers=0), dict(rate=-1.0)])
def test_bad_loads_are_user_errors(kwargs, a6000):
    with pytest.raises(RooflineError):
        lr.simulate(llama(), a6000, isl=100, osl=10, **kwargs)


def test_a_request_larger_than_the_cache_is_refused(a6000):
    with pytest.raises(ScenarioError, match="does not fit the KV cache"):
        lr.simulate(llama(), a6000, concurrency=1, requests=1, isl=70_000, osl=10)


def test_a_model_larger_than_the_device_is_refused(a6000):
    with pytest.raises(ScenarioError, match="does not fit"):
        lr.simulate(llama(), a6000, concurrency=1, isl=100, osl=10, memory_fraction=0.2)
