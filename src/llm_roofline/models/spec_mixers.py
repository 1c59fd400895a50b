"""The newer mixers and blocks of ModelSpec: DeepSeek Sparse Attention, gated delta-net linear
attention, Mamba-2, DeepSeek-V4's compressed attention, and Gemma 4's MLP + MoE block. Sizes are element
counts; each validates in ``__post_init__`` and names the field. Re-exported by ``spec``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .checks import _non_negative, _positive

if TYPE_CHECKING:
    from .spec import MLP, LatentAttention, MoE


@dataclass(frozen=True)
class SparseLatentAttention:
    """DeepSeek Sparse Attention (DSA: DeepSeek-V3.2, GLM-5): MLA whose queries attend only the
    ``index_topk`` cached tokens a lightning indexer selects (all of them while S <= topk).

    Indexer (HF ``DeepseekV32Indexer``): wq_b q_lora_rank -> Hi*di (from the MLA query latent), wk D -> di,
    k_norm LayerNorm(di) with bias, weights_proj D -> Hi. It caches one di-wide key per token and
    scores every query against all S cached keys: score[t, s] = sum_h w[t, h] * relu(q[t, h] . k[s]).
    ``indexer=False``: a GLM-5 "shared" layer that reuses the previous layer's selection (no indexer,
    no index keys cached)."""

    mla: LatentAttention
    index_heads: int
    index_head_dim: int
    index_topk: int
    indexer: bool = True

    def __post_init__(self) -> None:
        _positive("dsa", index_heads=self.index_heads, index_head_dim=self.index_head_dim,
                  index_topk=self.index_topk)
        if not self.mla.q_lora_rank:
            raise ConfigError("dsa: the indexer reads the query latent, so q_lora_rank must be > 0")
        if self.mla.qk_rope_head_dim > self.index_head_dim:
            raise ConfigError(f"dsa: qk_rope_head_dim ({self.mla.qk_rope_head_dim}) exceeds index_head_dim "
                              f"({self.index_head_dim})")


@dataclass(frozen=True)
class GatedDeltaNet:
    """Gated delta-net linear attention (Qwen3-Next, Qwen3.5 ``linear_attn``): Hk key heads of size dk,
    Hv value heads of size dv (Hv a multiple of Hk). Projections D -> q, k (Hk*dk each), v, z (Hv*dv
    each), b, a (Hv each): fused as in_proj_qkvz + in_proj_ba (Qwen3-Next) or separate in_proj_qkv,
    in_proj_z, in_proj_b, in_proj_a (Qwen3.5, ``fused_projections=False``); a depthwise causal conv1d
    (``conv_kernel`` taps, no bias) over q, k, v; the gated delta rule with a recurrent state
    [Hv, dk, dv] per sequence; a gated RMSNorm over dv; out_proj Hv*dv -> D. Parameters besides the
    projections: conv weight, A_log and dt_bias (Hv each), the norm weight (dv)."""

    num_k_heads: int
    num_v_heads: int
    k_head_dim: int
    v_head_dim: int
    conv_kernel: int
    fused_projections: bool = True

    def __post_init__(self) -> None:
        _positive("gated_delta_net", num_k_heads=self.num_k_heads, num_v_heads=self.num_v_heads,
                  k_head_dim=self.k_head_dim, v_head_dim=self.v_head_dim, conv_kernel=self.conv_kernel)
        if self.num_v_heads % self.num_k_heads:
            raise ConfigError(f"gated_delta_net: value heads ({self.num_v_heads}) must be a multiple of key heads "
                              f"({self.num_k_heads})")

    @property
    def key_dim(self) -> int:
        return self.num_k_heads * self.k_head_dim

    @property
    def value_dim(self) -> int:
        return self.num_v_heads * self.v_head_dim

    @property
    def conv_dim(self) -> int:
        """Channels of the short convolution: q, k and v."""
        return 2 * self.key_dim + self.value_dim


@dataclass(frozen=True)
class Mamba2:
    """Mamba-2 (SSD) mixer (Nemotron-H, Mamba-2): H heads of size P (d_inner = H*P), state size N,
    G groups of B and C. in_proj D -> z (d_inner), x (d_inner), B, C (G*N each), dt (H); depthwise
    conv1d (``d_conv`` taps) over x, B, C; the chunked SSD scan with a state [H, P, N] per sequence;
    a gated RMSNorm over d_inner (G groups); out_proj d_inner -> D. Parameters besides the projections:
    conv weight (+ bias), dt_bias, A_log, D (H each), the norm weight (d_inner)."""

    num_heads: int
    head_dim: int
    d_state: int
    n_groups: int
    d_conv: int
    chunk_size: int = 256
    conv_bias: bool = True
    proj_bias: bool = False

    def __post_init__(self) -> None:
        _positive("mamba2", num_heads=self.num_heads, head_dim=self.head_dim, d_state=self.d_state,
                  n_groups=self.n_groups, d_conv=self.d_conv, chunk_size=self.chunk_size)
        if self.num_heads % self.n_groups:
            raise ConfigError(f"mamba2: heads ({self.num_heads}) must be a multiple of n_groups ({self.n_groups})")

    @property
    def d_inner(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def conv_dim(self) -> int:
        """Channels of the short convolution: x, B and C."""
        return self.d_inner + 2 * self.n_groups * self.d_state


COMPRESSION_KINDS = ("sliding", "csa", "hca")


@dataclass(frozen=True)
class CompressedAttention:
    """DeepSeek-V4 attention (HF ``DeepseekV4Attention``): N query heads of H, one shared K = V head of H
    (``kv_proj`` D -> H); queries through a LoRA (q_a_proj D -> q_lora_rank, q_b_proj -> N*H, then an
    RMSNorm without weight per head); partial rotary over ``rope_dim``; a learned sink per head; a
    grouped output projection (o_a_proj: each of ``o_groups`` head groups -> ``o_lora_rank``; o_b_proj
    o_groups*o_lora_rank -> D). Every layer attends its last ``sliding_window`` tokens;
    ``kind`` "csa" / "hca" layers also attend compressed entries, one per ``compress_ratio`` tokens,
    pooled by a compressor (kv_proj and gate_proj D -> c*H, c = 2 for CSA's overlapping windows, 1 for
    HCA; a softmax-gated pooling with a position bias [ratio, c*H]; kv_norm): HCA attends all of them,
    CSA the ``index_topk`` its lightning indexer (``index_heads`` x ``index_head_dim``, over compressed
    index keys of its own) selects."""

    num_heads: int
    head_dim: int
    q_lora_rank: int
    rope_dim: int
    o_groups: int
    o_lora_rank: int
    sliding_window: int
    kind: str = "sliding"
    compress_ratio: int = 0
    index_heads: int = 0
    index_head_dim: int = 0
    index_topk: int = 0

    def __post_init__(self) -> None:
        _positive("compressed_attention", num_heads=self.num_heads, head_dim=self.head_dim,
                  q_lora_rank=self.q_lora_rank, o_groups=self.o_groups, o_lora_rank=self.o_lora_rank,
                  sliding_window=self.sliding_window)
        _non_negative("compressed_attention", rope_dim=self.rope_dim)
        if self.kind not in COMPRESSION_KINDS:
            raise ConfigError(f"compressed_attention.kind {self.kind!r} is not one of {COMPRESSION_KINDS}")
        if self.rope_dim > self.head_dim:
            raise ConfigError(f"compressed_attention.rope_dim ({self.rope_dim}) exceeds head_dim ({self.head_dim})")
        if (self.num_heads * self.head_dim) % self.o_groups:
            raise ConfigError(f"compressed_attention: o_groups ({self.o_groups}) must divide heads x head_dim")
        if self.kind != "sliding":
            _positive("compressed_attention", compress_ratio=self.compress_ratio)
        if self.kind == "csa":
            _positive("compressed_attention", index_heads=self.index_heads, index_head_dim=self.index_head_dim,
                      index_topk=self.index_topk)
            if self.rope_dim > self.index_head_dim:
                raise ConfigError("compressed_attention: rope_dim exceeds index_head_dim")

    @property
    def series(self) -> int:
        """Compressed series per source token: 2 for CSA (overlapping windows), 1 for HCA."""
        return 2 if self.kind == "csa" else 1


@dataclass(frozen=True)
class MLPAndMoE:
    """A dense MLP and a routed MoE side by side, their outputs summed (Gemma 4's ``enable_moe_block``):
    the MLP reads pre_feedforward_layernorm(h), the router reads h through an RMSNorm without weight
    scaled by ``router.scale`` (D parameters), the experts read pre_feedforward_layernorm_2(h); each
    branch has its own post-norm (post_feedforward_layernorm_1 / _2). ``moe.expert_scale``: the router's
    per_expert_scale (E parameters)."""

    mlp: MLP
    moe: MoE
