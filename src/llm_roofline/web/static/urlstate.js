// The page's state lives in the URL: read it, write it back, and carry uploaded configs as base64url.

export function readUrl(defaults) {
  const q = new URLSearchParams(location.search);
  const s = { ...defaults };
  for (const k of Object.keys(defaults)) if (q.has(k)) s[k] = q.get(k);
  return s;
}

export function writeUrl(state, defaults) {
  const q = new URLSearchParams();
  for (const k of Object.keys(defaults)) {
    const v = state[k];
    if (v !== defaults[k] && v !== "" && v !== null && v !== undefined) q.set(k, v);
  }
  const url = `${location.pathname}${q.toString() ? `?${q}` : ""}`;
  if (url !== `${location.pathname}${location.search}`) history.replaceState(null, "", url);
}

export function b64encode(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64decode(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}
