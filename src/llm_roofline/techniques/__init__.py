"""Techniques, one module per technique, each a pure transform: (ModelSpec, Scenario) -> graph
options, ModelSpec -> ModelSpec, or OpTable -> OpTable. Nothing is imported here (importing one
module costs only that module).

Compression and system optimizations (issue 12; ``Scenario.optimizations``, optimizations.py): the
engine (engine.py) applies them in this order: structured pruning (a smaller model: structured.py),
the graph options (per-tensor precision, weight sparsity, low rank, tiled attention, paged KV reads:
tensors.py, precision_map.py, pruning.py, low_rank.py, flash.py), prefix caching (fewer prefill
tokens), fusion and offloading (operator-table transforms: fusion.py, offload.py), then the roofline
with the host link as one more resource and the memory footprint split by place (kv_memory.py,
placement.py).
"""
