"""The scenario options of every command that analyses (``analyze``, ``sweep``, each ``plot`` kind),
defined once: flag, default (from ``defaults.py``) and help text. A command picks how each option
is read:

- typed (``analyze``): argparse converts and checks it (``flags.py``: an integer in the field's range,
  or bits: an integer 1..32 or a format name);
- ``text``: one value kept as text, parsed by the command (the plots, for their own messages);
- ``lists``: a list in the list syntax (``1..256:x2``, ``16,8,4``), parsed by the command.

Argparse only: importing this module costs nothing at start-up.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from . import defaults
from .flags import bits_flag, int_flag

FORMATS_HELP = "fp16, bf16, fp8, int8, int4, nf4, fp4"


@dataclass(frozen=True)
class ScenarioOption:
    flags: tuple[str, ...]
    default: object
    help: str  # what the option is; the value kind and the default are appended
    kind: str  # "int", "bits" or "flag"


SCENARIO_OPTIONS: dict[str, ScenarioOption] = {
    "batch_size": ScenarioOption(("--batch-size", "-b"), defaults.DEFAULT_BATCH_SIZE, "sequences per batch", "int"),
    "prompt_len": ScenarioOption(("--prompt-len", "-p"), defaults.DEFAULT_PROMPT_LEN, "prompt tokens per sequence",
                                 "int"),
    "gen_len": ScenarioOption(("--gen-len", "-g"), defaults.DEFAULT_GEN_LEN,
                              "tokens generated after the prompt, which give TPOT, end-to-end time and "
                              "throughput (0: only the prompt and one decode step)", "int"),
    "kv_len": ScenarioOption(("--kv-len",), None, "KV length of the reported decode step", "int"),
    "w_bits": ScenarioOption(("--w-bits",), None, "weights (default: the config's quantization_config, else "
                             f"{defaults.DEFAULT_BITS})", "bits"),
    "a_bits": ScenarioOption(("--a-bits",), defaults.DEFAULT_BITS, "activations", "bits"),
    "kv_bits": ScenarioOption(("--kv-bits",), defaults.DEFAULT_BITS, "KV cache", "bits"),
    "state_bits": ScenarioOption(("--state-bits",), defaults.DEFAULT_STATE_BITS,
                                 "recurrent states of Mamba / linear-attention layers (32: float32, as "
                                 "transformers keeps them)", "bits"),
    "group_size": ScenarioOption(("--group-size",), defaults.DEFAULT_GROUP_SIZE,
                                 "quantization group size below 16 bits, one scale per group of weights or KV "
                                 "elements (0: no scales)", "int"),
    "scale_bits": ScenarioOption(("--scale-bits",), defaults.DEFAULT_SCALE_BITS, "bits of each group's scale", "int"),
    "flash_attention": ScenarioOption(("--flash-attention",), False, "fused, causal-aware attention kernel "
                                      "(FlashAttention)", "flag"),
    "logits_all": ScenarioOption(("--logits-all",), False, "prefill computes logits for every prompt token, "
                                 "not only the last", "flag"),
}


def _value_help(name: str, option: ScenarioOption, mode: str, default: object) -> str:
    if option.kind == "bits":
        kind = ("a list of bit-widths (e.g. 16,8,4) or one format" if mode == "list"
                else f"bits 1..32 or a format ({FORMATS_HELP})")
    else:
        kind = "a list (e.g. 1..64 or 1..256:x2)" if mode == "list" else ""
    if default is None and name == "w_bits":
        return f"{option.help}{': ' + kind if kind else ''}"
    shown = "the prompt length" if name == "kv_len" and default is None else default
    return f"{option.help}{': ' + kind if kind else ''}; default {shown}"


METAVARS = {("int", "list"): "LIST", ("bits", "list"): "LIST", ("int", "text"): "N", ("int", "typed"): "N",
            ("bits", "text"): "BITS", ("bits", "typed"): "BITS"}


def add_scenario_options(parser, *, lists: Collection[str] = (), text: Collection[str] = (),
                         omit: Collection[str] = (), defaults: Mapping[str, object] | None = None,
                         helps: Mapping[str, str] | None = None, title: str = "scenario"):
    """Add the scenario options to ``parser`` as one argument group and return the group.

    ``lists``: options taking a list (kept as text, parsed by the command); ``text``: one value kept as
    text; the others are typed by argparse. ``omit``: options the command does not have (they would not
    change its result); ``defaults`` / ``helps``: a command's own default or description of an option
    (e.g. a figure's x axis)."""
    unknown = (set(lists) | set(text) | set(omit) | set(defaults or {}) | set(helps or {})) - set(SCENARIO_OPTIONS)
    if unknown:  # a programming error in a face, not a user error
        raise ValueError(f"unknown scenario options {sorted(unknown)}")
    group = parser.add_argument_group(title)
    for name, option in SCENARIO_OPTIONS.items():
        if name in omit:
            continue
        default = (defaults or {}).get(name, option.default)
        described = ScenarioOption(option.flags, default, (helps or {}).get(name, option.help), option.kind)
        if option.kind == "flag":
            group.add_argument(*option.flags, action="store_true", help=described.help)
            continue
        mode = "list" if name in lists else "text" if name in text else "typed"
        kwargs: dict = {"default": default if mode == "typed" or default is None else str(default),
                        "metavar": METAVARS[option.kind, mode]}
        if mode == "typed":  # checked where parsed, so a message names the flag
            kwargs["type"] = int_flag(name) if option.kind == "int" else bits_flag
        group.add_argument(*option.flags, help=_value_help(name, described, mode, default), **kwargs)
    return group
