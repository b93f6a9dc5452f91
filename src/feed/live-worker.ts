/**
 * A live feed thread: runs one venue's market-data handler against a real venue or a simulator —
 * the native ones (BinanceFeed, BybitFeed, OkxFeed, CoinbaseFeed, KrakenFeed: frames parsed in C
 * straight into this feed's ring) or the ccxt pro adapter (CcxtFeed, any other venue ccxt
 * supports) — and wakes the engine after each frame (ccxt: after each batch it writes). The
 * engine's books send their resync requests here (postMessage, cold path); the feed fetches the
 * snapshots or resubscribes, by its venue's procedure. Counters go to the shared control block
 * every 20 ms and in the final message. FEEDS_STOP (or STOP) ends it: it closes the connection,
 * then marks itself done, and the engine drains what it published before stopping — nothing
 * published is left unread.
 */
import { workerData } from "node:worker_threads";
import { now } from "../../ffi/clock.ts";
import { SpscRing } from "../../ffi/ring.ts";
import { pinThisThread } from "../../ffi/sys.ts";
import { attachControl, type Control, F, I, wakeEngine } from "../engine/control.ts";
import { BinanceFeed, type BinanceChannel, type BinanceMarket } from "./binance/feed.ts";
import { BybitFeed } from "./bybit/feed.ts";
import { CoinbaseFeed } from "./coinbase/feed.ts";
import { KrakenFeed, type KrakenSymbol } from "./kraken/feed.ts";
import { OkxFeed } from "./okx/feed.ts";
import { wsClientTransport, type TextTransportFactory } from "./ws-session.ts";

export interface LiveFeedInit {
  feed: number;
  control: SharedArrayBuffer;
  ring: number;
  cpus: number[];
  venue: number;
  /** exactly one of the venue sections */
  kraken?: {
    wsUrl: string;
    symbols: KrakenSymbol[];
    /** book depth per side (10, 25, 100, 500, 1000) */
    depth: number;
  };
  binance?: {
    market: BinanceMarket;
    wsUrl: string;
    restUrl: string;
    symbols: Array<{ symbol: string; instrument: number }>;
    channels: BinanceChannel[];
    depthSpeed?: "100ms" | "0ms";
  };
  bybit?: {
    /** the stream of one category: …/v5/public/{linear|spot|inverse} */
    wsUrl: string;
    /** Bybit symbols (BTCUSDT) */
    symbols: Array<{ symbol: string; instrument: number }>;
    /** orderbook depth (1, 50, 200, 500/1000) */
    depth: number;
  };
  okx?: {
    /** …/ws/v5/public */
    wsUrl: string;
    symbols: Array<{ instId: string; instrument: number }>;
  };
  coinbase?: {
    wsUrl: string;
    /** product ids (BTC-USD) */
    symbols: Array<{ symbol: string; instrument: number }>;
  };
  ccxt?: {
    /** ccxt pro exchange id */
    exchange: string;
    /** ccxt unified symbols and the engine's instrument ids for them */
    symbols: Array<{ symbol: string; instrument: number }>;
    /** the engine's instrument table (InstrumentTable.toJSON): the adapter looks its symbols up in it */
    instruments: { symbols: string[]; venues: number[] };
    /** every REST and WS URL of the exchange pointed at these origins (BOT4_<ID>_REST_URL / _WS_URL) */
    endpoint?: { http: string; ws: string };
  };
}

interface RunningFeed {
  start(): void;
  /** closes the connection(s); ccxt's close is asynchronous */
  stop(): void | Promise<void>;
  counters(): Record<string, number>;
  parserCounters(): object;
  resync(instrument: number): void;
}

/** A ring whose producer wakes the engine after every push: for feeds that write records outside a frame handler (ccxt). */
class WakingRing extends SpscRing {
  constructor(handle: number, private readonly ctl: Control) {
    super(handle);
  }
  override pushDrop(src: number, n: number): number {
    const took = super.pushDrop(src, n);
    wakeEngine(this.ctl);
    return took;
  }
}

async function main(init: LiveFeedInit): Promise<void> {
  const ctl = attachControl(init.control);
  const { i32, f64 } = ctl;
  const pin = init.cpus.length ? pinThisThread(init.cpus) : { ok: true as const, message: "" };
  const ring = SpscRing.attach(init.ring);
  const notices: Array<{ what: string; detail: Record<string, unknown> }> = [];
  const onNotice = (what: string, detail: Record<string, unknown>) => {
    if (notices.length < 100) notices.push({ what, detail });
    postMessage({ type: "notice", feed: init.feed, what, detail });
  };
  const notice = (what: string, detail?: unknown) => onNotice(what, (detail ?? {}) as Record<string, unknown>);
  // the JSON feeds push into the ring from their frame handler: the engine is woken after each frame
  const base = wsClientTransport();
  const transport: TextTransportFactory = (url, h) => {
    const bytes = h.onBytes;
    return base(url, {
      ...h,
      onText: (text) => {
        h.onText(text);
        wakeEngine(ctl);
      },
      onBytes: bytes
        ? (buf, start, end, ptr) => {
            bytes(buf, start, end, ptr);
            wakeEngine(ctl);
          }
        : undefined,
    });
  };
  const common = { ring, venue: init.venue, clock: now, transport, onNotice: notice };
  const native = (f: { start(): void; stop(): void; counters: object; parserCounters(): object }, resync: (i: number) => void): RunningFeed => ({
    start: () => f.start(),
    stop: () => f.stop(),
    counters: () => ({ ...(f.counters as Record<string, number>) }),
    parserCounters: () => ({ ...f.parserCounters() }),
    resync,
  });
  let feed: RunningFeed;
  if (init.binance) {
    const b = new BinanceFeed({ ...init.binance, ring, venue: init.venue, clock: now, afterFrame: () => wakeEngine(ctl), onNotice });
    feed = native(b, (i) => b.requestSnapshot(i));
  } else if (init.kraken) {
    const k = new KrakenFeed({ ...init.kraken, channels: ["book", "trade"], ...common });
    feed = native(k, (i) => k.requestResync(i));
  } else if (init.bybit) {
    const b = new BybitFeed({ ...init.bybit, channels: ["orderbook", "publicTrade"], ...common });
    feed = native(b, (i) => b.requestResync(i));
  } else if (init.okx) {
    const o = new OkxFeed({ ...init.okx, channels: ["books", "trades"], ...common });
    feed = native(o, (i) => o.requestResync(i));
  } else if (init.coinbase) {
    const c = new CoinbaseFeed({ ...init.coinbase, channels: ["level2", "market_trades"], ...common });
    feed = native(c, (i) => c.requestResync(i));
  } else if (init.ccxt) {
    feed = await ccxtFeed(init.ccxt, new WakingRing(init.ring, ctl), init.venue, notice);
  } else throw new Error("live feed: no venue section (binance, bybit, okx, coinbase, kraken or ccxt)");
  self.onmessage = (e: MessageEvent) => {
    const m = e.data as { type: string; instrument?: number };
    if (m.type === "resync" && typeof m.instrument === "number") feed.resync(m.instrument);
  };
  const publish = () => {
    const c = feed.counters();
    f64[F.FEED_PRODUCED + init.feed] = c.records ?? 0;
    f64[F.FEED_DROPPED + init.feed] = ring.drops;
  };
  const wait = () => {
    if (Atomics.load(i32, I.START) === 0 && Atomics.load(i32, I.STOP) === 0) {
      setTimeout(wait, 5);
      return;
    }
    feed.start();
    const timer = setInterval(async () => {
      publish();
      if (Atomics.load(i32, I.FEEDS_STOP) === 1 || Atomics.load(i32, I.STOP) === 1) {
        clearInterval(timer);
        await feed.stop();
        publish();
        Atomics.store(i32, I.FEED_DONE + init.feed, 1);
        wakeEngine(ctl);
        postMessage({ type: "done", feed: init.feed, counters: feed.counters(), parser: feed.parserCounters(), pinError: pin.ok ? null : pin.message, notices: notices.slice(0, 20) });
      }
    }, 20);
  };
  wait();
}

/**
 * The ccxt pro adapter as a live feed. Its warnings (watch failures, retries) become notices;
 * `records` counts what it wrote (trades, levels, quotes, status records). A resync request makes
 * the next watchOrderBook result go out as a SNAPSHOT of ccxt's whole book (ccxt itself keeps the
 * book in sync with the venue; the engine's book takes the snapshot as its new state). Markets
 * that cannot be loaded (the venue unreachable) are retried until the feed stops.
 */
async function ccxtFeed(o: NonNullable<LiveFeedInit["ccxt"]>, ring: SpscRing, venue: number, notice: (what: string, detail?: unknown) => void): Promise<RunningFeed> {
  const [{ CcxtFeed }, { InstrumentTable }, { default: pino }] = await Promise.all([import("./ccxt/adapter.ts"), import("../domain/instruments.ts"), import("pino")]);
  const log = pino({ level: "warn", base: null, timestamp: false }, {
    write: (line: string) => {
      let d: Record<string, unknown>;
      try {
        d = JSON.parse(line) as Record<string, unknown>;
      } catch {
        d = { line };
      }
      const { msg, level: _level, ...rest } = d;
      notice(`ccxt ${o.exchange}: ${String(msg ?? "log")}`, rest);
    },
  });
  const f = new CcxtFeed({
    exchange: o.exchange, symbols: o.symbols.map((s) => s.symbol), sink: ring, instruments: InstrumentTable.from(o.instruments),
    venue, endpoint: o.endpoint, clock: now, log,
  });
  const symbolOf = new Map(o.symbols.map((s) => [s.instrument, s.symbol]));
  let stopped = false;
  let started: Promise<void> = Promise.resolve();
  const start = async () => {
    for (let delay = 250; !stopped; delay = Math.min(delay * 2, 2000)) {
      try {
        await f.start();
        return;
      } catch (e) {
        if (stopped) return;
        notice(`ccxt ${o.exchange}: cannot load markets, retrying`, { error: (e as Error).message, retryMs: delay });
        await Bun.sleep(delay);
      }
    }
  };
  const records = () => {
    const c = f.counters;
    return c.trades + c.levels + c.quotes + c.statusRecords;
  };
  return {
    start: () => {
      started = start();
    },
    stop: async () => {
      stopped = true;
      await f.stop();
      await started;
    },
    // frames: the watch results ccxt returned
    counters: () => ({ ...f.counters, records: records(), frames: f.counters.tradeBatches + f.counters.bookUpdates, offEndpoint: f.offEndpoint.length }),
    parserCounters: () => ({ errorsByType: Object.fromEntries(f.errorsByType), lastError: f.lastError }),
    resync: (instrument) => {
      const symbol = symbolOf.get(instrument);
      // TypeScript's escape hatch into the adapter's taps: forget() is the tap's public way to send the next result whole
      if (symbol !== undefined) f["taps"].get(symbol)?.forget();
    },
  };
}

// a feed that cannot be built is the thread's error (the pipeline reports it and stops)
main(workerData as LiveFeedInit).catch((e) => {
  setTimeout(() => {
    throw e;
  });
});
