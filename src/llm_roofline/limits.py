"""Every documented limit on user input, in one place (pure Python: the CLI imports it at start-up).

Each limit keeps a result finite and the work bounded: no value inside these ranges can make a time,
a byte count or a rate infinite or NaN, and no call allocates more than about ``MAX_GRID_POINTS``
scenarios' worth of arrays. ``docs/limits.md`` lists them for users; the faces (CLI, API, plots,
web) all check against these same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# --- scenario values (inclusive integer ranges) ---------------------------------------------------
MIN_BITS, MAX_BITS = 1, 32
SCENARIO_LIMITS: dict[str, tuple[int, int]] = {
    "batch_size": (1, 1_000_000),        # sequences
    "prompt_len": (1, 10_000_000),       # tokens
    "gen_len": (0, 10_000_000),          # tokens
    "kv_len": (1, 10_000_000),           # tokens
    "w_bits": (MIN_BITS, MAX_BITS),      # bits per element
    "a_bits": (MIN_BITS, MAX_BITS),
    "kv_bits": (MIN_BITS, MAX_BITS),
    "state_bits": (MIN_BITS, MAX_BITS),  # recurrent states (Mamba, Mamba-2, gated delta-net)
}
GROUP_SIZE_LIMITS = (0, 1 << 20)         # elements per quantization group (0: no scales)
SCALE_BITS_LIMITS = (1, 32)              # bits per group scale

# --- grids ------------------------------------------------------------------------------------------
# Scenarios one call may evaluate: a sweep's grid (the product of its axis lengths), a list given to
# analyze_many, a figure's grid. The engine keeps ~400 bytes per operator per scenario (about 8 kB a
# point for Llama, 14 kB for DeepSeek-V3), so this cap bounds one call near 1.5 GB and a few seconds;
# the CLI sweep evaluates and writes in chunks of SWEEP_CHUNK_POINTS, so its memory stays flat.
MAX_GRID_POINTS = 100_000
SWEEP_CHUNK_POINTS = 8_192

# --- efficiency ------------------------------------------------------------------------------------
# Fractions of the datasheet peak / bandwidth a kernel reaches. Below 1e-3 a device is not the one
# named (and 1e-320 would overflow times to infinity); above 1 is beyond the datasheet.
FRACTION_LIMITS = (1e-3, 1.0)
KERNEL_OVERHEAD_LIMITS_S = (0.0, 1.0)    # seconds per kernel launch, upper bound excluded

# --- hardware numbers (SI base units) --------------------------------------------------------------
# Plausible ranges for the roofline's three main numbers; they catch unit slips such as 768 (B/s)
# where 768e9 was meant. name -> (low, high, unit).
HARDWARE_RANGES: dict[str, tuple[float, float, str]] = {
    "memory_bandwidth_bytes_per_s": (1e6, 1e15, "B/s"),
    "memory_capacity_bytes": (1e6, 1e15, "B"),
    "peak_flops_per_s": (1e6, 1e19, "FLOP/s"),
}

# --- model configs ---------------------------------------------------------------------------------
# Generous next to any real model (the largest configs known have 126 layers, d 18,432, 1,024 experts,
# a 256k vocabulary), small enough that a config asking for more is a typo or an attack: the engine's
# cost never depends on the layer count (layers are groups with counts), and these caps keep every
# product of sizes exact in float64 and far from overflow. A config field maps to its kind in
# models/limits.py (HF_FIELD_KIND). kind of dimension -> largest value accepted.
MODEL_LIMITS: Mapping[str, int] = MappingProxyType({
    "layers": 10_000,            # decoder layers of a whole model
    "width": 1 << 20,            # model width D, embedding width, MLA / Mamba ranks (1,048,576)
    "ffn": 1 << 24,              # MLP, expert and Mamba inner widths (16,777,216)
    "heads": 1 << 16,            # query / key-value heads (65,536)
    "head_dim": 1 << 16,         # size of one head (65,536)
    "vocab": 1 << 24,            # vocabulary (16,777,216)
    "experts": 1 << 16,          # routed experts and experts per token (65,536)
    "positions": 1 << 32,        # context length, sliding window, attention chunk, learned positions
    "state": 1 << 16,            # Mamba SSM state and conv kernel sizes (65,536)
    "other": 1 << 40,            # any other integer field, and the magnitude of any float field
})
MAX_LAYERS = MODEL_LIMITS["layers"]      # checked when read, before a parser builds any per-layer list
MAX_DIMENSION = MODEL_LIMITS["other"]
LAYER_COUNT_KEYS = ("num_hidden_layers", "n_layer", "n_layers", "num_layers", "num_decoder_layers")

# --- files -----------------------------------------------------------------------------------------
MAX_FILE_BYTES = 8 * 2**20               # a config.json or device YAML (real ones are < 100 kB)
MAX_NESTING = 32                         # depth of objects / lists inside such a file
MAX_NODES = 200_000                      # values visited in one file (YAML aliases count each time)
