/**
 * Performance statistics of a backtest from its equity curve and fills. Definitions (stated so
 * results can be checked by hand):
 *  - returns: simple returns of equity sampled on a fixed grid (`periodS`, default 60 s), each
 *    over the equity at the period's start; periods with no equity change count as 0.
 *  - Sharpe = mean(r) / stdev(r) * sqrt(periods per year), sample stdev (n-1), risk-free 0;
 *    Sortino = mean(r) / downside deviation * sqrt(periods per year), downside deviation =
 *    sqrt(sum(min(r,0)^2) / n). Both NaN with fewer than 2 returns or zero deviation.
 *  - max drawdown: largest fall from a running peak of equity, absolute and as a fraction of
 *    that peak; its peak and trough times.
 *  - fill ratio: filled amount / amount ordered, over orders that reached the venue.
 * Crypto trades every day: a year is 365 days.
 */

export interface EquityPoint {
  tNs: number;
  equity: number;
}

export interface Drawdown {
  abs: number;
  frac: number;
  peakNs: number;
  troughNs: number;
}

const YEAR_S = 365 * 86400;

/** Equity resampled on a grid of `periodS` seconds (last value at or before each grid point). */
export function resample(points: readonly EquityPoint[], periodS: number): number[] {
  if (points.length === 0) return [];
  const step = periodS * 1e9;
  const out: number[] = [];
  let j = 0;
  for (let t = points[0]!.tNs; t <= points[points.length - 1]!.tNs + step - 1; t += step) {
    while (j + 1 < points.length && points[j + 1]!.tNs <= t) j++;
    out.push(points[j]!.equity);
  }
  return out;
}

export function returns(eq: readonly number[]): number[] {
  const r: number[] = [];
  for (let i = 1; i < eq.length; i++) r.push(eq[i - 1]! !== 0 ? (eq[i]! - eq[i - 1]!) / Math.abs(eq[i - 1]!) : 0);
  return r;
}

export function sharpe(r: readonly number[], periodS: number): number {
  if (r.length < 2) return NaN;
  const m = r.reduce((a, b) => a + b, 0) / r.length;
  const v = r.reduce((a, b) => a + (b - m) * (b - m), 0) / (r.length - 1);
  const sd = Math.sqrt(v);
  return sd > 0 ? (m / sd) * Math.sqrt(YEAR_S / periodS) : NaN;
}

export function sortino(r: readonly number[], periodS: number): number {
  if (r.length < 2) return NaN;
  const m = r.reduce((a, b) => a + b, 0) / r.length;
  const dd = Math.sqrt(r.reduce((a, b) => a + (b < 0 ? b * b : 0), 0) / r.length);
  return dd > 0 ? (m / dd) * Math.sqrt(YEAR_S / periodS) : NaN;
}

export function maxDrawdown(points: readonly EquityPoint[]): Drawdown {
  let peak = -Infinity, peakNs = 0;
  const worst: Drawdown = { abs: 0, frac: 0, peakNs: 0, troughNs: 0 };
  for (const p of points) {
    if (p.equity > peak) {
      peak = p.equity;
      peakNs = p.tNs;
    }
    const dd = peak - p.equity;
    if (dd > worst.abs) {
      worst.abs = dd;
      worst.frac = peak !== 0 ? dd / Math.abs(peak) : 0;
      worst.peakNs = peakNs;
      worst.troughNs = p.tNs;
    }
  }
  return worst;
}
