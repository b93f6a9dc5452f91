/**
 * CoinbaseFeed end to end over a real socket: a local server on 127.0.0.1 speaks the Advanced
 * Trade protocol (one subscribe per channel, `subscriptions` acks, level2 snapshots on subscribe,
 * unsubscribe, error frames for unknown products, heartbeats, a connection-wide sequence_num) and
 * replays the real capture's frames verbatim (COINBASE.jsonl.gz). The feed's books must end equal
 * to an independent plain-Map rebuild of the capture, and the ring must hold exactly the records
 * the normaliser makes of every frame (clean run), or rebuild the same books after a dropped
 * message (gap → level2 resubscribe → fresh snapshot) and a server-side disconnect (reconnect →
 * subscribe again → fresh snapshots). Heartbeats keep the stall watchdog quiet; a silent server
 * trips it; an error frame is counted with its message.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ServerWebSocket } from "bun";
import { alignedBuffer } from "../ffi/buffers.ts";
import { SpscRing } from "../ffi/ring.ts";
import { ASK, BID } from "../src/book/l2book.ts";
import { InstrumentTable, Venue } from "../src/domain/instruments.ts";
import { T, TICK_BYTES, TICK_F64, TickFlag, TickKind } from "../src/domain/tick.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { CoinbaseFeed, type CoinbaseChannel } from "../src/feed/coinbase/feed.ts";
import { normalizeCoinbaseFrame } from "../src/feed/coinbase/normalize.ts";
import { CryptofeedV3Reader } from "../src/feed/cryptofeed-v3.ts";

const FILE = fileURLToPath(new URL("../../shared/data/cryptofeed-v3/COINBASE.jsonl.gz", import.meta.url));
const hasData = existsSync(FILE);
if (!hasData) console.warn(`[coinbase-feed.test] ${FILE} is absent: the capture-replay tests are skipped`);

const PRODUCTS = ["BTC-USD", "ETH-USD"];
const INSTRUMENT: Record<string, number> = { "BTC-USD": 0, "ETH-USD": 1 };
/** what the capture subscribed to (its `send` lines): the feed subscribes the same, so the replay is whole */
const CAPTURE_CHANNELS: CoinbaseChannel[] = ["market_trades", "candles", "ticker", "level2"];

type Side = Map<number, number>;
interface RefBook {
  bids: Side;
  asks: Side;
}
interface L2Event {
  type: string;
  product_id: string;
  updates: Array<{ side: string; price_level: string; new_quantity: string }>;
}

/** Independent rebuild: a snapshot replaces the product's book, new_quantity replaces, "0" deletes. */
function applyL2(books: Map<string, RefBook>, ev: L2Event): void {
  if (ev.type === "snapshot") books.set(ev.product_id, { bids: new Map(), asks: new Map() });
  const b = books.get(ev.product_id);
  if (!b) return;
  for (const u of ev.updates) {
    const m = u.side === "bid" ? b.bids : b.asks;
    const p = Number(u.price_level), q = Number(u.new_quantity);
    if (q === 0) m.delete(p);
    else m.set(p, q);
  }
}
const sorted = (m: Side, desc: boolean): Array<[number, number]> => [...m.entries()].sort((x, y) => (desc ? y[0] - x[0] : x[0] - y[0]));

async function until(cond: () => boolean, ms: number, state: () => unknown = () => ""): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms; state: ${JSON.stringify(state())}`);
    await Bun.sleep(5);
  }
}

interface Conn {
  ws: ServerWebSocket<unknown>;
  seq: number;
  /** channel → products subscribed on this connection */
  subs: Map<string, Set<string>>;
  /** the first connection's subscribe answers come from the capture itself */
  fromCapture: boolean;
}

interface VenueOpts {
  /** frame index the venue loses on the wire (its sequence_num is used, the frame never sent) */
  dropAt?: number;
  /** frame index at which the venue closes the socket, and how many frames happen while nobody listens */
  cutAt?: number;
  lose?: number;
}

/**
 * An Advanced Trade venue replaying the capture. It keeps its own books from every frame it
 * replays (lost ones too: they happened at the venue) and answers a level2 subscription made after
 * the replay began with a snapshot of them. sequence_num counts the frames of one connection, as
 * Coinbase's does: the first connection's numbers are the capture's own, so its frames go out
 * byte for byte as recorded.
 */
function startVenue(frames: string[], opts: VenueOpts = {}) {
  const parsed = frames.map((t) => JSON.parse(t) as { channel: string; events: Array<Record<string, unknown>> });
  const books = new Map<string, RefBook>();
  const received: Array<Record<string, unknown>> = [];
  let conn: Conn | null = null;
  let cursor = 0, conns = 0, sent = 0, cut = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const wanted = (c: Conn) => [...CAPTURE_CHANNELS, "heartbeats"].every((ch) => (c.subs.get(ch)?.size ?? 0) > 0);
  const channelOf: Record<string, string> = { l2_data: "level2", market_trades: "market_trades", ticker: "ticker", candles: "candles", heartbeats: "heartbeats" };

  const send = (c: Conn, text: string, originalSeq: number | null) => {
    const seq = c.seq++;
    c.ws.send(originalSeq === seq ? text : text.replace(/"sequence_num":\d+/, `"sequence_num":${seq}`));
    sent++;
  };
  const envelope = (c: Conn, channel: string, events: unknown[]) => ({ channel, client_id: "", timestamp: new Date().toISOString(), sequence_num: c.seq, events });
  const ack = (c: Conn) => {
    const subscriptions: Record<string, string[]> = {};
    for (const [ch, ps] of c.subs) if (ps.size > 0) subscriptions[ch] = [...ps];
    send(c, JSON.stringify(envelope(c, "subscriptions", [{ subscriptions }])), null);
  };
  const snapshot = (c: Conn, product: string) => {
    const b = books.get(product) ?? { bids: new Map(), asks: new Map() };
    const at = new Date().toISOString();
    const updates = [
      ...sorted(b.bids, true).map(([p, q]) => ({ side: "bid", event_time: at, price_level: String(p), new_quantity: String(q) })),
      ...sorted(b.asks, false).map(([p, q]) => ({ side: "offer", event_time: at, price_level: String(p), new_quantity: String(q) })),
    ];
    send(c, JSON.stringify(envelope(c, "l2_data", [{ type: "snapshot", product_id: product, updates }])), null);
  };
  /** a frame goes to a connection subscribed to its channel (l2: to its product) */
  const deliverable = (c: Conn, i: number): boolean => {
    const f = parsed[i]!;
    if (f.channel === "subscriptions") return c.fromCapture;
    const subs = c.subs.get(channelOf[f.channel] ?? "");
    if (!subs) return false;
    if (f.channel !== "l2_data") return subs.size > 0;
    return f.events.every((e) => subs.has(e.product_id as string));
  };
  const advance = (i: number) => {
    if (parsed[i]!.channel === "l2_data") for (const e of parsed[i]!.events) applyL2(books, e as unknown as L2Event);
  };

  const pump = setInterval(() => {
    const c = conn;
    if (cursor >= frames.length) return;
    if (!c || !wanted(c)) return;
    for (let k = 0; k < 25 && cursor < frames.length; k++) {
      const i = cursor++;
      advance(i);
      if (i === opts.dropAt) {
        c.seq++; // lost on the wire: its number was used
        continue;
      }
      if (deliverable(c, i)) send(c, frames[i]!, (parsed[i] as unknown as { sequence_num: number }).sequence_num);
      if (opts.cutAt !== undefined && !cut && i === opts.cutAt) {
        cut = true;
        for (let j = 0; j < (opts.lose ?? 0) && cursor < frames.length; j++) advance(cursor++);
        conn = null;
        c.ws.close(1001, "going away");
        return;
      }
    }
    if (cursor >= frames.length) resolveDone();
  }, 1);

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      return srv.upgrade(req) ? undefined : new Response("upgrade failed", { status: 400 });
    },
    websocket: {
      open(ws) {
        conns++;
        conn = { ws, seq: 0, subs: new Map(), fromCapture: conns === 1 };
      },
      message(ws, raw) {
        const c = conn;
        if (!c || c.ws !== ws) return;
        let m: Record<string, unknown>;
        try {
          m = JSON.parse(String(raw));
        } catch {
          send(c, JSON.stringify({ type: "error", message: "malformed JSON" }), null);
          return;
        }
        received.push(m);
        const channel = String(m.channel);
        const products = (m.product_ids ?? []) as string[];
        const bad = products.filter((p) => !PRODUCTS.includes(p));
        if (bad.length > 0) {
          c.ws.send(JSON.stringify({ type: "error", message: "Failed to subscribe", reason: `${bad.join(",")} is not a valid product` }));
          return;
        }
        const set = c.subs.get(channel) ?? new Set<string>();
        c.subs.set(channel, set);
        const live = !c.fromCapture || cursor > 0;
        if (m.type === "subscribe") {
          for (const p of channel === "heartbeats" && products.length === 0 ? ["heartbeats"] : products) set.add(p);
          if (!live) return; // the capture holds the first connection's answers
          ack(c);
          if (channel === "level2") for (const p of products) snapshot(c, p);
        } else if (m.type === "unsubscribe") {
          for (const p of products) set.delete(p);
          ack(c);
        }
      },
      close() {},
    },
  });
  return {
    port: server.port!,
    books,
    received,
    done,
    get sent() {
      return sent;
    },
    get conns() {
      return conns;
    },
    stop() {
      clearInterval(pump);
      server.stop(true);
    },
  };
}

/** Drains the ring like the engine: keeps every record, and rebuilds books from them. */
function engine(ring: SpscRing) {
  const cap = 4096, out = alignedBuffer(cap * TICK_BYTES);
  const view = new Uint8Array(out.buffer, out.byteOffset, cap * TICK_BYTES);
  const f64 = new Float64Array(out.buffer, out.byteOffset, cap * TICK_F64);
  const chunks: Uint8Array[] = [];
  const books = new Map<number, RefBook>();
  const atStart = new Map<number, boolean>();
  let records = 0;
  const timer = setInterval(() => {
    for (;;) {
      const n = ring.pop(out.ptr, cap);
      if (n === 0) break;
      records += n;
      chunks.push(view.slice(0, n * TICK_BYTES));
      for (let i = 0; i < n; i++) {
        const b = i * TICK_BYTES;
        if (view[b + T.KIND_U8] === TickKind.status) {
          books.delete(new Uint32Array(out.buffer, out.byteOffset + b + 56, 1)[0]!); // book lost: nothing until the next snapshot
          continue;
        }
        if (view[b + T.KIND_U8] !== TickKind.level) continue;
        const flags = view[b + T.FLAGS_U8]!;
        const inst = new Uint32Array(out.buffer, out.byteOffset + b + 56, 1)[0]!;
        if (flags & TickFlag.snapshot && atStart.get(inst) !== false) books.set(inst, { bids: new Map(), asks: new Map() });
        atStart.set(inst, (flags & TickFlag.last) !== 0);
        const book = books.get(inst);
        if (!book || flags & TickFlag.nolevel) continue;
        const m = flags & TickFlag.ask ? book.asks : book.bids;
        const p = f64[i * TICK_F64 + T.PRICE_F64]!, q = f64[i * TICK_F64 + T.SIZE_F64]!;
        if (q === 0) m.delete(p);
        else m.set(p, q);
      }
    }
  }, 1);
  return {
    books,
    get records() {
      return records;
    },
    bytes(): Uint8Array {
      const all = new Uint8Array(records * TICK_BYTES);
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.length;
      }
      return all;
    },
    stop: () => clearInterval(timer),
  };
}

/** The records' bytes with the receive time zeroed (the feed stamps its own clock there). */
function withoutRecvTime(bytes: Uint8Array): Uint8Array {
  const b = bytes.slice();
  for (let i = 0; i < b.length; i += TICK_BYTES) b.fill(0, i + 8, i + 16);
  return b;
}

function newFeed(port: number, ring: SpscRing, notices: string[], extra: Partial<ConstructorParameters<typeof CoinbaseFeed>[0]> = {}) {
  return new CoinbaseFeed({
    wsUrl: `ws://127.0.0.1:${port}`,
    symbols: PRODUCTS.map((symbol) => ({ symbol, instrument: INSTRUMENT[symbol]! })),
    channels: CAPTURE_CHANNELS,
    ring,
    clock: () => 1,
    backoff: { baseMs: 20, capMs: 100 },
    stallMs: 5000,
    random: () => 0.5,
    onNotice: (what) => notices.push(what),
    ...extra,
  });
}

describe.skipIf(!hasData)("CoinbaseFeed against a local Advanced Trade venue replaying COINBASE.jsonl.gz", () => {
  const reader = hasData ? CryptofeedV3Reader.open(FILE) : null;
  const entries = reader ? [...reader.entries()] : [];
  const frames = entries.filter((e) => e.kind === "recv").map((e) => e.frame);
  const sends = entries.filter((e) => e.kind === "send").map((e) => JSON.parse(e.frame) as Record<string, unknown>);
  // the capture's final books, rebuilt independently
  const truth = new Map<string, RefBook>();
  for (const t of frames) {
    const f = JSON.parse(t);
    if (f.channel === "l2_data") for (const e of f.events) applyL2(truth, e);
  }
  const l2Index = frames.map((t, i) => (t.startsWith('{"channel":"l2_data"') && t.includes('"type":"update"') ? i : -1)).filter((i) => i >= 0);

  const expectBooks = (feed: CoinbaseFeed, eng: ReturnType<typeof engine>) => {
    for (const p of PRODUCTS) {
      const want = truth.get(p)!;
      const st = feed.sync.products.get(p)!;
      expect(st.book.synced).toBe(true);
      expect(st.book.levels(BID)).toEqual(sorted(want.bids, true));
      expect(st.book.levels(ASK)).toEqual(sorted(want.asks, false));
      const fromRing = eng.books.get(INSTRUMENT[p]!)!;
      expect(sorted(fromRing.bids, true)).toEqual(sorted(want.bids, true));
      expect(sorted(fromRing.asks, false)).toEqual(sorted(want.asks, false));
    }
  };

  test("the capture subscribed to what the feed subscribes to (one subscribe per channel)", () => {
    expect(sends.map((s) => s.channel).sort()).toEqual([...CAPTURE_CHANNELS, "heartbeats"].sort());
    for (const s of sends) expect(s).toEqual({ type: "subscribe", product_ids: PRODUCTS, channel: s.channel });
  });

  test("clean run: every frame received, the ring holds exactly the normaliser's records of every frame, books equal to the rebuild", async () => {
    const venue = startVenue(frames);
    const ring = SpscRing.create(1 << 18);
    const notices: string[] = [];
    const feed = newFeed(venue.port, ring, notices);
    const eng = engine(ring);
    try {
      feed.start();
      await Promise.race([venue.done, Bun.sleep(10_000)]);
      await until(() => feed.counters.frames >= venue.sent && ring.size === 0 && eng.records >= feed.counters.records, 5000, () => ({ feed: feed.counters, sent: venue.sent }));
      expect(venue.sent).toBe(frames.length);
      expect(feed.counters.frames).toBe(frames.length);
      // the feed's subscribe messages are the capture's, in the feed's order
      expect(venue.received).toEqual([...CAPTURE_CHANNELS, "heartbeats"].map((channel) => ({ type: "subscribe", product_ids: PRODUCTS, channel })));
      expect(feed.counters).toMatchObject({ gaps: 0, stale: 0, malformed: 0, errors: 0, ringDrops: 0, resubscribes: 0, bookResets: 0, connects: 1, unknownSymbols: 0 });
      expect(feed.sync.counters.gaps).toBe(0);
      // what the normaliser makes of every recorded frame, in order, is what the ring received
      const inst = new InstrumentTable();
      for (const p of PRODUCTS) inst.id(Venue.coinbase, p.replace("-", "/"));
      const want = new TickBuffer(1 << 16);
      for (const t of frames) normalizeCoinbaseFrame(JSON.parse(t), 0n, inst, want);
      expect(eng.records).toBe(want.count);
      expect(feed.counters.records).toBe(want.count);
      expect(withoutRecvTime(eng.bytes())).toEqual(withoutRecvTime(want.bytes()));
      expect(feed.counters.snapshots).toBe(2);
      expect(feed.counters.heartbeats).toBe(frames.filter((t) => t.startsWith('{"channel":"heartbeats"')).length);
      expectBooks(feed, eng);
    } finally {
      feed.stop();
      eng.stop();
      venue.stop();
      ring.free();
    }
  }, 20_000);

  test("a dropped message: sequence_num gap → every book cleared → level2 unsubscribe + subscribe → fresh snapshots → books correct", async () => {
    const dropAt = l2Index[200]!;
    const venue = startVenue(frames, { dropAt });
    const ring = SpscRing.create(1 << 18);
    const notices: string[] = [];
    const feed = newFeed(venue.port, ring, notices);
    const eng = engine(ring);
    try {
      feed.start();
      await Promise.race([venue.done, Bun.sleep(10_000)]);
      await until(() => feed.counters.frames >= venue.sent && ring.size === 0 && eng.records >= feed.counters.records, 5000, () => ({ feed: feed.counters, sent: venue.sent }));
      await until(() => PRODUCTS.every((p) => feed.sync.products.get(p)?.book.synced === true), 5000, () => feed.counters);
      expect(feed.counters.gaps).toBe(1);
      expect(feed.sync.lastProblem).toContain("sequence_num gap");
      expect(feed.counters.resubscribes).toBe(1);
      expect(feed.counters.bookResets).toBe(2);
      expect(feed.counters.snapshots).toBe(4); // the capture's two, then the resubscription's two
      expect(feed.counters.discarded).toBeGreaterThanOrEqual(1); // the update that revealed the gap
      const resub = venue.received.slice(5);
      expect(resub).toEqual([
        { type: "unsubscribe", product_ids: PRODUCTS, channel: "level2" },
        { type: "subscribe", product_ids: PRODUCTS, channel: "level2" },
      ]);
      expect(notices).toContain("book resync: resubscribing level2");
      expect(feed.counters).toMatchObject({ connects: 1, malformed: 0, errors: 0, ringDrops: 0 });
      expectBooks(feed, eng);
    } finally {
      feed.stop();
      eng.stop();
      venue.stop();
      ring.free();
    }
  }, 20_000);

  test("a server-side disconnect with frames lost meanwhile: reconnect, subscribe every channel again, fresh snapshots, books correct", async () => {
    const cutAt = l2Index[300]!;
    const venue = startVenue(frames, { cutAt, lose: 40 });
    const ring = SpscRing.create(1 << 18);
    const notices: string[] = [];
    const feed = newFeed(venue.port, ring, notices);
    const eng = engine(ring);
    try {
      feed.start();
      await Promise.race([venue.done, Bun.sleep(10_000)]);
      await until(() => feed.counters.frames >= venue.sent && ring.size === 0 && eng.records >= feed.counters.records, 5000, () => ({ feed: feed.counters, sent: venue.sent }));
      expect(venue.conns).toBe(2);
      expect(feed.counters).toMatchObject({ connects: 2, reconnects: 1, gaps: 0, malformed: 0, errors: 0, ringDrops: 0, resubscribes: 0 });
      expect(feed.counters.bookResets).toBe(2); // the connection loss reset both engine books
      expect(notices).toContain("connection lost: reconnecting");
      // the second connection subscribed every channel again
      const second = venue.received.slice(5);
      expect(second.map((m) => m.channel)).toEqual([...CAPTURE_CHANNELS, "heartbeats"]);
      expect(second.every((m) => m.type === "subscribe")).toBe(true);
      expect(feed.counters.snapshots).toBe(4);
      expectBooks(feed, eng);
    } finally {
      feed.stop();
      eng.stop();
      venue.stop();
      ring.free();
    }
  }, 20_000);
});

/** A venue that answers subscriptions and then sends heartbeats every `everyMs` (0 = nothing at all). */
function heartbeatVenue(everyMs: number) {
  let conns = 0, beats = 0;
  const timers = new Set<ReturnType<typeof setInterval>>();
  const received: Array<Record<string, unknown>> = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      return srv.upgrade(req) ? undefined : new Response("upgrade failed", { status: 400 });
    },
    websocket: {
      open(ws) {
        conns++;
        let seq = 0;
        if (everyMs > 0) {
          const t = setInterval(() => {
            beats++;
            ws.send(JSON.stringify({ channel: "heartbeats", client_id: "", timestamp: new Date().toISOString(), sequence_num: seq++, events: [{ current_time: "now", heartbeat_counter: beats }] }));
          }, everyMs);
          timers.add(t);
        }
      },
      message(ws, raw) {
        const m = JSON.parse(String(raw));
        received.push(m);
        const bad = ((m.product_ids ?? []) as string[]).filter((p) => !PRODUCTS.includes(p));
        if (bad.length > 0) ws.send(JSON.stringify({ type: "error", message: "Failed to subscribe", reason: `${bad.join(",")} is not a valid product` }));
      },
      close() {},
    },
  });
  return {
    port: server.port!,
    received,
    get conns() {
      return conns;
    },
    get beats() {
      return beats;
    },
    stop() {
      for (const t of timers) clearInterval(t);
      server.stop(true);
    },
  };
}

describe("CoinbaseFeed liveness and venue errors", () => {
  test("heartbeats keep the stall watchdog quiet; a silent server trips it and the feed reconnects and subscribes again", async () => {
    const ring = SpscRing.create(1024);
    const live = heartbeatVenue(20);
    const notices: string[] = [];
    const feed = newFeed(live.port, ring, notices, { channels: ["level2"], stallMs: 150 });
    try {
      feed.start();
      // twenty stall periods' worth of heartbeats
      await until(() => feed.counters.heartbeats >= 150, 8000, () => feed.counters);
      expect(feed.counters.stalls).toBe(0);
      expect(feed.counters.connects).toBe(1);
      expect(live.received.map((m) => m.channel)).toEqual(["level2", "heartbeats"]);
      expect(ring.size).toBe(0); // heartbeats make no records
    } finally {
      feed.stop();
      live.stop();
    }
    const silent = heartbeatVenue(0);
    const feed2 = newFeed(silent.port, ring, notices, { channels: ["level2"], stallMs: 150 });
    try {
      feed2.start();
      await until(() => feed2.counters.stalls >= 1 && feed2.counters.connects >= 2, 5000, () => feed2.counters);
      expect(notices).toContain("stream stalled: reconnecting");
      await until(() => silent.received.length >= 4, 5000, () => silent.received);
      expect(silent.received.slice(0, 4).map((m) => m.channel)).toEqual(["level2", "heartbeats", "level2", "heartbeats"]);
      // the lost connection reset the engine's book for every level2 product
      expect(feed2.counters.bookResets).toBeGreaterThanOrEqual(2);
    } finally {
      feed2.stop();
      silent.stop();
      ring.free();
    }
  }, 20_000);

  test("an error frame for an unknown product is counted with its message; malformed frames are counted, never thrown", async () => {
    const ring = SpscRing.create(1024);
    const venue = heartbeatVenue(10);
    const notices: string[] = [];
    const feed = new CoinbaseFeed({
      wsUrl: `ws://127.0.0.1:${venue.port}`,
      symbols: [{ symbol: "BTC-USD", instrument: 0 }, { symbol: "NOPE-USD", instrument: 1 }],
      channels: ["level2", "market_trades"],
      ring,
      clock: () => 1,
      stallMs: 5000,
      onNotice: (what) => notices.push(what),
    });
    try {
      feed.start();
      await until(() => feed.counters.errors >= 3 && feed.counters.heartbeats >= 3, 5000, () => feed.counters);
      expect(feed.errorMessages[0]).toBe("Failed to subscribe: NOPE-USD is not a valid product");
      expect(notices).toContain("venue error frame");
      expect(feed.counters.malformed).toBe(0);
      expect(feed.counters.stalls).toBe(0);
    } finally {
      feed.stop();
      venue.stop();
    }
    // frames straight into the handler: not JSON, not an object, no sequence_num
    const feed3 = newFeed(1, ring, notices, { transport: (_url, h) => {
      queueMicrotask(() => {
        h.onOpen();
        for (const t of ["{oops", "[1,2]", '"x"', '{"channel":"l2_data","events":[]}', '{"channel":"heartbeats","sequence_num":0,"events":[]}']) h.onText(t);
      });
      return { send: () => true, close: () => {} };
    } });
    try {
      feed3.start();
      await until(() => feed3.counters.frames === 5, 2000, () => feed3.counters);
      expect(feed3.counters.malformed).toBe(4);
      expect(feed3.counters.heartbeats).toBe(1);
      expect(ring.size).toBe(0);
    } finally {
      feed3.stop();
      ring.free();
    }
  }, 20_000);
});
