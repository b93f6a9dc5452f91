/**
 * The native Binance feed end to end over a real socket: the venue simulator on 127.0.0.1 speaks
 * Binance's combined-stream WebSocket and REST depth endpoint and replays a real USD-M capture;
 * BinanceFeed parses every frame in C into the ring; an engine loop drains the ring into the C
 * book and forwards its resync requests. The book must end equal to the venue's (the server's own
 * book); a dropped connection must be recovered by reconnect + snapshot.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { alignedBuffer } from "../ffi/buffers.ts";
import { BookRule, BookSet } from "../ffi/book.ts";
import { SpscRing } from "../ffi/ring.ts";
import { BinanceFeed, bunWebSocketTransport } from "../src/feed/binance/feed.ts";
import { readCaptureText } from "../src/feed/recording.ts";
import { startBinanceSim } from "../src/sim/venues/binance.ts";

const FILE = new URL("../../shared/data/hftbacktest/binance-usdm/btcusdt_20240808.gz", import.meta.url).pathname;
const hasData = existsSync(FILE);
if (!hasData) console.warn(`binance-feed.test: ${FILE} is absent; skipped`);

function engine(ring: SpscRing, feed: BinanceFeed) {
  const books = new BookSet(1);
  const book = books.add(0, BookRule.binanceFutures);
  const cap = 4096, out = alignedBuffer(cap * 64);
  let asked = 0;
  const timer = setInterval(() => {
    for (;;) {
      const n = ring.pop(out.ptr, cap);
      if (n === 0) break;
      if (books.apply(out.ptr, 0xffffffff, 0, n) > 0 || book.resyncRequests > asked) {
        asked = book.resyncRequests;
        feed.requestSnapshot(0);
      }
    }
  }, 1);
  return { book, stop: () => clearInterval(timer) };
}

async function until(cond: () => boolean, ms: number, state: () => unknown = () => ""): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out; state: ${JSON.stringify(state())}`);
    await Bun.sleep(5);
  }
}

/**
 * The Binance USD-M venue simulator (src/sim) replaying the capture: its own book starts from the
 * capture's history and follows every frame it replays, and REST snapshots come from it. The
 * replay starts once a client has subscribed, so the client sees every frame from the first.
 */
function startVenue(opts: { disconnectAfterFrames?: number } = {}) {
  let first = -1;
  const sim = startBinanceSim({
    market: "usdm",
    captures: [FILE],
    speed: 0,
    loop: false,
    autoStart: false,
    faults: opts.disconnectAfterFrames
      ? (c) => {
          if (first < 0) first = c.id;
          return c.id === first ? { disconnect: { afterFrames: opts.disconnectAfterFrames } } : undefined;
        }
      : undefined,
  });
  const started = until(() => sim.connections().some((c) => c.subscriptions.length > 0), 10_000).then(() => sim.start());
  return {
    wsUrl: sim.wsUrl,
    restUrl: sim.httpUrl,
    /** data frames put on the wire, over every connection */
    get sent() {
      return sim.connections().reduce((a, c) => a + c.sent, 0);
    },
    get conns() {
      return sim.connections().length;
    },
    book: sim.venue.book("BTCUSDT")!,
    done: started.then(() => sim.done),
    stop: () => sim.stop(),
  };
}

describe.skipIf(!hasData)("BinanceFeed against a local Binance-protocol venue", () => {
  const lines = hasData ? readCaptureText(FILE).split("\n").filter((l) => l.length > 0) : [];
  const bodies = lines.map((l) => l.slice(l.indexOf(" ") + 1));
  // the simulator replays what follows the recorded snapshot (before it: the venue's history)
  const snapAt = bodies.findIndex((b) => b.startsWith('{"lastUpdateId"'));
  const trades = bodies.slice(snapAt + 1).filter((f) => f.includes('"e":"trade"')).length;

  for (const mode of ["clean", "disconnect mid-stream", "clean over Bun's WebSocket (reference transport)"] as const) {
    test(`${mode}: every frame parsed into the ring, the book synced by snapshot and equal to the venue's`, async () => {
      const clean = mode !== "disconnect mid-stream";
      const venue = startVenue(clean ? {} : { disconnectAfterFrames: 20_000 });
      const ring = SpscRing.create(1 << 17);
      const notices: string[] = [];
      const feed = new BinanceFeed({
        market: "usdm",
        wsUrl: venue.wsUrl,
        restUrl: venue.restUrl,
        depthSpeed: "0ms", // the stream the capture recorded
        symbols: [{ symbol: "BTCUSDT", instrument: 0 }],
        channels: ["trade", "bookTicker", "depth"],
        ring,
        venue: 2,
        clock: () => performance.now() * 1e6,
        backoff: { baseMs: 20, capMs: 100 },
        stallMs: 5000,
        random: () => 0.5,
        onNotice: (what) => notices.push(what),
        transport: mode.startsWith("clean over Bun") ? bunWebSocketTransport() : undefined,
      });
      const eng = engine(ring, feed);
      try {
        feed.start();
        await Promise.race([venue.done, Bun.sleep(25_000)]);
        await until(() => feed.counters.frames >= venue.sent && ring.size === 0, 5000);
        await until(() => eng.book.synced && eng.book.lastSeq === venue.book.lastSeq, 5000, () => ({ feed: feed.counters, book: eng.book.counters(), state: eng.book.state, last: eng.book.lastSeq, venue: venue.book.lastSeq, problem: eng.book.problem, notices }));
        expect(feed.counters.refused).toBe(0);
        expect(feed.counters.frames).toBe(venue.sent);
        expect(feed.parserCounters().malformed).toBe(0);
        expect(ring.drops).toBe(0);
        expect(eng.book.levels(0, 50)).toEqual(venue.book.levels(0, 50));
        expect(eng.book.levels(1, 50)).toEqual(venue.book.levels(1, 50));
        if (clean) {
          expect(feed.parserCounters().trades).toBe(trades);
          expect(venue.conns).toBe(1);
          expect(eng.book.counters().gaps).toBe(0);
          expect(feed.counters.snapshotsFetched).toBe(1);
        } else {
          expect(venue.conns).toBe(2);
          expect(feed.counters.reconnects).toBe(1);
          expect(feed.counters.snapshotsFetched).toBeGreaterThanOrEqual(2);
          expect(notices).toContain("connection lost: reconnecting");
          // the engine's book was told the stream went down: cleared, not left looking current
          expect(eng.book.counters().interruptions).toBe(1);
        }
      } finally {
        feed.stop();
        eng.stop();
        venue.stop();
        ring.free();
      }
    }, 40_000);
  }

  test("a venue error on the snapshot endpoint is counted and retried, not fatal", async () => {
    const ring = SpscRing.create(1024);
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ code: -1003, msg: "Too many requests" }, { status: 429 }) });
    const notices: Array<Record<string, unknown>> = [];
    const feed = new BinanceFeed({
      market: "usdm",
      wsUrl: `ws://127.0.0.1:${server.port}`,
      restUrl: `http://127.0.0.1:${server.port}`,
      symbols: [{ symbol: "BTCUSDT", instrument: 0 }],
      channels: ["depth"],
      ring,
      venue: 2,
      clock: () => 0,
      onNotice: (_w, d) => notices.push(d),
    });
    try {
      feed.requestSnapshot(0);
      await until(() => feed.counters.snapshotErrors >= 1, 3000);
      expect(String(notices[0]?.error)).toContain("HTTP 429");
      expect(ring.size).toBe(0);
    } finally {
      feed.stop();
      server.stop(true);
      ring.free();
    }
  });
});

describe.skipIf(!hasData)("bot4 record", () => {
  test("records a live Binance feed into a tick file that reads back whole: every frame's records, book levels that rebuild the venue's book", async () => {
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { TickFile } = await import("../src/tickfile/reader.ts");
    const venue = startVenue();
    const out = join(mkdtempSync(join(tmpdir(), "bot4-record-")), "live.b4t");
    try {
      const p = Bun.spawn([process.execPath, new URL("../src/cli/main.ts", import.meta.url).pathname, "record", "--venue", "binanceusdm", "--symbols", "BTCUSDT", "--out", out, "--depth-speed", "0ms", "--ws", venue.wsUrl, "--rest", venue.restUrl], { stdout: "pipe", stderr: "pipe" });
      await Promise.race([venue.done, Bun.sleep(20_000)]);
      // the recorder checkpoints every second: once the file has stopped growing for two
      // checkpoints, every frame the venue sent is in it (a loaded machine needs longer)
      const { statSync } = await import("node:fs");
      const size = () => {
        try {
          return statSync(`${out}.part`).size;
        } catch {
          return -1;
        }
      };
      let last = -2, since = Date.now();
      for (const t0 = Date.now(); Date.now() - t0 < 15_000 && Date.now() - since < 2_200; ) {
        await Bun.sleep(100);
        const now = size();
        if (now !== last) (last = now), (since = Date.now());
      }
      p.kill("SIGINT");
      expect(await p.exited).toBe(0);
      const summary = JSON.parse(await new Response(p.stdout).text());
      expect(summary.feed.frames).toBe(venue.sent);
      expect(summary.feed.refused).toBe(0);
      expect(summary.ringDrops).toBe(0);
      const f = TickFile.open(out);
      expect(f.count).toBe(summary.records);
      expect(f.instruments.map((i) => [i.symbol, i.native])).toEqual([["BTC/USDT:USDT", "BTCUSDT"]]);
      // the file's records rebuild the venue's book through the C book
      const books = new BookSet(1);
      // the local venue replays far faster than real time: on a loaded machine the snapshot can
      // arrive thousands of diffs after the stream started, so the replayed book buffers them all
      const book = books.add(0, BookRule.binanceFutures, { pending: 1 << 19 });
      books.apply(f.recordsPtr, 0xffffffff, 0, f.count);
      expect(book.synced).toBe(true);
      expect(book.lastSeq).toBe(venue.book.lastSeq);
      expect(book.levels(0, 20)).toEqual(venue.book.levels(0, 20));
      expect(book.levels(1, 20)).toEqual(venue.book.levels(1, 20));
    } finally {
      await venue.stop();
    }
  }, 60_000);
});
