// Compression and system optimizations (fusion, FlashAttention-2 tiling, weight sparsity, offloading,
// paged KV memory, prefix caching): their controls (docs/techniques.md). The request's part and the link
// checks are in optimizations_state.js; the report's `optimizations` reaches the table and metrics as is.
import { $ } from "./dom.js";
import { app, setState } from "./store.js";
import { FUSIONS, KV_ALLOCATIONS, SPARSE_FORMATS } from "./optimizations_state.js";

const CONTROLS = [["fusion", "fus"], ["attk", "attk"], ["wsp", "wsp"], ["sfmt", "sfmt"], ["offw", "offw"],
  ["offk", "offk"], ["kva", "kva"], ["pfx", "pfx"]];

export function fillOptimizations() {
  const s = app.state;
  for (const [id, key] of CONTROLS) $(id).value = s[key];
  $("wsp").disabled = s.sfmt === "dense" || s.sfmt === "2:4";
}

export function bindOptimizations() {
  const options = (values, label) => values.map((v) => `<option value="${v}">${label(v)}</option>`).join("");
  $("fusion").innerHTML = options(FUSIONS, (v) => v);
  $("attk").innerHTML = '<option value="">as the FlashAttention switch</option><option value="fa2">FlashAttention-2 tiling</option>';
  $("sfmt").innerHTML = options(SPARSE_FORMATS, (v) => (v === "dense" ? "dense (no sparse storage)" : v));
  $("kva").innerHTML = options(KV_ALLOCATIONS, (v) => v);
  for (const [id, key] of CONTROLS) {
    const event = $(id).tagName === "SELECT" ? "change" : "input";
    $(id).addEventListener(event, () => { setState({ [key]: $(id).value }); fillOptimizations(); });
  }
}
