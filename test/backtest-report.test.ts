import { describe, expect, test } from "bun:test";
import { maxDrawdown, resample, returns, sharpe, sortino } from "../src/backtest/stats.ts";
import { lineChart, renderReport } from "../src/backtest/report.ts";

describe("backtest statistics", () => {
  test("resample keeps the last value at or before each grid point, through the end", () => {
    const pts = [{ tNs: 0, equity: 100 }, { tNs: 30e9, equity: 101 }, { tNs: 61e9, equity: 99 }, { tNs: 125e9, equity: 103 }];
    expect(resample(pts, 60)).toEqual([100, 101, 99, 103]); // grid 0,60,120,180: the end is covered
    expect(resample([], 60)).toEqual([]);
  });

  test("Sharpe and Sortino by hand on a small series", () => {
    const r = [0.01, -0.02, 0.03, 0.0];
    // mean 0.005, sample sd = sqrt(((.005)^2+(.025)^2+(.025)^2+(.005)^2)/3) = sqrt(0.0013/3)
    const periodS = 86400;
    expect(sharpe(r, periodS)).toBeCloseTo((0.005 / Math.sqrt(0.0013 / 3)) * Math.sqrt(365), 10);
    // downside deviation sqrt(0.0004/4) = 0.01
    expect(sortino(r, periodS)).toBeCloseTo((0.005 / 0.01) * Math.sqrt(365), 10);
    expect(sharpe([0.01], periodS)).toBeNaN();
    expect(sharpe([0.01, 0.01], periodS)).toBeNaN();
    expect(sortino([0.01, 0.02], periodS)).toBeNaN();
    expect(returns([100, 110, 99])).toEqual([0.1, -0.1]);
  });

  test("max drawdown finds the deepest fall from a running peak, with its times", () => {
    const pts = [100, 120, 90, 130, 95, 125, 140].map((e, i) => ({ tNs: i, equity: e }));
    expect(maxDrawdown(pts)).toEqual({ abs: 35, frac: 35 / 130, peakNs: 3, troughNs: 4 });
    expect(maxDrawdown([{ tNs: 0, equity: 1 }, { tNs: 1, equity: 2 }]).abs).toBe(0);
  });
});

describe("HTML report", () => {
  test("self-contained: no script, no external resource; escapes text; long series reduced with their extremes kept", () => {
    const n = 100_000;
    const t = new Float64Array(n).map((_, i) => 1.7e18 + i * 1e6);
    const v = new Float64Array(n).map((_, i) => Math.sin(i / 1000));
    v[54_321] = 50; // a spike must survive the reduction
    const html = renderReport({
      title: "Backtest <market-maker>",
      subtitle: "binanceusdm BTC/USDT:USDT",
      summary: [["PnL", "12.5"], ["Sharpe", "1.2"]],
      perVenue: [{ venue: "binanceusdm", orders: 10, fills: 4 }],
      equity: { label: "equity", t, v },
      drawdown: { label: "dd", t: [1, 2], v: [0, -1] },
      positions: [{ label: "BTC", t: [1, 2], v: [0, 0.1] }, { label: "ETH", t: [1, 2], v: [0, -1] }],
      latency: [{ stage: "tick-to-decision", p50: 900, p90: 1500, p99: 4000, p999: 9000, max: 20000, count: 1000 }],
    });
    expect(html).toStartWith("<!doctype html>");
    expect(html).not.toMatch(/<script|src=|href=|@import|url\(/);
    expect(html).toContain("Backtest &lt;market-maker&gt;");
    expect(html).toContain("4.00 µs");
    expect(html.length).toBeLessThan(400_000);
    // the spike's value is the top grid label of the equity chart
    expect(lineChart("x", [{ label: "e", t, v }])).toContain(">50<");
  });
});
