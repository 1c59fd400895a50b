// The compression and system optimizations' part of the page state (pure: no DOM): defaults, the
// request's `optimizations` object, and the checks of a link's values (docs/techniques.md).

export const FUSIONS = ["none", "elementwise", "aggressive"];
export const KERNELS = ["", "fa2"];  // "": as the FlashAttention switch says (ideal or naive)
export const SPARSE_FORMATS = ["dense", "csr", "bitmap", "2:4"];
export const KV_ALLOCATIONS = ["exact", "paged", "contiguous"];
// State keys: fus (fusion), attk (attention kernel), wsp / sfmt (weight sparsity and its format),
// offw / offk (offloaded shares of weights and KV cache), kva (KV memory), pfx (cached prefix tokens).
export const OPTIMIZATION_DEFAULTS = { fus: "none", attk: "", wsp: "", sfmt: "dense", offw: "", offk: "",
  kva: "exact", pfx: "" };

/** The request's `optimizations` object for a state (undefined when every optimization is off). */
export function optimizationsBody(s) {
  const o = {};
  if (s.fus !== "none") o.fusion = s.fus;
  if (s.attk) o.attention = s.attk;
  if (s.sfmt !== "dense") o.sparse_format = s.sfmt;
  if (s.wsp && s.sfmt !== "2:4") o.weight_sparsity = Number(s.wsp);
  if (s.offw) o.offload_weights = Number(s.offw);
  if (s.offk) o.offload_kv = Number(s.offk);
  if (s.kva !== "exact") o.kv_allocation = s.kva;
  if (s.pfx) o.prefix_len = Number(s.pfx);
  return Object.keys(o).length ? o : undefined;
}

/** Link values a page cannot use are reset (with a line saying so), as the other parameters are. */
export function checkOptimizations(s, reset) {
  if (!FUSIONS.includes(s.fus)) reset("fus", `not one of ${FUSIONS.join(", ")}`);
  if (!KERNELS.includes(s.attk)) reset("attk", "the attention kernel is fa2 (FlashAttention-2 tiling) or unset");
  if (!SPARSE_FORMATS.includes(s.sfmt)) reset("sfmt", `not one of ${SPARSE_FORMATS.join(", ")}`);
  if (!KV_ALLOCATIONS.includes(s.kva)) reset("kva", `not one of ${KV_ALLOCATIONS.join(", ")}`);
  const share = (key, what, top) => {
    if (s[key] === "") return;
    const v = Number(s[key]);
    if (!(v >= 0 && v <= top)) reset(key, `${what} is a share in [0, ${top}]`);
  };
  share("wsp", "the weight sparsity", 0.999);
  share("offw", "the offloaded share of the weights", 1);
  share("offk", "the offloaded share of the KV cache", 1);
  if (s.pfx !== "" && !(/^\d+$/.test(String(s.pfx)) && Number(s.pfx) < Number(s.p))) {
    reset("pfx", "the cached prefix is a number of tokens below the prompt length");
  }
}
