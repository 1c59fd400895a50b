// The efficiency's part of the page state (pure: no DOM): defaults, the request's fields, the checks of
// a link's values, and the words for a report's setting. The choices are the API's (GET /api/meta:
// efficiency_modes, engines, default_engine), never a list written here.

// State keys: eff (ideal | hardware | calibrated), eng (the engine profile, with calibrated only).
export const EFFICIENCY_DEFAULTS = { eff: "ideal", eng: "generic" };

export const MODE_LABELS = { ideal: "Ideal roofline (the paper's)", hardware: "Measured (device's fractions)",
  calibrated: "Calibrated (fitted kernel curves)" };

/** The request's efficiency fields: the engine goes with calibrated only (the API refuses it otherwise). */
export function efficiencyBody(s) {
  return s.eff === "calibrated" ? { efficiency: s.eff, engine: s.eng } : { efficiency: s.eff };
}

/** Link values the API would refuse are reset (with a line saying so). ctx: {modes, engines, defaultEngine}. */
export function checkEfficiency(s, reset, ctx) {
  if (!ctx.modes.includes(s.eff)) reset("eff", `the efficiency is one of ${ctx.modes.join(", ")}`);
  if (!ctx.engines.includes(s.eng)) reset("eng", `the engine is one of ${ctx.engines.join(", ")}`);
  else if (s.eng !== ctx.defaultEngine && s.eff !== "calibrated") {
    reset("eng", "an engine applies to the calibrated efficiency only (eff=calibrated)");
  }
}

/** The mode of a report's efficiency (hardware.efficiency names it under calibrated; else the request's). */
export function reportMode(report, requested) {
  const e = report.hardware.efficiency;
  if (e.mode) return e.mode;
  const exact = e.compute_fraction === 1 && e.bandwidth_fraction === 1 && !e.kernel_overhead_s;
  return requested === "hardware" || !exact ? "hardware" : "ideal";
}
