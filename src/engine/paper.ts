/**
 * Paper trading inside the engine thread: TradingCore (the step backtests use) with each venue
 * replaced by a SimExchange behind a SimGateway, the order journal in front of every gateway, and
 * the risk limits / kill switch in a shared block the orchestrator also holds (so SIGUSR2 on the
 * main thread halts the engine's orders).
 *
 * Time: the engine's clock (ffi/clock.ts now(), the domain of every record's receive stamp)
 * drives a VirtualClock. Records advance it to their own stamps as the core steps through them,
 * so a simulated venue sees market data and our orders in the order they happened; when the rings
 * are empty the engine advances it to now(), so acks and fills due while no data arrives happen
 * on time. The engine thread never yields to an event loop while trading: nothing here uses timers.
 *
 * Funding: the simulated venues are cash accounts (spot). Each quote currency gets `capital`; each
 * instrument's base currency gets `capital` worth at the first reference price the engine sees
 * (so a market maker can sell from the start), once.
 */
import { BookSet } from "../../ffi/book.ts";
import type { InstrumentState } from "../../ffi/state.ts";
import { baseQuote } from "../domain/instruments.ts";
import { TERMINAL, type Gateway } from "../domain/order.ts";
import { SimExchange } from "../exec/sim/exchange.ts";
import { SimGateway, VirtualClock } from "../exec/sim/gateway.ts";
import type { BinanceWsGateway } from "../exec/gateway/binance-ws.ts";
import type { CcxtGateway } from "../exec/gateway/ccxt.ts";
import { BpsFeeModel, ConservativeQueue, ConstantLatency } from "../exec/sim/models.ts";
import { OrderJournal } from "../journal/journal.ts";
import { JournaledGateway } from "../journal/journaled-gateway.ts";
import type { RecoveryReport } from "../journal/recovery.ts";
import { KillReason, RiskLimits, type KillTriggers } from "../risk/pretrade.ts";
import { IndicatorSet } from "../signal/indicators.ts";
import type { InstrumentInfo } from "../strategy/api.ts";
import { loadStrategy } from "../strategy/loader.ts";
import { TradingCore } from "./trading.ts";

export interface TradingInit {
  /** built-in name or a file path (src/strategy/loader.ts) */
  strategy: string;
  params: Record<string, number>;
  /** every instrument id the feeds use, with its venue's steps */
  instruments: InstrumentInfo[];
  /** the shared risk block (RiskLimits.create on the orchestrator) */
  limits: { shared: SharedArrayBuffer; venues: number };
  /** TradingStatus block the engine publishes into */
  status: SharedArrayBuffer;
  /** quote per venue and quote currency, and base worth as much per instrument */
  capital: number;
  /** one-way order entry and report latency of the simulated venues (µs) */
  latencyUs: number;
  makerBps: number;
  takerBps: number;
  /** sqlite journal path ("" = no journal) */
  journal: string;
  killTriggers: Partial<KillTriggers>;
  /** the strategy is run from this directory (relative strategy paths) */
  cwd: string;
  /**
   * Live order entry (BOT4_MODE=live): these venues get their real gateway instead of a simulated
   * venue. The engine thread then yields to its event loop (the gateway's socket and timers).
   */
  live?: LiveVenue[];
}

export type LiveVenue =
  | {
      venue: string;
      /** Binance spot WebSocket API (order.place / order.cancel, user data on the same connection) */
      kind: "binance-ws";
      url: string;
      apiKey: string;
      secret?: string;
      privateKey?: string;
      /** unified symbol -> the venue's id */
      symbols: Record<string, { id: string }>;
    }
  | {
      venue: string;
      /** any venue ccxt supports, over its REST API (createOrder, cancelOrder; open orders and trades polled) */
      kind: "ccxt";
      /** ccxt exchange id */
      exchange: string;
      apiKey: string;
      secret: string;
      password?: string;
      /** every REST URL pointed here (a testnet, a local venue), any other origin refused; absent: the venue's own */
      endpoint?: { http: string; ws?: string };
      /** ccxt options (e.g. defaultType) */
      exchangeOptions?: Record<string, unknown>;
      pollMs?: number;
    };

export interface PaperTrading {
  core: TradingCore;
  clock: VirtualClock;
  /** real gateways run in this thread: the engine must yield to the event loop */
  live: boolean;
  /** what TradingCore.onRecords advances: never backwards (records may be older than an idle advance) */
  advance: { advanceTo(t: number): void };
  /** after each batch: funds base currencies at the first reference prices (cold after the first) */
  afterBatch(): void;
  journal: OrderJournal | null;
  recovery: RecoveryReport[];
  /** stop the strategy, cancel (if configured), let the venues answer, flush and close the journal */
  shutdown(nowNs: number): Promise<{ cancelsSent: number; stillLive: number }>;
}

export async function startPaperTrading(t: TradingInit, deps: { books: BookSet; state: InstrumentState; nowNs: number; log: (msg: string, fields?: Record<string, unknown>) => void }): Promise<PaperTrading> {
  const n = Math.max(1, t.instruments.length);
  const strategy = await loadStrategy(t.strategy, t.params, t.cwd);
  const clock = new VirtualClock(deps.nowNs);
  const latency = new ConstantLatency(t.latencyUs * 1e3, t.latencyUs * 1e3);
  const sims = new Map<string, SimExchange>();
  const inner = new Map<string, SimGateway>();
  // the journal first: its session prefix also keeps the simulated venues' trade ids unique
  const journal = t.journal ? await OrderJournal.open({ path: t.journal, clientIdPrefix: "p" }) : null;
  const tradeIdPrefix = journal ? journal.session.prefix : `${Date.now().toString(36)}-`;
  const toFund: Array<{ inst: number; ex: SimExchange; base: string }> = [];
  const fundedQuote = new Set<string>(), fundedBase = new Set<string>();
  const liveVenues = new Map((t.live ?? []).map((l) => [l.venue, l]));
  const liveGateways = new Map<string, Gateway>();
  // set once the core exists: a venue error storm trips the kill switch (no retry storm)
  let onStorm: (detail: string) => void = () => {};
  for (const l of liveVenues.values()) {
    const storm = (i: { venue: string; errors: number; windowMs: number; last: string }) => onStorm(`${i.venue}: ${i.errors} errors within ${i.windowMs} ms, last: ${i.last}`);
    let g: BinanceWsGateway | CcxtGateway;
    let where: string;
    if (l.kind === "binance-ws") {
      const { BinanceWsGateway } = await import("../exec/gateway/binance-ws.ts");
      g = new BinanceWsGateway({ url: l.url, apiKey: l.apiKey, secret: l.secret, privateKey: l.privateKey, venue: l.venue, symbols: l.symbols, onErrorStorm: storm });
      where = `the order-entry session at ${l.url}`;
    } else {
      const { CcxtGateway } = await import("../exec/gateway/ccxt.ts");
      g = new CcxtGateway({ exchange: l.exchange, venue: l.venue, apiKey: l.apiKey, secret: l.secret, password: l.password, endpoint: l.endpoint, exchangeOptions: l.exchangeOptions, pollMs: l.pollMs, onErrorStorm: storm });
      where = `${l.exchange}'s REST API${l.endpoint ? ` at ${l.endpoint.http}` : ""} (markets)`;
    }
    const opened: Promise<unknown> = g.start();
    try {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([opened, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("no answer within 15 s")), 15_000)))]).finally(() => clearTimeout(timer));
    } catch (e) {
      await g.close();
      throw new Error(`${l.venue}: cannot open ${where}: ${(e as Error).message}`);
    }
    liveGateways.set(l.venue, g as Gateway);
  }
  for (const i of t.instruments) {
    if (liveVenues.has(i.venue)) continue;
    let ex = sims.get(i.venue);
    if (!ex) {
      ex = new SimExchange({ venue: i.venue, fees: new BpsFeeModel(t.makerBps, t.takerBps), queue: new ConservativeQueue(), seed: 1, tradeIdPrefix });
      sims.set(i.venue, ex);
      inner.set(i.venue, new SimGateway(ex, clock, latency));
    }
    const { base, quote } = baseQuote(i.symbol);
    ex.listSymbol({ symbol: i.symbol, tickSize: i.tickSize, lotSize: i.lotSize, minNotional: 0, base, quote });
    if (!fundedQuote.has(`${i.venue}:${quote}`)) ex.deposit(quote, t.capital);
    fundedQuote.add(`${i.venue}:${quote}`);
    if (!fundedBase.has(`${i.venue}:${base}`)) toFund.push({ inst: i.id, ex, base });
    fundedBase.add(`${i.venue}:${base}`);
  }
  const gateways = new Map<string, Gateway>();
  const journaled: JournaledGateway[] = [];
  const recovery: RecoveryReport[] = [];
  const all = new Map<string, Gateway>([...inner, ...liveGateways]);
  if (journal) {
    for (const [venue, g] of all) {
      const jg = new JournaledGateway(g, journal);
      // a fresh simulated venue holds none of an earlier run's orders: nothing can be in flight;
      // a real venue gets the full procedure (in-flight grace, fills, open orders, adoption)
      recovery.push(await jg.recover(liveGateways.has(venue) ? {} : { inFlightGraceMs: 0 }));
      journaled.push(jg);
      gateways.set(venue, jg);
    }
  } else for (const [venue, g] of all) gateways.set(venue, g);

  const limits = RiskLimits.attach(t.limits.shared, n, t.limits.venues);
  const core = new TradingCore({
    instruments: t.instruments,
    strategy,
    params: t.params,
    clock,
    gateways,
    sims,
    books: deps.books,
    state: deps.state,
    indicators: new IndicatorSet(n),
    limits,
    capital: 0,
    idPrefix: journal ? journal.session.prefix : undefined,
    log: deps.log,
    sampleNs: 1e9,
    killTriggers: t.killTriggers,
  });
  onStorm = (detail) => core.kill.trip(KillReason.ERROR_RATE, detail);
  core.start();
  const refPrice = core.market.refPrice;
  let unfunded = toFund.length;
  const afterBatch = () => {
    if (unfunded === 0) return;
    for (const f of toFund) {
      if (f.inst < 0) continue;
      const px = refPrice[f.inst]!;
      if (px > 0) {
        f.ex.deposit(f.base, Number((t.capital / px).toFixed(8)));
        f.inst = -1;
        unfunded--;
      }
    }
  };
  return {
    core,
    clock,
    live: liveGateways.size > 0,
    advance: { advanceTo: (ts: number) => (ts > clock.now() ? clock.advanceTo(ts) : undefined) },
    afterBatch,
    journal,
    recovery,
    async shutdown(nowNs: number) {
      // the strategy stops and every open order is cancelled: a simulated venue ends with the process
      core.stop();
      // the simulated venues answer the cancels at their latency: run the clock past them
      clock.advanceTo(Math.max(nowNs, clock.now()));
      clock.drain();
      // real venues answer over their sockets: wait (up to 5 s) until the core has nothing open
      if (liveGateways.size > 0) {
        const end = Date.now() + 5000;
        while (core.openOrderCount > 0 && Date.now() < end) await Bun.sleep(5);
      }
      let cancelsSent = 0, stillLive = 0;
      if (journal) {
        // what the journal still holds live (none, unless a venue failed to answer) is cancelled
        // through its own gateway and the venues are run again; then one flush and close for all
        const live = async () => {
          await journal.flush();
          return journal.store.liveOrders().filter((x) => !TERMINAL.has(x.status));
        };
        for (const x of await live()) {
          const jg = journaled.find((g) => g.venue === x.venue);
          if (!jg) continue;
          jg.cancel(x.symbol, x.client_id);
          cancelsSent++;
        }
        if (cancelsSent > 0) {
          clock.drain();
          if (liveGateways.size > 0) await Bun.sleep(1000);
        }
        stillLive = (await live()).length;
        journal.store.event("shutdown", null, { cancelsSent, stillLive });
        await journal.close(true);
      }
      for (const g of liveGateways.values()) await g.close();
      return { cancelsSent, stillLive };
    },
  };
}
