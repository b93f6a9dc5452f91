/**
 * The order model shared by strategy, risk, router, gateways, simulated exchange and journal.
 * Vocabulary follows ccxt's unified API (`buy`/`sell`, `limit`/`market`, `amount`, `filled`,
 * `remaining`), so a user reading a report or a journal row sees the words they already know.
 * This file depends on nothing: engines and adapters import it, never the other way round.
 */

export type Side = "buy" | "sell";
export type OrderType = "limit" | "market";
/** GTC rests; IOC fills what it can now and cancels the rest; FOK fills whole now or expires; PO (post-only) is rejected if it would take. */
export type TimeInForce = "GTC" | "IOC" | "FOK" | "PO";

/**
 * Order life cycle. `pending_new` is ours (sent, not yet acknowledged); the rest mirror what the
 * venue says. Terminal: filled, cancelled, rejected, expired.
 */
export type OrderStatus =
  | "pending_new"
  | "open"
  | "partially_filled"
  | "pending_cancel"
  | "filled"
  | "cancelled"
  | "rejected"
  | "expired";

export const TERMINAL: ReadonlySet<OrderStatus> = new Set(["filled", "cancelled", "rejected", "expired"]);

/** What a strategy (or the router, after splitting) asks for. Amounts in base units, prices in quote. */
export interface OrderRequest {
  /** unique per order and stable across retries: a resubmission with the same id is the same order */
  clientOrderId: string;
  venue: string;
  /** ccxt unified symbol, e.g. `BTC/USDT:USDT` */
  symbol: string;
  side: Side;
  type: OrderType;
  amount: number;
  /** required for limit orders */
  price?: number;
  timeInForce: TimeInForce;
  reduceOnly?: boolean;
  /** strategy that asked for it (reports, journal, self-trade prevention) */
  strategy?: string;
}

/** Kinds of execution report, from the venue (or the simulated exchange) back to the engine. */
export type ReportKind = "ack" | "fill" | "cancelled" | "rejected" | "expired" | "cancel_rejected";

/** One event on one order, as the venue reported it. */
export interface ExecReport {
  kind: ReportKind;
  venue: string;
  symbol: string;
  clientOrderId: string;
  /** the venue's id, when it has given one */
  venueOrderId?: string;
  side: Side;
  /** for fills: this fill's amount and price; otherwise 0 */
  lastAmount: number;
  lastPrice: number;
  /** cumulative filled amount and remaining amount after this event */
  filled: number;
  remaining: number;
  /** fee of this fill in quote currency (negative = rebate) */
  fee: number;
  /** true if this fill took liquidity */
  taker?: boolean;
  /** venue trade id of a fill: duplicates of the same fill carry the same id */
  tradeId?: string;
  /** why, for rejects and cancel rejects: the venue's code and message */
  reason?: string;
  /** venue's event time (ms since epoch) */
  venueTimeMs: number;
}

/** An order as the venue lists it (open orders at reconciliation). */
export interface VenueOrder {
  clientOrderId: string;
  venueOrderId: string;
  symbol: string;
  side: Side;
  type: OrderType;
  price: number;
  amount: number;
  filled: number;
  status: OrderStatus;
  timeMs: number;
}

/**
 * An execution gateway: native WebSocket order entry, ccxt REST, or the simulated exchange.
 * `submit` and `cancel` write the request and return; what the venue says comes back through the
 * report handler (acks, fills, rejects), so every gateway looks the same to the engine.
 */
export interface Gateway {
  readonly venue: string;
  /** connect / log on / load markets, where the gateway needs it before the first order */
  start?(): Promise<void>;
  onReport(handler: (r: ExecReport) => void): void;
  submit(req: OrderRequest): void;
  cancel(symbol: string, clientOrderId: string): void;
  /**
   * Several requests follow (one strategy step's): a gateway that can may hold its writes until
   * flush() and send them together. Every hold() is followed by flush(), also when a request throws.
   */
  hold?(): void;
  flush?(): void;
  /** for reconciliation after a restart or reconnect */
  openOrders(symbol?: string): Promise<VenueOrder[]>;
  fills(symbol: string, sinceMs: number): Promise<ExecReport[]>;
  /** one order by client id, terminal ones included; undefined when the venue never had it (tells "cancelled with no fill" from "never arrived") */
  order?(symbol: string, clientOrderId: string): Promise<VenueOrder | undefined>;
  close(): Promise<void>;
}
