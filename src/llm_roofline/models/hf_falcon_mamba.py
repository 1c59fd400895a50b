"""Falcon-Mamba: Mamba (S6) with weightless RMSNorms over dt, B and C inside the mixer.

transformers 5.23 (models/falcon_mamba): FalconMambaMixer is MambaMixer plus ``dt_layernorm``,
``b_layernorm`` and ``c_layernorm``, FalconMambaWeightlessRMSNorm modules whose weight is a
non-persistent buffer (no parameters). Every other field, default and module name is Mamba's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .hf_fields import Fields
from .hf_hybrid import _mamba
from .spec import LayerGroup


def _falcon_mamba(f: Fields, model_type: str) -> dict[str, Any]:
    fields = _mamba(f, model_type)
    groups = []
    for group in fields["layer_groups"]:
        mixer = dataclasses.replace(group.layer.mixer, inner_norms=True, inner_norm_weights=False)
        groups.append(LayerGroup(dataclasses.replace(group.layer, mixer=mixer), group.count))
    fields["layer_groups"] = tuple(groups)
    return fields
