/**
 * The native Bybit feed end to end over a real socket: a local server on 127.0.0.1 speaks Bybit's
 * v5 public protocol (subscribe/unsubscribe with their replies, `{"op":"ping"}` → pong, a
 * `success: false` reply for a topic it does not know) and replays the recorded `recv` topic
 * frames of the linear connection of a real capture (cryptofeed v3 BYBIT, verbatim; the recorded
 * op replies are not replayed — the server answers the feed's own requests). The server keeps
 * its own book per topic from the frames it sends or loses (a plain price-string map, independent
 * of the code under test) and answers a subscribe that comes after the topic's first recorded
 * snapshot with a snapshot of that book, as Bybit does.
 *
 * An engine loop drains the ring into C books (rule SEQ) and asks the feed to resync when one of
 * them sees a gap. Checked: every frame sent turns into the same records a direct normalisation
 * gives, in order; the C books and the feed's own books end equal to the server's; a lost delta
 * and a server-side disconnect are recovered by resubscribe / reconnect; pings are sent and
 * answered and a silent server is left; an error reply and junk frames are counted.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { alignedBuffer } from "../ffi/buffers.ts";
import { BookRule, BookSet } from "../ffi/book.ts";
import { SpscRing } from "../ffi/ring.ts";
import { ASK, BID } from "../src/book/l2book.ts";
import { InstrumentTable } from "../src/domain/instruments.ts";
import { T, TICK_BYTES, TickKind } from "../src/domain/tick.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { BybitFeed } from "../src/feed/bybit/feed.ts";
import { BybitTickerState, bybitUnified, normalizeBybitFrame } from "../src/feed/bybit/normalize.ts";
import { CryptofeedV3Reader } from "../src/feed/cryptofeed-v3.ts";

const FILE = new URL("../../shared/data/cryptofeed-v3/BYBIT.jsonl.gz", import.meta.url).pathname;
const hasData = existsSync(FILE);
if (!hasData) console.warn(`bybit-feed.test: ${FILE} is absent (../shared/data is not beside the project); the replay tests are skipped`);

const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"];
const DEPTH = 200;
const PATH = "/v5/public/linear";

interface Frame {
  text: string;
  topic: string;
  obj: Record<string, unknown>;
}

/** The server's own book of one topic: price text → size text per side, sorted when read. */
class RefBook {
  bids = new Map<string, string>();
  asks = new Map<string, string>();
  u = 0;
  seq = 0;
  ts = 0;
  cts = 0;
  loaded = false;
  apply(f: Frame): void {
    const d = f.obj.data as { b: string[][]; a: string[][]; u: number; seq?: number };
    if (f.obj.type === "snapshot") {
      this.bids.clear();
      this.asks.clear();
      this.loaded = true;
    }
    for (const [side, lv] of [[this.bids, d.b], [this.asks, d.a]] as const) {
      for (const [p, s] of lv) {
        if (Number(s) === 0) side.delete(p!);
        else side.set(p!, s!);
      }
    }
    this.u = d.u;
    this.seq = d.seq ?? 0;
    this.ts = f.obj.ts as number;
    this.cts = (f.obj.cts as number | undefined) ?? 0;
  }
  sorted(side: "bids" | "asks"): string[][] {
    return [...this[side].entries()].sort((x, y) => (side === "bids" ? Number(y[0]) - Number(x[0]) : Number(x[0]) - Number(y[0])));
  }
  levels(side: number): Array<[number, number]> {
    return this.sorted(side === BID ? "bids" : "asks").map(([p, s]) => [Number(p), Number(s)]);
  }
  snapshotFrame(topic: string, symbol: string): string {
    return JSON.stringify({ topic, type: "snapshot", ts: this.ts, data: { s: symbol, b: this.sorted("bids"), a: this.sorted("asks"), u: this.u, seq: this.seq }, cts: this.cts });
  }
}

interface VenueOpts {
  /** lose this frame (it happens at the venue, the feed never sees it) */
  dropAt?: number;
  /** close the socket when the replay reaches this frame, losing `lose` frames */
  cutAt?: number;
  lose?: number;
  answerPings?: boolean;
  /** sent right after the first connection opens */
  junk?: string[];
  /** topics the venue knows besides those of the frames */
  topics?: string[];
}

interface Venue {
  port: number;
  stop(): void;
  conns: number;
  /** every text frame sent (replies, pongs, topic frames) */
  out: number;
  /** topic frames sent, in order (recorded and generated) */
  sent: string[];
  pings: number;
  requests: Array<{ op: string; args: string[] }>;
  books: Map<string, RefBook>;
  done: Promise<void>;
}

function startVenue(frames: Frame[], opts: VenueOpts = {}): Venue {
  const universe = new Set([...frames.map((f) => f.topic), ...(opts.topics ?? [])]);
  const books = new Map<string, RefBook>();
  for (const t of universe) if (t.startsWith("orderbook.")) books.set(t, new RefBook());
  let cursor = 0, cut = false, resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  if (frames.length === 0) resolveDone();
  const advance = (i: number) => books.get(frames[i]!.topic)?.apply(frames[i]!);
  type Data = { subs: Set<string>; timer: ReturnType<typeof setInterval> | null; id: string };
  const v: Venue = { port: 0, stop: () => server.stop(true), conns: 0, out: 0, sent: [], pings: 0, requests: [], books, done };
  const server = Bun.serve<Data>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      if (new URL(req.url).pathname !== PATH) return new Response("not found", { status: 404 });
      return srv.upgrade(req, { data: { subs: new Set<string>(), timer: null, id: `conn-${v.conns + 1}` } }) ? undefined : new Response("upgrade failed", { status: 400 });
    },
    websocket: {
      open(ws) {
        v.conns++;
        if (v.conns === 1) for (const j of opts.junk ?? []) ws.send(j), v.out++;
      },
      message(ws, raw) {
        const send = (t: string) => {
          ws.send(t);
          v.out++;
        };
        const m = JSON.parse(String(raw)) as { op: string; args?: string[] };
        v.requests.push({ op: m.op, args: m.args ?? [] });
        if (m.op === "ping") {
          v.pings++;
          if (opts.answerPings !== false) send(JSON.stringify({ req_id: "", op: "pong", args: [String(Date.now())], conn_id: ws.data.id }));
          return;
        }
        const args = m.args ?? [];
        const bad = args.filter((a) => !universe.has(a));
        if (bad.length > 0) {
          send(JSON.stringify({ success: false, ret_msg: `Invalid symbol :[${bad.join(",")}]`, conn_id: ws.data.id, req_id: "", op: m.op }));
          return;
        }
        send(JSON.stringify({ success: true, ret_msg: "", conn_id: ws.data.id, req_id: "", op: m.op }));
        for (const a of args) {
          if (m.op === "unsubscribe") ws.data.subs.delete(a);
          if (m.op !== "subscribe") continue;
          ws.data.subs.add(a);
          // a late subscriber gets the venue's current book first
          const b = books.get(a);
          if (b?.loaded) {
            const snap = b.snapshotFrame(a, a.slice(a.lastIndexOf(".") + 1));
            send(snap);
            v.sent.push(snap);
          }
        }
        if (m.op === "subscribe" && ws.data.timer === null) {
          ws.data.timer = setInterval(() => {
            for (let k = 0; k < 200 && cursor < frames.length; k++) {
              if (opts.cutAt !== undefined && !cut && cursor === opts.cutAt) {
                cut = true;
                for (let j = 0; j < (opts.lose ?? 0); j++) advance(cursor++);
                clearInterval(ws.data.timer!);
                ws.close(1001, "going away");
                return;
              }
              const f = frames[cursor]!;
              advance(cursor);
              if (cursor++ === opts.dropAt) continue;
              if (!ws.data.subs.has(f.topic)) continue;
              send(f.text);
              v.sent.push(f.text);
            }
            if (cursor >= frames.length) {
              clearInterval(ws.data.timer!);
              resolveDone();
            }
          }, 2);
        }
      },
      close(ws) {
        if (ws.data.timer) clearInterval(ws.data.timer);
      },
    },
  });
  v.port = server.port!;
  return v;
}

/** The engine side: drains the ring into C books (rule SEQ) and keeps every record it saw. */
function engine(ring: SpscRing, feed: BybitFeed, n: number) {
  const books = new BookSet(n);
  for (let i = 0; i < n; i++) books.add(i, BookRule.seq);
  const cap = 4096, out = alignedBuffer(cap * TICK_BYTES);
  const view = new Uint8Array(out.buffer, out.byteOffset, cap * TICK_BYTES);
  const chunks: Uint8Array[] = [];
  const asked = new Array<number>(n).fill(0);
  const timer = setInterval(() => {
    for (;;) {
      const got = ring.pop(out.ptr, cap);
      if (got === 0) break;
      chunks.push(view.slice(0, got * TICK_BYTES));
      books.apply(out.ptr, 0xffffffff, 0, got);
      for (let i = 0; i < n; i++) {
        const b = books.get(i)!;
        if (b.resyncRequests > asked[i]!) {
          asked[i] = b.resyncRequests;
          feed.requestResync(i);
        }
      }
    }
  }, 1);
  const records = () => {
    const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
    let at = 0;
    for (const c of chunks) all.set(c, (at += c.length) - c.length);
    return all;
  };
  return { books, records, stop: () => clearInterval(timer) };
}

async function until(cond: () => boolean, ms: number, state: () => unknown = () => ""): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms; state: ${JSON.stringify(state())}`);
    await Bun.sleep(5);
  }
}

function makeFeed(port: number, ring: SpscRing, notices: string[], extra: Partial<ConstructorParameters<typeof BybitFeed>[0]> = {}): BybitFeed {
  return new BybitFeed({
    wsUrl: `ws://127.0.0.1:${port}${PATH}`,
    symbols: SYMBOLS.map((symbol, instrument) => ({ symbol, instrument })),
    channels: ["orderbook", "publicTrade", "tickers"],
    depth: DEPTH,
    ring,
    clock: () => performance.now() * 1e6,
    backoff: { baseMs: 20, capMs: 100 },
    stallMs: 5000,
    random: () => 0.5,
    onNotice: (what) => notices.push(what),
    ...extra,
  });
}

/** Records a direct normalisation of the frames gives, with the receive time and venue zeroed. */
function expectedRecords(sent: string[]): Uint8Array {
  const table = new InstrumentTable();
  for (const s of SYMBOLS) table.id(7, bybitUnified(s, "linear"));
  const tb = new TickBuffer(1 << 16), tickers = new BybitTickerState();
  for (const t of sent) normalizeBybitFrame(JSON.parse(t), 0n, table, tb, { category: "linear", tickers });
  return tb.bytes().slice();
}

function withoutRecvTime(recs: Uint8Array): Uint8Array {
  const out = recs.slice();
  for (let i = 0; i < out.length; i += TICK_BYTES) out.fill(0, i + 8, i + 16);
  return out;
}

function checkBooks(venue: Venue, feed: BybitFeed, eng: ReturnType<typeof engine>): void {
  SYMBOLS.forEach((s, i) => {
    const ref = venue.books.get(`orderbook.${DEPTH}.${s}`)!;
    const cb = eng.books.get(i)!;
    expect(cb.synced).toBe(true);
    expect(cb.lastSeq).toBe(ref.u);
    expect(cb.levels(BID, 1e6)).toEqual(ref.levels(BID));
    expect(cb.levels(ASK, 1e6)).toEqual(ref.levels(ASK));
    const own = feed.sync(i)!;
    expect(own.book.synced).toBe(true);
    expect(own.book.levels(BID)).toEqual(ref.levels(BID));
    expect(own.book.levels(ASK)).toEqual(ref.levels(ASK));
  });
}

describe.skipIf(!hasData)("BybitFeed against a local Bybit v5 venue replaying the linear capture", () => {
  const frames: Frame[] = [];
  if (hasData) {
    for (const e of CryptofeedV3Reader.open(FILE).entries()) {
      if (e.kind !== "recv" || e.conn !== "BYBIT.ws.2") continue;
      const obj = JSON.parse(e.frame) as Record<string, unknown>;
      if (typeof obj.topic === "string") frames.push({ text: e.frame, topic: obj.topic, obj });
    }
  }
  const ourTopics = new Set(SYMBOLS.flatMap((s) => [`orderbook.${DEPTH}.${s}`, `publicTrade.${s}`, `tickers.${s}`]));

  test("clean run: every frame becomes the records a direct normalisation gives, in order; books equal the venue's", async () => {
    const venue = startVenue(frames);
    const ring = SpscRing.create(1 << 16);
    const notices: string[] = [];
    const feed = makeFeed(venue.port, ring, notices);
    const eng = engine(ring, feed, SYMBOLS.length);
    try {
      feed.start();
      await Promise.race([venue.done, Bun.sleep(10_000)]);
      await until(() => feed.counters.frames >= venue.out && ring.size === 0, 5000, () => ({ feed: feed.counters, out: venue.out }));
      await Bun.sleep(20); // the engine loop's last pass
      const sentOurs = frames.filter((f) => ourTopics.has(f.topic)).length;
      expect(venue.sent.length).toBe(sentOurs); // nothing generated, nothing withheld
      expect(feed.counters.frames).toBe(venue.out);
      expect(feed.counters.malformed).toBe(0);
      expect(feed.counters.errors).toBe(0);
      expect(feed.counters.subscribeAcks).toBe(2); // 12 topics, 10 a request
      expect(feed.counters.gaps + feed.counters.crossed + feed.counters.bookMalformed + feed.counters.resubscribes).toBe(0);
      expect(feed.counters.unknownSymbols).toBe(0);
      expect(ring.drops).toBe(0);
      expect(venue.conns).toBe(1);
      // the ring holds exactly what a direct normalisation of the sent frames gives
      const got = eng.records(), want = expectedRecords(venue.sent);
      expect(got.length).toBe(want.length);
      expect(feed.counters.records).toBe(want.length / TICK_BYTES);
      expect(Buffer.from(withoutRecvTime(got)).equals(Buffer.from(want))).toBe(true);
      // and independently of the normaliser: one LEVEL per level sent, one TRADE per trade sent
      let levels = 0, trades = 0;
      for (const t of venue.sent) {
        const o = JSON.parse(t);
        if (o.topic.startsWith("orderbook.")) levels += Math.max(1, o.data.b.length + o.data.a.length);
        if (o.topic.startsWith("publicTrade.")) trades += o.data.length;
      }
      let gotLevels = 0, gotTrades = 0;
      for (let i = 0; i < got.length; i += TICK_BYTES) {
        if (got[i + T.KIND_U8] === TickKind.level) gotLevels++;
        if (got[i + T.KIND_U8] === TickKind.trade) gotTrades++;
        if (got[i + 60] !== 7) throw new Error(`record ${i / TICK_BYTES}: venue ${got[i + 60]}`);
      }
      expect(gotLevels).toBe(levels);
      expect(gotTrades).toBe(trades);
      expect(trades).toBeGreaterThan(50);
      checkBooks(venue, feed, eng);
      for (let i = 0; i < SYMBOLS.length; i++) expect(eng.books.get(i)!.counters().gaps).toBe(0);
    } finally {
      feed.stop();
      eng.stop();
      venue.stop();
      ring.free();
    }
  }, 20_000);

  test("a lost delta: gap → unsubscribe + subscribe → fresh snapshot → books equal the venue's", async () => {
    const btc = `orderbook.${DEPTH}.BTCUSDT`;
    const deltas = frames.map((f, i) => [f, i] as const).filter(([f]) => f.topic === btc && f.obj.type === "delta");
    const dropAt = deltas[Math.floor(deltas.length / 2)]![1];
    const venue = startVenue(frames, { dropAt });
    const ring = SpscRing.create(1 << 16);
    const notices: string[] = [];
    const feed = makeFeed(venue.port, ring, notices);
    const eng = engine(ring, feed, SYMBOLS.length);
    try {
      feed.start();
      await Promise.race([venue.done, Bun.sleep(10_000)]);
      await until(() => feed.counters.frames >= venue.out && ring.size === 0 && eng.books.get(0)!.lastSeq === venue.books.get(btc)!.u, 5000, () => ({ feed: feed.counters, out: venue.out }));
      await Bun.sleep(20);
      expect(feed.counters.gaps).toBe(1);
      expect(feed.counters.resubscribes).toBe(1); // the feed's book and the engine's book asked; one resubscribe
      expect(venue.requests.filter((r) => r.op === "unsubscribe")).toEqual([{ op: "unsubscribe", args: [btc] }]);
      expect(venue.requests.filter((r) => r.op === "subscribe").at(-1)).toEqual({ op: "subscribe", args: [btc] });
      expect(notices).toContain("book resync: resubscribing");
      expect(feed.counters.snapshots).toBe(SYMBOLS.length + 1);
      expect(eng.books.get(0)!.counters().gaps).toBe(1);
      expect(venue.conns).toBe(1);
      expect(ring.drops).toBe(0);
      checkBooks(venue, feed, eng);
    } finally {
      feed.stop();
      eng.stop();
      venue.stop();
      ring.free();
    }
  }, 20_000);

  test("a server-side disconnect with lost frames: reconnect, resubscribe everything, books equal the venue's", async () => {
    const venue = startVenue(frames, { cutAt: Math.floor(frames.length / 2), lose: 40 });
    const ring = SpscRing.create(1 << 16);
    const notices: string[] = [];
    const feed = makeFeed(venue.port, ring, notices);
    const eng = engine(ring, feed, SYMBOLS.length);
    try {
      feed.start();
      await Promise.race([venue.done, Bun.sleep(10_000)]);
      await until(() => feed.counters.frames >= venue.out && ring.size === 0 && SYMBOLS.every((s, i) => eng.books.get(i)!.lastSeq === venue.books.get(`orderbook.${DEPTH}.${s}`)!.u), 5000, () => ({ feed: feed.counters, out: venue.out }));
      await Bun.sleep(20);
      expect(venue.conns).toBe(2);
      expect(feed.counters.reconnects).toBe(1);
      expect(notices).toContain("connection lost: reconnecting");
      expect(feed.counters.subscribeAcks).toBe(4); // both connections subscribed all 12 topics
      expect(feed.counters.snapshots).toBe(2 * SYMBOLS.length);
      expect(feed.counters.gaps).toBe(0); // the new connection starts from snapshots: nothing to bridge
      expect(ring.drops).toBe(0);
      checkBooks(venue, feed, eng);
    } finally {
      feed.stop();
      eng.stop();
      venue.stop();
      ring.free();
    }
  }, 20_000);
});

describe("BybitFeed protocol details (no capture needed)", () => {
  const topics = ["orderbook.50.BTCUSDT", "publicTrade.BTCUSDT", "tickers.BTCUSDT"];
  const btcOnly = (port: number, ring: SpscRing, notices: string[], extra: Partial<ConstructorParameters<typeof BybitFeed>[0]>) =>
    makeFeed(port, ring, notices, { symbols: [{ symbol: "BTCUSDT", instrument: 0 }], depth: 50, ...extra });

  test("the documented subscribe request after open; heartbeat {\"op\":\"ping\"} sent on schedule and every pong counted", async () => {
    const venue = startVenue([], { topics });
    const ring = SpscRing.create(1024);
    const notices: string[] = [];
    const feed = btcOnly(venue.port, ring, notices, { pingMs: 30, pongTimeoutMs: 5000 });
    try {
      feed.start();
      await until(() => venue.pings >= 3 && feed.counters.pongs >= 3, 5000, () => ({ feed: feed.counters, pings: venue.pings }));
      expect(venue.requests[0]).toEqual({ op: "subscribe", args: topics });
      expect(feed.counters.subscribeAcks).toBe(1);
      expect(feed.counters.pingsSent).toBeGreaterThanOrEqual(3);
      expect(feed.counters.pongs).toBeLessThanOrEqual(feed.counters.pingsSent);
      expect(feed.counters.pongTimeouts).toBe(0);
      expect(venue.conns).toBe(1);
      expect(feed.counters.malformed).toBe(0);
    } finally {
      feed.stop();
      venue.stop();
      ring.free();
    }
  });

  test("a venue that stops answering pings is left: pong timeout counted, reconnect, subscribe again", async () => {
    const venue = startVenue([], { topics, answerPings: false });
    const ring = SpscRing.create(1024);
    const notices: string[] = [];
    const feed = btcOnly(venue.port, ring, notices, { pingMs: 30, pongTimeoutMs: 60 });
    try {
      feed.start();
      await until(() => venue.conns >= 2 && feed.counters.subscribeAcks >= 2, 5000, () => ({ feed: feed.counters, conns: venue.conns }));
      expect(feed.counters.pongTimeouts).toBeGreaterThanOrEqual(1);
      expect(feed.counters.pongs).toBe(0);
      expect(notices).toContain("no pong: reconnecting");
      expect(venue.requests.filter((r) => r.op === "subscribe").length).toBeGreaterThanOrEqual(2);
    } finally {
      feed.stop();
      venue.stop();
      ring.free();
    }
  });

  test("an error reply (unknown instrument) is counted with its message; junk frames are counted, not fatal", async () => {
    const junk = ["not json", "[1,2,3]", "null", '{"hello":"world"}', '{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[["x","1"]],"a":[],"u":5}}'];
    const venue = startVenue([], { topics, junk });
    const ring = SpscRing.create(1024);
    const notices: Array<[string, Record<string, unknown>]> = [];
    const feed = new BybitFeed({
      wsUrl: `ws://127.0.0.1:${venue.port}${PATH}`,
      symbols: [{ symbol: "NOPEUSDT", instrument: 0 }],
      channels: ["orderbook"],
      ring,
      clock: () => 0,
      onNotice: (what, d) => notices.push([what, d]),
    });
    try {
      feed.start();
      await until(() => feed.counters.errors >= 1 && feed.counters.frames >= junk.length + 1, 5000, () => feed.counters);
      expect(feed.counters.errors).toBe(1);
      expect(feed.errorMessages).toEqual(["subscribe: Invalid symbol :[orderbook.50.NOPEUSDT]"]);
      expect(notices.find(([w]) => w === "venue error reply")?.[1].message).toBe("Invalid symbol :[orderbook.50.NOPEUSDT]");
      expect(feed.counters.malformed).toBe(4); // not JSON, an array, null, an object with neither topic nor op
      expect(feed.counters.discarded + feed.counters.bookMalformed).toBe(1); // a delta before any snapshot is dropped
      expect(feed.counters.records).toBe(0); // the unreadable delta makes no record
      expect(feed.counters.unknownSymbols).toBe(0);
      expect(ring.size).toBe(0);
      expect(notices.filter(([w]) => w.startsWith("malformed frame")).length).toBe(1); // one notice per connection, not per frame
      expect(venue.conns).toBe(1);
    } finally {
      feed.stop();
      venue.stop();
      ring.free();
    }
  });

  test("configuration errors are refused at construction", () => {
    const ring = SpscRing.create(1024);
    try {
      const base = { symbols: [{ symbol: "BTCUSDT", instrument: 0 }], channels: ["orderbook"] as const, ring, clock: () => 0 };
      expect(() => new BybitFeed({ ...base, channels: ["orderbook"], wsUrl: "wss://stream.bybit.com/v5/private" })).toThrow(/not a \/v5\/public/);
      expect(() => new BybitFeed({ ...base, channels: ["orderbook"], wsUrl: "wss://x/v5/public/linear", symbols: [] })).toThrow(/at least one symbol/);
      expect(() => new BybitFeed({ ...base, channels: ["orderbook"], wsUrl: "wss://x/v5/public/linear", symbols: [{ symbol: "BTCUSDT", instrument: -1 }] })).toThrow(/instrument id/);
    } finally {
      ring.free();
    }
  });
});
