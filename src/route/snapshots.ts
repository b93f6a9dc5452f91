/**
 * Venue depth snapshots read into plain ladders (cold path): to seed a consolidated book for the
 * router's tests and bench, or a simulated exchange's book, from recorded data in ../shared/data.
 * Each reader checks the shape it relies on and says which file broke it.
 */
import { readFileSync } from "node:fs";

export type Ladder = Array<[number, number]>;

export interface DepthSnapshot {
  name: string;
  /** best first */
  bids: Ladder;
  asks: Ladder;
}

function level(l: unknown, file: string): [number, number] {
  if (!Array.isArray(l) || l.length < 2) throw new Error(`${file}: a level is not [price, amount]: ${JSON.stringify(l)}`);
  const p = Number(l[0]), a = Number(l[1]);
  if (!(p > 0) || !(a >= 0)) throw new Error(`${file}: level ${JSON.stringify(l)} has no valid price/amount`);
  return [p, a];
}

function ladders(bids: unknown, asks: unknown, file: string, name: string): DepthSnapshot {
  if (!Array.isArray(bids) || !Array.isArray(asks)) throw new Error(`${file}: no bids/asks arrays`);
  const snap = { name, bids: bids.map((l) => level(l, file)).filter((l) => l[1] > 0), asks: asks.map((l) => level(l, file)).filter((l) => l[1] > 0) };
  for (const [side, l, worse] of [["bids", snap.bids, (a: number, b: number) => a < b], ["asks", snap.asks, (a: number, b: number) => a > b]] as const) {
    for (let i = 1; i < l.length; i++) if (!worse(l[i]![0], l[i - 1]![0])) throw new Error(`${file}: ${side} not best first at level ${i}`);
  }
  return snap;
}

/** The REST depth snapshot line (`{"lastUpdateId":...}`) of an hftbacktest Binance capture (`<recv_ns> <json>` lines, gzip). */
export function binanceRest(file: string, name: string): DepthSnapshot {
  const text = new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(readFileSync(file))));
  const at = text.indexOf('{"lastUpdateId"');
  if (at < 0) throw new Error(`${file}: no REST depth snapshot line`);
  const end = text.indexOf("\n", at);
  const j = JSON.parse(text.slice(at, end < 0 ? undefined : end)) as { bids: unknown; asks: unknown };
  return ladders(j.bids, j.asks, file, name);
}

/** The first (snapshot) message of a Bybit orderbook history dump (`…_ob500.jsonl.gz`). */
export function bybitOb500(file: string, name = "bybit"): DepthSnapshot {
  const text = new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(readFileSync(file))));
  const j = JSON.parse(text.slice(0, text.indexOf("\n"))) as { type: string; data: { b: unknown; a: unknown } };
  if (j.type !== "snapshot") throw new Error(`${file}: does not start with a snapshot (type ${j.type})`);
  return ladders(j.data.b, j.data.a, file, name);
}

/** Kraken REST /0/public/Depth response (`result.<pair>.bids/asks` of [price, volume, time]). */
export function krakenRest(file: string, name = "kraken"): DepthSnapshot {
  const j = JSON.parse(readFileSync(file, "utf8")) as { error?: unknown[]; result?: Record<string, { bids: unknown; asks: unknown }> };
  const book = j.result && Object.values(j.result)[0];
  if (!book) throw new Error(`${file}: no result book (error ${JSON.stringify(j.error)})`);
  return ladders(book.bids, book.asks, file, name);
}

/** First row of a Tardis `book_snapshot_N` CSV. */
export function tardisSnapshot(file: string, name = "tardis"): DepthSnapshot {
  const [head, row] = readFileSync(file, "utf8").split("\n");
  if (!head || !row) throw new Error(`${file}: needs a header and a row`);
  const h = head.split(","), r = row.split(",");
  const bids: Array<[string, string]> = [], asks: Array<[string, string]> = [];
  for (let i = 0; h.includes(`asks[${i}].price`); i++) {
    asks.push([r[h.indexOf(`asks[${i}].price`)]!, r[h.indexOf(`asks[${i}].amount`)]!]);
    bids.push([r[h.indexOf(`bids[${i}].price`)]!, r[h.indexOf(`bids[${i}].amount`)]!]);
  }
  if (!asks.length) throw new Error(`${file}: no asks[0].price column`);
  return ladders(bids, asks, file, name);
}

/**
 * Moves a book recorded on another day (or another coin) onto `mid`: prices scaled by the ratio
 * of mids (rounded to `digits`), amounts by its inverse, so the ladder keeps its real shape in
 * notional; levels that rounding merges are summed.
 */
export function rebase(s: DepthSnapshot, mid: number, digits = 2): DepthSnapshot {
  const m = (s.bids[0]![0] + s.asks[0]![0]) / 2, k = mid / m;
  const merge = (l: Ladder, bid: boolean) => {
    const out: Ladder = [];
    for (const [p, a] of l) {
      const q = Number((p * k).toFixed(digits));
      const last = out[out.length - 1];
      if (last && (bid ? q >= last[0] : q <= last[0])) last[1] += a / k;
      else out.push([q, a / k]);
    }
    return out;
  };
  return { name: s.name, bids: merge(s.bids, true), asks: merge(s.asks, false) };
}
