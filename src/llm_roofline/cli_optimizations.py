"""The technique options of every command that analyses (``analyze``, ``sweep``, each ``plot`` kind),
defined once: flag, API keyword, help. Values are kept as text by argparse and checked by the engine
(techniques/build.py), whose messages name the option. Argparse only at import time.

In ``sweep`` the per-scenario options (``--sparsity``, ``--offload-weights``, ``--offload-kv``,
``--prefix-len``) take comma-separated lists: one grid axis each.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OptimizationOption:
    flag: str
    help: str
    choices: tuple[str, ...] = ()
    kind: str = "text"  # "text", "flag" (store_true) or "no" (store_false of a default-True option)
    metavar: str = ""


OPTIMIZATION_OPTIONS: dict[str, OptimizationOption] = {
    "embed_bits": OptimizationOption("--embed-bits", "embedding table: bits or a format (default: the weights', "
                                  "or 16 for a config's quantization_config)", metavar="BITS"),
    "lm_head_bits": OptimizationOption("--lm-head-bits", "lm_head: bits or a format", metavar="BITS"),
    "module_bits": OptimizationOption("--module-bits", "per-module formats, MODULE=BITS,... with MODULE a group "
                                   "(attention, mlp, experts, shared_experts, router, embed, lm_head, layers) "
                                   "or an operator name, e.g. attention=fp8,experts=fp4", metavar="MAP"),
    "config_quantization": OptimizationOption("--ignore-quantization-config", "do not read a config.json's "
                                           "quantization_config (weights then follow --w-bits, default 16)",
                                           kind="no"),
    "weight_sparsity": OptimizationOption("--weight-sparsity", "fraction of pruned (zero) weights, 0..0.999 "
                                          "(with a sparse format)", metavar="S"),
    "sparse_format": OptimizationOption("--sparse-format", "storage and kernel of pruned weights: dense (zeros "
                                     "stored; nothing changes), csr (values + index), bitmap (values + 1 bit per "
                                     "weight), 2:4 (semi-structured, the device's sparse tensor cores)",
                                     choices=("dense", "csr", "bitmap", "2:4")),
    "sparse_index_bits": OptimizationOption("--sparse-index-bits", "bits of a csr column index (default 16)",
                                         metavar="N"),
    "sparse_efficiency": OptimizationOption("--sparse-efficiency", "fraction of the peak a csr/bitmap kernel "
                                         "reaches (default 1)", metavar="F"),
    "sparse_modules": OptimizationOption("--sparse-modules", "modules pruned (default layers: every decoder-layer "
                                      "weight)", metavar="LIST"),
    "prune_layers": OptimizationOption("--prune-layers", "structured pruning: fraction of layers removed", metavar="F"),
    "prune_heads": OptimizationOption("--prune-heads", "structured pruning: fraction of attention heads removed",
                                   metavar="F"),
    "prune_intermediate": OptimizationOption("--prune-intermediate", "structured pruning: fraction of MLP / expert "
                                          "channels removed", metavar="F"),
    "low_rank": OptimizationOption("--low-rank", "low-rank factorization, MODULE=RANK,... (a rank >= 1 or a ratio "
                                "< 1 of the full rank), e.g. mlp=0.25 or o_proj=512", metavar="MAP"),
    "fusion": OptimizationOption("--fusion", "operator fusion (default none)", choices=("none", "elementwise",
                                                                                       "aggressive")),
    "attention": OptimizationOption("--attention", "attention kernel: naive (scores in memory), ideal (one read of "
                                 "Q, K, V; = --flash-attention), fa2 (FlashAttention-2 tiling, Flash-Decoding)",
                                 choices=("naive", "ideal", "fa2")),
    "attention_fp8": OptimizationOption("--attention-fp8", "attention matmuls on FP8 operands (FlashAttention-3)",
                                     kind="flag"),
    "offload_weights": OptimizationOption("--offload-weights", "fraction of the weights held in host memory (or on "
                                       "disk) and streamed each step", metavar="F"),
    "offload_kv": OptimizationOption("--offload-kv", "fraction of the KV cache held in host memory (or on disk)",
                                  metavar="F"),
    "offload_modules": OptimizationOption("--offload-modules", "which weights --offload-weights applies to (default "
                                       "all), e.g. experts", metavar="LIST"),
    "offload_to": OptimizationOption("--offload-to", "where offloaded data lives (default host)",
                                  choices=("host", "disk")),
    "offload_overlap": OptimizationOption("--no-offload-overlap", "transfers do not overlap compute (load, then "
                                       "compute)", kind="no"),
    "offload_compute": OptimizationOption("--offload-compute", "the offloaded share runs on the device (default) or "
                                       "on the host CPU", choices=("device", "cpu")),
    "host": OptimizationOption("--host", "the host CPU (a catalog device; default xeon-8480-plus)", metavar="DEVICE"),
    "host_memory": OptimizationOption("--host-memory", "host memory capacity (default the host's), e.g. 512GB",
                                   metavar="BYTES"),
    "host_bandwidth": OptimizationOption("--host-bandwidth", "host link, both directions together (default the "
                                      "device's), e.g. 64GB/s", metavar="B/S"),
    "disk_bandwidth": OptimizationOption("--disk-bandwidth", "disk read bandwidth (needed with --offload-to disk)",
                                      metavar="B/S"),
    "kv_allocation": OptimizationOption("--kv-allocation", "KV-cache memory: exact (default), paged (blocks) or "
                                     "contiguous (reserved to --max-seq-len)", choices=("exact", "paged",
                                                                                         "contiguous")),
    "kv_block_size": OptimizationOption("--kv-block-size", "tokens per KV block with --kv-allocation paged "
                                     "(default 16)", metavar="N"),
    "max_seq_len": OptimizationOption("--max-seq-len", "tokens a contiguous KV cache reserves per sequence (default "
                                   "the model's context length)", metavar="N"),
    "prefix_len": OptimizationOption("--prefix-len", "tokens of a prompt prefix shared by the batch and already "
                                  "cached (prefix caching)", metavar="N"),
}
INTEGER_OPTIONS = ("sparse_index_bits", "kv_block_size", "max_seq_len", "prefix_len")
REAL_OPTIONS = ("weight_sparsity", "sparse_efficiency", "prune_layers", "prune_heads", "prune_intermediate",
                "offload_weights", "offload_kv")
LIST_OPTIONS = ("weight_sparsity", "offload_weights", "offload_kv", "prefix_len")


def add_optimization_options(parser, *, lists: bool = False, omit=()):
    """The technique options as one argument group; ``lists``: the per-scenario ones take lists."""
    group = parser.add_argument_group("techniques (docs/techniques.md)")
    for name, option in OPTIMIZATION_OPTIONS.items():
        if name in omit:
            continue
        text = option.help + ("; a comma-separated list (one sweep axis)" if lists and name in LIST_OPTIONS else "")
        if option.kind == "flag":
            group.add_argument(option.flag, dest=name, action="store_true", default=None, help=text)
        elif option.kind == "no":
            group.add_argument(option.flag, dest=name, action="store_false", default=None, help=text)
        elif option.choices:
            group.add_argument(option.flag, dest=name, choices=option.choices, help=text)
        else:
            group.add_argument(option.flag, dest=name, metavar=option.metavar or "VALUE", help=text)
    return group


def optimizations_from_args(args, *, lists: bool = False) -> dict:
    """The API keywords of the technique options given on the command line (text converted)."""
    from .errors import ScenarioError

    out = {}
    for name, option in OPTIMIZATION_OPTIONS.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if isinstance(value, str) and (name in INTEGER_OPTIONS or name in REAL_OPTIONS):
            items = [v.strip() for v in value.split(",")] if lists and name in LIST_OPTIONS else [value.strip()]
            try:
                numbers = [int(v) if name in INTEGER_OPTIONS else float(v) for v in items]
            except ValueError:
                kind = "an integer" if name in INTEGER_OPTIONS else "a number"
                raise ScenarioError(f"{option.flag}: must be {kind}"
                                    f"{' or a comma-separated list' if lists and name in LIST_OPTIONS else ''}, "
                                    f"got {value!r}") from None
            value = numbers if len(numbers) > 1 else numbers[0]
        out[name] = value
    return out
