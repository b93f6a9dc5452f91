/**
 * The Coinbase Advanced Trade and Kraken spot v2 simulator modules (src/sim/venues/coinbase.ts,
 * kraken.ts) against the real handlers, CoinbaseFeed and KrakenFeed, over 127.0.0.1 sockets.
 *
 * Each case starts the venue paused, lets the feed connect and subscribe, replays the whole tape as
 * fast as the feed takes it (speed 0) and then compares the feed's books with the venue's own:
 *  - clean replay: no gap, no mismatch, one snapshot per product/pair, every frame accounted for
 *    (data frames put on the wire + the module's answers and heartbeats = frames the feed read);
 *    Coinbase's venue books equal an independent plain-Map rebuild of the capture; Kraken's
 *    derived checksums agree with every checksum of the v1 capture;
 *  - drop faults (through the core): Coinbase sees a sequence_num gap per dropped frame, Kraken a
 *    checksum mismatch; both resubscribe, load a fresh snapshot, end equal to the venue;
 *  - corrupt: counted malformed by the feed (Coinbase: its lost sequence_num is a gap);
 *  - disconnect: reconnect, subscribe again, fresh snapshots, books equal;
 *  - stall: the venue goes silent (heartbeats too), the feed's watchdog reconnects, books equal;
 *  - heartbeats keep a quiet connection alive; Kraken's ping is answered with pong; error
 *    replies (unknown product/pair, the `error` fault) are counted with their message.
 * The capture-replay cases are skipped with a message when shared/data is absent.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { alignedBuffer } from "../ffi/buffers.ts";
import { SpscRing } from "../ffi/ring.ts";
import { ASK, BID } from "../src/book/l2book.ts";
import { TICK_BYTES } from "../src/domain/tick.ts";
import { CoinbaseFeed, type CoinbaseChannel } from "../src/feed/coinbase/feed.ts";
import { CryptofeedV3Reader } from "../src/feed/cryptofeed-v3.ts";
import { KrakenFeed, type KrakenSymbol } from "../src/feed/kraken/feed.ts";
import type { FaultPlan } from "../src/sim/faults.ts";
import { COINBASE_DEFAULT_CAPTURE, loadCoinbaseTape, startCoinbaseSim, type CoinbaseSim, type CoinbaseTape } from "../src/sim/venues/coinbase.ts";
import { KRAKEN_DEFAULT_CAPTURE, loadKrakenTape, startKrakenSim, type KrakenSim, type KrakenTape } from "../src/sim/venues/kraken.ts";

const hasCoinbase = existsSync(COINBASE_DEFAULT_CAPTURE);
const hasKraken = existsSync(KRAKEN_DEFAULT_CAPTURE);
if (!hasCoinbase) console.warn(`[sim-coinbase-kraken.test] ${COINBASE_DEFAULT_CAPTURE} is absent: the Coinbase simulator cases are skipped`);
if (!hasKraken) console.warn(`[sim-coinbase-kraken.test] ${KRAKEN_DEFAULT_CAPTURE} is absent: the Kraken simulator cases are skipped`);

async function until(cond: () => boolean, ms: number, state: () => unknown = () => ""): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms; state: ${JSON.stringify(state())}`);
    await Bun.sleep(5);
  }
}

/** Drains a ring as the engine would (records counted, not kept). */
function drain(ring: SpscRing) {
  const cap = 8192, out = alignedBuffer(cap * TICK_BYTES);
  let records = 0;
  const timer = setInterval(() => {
    for (let n = ring.pop(out.ptr, cap); n > 0; n = ring.pop(out.ptr, cap)) records += n;
  }, 1);
  return { get records() { return records; }, stop: () => clearInterval(timer) };
}

/** Everything a case starts, stopped in afterEach even when an expectation fails. */
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

// ---- Coinbase ------------------------------------------------------------------------------------

const PRODUCTS = ["BTC-USD", "ETH-USD"];
const CB_CHANNELS: CoinbaseChannel[] = ["market_trades", "candles", "ticker", "level2"];

type RefSide = Map<number, number>;
const sortedRef = (m: RefSide, desc: boolean): Array<[number, number]> => [...m.entries()].sort((x, y) => (desc ? y[0] - x[0] : x[0] - y[0]));

function coinbaseSetup(tape: CoinbaseTape, faults?: FaultPlan | ((c: { id: number }) => FaultPlan | undefined), extra: Partial<ConstructorParameters<typeof CoinbaseFeed>[0]> = {}, heartbeatMs = 1000) {
  const sim = startCoinbaseSim({ tape, speed: 0, autoStart: false, faults, heartbeatMs });
  const ring = SpscRing.create(1 << 18);
  const eng = drain(ring);
  const notices: string[] = [];
  const feed = new CoinbaseFeed({
    wsUrl: sim.wsUrl,
    symbols: PRODUCTS.map((symbol, instrument) => ({ symbol, instrument })),
    channels: CB_CHANNELS,
    ring,
    clock: () => 1,
    backoff: { baseMs: 20, capMs: 100 },
    stallMs: 5000,
    random: () => 0.5,
    onNotice: (what) => notices.push(what),
    ...extra,
  });
  cleanups.push(() => sim.stop(), () => ring.free(), () => eng.stop(), () => feed.stop());
  return { sim, ring, eng, feed, notices };
}

/** Feed subscribed → replay → the feed's books settle equal to the venue's. */
async function coinbaseRun(sim: CoinbaseSim, feed: CoinbaseFeed): Promise<void> {
  feed.start();
  await until(() => sim.venue.tape.streams.every((s) => sim.subscribers(s) > 0), 5000, () => sim.connections());
  sim.start();
  await Promise.race([sim.done, Bun.sleep(10_000)]);
  expect(sim.position).toBe(sim.venue.tape.count);
  await until(() => PRODUCTS.every((p) => {
    const mine = feed.sync.products.get(p)?.book, venue = sim.venue.book(p)!.book;
    return mine !== undefined && mine.synced && mine.depth(BID) === venue.depth(BID) && mine.depth(ASK) === venue.depth(ASK) && mine.bestBid === venue.bestBid && mine.bestAsk === venue.bestAsk;
  }), 8000, () => feed.counters);
}

function expectCoinbaseBooks(sim: CoinbaseSim, feed: CoinbaseFeed): void {
  for (const p of PRODUCTS) {
    const mine = feed.sync.products.get(p)!.book, venue = sim.venue.book(p)!.book;
    expect(mine.synced).toBe(true);
    expect(mine.levels(BID)).toEqual(venue.levels(BID));
    expect(mine.levels(ASK)).toEqual(venue.levels(ASK));
  }
}

describe.skipIf(!hasCoinbase)("Coinbase Advanced Trade simulator (COINBASE.jsonl.gz) with CoinbaseFeed", () => {
  const tape = hasCoinbase ? loadCoinbaseTape() : (undefined as unknown as CoinbaseTape);
  // the capture's final books, rebuilt independently from the recorded l2_data frames
  const truth = new Map<string, { bids: RefSide; asks: RefSide }>();
  if (hasCoinbase) {
    for (const e of CryptofeedV3Reader.open(COINBASE_DEFAULT_CAPTURE).entries()) {
      if (e.kind !== "recv" || !e.frame.startsWith('{"channel":"l2_data"')) continue;
      for (const ev of JSON.parse(e.frame).events as Array<{ type: string; product_id: string; updates: Array<{ side: string; price_level: string; new_quantity: string }> }>) {
        if (ev.type === "snapshot") truth.set(ev.product_id, { bids: new Map(), asks: new Map() });
        const b = truth.get(ev.product_id)!;
        for (const u of ev.updates) {
          const m = u.side === "bid" ? b.bids : b.asks;
          if (Number(u.new_quantity) === 0) m.delete(Number(u.price_level));
          else m.set(Number(u.price_level), Number(u.new_quantity));
        }
      }
    }
  }

  test("clean replay: one chain of sequence_num, a snapshot per product, every frame accounted for, books equal the venue's and the capture's", async () => {
    const { sim, feed } = coinbaseSetup(tape);
    await coinbaseRun(sim, feed);
    expectCoinbaseBooks(sim, feed);
    for (const p of PRODUCTS) {
      expect(sim.venue.book(p)!.book.levels(BID)).toEqual(sortedRef(truth.get(p)!.bids, true));
      expect(sim.venue.book(p)!.book.levels(ASK)).toEqual(sortedRef(truth.get(p)!.asks, false));
    }
    expect(sim.venue.bookProblems).toBe(0);
    expect(feed.counters).toMatchObject({ connects: 1, gaps: 0, stale: 0, malformed: 0, errors: 0, ringDrops: 0, resubscribes: 0, bookResets: 0, snapshots: 2, unknownSymbols: 0 });
    // the feed subscribed each channel once; the venue answered each with a `subscriptions` frame
    expect(sim.venue.received).toEqual([...CB_CHANNELS, "heartbeats"].map((channel) => ({ type: "subscribe", product_ids: PRODUCTS, channel })));
    expect(feed.counters.subscriptionAcks).toBe(5);
    const [c] = sim.connections();
    expect(c!.sent).toBe(tape.streamOf.filter((s) => s >= 0).length); // every data frame of the tape
    await until(() => feed.counters.frames === c!.sent + sim.venue.replies.get(c!.id)!, 2000, () => [feed.counters.frames, c!.sent, sim.venue.replies.get(c!.id)]);
    expect(feed.sync.lastSequence).toBe(feed.counters.frames - 1); // one chain 0..n-1, heartbeats and answers included
  }, 20_000);

  test("dropped frames: a sequence_num gap each → level2 resubscribe → fresh snapshots → books equal the venue's", async () => {
    const { sim, feed, notices } = coinbaseSetup(tape, { drop: { every: 150, streams: ["level2"] } });
    await coinbaseRun(sim, feed);
    expectCoinbaseBooks(sim, feed);
    const dropped = sim.faultTotals().dropped;
    expect(dropped).toBeGreaterThanOrEqual(3);
    expect(feed.counters.gaps).toBe(dropped);
    expect(feed.sync.counters.gaps).toBe(dropped);
    expect(feed.counters.resubscribes).toBeGreaterThanOrEqual(1);
    expect(feed.counters.snapshots).toBe(2 + 2 * feed.counters.resubscribes);
    expect(sim.venue.snapshotsSent).toBe(feed.counters.snapshots);
    expect(notices).toContain("book resync: resubscribing level2");
    expect(feed.counters).toMatchObject({ connects: 1, malformed: 0, errors: 0, ringDrops: 0 });
    // the resubscribes are unsubscribe + subscribe of level2
    expect(sim.venue.received.slice(5, 7)).toEqual([
      { type: "unsubscribe", product_ids: PRODUCTS, channel: "level2" },
      { type: "subscribe", product_ids: PRODUCTS, channel: "level2" },
    ]);
  }, 20_000);

  test("corrupted frames: counted malformed, their lost sequence_num is a gap, books recover", async () => {
    const { sim, feed } = coinbaseSetup(tape, { seed: 3, corrupt: { every: 250, streams: ["level2"], mode: "truncate" } });
    await coinbaseRun(sim, feed);
    expectCoinbaseBooks(sim, feed);
    const corrupted = sim.faultTotals().corrupted;
    expect(corrupted).toBeGreaterThanOrEqual(2);
    expect(feed.counters.malformed).toBe(corrupted);
    expect(feed.counters.gaps).toBe(corrupted);
    expect(feed.counters.resubscribes).toBeGreaterThanOrEqual(1);
  }, 20_000);

  test("a disconnect fault: reconnect, every channel subscribed again, fresh snapshots, books equal", async () => {
    const { sim, feed, notices } = coinbaseSetup(tape, ({ id }) => (id === 0 ? { disconnect: { afterFrames: 300 } } : undefined));
    await coinbaseRun(sim, feed);
    expectCoinbaseBooks(sim, feed);
    expect(sim.faultTotals().disconnects).toBe(1);
    expect(feed.counters).toMatchObject({ connects: 2, reconnects: 1, gaps: 0, resubscribes: 0, snapshots: 4, bookResets: 2, malformed: 0 });
    expect(notices).toContain("connection lost: reconnecting");
    expect(sim.venue.received.slice(5).map((m) => m.channel)).toEqual([...CB_CHANNELS, "heartbeats"]);
    const conns = sim.connections();
    expect(conns.length).toBe(2);
    expect(conns[1]!.subscriptions.length).toBe(tape.streams.length);
  }, 20_000);

  test("a stall fault: the venue goes silent (heartbeats too), the watchdog reconnects, books equal", async () => {
    const { sim, feed, notices } = coinbaseSetup(tape, ({ id }) => (id === 0 ? { stall: { afterFrames: 200 } } : undefined), { stallMs: 300 }, 50);
    await coinbaseRun(sim, feed);
    expectCoinbaseBooks(sim, feed);
    expect(sim.faultTotals().stalls).toBe(1);
    expect(feed.counters.stalls).toBe(1);
    expect(feed.counters.connects).toBe(2);
    expect(notices).toContain("stream stalled: reconnecting");
  }, 20_000);

  test("heartbeats every interval keep a quiet connection, on the connection's sequence_num; unknown products and the error fault are error frames", async () => {
    const { sim, feed } = coinbaseSetup(tape, { error: { every: 100 } }, { channels: ["level2"], stallMs: 150 }, 20);
    feed.start();
    // the replay is not started: only heartbeats keep the connection
    await until(() => feed.counters.heartbeats >= 30, 8000, () => feed.counters);
    expect(feed.counters).toMatchObject({ stalls: 0, connects: 1, gaps: 0, malformed: 0, snapshots: 2 });
    expect(sim.venue.heartbeatsSent).toBeGreaterThanOrEqual(30);
    sim.start();
    await Promise.race([sim.done, Bun.sleep(10_000)]);
    await until(() => feed.counters.errors >= sim.faultTotals().errorFrames && feed.counters.frames >= sim.connections()[0]!.sent + sim.venue.replies.get(0)!, 5000, () => feed.counters);
    expect(sim.faultTotals().errorFrames).toBeGreaterThanOrEqual(3);
    expect(feed.counters.errors).toBe(sim.faultTotals().errorFrames);
    expect(feed.errorMessages[0]).toBe("Internal error");
    expect(feed.counters.gaps).toBe(0); // error frames carry no sequence_num
    const bad = new CoinbaseFeed({ wsUrl: sim.wsUrl, symbols: [{ symbol: "NOPE-USD", instrument: 1 }], channels: ["level2"], ring: SpscRing.create(1024), clock: () => 1, stallMs: 5000 });
    cleanups.push(() => bad.stop());
    bad.start();
    await until(() => bad.counters.errors >= 2, 5000, () => bad.counters);
    expect(bad.errorMessages[0]).toBe("Failed to subscribe: NOPE-USD is not a valid product");
  }, 20_000);
});

// ---- Kraken --------------------------------------------------------------------------------------

const KR_SYMBOLS = ["XMR/USD", "BTC/CHF"];

function krakenSymbols(tape: KrakenTape): KrakenSymbol[] {
  return KR_SYMBOLS.map((symbol, instrument) => {
    const x = tape.instruments.find((i) => i.symbol === symbol)!;
    return { symbol, instrument, pricePrecision: x.pricePrecision, qtyPrecision: x.qtyPrecision };
  });
}

function krakenSetup(tape: KrakenTape, depth: number, faults?: FaultPlan | ((c: { id: number }) => FaultPlan | undefined), extra: Partial<ConstructorParameters<typeof KrakenFeed>[0]> = {}, heartbeatMs = 1000) {
  const sim = startKrakenSim({ tape, speed: 0, autoStart: false, faults, heartbeatMs });
  const ring = SpscRing.create(1 << 16);
  const eng = drain(ring);
  const notices: string[] = [];
  const feed = new KrakenFeed({
    wsUrl: `${sim.wsUrl}/v2`,
    symbols: krakenSymbols(tape),
    channels: ["book", "trade"],
    depth,
    ring,
    clock: () => 1,
    backoff: { baseMs: 20, capMs: 100 },
    stallMs: 5000,
    random: () => 0.5,
    onNotice: (what) => notices.push(what),
    ...extra,
  });
  cleanups.push(() => sim.stop(), () => ring.free(), () => eng.stop(), () => feed.stop());
  return { sim, ring, eng, feed, notices };
}

async function krakenRun(sim: KrakenSim, feed: KrakenFeed): Promise<void> {
  feed.start();
  await until(() => KR_SYMBOLS.every((s) => sim.subscribers(`book:${s}`) > 0 && sim.subscribers(`trade:${s}`) > 0), 5000, () => sim.connections());
  sim.start();
  await Promise.race([sim.done, Bun.sleep(10_000)]);
  expect(sim.position).toBe(sim.venue.tape.count);
  await until(() => KR_SYMBOLS.every((s) => {
    const mine = feed.sync(s)!, venue = sim.venue.book(s)!;
    return mine.book.synced && mine.checksum() === venue.checksum() && mine.book.depth(BID) === Math.min(feed.depth, venue.book.depth(BID)) && mine.book.depth(ASK) === Math.min(feed.depth, venue.book.depth(ASK));
  }), 8000, () => feed.counters);
}

function expectKrakenBooks(sim: KrakenSim, feed: KrakenFeed): void {
  for (const s of KR_SYMBOLS) {
    const mine = feed.sync(s)!.book, venue = sim.venue.book(s)!.book;
    expect(mine.synced).toBe(true);
    expect(mine.levels(BID)).toEqual(venue.levels(BID, feed.depth));
    expect(mine.levels(ASK)).toEqual(venue.levels(ASK, feed.depth));
  }
}

describe.skipIf(!hasKraken)("Kraken spot v2 simulator (derived from KRAKEN.ws.50.0.gz) with KrakenFeed", () => {
  const tape = hasKraken ? loadKrakenTape() : (undefined as unknown as KrakenTape);

  test("the derived tape: every v1 checksum agrees with the v2 rule; deterministic", () => {
    expect(tape.v1Checksums.checked).toBeGreaterThan(4000);
    expect(tape.v1Checksums.agree).toBe(tape.v1Checksums.checked);
    expect(tape.instruments.map((x) => x.symbol)).toContain("BTC/CHF");
    const again = loadKrakenTape({ pairs: ["XMR/USD"] });
    expect(again.instruments.map((x) => x.symbol)).toEqual(["XMR/USD"]);
    const mine = tape.bookText.filter((t, i) => t && tape.instruments[tape.inst[i]!]!.symbol === "XMR/USD").map((t) => t![4]);
    expect(again.bookText.filter((t) => t).map((t) => t![4])).toEqual(mine);
  });

  test("clean replay at depth 1000 and at depth 10: no mismatch, a snapshot per pair, every frame accounted for, books equal the venue's", async () => {
    for (const depth of [1000, 10]) {
      const { sim, feed } = krakenSetup(tape, depth, undefined, {}, 0); // no timed heartbeats: the frame count is exact
      await krakenRun(sim, feed);
      expectKrakenBooks(sim, feed);
      expect(sim.venue.bookProblems).toBe(0);
      expect(feed.counters).toMatchObject({ connects: 1, subscribeAcks: 4, errors: 0, statusMessages: 1, snapshots: 2, checksumMismatches: 0, skipped: 0, malformed: 0, bookMalformed: 0, ringDrops: 0, resubscribes: 0, bookResets: 0, unknownSymbols: 0 });
      // every update that changes something inside the depth is applied (the others go out as heartbeats)
      const k = depth === 10 ? 0 : 4;
      const books = tape.bookText.filter((t, i) => t !== undefined && KR_SYMBOLS.includes(tape.instruments[tape.inst[i]!]!.symbol));
      expect(feed.counters.applied).toBe(books.filter((t) => t![k] !== "").length);
      expect(feed.counters.heartbeats).toBe(books.filter((t) => t![k] === "").length);
      if (depth === 10) expect(feed.counters.heartbeats).toBeGreaterThan(0);
      const [c] = sim.connections();
      await until(() => feed.counters.frames === c!.sent + sim.venue.replies.get(c!.id)!, 2000, () => [feed.counters.frames, c!.sent]);
      expect(sim.venue.received.slice(0, 2)).toEqual([
        { method: "subscribe", params: { channel: "book", symbol: KR_SYMBOLS, depth } },
        { method: "subscribe", params: { channel: "trade", symbol: KR_SYMBOLS, snapshot: false } },
      ]);
      await sim.stop();
      feed.stop();
    }
  }, 25_000);

  test("dropped book updates at depth 10: checksum mismatch → unsubscribe + subscribe → fresh snapshot → books equal", async () => {
    const { sim, feed, notices } = krakenSetup(tape, 10, { drop: { every: 120, streams: ["book:"] } });
    await krakenRun(sim, feed);
    expectKrakenBooks(sim, feed);
    const dropped = sim.faultTotals().dropped;
    expect(dropped).toBeGreaterThanOrEqual(3);
    expect(feed.counters.checksumMismatches).toBeGreaterThanOrEqual(1);
    expect(feed.counters.checksumMismatches).toBeLessThanOrEqual(dropped);
    expect(feed.counters.resubscribes).toBe(feed.counters.checksumMismatches);
    expect(feed.counters.snapshots).toBe(2 + feed.counters.resubscribes);
    expect(feed.counters.unsubscribeAcks).toBe(feed.counters.resubscribes);
    expect(notices).toContain("book resync: resubscribing");
    const resub = sim.venue.received.slice(2, 4) as Array<{ method: string; params: { channel: string; symbol: string[] } }>;
    expect(resub.map((m) => [m.method, m.params.channel, m.params.symbol.length])).toEqual([["unsubscribe", "book", 1], ["subscribe", "book", 1]]);
  }, 20_000);

  test("corrupted frames are counted malformed; a lost book update shows as a mismatch and is resynced", async () => {
    const { sim, feed } = krakenSetup(tape, 10, { seed: 5, corrupt: { every: 150, streams: ["book:"], mode: "flip" } });
    await krakenRun(sim, feed);
    expectKrakenBooks(sim, feed);
    const corrupted = sim.faultTotals().corrupted;
    expect(corrupted).toBeGreaterThanOrEqual(2);
    expect(feed.counters.malformed).toBe(corrupted);
    expect(feed.counters.checksumMismatches).toBeGreaterThanOrEqual(1);
  }, 20_000);

  test("a disconnect fault: reconnect, subscribe again, status again, fresh snapshots, books equal", async () => {
    const { sim, feed, notices } = krakenSetup(tape, 1000, ({ id }) => (id === 0 ? { disconnect: { afterFrames: 400, abrupt: true } } : undefined));
    await krakenRun(sim, feed);
    expectKrakenBooks(sim, feed);
    expect(sim.faultTotals().disconnects).toBe(1);
    expect(feed.counters).toMatchObject({ connects: 2, reconnects: 1, statusMessages: 2, snapshots: 4, checksumMismatches: 0, resubscribes: 0, bookResets: 2 });
    expect(notices).toContain("connection lost: reconnecting");
  }, 20_000);

  test("a stall fault: no frame, heartbeat or pong any more; the watchdog reconnects; books equal", async () => {
    const { sim, feed, notices } = krakenSetup(tape, 10, ({ id }) => (id === 0 ? { stall: { afterFrames: 300 } } : undefined), { stallMs: 300, pingMs: 100, pongTimeoutMs: 5000 }, 50);
    await krakenRun(sim, feed);
    expectKrakenBooks(sim, feed);
    expect(sim.faultTotals().stalls).toBe(1);
    expect(feed.counters.stalls).toBe(1);
    expect(feed.counters.connects).toBe(2);
    expect(notices).toContain("stream stalled: reconnecting");
  }, 20_000);

  test("heartbeats keep a quiet connection; ping → pong without heartbeats; an unknown pair and the error fault are success:false replies", async () => {
    const beats = krakenSetup(tape, 10, undefined, { stallMs: 150, pingMs: 10_000 }, 20);
    beats.feed.start();
    await until(() => beats.feed.counters.heartbeats >= 30, 8000, () => beats.feed.counters);
    expect(beats.feed.counters).toMatchObject({ stalls: 0, connects: 1, pingsSent: 0, snapshots: 2 });
    await beats.sim.stop();
    beats.feed.stop();

    const pings = krakenSetup(tape, 10, undefined, { stallMs: 10_000, pingMs: 30, pongTimeoutMs: 200 }, 0);
    pings.feed.start();
    await until(() => pings.feed.counters.pongs >= 10, 8000, () => pings.feed.counters);
    expect(pings.feed.counters).toMatchObject({ connects: 1, pongTimeouts: 0, stalls: 0, heartbeats: 0 });
    expect(pings.sim.venue.pongsSent).toBeGreaterThanOrEqual(10);
    expect(pings.sim.venue.received.find((m) => m.method === "ping")).toEqual({ method: "ping" });
    await pings.sim.stop();
    pings.feed.stop();

    const errs = krakenSetup(tape, 10, { error: { every: 200 } }, { symbols: [...krakenSymbols(tape), { symbol: "NOPE/USD", instrument: 2, pricePrecision: 2, qtyPrecision: 8 }] });
    await krakenRun(errs.sim, errs.feed);
    await until(() => errs.feed.counters.errors >= 2 + errs.sim.faultTotals().errorFrames, 5000, () => errs.feed.counters);
    expect(errs.sim.faultTotals().errorFrames).toBeGreaterThanOrEqual(2);
    expect(errs.feed.counters.errors).toBe(2 + errs.sim.faultTotals().errorFrames);
    expect(errs.feed.errorMessages.slice(0, 2)).toEqual(["subscribe NOPE/USD: Currency pair not supported NOPE/USD", "subscribe NOPE/USD: Currency pair not supported NOPE/USD"]);
    expect(errs.feed.errorMessages).toContain("subscribe: Internal error");
    expectKrakenBooks(errs.sim, errs.feed);
  }, 25_000);
});
