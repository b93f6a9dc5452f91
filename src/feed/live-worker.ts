/**
 * A live feed thread: runs a venue's native handler (BinanceFeed, KrakenFeed) against a real venue
 * or the simulator, its frames parsed in C straight into this feed's ring, and wakes the engine
 * after each frame. The engine's books send their resync requests here (postMessage, cold path); the
 * feed fetches the snapshots. Counters go to the shared control block every 20 ms and in the
 * final message. FEEDS_STOP (or STOP) ends it: it closes the connection, then marks itself done,
 * and the engine drains what it published before stopping — nothing published is left unread.
 */
import { workerData } from "node:worker_threads";
import { now } from "../../ffi/clock.ts";
import { SpscRing } from "../../ffi/ring.ts";
import { pinThisThread } from "../../ffi/sys.ts";
import { attachControl, F, I, wakeEngine } from "../engine/control.ts";
import { BinanceFeed, type BinanceChannel, type BinanceMarket } from "./binance/feed.ts";
import { KrakenFeed, type KrakenSymbol } from "./kraken/feed.ts";
import { bunTextWebSocketTransport, type TextTransportFactory } from "./ws-session.ts";

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
}

function main(init: LiveFeedInit): void {
  const ctl = attachControl(init.control);
  const { i32, f64 } = ctl;
  const pin = init.cpus.length ? pinThisThread(init.cpus) : { ok: true as const, message: "" };
  const ring = SpscRing.attach(init.ring);
  const notices: Array<{ what: string; detail: Record<string, unknown> }> = [];
  const onNotice = (what: string, detail: Record<string, unknown>) => {
    if (notices.length < 100) notices.push({ what, detail });
    postMessage({ type: "notice", feed: init.feed, what, detail });
  };
  let feed: { start(): void; stop(): void; counters: object; parserCounters(): object };
  let resync: (instrument: number) => void;
  if (init.binance) {
    const b = new BinanceFeed({ ...init.binance, ring, venue: init.venue, clock: now, afterFrame: () => wakeEngine(ctl), onNotice });
    resync = (i) => b.requestSnapshot(i);
    feed = b;
  } else if (init.kraken) {
    // the JSON feeds push into the ring from their frame handler: the engine is woken after each frame
    const base = bunTextWebSocketTransport();
    const transport: TextTransportFactory = (url, h) =>
      base(url, {
        ...h,
        onText: (text) => {
          h.onText(text);
          wakeEngine(ctl);
        },
      });
    const k = new KrakenFeed({ ...init.kraken, channels: ["book", "trade"], ring, venue: init.venue, clock: now, transport, onNotice: (what, detail) => onNotice(what, (detail ?? {}) as Record<string, unknown>) });
    resync = (i) => k.requestResync(i);
    feed = k;
  } else throw new Error("live feed: no venue section (binance or kraken)");
  self.onmessage = (e: MessageEvent) => {
    const m = e.data as { type: string; instrument?: number };
    if (m.type === "resync" && typeof m.instrument === "number") resync(m.instrument);
  };
  const publish = () => {
    f64[F.FEED_PRODUCED + init.feed] = (feed.counters as { records: number }).records;
    f64[F.FEED_DROPPED + init.feed] = ring.drops;
  };
  const wait = () => {
    if (Atomics.load(i32, I.START) === 0 && Atomics.load(i32, I.STOP) === 0) {
      setTimeout(wait, 5);
      return;
    }
    feed.start();
    const timer = setInterval(() => {
      publish();
      if (Atomics.load(i32, I.FEEDS_STOP) === 1 || Atomics.load(i32, I.STOP) === 1) {
        clearInterval(timer);
        feed.stop();
        publish();
        Atomics.store(i32, I.FEED_DONE + init.feed, 1);
        wakeEngine(ctl);
        postMessage({ type: "done", feed: init.feed, counters: { ...feed.counters }, parser: { ...feed.parserCounters() }, pinError: pin.ok ? null : pin.message, notices: notices.slice(0, 20) });
      }
    }, 20);
  };
  wait();
}

main(workerData as LiveFeedInit);
