"""ModelSpec: the architecture facts the engine needs, as frozen values.

Notation (JAX scaling book): D model width, F MLP width, N query heads, K KV heads,
H head size, L layers, V vocabulary, E experts, k experts per token.

A model is a sequence of *layer groups*: identical decoder layers and how many of them.
Most models have one group; DeepSeek (first dense layers, then MoE), Gemma 2 (sliding and
global attention alternate) and Jamba (Mamba / attention x dense / MoE) have several.
Every size here is a count of elements, not bytes: bit-widths belong to the scenario.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import ConfigError
from .checks import _non_negative, _positive
from .limits import LIMITS
from .spec_mixers import (
    COMPRESSION_KINDS,
    CompressedAttention,
    GatedDeltaNet,
    Mamba2,
    MLPAndMoE,
    SparseLatentAttention,
)

__all__ = ["ACTIVATIONS", "COMPRESSION_KINDS", "FFN", "MLP", "NORM_KINDS", "QK_NORM_SCOPES", "Attention",
           "CompressedAttention", "GatedDeltaNet", "LatentAttention", "Layer", "LayerGroup", "MLPAndMoE", "Mamba",
           "Mamba2", "Mixer", "ModelSpec", "MoE", "SparseLatentAttention", "routed_experts"]

NORM_KINDS = ("rmsnorm", "layernorm", "weightless_rmsnorm")
ACTIVATIONS = ("silu", "gelu", "gelu_tanh", "relu", "relu2", "swiglu_fused", "clamped_swiglu")
QK_NORM_SCOPES = ("head", "per_head", "projection")


@dataclass(frozen=True)
class Attention:
    """Multi-head attention with N query heads and K key/value heads (GQA: K < N; MQA: K = 1).

    q_proj: D -> N*H, k_proj and v_proj: D -> K*H, o_proj: N*H -> D.
    ``rope_dim`` is the number of rotary dimensions per head (0: no RoPE, e.g. learned
    positions, ALiBi or Llama 4's NoPE layers). ``sliding_window`` W: each query sees the last W
    keys (itself included). ``attention_chunk`` C (Llama 4's chunked local attention): the sequence
    is cut into chunks of C tokens and a query sees only the keys of its own chunk, up to itself.
    ``sinks`` (gpt-oss): one learned logit per query head joins every softmax (N parameters).
    ``qk_norm`` adds a norm to the queries and keys (``qk_norm_kind``: an RMSNorm, a LayerNorm, or a
    weightless RMSNorm such as Llama 4's L2Norm; ``qk_norm_bias``: the LayerNorm has a bias), over
    ``qk_norm_scope``: "head" (every head normalized over H with one H-wide weight shared by all
    heads: Qwen3, Gemma 3, Phi), "per_head" (over H, with a weight of its own per head: StableLM)
    or "projection" (over the whole N*H query and K*H key projections: OLMo 2, OLMoE, MiniMax-M2).
    ``output_gate`` (Qwen3-Next / Qwen3.5 ``attn_output_gate``): q_proj also emits a gate of N*H,
    and the attention output is multiplied by sigmoid(gate) before o_proj.
    ``v_norm`` (Gemma 4): an RMSNorm without weight over every value head. ``k_eq_v`` (Gemma 4's
    global layers, ``attention_k_eq_v``): no v_proj; the values are k_proj's output (before k_norm).
    ``kv_shared`` (Gemma 4's last ``num_kv_shared_layers``): no k/v projections and no cache of its own;
    the layer attends the keys and values an earlier layer of the same kind cached.
    """

    num_heads: int
    num_kv_heads: int
    head_dim: int
    rope_dim: int = 0
    qkv_bias: bool = False
    o_bias: bool = False
    fused_qkv: bool = False
    sliding_window: int | None = None
    qk_norm: bool = False
    qk_norm_kind: str = "rmsnorm"
    qk_norm_bias: bool = False
    qk_norm_scope: str = "head"
    attention_chunk: int | None = None
    sinks: bool = False
    output_gate: bool = False
    v_norm: bool = False
    k_eq_v: bool = False
    kv_shared: bool = False

    def __post_init__(self) -> None:
        if self.qk_norm_kind not in NORM_KINDS:
            raise ConfigError(f"attention.qk_norm_kind {self.qk_norm_kind!r} is not one of {NORM_KINDS}")
        if self.qk_norm_scope not in QK_NORM_SCOPES:
            raise ConfigError(f"attention.qk_norm_scope {self.qk_norm_scope!r} is not one of {QK_NORM_SCOPES}")
        _positive("attention", "heads", num_heads=self.num_heads, num_kv_heads=self.num_kv_heads)
        _positive("attention", "head_dim", head_dim=self.head_dim)
        _non_negative("attention", "head_dim", rope_dim=self.rope_dim)
        if self.num_heads % self.num_kv_heads:
            raise ConfigError(f"attention.num_heads ({self.num_heads}) must be a multiple of "
                              f"num_kv_heads ({self.num_kv_heads})")
        if self.rope_dim > self.head_dim:
            raise ConfigError(f"attention.rope_dim ({self.rope_dim}) exceeds head_dim ({self.head_dim})")
        if self.sliding_window is not None:
            _positive("attention", "positions", sliding_window=self.sliding_window)
        if self.attention_chunk is not None:
            _positive("attention", "positions", attention_chunk=self.attention_chunk)
            if self.sliding_window is not None:
                raise ConfigError("attention: a sliding_window and an attention_chunk cannot be combined")
        if self.k_eq_v and (self.fused_qkv or not self.v_norm):
            raise ConfigError("attention.k_eq_v needs separate projections and v_norm (as Gemma 4 has)")

    @property
    def local_span(self) -> int | None:
        """W or C: the most keys a query sees, and what transformers' cache is sized by (None: global)."""
        return self.attention_chunk if self.attention_chunk is not None else self.sliding_window


@dataclass(frozen=True)
class LatentAttention:
    """DeepSeek-V2/V3 multi-head latent attention (MLA).

    q: D -> q_lora_rank -> N*(nope+rope) (or D -> N*(nope+rope) when q_lora_rank = 0);
    kv_a: D -> kv_lora_rank + rope (the cached latent and the shared rotary key);
    kv_b: kv_lora_rank -> N*(nope + v); o_proj: N*v -> D.
    """

    num_heads: int
    q_lora_rank: int
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int
    bias: bool = False

    def __post_init__(self) -> None:
        _positive("mla", "heads", num_heads=self.num_heads)
        _positive("mla", "width", kv_lora_rank=self.kv_lora_rank)
        _positive("mla", "head_dim", qk_rope_head_dim=self.qk_rope_head_dim, v_head_dim=self.v_head_dim)
        _non_negative("mla", "width", q_lora_rank=self.q_lora_rank)
        _non_negative("mla", "head_dim", qk_nope_head_dim=self.qk_nope_head_dim)

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim


@dataclass(frozen=True)
class Mamba:
    """Mamba (S6) mixer: in_proj D -> 2*d_inner, depthwise conv1d (d_conv taps), x_proj
    d_inner -> dt_rank + 2*d_state, dt_proj dt_rank -> d_inner, selective scan, out_proj
    d_inner -> D. ``inner_norms``: Jamba's RMSNorms over dt (dt_rank) and B, C (d_state)."""

    d_inner: int
    d_state: int
    d_conv: int
    dt_rank: int
    conv_bias: bool = True
    proj_bias: bool = False
    inner_norms: bool = False
    inner_norm_weights: bool = True

    def __post_init__(self) -> None:
        _positive("mamba", "ffn", d_inner=self.d_inner)
        _positive("mamba", "state", d_state=self.d_state, d_conv=self.d_conv)
        _positive("mamba", "width", dt_rank=self.dt_rank)


@dataclass(frozen=True)
class MLP:
    """Dense feed-forward block. Gated (SwiGLU/GeGLU): gate_proj, up_proj D -> F, act(gate)*up,
    down_proj F -> D. Plain (OPT, GPT-2): up D -> F, act, down F -> D (no gate)."""

    intermediate_size: int
    gated: bool
    activation: str = "silu"
    bias: bool = False
    fused_gate_up: bool = False

    def __post_init__(self) -> None:
        _positive("mlp", "ffn", intermediate_size=self.intermediate_size)
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"mlp.activation {self.activation!r} is not one of {ACTIVATIONS}")


@dataclass(frozen=True)
class MoE:
    """Routed mixture of experts: router D -> E, each token runs its top-k experts, each an
    MLP of width ``expert_intermediate_size``. ``shared_intermediate_size`` > 0 adds an
    always-on shared MLP of that width (DeepSeek: n_shared * moe width; Qwen2-MoE), with a
    sigmoid gate D -> 1 when ``shared_expert_gate``. ``router_bias``: E router bias parameters
    (gpt-oss's router.bias). ``expert_scale``: E factors scaling the top-k routing weights (Gemma 4's
    router.per_expert_scale). ``expert_bias``: every expert projection has a bias (gpt-oss).
    ``fused_gate_up``: the experts' gate and up projections are one HF tensor ``gate_up_proj``
    (D -> 2*F per expert), shown as one operator."""

    num_experts: int
    top_k: int
    expert_intermediate_size: int
    gated: bool = True
    activation: str = "silu"
    shared_intermediate_size: int = 0
    shared_expert_gate: bool = False
    router_bias: bool = False
    expert_scale: bool = False
    expert_bias: bool = False
    fused_gate_up: bool = False

    def __post_init__(self) -> None:
        _positive("moe", "experts", num_experts=self.num_experts, top_k=self.top_k)
        _positive("moe", "ffn", expert_intermediate_size=self.expert_intermediate_size)
        _non_negative("moe", "ffn", shared_intermediate_size=self.shared_intermediate_size)
        if self.top_k > self.num_experts:
            raise ConfigError(f"moe.top_k ({self.top_k}) exceeds num_experts ({self.num_experts})")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"moe.activation {self.activation!r} is not one of {ACTIVATIONS}")


Mixer = Attention | LatentAttention | Mamba | SparseLatentAttention | GatedDeltaNet | Mamba2 | CompressedAttention
FFN = MLP | MoE | MLPAndMoE


def routed_experts(ffn: FFN | None) -> MoE | None:
    """The routed experts of a feed-forward block: the MoE itself, or the one beside Gemma 4's dense
    MLP; None for a dense MLP or no block."""
    return ffn.moe if isinstance(ffn, MLPAndMoE) else ffn if isinstance(ffn, MoE) else None


@dataclass(frozen=True)
class Layer:
    """One decoder layer. ``norm_names`` lists its norms (each over D, in HF's names, in order);
    ``parallel``: attention and FFN both read the layer input and one add joins them (GPT-J,
    GPT-NeoX, Falcon, Phi-2); otherwise two sequential residual adds. ``ffn`` None: a mixer alone
    (Mamba; Nemotron-H's Mamba-2 and attention blocks); ``mixer`` None: a feed-forward block alone
    (Nemotron-H's MLP blocks): one norm, the block, one residual add.
    Norm placement: before each sublayer (default; with four names, Gemma 2/3's norms before and
    after each sublayer); ``post_norm``: after each residual add (OPT-350m); ``output_norms``: on
    each sublayer's output before its residual add, none on its input (OLMo 2)."""

    mixer: Mixer | None
    ffn: FFN | None
    norm_names: tuple[str, ...] = ("input_layernorm", "post_attention_layernorm")
    norm_kind: str = "rmsnorm"
    norm_bias: bool = False
    parallel: bool = False
    post_norm: bool = False
    output_norms: bool = False

    def __post_init__(self) -> None:
        if self.mixer is None and (self.ffn is None or self.parallel or self.post_norm):
            raise ConfigError("layer: a layer without a mixer needs a sequential feed-forward block")
        if self.post_norm and (self.parallel or len(self.norm_names) != 2):
            raise ConfigError("layer.post_norm needs a sequential layer with two norms")
        if self.output_norms and (self.parallel or self.post_norm or len(self.norm_names) != 2):
            raise ConfigError("layer.output_norms needs a sequential layer with two norms")
        if self.norm_kind not in NORM_KINDS:
            raise ConfigError(f"layer.norm_kind {self.norm_kind!r} is not one of {NORM_KINDS}")


@dataclass(frozen=True)
class LayerGroup:
    layer: Layer
    count: int

    def __post_init__(self) -> None:
        _positive("layer_group", "layers", count=self.count)


DEFAULT_OP_NAMES: Mapping[str, str] = MappingProxyType({
    "embed_tokens": "embed_tokens", "embed_positions": "embed_positions",
    "embedding_norm": "word_embeddings_layernorm",
    "q_proj": "q_proj", "k_proj": "k_proj", "v_proj": "v_proj", "qkv_proj": "qkv_proj",
    "o_proj": "o_proj", "gate_proj": "gate_proj", "up_proj": "up_proj",
    "gate_up_proj": "gate_up_proj", "down_proj": "down_proj",
    "router": "router", "experts": "experts", "shared_experts": "shared_experts",
    "final_norm": "norm", "lm_head": "lm_head",
})


@dataclass(frozen=True)
class ModelSpec:
    """A decoder-only LM. ``learned_positions``: rows of a learned position table (0 with RoPE or
    ALiBi). ``tie_word_embeddings``: lm_head shares the embedding matrix (counted once).
    ``embed_dim``: width of the token embeddings and of lm_head's input when it differs from
    hidden_size (OPT-350m: 512, projected to and from 1024 by project_in / project_out).
    ``op_names`` maps roles to the family's HF module names (defaults: Llama's).
    ``per_layer_input_size`` (Gemma 4's per-layer embeddings, PLE): every layer also receives a
    ``per_layer_input_size``-wide input made from a second embedding table (``per_layer_vocab_size`` rows
    of L x per_layer_input_size) and a projection of the token embeddings; 0: none.
    ``hc_mult`` (DeepSeek-V4's manifold-constrained hyper-connections): the residual stream is
    ``hc_mult`` streams of D wide; 1: an ordinary residual.
    ``quantization`` (models/hf_quantization.Quantization): the config's ``quantization_config``, the
    checkpoint's weight format, which the precision options apply by default (techniques/precision_map.py).
    ``notes``: what the parser decided that a user should know (e.g. only the language model of a
    multimodal config is analysed); ``warnings``: results that may be wrong (shown on stderr and in JSON)."""

    name: str
    model_type: str
    hidden_size: int
    vocab_size: int
    layer_groups: tuple[LayerGroup, ...]
    tie_word_embeddings: bool = False
    learned_positions: int = 0
    embedding_norm: bool = False
    final_norm: bool = True
    final_norm_kind: str = "rmsnorm"
    final_norm_bias: bool = False
    lm_head_bias: bool = False
    max_position_embeddings: int | None = None
    embed_dim: int | None = None
    per_layer_input_size: int = 0
    per_layer_vocab_size: int = 0
    hc_mult: int = 1
    quantization: object | None = None
    op_names: Mapping[str, str] = field(default_factory=lambda: DEFAULT_OP_NAMES)
    source: str = ""
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        owner = self.name or "model"
        _positive(owner, "width", hidden_size=self.hidden_size)
        _positive(owner, "vocab", vocab_size=self.vocab_size)
        _non_negative(owner, "positions", learned_positions=self.learned_positions)
        _non_negative(owner, "width", per_layer_input_size=self.per_layer_input_size)
        _non_negative(owner, "vocab", per_layer_vocab_size=self.per_layer_vocab_size)
        _positive(owner, hc_mult=self.hc_mult)
        if self.per_layer_input_size and not self.per_layer_vocab_size:
            raise ConfigError(f"{self.name}: per-layer inputs need per_layer_vocab_size > 0")
        if self.embed_dim is not None:
            _positive(owner, "width", embed_dim=self.embed_dim)
        if not self.layer_groups:
            raise ConfigError(f"{self.name}: a model needs at least one layer")
        layers = sum(group.count for group in self.layer_groups)
        if layers > LIMITS["layers"]:
            raise ConfigError(f"{owner}: {layers:,} layers; at most {LIMITS['layers']:,} are supported")
        names = dict(DEFAULT_OP_NAMES)
        names.update(self.op_names)
        object.__setattr__(self, "op_names", MappingProxyType(names))
        object.__setattr__(self, "layer_groups", tuple(self.layer_groups))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    @property
    def embedding_width(self) -> int:
        """E: the width of the embedding table and lm_head's input (hidden_size unless projected)."""
        return self.embed_dim or self.hidden_size

    @property
    def num_layers(self) -> int:
        return sum(group.count for group in self.layer_groups)

    def op_name(self, role: str) -> str:
        return self.op_names[role]
