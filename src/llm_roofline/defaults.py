"""Default scenario values, written once. The engine (``Scenario.build``), the Python API, the CLI's
options, the plots and the web API all read them from here, so a default never differs between faces.

Plain constants with no imports: the CLI shows them in ``--help`` without loading NumPy.
"""

from __future__ import annotations

DEFAULT_BATCH_SIZE = 1  # sequences per batch
DEFAULT_PROMPT_LEN = 1024  # prompt tokens per sequence
# Tokens generated after the prompt. Not 0: a generation gives TPOT, end-to-end time and throughput,
# the numbers a reader looks for first; pass 0 to study the prompt and one decode step alone.
DEFAULT_GEN_LEN = 256
DEFAULT_BITS = 16  # weights, activations and KV cache
DEFAULT_GROUP_SIZE = 128  # elements per quantization group below 16 bits (0: no scales)
DEFAULT_SCALE_BITS = 16  # bits of each group's scale

# The scenario values that ``sweep`` can list (one grid axis each), in the grid's order.
SWEEP_AXES = ("batch_size", "prompt_len", "gen_len", "kv_len", "w_bits", "a_bits", "kv_bits")
