"""The iteration-level scheduler: its settings, and the rule every evaluator follows.

Each iteration (vLLM V1 / SGLang / TRT-LLM in-flight batching, with chunked prefill as in SARATHI):
1. The token budget is ``max_batch_tokens``. Every running request that has finished its prompt decodes
   one token (decode first, SARATHI's decode-maximal batching).
2. Running requests still in their prompt continue it, oldest first, with a chunk of
   min(prompt left, ``chunk``, budget left) tokens.
3. Waiting requests are admitted, first come first served, while fewer than ``max_seqs`` run, budget is
   left and the KV cache holds their first chunk; the first that does not fit stops admission.
4. KV memory is paged (``block_size`` tokens per block, see capacity.py). A running request that needs a
   block when none is free preempts the most recently admitted request (vLLM's recompute preemption): its
   blocks are freed and it waits again at the head of the queue; when readmitted it recomputes its prompt
   and the tokens it had generated, as a prefill.
A request's first output token comes with the iteration that finishes its prompt (TTFT ends there); each
later token takes one decode iteration (TPOT = (e2e - TTFT) / (output tokens - 1)).

Defaults follow vLLM's engine arguments (https://docs.vllm.ai/en/latest/models/engine_args.html):
``--block-size 16``, ``--gpu-memory-utilization 0.9``, ``--max-num-seqs 256``; the token budget is the
8192 batched tokens vLLM V1 and TensorRT-LLM (``max_num_tokens``) use for online serving.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ScenarioError

LIMITS = {"max_batch_tokens": (1, 10_000_000), "max_seqs": (1, 1_000_000), "chunk": (1, 10_000_000),
          "block_size": (1, 1 << 20), "prefill_batch_tokens": (1, 10_000_000), "recv_interval": (1, 10_000),
          "adp_balance_iterations": (0, 10_000)}
OPTIONAL = ("chunk", "prefill_batch_tokens")


@dataclass(frozen=True)
class SchedulerConfig:
    """max_batch_tokens: tokens per iteration, decode and prefill together (count);
    max_seqs: requests running at once (count); chunk: most prefill tokens of one request per iteration
    (None: only the budget limits it); block_size: tokens per KV-cache block;
    memory_fraction: share of device memory the engine may use (weights, activations, KV cache);
    prefill_batch_tokens: prompt tokens of one prefill-only iteration of a prefill-first scheduler (SGLang's
    chunked_prefill_size), used by the closed form's burst (steady._burst: a wave of prompts queued at
    once); None: max_batch_tokens. The mixing scheduler above (and the simulation) does not use it;
    recv_interval: decode iterations between the scheduler's polls for new requests (SGLang's
    ``--scheduler-recv-interval``, sglang/srt/managers/scheduler_recv_skipper.py: a decode step adds 1 to
    its counter, any other step polls at once; 1, its default: every iteration). An arrival waits for the
    next poll, on average (recv_interval - 1) / 2 decode iterations beyond the one in flight; the closed
    form (steady.py) adds that to TTFT. Aggregated closed form only: the disaggregated form refuses values
    above 1, and the simulation polls every iteration (lr.simulate takes no such setting);
    adp_balance_iterations: TensorRT-LLM's attention-DP balancing (``attention_dp_config: enable_balance:
    true, timeout_iters: N``; 0, its default, off): on a worker of several attention-DP ranks that all
    decode, a rank's new prompts wait until every rank has one, or N iterations (tensorrt_llm/_torch/
    pyexecutor/py_executor.py, ``_balance_adp_requests``). The aggregated closed form adds the wait to TTFT
    (steady.py); like recv_interval, the disaggregated form refuses it and the simulation has none."""

    max_batch_tokens: int = 8192
    max_seqs: int = 256
    chunk: int | None = None
    block_size: int = 16
    memory_fraction: float = 0.9
    prefill_batch_tokens: int | None = None
    recv_interval: int = 1
    adp_balance_iterations: int = 0

    def __post_init__(self) -> None:
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if name in OPTIONAL and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ScenarioError(f"{name} must be an integer in {low}..{high}, got {value!r}")
        if isinstance(self.memory_fraction, bool) or not isinstance(self.memory_fraction, int | float) \
                or not 0.0 < self.memory_fraction <= 1.0:
            raise ScenarioError(f"memory_fraction must be in (0, 1], got {self.memory_fraction!r}")
        if self.max_seqs > self.max_batch_tokens:
            raise ScenarioError(f"max_seqs ({self.max_seqs}) exceeds max_batch_tokens ({self.max_batch_tokens}): "
                                "every running request must be able to decode in one iteration")

    @property
    def prefill_chunk(self) -> int:
        """Most prefill tokens one request gets in one iteration (the budget when ``chunk`` is None)."""
        return self.max_batch_tokens if self.chunk is None else min(self.chunk, self.max_batch_tokens)

    def period_tokens(self, micro_batches: int = 1) -> int:
        """Tokens one iteration of a worker carries at most (count): the budget of each of its
        ``micro_batches`` in flight, max_batch_tokens x micro_batches. A pipelined worker's iteration is
        a period of its pipeline, and its engine schedules every micro-batch with the whole budget (vLLM
        V1's ``EngineCore.step_with_batch_queue``: one ``schedule()`` per batch in the queue of pp);
        max_seqs caps the running requests of all of them together."""
        return self.max_batch_tokens * micro_batches

    @property
    def prefill_batch(self) -> int:
        """Prompt tokens of one prefill-only iteration (``prefill_batch_tokens``, else the budget)."""
        return self.max_batch_tokens if self.prefill_batch_tokens is None else self.prefill_batch_tokens

    def to_dict(self) -> dict:
        return {"max_batch_tokens": self.max_batch_tokens, "max_seqs": self.max_seqs, "chunk": self.chunk,
                "block_size": self.block_size, "memory_fraction": self.memory_fraction,
                "prefill_batch_tokens": self.prefill_batch_tokens, "recv_interval": self.recv_interval,
                "adp_balance_iterations": self.adp_balance_iterations}
