"""Serving: continuous batching on the roofline engine.

    step_cost.py   the time of one engine iteration (decode tokens + prefill chunks), from the engine's tables
    capacity.py    the KV cache a device holds: paged blocks, per-request reserves, the usable budget
    scheduler.py   the scheduler's settings (token budget, running limit, chunk size, block size)
    workload.py    requests: closed loop, Poisson arrivals, traces, length distributions
    worker.py      one engine instance, iteration by iteration (the discrete-event core)
    simulate.py    the discrete-event simulation: workers, routing, disaggregated pools, statistics
    steady.py      the closed-loop steady state in closed form (vectorized, for plan)
    plan.py        the deployment search: Pareto front, best under SLOs, rate at SLO, fewest GPUs

Nothing here imports a face (cli, web, plots).
"""
