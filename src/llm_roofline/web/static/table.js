// The operator table of the current stage (as the CLI prints it); a click selects a row's operator.
import { $, applySizes, esc } from "./dom.js";
import { intensity, pct, secs, si } from "./fmt.js";
import { app, select, selectedOp, STAGE_NAMES, stageOps } from "./store.js";

export function renderTable() {
  const ops = stageOps();
  const sel = selectedOp(ops);
  const stage = app.state.stage;
  $("table-title").textContent = `Operators · ${STAGE_NAMES[stage]}`;
  const maxShare = Math.max(1e-12, ...ops.map((o) => o.time_share));
  const head = ["operator", "count", "FLOPs", "bytes", "weights", "act.", "KV", "FLOP/B", "FLOP/s", "bound", "time",
    "share"];
  const body = ops.map((o) => `<tr data-op="${esc(o.name)}" class="${o.name === sel?.name ? "selected" : ""}">` +
    `<td>${esc(o.name)}</td><td>${o.count}</td><td>${si(o.flops)}</td><td>${si(o.bytes, "B")}</td>` +
    `<td>${si(o.weight_bytes, "B")}</td><td>${si(o.activation_bytes, "B")}</td><td>${si(o.kv_cache_bytes, "B")}</td>` +
    `<td>${intensity(o.arithmetic_intensity)}</td><td>${si(o.performance_flops_per_s)}</td>` +
    `<td class="b-${o.bound}">${o.bound}</td><td>${secs(o.time_s)}</td>` +
    `<td><span class="sharebar" data-w="${(40 * o.time_share / maxShare).toFixed(1)}px"></span>${pct(o.time_share)}</td></tr>`).join("");
  const r = app.view.report;
  const t = stage === "prefill" ? r.prefill.total : stage === "decode" ? r.decode.total
    : stage === "verify" && r.techniques?.speculative ? r.techniques.speculative.verify.total : null;
  const tot = t ? `<tr class="total"><td>total (× count)</td><td></td><td>${si(t.flops)}</td><td>${si(t.bytes, "B")}</td>` +
    `<td>${si(t.weight_bytes, "B")}</td><td>${si(t.activation_bytes, "B")}</td><td>${si(t.kv_cache_bytes, "B")}</td>` +
    `<td>${t.bytes ? intensity(t.arithmetic_intensity) : "–"}</td>` +
    `<td>${t.time_s ? si(t.performance_flops_per_s) : "–"}</td>` +
    `<td></td><td>${secs(t.time_s)}</td><td>100%</td></tr>`
    : `<tr class="total"><td>end-to-end</td><td colspan="9"></td><td>${secs(r.generation.e2e_s)}</td><td>100%</td></tr>`;
  const table = $("ops-table");
  table.innerHTML = `<thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>${body}${tot}</tbody>`;
  applySizes(table);
  for (const tr of table.querySelectorAll("tbody tr[data-op]")) tr.addEventListener("click", () => select(tr.dataset.op));
}

// Memory charts show up to 2.5 x the capacity (or the current use), so the capacity line stays readable.
