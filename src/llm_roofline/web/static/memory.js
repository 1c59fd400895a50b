// The memory panel: weights, KV cache, activations against the device's capacity.
import { $, applySizes, esc } from "./dom.js";
import { int, pct, si } from "./fmt.js";

export function renderMemory(r) {
  const m = r.memory, s = r.scenario;
  const top = Math.max(m.total_bytes, m.capacity_bytes);
  const w = (v) => `${(100 * v / top).toFixed(3)}%`;
  const over = m.total_bytes > m.capacity_bytes;
  const rows = [
    ["c-weights", "Weights", m.weights_bytes, `${si(r.model.params_total)} parameters`],
    ["c-kv", "KV cache", m.kv_cache_bytes, `${int(s.batch_size)} sequences after ${int(s.prompt_len + s.gen_len)} tokens`],
    ["c-act", "Activations (peak)", m.activations_bytes, "largest single operator"],
  ];
  $("memory").innerHTML =
    `<div class="membar" title="memory use against capacity">${rows.map(([c, , v]) => `<i class="${c}" data-w="${w(v)}"></i>`).join("")}` +
    `<span class="cap" data-left="${w(m.capacity_bytes)}" title="capacity"></span></div>` +
    `<table class="kv"><tbody>${rows.map(([c, k, v, note]) =>
      `<tr><td><i class="sw ${c}"></i> ${k} <small>${note}</small></td><td>${si(v, "B")}</td></tr>`).join("")}` +
    `<tr><td><b>Total</b></td><td>${si(m.total_bytes, "B")}</td></tr>` +
    `<tr><td>Capacity (${esc(r.hardware.name)})</td><td>${si(m.capacity_bytes, "B")}</td></tr>` +
    `<tr><td>${over ? "Over by" : "Free"}</td><td>${si(Math.abs(m.capacity_bytes - m.total_bytes), "B")}</td></tr>` +
    `<tr><td>Largest batch that fits</td><td>${int(m.max_batch_size)}</td></tr></tbody></table>` +
    `<p class="${over ? "error" : "hint"}" id="fit-line">${over
      ? `<b>Does not fit:</b> needs ${si(m.total_bytes, "B")}, the device has ${si(m.capacity_bytes, "B")}. ` +
        (m.max_batch_size > 0 ? `A batch of ${int(m.max_batch_size)} fits.` : "Not even a batch of 1 fits.")
      : `Fits, with ${pct(1 - m.total_bytes / m.capacity_bytes, 0)} of memory left.`}</p>`;
  applySizes($("memory"));
}

// Sizes set through the CSSOM (the Content-Security-Policy allows no inline style attributes).
