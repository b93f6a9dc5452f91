/**
 * The venue simulator's Bybit v5 and OKX v5 modules against the real feed handlers (BybitFeed,
 * OkxFeed) over 127.0.0.1 WebSockets: a clean replay arrives verbatim and the feeds' books end
 * equal to the venue's own; faults injected by the simulator core (drop, corrupt, duplicate,
 * error, disconnect, stall) are detected and recovered the venue's way (resubscribe → fresh
 * snapshot, reconnect → subscribe everything again), with what the feeds counted compared to
 * what was injected; the documented control replies, pongs and error replies; REST books.
 *
 * The Bybit cases replay shared/data/cryptofeed-v3/BYBIT.jsonl.gz (linear and spot connections)
 * and are skipped when the shared data folder is absent; the OKX cases run on a generated session
 * and need no data.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { crc32 as zlibCrc32 } from "node:zlib";
import { alignedBuffer } from "../ffi/buffers.ts";
import { SpscRing } from "../ffi/ring.ts";
import { ASK, BID } from "../src/book/l2book.ts";
import { InstrumentTable, Venue } from "../src/domain/instruments.ts";
import { TICK_BYTES } from "../src/domain/tick.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { BybitFeed } from "../src/feed/bybit/feed.ts";
import { BybitTickerState, bybitUnified, normalizeBybitFrame } from "../src/feed/bybit/normalize.ts";
import { OkxFeed } from "../src/feed/okx/feed.ts";
import { normalizeOkxFrame, okxUnified } from "../src/feed/okx/normalize.ts";
import { bunTextWebSocketTransport, type TextTransportFactory } from "../src/feed/ws-session.ts";
import type { FaultPlan } from "../src/sim/faults.ts";
import { bybitStream, loadBybitTape, startBybitSim, type BybitSim, type BybitTape } from "../src/sim/venues/bybit.ts";
import { generateOkxTape, OKX_SIM_INSTRUMENTS, okxStream, startOkxSim, type OkxSim, type OkxTape } from "../src/sim/venues/okx.ts";

const FILE = new URL("../../shared/data/cryptofeed-v3/BYBIT.jsonl.gz", import.meta.url).pathname;
const HAVE = existsSync(FILE);
if (!HAVE) console.warn("sim-bybit-okx.test: the Bybit cases are skipped — shared/data/cryptofeed-v3/BYBIT.jsonl.gz is absent (the shared data folder is not beside the project); the OKX cases still run");

async function until(what: string, cond: () => boolean, ms = 8000, state: () => unknown = () => ""): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}; state: ${JSON.stringify(state())}`);
    await Bun.sleep(3);
  }
}

/** Bun's WebSocket transport, keeping every text the feed receives. */
function tap(into: string[]): TextTransportFactory {
  const base = bunTextWebSocketTransport();
  return (url, h) => base(url, { onOpen: () => h.onOpen(), onText: (t) => (into.push(t), h.onText(t)), onClose: (r) => h.onClose(r) });
}

/** Every record in the ring, receive time zeroed. */
function drain(ring: SpscRing): Uint8Array {
  const cap = 4096, out = alignedBuffer(cap * TICK_BYTES);
  const view = new Uint8Array(out.buffer, out.byteOffset, cap * TICK_BYTES);
  const chunks: Uint8Array[] = [];
  for (;;) {
    const got = ring.pop(out.ptr, cap);
    if (got === 0) break;
    chunks.push(view.slice(0, got * TICK_BYTES));
  }
  const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) all.set(c, (at += c.length) - c.length);
  for (let i = 0; i < all.length; i += TICK_BYTES) all.fill(0, i + 8, i + 16);
  return all;
}

/** A raw client for the control-message checks: sends, and waits for the next n texts. */
async function rawClient(url: string) {
  const ws = new WebSocket(url);
  const got: string[] = [];
  ws.onmessage = (e) => got.push(String(e.data));
  await new Promise<void>((res, rej) => ((ws.onopen = () => res()), (ws.onerror = () => rej(new Error(`cannot open ${url}`)))));
  return {
    got,
    async ask(text: string, n = 1): Promise<string[]> {
      const from = got.length;
      ws.send(text);
      await until(`${n} replies to ${text.slice(0, 60)}`, () => got.length >= from + n, 3000, () => got.slice(from));
      return got.slice(from, from + n);
    },
    close: () => ws.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// Bybit v5

const LINEAR = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"];
const SPOT = ["BTCUSDT", "ETHUSDT"];
const DEPTH = 200;

describe.skipIf(!HAVE)("venue simulator: Bybit v5 replaying the cryptofeed capture", () => {
  let tape: BybitTape;
  const rings: SpscRing[] = [];
  beforeAll(() => {
    tape = loadBybitTape(FILE);
  });
  afterAll(() => {
    for (const r of rings) r.free();
  });

  const ring = () => {
    const r = SpscRing.create(1 << 17);
    rings.push(r);
    return r;
  };

  function bybitFeed(sim: BybitSim, category: "linear" | "spot", extra: Partial<ConstructorParameters<typeof BybitFeed>[0]> = {}) {
    const texts: string[] = [], notices: string[] = [];
    const r = ring();
    const feed = new BybitFeed({
      wsUrl: `${sim.wsUrl}/v5/public/${category}`,
      symbols: (category === "linear" ? LINEAR : SPOT).map((symbol, instrument) => ({ symbol, instrument })),
      channels: ["orderbook", "publicTrade", "tickers"],
      depth: DEPTH,
      ring: r,
      clock: () => performance.now() * 1e6,
      backoff: { baseMs: 20, capMs: 100 },
      stallMs: 5000,
      random: () => 0.5,
      transport: tap(texts),
      onNotice: (what) => notices.push(what),
      ...extra,
    });
    return { feed, texts, notices, ring: r, category, symbols: category === "linear" ? LINEAR : SPOT };
  }
  type F = ReturnType<typeof bybitFeed>;

  /** the feed's books (its own BybitBookSync) equal the venue's, level for level, same u */
  function expectBooksEqual(sim: BybitSim, f: F): void {
    f.symbols.forEach((s, i) => {
      const venue = sim.venue.book(f.category, `orderbook.${DEPTH}.${s}`)!;
      const own = f.feed.sync(i)!;
      expect(venue.ready).toBe(true);
      expect(own.book.synced).toBe(true);
      expect(own.book.lastSeq).toBe(venue.book.lastSeq);
      expect(own.book.levels(BID)).toEqual(venue.book.levels(BID));
      expect(own.book.levels(ASK)).toEqual(venue.book.levels(ASK));
      expect(own.book.depth(BID)).toBeGreaterThan(100);
    });
  }
  const booksCaughtUp = (sim: BybitSim, f: F) => f.symbols.every((s, i) => f.feed.sync(i)?.book.synced && f.feed.sync(i)!.book.lastSeq === sim.venue.book(f.category, `orderbook.${DEPTH}.${s}`)!.book.lastSeq);
  /** every data frame and reply the simulator sent has reached the feeds */
  const allReceived = (sim: BybitSim, fs: F[]) => {
    let sent = 0;
    for (const c of sim.connections()) sent += c.sent + (sim.venue.replies.get(c.id) ?? 0);
    return fs.reduce((s, f) => s + f.texts.length, 0) === sent;
  };

  test("the tape: both recorded connections, topic frames only, the venue's books stay whole over the capture", async () => {
    expect(tape.topics.get("linear")!.size).toBe(16);
    expect(tape.topics.get("spot")!.size).toBe(8);
    expect(tape.skippedConnections).toEqual([]);
    for (let i = 1; i < tape.count; i++) expect(tape.recvNs[i]!).toBeGreaterThanOrEqual(tape.recvNs[i - 1]!);
    expect(tape.text.every((t) => t.startsWith("{") && t.includes('"topic"'))).toBe(true);
    const sim = startBybitSim({ capture: tape, autoStart: false });
    try {
      for (let i = 0; i < tape.count; i++) sim.venue.advance(i);
      expect(sim.venue.bookProblems).toBe(0);
      expect(sim.venue.book("linear", "orderbook.200.BTCUSDT")!.book.depth(BID)).toBe(200);
    } finally {
      await sim.stop();
    }
  });

  test("clean replay, linear and spot at once: frames verbatim, records as a direct normalisation gives, books equal the venue's", async () => {
    const sim = startBybitSim({ capture: tape, speed: 0, autoStart: false });
    const lin = bybitFeed(sim, "linear"), spot = bybitFeed(sim, "spot");
    try {
      lin.feed.start();
      spot.feed.start();
      await until("subscribe replies", () => lin.feed.counters.subscribeAcks === 2 && spot.feed.counters.subscribeAcks === 1);
      expect(sim.venue.snapshotsSent).toBe(0); // the venue has no book before the capture's first snapshot
      sim.start();
      await sim.done;
      await until("every frame received", () => allReceived(sim, [lin, spot]), 8000, () => ({ lin: lin.texts.length, spot: spot.texts.length, conns: sim.connections() }));
      for (const f of [lin, spot]) {
        const c = f.feed.counters;
        expect(c.malformed + c.errors + c.gaps + c.crossed + c.bookMalformed + c.resubscribes + c.unknownSymbols).toBe(0);
        expect(c.snapshots).toBe(f.symbols.length);
        expect(c.connects).toBe(1);
        // the data frames are the tape's frames of the subscribed topics, verbatim and in order
        const topics = new Set(f.feed.topics.map((t) => bybitStream(f.category, t)));
        const want = tape.text.filter((_, i) => topics.has(tape.streams[tape.streamOf[i]!]!));
        expect(f.texts.filter((t) => t.startsWith('{"topic"') || t.startsWith('{"type"'))).toEqual(want);
        // the ring holds what a direct normalisation of everything received gives
        const table = new InstrumentTable();
        for (const s of f.symbols) table.id(Venue.bybit, bybitUnified(s, f.category));
        const tb = new TickBuffer(1 << 17), tickers = new BybitTickerState();
        for (const t of f.texts) normalizeBybitFrame(JSON.parse(t), 0n, table, tb, { category: f.category, tickers });
        const got = drain(f.ring);
        expect(got.length).toBe(tb.count * TICK_BYTES);
        expect(Buffer.from(got).equals(Buffer.from(tb.bytes()))).toBe(true);
        expect(f.ring.drops).toBe(0);
        expectBooksEqual(sim, f);
      }
      expect(sim.faultTotals().dropped).toBe(0);
    } finally {
      lin.feed.stop();
      spot.feed.stop();
      await sim.stop();
    }
  }, 20_000);

  test("a late subscriber gets a snapshot of the venue's current book, then the next delta chains onto it", async () => {
    const sim = startBybitSim({ capture: tape, speed: 0, autoStart: false });
    const at = Math.floor(tape.count / 2);
    const lin = bybitFeed(sim, "linear");
    try {
      sim.start();
      await sim.pauseAt(at);
      lin.feed.start();
      await until("snapshots", () => lin.feed.counters.snapshots === LINEAR.length);
      expect(sim.venue.snapshotsSent).toBe(LINEAR.length);
      // the linear tickers come with a snapshot of the merged ticker too
      expect(lin.texts.filter((t) => t.startsWith('{"topic":"tickers.') && t.includes('"type":"snapshot"')).length).toBe(LINEAR.length);
      expectBooksEqual(sim, lin);
      sim.resume();
      await sim.done;
      await until("every frame received", () => allReceived(sim, [lin]));
      const c = lin.feed.counters;
      expect(c.gaps + c.stale + c.discarded + c.resubscribes).toBe(0);
      expect(c.applied).toBeGreaterThan(500);
      expectBooksEqual(sim, lin);
    } finally {
      lin.feed.stop();
      await sim.stop();
    }
  }, 20_000);

  test("drop faults: every gap detected, unsubscribe + subscribe, a fresh snapshot each time, books equal the venue's", async () => {
    const plan: FaultPlan = { seed: 3, drop: { every: 30, streams: ["linear/orderbook.200.BTCUSDT", "linear/orderbook.200.SOLUSDT"] } };
    const sim = startBybitSim({ capture: tape, speed: 0, autoStart: false, faults: plan });
    const lin = bybitFeed(sim, "linear");
    try {
      lin.feed.start();
      await until("subscribe replies", () => lin.feed.counters.subscribeAcks === 2);
      sim.start();
      await sim.done;
      await until("books resynced", () => allReceived(sim, [lin]) && lin.feed.counters.snapshots === LINEAR.length + lin.feed.counters.resubscribes && booksCaughtUp(sim, lin), 8000, () => lin.feed.counters);
      const c = lin.feed.counters, injected = sim.faultTotals();
      expect(injected.dropped).toBeGreaterThan(10);
      expect(c.gaps).toBeGreaterThanOrEqual(1);
      expect(c.gaps).toBeLessThanOrEqual(injected.dropped); // a drop while a book awaits its snapshot goes unnoticed, rightly
      expect(c.resubscribes).toBe(c.gaps);
      expect(c.unsubscribeAcks).toBe(c.resubscribes);
      expect(sim.venue.snapshotsSent).toBe(c.resubscribes);
      expect(c.snapshots).toBe(LINEAR.length + c.resubscribes);
      expect(lin.notices).toContain("book resync: resubscribing");
      // ETH and DOGE were never touched
      expect(lin.feed.sync(1)!.counters.gaps + lin.feed.sync(3)!.counters.gaps).toBe(0);
      expect(c.connects).toBe(1);
      expectBooksEqual(sim, lin);
    } finally {
      lin.feed.stop();
      await sim.stop();
    }
  }, 20_000);

  test("corrupt, duplicate and error faults: malformed and error frames counted as injected, duplicates skipped as stale, books equal", async () => {
    const plan: FaultPlan = {
      seed: 11,
      corrupt: { every: 40, mode: "flip", streams: ["orderbook.200.ETHUSDT"] },
      duplicate: { every: 25, streams: ["orderbook.200.DOGEUSDT"] },
      error: { every: 150 },
    };
    const sim = startBybitSim({ capture: tape, speed: 0, autoStart: false, faults: plan });
    const lin = bybitFeed(sim, "linear");
    try {
      lin.feed.start();
      await until("subscribe replies", () => lin.feed.counters.subscribeAcks === 2);
      sim.start();
      await sim.done;
      await until("books resynced", () => allReceived(sim, [lin]) && booksCaughtUp(sim, lin), 8000, () => lin.feed.counters);
      const c = lin.feed.counters, injected = sim.faultTotals();
      expect(injected.corrupted).toBeGreaterThan(5);
      expect(c.malformed).toBe(injected.corrupted); // a flipped frame never parses
      expect(injected.errorFrames).toBeGreaterThan(5);
      expect(c.errors).toBe(injected.errorFrames);
      expect(injected.duplicated).toBeGreaterThan(5);
      expect(lin.feed.sync(3)!.counters.stale).toBe(injected.duplicated);
      expect(lin.feed.sync(3)!.counters.gaps).toBe(0);
      // a lost ETH delta shows as a gap at the next one, and is resynced
      expect(lin.feed.sync(1)!.counters.gaps).toBeGreaterThanOrEqual(1);
      expect(c.resubscribes).toBe(c.gaps);
      expectBooksEqual(sim, lin);
    } finally {
      lin.feed.stop();
      await sim.stop();
    }
  }, 20_000);

  for (const kind of ["disconnect", "stall"] as const) {
    test(`${kind} fault: the feed reconnects, subscribes everything again, fresh snapshots, books equal the venue's`, async () => {
      const afterFrames = 300;
      const plan: FaultPlan = kind === "disconnect" ? { disconnect: { afterFrames } } : { stall: { afterFrames } };
      const sim = startBybitSim({ capture: tape, speed: 0, autoStart: false, faults: (c) => (c.id === 0 ? plan : undefined) });
      const lin = bybitFeed(sim, "linear", kind === "stall" ? { stallMs: 150 } : {});
      // hold the replay where the first connection has been offered 500 frames: the fault has fired by then
      const topics = new Set(lin.feed.topics.map((t) => bybitStream("linear", t)));
      let offered = 0, hold = 0;
      while (offered < afterFrames + 200) if (topics.has(tape.streams[tape.streamOf[hold++]!]!)) offered++;
      try {
        lin.feed.start();
        await until("subscribe replies", () => lin.feed.counters.subscribeAcks === 2);
        sim.start();
        await sim.pauseAt(hold);
        await until("reconnect and resubscribe", () => lin.feed.counters.connects === 2 && lin.feed.counters.snapshots === 2 * LINEAR.length, 8000, () => lin.feed.counters);
        sim.resume();
        await sim.done;
        await until("every frame received", () => booksCaughtUp(sim, lin), 8000, () => lin.feed.counters);
        const c = lin.feed.counters, injected = sim.faultTotals();
        expect(c.reconnects).toBe(1);
        expect(c.subscribeAcks).toBe(4);
        expect(c.gaps + c.resubscribes).toBe(0); // the new connection starts from snapshots: nothing to bridge
        if (kind === "disconnect") {
          expect(injected.disconnects).toBe(1);
          expect(lin.notices).toContain("connection lost: reconnecting");
        } else {
          expect(injected.stalls).toBe(1);
          expect(injected.stalledFrames).toBeGreaterThan(0);
          expect(c.stalls).toBe(1);
        }
        expect(sim.connections().map((x) => x.open)).toEqual([false, true]);
        expectBooksEqual(sim, lin);
      } finally {
        lin.feed.stop();
        await sim.stop();
      }
    }, 20_000);
  }

  test("heartbeat: {\"op\":\"ping\"} answered with the documented pong of each category; the feeds count them", async () => {
    const sim = startBybitSim({ capture: tape, autoStart: false });
    const lin = bybitFeed(sim, "linear", { pingMs: 25 }), spot = bybitFeed(sim, "spot", { pingMs: 25 });
    const rl = await rawClient(`${sim.wsUrl}/v5/public/linear`), rs = await rawClient(`${sim.wsUrl}/v5/public/spot`);
    try {
      lin.feed.start();
      spot.feed.start();
      const [pl] = await rl.ask('{"op":"ping","req_id":"hb-1"}');
      expect(JSON.parse(pl!)).toEqual({ req_id: "hb-1", op: "pong", args: [String(Math.floor(tape.recvNs[0]! / 1e6))], conn_id: expect.stringMatching(/^bybit-sim-\d+$/) });
      const [ps] = await rs.ask('{"op":"ping"}');
      expect(JSON.parse(ps!)).toEqual({ success: true, ret_msg: "pong", conn_id: expect.any(String), req_id: "", op: "ping" });
      await until("pongs", () => lin.feed.counters.pongs >= 3 && spot.feed.counters.pongs >= 3, 5000, () => [lin.feed.counters, spot.feed.counters]);
      for (const f of [lin, spot]) {
        expect(f.feed.counters.pongTimeouts).toBe(0);
        expect(f.feed.counters.malformed + f.feed.counters.errors).toBe(0);
      }
      expect(sim.counters.pings).toBe(0); // Bybit sends no protocol pings of its own
    } finally {
      rl.close();
      rs.close();
      lin.feed.stop();
      spot.feed.stop();
      await sim.stop();
    }
  });

  test("control replies: subscribe/unsubscribe acks with req_id echoed, and the error replies", async () => {
    const sim = startBybitSim({ capture: tape, autoStart: false });
    const c = await rawClient(`${sim.wsUrl}/v5/public/linear`), s = await rawClient(`${sim.wsUrl}/v5/public/spot`);
    try {
      const one = async (cl: typeof c, req: unknown) => JSON.parse((await cl.ask(typeof req === "string" ? req : JSON.stringify(req)))[0]!);
      expect(await one(c, { op: "subscribe", args: ["publicTrade.BTCUSDT"], req_id: "a1" })).toEqual({ success: true, ret_msg: "", conn_id: expect.any(String), req_id: "a1", op: "subscribe" });
      expect(sim.connections()[0]!.subscriptions).toEqual(["linear/publicTrade.BTCUSDT"]);
      expect(await one(c, { op: "subscribe", args: ["publicTrade.BTCUSDT"] })).toMatchObject({ success: false, ret_msg: "error:already subscribed,topic:publicTrade.BTCUSDT", op: "subscribe" });
      expect(await one(c, { op: "unsubscribe", args: ["publicTrade.BTCUSDT"], req_id: "a2" })).toMatchObject({ success: true, req_id: "a2", op: "unsubscribe" });
      expect(sim.connections()[0]!.subscriptions).toEqual([]);
      expect(await one(c, { op: "subscribe", args: ["orderbook.50.NOPEUSDT", "publicTrade.BTCUSDT"] })).toMatchObject({ success: false, ret_msg: "Invalid symbol :[orderbook.50.NOPEUSDT]" });
      expect(sim.connections()[0]!.subscriptions).toEqual([]); // nothing of a refused request applied
      expect(await one(c, { op: "subscribe", args: ["orderbook.7.BTCUSDT"] })).toMatchObject({ success: false, ret_msg: "Invalid symbol :[orderbook.7.BTCUSDT]" });
      expect(await one(c, { op: "subscribe", args: ["orderbook.50.BTCUSDT"] })).toMatchObject({ success: false, ret_msg: "error:topic not in the capture,topic:orderbook.50.BTCUSDT" });
      expect(await one(c, "{nope")).toMatchObject({ success: false, ret_msg: expect.stringContaining("not JSON") });
      expect(await one(c, { op: "auth" })).toMatchObject({ success: false, ret_msg: 'error:unsupported op "auth"', op: "auth" });
      expect(await one(c, { op: "subscribe", args: [1] })).toMatchObject({ success: false, op: "subscribe" });
      const eleven = Array.from({ length: 11 }, () => "publicTrade.BTCUSDT");
      expect(await one(s, { op: "subscribe", args: eleven })).toMatchObject({ success: false, ret_msg: "error:args size 11 exceeds 10" });
      // a category the capture does not hold: the upgrade is refused
      const refused = await new Promise<boolean>((res) => {
        const ws = new WebSocket(`${sim.wsUrl}/v5/public/inverse`);
        ws.onopen = () => (ws.close(), res(false));
        ws.onclose = () => res(true);
      });
      expect(refused).toBe(true);
      expect(sim.counters.connections).toBe(2);
    } finally {
      c.close();
      s.close();
      await sim.stop();
    }
  });

  test("an unknown symbol through BybitFeed: one error reply counted with its message", async () => {
    const sim = startBybitSim({ capture: tape, autoStart: false });
    const texts: string[] = [];
    const r = ring();
    const feed = new BybitFeed({ wsUrl: `${sim.wsUrl}/v5/public/linear`, symbols: [{ symbol: "NOPEUSDT", instrument: 0 }], channels: ["orderbook"], ring: r, clock: () => 0, transport: tap(texts) });
    try {
      feed.start();
      await until("error reply", () => feed.counters.errors === 1);
      expect(feed.errorMessages).toEqual(["subscribe: Invalid symbol :[orderbook.50.NOPEUSDT]"]);
      expect(feed.counters.subscribeAcks).toBe(0);
    } finally {
      feed.stop();
      await sim.stop();
    }
  });

  test("REST: /v5/market/orderbook is the venue's book at the replay position", async () => {
    const sim = startBybitSim({ capture: tape, speed: 0, autoStart: false });
    try {
      sim.start();
      await sim.pauseAt(Math.floor(tape.count / 3));
      const r = (await (await fetch(`${sim.httpUrl}/v5/market/orderbook?category=linear&symbol=ETHUSDT&limit=5`)).json()) as { retCode: number; result: { b: string[][]; a: string[][]; u: number; s: string } };
      const v = sim.venue.book("linear", "orderbook.200.ETHUSDT")!;
      expect(r.retCode).toBe(0);
      expect(r.result.s).toBe("ETHUSDT");
      expect(r.result.u).toBe(v.book.lastSeq);
      expect(r.result.b.map(([p, q]) => [Number(p), Number(q)])).toEqual(v.book.levels(BID, 5));
      expect(r.result.a.map(([p, q]) => [Number(p), Number(q)])).toEqual(v.book.levels(ASK, 5));
      const bad = (await (await fetch(`${sim.httpUrl}/v5/market/orderbook?category=linear&symbol=NOPEUSDT`)).json()) as { retCode: number };
      expect(bad.retCode).toBe(10001);
      const t = (await (await fetch(`${sim.httpUrl}/v5/market/time`)).json()) as { result: { timeSecond: string } };
      expect(Number(t.result.timeSecond)).toBe(Math.floor(sim.venue.nowMs() / 1000));
    } finally {
      await sim.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// OKX v5 (a generated session: no data needed)

/** OKX's checksum rule, literally, over a side map price → [px, sz]: 25 a side, bid:ask interleaved */
function refChecksum(bids: Map<number, [string, string]>, asks: Map<number, [string, string]>): number {
  const b = [...bids.entries()].sort((x, y) => y[0] - x[0]).slice(0, 25).map((e) => e[1]);
  const a = [...asks.entries()].sort((x, y) => x[0] - y[0]).slice(0, 25).map((e) => e[1]);
  const parts: string[] = [];
  for (let i = 0; i < 25; i++) {
    if (b[i]) parts.push(`${b[i]![0]}:${b[i]![1]}`);
    if (a[i]) parts.push(`${a[i]![0]}:${a[i]![1]}`);
  }
  return zlibCrc32(parts.join(":")) | 0;
}

describe("venue simulator: OKX v5 on a generated session", () => {
  let tape: OkxTape;
  const rings: SpscRing[] = [];
  beforeAll(() => {
    tape = generateOkxTape({ pushes: 4000, seed: 7 });
  });
  afterAll(() => {
    for (const r of rings) r.free();
  });

  function okxFeed(sim: OkxSim, extra: Partial<ConstructorParameters<typeof OkxFeed>[0]> = {}) {
    const texts: string[] = [], notices: string[] = [];
    const ring = SpscRing.create(1 << 16);
    rings.push(ring);
    const feed = new OkxFeed({
      wsUrl: `${sim.wsUrl}/ws/v5/public`,
      symbols: OKX_SIM_INSTRUMENTS.map((x, instrument) => ({ instId: x.instId, instrument })),
      channels: ["books", "trades"],
      ring,
      clock: () => performance.now() * 1e6,
      backoff: { baseMs: 20, capMs: 100 },
      stallMs: 5000,
      random: () => 0.5,
      transport: tap(texts),
      onNotice: (what) => notices.push(what),
      ...extra,
    });
    return { feed, texts, notices, ring };
  }
  type F = ReturnType<typeof okxFeed>;

  function expectBooksEqual(sim: OkxSim, f: F): void {
    OKX_SIM_INSTRUMENTS.forEach((x, i) => {
      const v = sim.venue.book(x.instId)!;
      const own = f.feed.sync(i)!;
      expect(own.book.synced).toBe(true);
      expect(own.book.lastSeq).toBe(v.book.lastSeq);
      expect(own.book.levels(BID)).toEqual(v.book.levels(BID));
      expect(own.book.levels(ASK)).toEqual(v.book.levels(ASK));
      expect(own.checksum()).toBe(v.sync.checksum());
    });
  }
  const caughtUp = (sim: OkxSim, f: F) => OKX_SIM_INSTRUMENTS.every((x, i) => f.feed.sync(i)?.book.synced && f.feed.sync(i)!.book.lastSeq === sim.venue.book(x.instId)!.book.lastSeq);
  const allReceived = (sim: OkxSim, f: F) => {
    let sent = 0;
    for (const c of sim.connections()) sent += c.sent + (sim.venue.replies.get(c.id) ?? 0);
    return f.texts.length === sent;
  };

  test("the generated session: deterministic under its seed, every checksum agrees with a literal CRC32 reference, the books never cross", () => {
    expect(generateOkxTape({ pushes: 4000, seed: 7 }).text).toEqual(tape.text);
    expect(generateOkxTape({ pushes: 4000, seed: 8 }).text).not.toEqual(tape.text);
    const books = tape.startBooks.map((d) => {
      const m = [new Map<number, [string, string]>(), new Map<number, [string, string]>()];
      for (const [p, s] of d.bids) m[BID]!.set(Number(p), [p, s]);
      for (const [p, s] of d.asks) m[ASK]!.set(Number(p), [p, s]);
      expect(refChecksum(m[BID]!, m[ASK]!)).toBe(d.checksum!);
      return { m, seq: d.seqId! };
    });
    let noChange = 0, trades = 0;
    for (let k = 0; k < tape.count; k++) {
      const o = JSON.parse(tape.text[k]!);
      const b = books[tape.inst[k]!]!;
      expect(o.arg.instId).toBe(OKX_SIM_INSTRUMENTS[tape.inst[k]!]!.instId);
      if (o.arg.channel === "trades") {
        trades += o.data.length;
        continue;
      }
      const d = o.data[0];
      expect(d.prevSeqId).toBe(b.seq);
      if (d.bids.length + d.asks.length === 0) {
        expect(d.seqId).toBe(d.prevSeqId);
        noChange++;
      } else expect(d.seqId).toBeGreaterThan(d.prevSeqId);
      b.seq = d.seqId;
      for (const [side, lv] of [[BID, d.bids], [ASK, d.asks]] as const) {
        for (const [p, s] of lv as string[][]) {
          if (Number(s) === 0) b.m[side]!.delete(Number(p));
          else b.m[side]!.set(Number(p), [p!, s!]);
        }
      }
      expect(d.checksum).toBe(refChecksum(b.m[BID]!, b.m[ASK]!));
      expect(Math.max(...b.m[BID]!.keys())).toBeLessThan(Math.min(...b.m[ASK]!.keys()));
    }
    expect(noChange).toBeGreaterThan(50);
    expect(trades).toBeGreaterThan(500);
  });

  test("clean replay: snapshot then every push verbatim, records as a direct normalisation gives, books equal the venue's", async () => {
    const sim = startOkxSim({ tape, speed: 0, autoStart: false });
    const f = okxFeed(sim);
    try {
      f.feed.start();
      await until("subscribed", () => f.feed.counters.subscribeAcks === 4 && f.feed.counters.snapshots === 2);
      sim.start();
      await sim.done;
      await until("every frame received", () => allReceived(sim, f), 8000, () => f.feed.counters);
      const c = f.feed.counters;
      expect(c.gaps + c.checksumMismatches + c.crossed + c.bookMalformed + c.withheld + c.resubscribes).toBe(0);
      expect(c.malformed + c.errors + c.unknownSymbols + c.other).toBe(0);
      expect(c.heartbeats).toBeGreaterThan(50);
      expect(sim.venue.bookProblems).toBe(0);
      // after the 4 acks and 2 snapshots, the tape itself, byte for byte
      expect(f.texts.slice(6)).toEqual(tape.text);
      const snap = JSON.parse(f.texts.find((t) => t.includes('"action":"snapshot"'))!);
      expect(snap.data[0].prevSeqId).toBe(-1);
      expect(snap.data[0].seqId).toBe(tape.startBooks[snap.arg.instId === "BTC-USDT" ? 0 : 1]!.seqId);
      const table = new InstrumentTable();
      for (const x of OKX_SIM_INSTRUMENTS) table.id(Venue.okx, okxUnified(x.instId));
      const tb = new TickBuffer(1 << 16);
      for (const t of f.texts) if (t.startsWith('{"arg"')) normalizeOkxFrame(JSON.parse(t), 0n, table, tb);
      const got = drain(f.ring);
      expect(got.length).toBe(tb.count * TICK_BYTES);
      expect(Buffer.from(got).equals(Buffer.from(tb.bytes()))).toBe(true);
      const checked = OKX_SIM_INSTRUMENTS.reduce((s, _, i) => s + f.feed.sync(i)!.counters.checksumsChecked, 0);
      expect(checked).toBe(c.snapshots + c.applied + c.heartbeats);
      expectBooksEqual(sim, f);
    } finally {
      f.feed.stop();
      await sim.stop();
    }
  }, 20_000);

  for (const fault of ["drop", "corrupt"] as const) {
    test(`${fault} faults on one instrument's books: gap found, withheld, unsubscribe + subscribe, fresh snapshot, books equal`, async () => {
      const rule = { every: 60, streams: [okxStream("books", "BTC-USDT")] };
      const plan: FaultPlan = fault === "drop" ? { drop: rule } : { corrupt: { ...rule, mode: "truncate" } };
      const sim = startOkxSim({ tape, speed: 0, autoStart: false, faults: plan });
      const f = okxFeed(sim);
      try {
        f.feed.start();
        await until("subscribed", () => f.feed.counters.snapshots === 2);
        sim.start();
        await sim.done;
        await until("books resynced", () => allReceived(sim, f) && f.feed.counters.snapshots === 2 + f.feed.counters.resubscribes && caughtUp(sim, f), 8000, () => f.feed.counters);
        const c = f.feed.counters, injected = sim.faultTotals();
        const lost = fault === "drop" ? injected.dropped : injected.corrupted;
        expect(lost).toBeGreaterThan(10);
        if (fault === "corrupt") expect(c.malformed).toBe(injected.corrupted);
        expect(c.gaps).toBeGreaterThanOrEqual(1);
        expect(c.gaps).toBeLessThanOrEqual(lost);
        expect(c.checksumMismatches).toBe(0);
        expect(c.resubscribes).toBe(c.gaps);
        expect(c.unsubscribeAcks).toBe(c.resubscribes);
        expect(sim.venue.snapshotsSent).toBe(2 + c.resubscribes);
        expect(f.feed.sync(1)!.counters.gaps).toBe(0);
        expect(f.notices).toContain("book resync: resubscribing");
        expectBooksEqual(sim, f);
      } finally {
        f.feed.stop();
        await sim.stop();
      }
    }, 20_000);
  }

  test("disconnect fault: reconnect, subscribe everything again, fresh snapshots, books equal the venue's", async () => {
    const sim = startOkxSim({ tape, speed: 0, autoStart: false, faults: (c) => (c.id === 0 ? { disconnect: { afterFrames: 800, abrupt: true } } : undefined) });
    const f = okxFeed(sim);
    try {
      f.feed.start();
      await until("subscribed", () => f.feed.counters.snapshots === 2);
      sim.start();
      await sim.pauseAt(1500);
      await until("reconnect and resubscribe", () => f.feed.counters.connects === 2 && f.feed.counters.snapshots === 4, 8000, () => f.feed.counters);
      sim.resume();
      await sim.done;
      await until("every frame received", () => allReceived(sim, f) && caughtUp(sim, f), 8000, () => f.feed.counters);
      const c = f.feed.counters;
      expect(sim.faultTotals().disconnects).toBe(1);
      expect(c.reconnects).toBe(1);
      expect(c.subscribeAcks).toBe(8);
      expect(c.gaps + c.checksumMismatches + c.withheld).toBe(0);
      expect(f.notices).toContain("connection lost: reconnecting");
      expectBooksEqual(sim, f);
    } finally {
      f.feed.stop();
      await sim.stop();
    }
  }, 20_000);

  test('heartbeat: the text "ping" → "pong"; an idle OkxFeed pings and counts every pong', async () => {
    const sim = startOkxSim({ tape, autoStart: false });
    const f = okxFeed(sim, { pingMs: 25, pongTimeoutMs: 5000 });
    const raw = await rawClient(`${sim.wsUrl}/ws/v5/public`);
    try {
      expect(await raw.ask("ping")).toEqual(["pong"]);
      f.feed.start();
      await until("pongs", () => f.feed.counters.pongs >= 3, 5000, () => f.feed.counters);
      expect(f.feed.counters.pongTimeouts).toBe(0);
      expect(f.feed.counters.snapshots).toBe(2);
      expect(sim.counters.pings).toBe(0);
    } finally {
      raw.close();
      f.feed.stop();
      await sim.stop();
    }
  });

  test("control replies and documented error events", async () => {
    const sim = startOkxSim({ tape, autoStart: false });
    const raw = await rawClient(`${sim.wsUrl}/ws/v5/public`);
    try {
      const rep = (ts: string[]) => ts.map((t) => JSON.parse(t));
      const sub = rep(await raw.ask(JSON.stringify({ id: "r1", op: "subscribe", args: [{ channel: "trades", instId: "NOPE-USDT" }, { channel: "books", instId: "BTC-USDT" }] }), 3));
      expect(sub[0]).toEqual({ id: "r1", event: "error", code: "60018", msg: "Wrong URL or channel:trades,instId:NOPE-USDT doesn't exist. Please use the correct URL, channel and parameters referring to API document.", connId: expect.any(String) });
      expect(sub[1]).toEqual({ id: "r1", event: "subscribe", arg: { channel: "books", instId: "BTC-USDT" }, connId: sub[0].connId });
      expect(sub[2]).toMatchObject({ arg: { channel: "books", instId: "BTC-USDT" }, action: "snapshot" });
      const d = sub[2].data[0];
      expect(d.prevSeqId).toBe(-1);
      expect(d.seqId).toBe(sim.venue.book("BTC-USDT")!.book.lastSeq);
      const bids = new Map<number, [string, string]>(d.bids.map((l: string[]) => [Number(l[0]), [l[0], l[1]]]));
      const asks = new Map<number, [string, string]>(d.asks.map((l: string[]) => [Number(l[0]), [l[0], l[1]]]));
      expect(d.checksum).toBe(refChecksum(bids, asks));
      expect(d.bids[0]).toHaveLength(4);
      expect(sim.connections()[0]!.subscriptions).toEqual([okxStream("books", "BTC-USDT")]);
      expect(rep(await raw.ask(JSON.stringify({ op: "unsubscribe", args: [{ channel: "books", instId: "BTC-USDT" }] })))[0]).toMatchObject({ event: "unsubscribe", arg: { channel: "books", instId: "BTC-USDT" } });
      expect(sim.connections()[0]!.subscriptions).toEqual([]);
      expect(rep(await raw.ask(JSON.stringify({ op: "subscribe", args: [{ channel: "tickers", instId: "BTC-USDT" }] })))[0]).toMatchObject({ event: "error", code: "60018" });
      expect(rep(await raw.ask("hello"))[0]).toMatchObject({ event: "error", code: "60012", msg: "Invalid request: hello" });
      expect(rep(await raw.ask(JSON.stringify({ op: "login" })))[0]).toMatchObject({ event: "error", code: "60019", msg: "Invalid op: login" });
      expect(rep(await raw.ask(JSON.stringify({ op: "subscribe", args: "books" })))[0]).toMatchObject({ event: "error", code: "60013" });
      const books = (await (await fetch(`${sim.httpUrl}/api/v5/market/books?instId=ETH-USDT-SWAP&sz=3`)).json()) as { code: string; data: Array<{ bids: string[][]; asks: string[][] }> };
      expect(books.code).toBe("0");
      expect(books.data[0]!.bids.map((l) => Number(l[0]))).toEqual(sim.venue.book("ETH-USDT-SWAP")!.book.levels(BID, 3).map((l) => l[0]));
      expect(((await (await fetch(`${sim.httpUrl}/api/v5/market/books?instId=NOPE`)).json()) as { code: string }).code).toBe("51001");
    } finally {
      raw.close();
      await sim.stop();
    }
  });

  test("an unknown instrument through OkxFeed: the 60018 error event counted with its message", async () => {
    const sim = startOkxSim({ tape, autoStart: false });
    const ring = SpscRing.create(1024);
    rings.push(ring);
    const feed = new OkxFeed({ wsUrl: `${sim.wsUrl}/ws/v5/public`, symbols: [{ instId: "NOPE-USDT", instrument: 0 }], channels: ["books"], ring, clock: () => 0 });
    try {
      feed.start();
      await until("error event", () => feed.counters.errors === 1);
      expect(feed.errorMessages[0]).toStartWith("60018: Wrong URL or channel:books,instId:NOPE-USDT doesn't exist");
      expect(feed.counters.subscribeAcks + feed.counters.snapshots).toBe(0);
    } finally {
      feed.stop();
      await sim.stop();
    }
  });
});
