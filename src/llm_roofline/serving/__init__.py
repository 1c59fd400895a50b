"""Serving: continuous batching on the roofline engine (docs/serving.md).

    step_cost.py     the time of one engine iteration (decode tokens + prefill chunks), from the engine's
                     tables: the one module that meets the engine (probes.py reads it at probe points)
    capacity.py      the KV cache a device holds: paged blocks, per-request reserves, the usable budget
    scheduler.py     the scheduler's settings and the iteration rule every evaluator follows
    workload.py      requests: closed loop, Poisson arrivals, traces, length distributions
    decode_group.py  the decoding requests of a worker as aggregates
    worker.py        one engine instance, iteration by iteration (the discrete-event core)
    simulate.py      the discrete-event simulation: replicas, disaggregated pools; statistics.py its results
    pool.py          a pool of workers, the KV transfer between pools and its link
    steady.py        the closed-loop steady state in closed form (vectorized); disagg.py for separate pools
    plan.py          the deployment search (pareto.py, search_pool.py); setup.py builds pools from arguments
    api.py           lr.simulate, lr.estimate_serving

Nothing here imports a face (cli, web, plots).
"""
