// The numbers at the top: the one-line summary and the metric cards (TTFT, TPOT, e2e, throughput, memory).
import { $, esc } from "./dom.js";
import { int, rate, secsParts, si } from "./fmt.js";

export function renderSummary(r) {
  const s = r.scenario;
  const fmt = (bits, fam) => (fam === "bf16" ? "bf16" : fam === "float" && bits === 16 ? "16-bit"
    : `${fam === "int" ? "int" : fam === "tf32" ? "tf" : "fp"}${bits}`);
  const par = r.parallelism;
  const where = par.devices > 1 ? `${int(par.devices)} × ${esc(r.hardware.name)} (${esc(par.system.name)})`
    : esc(r.hardware.name);
  const text = `<b>${esc(r.model.name)}</b> on <b>${where}</b> · batch ${int(s.batch_size)} · ` +
    `prompt ${int(s.prompt_len)} · generate ${int(s.gen_len)} · W ${fmt(s.w_bits, s.w_family)} · ` +
    `A ${fmt(s.a_bits, s.a_family)} · KV ${fmt(s.kv_bits, s.kv_family)}${s.flash_attention ? " · FlashAttention" : ""}`;
  $("summary").innerHTML = text;
  $("fold-hint").textContent = `${r.model.name.split("/").pop()} · ${r.hardware.name} · b${s.batch_size} · p${s.prompt_len}`;
}

function metric(key, value, unit, sub, raw) {
  return `<div class="metric" data-metric="${key}" data-value="${raw ?? ""}"><div class="k">${key}</div>` +
    `<div class="v"><span class="num">${value}</span><small>${unit}</small></div><div class="s">${sub}</div></div>`;
}

export function renderMetrics(r) {
  const g = r.generation, m = r.memory;
  const [ttft, ttftU] = secsParts(g.ttft_s);
  const [tpot, tpotU] = secsParts(g.tpot_s);
  const [e2e, e2eU] = secsParts(g.e2e_s);
  const tput = g.throughput_tokens_per_s;
  const fits = m.fits ? '<span class="fitbadge ok">fits</span>' : '<span class="fitbadge bad">DOES NOT FIT</span>';
  const memText = `${si(m.total_bytes, "B")} <small>of ${si(m.capacity_bytes, "B")}</small>`;
  $("metrics").innerHTML =
    metric("TTFT", ttft, ttftU, `prefill, ${int(g.prompt_len)} tokens`, g.ttft_s) +
    metric("TPOT", g.tpot_s === null ? "–" : tpot, g.tpot_s === null ? "" : tpotU,
      g.gen_len ? `mean of ${int(g.gen_len)} steps` : "no tokens generated", g.tpot_s) +
    metric("End-to-end", e2e, e2eU, `TTFT + ${int(g.gen_len)} steps`, g.e2e_s) +
    metric("Throughput", tput === null ? "–" : rate(tput), tput === null ? "" : "tok/s",
      tput === null ? "set generated tokens" : r.parallelism.devices > 1
        ? `${rate(g.throughput_tokens_per_s_per_device)} tok/s per device × ${int(r.parallelism.devices)}`
        : `${int(g.batch_size * g.gen_len)} tokens / e2e`, tput) +
    `<div class="metric mem" data-metric="Memory" data-value="${m.total_bytes}" data-fits="${m.fits}">` +
    `<div class="k">Memory${r.parallelism.devices > 1 ? " per device" : ""} ${fits}</div>` +
    `<div class="v">${memText}</div>` +
    `<div class="s">largest batch that fits: <b>${int(m.max_batch_size)}</b></div></div>`;
}

