// The serving panel: a load and SLOs -> /api/serve-sim (latency percentiles, throughput, KV cache) or
// /api/plan (the Pareto front of tokens/s per GPU against tokens/s per user, the best under the SLOs).
// It reads the model, device, formats and efficiency from the page's state (window.__roofline).
import { post } from "./api.js";
import { OWN_FORMAT } from "./store.js";
import { $ } from "./dom.js";
import { efficiencyBody } from "./efficiency_state.js";
import { int, pct, rate, secs, si } from "./fmt.js";
import { deploymentText, initLayout, layoutText, planLayouts, workersBody } from "./serving_layout.js";
import { svgEl, title } from "./svg.js";

const MODE_COLORS = { agg: "#0072B2", disagg: "#D55E00" };

function page() {
  return window.__roofline || { state: {} };
}

function fail(message) {
  const e = $("sv-error");
  e.textContent = message;
  e.hidden = !message;
}

function common() {
  const app = page();
  if (app.upload) throw new Error("serving runs catalog models: pick one from the catalog above");
  const s = app.state;
  const length = (id) => {
    const text = $(id).value.trim();
    return /^\d+$/.test(text) ? Number(text) : text;
  };
  // The simulation and the plan take every efficiency setting (calibrated with the page's engine profile).
  const body = { model: s.model, hardware: s.hw, a_bits: s.a, kv_bits: s.kv, ...efficiencyBody(s),
                 isl: length("sv-isl"), osl: length("sv-osl"), ...overheadBody() };
  if (s.w !== OWN_FORMAT) body.w_bits = s.w;  // else the serving API's default (catalog models: 16 bits)
  return body;
}

/** The request overhead field as the API takes it: {request_overhead_ms} when set, {} when empty (the engine's
 * fitted overhead). The server checks the range and that the setting is calibrated. */
function overheadBody() {
  const text = $("sv-overhead").value.trim();
  return text === "" ? {} : { request_overhead_ms: Number(text) };
}

/** "<engine>'s request overhead, 20 ms + 15 µs per prompt token" or "a request overhead of 300 ms set here
 * (...)" (the profile's source says which), for the lines under a result; "" without a profile or an
 * overhead. */
function overheadText(profile) {
  if (!profile) return "";
  const byUser = String(profile.source || "").startsWith("request_overhead_s set by the user");
  const perToken = profile.prompt_token_s ? ` + ${Number((profile.prompt_token_s * 1e6).toPrecision(3))} µs ` +
    "per prompt token" : "";
  if (!byUser && !profile.request_overhead_s && !perToken) return "";
  return byUser ? `a request overhead of ${secs(profile.request_overhead_s)} set here (in place of ` +
    `${profile.engine}'s fitted one)` :
    `${profile.engine}'s request overhead, ${secs(profile.request_overhead_s)}${perToken}`;
}

/** The profile's iteration-time parameters (profiles.py): the share of the kernels' fixed costs an iteration
 * pays, the host's launch time per kernel in iterations with prompt tokens, and the closed form's burst share;
 * "" without a profile. */
function profileText(profile) {
  if (!profile || profile.engine === "none") return "";
  return `${profile.engine}'s serving profile: iterations pay ${pct(profile.fixed_share, 0)} of the kernels' ` +
    `fixed costs; with prompt tokens each kernel takes at least its ${secs(profile.prefill_launch_s)} host ` +
    `launch (eager); closed-form burst share ${profile.burst_share}`;
}

function slos() {
  const ms = (id) => { const v = Number($(id).value); return $(id).value === "" || !(v > 0) ? null : v / 1000; };
  return { ttft: ms("sv-ttft"), tpot: ms("sv-tpot") };
}

async function busy(button, work) {
  const buttons = [$("sv-run"), $("sv-plan")];
  buttons.forEach((b) => { b.disabled = true; });
  $("sv-status").textContent = button === "run" ? "simulating…" : "searching…";
  fail("");
  try {
    await work();
    $("sv-status").textContent = "";
  } catch (err) {
    fail(err.message);
    $("sv-status").textContent = "";
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function simulateBody() {
  const body = { ...common(), load: $("sv-load").value, max_batch_tokens: Number($("sv-budget").value),
                 requests: Number($("sv-requests").value), disagg: $("sv-disagg").checked };
  if (body.load === "rate") body.rate = Number($("sv-level").value);
  else body.concurrency = Math.round(Number($("sv-level").value));
  if ($("sv-chunk").value !== "") body.chunk = Number($("sv-chunk").value);
  return { ...body, ...workersBody(body.disagg) };
}

function cell(row, text, cls = null, value = null) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  if (value !== null) td.dataset.value = String(value);  // the API's number, for readers and tests
  row.appendChild(td);
}

function where(p) {
  const pools = p.mode === "agg" ? `agg x${p.workers}` : `disagg ${p.prefill_workers}P+${p.decode_workers}D`;
  const layout = layoutText(p);
  return layout ? `${pools} ${layout}` : pools;
}

function renderSimulation(r) {
  const out = $("sv-result");
  out.replaceChildren();
  const { ttft, tpot } = slos();
  const table = document.createElement("table");
  table.className = "sv-latency";
  const head = table.createTHead().insertRow();
  for (const h of ["", "mean", "p50", "p90", "p99"]) {
    const th = document.createElement("th");
    th.textContent = h;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const [label, key, limit] of [["TTFT", "ttft_s", ttft], ["TPOT", "tpot_s", tpot], ["ITL", "itl_s", null],
    ["End to end", "e2e_s", null]]) {
    const row = body.insertRow();
    cell(row, label);
    for (const q of ["mean", "p50", "p90", "p99"]) {
      const v = r[key][q];
      cell(row, secs(v), limit !== null && v !== null && v > limit ? "miss" : null, v);
    }
  }
  out.appendChild(table);
  const t = r.throughput, kv = r.kv_cache;
  const lines = [
    deploymentText(r.deployment),
    `${rate(t.requests_per_s)} requests/s · ${rate(t.output_tokens_per_s)} output tokens/s ` +
      `(${rate(t.output_tokens_per_s_per_gpu)} per GPU, ${rate(t.output_tokens_per_s_per_user)} per user)`,
    `KV cache ${int(kv.capacity_tokens)} tokens: occupancy ${pct(kv.mean_occupancy)} mean, ${pct(kv.peak_occupancy)} ` +
      `peak; ${int(kv.requests_waited)} requests waited for memory, ${int(kv.preemptions)} preemptions`,
    `${int(r.requests)} requests, ${r.workload.arrivals}; ${int(r.iterations)} iterations over ${secs(r.duration_s)}`,
  ];
  const overhead = overheadText(r.efficiency.serving_profile);
  if (overhead) {
    lines.push(`TTFT and end to end include ${overhead}: the frontend's time before a request reaches the engine`);
  }
  const profile = profileText(r.efficiency.serving_profile);
  if (profile) lines.push(profile);
  if (r.steady_state) {
    const s = r.steady_state;
    lines.push(`closed form: TTFT ${secs(s.ttft_s)}, TPOT ${secs(s.tpot_s)}, ${rate(s.requests_per_s)} requests/s ` +
      `(limited by ${s.limited_by})`);
  }
  for (const text of lines) {
    const p = document.createElement("p");
    p.textContent = text;
    out.appendChild(p);
  }
}

function paretoChart(container, result) {
  container.replaceChildren();
  const cap = document.createElement("figcaption");
  cap.textContent = `Deployments on ${result.gpus} GPUs: tokens/s per GPU against tokens/s per user`;
  container.appendChild(cap);
  const pts = result.points.filter((p) => p.tokens_per_s_per_user > 0 && p.tokens_per_s_per_gpu > 0);
  const W = Math.max(300, Math.round(container.clientWidth || 460)), H = Math.round(Math.min(300, W * 0.62));
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" }, container);
  if (!pts.length) return svg;
  const box = { left: 58, right: W - 12, top: 12, bottom: H - 36 };
  const xs = pts.map((p) => p.tokens_per_s_per_user), ys = pts.map((p) => p.tokens_per_s_per_gpu);
  const lx0 = Math.log10(Math.min(...xs) / 1.2), lx1 = Math.log10(Math.max(...xs) * 1.2);
  const yHi = Math.max(...ys) * 1.08;
  const x = (v) => box.left + ((Math.log10(v) - lx0) / (lx1 - lx0)) * (box.right - box.left);
  const y = (v) => box.bottom - (v / yHi) * (box.bottom - box.top);
  svgEl("line", { x1: box.left, x2: box.right, y1: box.bottom, y2: box.bottom, class: "axis" }, svg);
  svgEl("line", { x1: box.left, x2: box.left, y1: box.top, y2: box.bottom, class: "axis" }, svg);
  for (let e = Math.floor(lx0); e <= Math.ceil(lx1); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (Math.log10(v) < lx0 || Math.log10(v) > lx1) continue;
      svgEl("text", { x: x(v), y: box.bottom + 14, "text-anchor": "middle", class: "tick" }, svg, si(v));
    }
  }
  for (let k = 0; k <= 4; k++) {
    const v = (yHi * k) / 4;
    svgEl("text", { x: box.left - 5, y: y(v) + 4, "text-anchor": "end", class: "tick" }, svg, si(v));
  }
  svgEl("text", { x: (box.left + box.right) / 2, y: H - 4, "text-anchor": "middle", class: "axis-label" }, svg,
    "output tokens/s per user (1 / TPOT)");
  const { ttft, tpot } = { ttft: result.slo.ttft_s, tpot: result.slo.tpot_s };
  for (const p of pts) {
    const ok = (ttft === null || p.ttft_s <= ttft) && (tpot === null || p.tpot_s <= tpot);
    const dot = svgEl("circle", { cx: x(p.tokens_per_s_per_user), cy: y(p.tokens_per_s_per_gpu), r: 3,
      fill: ok ? MODE_COLORS[p.mode] : "none", stroke: MODE_COLORS[p.mode], class: "scatter-point" }, svg);
    title(dot, `${where(p)}, ${p.format}, ${p.max_batch_tokens} tokens/iteration, batch ${p.batch}: ` +
      `${rate(p.tokens_per_s_per_gpu)} tokens/s/GPU, TTFT ${secs(p.ttft_s)}, TPOT ${secs(p.tpot_s)}`);
  }
  const front = [...result.pareto].sort((a, b) => a.tokens_per_s_per_user - b.tokens_per_s_per_user);
  let d = "";
  front.forEach((p, i) => {
    const px = x(p.tokens_per_s_per_user).toFixed(1), py = y(p.tokens_per_s_per_gpu).toFixed(1);
    d += i === 0 ? `M${px},${py}` : `V${py}H${px}`;
  });
  svgEl("path", { d, fill: "none", stroke: "#111", "stroke-width": 1.3, class: "pareto-front" }, svg);
  if (tpot) {
    const vx = x(1 / tpot);
    if (vx >= box.left && vx <= box.right) {
      svgEl("line", { x1: vx, x2: vx, y1: box.top, y2: box.bottom, class: "capline" }, svg);
      svgEl("text", { x: vx + 4, y: box.top + 10, class: "capline-label" }, svg, "TPOT SLO");
    }
  }
  if (result.best) {
    const b = result.best;
    const star = svgEl("circle", { cx: x(b.tokens_per_s_per_user), cy: y(b.tokens_per_s_per_gpu), r: 6,
      fill: "#E69F00", stroke: "#111", class: "best-point" }, svg);
    title(star, "best under the SLOs");
  }
  return svg;
}

/** The skipped configurations grouped by mode, layout and reason: [[what, {formats, reason}]]. */
function skippedGroups(skipped) {
  const groups = new Map();
  for (const item of skipped) {
    const what = [item.mode, layoutText(item) || ("tp" in item ? "tp1" : null)].filter(Boolean).join(" ");
    const key = `${what}\n${item.reason}`;
    if (!groups.has(key)) groups.set(key, [what, { formats: new Set(), reason: item.reason }]);
    if (item.format) groups.get(key)[1].formats.add(item.format);
  }
  return [...groups.values()];
}

function renderPlan(result) {
  const out = $("sv-result");
  out.replaceChildren();
  const lines = [];
  if (result.best) {
    const b = result.best;
    const layout = layoutText(b);
    const pools = b.mode === "agg" ? `${b.workers} aggregated replicas` :
      `disaggregated ${b.prefill_workers} prefill + ${b.decode_workers} decode workers`;
    lines.push(`Best under the SLOs: ${pools}${layout ? ` of ${layout}` : ""}, ${b.format}, ${b.max_batch_tokens} tokens/iteration, batch ` +
      `${b.batch} per worker: ${rate(b.tokens_per_s_per_gpu)} tokens/s per GPU, ${rate(b.tokens_per_s_per_user)} ` +
      `per user, TTFT ${secs(b.ttft_s)}, TPOT ${secs(b.tpot_s)}.`);
    lines.push(`Largest rate at the SLOs: ${rate(result.max_rate_at_slo_per_s)} requests/s on ${result.gpus} GPUs ` +
      "(closed-loop steady state).");
  } else if (!result.pareto.length) {
    lines.push("No configuration could be evaluated (each is skipped below, with the reason).");
  } else {
    lines.push("No configuration meets the SLOs.");
  }
  const overhead = overheadText(result.serving_profile);
  if (overhead) lines.push(`Every TTFT includes ${overhead}.`);
  const profile = profileText(result.serving_profile);
  if (profile) lines.push(`${profile}.`);
  lines.push(`${int(result.search.points)} points of ${int(result.search.configurations)} configurations in ` +
    `${secs(result.search.seconds)}; ${result.pareto.length} on the Pareto front (hollow: misses the SLOs).`);
  const skipped = skippedGroups(result.skipped);
  for (const [what, { formats, reason }] of skipped.slice(0, 5)) {
    lines.push(`Skipped ${what}${formats.size ? ` (${[...formats].join(", ")})` : ""}: ${reason}`);
  }
  if (skipped.length > 5) lines.push(`(${skipped.length - 5} more reasons; the JSON lists every skipped configuration)`);
  for (const text of lines) {
    const p = document.createElement("p");
    p.textContent = text;
    out.appendChild(p);
  }
  paretoChart($("sv-pareto"), result);
}

function init() {
  initLayout();
  $("sv-load").addEventListener("change", () => {
    const isRate = $("sv-load").value === "rate";
    $("sv-level-label").textContent = isRate ? "Requests/s" : "Concurrency";
    $("sv-level").value = isRate ? "4" : "16";
  });
  $("sv-run").addEventListener("click", () => busy("run", async () => {
    renderSimulation(await post("/api/serve-sim", simulateBody()));
  }));
  $("sv-plan").addEventListener("click", () => busy("plan", async () => {
    const c = common();
    if (typeof c.isl !== "number" || typeof c.osl !== "number") {
      throw new Error("plan takes fixed input and output lengths (numbers)");
    }
    const { ttft, tpot } = slos();
    const body = { model: c.model, hardware: c.hardware, ...efficiencyBody(page().state), isl: c.isl,
                   osl: c.osl, gpus: Number($("sv-gpus").value), ttft_slo_s: ttft, tpot_slo_s: tpot,
                   ...overheadBody(), ...planLayouts() };
    renderPlan(await post("/api/plan", body));
  }));
}

init();
