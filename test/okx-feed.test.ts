/**
 * The native OKX feed end to end over a real socket. There is no OKX capture, so the stream is
 * built here from OKX's v5 documentation: per instrument a starting book, then `books` updates
 * with seqId/prevSeqId (steps of 1..3, and documented no-change messages with prevSeqId ==
 * seqId) and `trades` pushes; every checksum is computed by a literal reference in this file
 * (sort, 25 levels a side, "bidPx:bidSz:askPx:askSz:…", missing levels skipped, CRC32 as a
 * signed 32-bit integer), independently of OkxBookSync.
 *
 * A local server on 127.0.0.1 speaks the v5 public protocol: subscribe/unsubscribe answered with
 * their events (an `error` event for an instrument it does not list), a `books` subscription
 * answered with a snapshot of the server's own book, the text "ping" answered with "pong". An
 * engine loop drains the ring into C books (rule NONE: OKX's chain and checksum are the
 * handler's job) and keeps every record. Checked: the clean stream arrives record for record as a
 * direct normalisation gives it and both books end equal to the server's; a lost update (gap) and
 * a corrupted checksum are recovered by unsubscribe + subscribe without a rejected update ever
 * reaching the ring; a server-side disconnect is recovered by reconnect + resubscribe; pings are
 * sent when the stream is idle and answered, a silent server is left; error and notice events and
 * junk frames are counted.
 */
import { describe, expect, test } from "bun:test";
import { crc32 as zlibCrc32 } from "node:zlib";
import { alignedBuffer } from "../ffi/buffers.ts";
import { BookRule, BookSet } from "../ffi/book.ts";
import { SpscRing } from "../ffi/ring.ts";
import { ASK, BID } from "../src/book/l2book.ts";
import { InstrumentTable } from "../src/domain/instruments.ts";
import { T, TICK_BYTES, TickFlag, TickKind } from "../src/domain/tick.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { OkxFeed } from "../src/feed/okx/feed.ts";
import { normalizeOkxFrame, okxUnified } from "../src/feed/okx/normalize.ts";

const PATH = "/ws/v5/public";
const INSTS = [
  { instId: "BTC-USDT", mid: 300000, tick: 0.1, digits: 1 },
  { instId: "ETH-USDT-SWAP", mid: 200000, tick: 0.01, digits: 2 },
];

type Level = [string, string, string, string];

/** OKX's book as the docs describe it, kept the plainest way: price → [price text, size text]. */
class RefBook {
  bids = new Map<number, [string, string]>();
  asks = new Map<number, [string, string]>();
  seqId = 0;
  apply(side: "bids" | "asks", lv: Level[]): void {
    for (const [p, s] of lv) {
      if (Number(s) === 0) this[side].delete(Number(p));
      else this[side].set(Number(p), [p, s]);
    }
  }
  sorted(side: "bids" | "asks"): Array<[string, string]> {
    return [...this[side].entries()].sort((a, b) => (side === "bids" ? b[0] - a[0] : a[0] - b[0])).map((e) => e[1]);
  }
  /** OKX's rule, literally: 25 a side, bid:ask interleaved, the shorter side's gaps skipped */
  checksum(): number {
    const b = this.sorted("bids").slice(0, 25), a = this.sorted("asks").slice(0, 25);
    const parts: string[] = [];
    for (let i = 0; i < 25; i++) {
      if (b[i]) parts.push(`${b[i]![0]}:${b[i]![1]}`);
      if (a[i]) parts.push(`${a[i]![0]}:${a[i]![1]}`);
    }
    return zlibCrc32(parts.join(":")) | 0;
  }
  levels(side: number): Array<[number, number]> {
    return this.sorted(side === BID ? "bids" : "asks").map(([p, s]) => [Number(p), Number(s)]);
  }
  copy(): RefBook {
    const r = new RefBook();
    r.bids = new Map(this.bids);
    r.asks = new Map(this.asks);
    r.seqId = this.seqId;
    return r;
  }
}

interface Script {
  /** the books at the start, as the server holds them */
  start: RefBook[];
  frames: Array<{ text: string; inst: number; books: boolean }>;
}

/** A deterministic session: `n` pushes over the instruments, books updates never crossing. */
function buildScript(n: number, seed = 7): Script {
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const size = () => [String(1 + Math.floor(rnd() * 40)), (rnd() * 3).toFixed(4), (rnd() / 100).toFixed(8)][Math.floor(rnd() * 3)]!;
  const lv = (i: number, ticks: number): Level => [(ticks * INSTS[i]!.tick).toFixed(INSTS[i]!.digits), size(), "0", String(1 + Math.floor(rnd() * 9))];
  const books = INSTS.map((inst, i) => {
    const r = new RefBook();
    r.apply("bids", Array.from({ length: 60 }, (_, k) => lv(i, inst.mid - 1 - 2 * k)));
    r.apply("asks", Array.from({ length: 70 }, (_, k) => lv(i, inst.mid + 1 + 2 * k)));
    r.seqId = 1000 + i * 50_000;
    return r;
  });
  const start = books.map((b) => b.copy());
  const frames: Script["frames"] = [];
  let tradeId = 500_000, ts = 1_700_000_000_000;
  for (let k = 0; k < n; k++) {
    const i = Math.floor(rnd() * INSTS.length), inst = INSTS[i]!, ref = books[i]!;
    ts += 1 + Math.floor(rnd() * 5);
    const arg = { channel: "books", instId: inst.instId };
    if (rnd() < 0.2) {
      const data = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => ({
        instId: inst.instId, tradeId: String(tradeId++), px: (inst.mid * inst.tick).toFixed(inst.digits), sz: size(), side: rnd() < 0.5 ? "buy" : "sell", ts: String(ts), count: "1",
      }));
      frames.push({ text: JSON.stringify({ arg: { channel: "trades", instId: inst.instId }, data }), inst: i, books: false });
      continue;
    }
    const prev = ref.seqId;
    if (rnd() < 0.05) {
      // OKX: a message with no change has prevSeqId == seqId == the previous seqId
      frames.push({ text: JSON.stringify({ arg, action: "update", data: [{ asks: [], bids: [], ts: String(ts), checksum: ref.checksum(), prevSeqId: prev, seqId: prev }] }), inst: i, books: true });
      continue;
    }
    const bids: Level[] = [], asks: Level[] = [];
    for (let j = 1 + Math.floor(rnd() * 6); j > 0; j--) {
      const bid = rnd() < 0.5;
      const bestAsk = Math.round(Number(ref.sorted("asks")[0]![0]) / inst.tick), bestBid = Math.round(Number(ref.sorted("bids")[0]![0]) / inst.tick);
      const t = bid ? bestAsk - 1 - Math.floor(rnd() * 80) : bestBid + 1 + Math.floor(rnd() * 80);
      const held = (bid ? ref.bids : ref.asks).size;
      const l = lv(i, t);
      if (rnd() < 0.3 && held > 30) l[1] = "0";
      (bid ? bids : asks).push(l);
      ref.apply(bid ? "bids" : "asks", [l]);
    }
    ref.seqId = prev + 1 + Math.floor(rnd() * 3);
    frames.push({ text: JSON.stringify({ arg, action: "update", data: [{ asks, bids, ts: String(ts), checksum: ref.checksum(), prevSeqId: prev, seqId: ref.seqId }] }), inst: i, books: true });
  }
  return { start, frames };
}

interface VenueOpts {
  /** lose this frame (it happened at the venue; the feed never sees it) */
  dropAt?: number;
  /** send this frame with a wrong checksum (its content is right) */
  badChecksumAt?: number;
  /** close the socket when the replay reaches this frame, losing `lose` frames */
  cutAt?: number;
  lose?: number;
  answerPings?: boolean;
  /** sent right after the first connection opens */
  junk?: string[];
}

interface Venue {
  port: number;
  stop(): void;
  conns: number;
  /** every text frame sent */
  out: number;
  /** pushes sent, in order (snapshots included) */
  sent: string[];
  pings: number;
  requests: Array<{ op: string; args: Array<{ channel: string; instId: string }> }>;
  books: RefBook[];
  done: Promise<void>;
}

function snapshotFrame(instId: string, b: RefBook, ts: number): string {
  const side = (s: "bids" | "asks") => b.sorted(s).map(([p, z]) => [p, z, "0", "1"]);
  return JSON.stringify({ arg: { channel: "books", instId }, action: "snapshot", data: [{ asks: side("asks"), bids: side("bids"), ts: String(ts), checksum: b.checksum(), prevSeqId: -1, seqId: b.seqId }] });
}

function startVenue(script: Script, opts: VenueOpts = {}): Venue {
  const books = script.start.map((b) => b.copy());
  const frames = script.frames;
  const known = new Set(INSTS.map((x) => x.instId));
  let cursor = 0, cut = false, resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  if (frames.length === 0) resolveDone();
  const objs = frames.map((f) => JSON.parse(f.text));
  const advance = (k: number) => {
    if (!frames[k]!.books) return;
    const d = objs[k].data[0], b = books[frames[k]!.inst]!;
    b.apply("bids", d.bids);
    b.apply("asks", d.asks);
    b.seqId = d.seqId;
  };
  type Data = { subs: Set<string>; timer: ReturnType<typeof setInterval> | null; id: string };
  const v: Venue = { port: 0, stop: () => server.stop(true), conns: 0, out: 0, sent: [], pings: 0, requests: [], books, done };
  const key = (channel: string, instId: string) => `${channel}:${instId}`;
  const server = Bun.serve<Data>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      if (new URL(req.url).pathname !== PATH) return new Response("not found", { status: 404 });
      return srv.upgrade(req, { data: { subs: new Set<string>(), timer: null, id: `c${v.conns + 1}` } }) ? undefined : new Response("upgrade failed", { status: 400 });
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
        const text = String(raw);
        if (text === "ping") {
          v.pings++;
          if (opts.answerPings !== false) send("pong");
          return;
        }
        const m = JSON.parse(text) as { op: string; args: Array<{ channel: string; instId: string }> };
        v.requests.push(m);
        for (const a of m.args) {
          if (!known.has(a.instId) || (a.channel !== "books" && a.channel !== "trades")) {
            send(JSON.stringify({ event: "error", code: "60018", msg: `Wrong URL or channel:${a.channel},instId:${a.instId} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`, connId: ws.data.id }));
            continue;
          }
          send(JSON.stringify({ event: m.op, arg: a, connId: ws.data.id }));
          if (m.op === "unsubscribe") ws.data.subs.delete(key(a.channel, a.instId));
          if (m.op !== "subscribe") continue;
          ws.data.subs.add(key(a.channel, a.instId));
          // OKX: the first push after a books subscription is the full snapshot
          if (a.channel === "books") {
            const snap = snapshotFrame(a.instId, books[INSTS.findIndex((x) => x.instId === a.instId)]!, 1_700_000_000_000);
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
              const f = frames[cursor]!, at = cursor++;
              advance(at);
              if (at === opts.dropAt) continue;
              if (!ws.data.subs.has(key(f.books ? "books" : "trades", INSTS[f.inst]!.instId))) continue;
              let t = f.text;
              if (at === opts.badChecksumAt) {
                const o = JSON.parse(t);
                o.data[0].checksum = (o.data[0].checksum ^ 0x5a5a) | 0;
                t = JSON.stringify(o);
              }
              send(t);
              v.sent.push(t);
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

/** The engine side: drains the ring into C books (rule NONE) and keeps every record it saw. */
function engine(ring: SpscRing) {
  const books = new BookSet(INSTS.length);
  for (let i = 0; i < INSTS.length; i++) books.add(i, BookRule.none);
  const cap = 4096, out = alignedBuffer(cap * TICK_BYTES);
  const view = new Uint8Array(out.buffer, out.byteOffset, cap * TICK_BYTES);
  const chunks: Uint8Array[] = [];
  const timer = setInterval(() => {
    for (;;) {
      const got = ring.pop(out.ptr, cap);
      if (got === 0) break;
      chunks.push(view.slice(0, got * TICK_BYTES));
      books.apply(out.ptr, 0xffffffff, 0, got);
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

function makeFeed(port: number, ring: SpscRing, notices: string[], extra: Partial<ConstructorParameters<typeof OkxFeed>[0]> = {}): OkxFeed {
  return new OkxFeed({
    wsUrl: `ws://127.0.0.1:${port}${PATH}`,
    symbols: INSTS.map((x, instrument) => ({ instId: x.instId, instrument })),
    channels: ["books", "trades"],
    ring,
    clock: () => performance.now() * 1e6,
    backoff: { baseMs: 20, capMs: 100 },
    stallMs: 5000,
    random: () => 0.5,
    onNotice: (what) => notices.push(what),
    ...extra,
  });
}

function withoutRecvTime(recs: Uint8Array): Uint8Array {
  const out = recs.slice();
  for (let i = 0; i < out.length; i += TICK_BYTES) out.fill(0, i + 8, i + 16);
  return out;
}

function checkBooks(venue: Venue, feed: OkxFeed, eng: ReturnType<typeof engine>): void {
  INSTS.forEach((_, i) => {
    const ref = venue.books[i]!;
    const cb = eng.books.get(i)!;
    expect(cb.levels(BID, 1e6)).toEqual(ref.levels(BID));
    expect(cb.levels(ASK, 1e6)).toEqual(ref.levels(ASK));
    const own = feed.sync(i)!;
    expect(own.book.synced).toBe(true);
    expect(own.book.lastSeq).toBe(ref.seqId);
    expect(own.book.levels(BID)).toEqual(ref.levels(BID));
    expect(own.book.levels(ASK)).toEqual(ref.levels(ASK));
    expect(own.checksum()).toBe(ref.checksum());
  });
}

/** After the STATUS record (book lost) for `inst`, that instrument's next LEVEL records must be a snapshot. */
function noUpdateBetweenMarkerAndSnapshot(recs: Uint8Array, inst: number): number {
  const u32 = new Uint32Array(recs.buffer, recs.byteOffset, recs.length / 4);
  let markers = 0, waiting = false;
  for (let i = 0; i < recs.length / TICK_BYTES; i++) {
    const b = i * TICK_BYTES;
    if (u32[i * 16 + T.INSTRUMENT_U32] !== inst) continue;
    if (recs[b + T.KIND_U8] === TickKind.status) {
      markers++;
      waiting = true;
      continue;
    }
    if (recs[b + T.KIND_U8] !== TickKind.level) continue;
    const fl = recs[b + T.FLAGS_U8]!;
    if (waiting && !(fl & TickFlag.snapshot)) throw new Error(`record ${i}: an update for instrument ${inst} reached the ring while its book awaited a snapshot`);
    if (fl & TickFlag.snapshot) waiting = false;
  }
  return markers;
}

describe("OkxFeed against a local OKX v5 venue", () => {
  const script = buildScript(4000);
  const bookFrames = script.frames.map((f, k) => [f, k] as const).filter(([f]) => f.books && f.inst === 0 && !f.text.includes('"asks":[],"bids":[]'));
  const mid = bookFrames[Math.floor(bookFrames.length / 2)]![1];

  test("clean run: every push becomes the records a direct normalisation gives, in order; books equal the venue's", async () => {
    const venue = startVenue(script);
    const ring = SpscRing.create(1 << 16);
    const notices: string[] = [];
    const feed = makeFeed(venue.port, ring, notices);
    const eng = engine(ring);
    try {
      feed.start();
      await Promise.race([venue.done, Bun.sleep(10_000)]);
      await until(() => feed.counters.frames >= venue.out && ring.size === 0, 5000, () => ({ feed: feed.counters, out: venue.out }));
      await Bun.sleep(20); // the engine loop's last pass
      expect(venue.sent.length).toBe(script.frames.length + INSTS.length);
      expect(feed.counters.frames).toBe(venue.out);
      expect(venue.requests).toEqual([{ op: "subscribe", args: INSTS.flatMap((x) => [{ channel: "books", instId: x.instId }, { channel: "trades", instId: x.instId }]) }]);
      expect(feed.counters.subscribeAcks).toBe(2 * INSTS.length);
      expect(feed.counters.snapshots).toBe(INSTS.length);
      expect(feed.counters.heartbeats).toBeGreaterThan(10);
      expect(feed.counters.gaps + feed.counters.checksumMismatches + feed.counters.crossed + feed.counters.bookMalformed + feed.counters.withheld + feed.counters.resubscribes).toBe(0);
      expect(feed.counters.malformed + feed.counters.errors + feed.counters.unknownSymbols + feed.counters.other).toBe(0);
      expect(feed.counters.pingsSent).toBe(0); // never idle
      expect(ring.drops).toBe(0);
      expect(venue.conns).toBe(1);
      const table = new InstrumentTable();
      for (const x of INSTS) table.id(6, okxUnified(x.instId));
      const tb = new TickBuffer(1 << 16);
      for (const t of venue.sent) normalizeOkxFrame(JSON.parse(t), 0n, table, tb);
      const got = eng.records();
      expect(got.length).toBe(tb.count * TICK_BYTES);
      expect(feed.counters.records).toBe(tb.count);
      expect(Buffer.from(withoutRecvTime(got)).equals(Buffer.from(tb.bytes()))).toBe(true);
      // independently of the normaliser: one LEVEL per level sent, one TRADE per fill
      let levels = 0, trades = 0;
      for (const t of venue.sent) {
        const o = JSON.parse(t);
        if (o.arg.channel === "books") levels += o.data[0].bids.length + o.data[0].asks.length;
        else trades += o.data.length;
      }
      let gotLevels = 0, gotTrades = 0;
      for (let i = 0; i < got.length; i += TICK_BYTES) {
        if (got[i + T.KIND_U8] === TickKind.level) gotLevels++;
        if (got[i + T.KIND_U8] === TickKind.trade) gotTrades++;
      }
      expect(gotLevels).toBe(levels);
      expect(gotTrades).toBe(trades);
      expect(trades).toBeGreaterThan(500);
      checkBooks(venue, feed, eng);
      // every books push was checked against its checksum, not waved through as "0"
      const checked = INSTS.reduce((s, _, i) => s + feed.sync(i)!.counters.checksumsChecked, 0);
      expect(checked).toBe(feed.counters.snapshots + feed.counters.applied + feed.counters.heartbeats);
    } finally {
      feed.stop();
      eng.stop();
      venue.stop();
      ring.free();
    }
  }, 20_000);

  for (const mode of ["lost update (gap)", "checksum mismatch"] as const) {
    test(`${mode}: withheld, engine book emptied, unsubscribe + subscribe, fresh snapshot, books equal the venue's`, async () => {
      const venue = startVenue(script, mode === "checksum mismatch" ? { badChecksumAt: mid } : { dropAt: mid });
      const ring = SpscRing.create(1 << 16);
      const notices: string[] = [];
      const feed = makeFeed(venue.port, ring, notices);
      const eng = engine(ring);
      try {
        feed.start();
        await Promise.race([venue.done, Bun.sleep(10_000)]);
        await until(() => feed.counters.frames >= venue.out && ring.size === 0 && feed.sync(0)?.book.lastSeq === venue.books[0]!.seqId, 5000, () => ({ feed: feed.counters, out: venue.out }));
        await Bun.sleep(20);
        if (mode === "checksum mismatch") {
          expect(feed.counters.checksumMismatches).toBe(1);
          expect(feed.counters.gaps).toBe(0);
        } else {
          expect(feed.counters.gaps).toBe(1);
          expect(feed.counters.checksumMismatches).toBe(0);
        }
        expect(feed.counters.resubscribes).toBe(1);
        expect(feed.counters.withheld).toBeGreaterThanOrEqual(1);
        expect(feed.counters.snapshots).toBe(INSTS.length + 1);
        expect(feed.counters.unsubscribeAcks).toBe(1);
        expect(venue.requests.slice(1)).toEqual([
          { op: "unsubscribe", args: [{ channel: "books", instId: INSTS[0]!.instId }] },
          { op: "subscribe", args: [{ channel: "books", instId: INSTS[0]!.instId }] },
        ]);
        expect(notices).toContain("book resync: resubscribing");
        expect(venue.conns).toBe(1);
        expect(ring.drops).toBe(0);
        const recs = eng.records();
        expect(noUpdateBetweenMarkerAndSnapshot(recs, 0)).toBe(1);
        expect(noUpdateBetweenMarkerAndSnapshot(recs, 1)).toBe(0);
        checkBooks(venue, feed, eng);
      } finally {
        feed.stop();
        eng.stop();
        venue.stop();
        ring.free();
      }
    }, 20_000);
  }

  test("a server-side disconnect with lost pushes: reconnect, resubscribe everything, books equal the venue's", async () => {
    const venue = startVenue(script, { cutAt: Math.floor(script.frames.length / 2), lose: 60 });
    const ring = SpscRing.create(1 << 16);
    const notices: string[] = [];
    const feed = makeFeed(venue.port, ring, notices);
    const eng = engine(ring);
    try {
      feed.start();
      await Promise.race([venue.done, Bun.sleep(10_000)]);
      await until(() => feed.counters.frames >= venue.out && ring.size === 0 && INSTS.every((_, i) => feed.sync(i)?.book.lastSeq === venue.books[i]!.seqId), 5000, () => ({ feed: feed.counters, out: venue.out }));
      await Bun.sleep(20);
      expect(venue.conns).toBe(2);
      expect(feed.counters.reconnects).toBe(1);
      expect(notices).toContain("connection lost: reconnecting");
      expect(venue.requests.filter((r) => r.op === "subscribe").length).toBe(2);
      expect(feed.counters.snapshots).toBe(2 * INSTS.length);
      expect(feed.counters.gaps + feed.counters.checksumMismatches + feed.counters.withheld).toBe(0);
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

describe("OkxFeed protocol details", () => {
  const idle: Script = { start: buildScript(0).start, frames: [] };

  test('heartbeat: the text "ping" after a silence, every "pong" counted; no reconnect', async () => {
    const venue = startVenue(idle);
    const ring = SpscRing.create(1024);
    const notices: string[] = [];
    const feed = makeFeed(venue.port, ring, notices, { pingMs: 30, pongTimeoutMs: 5000 });
    try {
      feed.start();
      await until(() => venue.pings >= 3 && feed.counters.pongs >= 3, 5000, () => ({ feed: feed.counters, pings: venue.pings }));
      expect(feed.counters.pingsSent).toBeGreaterThanOrEqual(3);
      expect(feed.counters.pongs).toBeLessThanOrEqual(feed.counters.pingsSent);
      expect(feed.counters.pongTimeouts).toBe(0);
      expect(feed.counters.malformed).toBe(0);
      expect(feed.counters.snapshots).toBe(INSTS.length);
      expect(venue.conns).toBe(1);
    } finally {
      feed.stop();
      venue.stop();
      ring.free();
    }
  });

  test("a venue that stops answering pings is left: pong timeout counted, reconnect, subscribe again", async () => {
    const venue = startVenue(idle, { answerPings: false });
    const ring = SpscRing.create(1024);
    const notices: string[] = [];
    const feed = makeFeed(venue.port, ring, notices, { pingMs: 30, pongTimeoutMs: 60 });
    try {
      feed.start();
      await until(() => venue.conns >= 2 && feed.counters.subscribeAcks >= 4, 5000, () => ({ feed: feed.counters, conns: venue.conns }));
      expect(feed.counters.pongTimeouts).toBeGreaterThanOrEqual(1);
      expect(feed.counters.pongs).toBe(0);
      expect(notices).toContain("no pong: reconnecting");
    } finally {
      feed.stop();
      venue.stop();
      ring.free();
    }
  });

  test("an error event (unknown instrument) is counted with code and message; notices and junk frames counted, not fatal", async () => {
    const junk = [
      "not json",
      "[1,2]",
      "null",
      '{"arg":{"channel":"books"},"data":[]}',
      '{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"x"}',
      // the configured instrument (whose subscription the venue refuses): an update before any snapshot
      '{"arg":{"channel":"books","instId":"NOPE-USDT"},"action":"update","data":[{"asks":[],"bids":[["1","1","0","1"]],"ts":"1","checksum":0,"prevSeqId":1,"seqId":2}]}',
      // an instrument that was not configured
      '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[["1","1","0","1"]],"ts":"1","checksum":0,"prevSeqId":1,"seqId":2}]}',
    ];
    const venue = startVenue(idle, { junk });
    const ring = SpscRing.create(1024);
    const notices: Array<[string, Record<string, unknown>]> = [];
    const feed = new OkxFeed({
      wsUrl: `ws://127.0.0.1:${venue.port}${PATH}`,
      symbols: [{ instId: "NOPE-USDT", instrument: 0 }],
      channels: ["books"],
      ring,
      clock: () => 0,
      onNotice: (what, d) => notices.push([what, d]),
    });
    try {
      feed.start();
      await until(() => feed.counters.errors >= 1 && feed.counters.frames >= junk.length + 1, 5000, () => feed.counters);
      expect(feed.counters.errors).toBe(1);
      expect(feed.errorMessages[0]).toStartWith("60018: Wrong URL or channel:books,instId:NOPE-USDT doesn't exist");
      expect(String(notices.find(([w]) => w === "venue error event")?.[1].message)).toContain("NOPE-USDT");
      expect(feed.counters.venueNotices).toBe(1);
      expect(feed.counters.malformed).toBe(4); // not JSON, an array, null, a push without instId
      expect(feed.counters.withheld).toBe(1); // an update before any snapshot never reaches the ring
      expect(feed.counters.unknownSymbols).toBe(1);
      expect(feed.counters.records).toBe(0);
      expect(ring.size).toBe(0);
      expect(notices.filter(([w]) => w.startsWith("malformed frame")).length).toBe(1);
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
      const base = { wsUrl: "wss://ws.okx.com:8443/ws/v5/public", symbols: [{ instId: "BTC-USDT", instrument: 0 }], channels: ["books"] as Array<"books">, ring, clock: () => 0 };
      expect(() => new OkxFeed({ ...base, wsUrl: "wss://ws.okx.com:8443/ws/v5/private" })).toThrow(/not a \/ws\/v5\/public/);
      expect(() => new OkxFeed({ ...base, symbols: [] })).toThrow(/at least one instrument/);
      expect(() => new OkxFeed({ ...base, pingMs: 30_000 })).toThrow(/pingMs/);
    } finally {
      ring.free();
    }
  });
});
