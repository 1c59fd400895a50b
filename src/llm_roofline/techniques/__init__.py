"""Compression and system techniques (issue 12), one module per technique, each a pure transform:
(ModelSpec, Scenario) -> graph options, ModelSpec -> ModelSpec, or OpTable -> OpTable. The engine
(engine.py) applies them in this order: structured pruning (a smaller model), the graph options
(per-tensor precision, sparsity, low rank, tiled attention, paged KV reads: tensors.py, flash.py),
prefix caching (fewer prefill tokens), fusion and offloading (operator-table transforms), then the
roofline with the host link as one more resource and the memory footprint split by place.
"""

from .build import TECHNIQUE_DEFAULTS, build_techniques
from .options import OFF, Techniques

__all__ = ["OFF", "TECHNIQUE_DEFAULTS", "Techniques", "build_techniques"]
