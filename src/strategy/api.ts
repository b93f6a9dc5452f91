/**
 * The strategy API: what a user writes against. A strategy is a class or a plain object with any
 * of the handlers below; the engine calls them on its own thread, in event order.
 *
 * Contract with the engine:
 *  - Market handlers take numbers, not objects: `onTrade(inst, price, amount, side, tsNs)` is
 *    called straight from the ring records, so dispatch allocates nothing per tick.
 *  - `onBook(inst, tsNs)` runs once per instrument whose book a batch of records changed, after
 *    the whole batch was applied (the book read through the context is the post-batch book).
 *  - `onBar` gets a view object that is reused: copy what you keep.
 *  - Order handlers (`onOrder`, `onFill`) get execution reports; orders are rare next to ticks.
 *  - State (book top, last price, indicators, position) is read through the context, each read a
 *    typed-array load; orders go out through `ctx.submit` and pass pre-trade risk first.
 * A handler that throws stops the strategy (the engine cancels its orders and reports the error):
 * no handler error is ever swallowed while orders keep flowing.
 */
import type { ExecReport, Side, TimeInForce } from "../domain/order.ts";

/** Side codes of `onTrade` and `submit` (numbers on the hot path). */
export const BUY = 0;
export const SELL = 1;
export type SideCode = typeof BUY | typeof SELL;
export const sideName = (s: number): Side => (s === BUY ? "buy" : "sell");

export interface InstrumentInfo {
  readonly id: number;
  /** venue id as in config (`binanceusdm`, `bybit`, ...) */
  readonly venue: string;
  /** ccxt unified symbol */
  readonly symbol: string;
  /** smallest price step and amount step the venue accepts (0 when unknown) */
  readonly tickSize: number;
  readonly lotSize: number;
}

/** A closed bar (time or volume). The engine reuses this object: copy what you keep. */
export interface BarView {
  readonly startNs: number;
  readonly endNs: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly vwap: number;
  readonly trades: number;
}

/** An execution report with the engine's instrument id attached. */
export interface OrderEvent extends ExecReport {
  readonly instrument: number;
}

/** Indicator values per instrument (latest), NaN during warm-up. Filled by the C kernels in place. */
export interface IndicatorView {
  sma(inst: number): number;
  ema(inst: number): number;
  bbUpper(inst: number): number;
  bbMiddle(inst: number): number;
  bbLower(inst: number): number;
  rsi(inst: number): number;
  macd(inst: number): number;
  macdSignal(inst: number): number;
  macdHist(inst: number): number;
  atr(inst: number): number;
  zscore(inst: number): number;
}

export interface StrategyContext {
  readonly instruments: readonly InstrumentInfo[];
  /** id of (venue, symbol), or -1 when the engine does not carry it */
  instrument(venue: string, symbol: string): number;
  /** engine clock (ns): virtual time in a backtest, the bot4 clock live */
  now(): number;

  // market state, one typed-array load each; NaN when unknown
  bid(inst: number): number;
  ask(inst: number): number;
  bidSize(inst: number): number;
  askSize(inst: number): number;
  /** true when the instrument's book is in sync and fresh: nothing may trade on a book that is not */
  bookUsable(inst: number): boolean;
  last(inst: number): number;
  vwap(inst: number): number;
  readonly indicators: IndicatorView;

  // our own state
  /** signed position in base units (long > 0) */
  position(inst: number): number;
  avgPrice(inst: number): number;
  realisedPnl(inst: number): number;
  unrealisedPnl(inst: number): number;
  /** open (live, not terminal) orders of this strategy on the instrument */
  openOrders(inst: number): number;

  /**
   * Sends an order through pre-trade risk (and the router when the instrument is routed).
   * `price` NaN = market order. Returns the client order id, or "" when risk refused it; then
   * `lastReject` holds the reason code and `rejectText(code)` its words.
   */
  submit(inst: number, side: SideCode, amount: number, price: number, tif?: TimeInForce): string;
  cancel(clientOrderId: string): boolean;
  /** cancels every open order of this strategy (on one instrument, or all); returns how many */
  cancelAll(inst?: number): number;
  readonly lastReject: number;
  rejectText(code: number): string;

  /** calls `onTimer` every `periodNs` of engine time (0 = off) */
  setTimer(periodNs: number): void;
  /** a strategy parameter from config (`BOT4_STRATEGY_PARAMS`), or the default */
  param(name: string, fallback: number): number;
  /** cold path only: JSON log line with the strategy's name */
  log(msg: string, fields?: Record<string, unknown>): void;
}

export interface Strategy {
  /** shown in reports, logs and the journal */
  readonly name?: string;
  onStart?(ctx: StrategyContext): void;
  onTrade?(inst: number, price: number, amount: number, side: number, tsNs: number): void;
  onBook?(inst: number, tsNs: number): void;
  onBar?(inst: number, bar: BarView): void;
  onOrder?(ev: OrderEvent): void;
  onFill?(ev: OrderEvent): void;
  onTimer?(tsNs: number): void;
  onStop?(): void;
}

/** What a strategy module exports: an instance, a class, or a factory (default export or `strategy`). */
export type StrategyExport = Strategy | (new (params: Record<string, number>) => Strategy) | ((params: Record<string, number>) => Strategy);
