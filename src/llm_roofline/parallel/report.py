"""The ``parallelism`` and ``communication`` sections of a Report (plain values for to_dict / JSON)."""

from __future__ import annotations

from ..engine import Analysis
from ..hardware.system import Link
from .metrics import ParallelMetrics


def _link(link: Link | None) -> dict | None:
    if link is None:
        return None
    return {"name": link.name, "topology": link.topology, "bandwidth_bytes_per_s": link.device_bandwidth_bytes_per_s,
            "latency_s": link.latency_s, "fit": link.fit or None}


def parallelism_summary(a: Analysis, p: ParallelMetrics, i: int) -> dict:
    """Degrees, placement, the system's links, the pipeline's bubbles and which device the tables show."""
    lay = p.layout
    base = {"devices": p.devices, "tp": 1, "pp": 1, "ep": 1, "dp": 1, "attention_dp": 1, "moe_tp": 1, "nodes": 1,
            "devices_per_node": 1, "micro_batches": 1, "device_batch": int(p.device_batch[i]),
            "stage_layers": a.model.num_layers, "overlap": False, "ep_imbalance": 1.0, "ep_comm": None,
            "collectives": None, "system": None,
            "prefill_bubble_fraction": float(p.prefill_bubble_fraction[i]),
            "decode_bubble_fraction": float(p.decode_bubble_fraction[i]),
            "decode_step_s": float(p.decode_step_s[i]), "straggler": "the only device"}
    if lay is None:
        return base
    d, s = lay.deployment, lay.system
    return {**base, "tp": d.tp, "pp": d.pp, "ep": d.ep, "dp": d.dp, "attention_dp": d.attention_dp, "moe_tp": d.moe_tp,
            "nodes": lay.nodes, "devices_per_node": lay.per_node, "micro_batches": int(p.micro_batches[i]),
            "stage_layers": lay.stage_layers, "overlap": d.overlap, "ep_imbalance": d.ep_imbalance,
            "ep_comm": d.ep_comm, "collectives": {"mode": d.comm.mode, "library": d.comm.library,
                                                 "algorithm": d.comm.algorithm},
            "system": {"name": s.name, "device": s.device.name, "devices_per_node": s.devices_per_node,
                       "max_nodes": s.max_nodes, "scale_up": _link(s.scale_up), "scale_out": _link(s.scale_out),
                       "source_url": s.source_url},
            "straggler": straggler(a, p, i)}


def straggler(a: Analysis, p: ParallelMetrics, i: int) -> str:
    """Which device the tables show, in words: the one every synchronous step waits for."""
    d, lay = p.layout.deployment, p.layout
    parts = []
    if d.attention_dp > 1:
        parts.append(f"an attention-DP group with {int(p.device_batch[i])} sequences per micro-batch "
                     f"(ceil of {int(p.batch_size[i])} / {d.attention_dp * d.pipeline_micro_batches})")
    if d.ep > 1:
        load = "uniform routing" if d.ep_imbalance == 1 else f"{d.ep_imbalance:g} x the mean routed tokens"
        parts.append(f"the most loaded of {d.ep} expert-parallel ranks ({load})")
    if d.pp > 1:
        parts.append(f"the fullest of {d.pp} pipeline stages ({lay.stage_layers} of {lay.layers} layers and the "
                     "larger model end)")
    return "; ".join(parts) if parts else "every device does the same work"


def communication_summary(a: Analysis, p: ParallelMetrics, i: int) -> dict:
    """Per device: bytes on links and time of the communication operators, per stage (prefill, one
    decode step at kv_len), and their share of that stage's time."""
    pre_t, dec_t = float(a.prefill_total.time_s[i]), float(a.decode_total.time_s[i])
    pre_c, dec_c = float(p.prefill_comm_time_s[i]), float(p.decode_comm_time_s[i])
    overlap = p.layout is not None and p.layout.deployment.overlap
    return {"prefill_link_bytes": float(p.prefill_link_bytes[i]), "prefill_time_s": pre_c,
            "prefill_share": pre_c / pre_t if pre_t > 0 else 0.0,
            "decode_link_bytes": float(p.decode_link_bytes[i]), "decode_time_s": dec_c,
            "decode_share": dec_c / dec_t if dec_t > 0 else 0.0, "overlapped": overlap}
