/**
 * SimExchange: one simulated venue account, used by backtests (virtual time) and paper trading
 * (real time) alike, through SimGateway or the Binance-speaking local server.
 *
 * What it models
 * - The venue's L2 book as market data says it is (onBookLevel), and its prints (onTrade). That
 *   book holds other participants' liquidity only; our own orders live beside it.
 * - Our orders match against that book and against each other with price-time priority: a taker
 *   walks prices best first; at one price the queue is venue amount ahead of our first resting
 *   order (its `front`), that order, venue amount between it and the next of ours, ..., the rest of
 *   the venue amount. Liquidity we take is removed from the local book until the venue's next
 *   update of that level replaces it.
 * - A resting order fills when prints at its price have consumed the queue ahead of it (the
 *   QueueModel says how non-print decreases move it), fully when a print trades through its price,
 *   and when the venue's opposite side moves onto it (it fills as maker at its own price against
 *   the amount shown).
 * - Binance spot rules: LOT_SIZE / PRICE_FILTER / MIN_NOTIONAL filters, balances reserved at entry
 *   (buys reserve notional plus the highest fee rate, sells reserve base), fees in quote,
 *   newClientOrderId unique for the life of the account, reject and cancel-reject codes as the
 *   venue's (-1013, -2010, -2011, -1121), optional self-trade prevention per strategy.
 * - A cash account (spot) by default: perpetual symbols are accepted but positions, margin and
 *   reduceOnly are not modelled; the base asset's balance stands in for the position. With
 *   `account: "margin"` (per SimExchange, i.e. per venue): a position per symbol that can go
 *   short without base, fees and realised PnL settled in the quote asset, initial margin
 *   (notional / leverage + worst fee) held on the quote balance per open order and released as it
 *   fills, reduceOnly orders refused when they would not reduce (-2022) and capped at flat when
 *   they fill. Not modelled: margin held against open positions, unrealised PnL in the free
 *   balance, funding, liquidation.
 *
 * Contract of the synchronous core: place() and cancel() return every report the request causes
 * at once, in order (ack or reject, then fills of the taker, each followed by the maker fill when
 * the other side is one of our resting orders, then expiry of an IOC/FOK/market remainder).
 * Reports that market data causes later go to onReport handlers. Nothing here reads a clock: time
 * is the tsNs argument of each call, so the same calls give the same reports.
 */
import type { ExecReport, OrderRequest, OrderStatus, OrderType, Side, VenueOrder } from "../../domain/order.ts";
import { Ladder } from "./ladder.ts";
import { BpsFeeModel, ConservativeQueue, type FeeModel, type QueueModel } from "./models.ts";

export interface SymbolSpec {
  symbol: string;
  tickSize: number;
  lotSize: number;
  minNotional: number;
  base: string;
  quote: string;
}

export interface SimExchangeOptions {
  venue: string;
  fees?: FeeModel;
  queue?: QueueModel;
  /** kept for models that draw; the core itself is deterministic without it */
  seed?: number;
  /** initial balances per asset */
  balances?: Record<string, number>;
  /** fills kept per symbol for fills(symbol, sinceMs) (default 1,000,000; the oldest go first) */
  maxFillsKept?: number;
  /** what happens when an order would trade with a resting order of the same strategy (default "none": they trade) */
  selfTrade?: SelfTradePrevention;
  /** trade ids are `<venue>-<tradeIdPrefix><n>`: a paper session passes its own, so ids stay unique across restarts */
  tradeIdPrefix?: string;
  /**
   * "cash" (default): spot, the base asset's balance is the position. "margin": a derivatives /
   * margin account — positions per symbol that may go short without holding base, settled in
   * the quote asset (fees and realised PnL), initial margin (notional / leverage, plus the
   * worst fee) held on the quote balance per open order, reduceOnly honoured.
   */
  account?: "cash" | "margin";
  /** margin accounts: notional / leverage is held per open order (default 1) */
  leverage?: number;
}

/** A margin account's position in one symbol. */
export interface SimPosition {
  /** signed base amount: > 0 long, < 0 short */
  amount: number;
  /** average entry price of the open amount (NaN when flat) */
  entryPrice: number;
  /** realised PnL in quote, before fees */
  realised: number;
}

/**
 * Self-trade prevention, as Binance's selfTradePreventionMode: the taker, the resting maker, or
 * both are expired instead of trading (Binance reports status EXPIRED_IN_MATCH). "Same" means the
 * same OrderRequest.strategy (two orders without one are the same account, so the same too).
 */
export type SelfTradePrevention = "none" | "expire_taker" | "expire_maker" | "expire_both";
const STP_REASON = "EXPIRED_IN_MATCH self-trade prevention";

/** Counters of refused input, so a replay that feeds garbage is visible (bad input never moves state). */
export interface SimExchangeCounters {
  rejects: number;
  cancelRejects: number;
  badMarketData: number;
  fills: number;
}

/** Binance's filter for newClientOrderId. */
const CLIENT_ID_RE = /^[.A-Za-z:/0-9_-]{1,36}$/;

interface SimOrder {
  req: OrderRequest;
  seq: number;
  venueOrderId: string;
  type: OrderType;
  /** limit price in ticks; +-Infinity for market orders (taker only, never rests) */
  ticks: number;
  price: number;
  amount: number;
  filled: number;
  status: OrderStatus;
  /** venue amount queued ahead at its price (resting orders) */
  front: number;
  /** balance held for it: quote for buys, base for sells */
  reserved: number;
  /** reserve released per unit filled (0: release the fill's cost, market buys) */
  reservePerUnit: number;
  timeMs: number;
}

/** A listed symbol as SimExchange.symbolRef gives it out: opaque to callers. */
export type SymbolRef = SymState;

interface SymState {
  spec: SymbolSpec;
  /** 10^decimals of tick and lot: prices and amounts are rounded to these decimals by integer division (correctly rounded) */
  pxScale: number;
  lotScale: number;
  lotEps: number;
  baseBal: Balance;
  quoteBal: Balance;
  /** venue levels: ticks sorted best first, and amount per ticks */
  bids: Ladder;
  asks: Ladder;
  /** our resting orders, price-time order (best price first, then earliest) */
  buys: SimOrder[];
  sells: SimOrder[];
  fills: ExecReport[];
  /** margin accounts: the position */
  pos: SimPosition;
}

interface Balance {
  total: number;
  used: number;
}

function decimals(x: number): number {
  for (let d = 0; d <= 15; d++) if (Math.abs(Math.round(x * 10 ** d) - x * 10 ** d) < 1e-9) return d;
  return 15;
}

export class SimExchange {
  readonly venue: string;
  readonly fees: FeeModel;
  readonly queue: QueueModel;
  readonly seed: number;
  readonly counters: SimExchangeCounters = { rejects: 0, cancelRejects: 0, badMarketData: 0, fills: 0 };
  private readonly syms = new Map<string, SymState>();
  /** every accepted order by clientOrderId (terminal ones too: ids are never reused) */
  private readonly orders = new Map<string, SimOrder>();
  private readonly byVenueId = new Map<string, string>();
  private readonly bal = new Map<string, Balance>();
  private readonly handlers: Array<(r: ExecReport) => void> = [];
  private seq = 0;
  private tradeSeq = 0;
  private readonly tradeIdPrefix: string;
  private readonly maxFills: number;
  private readonly stp: SelfTradePrevention;
  /** "margin": positions settled in quote, shorts without base, reduceOnly honoured */
  readonly account: "cash" | "margin";
  readonly leverage: number;
  private readonly margin: boolean;

  constructor(opts: SimExchangeOptions) {
    if (!opts.venue) throw new RangeError("SimExchange needs a venue name");
    this.venue = opts.venue;
    this.fees = opts.fees ?? new BpsFeeModel(0, 0);
    this.queue = opts.queue ?? new ConservativeQueue();
    this.seed = opts.seed ?? 0;
    this.maxFills = opts.maxFillsKept ?? 1_000_000;
    this.tradeIdPrefix = opts.tradeIdPrefix ?? "";
    this.stp = opts.selfTrade ?? "none";
    if (!["none", "expire_taker", "expire_maker", "expire_both"].includes(this.stp)) throw new RangeError(`unknown self-trade prevention mode ${this.stp}`);
    if (!(this.maxFills >= 1)) throw new RangeError(`maxFillsKept must be >= 1, got ${this.maxFills}`);
    this.account = opts.account ?? "cash";
    if (this.account !== "cash" && this.account !== "margin") throw new RangeError(`account must be "cash" or "margin", got ${String(this.account)}`);
    this.margin = this.account === "margin";
    this.leverage = opts.leverage ?? 1;
    if (!(this.leverage >= 1 && this.leverage <= 125)) throw new RangeError(`leverage must be 1..125, got ${this.leverage}`);
    if (opts.leverage !== undefined && !this.margin) throw new RangeError("leverage applies to margin accounts only (account: \"margin\")");
    for (const [a, v] of Object.entries(opts.balances ?? {})) this.deposit(a, v);
  }

  // ------------------------------------------------------------------------------ set-up

  listSymbol(spec: SymbolSpec): void {
    for (const k of ["tickSize", "lotSize"] as const) if (!(spec[k] > 0 && Number.isFinite(spec[k]))) throw new RangeError(`${spec.symbol}: ${k} must be > 0, got ${spec[k]}`);
    if (!(spec.minNotional >= 0)) throw new RangeError(`${spec.symbol}: minNotional must be >= 0, got ${spec.minNotional}`);
    if (!spec.base || !spec.quote) throw new RangeError(`${spec.symbol}: base and quote assets are required`);
    if (this.syms.has(spec.symbol)) throw new RangeError(`${spec.symbol} is already listed`);
    this.syms.set(spec.symbol, {
      spec: { ...spec },
      pxScale: 10 ** decimals(spec.tickSize),
      lotScale: 10 ** decimals(spec.lotSize),
      baseBal: this.balance(spec.base),
      quoteBal: this.balance(spec.quote),
      lotEps: spec.lotSize * 1e-6,
      bids: new Ladder(true), asks: new Ladder(false),
      buys: [], sells: [], fills: [],
      pos: { amount: 0, entryPrice: NaN, realised: 0 },
    });
  }

  symbols(): SymbolSpec[] {
    return [...this.syms.values()].map((s) => ({ ...s.spec }));
  }

  deposit(asset: string, amount: number): void {
    if (!Number.isFinite(amount)) throw new RangeError(`deposit of ${asset} must be finite, got ${amount}`);
    const b = this.balance(asset);
    if (b.total + amount < b.used - 1e-12) throw new RangeError(`withdrawing ${-amount} ${asset} would leave less than the ${b.used} held by open orders`);
    b.total += amount;
  }

  balances(): Record<string, { free: number; used: number }> {
    const out: Record<string, { free: number; used: number }> = {};
    for (const [a, b] of this.bal) out[a] = { free: b.total - b.used, used: b.used };
    return out;
  }

  /** A margin account's position in `symbol` (a copy); cash accounts have none: throws. */
  position(symbol: string): SimPosition {
    if (!this.margin) throw new Error(`${this.venue} is a cash account: its positions are its balances`);
    const s = this.syms.get(symbol);
    if (!s) throw new RangeError(`${symbol} is not listed on ${this.venue}`);
    return { ...s.pos };
  }

  onReport(handler: (r: ExecReport) => void): void {
    this.handlers.push(handler);
  }

  // ------------------------------------------------------------------------------ market data

  /** The venue's amount at one price (0 removes the level). Fills our resting orders it crosses. */
  onBookLevel(symbol: string, side: Side, price: number, amount: number, tsNs: number): void {
    this.bookLevelOf(this.syms.get(symbol), side === "buy", price, amount, tsNs);
  }

  /**
   * A listed symbol's state, for a caller that feeds it record by record (the engine): pass it to
   * bookLevelOf / tradeOf instead of the symbol, and the per-record lookup by name is gone.
   * undefined when the symbol is not listed (those calls then count bad market data).
   */
  symbolRef(symbol: string): SymbolRef | undefined {
    return this.syms.get(symbol);
  }

  /** onBookLevel on a symbolRef (a symbol is listed once, so a ref never goes stale); isBid: the level is on the buy side */
  bookLevelOf(s: SymbolRef | undefined, isBid: boolean, price: number, amount: number, tsNs: number): void {
    const ticks = s ? this.toTicks(s, price) : NaN;
    if (!s || !Number.isFinite(ticks) || !(amount >= 0) || !Number.isFinite(amount)) {
      this.counters.badMarketData++;
      return;
    }
    const lad = isBid ? s.bids : s.asks;
    const prev = lad.put(ticks, amount);
    // our resting orders at this price on the same side: their queue ahead moves per the model
    const mine = isBid ? s.buys : s.sells;
    for (const o of mine) if (o.ticks === ticks) o.front = this.queue.levelChanged(o.front, prev, amount);
    // the opposite side shown at or through our resting orders: they would have traded
    const opp = isBid ? s.sells : s.buys;
    if (amount > 0 && opp.length && (isBid ? opp[0]!.ticks <= ticks : opp[0]!.ticks >= ticks)) {
      let left = amount;
      const out: ExecReport[] = [];
      for (const o of opp) {
        if (left <= s.lotEps) break;
        if (isBid ? o.ticks > ticks : o.ticks < ticks) break;
        const q = Math.min(left, o.amount - o.filled, this.room(s, o));
        if (!(q > s.lotEps)) continue;
        this.fill(s, o, q, o.ticks, false, tsNs, out);
        left -= q;
      }
      if (out.length) {
        lad.set(ticks, left > s.lotEps ? left : 0);
        this.settle(s, tsNs, out);
        this.emit(out);
      }
    }
  }

  /** A print: `takerSide` took liquidity at `price`. Consumes the queue ahead of our resting orders there. */
  onTrade(symbol: string, price: number, amount: number, takerSide: Side, tsNs: number): void {
    this.tradeOf(this.syms.get(symbol), price, amount, takerSide === "sell", tsNs);
  }

  /** onTrade on a symbolRef; takerSold: the aggressor sold (hit the bids) */
  tradeOf(s: SymbolRef | undefined, price: number, amount: number, takerSold: boolean, tsNs: number): void {
    const ticks = s ? this.toTicks(s, price) : NaN;
    if (!s || !Number.isFinite(ticks) || !(amount > 0) || !Number.isFinite(amount)) {
      this.counters.badMarketData++;
      return;
    }
    // a sell taker hits bids: our buys at or above the print; a buy taker lifts asks: our sells at or below
    const restingBuy = takerSold;
    const list = restingBuy ? s.buys : s.sells;
    if (!list.length || (restingBuy ? list[0]!.ticks < ticks : list[0]!.ticks > ticks)) return; // nothing of ours at or through the print
    const out: ExecReport[] = [];
    let avail = amount;
    for (const o of list) {
      const through = restingBuy ? o.ticks > ticks : o.ticks < ticks;
      if (through) {
        // the market traded through our price: everything at our price, us included, is gone
        o.front = 0;
        this.fill(s, o, Math.min(o.amount - o.filled, this.room(s, o)), o.ticks, false, tsNs, out);
        continue;
      }
      if (o.ticks !== ticks) break;
      // at the print's price: venue queue ahead is consumed first, then us, in time order
      const ahead = Math.min(o.front, avail);
      o.front -= ahead;
      const q = Math.min(o.amount - o.filled, avail - ahead, this.room(s, o));
      if (q > s.lotEps) {
        this.fill(s, o, q, o.ticks, false, tsNs, out);
        avail -= q;
      }
    }
    if (out.length) {
      this.settle(s, tsNs, out);
      this.emit(out);
    }
  }

  // ------------------------------------------------------------------------------ order entry

  place(req: OrderRequest, tsNs: number): ExecReport[] {
    const timeMs = Math.floor(tsNs / 1e6);
    const s = this.syms.get(req.symbol);
    const bad = this.validate(req, s);
    if (bad) return [this.reject(req, bad, timeMs)];
    const sym = s!;
    const isBuy = req.side === "buy";
    const market = req.type === "market";
    const ticks = market ? (isBuy ? Infinity : -Infinity) : this.toTicks(sym, req.price!);
    const price = market ? NaN : this.px(sym, ticks);

    if (req.timeInForce === "PO" && this.wouldTake(sym, isBuy, ticks)) {
      return [this.reject(req, "-2010 Order would immediately match and take.", timeMs)];
    }
    // balance: buys hold notional plus the worst fee, sells hold base (margin: both hold margin in quote)
    const rate = this.fees.maxRate(req.symbol);
    let reserved: number, perUnit: number;
    if (this.margin) {
      if (req.reduceOnly === true) {
        // reduces the position only: the other side of it, no more than is open (other
        // reduce-only orders on this side counted as if they filled)
        const pos = sym.pos.amount;
        let pending = 0;
        for (const r of isBuy ? sym.buys : sym.sells) if (r.req.reduceOnly === true) pending += r.amount - r.filled;
        if (!(isBuy ? pos < 0 : pos > 0) || req.amount > Math.abs(pos) - pending + sym.lotEps) return [this.reject(req, "-2022 ReduceOnly Order is rejected.", timeMs)];
      }
      const lev = this.leverage;
      if (market) {
        reserved = this.costToTake(sym, isBuy, ticks, req.amount) * (1 / lev + rate);
        perUnit = 0;
      } else {
        perUnit = price * (1 / lev + rate);
        reserved = req.amount * perUnit;
      }
      // a reduce-only order frees margin rather than using it: only its fee is held
      if (req.reduceOnly === true) {
        reserved = market ? this.costToTake(sym, isBuy, ticks, req.amount) * rate : req.amount * price * rate;
        perUnit = market ? 0 : price * rate;
      }
    } else if (isBuy) {
      if (market) {
        reserved = this.costToTake(sym, true, ticks, req.amount) * (1 + rate);
        perUnit = 0;
      } else {
        perUnit = price * (1 + rate);
        reserved = req.amount * perUnit;
      }
    } else {
      reserved = req.amount;
      perUnit = 1;
    }
    const asset = isBuy || this.margin ? sym.spec.quote : sym.spec.base;
    const b = this.balance(asset);
    if (b.total - b.used < reserved - 1e-9 * Math.max(1, reserved)) {
      return [this.reject(req, "-2010 Account has insufficient balance for requested action.", timeMs)];
    }
    b.used += reserved;

    const o: SimOrder = {
      req, seq: ++this.seq, venueOrderId: String(this.seq), type: req.type, ticks, price,
      amount: req.amount, filled: 0, status: "open", front: 0, reserved, reservePerUnit: perUnit, timeMs,
    };
    this.orders.set(req.clientOrderId, o);
    this.byVenueId.set(o.venueOrderId, req.clientOrderId);
    const out: ExecReport[] = [this.report(o, "ack", 0, 0, 0, undefined, undefined, timeMs)];

    if (req.timeInForce === "FOK" && this.available(sym, isBuy, ticks, req.amount, req.strategy) < req.amount - sym.lotEps) {
      this.finish(sym, o, "expired", timeMs, out);
      return out;
    }
    this.take(sym, o, tsNs, out);
    if (o.status === "expired") return out; // self-trade prevention expired the taker
    const left = o.amount - o.filled;
    if (left <= sym.lotEps) return out; // filled: fill() finished it
    if (market || req.timeInForce === "IOC" || req.timeInForce === "FOK") {
      this.finish(sym, o, "expired", timeMs, out);
      return out;
    }
    // rest: behind the venue amount already at this price
    o.front = (isBuy ? sym.bids : sym.asks).get(ticks);
    this.insertResting(isBuy ? sym.buys : sym.sells, o, isBuy);
    return out;
  }

  cancel(symbol: string, clientOrderId: string, tsNs: number): ExecReport {
    const timeMs = Math.floor(tsNs / 1e6);
    const o = this.orders.get(clientOrderId);
    const s = this.syms.get(symbol);
    if (!o || !s || o.req.symbol !== symbol || (o.status !== "open" && o.status !== "partially_filled")) {
      this.counters.cancelRejects++;
      return {
        kind: "cancel_rejected", venue: this.venue, symbol, clientOrderId, venueOrderId: o?.venueOrderId,
        side: o?.req.side ?? "buy", lastAmount: 0, lastPrice: 0, filled: o?.filled ?? 0,
        remaining: o ? o.amount - o.filled : 0, fee: 0, reason: "-2011 Unknown order sent.", venueTimeMs: timeMs,
      };
    }
    const list = o.req.side === "buy" ? s.buys : s.sells;
    list.splice(list.indexOf(o), 1);
    const out: ExecReport[] = [];
    this.finish(s, o, "cancelled", timeMs, out);
    return out[0]!;
  }

  openOrders(symbol?: string): VenueOrder[] {
    const out: SimOrder[] = [];
    for (const [name, s] of this.syms) if (symbol === undefined || symbol === name) out.push(...s.buys, ...s.sells);
    return out.sort((a, b) => a.seq - b.seq).map((o) => this.view(o));
  }

  order(symbol: string, clientOrderId: string): VenueOrder | undefined {
    const o = this.orders.get(clientOrderId);
    return o && o.req.symbol === symbol ? this.view(o) : undefined;
  }

  /** clientOrderId of the order the exchange numbered `venueOrderId` (Binance's orderId), if any */
  clientOrderIdOf(venueOrderId: string): string | undefined {
    return this.byVenueId.get(venueOrderId);
  }

  /** Every order accepted on a symbol, finished ones included, in entry order (Binance's allOrders). */
  allOrders(symbol: string): VenueOrder[] {
    const out: VenueOrder[] = [];
    for (const o of this.orders.values()) if (o.req.symbol === symbol) out.push(this.view(o));
    return out;
  }

  fills(symbol: string, sinceMs: number): ExecReport[] {
    const s = this.syms.get(symbol);
    return s ? s.fills.filter((f) => f.venueTimeMs >= sinceMs) : [];
  }

  /** The venue book as the exchange holds it (market data minus what we took), best first. */
  levels(symbol: string, side: Side, n = Infinity): Array<[number, number]> {
    const s = this.syms.get(symbol);
    if (!s) return [];
    const lad = side === "buy" ? s.bids : s.asks, out: Array<[number, number]> = [];
    for (let i = 0; i < Math.min(n, lad.size); i++) out.push([this.px(s, lad.ticks(i)), lad.amount(i)]);
    return out;
  }

  /** Best venue price of a side as the exchange holds it (NaN when empty); no allocation. */
  best(symbol: string, side: Side): number {
    const s = this.syms.get(symbol);
    const lad = s && (side === "buy" ? s.bids : s.asks);
    return lad && lad.size ? this.px(s!, lad.ticks(0)) : NaN;
  }

  /** Queue ahead of a resting order (venue amount), for tests and diagnostics. */
  queueAhead(clientOrderId: string): number | undefined {
    const o = this.orders.get(clientOrderId);
    return o && (o.status === "open" || o.status === "partially_filled") ? o.front : undefined;
  }

  // ------------------------------------------------------------------------------ internals

  private validate(req: OrderRequest, s: SymState | undefined): string | null {
    if (req.venue !== this.venue) return `-1100 Order for venue '${req.venue}' sent to '${this.venue}'.`;
    if (typeof req.clientOrderId !== "string" || !CLIENT_ID_RE.test(req.clientOrderId)) return "-1100 Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.";
    if (this.orders.has(req.clientOrderId)) return "-2010 Duplicate order sent.";
    if (!s) return "-1121 Invalid symbol.";
    if (req.side !== "buy" && req.side !== "sell") return "-1100 Illegal characters found in parameter 'side'.";
    if (req.type !== "limit" && req.type !== "market") return "-1116 Invalid orderType.";
    const tif = req.timeInForce;
    if (tif !== "GTC" && tif !== "IOC" && tif !== "FOK" && tif !== "PO") return "-1115 Invalid timeInForce.";
    if (req.type === "market" && req.timeInForce === "PO") return "-1115 Invalid timeInForce.";
    const lots = req.amount / s.spec.lotSize;
    if (!(req.amount > 0) || !Number.isFinite(req.amount) || Math.abs(lots - Math.round(lots)) > 1e-6) return "-1013 Filter failure: LOT_SIZE";
    let ref: number;
    if (req.type === "limit") {
      if (req.price === undefined || !(req.price > 0) || !Number.isFinite(this.toTicks(s, req.price))) return "-1013 Filter failure: PRICE_FILTER";
      ref = req.price;
    } else {
      const lad = req.side === "buy" ? s.asks : s.bids;
      ref = lad.size ? this.px(s, lad.ticks(0)) : NaN;
    }
    if (ref * req.amount < s.spec.minNotional) return "-1013 Filter failure: MIN_NOTIONAL";
    return null;
  }

  /** price -> integer ticks; NaN when not on the tick grid */
  private toTicks(s: SymState, price: number): number {
    if (!(price > 0) || !Number.isFinite(price)) return NaN;
    const t = price / s.spec.tickSize, r = Math.round(t);
    return Math.abs(t - r) <= 1e-6 ? r : NaN;
  }

  private px(s: SymState, ticks: number): number {
    return Math.round(ticks * s.spec.tickSize * s.pxScale) / s.pxScale;
  }

  /** amounts within float noise of the lot grid are put on it (0.30000000000000004 -> 0.3); others kept as they are */
  private lot(s: SymState, x: number): number {
    const k = x / s.spec.lotSize, r = Math.round(k);
    return Math.abs(k - r) < 1e-6 ? Math.round(r * s.spec.lotSize * s.lotScale) / s.lotScale : x;
  }

  private balance(asset: string): Balance {
    let b = this.bal.get(asset);
    if (!b) this.bal.set(asset, (b = { total: 0, used: 0 }));
    return b;
  }

  private insertResting(list: SimOrder[], o: SimOrder, isBuy: boolean): void {
    let i = list.length;
    while (i > 0 && (isBuy ? list[i - 1]!.ticks < o.ticks : list[i - 1]!.ticks > o.ticks)) i--;
    list.splice(i, 0, o);
  }

  /** best opposite price (venue or ours) is at or through `ticks` */
  private wouldTake(s: SymState, isBuy: boolean, ticks: number): boolean {
    const lad = isBuy ? s.asks : s.bids;
    const v = lad.size ? lad.ticks(0) : undefined;
    const m = isBuy ? s.sells[0]?.ticks : s.buys[0]?.ticks;
    const hit = (t: number | undefined) => t !== undefined && (isBuy ? t <= ticks : t >= ticks);
    return hit(v) || hit(m);
  }

  /** amount a taker could get at `ticks` or better, up to `want` */
  private available(s: SymState, isBuy: boolean, ticks: number, want: number, strategy: string | undefined): number {
    let got = 0;
    const lad = isBuy ? s.asks : s.bids;
    for (let i = 0; i < lad.size; i++) {
      const t = lad.ticks(i);
      if (isBuy ? t > ticks : t < ticks) break;
      got += lad.amount(i);
      if (got >= want) return got;
    }
    for (const o of isBuy ? s.sells : s.buys) {
      if (isBuy ? o.ticks > ticks : o.ticks < ticks) break;
      if (this.stp === "none" || o.req.strategy !== strategy) got += o.amount - o.filled;
    }
    return got;
  }

  /** quote cost of taking `want` (venue and ours, best first) up to `ticks` */
  private costToTake(s: SymState, isBuy: boolean, ticks: number, want: number): number {
    // merge the two ladders by price; both are short walks at order entry
    const lad = isBuy ? s.asks : s.bids, mine = isBuy ? s.sells : s.buys;
    let vi = 0, oi = 0, left = want, cost = 0;
    while (left > s.lotEps) {
      const a = vi < lad.size ? lad.ticks(vi) : NaN, b = oi < mine.length ? mine[oi]!.ticks : NaN;
      let t: number, q: number;
      if (b !== b || (a === a && (isBuy ? a <= b : a >= b))) {
        if (a !== a) break;
        t = a; q = lad.amount(vi); vi++;
      } else {
        t = b; q = mine[oi]!.amount - mine[oi]!.filled; oi++;
      }
      if (isBuy ? t > ticks : t < ticks) break;
      const take = Math.min(q, left);
      cost += take * this.px(s, t);
      left -= take;
    }
    return cost;
  }

  /** taker walk: venue levels and our resting orders merged by price, time priority within a price */
  private take(s: SymState, o: SimOrder, tsNs: number, out: ExecReport[]): void {
    const isBuy = o.req.side === "buy";
    const lad = isBuy ? s.asks : s.bids, mine = isBuy ? s.sells : s.buys;
    let oi = 0;
    while (o.amount - o.filled > s.lotEps) {
      const a = lad.size ? lad.ticks(0) : NaN; // depleted venue levels are removed, so the best is always level 0
      const b = oi < mine.length ? mine[oi]!.ticks : NaN;
      const t = a !== a ? b : b !== b ? a : isBuy ? Math.min(a, b) : Math.max(a, b);
      if (t !== t || (isBuy ? t > o.ticks : t < o.ticks)) break;
      const V = a === t ? lad.amount(0) : 0;
      let c = 0; // venue amount taken at this price
      let stopped = false;
      for (let j = oi; j < mine.length && mine[j]!.ticks === t; j++) {
        const r = mine[j]!;
        const chunk = Math.min(r.front, V) - c;
        if (chunk > s.lotEps) {
          const q = Math.min(chunk, o.amount - o.filled, this.room(s, o));
          if (q > s.lotEps) {
            this.fill(s, o, q, t, true, tsNs, out);
            c += q;
          }
        }
        const left = Math.min(o.amount - o.filled, this.room(s, o));
        if (left <= s.lotEps) break;
        if (this.stp !== "none" && r.req.strategy === o.req.strategy) {
          const timeMs = Math.floor(tsNs / 1e6);
          if (this.stp !== "expire_taker") this.finish(s, r, "expired", timeMs, out, STP_REASON);
          if (this.stp !== "expire_maker") {
            this.finish(s, o, "expired", timeMs, out, STP_REASON);
            stopped = true;
            break;
          }
          continue;
        }
        // both ours: a reduce-only side trades no more than its position allows (net change 0)
        const q = Math.min(left, r.amount - r.filled, this.room(s, r));
        if (!(q > s.lotEps)) continue;
        this.fill(s, o, q, t, true, tsNs, out);
        this.fill(s, r, q, t, false, tsNs, out);
      }
      const left = Math.min(o.amount - o.filled, this.room(s, o));
      if (!stopped && left > s.lotEps && V - c > s.lotEps) {
        const q = Math.min(left, V - c);
        this.fill(s, o, q, t, true, tsNs, out);
        c += q;
      }
      for (let k = oi; k < mine.length && mine[k]!.ticks === t; k++) {
        const r = mine[k]!;
        r.front = Math.max(0, Math.min(r.front, V) - c);
      }
      if (V > 0) lad.set(t, V - c > s.lotEps ? V - c : 0);
      while (oi < mine.length && mine[oi]!.ticks === t) oi++;
      if (stopped || !(this.room(s, o) > s.lotEps)) break;
    }
    this.settle(s, tsNs, out);
  }

  /**
   * After matching: a margin account's resting reduce-only orders that no longer fit the
   * position (it shrank, closed or flipped through other fills) are expired, then finished orders
   * leave the resting lists.
   */
  private settle(s: SymState, tsNs: number, out: ExecReport[]): void {
    if (this.margin) {
      const timeMs = Math.floor(tsNs / 1e6);
      for (const isBuy of [true, false]) {
        let room = isBuy ? -s.pos.amount : s.pos.amount;
        for (const o of isBuy ? s.buys : s.sells) {
          if (o.req.reduceOnly !== true || (o.status !== "open" && o.status !== "partially_filled")) continue;
          const rem = o.amount - o.filled;
          if (rem > room + s.lotEps) this.finish(s, o, "expired", timeMs, out, "reduce-only order expired: the position is smaller than its amount");
          else room -= rem;
        }
      }
    }
    this.prune(s);
  }

  /** drops finished orders from the resting lists */
  private prune(s: SymState): void {
    SimExchange.pruneList(s.buys);
    SimExchange.pruneList(s.sells);
  }

  private static pruneList(list: SimOrder[]): void {
    let w = 0;
    for (let r = 0; r < list.length; r++) {
      const o = list[r]!;
      if (o.status === "open" || o.status === "partially_filled") list[w++] = o;
    }
    list.length = w;
  }

  private fill(s: SymState, o: SimOrder, q: number, ticks: number, taker: boolean, tsNs: number, out: ExecReport[]): void {
    if (!(q > s.lotEps)) return;
    q = this.lot(s, q);
    const timeMs = Math.floor(tsNs / 1e6);
    const price = this.px(s, ticks);
    const isBuy = o.req.side === "buy";
    const fee = this.fees.fee(o.req.symbol, o.req.side, price, q, taker);
    const base = s.baseBal, quote = s.quoteBal;
    if (this.margin) {
      const lev = this.leverage, reduceOnly = o.req.reduceOnly === true;
      const release = Math.min(o.reserved, o.reservePerUnit > 0 ? q * o.reservePerUnit : price * q * (reduceOnly ? 0 : 1 / lev) + fee);
      o.reserved -= release;
      quote.used -= release;
      quote.total += this.applyPosition(s.pos, isBuy ? q : -q, price) - fee;
    } else if (isBuy) {
      const release = Math.min(o.reserved, o.reservePerUnit > 0 ? q * o.reservePerUnit : price * q + fee);
      o.reserved -= release;
      quote.used -= release;
      quote.total -= price * q + fee;
      base.total += q;
    } else {
      const release = Math.min(o.reserved, q);
      o.reserved -= release;
      base.used -= release;
      base.total -= q;
      quote.total += price * q - fee;
    }
    o.filled = this.lot(s, o.filled + q);
    if (o.amount - o.filled <= s.lotEps) o.filled = o.amount;
    o.status = o.filled === o.amount ? "filled" : "partially_filled";
    this.counters.fills++;
    const r = this.report(o, "fill", q, price, fee, taker, `${this.venue}-${this.tradeIdPrefix}${++this.tradeSeq}`, timeMs);
    out.push(r);
    s.fills.push(r);
    if (s.fills.length >= 2 * this.maxFills) s.fills.splice(0, s.fills.length - this.maxFills); // amortised: one move per maxFills fills
    if (o.status === "filled") this.release(s, o);
  }

  /**
   * How much order `o` may still trade: Infinity, except a margin account's reduce-only order,
   * which may trade down to a flat position and not past it (the matching loops cap each fill
   * by this before filling, so both sides of a fill between our own orders stay equal).
   */
  private room(s: SymState, o: SimOrder): number {
    if (!this.margin || o.req.reduceOnly !== true) return Infinity;
    const r = o.req.side === "buy" ? -s.pos.amount : s.pos.amount;
    return r > 0 ? r : 0;
  }

  /** A fill of signed amount `d` at `price` on a margin position; returns the PnL it realises (quote). */
  private applyPosition(p: SimPosition, d: number, price: number): number {
    const a = p.amount;
    let pnl = 0;
    if (a === 0 || Math.sign(a) === Math.sign(d)) {
      // opens or adds: the entry price averages
      p.entryPrice = a === 0 ? price : (p.entryPrice * Math.abs(a) + price * Math.abs(d)) / (Math.abs(a) + Math.abs(d));
      p.amount = a + d;
    } else {
      // reduces, closes or flips: the closed part realises against the entry price
      const closed = Math.min(Math.abs(a), Math.abs(d));
      pnl = (price - p.entryPrice) * closed * Math.sign(a);
      p.realised += pnl;
      p.amount = a + d;
      if (Math.abs(p.amount) < 1e-12) {
        p.amount = 0;
        p.entryPrice = NaN;
      } else if (Math.sign(p.amount) !== Math.sign(a)) p.entryPrice = price; // flipped: the rest opened here
    }
    return pnl;
  }

  private release(s: SymState, o: SimOrder): void {
    if (o.reserved > 0) {
      const b = this.balance(o.req.side === "buy" || this.margin ? s.spec.quote : s.spec.base);
      b.used -= o.reserved;
      if (Math.abs(b.used) < 1e-9) b.used = 0;
      o.reserved = 0;
    }
  }

  private finish(s: SymState, o: SimOrder, status: "cancelled" | "expired", timeMs: number, out: ExecReport[], reason?: string): void {
    o.status = status;
    this.release(s, o);
    const r = this.report(o, status, 0, 0, 0, undefined, undefined, timeMs);
    if (reason) r.reason = reason;
    out.push(r);
  }

  private reject(req: OrderRequest, reason: string, timeMs: number): ExecReport {
    this.counters.rejects++;
    return {
      kind: "rejected", venue: this.venue, symbol: req.symbol, clientOrderId: req.clientOrderId, side: req.side,
      lastAmount: 0, lastPrice: 0, filled: 0, remaining: Number.isFinite(req.amount) ? req.amount : 0, fee: 0, reason, venueTimeMs: timeMs,
    };
  }

  private report(o: SimOrder, kind: ExecReport["kind"], lastAmount: number, lastPrice: number, fee: number, taker: boolean | undefined, tradeId: string | undefined, timeMs: number): ExecReport {
    const r: ExecReport = {
      kind, venue: this.venue, symbol: o.req.symbol, clientOrderId: o.req.clientOrderId, venueOrderId: o.venueOrderId,
      side: o.req.side, lastAmount, lastPrice, filled: o.filled, remaining: o.status === "filled" ? 0 : this.lot(this.syms.get(o.req.symbol)!, o.amount - o.filled),
      fee, venueTimeMs: timeMs,
    };
    if (taker !== undefined) r.taker = taker;
    if (tradeId !== undefined) r.tradeId = tradeId;
    return r;
  }

  private emit(out: ExecReport[]): void {
    for (const r of out) for (const h of this.handlers) h(r);
  }

  private view(o: SimOrder): VenueOrder {
    return {
      clientOrderId: o.req.clientOrderId, venueOrderId: o.venueOrderId, symbol: o.req.symbol, side: o.req.side,
      type: o.type, price: o.type === "market" ? 0 : o.price, amount: o.amount, filled: o.filled, status: o.status, timeMs: o.timeMs,
    };
  }
}
