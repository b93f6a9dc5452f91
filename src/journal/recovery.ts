/**
 * Recovery and reconciliation after a restart: the journal's view of live orders is settled
 * against what the venue says, before any new order is sent. Never resends an order: an intent
 * whose fate is unknown is looked up (open orders, fills), never submitted again.
 *
 * Rules, in order:
 *  1. Intents younger than `inFlightGraceMs` wait until they are that old: a request written just
 *     before the crash could still be on its way (Binance refuses requests older than recvWindow,
 *     so the grace is the venue's recvWindow in production).
 *  2. Fills since the last journaled fill of each symbol (minus a margin) are fetched and applied
 *     once (the trade id is the key). A fill of an order the journal does not know is adopted by
 *     the unknown-order rule below (its order row is rebuilt from the fills).
 *  3. A journaled live order the venue lists as open is kept (a missing ack is filled in); if the
 *     journal had asked to cancel it, the cancel is sent again (a cancel is idempotent).
 *  4. A journaled live order the venue does not list as open, after its fills are applied: filled
 *     if its fills cover the amount; else `cancelled` if we had asked to cancel it, else `expired`
 *     (the venue ended it without our asking — IOC/FOK remainder, venue-side cancel — or it never
 *     reached the venue; in both cases it holds nothing and will not fill). If the gateway can look
 *     an order up (`order()`), the venue's status is taken instead.
 *  5. A venue-open order the journal does not know: `adopt` (journaled as origin 'adopted', kept)
 *     or `cancel` (journaled, then cancelled). Orders whose client id does not carry one of this
 *     journal's session prefixes are someone else's (manual trading on the same account) and
 *     follow `foreignPolicy` (default `ignore`), counted either way.
 *  6. Positions are recomputed from the fills and compared with the snapshot; a difference is
 *     reported and the snapshot rebuilt from the fills.
 */
import type { ExecReport, Gateway, OrderStatus, VenueOrder } from "../domain/order.ts";
import type { OrderJournal } from "./journal.ts";
import type { OrderRow } from "./store.ts";

export type UnknownOrderPolicy = "adopt" | "cancel";

export interface RecoveryOptions {
  unknownPolicy?: UnknownOrderPolicy;
  foreignPolicy?: UnknownOrderPolicy | "ignore";
  /** rule 1, ms (default 5000, Binance's default recvWindow) */
  inFlightGraceMs?: number;
  /** fills are fetched from (last journaled fill - margin), ms */
  fillMarginMs?: number;
  /** with no journaled fill of a symbol, fills are fetched from its oldest live order, or now - lookback */
  lookbackMs?: number;
  /** symbols to query beyond the journal's own (the venue's open orders are queried for all) */
  symbols?: string[];
}

export interface RecoveryReport {
  liveBefore: number;
  keptOpen: number;
  ackFilled: number;
  filled: number;
  cancelled: number;
  expired: number;
  fillsApplied: number;
  fillsDuplicate: number;
  adopted: number;
  adoptedFromFills: number;
  cancelledUnknown: number;
  foreignIgnored: number;
  cancelsResent: number;
  positionMismatches: number;
  refused: number;
  waitedMs: number;
}

/** A gateway that can look one order up by client id (optional: not in the Gateway contract). */
interface OrderLookup {
  order?(symbol: string, clientOrderId: string): Promise<VenueOrder | undefined>;
}

const EPS = 1e-9;

export async function recover(journal: OrderJournal, gw: Gateway & OrderLookup, opts: RecoveryOptions = {}): Promise<RecoveryReport> {
  const policy = opts.unknownPolicy ?? "adopt";
  const foreign = opts.foreignPolicy ?? "ignore";
  const grace = opts.inFlightGraceMs ?? 5000;
  const margin = opts.fillMarginMs ?? 60_000;
  const lookback = opts.lookbackMs ?? 24 * 3600_000;
  const store = journal.store;
  const venue = gw.venue;
  const rep: RecoveryReport = {
    liveBefore: 0, keptOpen: 0, ackFilled: 0, filled: 0, cancelled: 0, expired: 0, fillsApplied: 0, fillsDuplicate: 0, adopted: 0,
    adoptedFromFills: 0, cancelledUnknown: 0, foreignIgnored: 0, cancelsResent: 0, positionMismatches: 0, refused: 0, waitedMs: 0,
  };
  const must = (ok: boolean): void => {
    if (!ok) {
      rep.refused++;
      throw new Error(`journal ${journal.path}: the journal refused a recovery record (ring full or an id that does not fit); recovery stopped before sending anything`);
    }
  };
  await journal.flush();
  const live0 = store.liveOrders().filter((o) => o.venue === venue);
  let live = live0;
  rep.liveBefore = live.length;

  // 1. in-flight grace
  const youngest = live.reduce((m, o) => (o.status === "pending_new" ? Math.max(m, o.created_ms) : m), 0);
  const wait = youngest + grace - Date.now();
  if (wait > 0) {
    rep.waitedMs = wait;
    await Bun.sleep(wait);
  }

  const prefixes = store.sessionPrefixes();
  const ours = (cid: string): boolean => prefixes.some((p) => cid.startsWith(p));
  const venueOpen = await gw.openOrders();
  const openById = new Map(venueOpen.map((o) => [o.clientOrderId, o]));

  // 2. fills missed while down
  const symbols = new Set<string>([...live.map((o) => o.symbol), ...venueOpen.map((o) => o.symbol), ...(opts.symbols ?? [])]);
  for (const r of store.routes()) if (r.venue === venue) symbols.add(r.symbol);
  const fillsByOrder = new Map<string, ExecReport[]>();
  for (const symbol of symbols) {
    const last = store.lastFillMs(venue, symbol);
    const oldestLive = live.filter((o) => o.symbol === symbol).reduce((m, o) => Math.min(m, o.created_ms), Infinity);
    const since = Math.max(0, Math.min(last ?? Date.now() - lookback, oldestLive) - margin);
    for (const f of await gw.fills(symbol, since)) {
      const list = fillsByOrder.get(f.clientOrderId);
      if (list) list.push(f);
      else fillsByOrder.set(f.clientOrderId, [f]);
    }
  }
  const mark = journal.nextSeq;
  for (const [cid, fills] of fillsByOrder) {
    if (!store.order(cid)) {
      const f0 = fills[0]!;
      const vo = openById.get(cid);
      const isOurs = ours(cid);
      if (!isOurs && foreign === "ignore") {
        rep.foreignIgnored++;
        continue;
      }
      // an order we never journaled but the venue filled: rebuilt from the venue's view
      const amount = vo ? vo.amount : Math.max(...fills.map((f) => f.filled + f.remaining));
      must(journal.adopt({ clientOrderId: cid, venue, symbol: f0.symbol, side: f0.side, type: vo?.type ?? "limit", price: vo?.price ?? f0.lastPrice, amount, timeInForce: "GTC" }));
      rep.adoptedFromFills++;
    }
    for (const f of fills) must(journal.report(f));
  }
  await journal.flush();
  // the worker inserts the rows: a fill is new if its row carries a sequence written just now
  rep.fillsApplied = countNewFills(journal, fillsByOrder, mark);
  rep.fillsDuplicate = [...fillsByOrder.values()].reduce((n, l) => n + l.length, 0) - rep.fillsApplied;

  // 3 and 4: settle every journaled live order
  live = store.liveOrders().filter((o) => o.venue === venue);
  const now = Date.now();
  for (const o of live) {
    const vo = openById.get(o.client_id);
    if (vo) {
      if (o.status === "pending_new") {
        must(journal.report(synth(o, "ack", vo.venueOrderId, vo.filled, now)));
        rep.ackFilled++;
      }
      if (o.status === "pending_cancel") {
        must(journal.cancel(venue, o.symbol, o.client_id));
        gw.cancel(o.symbol, o.client_id);
        rep.cancelsResent++;
      } else rep.keptOpen++;
      continue;
    }
    if (o.filled >= o.amount - EPS) continue; // its fills made it filled (counted below)
    let status: OrderStatus = o.status === "pending_cancel" ? "cancelled" : "expired";
    if (gw.order) {
      const v = await gw.order(o.symbol, o.client_id);
      if (v && (v.status === "cancelled" || v.status === "expired" || v.status === "rejected")) status = v.status;
    }
    must(journal.report(synth(o, status === "cancelled" ? "cancelled" : status === "rejected" ? "rejected" : "expired", undefined, o.filled, now,
      `recovery: not open at venue (${o.status === "pending_cancel" ? "cancel requested" : "ended without our cancel, or never reached it"})`)));
    if (status === "cancelled") rep.cancelled++;
    else rep.expired++;
  }

  // 5. venue-open orders the journal does not know
  for (const vo of venueOpen) {
    if (store.order(vo.clientOrderId) || fillsByOrder.has(vo.clientOrderId) && ours(vo.clientOrderId)) continue;
    const isOurs = ours(vo.clientOrderId);
    const what = isOurs ? policy : foreign;
    if (what === "ignore") {
      rep.foreignIgnored++;
      continue;
    }
    must(journal.adopt({ clientOrderId: vo.clientOrderId, venue, symbol: vo.symbol, side: vo.side, type: vo.type, price: vo.price, amount: vo.amount, timeInForce: "GTC" }));
    must(journal.report({ kind: "ack", venue, symbol: vo.symbol, clientOrderId: vo.clientOrderId, venueOrderId: vo.venueOrderId, side: vo.side, lastAmount: 0, lastPrice: 0, filled: vo.filled, remaining: vo.amount - vo.filled, fee: 0, venueTimeMs: vo.timeMs }));
    if (what === "cancel") {
      must(journal.cancel(venue, vo.symbol, vo.clientOrderId));
      gw.cancel(vo.symbol, vo.clientOrderId);
      rep.cancelledUnknown++;
    } else rep.adopted++;
  }
  await journal.flush();
  for (const o of live0) if (store.order(o.client_id)?.status === "filled") rep.filled++;

  // 6. positions from fills vs the snapshot
  const snap = new Map(store.positions().map((p) => [`${p.venue}\u0000${p.symbol}`, p]));
  const truth = store.positionsFromFills();
  for (const t of truth) {
    const s = snap.get(`${t.venue}\u0000${t.symbol}`);
    if (!s || Math.abs(s.qty - t.qty) > EPS * Math.max(1, Math.abs(t.qty)) || Math.abs(s.cost - t.cost) > 1e-6 * Math.max(1, Math.abs(t.cost))) rep.positionMismatches++;
  }
  if (snap.size !== truth.length) rep.positionMismatches += Math.abs(snap.size - truth.length);
  if (rep.positionMismatches) store.rebuildPositions();
  store.event("recovery", null, { venue, policy, foreign, ...rep });
  return rep;
}

function synth(o: OrderRow, kind: ExecReport["kind"], venueOrderId: string | undefined, filled: number, tsMs: number, reason?: string): ExecReport {
  const r: ExecReport = {
    kind, venue: o.venue, symbol: o.symbol, clientOrderId: o.client_id, side: o.side, lastAmount: 0, lastPrice: 0,
    filled, remaining: o.amount - filled, fee: 0, venueTimeMs: tsMs,
  };
  if (venueOrderId) r.venueOrderId = venueOrderId;
  if (reason) r.reason = reason;
  return r;
}

function countNewFills(journal: OrderJournal, fills: Map<string, ExecReport[]>, mark: number): number {
  let n = 0;
  const q = journal.store.db.query(`SELECT seq FROM fills WHERE venue = ?1 AND symbol = ?2 AND trade_id = ?3`);
  for (const list of fills.values()) {
    for (const f of list) {
      const row = q.get(f.venue, f.symbol, f.tradeId ?? "") as { seq: number | null } | null;
      if (row && row.seq !== null && row.seq >= mark) n++;
    }
  }
  return n;
}
