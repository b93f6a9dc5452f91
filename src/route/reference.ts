/**
 * Plain object-based router, written the obvious way: gather every usable level of every venue
 * as an object, sort them all by fee- and latency-adjusted price, take from the front. It is the
 * comparison the bench prints beside SmartOrderRouter and an independent check in the tests (a
 * global sort instead of a k-way merge over typed arrays); nothing in the engine calls it.
 */
import type { Side } from "../domain/order.ts";

export interface RefVenue {
  name: string;
  bids: Array<{ price: number; amount: number }>;
  asks: Array<{ price: number; amount: number }>;
  takerFeeBps: number;
  up: boolean;
  inSync: boolean;
  latencyNs: number;
}

export interface RefChild {
  venue: number;
  amount: number;
  limitPrice: number;
}

export interface RefRoute {
  children: RefChild[];
  filled: number;
  notional: number;
  fees: number;
  score: number;
}

export function routeReference(
  venues: RefVenue[],
  side: Side,
  amount: number,
  opts: { latencyPenaltyBpsPerMs?: number; maxLatencyNs?: number; limitPrice?: number } = {},
): RefRoute {
  const isBuy = side === "buy";
  const limit = opts.limitPrice ?? (isBuy ? Infinity : 0);
  const pen = opts.latencyPenaltyBpsPerMs ?? 0;
  const pool: Array<{ venue: number; price: number; amount: number; eff: number; lat: number; level: number }> = [];
  venues.forEach((v, vi) => {
    if (!v.up || !v.inSync || v.latencyNs > (opts.maxLatencyNs ?? Infinity)) return;
    const bps = v.takerFeeBps + (pen * v.latencyNs) / 1e6;
    const ladder = isBuy ? v.asks : v.bids;
    ladder.forEach((l, level) => {
      if (isBuy ? l.price > limit : l.price < limit) return;
      pool.push({ venue: vi, price: l.price, amount: l.amount, eff: l.price * (isBuy ? 1 + bps / 1e4 : 1 - bps / 1e4), lat: v.latencyNs, level });
    });
  });
  pool.sort((a, b) => (isBuy ? a.eff - b.eff : b.eff - a.eff) || a.lat - b.lat || a.venue - b.venue || a.level - b.level);
  const out: RefRoute = { children: [], filled: 0, notional: 0, fees: 0, score: 0 };
  let left = amount;
  for (const l of pool) {
    if (left <= 0) break;
    const take = Math.min(l.amount, left);
    let c = out.children.find((x) => x.venue === l.venue);
    if (!c) out.children.push((c = { venue: l.venue, amount: 0, limitPrice: l.price }));
    c.amount += take;
    c.limitPrice = isBuy ? Math.max(c.limitPrice, l.price) : Math.min(c.limitPrice, l.price);
    out.notional += take * l.price;
    out.fees += (take * l.price * venues[l.venue]!.takerFeeBps) / 1e4;
    out.score += take * l.eff;
    left -= take;
  }
  out.filled = amount - Math.max(0, left);
  return out;
}
