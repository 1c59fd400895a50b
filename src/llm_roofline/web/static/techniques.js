// Fast-decoding techniques (speculative decoding, early exit, contextual sparsity, KV eviction): their
// controls, their part of the request, what the report says about them, and the advisor's ranking.
import { post, requestBody } from "./api.js";
import { $, esc } from "./dom.js";
import { secsParts } from "./fmt.js";
import { showError } from "./messages.js";
import { app, setState } from "./store.js";
import { EVICTIONS, PRESETS } from "./techniques_state.js";

export function fillTechniques() {
  const s = app.state;
  $("spec").value = s.spec;
  $("tau").value = s.tau;
  $("tau").disabled = !s.spec;
  $("ee").value = s.ee;
  $("smlp").value = s.smlp;
  $("shead").value = s.shead;
  $("kve").value = s.kve;
  $("kvb").value = s.kvb;
  $("kvb").disabled = !s.kve;
  const verify = document.querySelector('input[name="stage"][value="verify"]');
  if (verify) verify.closest("label").hidden = !s.spec;
}

export function bindTechniques() {
  $("spec").innerHTML = '<option value="">off</option>' + PRESETS.map((p) => `<option value="${p}">${p}</option>`).join("");
  $("kve").innerHTML = '<option value="">off</option>' + EVICTIONS.map((p) => `<option value="${p}">${p}</option>`).join("");
  $("spec").addEventListener("change", () => {
    const patch = { spec: $("spec").value, tau: "" };
    if (!patch.spec && app.state.stage === "verify") patch.stage = "decode";
    if (patch.spec) patch.ee = "";  // early exit does not combine with speculative decoding
    setState(patch);
    fillTechniques();
  });
  $("ee").addEventListener("input", () => {
    const patch = { ee: $("ee").value };
    if (patch.ee) { patch.spec = ""; patch.tau = ""; if (app.state.stage === "verify") patch.stage = "decode"; }
    setState(patch);
    fillTechniques();
  });
  for (const [id, key] of [["tau", "tau"], ["smlp", "smlp"], ["shead", "shead"], ["kvb", "kvb"]]) {
    $(id).addEventListener("input", () => setState({ [key]: $(id).value }));
  }
  $("kve").addEventListener("change", () => { setState({ kve: $("kve").value }); fillTechniques(); });
  $("advise-run").addEventListener("click", runAdvisor);
}

/** The report's techniques: what was assumed and, with speculative decoding, the iteration. */
export function renderTechniqueNotes(r) {
  const t = r.techniques;
  const box = $("technique-notes");
  if (!t) { box.hidden = true; box.innerHTML = ""; return; }
  let html = t.notes.map((n) => `<li>${esc(n)}</li>`).join("");
  const s = t.speculative;
  if (s) {
    const [it, itU] = secsParts(s.iteration_time_s);
    html += `<li>one iteration at KV length ${s.verify.kv_len}: ${it} ${itU} for ${s.tokens_per_iteration.toPrecision(3)} ` +
      `tokens, ${s.speedup_at_kv_len.toPrecision(3)}x a one-token step; TPOT ${t.speedup.tpot?.toPrecision(3)}x ` +
      "over the whole generation (stage <i>Verify</i> shows the verify step's operators)</li>";
  }
  box.innerHTML = `<b>Techniques</b> (speed, not quality)<ul>${html}</ul>`;
  box.hidden = false;
}

async function runAdvisor() {
  const body = requestBody();
  delete body.techniques;
  delete body.optimizations;  // the advisor ranks against the plain analysis
  body.rank_by = $("advise-rank").value;
  $("advise-run").disabled = true;
  $("advice").innerHTML = '<p class="muted">ranking…</p>';
  try {
    renderAdvice(await post("/api/advise", body));
  } catch (err) {
    $("advice").innerHTML = "";
    showError(err.message, err.field);
  } finally {
    $("advise-run").disabled = false;
  }
}

function x(v) {
  return v === null || v === undefined ? "–" : `${v.toPrecision(3)}x`;
}

export function renderAdvice(a) {
  const done = a.techniques.filter((v) => !v.reason && !v.error);
  const rows = done.map((v, i) => `<tr data-technique="${esc(v.name)}"><td>${i + 1}</td>` +
    `<td title="${esc(v.note)}">${esc(v.title)}${v.affects_accuracy ? " <b title=\"changes the model's output\">*</b>" : ""}</td>` +
    `<td>${x(v.gains.tpot)}</td><td>${x(v.gains.ttft)}</td><td>${x(v.gains.throughput)}</td><td>${x(v.gains.memory)}</td>` +
    `<td>${v.fits ? "yes" : "<b>no</b>"}</td><td>${esc(v.decode_bound)}</td></tr>` +
    `<tr class="why"><td></td><td colspan="7">${esc(v.why)}. <span class="muted">Assumed: ${esc(v.note)}</span></td></tr>`);
  const skipped = a.techniques.filter((v) => v.reason || v.error)
    .map((v) => `<li>${esc(v.name)}: ${esc(v.reason || v.error)}</li>`).join("");
  $("advice").innerHTML = `<p class="muted">ranked by ${esc(a.rank_by)}; x = baseline / technique for times and memory, ` +
    "technique / baseline for throughput; * changes the model's output</p>" +
    `<div class="table-scroll"><table class="ops advice"><thead><tr><th>#</th><th>technique</th><th>TPOT</th><th>TTFT</th>` +
    `<th>tokens/s</th><th>memory</th><th>fits</th><th>decode</th></tr></thead><tbody>${rows.join("")}</tbody></table></div>` +
    (skipped ? `<p class="muted">not evaluated:</p><ul class="muted">${skipped}</ul>` : "");
}
