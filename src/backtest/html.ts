/** The backtest's report.html from a run and its results (see report.ts for the page). */
import { renderReport } from "./report.ts";
import type { BacktestRun, backtestResults } from "./run.ts";

export function renderBacktestReport(r: BacktestRun, res: ReturnType<typeof backtestResults> & Record<string, unknown>): string {
  const c = r.core.curve;
  const t = Float64Array.from(c.t);
  const eq = Float64Array.from(c.equity, (e) => r.capital + e);
  const dd = new Float64Array(eq.length);
  let peak = -Infinity;
  for (let i = 0; i < eq.length; i++) {
    peak = Math.max(peak, eq[i]!);
    dd[i] = eq[i]! - peak;
  }
  const fx = (v: number, d = 4) => (Number.isFinite(v) ? Number(v.toFixed(d)).toString() : String(v));
  return renderReport({
    title: `Backtest: ${res.strategy as string}`,
    subtitle: `${(res.data as string[]).join(", ")} — seed ${res.seed}, latency ${res.latencyUs as number} µs each way, fees ${JSON.stringify(res.fees)}, ${res.queue as string} queue`,
    summary: [
      ["PnL (quote)", fx(res.pnl)],
      ["fees (quote)", fx(res.fees)],
      ["turnover (quote)", fx(res.turnover, 2)],
      ["Sharpe (1-min returns, annualised)", fx(res.sharpe, 2)],
      ["Sortino", fx(res.sortino, 2)],
      ["max drawdown (quote)", fx(res.maxDrawdown)],
      ["orders / fills", `${res.orders} / ${res.fills}`],
      ["fill ratio (amount)", fx(res.fillRatio, 3)],
      ["risk rejects", JSON.stringify(res.riskRejects)],
      ["kill switch", res.killSwitch ? JSON.stringify(res.killSwitch) : "not tripped"],
      ["records / engine throughput", `${res.records} / ${fx(res.run.recordsPerS / 1e6, 2)} M records/s`],
    ],
    perVenue: res.perVenue.map((v) => ({ ...v })),
    equity: { label: "equity", t, v: eq },
    drawdown: { label: "drawdown", t, v: dd },
    positions: r.instruments.map((i) => ({ label: `${i.venue} ${i.symbol}`, t, v: Float64Array.from(c.positions, (p) => p[i.id] ?? 0) })),
    latency: Object.entries(res.run.latencyNs).map(([stage, s]) => ({ stage, p50: s.p50, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max, count: s.count })),
  });
}
