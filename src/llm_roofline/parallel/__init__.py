"""Several devices: tensor, pipeline, expert, attention-data and data parallelism (docs/parallelism.md).

deployment.py  Deployment (degrees, options) and its check against a model and a system (Layout)
shard.py       sharding rules per layer type: one device's shard as a ModelSpec
plan.py        DevicePlan: the communication operators build_ops adds, and expert routing per device
collectives.py alpha-beta costs per algorithm, hierarchical across nodes, fitted efficiency curves
calibrate.py   refit the curves from measured tables (optional: pandas, pyarrow, scipy)
pipeline.py    pipeline stages off a table: stage time, round trip, period, stage weights
steps.py       exact sums over decode steps of pipelined / overlapped step times
metrics.py     the deployment's TTFT, TPOT, tokens/s, bubbles, memory per device, communication
analysis.py    evaluate_deployment: the engine for one device of a deployment
report.py      the report's ``parallelism`` and ``communication`` sections
options.py     the keyword options every face passes
"""
