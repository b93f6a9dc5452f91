/**
 * The backtest's self-contained HTML report: summary tables and inline SVG charts (equity,
 * drawdown, position per instrument, latency percentiles), no script and no external resource,
 * so the file opens anywhere and can be mailed. Long series are reduced to at most 1,200 columns
 * keeping each column's min and max, so spikes stay visible.
 */

export interface Series {
  label: string;
  /** times (ns) and values, same length */
  t: ArrayLike<number>;
  v: ArrayLike<number>;
}

export interface ReportInput {
  title: string;
  subtitle: string;
  summary: Array<[string, string]>;
  perVenue: Array<Record<string, string | number>>;
  equity: Series;
  drawdown: Series;
  positions: Series[];
  /** percentile label -> ns, per stage */
  latency: Array<{ stage: string; p50: number; p90: number; p99: number; p999: number; max: number; count: number }>;
}

const W = 960, H = 240, PAD_L = 70, PAD_R = 16, PAD_T = 14, PAD_B = 28;
const COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7480", "#57606a"];

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e7)) return v.toExponential(2);
  return Number(v.toPrecision(6)).toString();
}

function fmtTime(ns: number): string {
  return new Date(ns / 1e6).toISOString().replace("T", " ").slice(0, 19);
}

/** min/max per pixel column, as a polyline path */
function path(s: Series, x0: number, x1: number, y0: number, y1: number, toX: (t: number) => number, toY: (v: number) => number): string {
  const n = s.t.length;
  if (n === 0) return "";
  const cols = 1200;
  const parts: string[] = [];
  if (n <= cols * 2) {
    for (let i = 0; i < n; i++) parts.push(`${i ? "L" : "M"}${toX(s.t[i]!).toFixed(1)},${toY(s.v[i]!).toFixed(1)}`);
    return parts.join("");
  }
  const span = (x1 - x0) || 1;
  let col = -1, lo = Infinity, hi = -Infinity, first = true, tAt = 0;
  const flush = () => {
    if (col < 0) return;
    const x = toX(tAt).toFixed(1);
    parts.push(`${first ? "M" : "L"}${x},${toY(lo).toFixed(1)}L${x},${toY(hi).toFixed(1)}`);
    first = false;
  };
  for (let i = 0; i < n; i++) {
    const c = Math.floor(((s.t[i]! - x0) / span) * cols);
    if (c !== col) {
      flush();
      col = c;
      lo = Infinity;
      hi = -Infinity;
      tAt = s.t[i]!;
    }
    const v = s.v[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  flush();
  void y0;
  void y1;
  return parts.join("");
}

export function lineChart(title: string, series: Series[], unit = ""): string {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of series) {
    for (let i = 0; i < s.t.length; i++) {
      const t = s.t[i]!, v = s.v[i]!;
      if (!Number.isFinite(v)) continue;
      if (t < x0) x0 = t;
      if (t > x1) x1 = t;
      if (v < y0) y0 = v;
      if (v > y1) y1 = v;
    }
  }
  if (!Number.isFinite(x0)) return `<h3>${esc(title)}</h3><p class="muted">no data</p>`;
  if (y0 === y1) {
    y0 -= 1;
    y1 += 1;
  }
  const toX = (t: number) => PAD_L + ((t - x0) / ((x1 - x0) || 1)) * (W - PAD_L - PAD_R);
  const toY = (v: number) => PAD_T + (1 - (v - y0) / (y1 - y0)) * (H - PAD_T - PAD_B);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => y0 + f * (y1 - y0));
  const grid = ticks.map((v) => `<line x1="${PAD_L}" x2="${W - PAD_R}" y1="${toY(v).toFixed(1)}" y2="${toY(v).toFixed(1)}" class="grid"/><text x="${PAD_L - 6}" y="${(toY(v) + 4).toFixed(1)}" text-anchor="end">${esc(fmtNum(v))}</text>`).join("");
  const xl = `<text x="${PAD_L}" y="${H - 8}">${esc(fmtTime(x0))}</text><text x="${W - PAD_R}" y="${H - 8}" text-anchor="end">${esc(fmtTime(x1))}</text>`;
  const lines = series.map((s, i) => `<path d="${path(s, x0, x1, y0, y1, toX, toY)}" stroke="${COLORS[i % COLORS.length]}" fill="none" stroke-width="1.2"/>`).join("");
  const legend = series.length > 1 ? `<div class="legend">${series.map((s, i) => `<span style="color:${COLORS[i % COLORS.length]}">&#9632; ${esc(s.label)}</span>`).join(" ")}</div>` : "";
  return `<h3>${esc(title)}${unit ? ` <span class="muted">(${esc(unit)})</span>` : ""}</h3>${legend}<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(title)}">${grid}${xl}${lines}</svg>`;
}

function table(rows: Array<Record<string, string | number>>): string {
  if (rows.length === 0) return `<p class="muted">none</p>`;
  const cols = Object.keys(rows[0]!);
  return `<table><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr>${rows.map((r) => `<tr>${cols.map((c) => `<td>${esc(typeof r[c] === "number" ? fmtNum(r[c] as number) : String(r[c] ?? ""))}</td>`).join("")}</tr>`).join("")}</table>`;
}

function latencyBars(rows: ReportInput["latency"]): string {
  if (rows.length === 0) return `<p class="muted">no latency samples</p>`;
  const max = Math.max(...rows.map((r) => r.p999), 1);
  const bar = (v: number, cls: string) => `<span class="bar ${cls}" style="width:${Math.max(1, (Math.log10(1 + v) / Math.log10(1 + max)) * 100).toFixed(1)}%"></span>`;
  return `<table class="lat"><tr><th>stage</th><th>count</th><th>P50</th><th>P90</th><th>P99</th><th>P99.9</th><th>max</th><th style="width:40%">P50 / P99 / P99.9 (log scale)</th></tr>${rows
    .map((r) => `<tr><td>${esc(r.stage)}</td><td>${r.count}</td>${[r.p50, r.p90, r.p99, r.p999, r.max].map((v) => `<td>${esc(fmtNs(v))}</td>`).join("")}<td>${bar(r.p50, "p50")}${bar(r.p99, "p99")}${bar(r.p999, "p999")}</td></tr>`)
    .join("")}</table>`;
}

export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return "-";
  if (ns < 1e3) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(2)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(2)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

export function renderReport(r: ReportInput): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1000px;color:#1f2328;padding:0 12px}
h1{font-size:22px;margin:0}h3{font-size:15px;margin:22px 0 4px}.muted{color:#656d76;font-weight:normal}
table{border-collapse:collapse;margin:6px 0}td,th{border-bottom:1px solid #d0d7de;padding:3px 10px;text-align:right}th{background:#f6f8fa}
td:first-child,th:first-child{text-align:left}svg text{font-size:11px;fill:#57606a}.grid{stroke:#eaeef2}
.legend span{margin-right:14px}.bar{display:inline-block;height:6px;margin:1px 0;vertical-align:middle}.lat td:last-child{text-align:left}
.bar.p50{background:#1a7f37;display:block}.bar.p99{background:#9a6700;display:block}.bar.p999{background:#d1242f;display:block}
</style></head><body>
<h1>${esc(r.title)}</h1><p class="muted">${esc(r.subtitle)}</p>
<h3>Summary</h3>${table(r.summary.map(([k, v]) => ({ figure: k, value: v })))}
<h3>Per venue</h3>${table(r.perVenue)}
${lineChart("Equity", [r.equity], "quote currency")}
${lineChart("Drawdown", [r.drawdown], "quote currency below the running peak")}
${lineChart("Position", r.positions, "base units")}
<h3>Latency per stage</h3>${latencyBars(r.latency)}
</body></html>
`;
}
