/**
 * CcxtFeed against the venue simulator replaying a recorded Binance USD-M capture: ccxt talks
 * only to 127.0.0.1 (anything else is refused and would fail these tests); trades arrive as TRADE
 * records equal to the recorded ones; the book rebuilt from the LEVEL records equals ccxt's own
 * book, and — fed from the same replay — the native path's book (the documented procedure on
 * BinanceDepthSync) and the venue's, at checkpoints and at the end; gaps and disconnects make
 * ccxt resubscribe, counted, and the records follow.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SpscRing } from "../ffi/ring.ts";
import { ASK, BID, L2Book } from "../src/book/l2book.ts";
import { InstrumentTable, Venue } from "../src/domain/instruments.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { readU64, T, TICK_BYTES, TICK_F64, TICK_U32, TickFlag, TickKind } from "../src/domain/tick.ts";
import { CcxtFeed, OffEndpointError } from "../src/feed/ccxt/adapter.ts";
import { BinanceReferenceClient, loadBinanceTape, startBinanceSim, type BinanceTape } from "../src/sim/venues/binance.ts";
import { createLogger } from "../src/telemetry/log.ts";

const DATA = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const USDM_BTC = `${DATA}hftbacktest/binance-usdm/btcusdt_20240808.gz`;
const HAVE = existsSync(USDM_BTC);
if (!HAVE) console.warn(`ccxt-adapter.test: skipped — the recorded capture ${USDM_BTC} is absent (shared data folder missing)`);
const d = HAVE ? describe : describe.skip;
const SYMBOL = "BTC/USDT:USDT";
const quiet = createLogger({ level: "silent" });

async function waitFor(what: string, pred: () => boolean, timeoutMs = 8000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(2);
  }
}

/** Applies tick records as the engine's book does for a rule-NONE book: a SNAPSHOT message replaces the book. */
class TickMirror {
  readonly book = new L2Book("ticks", SYMBOL);
  pos = 0;
  inMessage = false;
  lastLevelSeq = -1;
  snapshots = 0;
  statuses = 0;
  trades: Array<{ id: number; price: number; size: number; sell: boolean }> = [];
  lastQuote: number[] = [];
  otherVenue = 0;
  events: string[] = [];

  consume(tb: TickBuffer): void {
    for (; this.pos < tb.count; this.pos++) {
      const i = this.pos, b = i * TICK_BYTES, f = i * TICK_F64;
      const kind = tb.u8[b + T.KIND_U8]!, flags = tb.u8[b + T.FLAGS_U8]!;
      const price = tb.f64[f + T.PRICE_F64]!, size = tb.f64[f + T.SIZE_F64]!;
      const seq = readU64(tb.u32, i * TICK_U32 + T.SEQ_U32);
      if (tb.u16[i * (TICK_BYTES / 2) + T.VENUE_U16] !== Venue.binanceusdm) this.otherVenue++;
      if (kind === TickKind.level) {
        if (!this.inMessage && flags & TickFlag.snapshot) {
          this.book.clear();
          this.snapshots++;
          this.events.push(`snap@${seq}`);
        }
        this.inMessage = !(flags & TickFlag.last);
        if (!(flags & TickFlag.nolevel)) this.book.set(flags & TickFlag.ask ? ASK : BID, price, size);
        this.lastLevelSeq = seq;
      } else if (kind === TickKind.trade) {
        this.trades.push({ id: seq, price, size, sell: (flags & TickFlag.sell) !== 0 });
      } else if (kind === TickKind.quote) {
        this.lastQuote = [price, size, tb.f64[f + T.PRICE2_F64]!, tb.f64[f + T.SIZE2_F64]!];
      } else if (kind === TickKind.status) {
        this.book.clear();
        this.statuses++;
        this.events.push(`status after ${this.lastLevelSeq}`);
        this.inMessage = false;
      }
    }
  }
}

function levelsOf(side: ArrayLike<ArrayLike<number>>, n = Infinity): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < Math.min(n, side.length); i++) out.push([+side[i]![0]!, +side[i]![1]!]);
  return out;
}

let tape: BinanceTape;
beforeAll(() => {
  if (HAVE) tape = loadBinanceTape([USDM_BTC], "usdm");
});

d("CcxtFeed (binanceusdm) against the venue simulator", () => {
  test("ccxt reaches only the simulator: every endpoint is rewritten and anything else is refused", async () => {
    const sim = startBinanceSim({ market: "usdm", captures: tape, speed: 0, autoStart: false });
    const feed = new CcxtFeed({ exchange: "binanceusdm", symbols: [SYMBOL], sink: new TickBuffer(), instruments: new InstrumentTable(), endpoint: { http: sim.httpUrl, ws: sim.wsUrl }, log: quiet });
    try {
      const walk = (v: unknown, out: string[]) => {
        if (typeof v === "string") out.push(v);
        else if (v && typeof v === "object") for (const x of Object.values(v)) walk(x, out);
        return out;
      };
      const urls = walk(feed.exchange.urls.api, []).filter((u) => /^(https?|wss?):\/\//.test(u));
      expect(urls.length).toBeGreaterThan(20);
      for (const u of urls) expect(u.startsWith(sim.httpUrl) || u.startsWith(sim.wsUrl)).toBe(true);
      const fetchImpl = feed.exchange.fetchImplementation as (u: string) => Promise<Response>;
      expect(() => fetchImpl("https://fapi.binance.com/fapi/v1/time")).toThrow(OffEndpointError);
      expect(() => feed.exchange.client("wss://fstream.binance.com/public/ws/0")).toThrow(OffEndpointError);
      expect(feed.offEndpoint).toEqual(["REST https://fapi.binance.com/fapi/v1/time", "WS wss://fstream.binance.com/public/ws/0"]);
      // loadMarkets goes to the simulator and finds the instrument with the capture's precision
      await feed.start();
      const market = (feed.exchange as unknown as { markets: Record<string, { precision: { price: number; amount: number } }> }).markets[SYMBOL]!;
      expect(market.precision).toMatchObject({ price: 0.1, amount: 0.001 });
      expect(sim.venue.restCounts.get("/fapi/v1/exchangeInfo")).toBe(1);
    } finally {
      await feed.stop();
      await sim.stop();
    }
  });

  test("same replay, two paths: ccxt's records and the native procedure give the same book (checkpoints and end); trades equal the recorded ones", async () => {
    const sim = startBinanceSim({ market: "usdm", captures: tape, speed: 0, autoStart: false });
    const tb = new TickBuffer(1 << 16);
    const feed = new CcxtFeed({
      exchange: "binanceusdm", symbols: [SYMBOL], sink: tb, instruments: new InstrumentTable(),
      endpoint: { http: sim.httpUrl, ws: sim.wsUrl }, exchangeOptions: { watchOrderBookRate: "0" }, log: quiet,
    });
    const native = new BinanceReferenceClient({ httpUrl: sim.httpUrl, wsUrl: sim.wsUrl, path: "/stream?streams=btcusdt@depth@0ms/btcusdt@trade", market: "usdm", symbol: "BTCUSDT" });
    const mirror = new TickMirror();
    const venueBook = () => sim.venue.book("BTCUSDT")!;
    try {
      await native.start();
      await feed.start();
      await waitFor("both paths subscribed", () => sim.subscribers("btcusdt@depth@0ms") === 2 && sim.subscribers("btcusdt@trade") === 2);
      const nativeConn = sim.connections().find((c) => c.url.startsWith("/stream"))!.id;
      const caughtUp = () => {
        mirror.consume(tb);
        return native.messages === sim.connections()[nativeConn]!.sent && mirror.lastLevelSeq === venueBook().lastSeq && feed.ccxtBook(SYMBOL)?.nonce === venueBook().lastSeq;
      };
      const compare = async () => {
        await waitFor("both paths to take every frame sent", caughtUp);
        expect(await native.settle()).toBe(true);
        const ob = feed.ccxtBook(SYMBOL)!;
        // the records mirror ccxt's book exactly, every level
        expect(mirror.book.levels(BID)).toEqual(levelsOf(ob.bids));
        expect(mirror.book.levels(ASK)).toEqual(levelsOf(ob.asks));
        // and the two paths agree with each other and with the venue near the top
        for (const side of [BID, ASK]) {
          expect(mirror.book.levels(side, 25)).toEqual(native.book.levels(side, 25));
          expect(native.book.levels(side, 25)).toEqual(venueBook().levels(side, 25));
        }
        expect(mirror.book.levels(BID, 25).length).toBe(25);
        expect(mirror.lastQuote).toEqual([ob.bids[0]![0], ob.bids[0]![1], ob.asks[0]![0], ob.asks[0]![1]]);
      };
      for (const at of [tape.start + 15_000, tape.start + 50_000]) {
        const paused = sim.pauseAt(at);
        sim.start();
        await paused;
        await compare();
      }
      sim.resume();
      await sim.done;
      await compare();

      // trades: one TRADE record per recorded trade frame, same id, price, size and side
      const expected: Array<{ id: number; price: number; size: number; sell: boolean }> = [];
      for (let i = tape.start; i < tape.count; i++) {
        if (tape.streams[tape.streamOf[i]!] !== "btcusdt@trade") continue;
        const t = (JSON.parse(tape.text[i]!) as { data: { t: number; p: string; q: string; m: boolean } }).data;
        expected.push({ id: t.t, price: +t.p, size: +t.q, sell: t.m });
      }
      await waitFor("every trade record", () => (mirror.consume(tb), mirror.trades.length >= expected.length));
      expect(mirror.trades).toEqual(expected);
      expect(native.trades).toBe(expected.length);

      expect(feed.offEndpoint).toEqual([]);
      expect(feed.counters.errors).toBe(0);
      expect(feed.counters.snapshots).toBe(1);
      expect(mirror.snapshots).toBe(1);
      expect(feed.counters.levels).toBeGreaterThan(100_000);
      expect(native.totals().gaps).toBe(0);
      expect(sim.venue.restCounts.get("/fapi/v1/depth")).toBe(2); // one snapshot per path
      expect(mirror.otherVenue).toBe(0);
    } finally {
      native.stop();
      await feed.stop();
      await sim.stop();
    }
  }, 20_000);

  test("gaps and disconnects: ccxt's errors are counted, STATUS records clear the book, resubscription brings a snapshot, the records end equal to the venue", async () => {
    // paced (150 x: the capture in ~2.3 s) so ccxt keeps up and sees the faults as they happen
    const sim = startBinanceSim({
      market: "usdm", captures: tape, speed: 150, autoStart: false,
      faults: ({ id }) => (id < 2 ? { drop: { every: 900, streams: ["@depth"] }, disconnect: { afterFrames: 5000 } } : { drop: { every: 900, streams: ["@depth"] } }),
    });
    const tb = new TickBuffer(1 << 16);
    const feed = new CcxtFeed({
      exchange: "binanceusdm", symbols: [SYMBOL], sink: tb, instruments: new InstrumentTable(),
      endpoint: { http: sim.httpUrl, ws: sim.wsUrl }, exchangeOptions: { watchOrderBookRate: "0" }, log: quiet, retryMs: 5,
    });
    const mirror = new TickMirror();
    try {
      await feed.start();
      await waitFor("subscriptions", () => sim.subscribers("btcusdt@depth@0ms") === 1 && sim.subscribers("btcusdt@trade") === 1);
      sim.start();
      await sim.done;
      const venue = sim.venue.book("BTCUSDT")!;
      // the last lost diff may be the venue's last: then only a new snapshot can bring the book up to date
      await waitFor("the records to reach the venue's last update", () => (mirror.consume(tb), mirror.lastLevelSeq === venue.lastSeq));
      const f = sim.faultTotals();
      expect(f.dropped).toBeGreaterThan(2);
      expect(f.disconnects).toBe(2);
      expect(feed.counters.errors).toBeGreaterThanOrEqual(3);
      expect(feed.counters.reconnects).toBeGreaterThanOrEqual(1);
      expect(feed.counters.statusRecords).toBeGreaterThanOrEqual(2);
      expect(mirror.statuses).toBe(feed.counters.statusRecords);
      // every loss is followed by a snapshot (two losses may share one)
      expect(mirror.snapshots).toBeGreaterThanOrEqual(2);
      expect(mirror.events.at(-1)).toStartWith("snap@");
      expect(feed.errorsByType.get("ChecksumError")).toBeGreaterThanOrEqual(1);
      expect(feed.errorsByType.get("NetworkError")).toBeGreaterThanOrEqual(2);
      expect(mirror.book.levels(BID, 25)).toEqual(venue.levels(BID, 25));
      expect(mirror.book.levels(ASK, 25)).toEqual(venue.levels(ASK, 25));
      expect(feed.offEndpoint).toEqual([]);
    } finally {
      await feed.stop();
      await sim.stop();
    }
  }, 20_000);

  test("into an SPSC ring: the records arrive through the ring as the engine would read them", async () => {
    const sim = startBinanceSim({ market: "usdm", captures: tape, speed: 0, autoStart: false });
    const ring = SpscRing.create(1 << 16);
    const feed = new CcxtFeed({ exchange: "binanceusdm", symbols: [SYMBOL], channels: ["trades"], sink: ring, instruments: new InstrumentTable(), endpoint: { http: sim.httpUrl, ws: sim.wsUrl }, log: quiet, clock: () => 12345 });
    try {
      await feed.start();
      await waitFor("subscription", () => sim.subscribers("btcusdt@trade") === 1);
      let trades = 0;
      for (let i = tape.start; i < tape.start + 5000; i++) if (tape.streams[tape.streamOf[i]!] === "btcusdt@trade") trades++;
      const paused = sim.pauseAt(tape.start + 5000);
      sim.start();
      await paused;
      await waitFor("the trades in the ring", () => ring.size >= trades);
      const n = ring.available(1 << 16);
      expect(n).toBe(trades);
      let last = -1;
      for (let k = 0; k < n; k++) {
        const s = (ring.tailSlot + k) & ring.mask;
        expect(ring.u8[s * TICK_BYTES + T.KIND_U8]).toBe(TickKind.trade);
        expect(readU64(ring.u32, s * TICK_U32 + T.TS_RECV_U32)).toBe(12345);
        const id = readU64(ring.u32, s * TICK_U32 + T.SEQ_U32);
        expect(id).toBeGreaterThan(last);
        last = id;
      }
      ring.release(n);
      expect(feed.counters.ringDrops).toBe(0);
    } finally {
      await feed.stop();
      await sim.stop();
      ring.free();
    }
  });
});
