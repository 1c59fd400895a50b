"""Numeric formats of weights, activations and the KV cache, and their storage cost.

A format is a bit-width (1..32) and a family: ``int`` (int8, int4, nf4 lookup tables) or
``float`` (fp32, fp16, fp8, fp4) or ``bf16``. Storage: bits / 8 bytes per element, plus for
grouped quantization (bits < 16, weights and KV cache) one ``scale_bits`` scale per group of
``group_size`` elements: bytes/element = bits/8 + scale_bits / (8 * group_size).

Which peak applies (the paper's rule): an operator runs at a low-precision peak only when all
its operands are in that precision; otherwise it computes in the wider operand's format
(weight-only quantization, W4A16, computes in the activations' fp16).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ScenarioError
from .limits import MAX_BITS, MIN_BITS
from .quant_formats import QUANT_FORMATS, quant_format

NAMED_FORMATS: dict[str, tuple[int, str]] = {
    "fp32": (32, "float"), "tf32": (32, "tf32"), "fp16": (16, "fp16"), "bf16": (16, "bf16"),
    "fp8": (8, "float"), "int8": (8, "int"), "int4": (4, "int"), "nf4": (4, "int"),
    "fp4": (4, "float"),
    # Formats with their own storage (bits per weight with scales; quant_formats.py).
    **{f.name: (f.bits, f.family) for f in QUANT_FORMATS.values()},
}


@dataclass(frozen=True)
class Format:
    """A role's format for a whole sweep: bit-widths (array, one per scenario) and one family.
    ``name``: the named format it was given as ('' for a plain bit-width); ``storage_bits``: bits
    per stored element of a format with its own scale layout (quant_formats.py), else None."""

    bits: np.ndarray
    family: str = "int"
    name: str = ""
    storage_bits: float | None = None


def parse_format(role: str, value: object) -> tuple[np.ndarray, str]:
    """``16`` -> ([16.], 'float'); ``'int4'`` -> ([4.], 'int'); ``[4, 8]`` -> ([4., 8.], 'int'): the
    bit-widths as a validated 1-D array (the checks of every scenario number, scenario.axis_values)
    and the family. Integer bit-widths below 16 default to the int family (int8, int4); 16 and 32 to float.
    """
    from .scenario import LIMITS, axis_values

    if type(value) is int and LIMITS[role][0] <= value <= LIMITS[role][1]:  # one valid bit-width: no array checks
        return np.array([float(value)]), "float" if value >= 16 else "int"
    if isinstance(value, str):
        key = value.strip().lower()
        if key in NAMED_FORMATS:
            bits, family = NAMED_FORMATS[key]
            return np.array([float(bits)]), family
        named = quant_format(key)
        if named is not None:
            return np.array([float(named.bits)]), named.family
        if not (key.isascii() and key.isdigit()) or len(key) > 6:
            shown = repr(value) if len(value) <= 40 else repr(value[:37] + "...")
            raise ScenarioError(f"{role}: unknown format {shown}; use a bit-width {MIN_BITS}..{MAX_BITS} "
                                f"or one of {', '.join(NAMED_FORMATS)}")
        value = int(key)
    bits = axis_values(role, value)
    return bits, "float" if np.all(bits >= 16) else "int"


def is_format_name(text: str) -> bool:
    """Whether ``text`` names a format: a generic one (int4, fp8, ...) or a storage format or its alias
    (quant_formats.py: gptq, q4_k_m, nvfp4, ...)."""
    key = text.strip().lower()
    return key in NAMED_FORMATS or quant_format(key) is not None


def format_name(value: object) -> tuple[str, float | None]:
    """(name, storage bits per element) of a format given by name; ('', None) for a bit-width or a
    generic name (int4, fp8, ...) whose storage follows the scenario's group_size / scale_bits."""
    if not isinstance(value, str):
        return "", None
    key = value.strip().lower()
    named = quant_format(key)
    if named is not None:
        return named.name, named.bits_per_weight
    return (key, None) if key in NAMED_FORMATS else ("", None)


def format_storage_bytes(fmt: Format, group_size: int, scale_bits: int) -> np.ndarray:
    """Bytes per stored element of ``fmt``: its own storage when it has one (bits_per_weight / 8),
    else storage_bytes() with the scenario's group rule."""
    if fmt.storage_bits is not None:
        return np.full(np.shape(fmt.bits), fmt.storage_bits / 8.0)
    return storage_bytes(fmt.bits, group_size, scale_bits)


def storage_bytes(bits: np.ndarray, group_size: int, scale_bits: int) -> np.ndarray:
    """Bytes per stored element: bits / 8, plus the group scale when bits < 16 and grouping is on."""
    per_element = bits / 8.0
    if group_size > 0:
        per_element = per_element + np.where(bits < 16, scale_bits / (8.0 * group_size), 0.0)
    return per_element


BEST_16BIT = "f16"  # pseudo-precision: the faster of the device's fp16 and bf16 paths


def precision_names(family: str) -> tuple[str, str, str, str]:
    """Hardware precision for widths <=4, <=8, <=16 and wider, in ``family``. A 16-bit width given
    as a number (or an int family at 9..16 bits) runs on the faster 16-bit float path (BEST_16BIT);
    the named formats fp16 and bf16 pin it; tf32 selects the TF32 path for 32-bit operands."""
    low = ("int4", "int8") if family == "int" else ("fp4", "fp8")
    mid = {"fp16": "fp16", "bf16": "bf16"}.get(family, BEST_16BIT)
    return (*low, mid, "tf32" if family == "tf32" else "fp32")


def peak_for_bits(peak_of: dict[str, float], bits: np.ndarray, family: str) -> np.ndarray:
    """Dense peak (FLOP/s) for operands of ``bits`` width in ``family``; ``peak_of`` maps a
    precision name to the device's peak (with the device's own fallbacks already applied)."""
    table = np.array([peak_of[name] for name in precision_names(family)])
    width_class = (bits > 4).astype(np.intp) + (bits > 8) + (bits > 16)  # <=4, <=8, <=16, wider
    return table[width_class]


def compute_peak(peak_of: dict[str, float], first: Format, second: Format) -> np.ndarray:
    """Peak for an operator whose operands have formats ``first`` (the activations) and ``second``.

    Equal widths compute at that width; otherwise at the wider operand's width (the narrower one
    is dequantized first). A tie in width takes the activations' family.
    """
    bits = np.maximum(first.bits, second.bits)
    if first.family == second.family:
        return peak_for_bits(peak_of, bits, first.family)
    return np.where(first.bits >= second.bits, peak_for_bits(peak_of, bits, first.family),
                    peak_for_bits(peak_of, bits, second.family))
