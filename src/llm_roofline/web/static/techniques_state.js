// The techniques' part of the page state (pure: no DOM): defaults, the request's `techniques` object,
// and the checks of a link's values.

export const PRESETS = ["eagle3", "eagle2", "medusa2", "mtp", "lookahead", "jacobi"];
export const EVICTIONS = ["streaming", "h2o", "snapkv"];
// State keys: spec (preset), tau (override), ee (share of layers), smlp / shead (active shares), kve / kvb.
export const TECHNIQUE_DEFAULTS = { spec: "", tau: "", ee: "", smlp: "", shead: "", kve: "", kvb: "1024" };

/** The request's `techniques` object for a state (undefined when every technique is off). */
export function techniquesBody(s) {
  const t = {};
  if (s.spec) t.speculative = s.tau ? { preset: s.spec, tau: Number(s.tau) } : s.spec;
  if (s.ee) t.early_exit = Number(s.ee);
  if (s.smlp || s.shead) {
    t.sparsity = {};
    if (s.smlp) t.sparsity.mlp = Number(s.smlp);
    if (s.shead) t.sparsity.heads = Number(s.shead);
  }
  if (s.kve) t.kv_eviction = { method: s.kve, budget: Number(s.kvb) || 1024 };
  return Object.keys(t).length ? t : undefined;
}

/** Link values a page cannot use are reset (with a line saying so), as the other parameters are. */
export function checkTechniques(s, reset) {
  if (s.spec && !PRESETS.includes(s.spec)) reset("spec", `not one of ${PRESETS.join(", ")}`);
  const share = (key, what) => {
    if (s[key] === "") return;
    const v = Number(s[key]);
    if (!(v > 0 && v <= 1)) reset(key, `${what} is a share in (0, 1]`);
  };
  share("ee", "early exit");
  share("smlp", "the active MLP share");
  share("shead", "the active head share");
  if (s.tau !== "" && !(Number(s.tau) >= 1)) reset("tau", "tau is a number of tokens per iteration, at least 1");
  if (s.kve && !EVICTIONS.includes(s.kve)) reset("kve", `not one of ${EVICTIONS.join(", ")}`);
  if (!/^\d+$/.test(String(s.kvb)) || Number(s.kvb) < 2) reset("kvb", "the KV budget is an integer of at least 2");
}
