"""Named quantized formats by their real storage: bits per weight with scales (and zeros) included.

Each is a named ``--w-bits`` value (and ``--kv-bits`` where it makes sense). ``bits`` is the width
of the quantized values, which decides the peak an operator runs at (precision.compute_peak:
weight-only formats compute at the activations' precision after dequantization, W4A16; a format
runs at a 4- or 8-bit peak only when the activations use it too). ``bits_per_weight`` is the
storage the memory traffic and footprint count, instead of the scenario's generic
``group_size`` / ``scale_bits`` rule. ``kernel`` names the calibrated kernel family
(efficiency/formats.py).

Storage (bits per weight), each from its format's definition:
- gptq / awq (int4, group 128): 4 + (16-bit scale + 4-bit zero) / 128 = 4.15625
  (AutoGPTQ / AutoAWQ packed layout: qweight int4, qzeros int4 and fp16 scales per group of 128;
  https://github.com/AutoGPTQ/AutoGPTQ, https://github.com/casper-hansen/AutoAWQ).
- q4_0: blocks of 32 4-bit values + one fp16 scale: (32*4 + 16) / 32 = 4.5;
- q8_0: blocks of 32 int8 values + one fp16 scale: (32*8 + 16) / 32 = 8.5
  (ggml block_q4_0 / block_q8_0, llama.cpp ggml/src/ggml-common.h);
- q4_k_m: the Q4_K_M mix, Q4_K (4.5 bpw: 144-byte super-blocks of 256) with Q6_K (6.5625 bpw) for
  half of attn_v / ffn_down, about 4.85 on the linear layers (llama.cpp tools/quantize/README.md
  lists 4.8944 bpw for the whole of Llama-3.1-8B, its Q6_K output matrix included);
- nf4-dq: NF4, blocks of 64 with double quantization: 4 + 8/64 + 32/(64*256) = 4.127
  (QLoRA, Dettmers et al. 2023, https://arxiv.org/abs/2305.14314, section 3: "from 32/64 = 0.5
  bits ... to 8/64 + 32/(64*256) = 0.127 bits per parameter");
- fp8 (per-tensor scale): 8 (one fp32 scale per matrix is negligible);
- fp8-block: 8 + 32/(128*128) = 8.002 (128x128 weight blocks with an fp32 scale, activations in
  1x128 groups; DeepSeek-V3 technical report, https://arxiv.org/abs/2412.19437, section 3.3);
- mxfp4: blocks of 32 FP4 (E2M1) values + one 8-bit E8M0 scale: 4 + 8/32 = 4.25
  (OCP Microscaling Formats (MX) v1.0 specification);
- nvfp4: blocks of 16 FP4 (E2M1) values + one FP8 (E4M3) scale: 4 + 8/16 = 4.5 (plus one fp32
  scale per tensor; NVIDIA, "Introducing NVFP4", https://developer.nvidia.com/blog/introducing-
  nvfp4-for-efficient-and-accurate-low-precision-inference/).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuantFormat:
    """A named storage format: value width and family (the peak), storage, kernel family."""

    name: str
    bits: int
    family: str
    bits_per_weight: float
    kernel: str
    layout: str


QUANT_FORMATS: dict[str, QuantFormat] = {f.name: f for f in (
    QuantFormat("gptq", 4, "int", 4 + (16 + 4) / 128, "int4_wo", "int4, group 128, fp16 scale + int4 zero"),
    QuantFormat("awq", 4, "int", 4 + (16 + 4) / 128, "int4_wo", "int4, group 128, fp16 scale + int4 zero"),
    QuantFormat("q4_0", 4, "int", 4.5, "int4_wo", "int4, blocks of 32, fp16 scale"),
    QuantFormat("q4_k_m", 4, "int", 4.85, "int4_wo", "Q4_K super-blocks (4.5 bpw) mixed with Q6_K"),
    QuantFormat("q8_0", 8, "int", 8.5, "int8_wo", "int8, blocks of 32, fp16 scale"),
    QuantFormat("nf4-dq", 4, "int", 4 + 8 / 64 + 32 / (64 * 256), "int4_wo",
                "NF4, blocks of 64, 8-bit absmax double-quantized per 256 blocks"),
    QuantFormat("fp8-tensor", 8, "float", 8.0, "fp8", "FP8 E4M3, one fp32 scale per tensor"),
    QuantFormat("fp8-block", 8, "float", 8 + 32 / (128 * 128), "fp8_block", "FP8 E4M3, 128x128 blocks, fp32 scale"),
    QuantFormat("mxfp4", 4, "float", 4 + 8 / 32, "mxfp4", "FP4 E2M1, blocks of 32, E8M0 scale"),
    QuantFormat("nvfp4", 4, "float", 4 + 8 / 16, "nvfp4", "FP4 E2M1, blocks of 16, FP8 E4M3 scale"),
)}
ALIASES = {"gptq-int4": "gptq", "awq-int4": "awq", "q4_k": "q4_k_m"}


def quant_format(name: str) -> QuantFormat | None:
    """The named storage format ``name`` (case-insensitive, ``-`` or ``_``), or None."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    for candidate in (key, key.replace("-", "_"), key.replace("_", "-")):
        if candidate in QUANT_FORMATS:
            return QUANT_FORMATS[candidate]
    return None
