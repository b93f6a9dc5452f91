/**
 * The venue simulator against recorded Binance captures: the reference client (Binance's
 * documented book procedure) syncs through it with and without faults and ends with the venue's
 * own book; what the client detected is compared with what was injected; the protocol's control
 * messages, error replies, heartbeats, rate limit, REST endpoints, pacing and loops.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ASK, BID, type L2Book } from "../src/book/l2book.ts";
import { FaultInjector } from "../src/sim/faults.ts";
import { startVenueSim } from "../src/sim/server.ts";
import { BinanceReferenceClient, BinanceVenue, loadBinanceTape, startBinanceSim, type BinanceTape } from "../src/sim/venues/binance.ts";

const DATA = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const USDM_BTC = `${DATA}hftbacktest/binance-usdm/btcusdt_20240808.gz`;
const SPOT_BTC = `${DATA}hftbacktest/binance-spot/btcusdt_20240808.gz`;
const HAVE = existsSync(USDM_BTC) && existsSync(SPOT_BTC);
if (!HAVE) console.warn(`sim.test: skipped — the recorded captures are not at ${DATA}hftbacktest/ (shared data folder absent)`);
const d = HAVE ? describe : describe.skip;

async function waitFor(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(2);
  }
}

/** the top n levels of both sides are the same */
function expectSameTop(a: L2Book, b: L2Book, n: number): void {
  expect(a.levels(BID, n)).toEqual(b.levels(BID, n));
  expect(a.levels(ASK, n)).toEqual(b.levels(ASK, n));
  expect(a.depth(BID)).toBeGreaterThanOrEqual(Math.min(n, b.depth(BID)));
}

let usdm: BinanceTape;
let spot: BinanceTape;
beforeAll(() => {
  if (!HAVE) return;
  usdm = loadBinanceTape([USDM_BTC], "usdm");
  spot = loadBinanceTape([SPOT_BTC], "spot");
});

describe("fault injection (no network)", () => {
  const frames = Array.from({ length: 2000 }, (_, i) => `{"stream":"btcusdt@trade","data":{"e":"trade","t":${i},"p":"61800.${i % 10}0","q":"0.001","m":${i % 2 === 0}}}`);
  const run = (seed: number) => {
    const inj = new FaultInjector({ seed, drop: { p: 0.05 }, corrupt: { p: 0.05, mode: "flip" }, duplicate: { p: 0.03 }, reorder: { p: 0.02 } }, 3, () => "ERR");
    const out: string[] = [];
    for (const f of frames) inj.feed("btcusdt@trade", f, (s) => out.push(s));
    inj.flush((s) => out.push(s));
    return { out, c: inj.counters };
  };

  test("the same seed injects the same faults; another seed others", () => {
    const a = run(42), b = run(42), c = run(43);
    expect(a.out).toEqual(b.out);
    expect(a.c).toEqual(b.c);
    expect(c.out).not.toEqual(a.out);
    expect(a.c.dropped).toBeGreaterThan(50);
    expect(a.c.corrupted).toBeGreaterThan(50);
    // what went out: every frame not dropped, duplicates twice
    expect(a.out.length).toBe(frames.length - a.c.dropped + a.c.duplicated);
  });

  test("a corrupted frame never parses, in both modes", () => {
    for (const mode of ["flip", "truncate"] as const) {
      const inj = new FaultInjector({ seed: 7, corrupt: { every: 1, mode } }, 0, () => "");
      let parsed = 0;
      for (const f of frames) {
        inj.feed("x", f, (s) => {
          try {
            JSON.parse(s);
            parsed++;
          } catch {}
        });
      }
      expect(inj.counters.corrupted).toBe(frames.length);
      expect(parsed).toBe(0);
    }
  });

  test("every-Nth rules count only the frames their streams match; reorder swaps two frames of one stream", () => {
    const inj = new FaultInjector({ drop: { every: 3, streams: ["@depth"] }, reorder: { every: 2, streams: ["@trade"] } }, 0, () => "");
    const out: string[] = [];
    const seq = ["d1", "t1", "d2", "t2", "d3", "t3", "t4", "d4"];
    for (const s of seq) inj.feed(s.startsWith("d") ? "x@depth" : "x@trade", s, (x) => out.push(x));
    // d3 dropped (3rd depth frame); t2 held and sent right after t3 (the next trade), t4 held at the end
    expect(out).toEqual(["d1", "t1", "d2", "t3", "t2", "d4"]);
    expect(inj.counters.dropped).toBe(1);
    expect(inj.counters.reordered).toBe(2);
    inj.flush((x) => out.push(x));
    expect(out.at(-1)).toBe("t4");
  });
});

d("venue simulator: Binance", () => {
  test("listens on 127.0.0.1 only", () => {
    expect(() => startVenueSim({ venue: new BinanceVenue({ market: "usdm", tape: usdm }), hostname: "0.0.0.0" })).toThrow(/127\.0\.0\.1 only/);
  });

  test("REST: exchangeInfo from the capture, depth at the replay position, documented errors", async () => {
    const sim = startBinanceSim({ market: "usdm", captures: usdm, speed: 0, autoStart: false });
    try {
      const info = (await (await fetch(`${sim.httpUrl}/fapi/v1/exchangeInfo`)).json()) as { symbols: Array<Record<string, unknown>>; futuresType: string };
      expect(info.futuresType).toBe("U_MARGINED");
      expect(info.symbols.map((s) => s.symbol)).toEqual(["BTCUSDT"]);
      const s = info.symbols[0]!;
      expect(s).toMatchObject({ baseAsset: "BTC", quoteAsset: "USDT", marginAsset: "USDT", contractType: "PERPETUAL", pricePrecision: 2, quantityPrecision: 3 });
      const f = Object.fromEntries((s.filters as Array<{ filterType: string }>).map((x) => [x.filterType, x]));
      expect(f.PRICE_FILTER).toMatchObject({ tickSize: "0.10", minPrice: "0.10" });
      expect(f.LOT_SIZE).toMatchObject({ stepSize: "0.001", minQty: "0.001" });
      // every recorded price is a multiple of the tick, every size of the step
      const book = sim.venue.book("BTCUSDT")!;
      for (const [p, q] of [...book.levels(BID, 200), ...book.levels(ASK, 200)]) {
        expect(Math.abs(Math.round(p * 10) - p * 10)).toBeLessThan(1e-6);
        expect(Math.abs(Math.round(q * 1000) - q * 1000)).toBeLessThan(1e-6);
      }

      const depth = (await (await fetch(`${sim.httpUrl}/fapi/v1/depth?symbol=BTCUSDT&limit=5`)).json()) as { lastUpdateId: number; bids: string[][]; asks: string[][]; E: number };
      expect(depth.lastUpdateId).toBe(book.lastSeq);
      expect(depth.bids.length).toBe(5);
      expect(depth.bids[0]).toEqual([book.bestBid.toFixed(2), book.size(BID, 0).toFixed(3)]);
      expect(depth.asks[0]).toEqual([book.bestAsk.toFixed(2), book.size(ASK, 0).toFixed(3)]);
      // the first frame to send chains onto the snapshot (USD-M: pu == lastUpdateId of the snapshot)
      const firstDiff = usdm.diffs.slice(usdm.start).find((x) => x !== undefined)!;
      expect(firstDiff.pu).toBe(depth.lastUpdateId);

      const bad = async (q: string, code: number) => {
        const r = await fetch(`${sim.httpUrl}/fapi/v1/depth${q}`);
        expect(r.status).toBe(400);
        expect(((await r.json()) as { code: number }).code).toBe(code);
      };
      await bad("?symbol=NOPE", -1121);
      await bad("", -1102);
      await bad("?symbol=BTCUSDT&limit=7", -1130);
      const t = (await (await fetch(`${sim.httpUrl}/fapi/v1/time`)).json()) as { serverTime: number };
      expect(Math.abs(t.serverTime - usdm.recvNs[usdm.start - 1]! / 1e6)).toBeLessThan(1);
      expect((await fetch(`${sim.httpUrl}/api/v3/depth?symbol=BTCUSDT`)).status).toBe(404); // a USD-M host has no spot API
    } finally {
      await sim.stop();
    }
  });

  test("WebSocket control: SUBSCRIBE / LIST / UNSUBSCRIBE / SET_PROPERTY replies, raw vs combined bytes, error replies", async () => {
    const sim = startBinanceSim({ market: "usdm", captures: usdm, speed: 0, autoStart: false, inboundPerSecond: 0 });
    const c = new BinanceReferenceClient({ httpUrl: sim.httpUrl, wsUrl: sim.wsUrl, path: "/ws", market: "usdm", symbol: "BTCUSDT", keepFrames: true });
    try {
      await c.start();
      const ask = async (msg: unknown) => {
        const n = c.replies.length;
        c.send(msg);
        await waitFor("a reply", () => c.replies.length > n);
        return c.replies[n] as Record<string, unknown>;
      };
      expect(await ask({ method: "SUBSCRIBE", params: ["btcusdt@trade"], id: 1 })).toEqual({ result: null, id: 1 });
      expect(await ask({ method: "LIST_SUBSCRIPTIONS", id: 2 })).toEqual({ result: ["btcusdt@trade"], id: 2 });
      expect(await ask({ method: "GET_PROPERTY", params: ["combined"], id: 3 })).toEqual({ result: false, id: 3 });
      // raw stream: the recorded `data` bytes
      const trades = [];
      for (let i = usdm.start; i < usdm.count && trades.length < 3; i++) if (usdm.streams[usdm.streamOf[i]!] === "btcusdt@trade") trades.push(i);
      const twoSent = sim.pauseAt(trades[1]! + 1);
      sim.start();
      await twoSent;
      await waitFor("two trades", () => c.frames.filter((f) => f.includes('"e":"trade"')).length >= 2);
      const t0 = usdm.text[trades[0]!]!;
      expect(c.frames).toContain(t0.slice(usdm.dataAt[trades[0]!]!, t0.length - 1));
      // combined from now on: the recorded line itself
      expect(await ask({ method: "SET_PROPERTY", params: ["combined", true], id: 4 })).toEqual({ result: null, id: 4 });
      const thirdSent = sim.pauseAt(trades[2]! + 1);
      sim.resume();
      await thirdSent;
      await waitFor("the third trade", () => c.frames.includes(usdm.text[trades[2]!]!));
      expect(await ask({ method: "UNSUBSCRIBE", params: ["btcusdt@trade"], id: 5 })).toEqual({ result: null, id: 5 });
      expect(await ask({ method: "LIST_SUBSCRIPTIONS", id: 6 })).toEqual({ result: [], id: 6 });
      expect(sim.subscribers("btcusdt@trade")).toBe(0);
      // error replies
      expect((await ask("{not json")).code).toBe(3);
      expect(await ask({ method: "FOO", id: 7 })).toMatchObject({ code: 2, id: 7 });
      expect(String((await ask({ method: "FOO", id: 8 })).msg)).toContain("unknown variant");
      expect(await ask({ method: "SUBSCRIBE", params: ["btcusdt@trade"], id: "abc" })).toMatchObject({ code: 2, msg: "Invalid request: request ID must be an unsigned integer" });
      expect(String((await ask({ params: [], id: 9 })).msg)).toContain("missing field");
      expect(await ask({ method: "SET_PROPERTY", params: ["combined", "yes"], id: 10 })).toMatchObject({ code: 1, msg: "Invalid value type: expected Boolean" });
      expect(await ask({ method: "GET_PROPERTY", params: ["speed"], id: 11 })).toMatchObject({ code: 0, msg: "Unknown property" });
      expect(await ask({ method: "SET_PROPERTY", params: [5, true], id: 12 })).toMatchObject({ code: 2, msg: "Invalid request: property name must be a string" });
      expect(await ask({ method: "SUBSCRIBE", params: "btcusdt@trade", id: 13 })).toMatchObject({ code: 2 });
      expect(c.malformed).toBe(0);
    } finally {
      c.stop();
      await sim.stop();
    }
  });

  test("clean replay: every frame arrives verbatim and in order; the client's book equals the venue's at checkpoints and at the end", async () => {
    const sim = startBinanceSim({ market: "usdm", captures: usdm, speed: 0, autoStart: false });
    const path = "/stream?streams=btcusdt@depth@0ms/btcusdt@trade";
    const c = new BinanceReferenceClient({ httpUrl: sim.httpUrl, wsUrl: sim.wsUrl, path, market: "usdm", symbol: "BTCUSDT", keepFrames: true });
    try {
      await c.start();
      await waitFor("subscription", () => sim.subscribers("btcusdt@trade") === 1);
      const venueBook = sim.venue.book("BTCUSDT")!;
      const caughtUp = () => c.messages === sim.connections()[0]!.sent;
      for (const at of [usdm.start + 20_000, usdm.start + 55_000]) {
        const paused = sim.pauseAt(at);
        sim.start();
        await paused;
        await waitFor("the client to take every frame sent", caughtUp);
        expect(await c.settle()).toBe(true);
        expect(c.book.lastSeq).toBe(venueBook.lastSeq);
        expectSameTop(c.book, venueBook, 50);
      }
      sim.resume();
      await sim.done;
      await waitFor("the client to take every frame sent", caughtUp);
      const expected: string[] = [];
      for (let i = usdm.start; i < usdm.count; i++) {
        const s = usdm.streams[usdm.streamOf[i]!];
        if (s === "btcusdt@depth@0ms" || s === "btcusdt@trade") expected.push(usdm.text[i]!);
      }
      expect(c.frames.length).toBe(expected.length);
      const firstDiff = c.frames.findIndex((f, i) => f !== expected[i]);
      expect(firstDiff).toBe(-1);
      const t = c.totals();
      expect(t.gaps).toBe(0);
      expect(t.snapshots).toBe(1);
      expect(c.book.lastSeq).toBe(venueBook.lastSeq);
      expectSameTop(c.book, venueBook, 50);
      expect(c.tradeRepeats + c.tradeBackwards + c.malformed).toBe(0);
    } finally {
      c.stop();
      await sim.stop();
    }
  });

  test("faults: gaps detected and resynced from REST, detected counts equal injected counts, final book equals the venue's", async () => {
    const sim = startBinanceSim({
      market: "usdm",
      captures: usdm,
      speed: 0,
      autoStart: false,
      faults: {
        seed: 11,
        drop: { every: 250, streams: ["@depth"] },
        corrupt: { every: 1009, mode: "flip", streams: ["@trade"] },
        duplicate: { every: 457, streams: ["@trade"] },
        reorder: { every: 773, streams: ["@trade"] },
        error: { every: 4001 },
      },
    });
    const c = new BinanceReferenceClient({ httpUrl: sim.httpUrl, wsUrl: sim.wsUrl, path: "/stream?streams=btcusdt@depth@0ms/btcusdt@trade", market: "usdm", symbol: "BTCUSDT" });
    try {
      await c.start();
      await waitFor("subscription", () => sim.subscribers("btcusdt@trade") === 1);
      sim.start();
      await sim.done;
      await waitFor("the client to take every frame sent", () => c.messages === sim.connections()[0]!.sent);
      const f = sim.faultTotals();
      let offeredTrades = 0;
      for (let i = usdm.start; i < usdm.count; i++) if (usdm.streams[usdm.streamOf[i]!] === "btcusdt@trade") offeredTrades++;
      expect(f.dropped).toBeGreaterThan(20);
      expect(f.corrupted).toBeGreaterThan(15);
      expect(f.duplicated).toBeGreaterThan(40);
      expect(f.reordered).toBeGreaterThan(20);
      expect(f.errorFrames).toBeGreaterThan(5);
      // what the client saw, against what was injected
      expect(c.malformed).toBe(f.corrupted);
      expect(c.errorFrames).toBe(f.errorFrames);
      expect(c.tradeRepeats).toBe(f.duplicated);
      expect(c.tradeBackwards).toBe(f.reordered);
      expect(c.trades).toBe(offeredTrades - f.corrupted + f.duplicated);
      const t = c.totals();
      // every lost diff breaks the chain unless it went while the book was already resyncing
      expect(t.gaps).toBeGreaterThan(0);
      expect(t.gaps).toBeLessThanOrEqual(f.dropped);
      expect(await c.settle()).toBe(true);
      expect(c.totals().snapshots).toBeGreaterThanOrEqual(t.gaps + 1);
      const venueBook = sim.venue.book("BTCUSDT")!;
      expect(c.book.lastSeq).toBe(venueBook.lastSeq);
      expectSameTop(c.book, venueBook, 50);
    } finally {
      c.stop();
      await sim.stop();
    }
  });

  test("disconnects (clean and abrupt) and a stall: the client reconnects, resyncs and ends with the venue's book", async () => {
    const plans = [{ disconnect: { afterFrames: 3000 } }, { stall: { afterFrames: 2000 } }, { disconnect: { afterFrames: 1000, abrupt: true } }, {}];
    // paced (200 x: the 6-minute capture in ~2 s) so the venue keeps trading while the client notices and reconnects
    const sim = startBinanceSim({ market: "spot", captures: spot, speed: 200, autoStart: false, faults: ({ id }) => plans[id] });
    const c = new BinanceReferenceClient({ httpUrl: sim.httpUrl, wsUrl: sim.wsUrl, path: "/stream?streams=btcusdt@depth@100ms/btcusdt@trade", market: "spot", symbol: "BTCUSDT", stallMs: 150 });
    try {
      await c.start();
      await waitFor("subscription", () => sim.subscribers("btcusdt@trade") === 1);
      sim.start();
      await waitFor("the fourth connection", () => sim.connections().length === 4 && c.open, 10_000);
      expect(sim.position).toBeLessThan(spot.count); // it reconnected while the venue was still trading
      await sim.done;
      const venueBook = sim.venue.book("BTCUSDT")!;
      await waitFor("the client to reach the venue's last update", () => c.sync.counters.applied > 0 && c.book.lastSeq === venueBook.lastSeq);
      const f = sim.faultTotals();
      expect(f.disconnects).toBe(2);
      expect(f.stalls).toBe(1);
      expect(f.stalledFrames).toBeGreaterThan(0);
      expect(c.stalls).toBe(1);
      expect(c.closes).toBe(3);
      expect(c.opens).toBe(4);
      expect(c.totals().snapshots).toBeGreaterThanOrEqual(4);
      expectSameTop(c.book, venueBook, 50);
      const conns = sim.connections();
      expect(conns.map((x) => x.open)).toEqual([false, false, false, true]);
      expect(conns[0]!.closeCode).toBe(1001);
    } finally {
      c.stop();
      await sim.stop();
    }
  });

  test("heartbeat: pings at the configured interval, pongs keep a client, no pong (or a pong without the ping's payload, spot) disconnects", async () => {
    const sim = startBinanceSim({ market: "spot", captures: spot, speed: 0, autoStart: false, ping: { intervalMs: 30, timeoutMs: 120 } });
    const c = new BinanceReferenceClient({ httpUrl: sim.httpUrl, wsUrl: sim.wsUrl, path: "/ws/btcusdt@trade", market: "spot", symbol: "BTCUSDT" });
    try {
      await c.start();
      await waitFor("pongs from Bun's WebSocket", () => sim.counters.pongs >= 5);
      expect(c.open).toBe(true);
      expect(sim.counters.pongTimeouts).toBe(0);

      // a client that never answers
      const silent = await rawClient(sim.port, "/ws/btcusdt@trade", () => {});
      await waitFor("the silent client to be disconnected", () => silent.closed);
      expect(silent.pings).toBeGreaterThan(0);
      expect(sim.counters.pongTimeouts).toBe(1);

      // spot: a pong that does not echo the ping's payload does not count
      const wrong = await rawClient(sim.port, "/ws/btcusdt@trade", (r) => r.sendPong("not-the-payload"));
      await waitFor("the wrong-echo client to be disconnected", () => wrong.closed);
      expect(sim.counters.unsolicitedPongs).toBeGreaterThan(0);
      expect(sim.counters.pongTimeouts).toBe(2);

      // and one that echoes stays
      const echo = await rawClient(sim.port, "/ws/btcusdt@trade", (r, payload) => r.sendPong(payload));
      await waitFor("echo pongs", () => echo.pings >= 6);
      expect(echo.closed).toBe(false);
      expect(sim.counters.pongTimeouts).toBe(2);
      echo.sock.end();
    } finally {
      c.stop();
      await sim.stop();
    }
  });

  test("inbound limit: more than 5 messages in a second disconnects a spot client", async () => {
    const sim = startBinanceSim({ market: "spot", captures: spot, speed: 0, autoStart: false });
    const c = new BinanceReferenceClient({ httpUrl: sim.httpUrl, wsUrl: sim.wsUrl, path: "/ws", market: "spot", symbol: "BTCUSDT", reconnectMs: 60_000 });
    try {
      await c.start();
      for (let i = 1; i <= 6; i++) c.send({ method: "LIST_SUBSCRIPTIONS", id: i });
      await waitFor("the disconnect", () => c.closes === 1);
      expect(c.replies.length).toBe(5);
      expect(sim.counters.rateLimited).toBe(1);
    } finally {
      c.stop();
      await sim.stop();
    }
  });

  test("pacing: at speed 1 the replay follows the recorded clock; with loop the venue restarts and clients are told", async () => {
    const paced = startBinanceSim({ market: "spot", captures: spot, speed: 1 });
    try {
      await Bun.sleep(150);
      // the recording spans minutes: after 150 ms of wall time at most a few seconds of it went out
      const sentNs = spot.recvNs[paced.position - 1]! - spot.recvNs[spot.start]!;
      expect(paced.position).toBeGreaterThan(spot.start);
      expect(sentNs).toBeLessThan(5e9);
    } finally {
      await paced.stop();
    }
    const looping = startBinanceSim({ market: "spot", captures: spot, speed: 0, loop: true, autoStart: false });
    const c = new BinanceReferenceClient({ httpUrl: looping.httpUrl, wsUrl: looping.wsUrl, path: "/ws/btcusdt@depth@100ms", market: "spot", symbol: "BTCUSDT", reconnectMs: 60_000 });
    try {
      await c.start();
      await waitFor("subscription", () => looping.subscribers("btcusdt@depth@100ms") === 1);
      looping.start();
      await waitFor("a loop", () => looping.counters.loops >= 1, 10_000);
      await waitFor("the client to be told", () => c.closes === 1);
      expect(looping.connections()[0]!.closeCode).toBe(1012);
      // the venue's book starts over from the capture's snapshot
      expect(looping.venue.book("BTCUSDT")!.synced).toBe(true);
    } finally {
      c.stop();
      await looping.stop();
    }
  });

  test("latency: delayed frames all arrive, in order", async () => {
    const sim = startBinanceSim({ market: "spot", captures: spot, speed: 0, autoStart: false, faults: { delay: { ms: 2, jitterMs: 3 } } });
    const c = new BinanceReferenceClient({ httpUrl: sim.httpUrl, wsUrl: sim.wsUrl, path: "/stream?streams=btcusdt@trade", market: "spot", symbol: "BTCUSDT" });
    try {
      await c.start();
      await waitFor("subscription", () => sim.subscribers("btcusdt@trade") === 1);
      const end = sim.pauseAt(spot.start + 3000);
      sim.start();
      await end;
      const offered = sim.connections()[0]!.faults.frames;
      await waitFor("every delayed frame", () => c.messages === offered);
      expect(sim.faultTotals().delayed).toBe(offered);
      expect(c.tradeBackwards + c.tradeRepeats).toBe(0);
    } finally {
      c.stop();
      await sim.stop();
    }
  });
});

interface RawClient {
  sock: Socket<unknown>;
  pings: number;
  closed: boolean;
  sendPong(payload: string): void;
}

/** A bare WebSocket client over TCP that answers pings only as told (Bun's WebSocket always answers). */
async function rawClient(port: number, path: string, onPing: (r: RawClient, payload: string) => void): Promise<RawClient> {
  let buf = new Uint8Array(0), upgraded = false;
  const r: RawClient = { sock: undefined as unknown as Socket<unknown>, pings: 0, closed: false, sendPong: () => {} };
  const frame = (op: number, payload: Uint8Array) => {
    const out = new Uint8Array(6 + payload.length);
    out[0] = 0x80 | op;
    out[1] = 0x80 | payload.length; // short control frames only
    const mask = [1, 2, 3, 4];
    out.set(mask, 2);
    for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ mask[i & 3]!;
    return out;
  };
  r.sendPong = (p) => r.sock.write(frame(0xa, new TextEncoder().encode(p)));
  let opened!: () => void;
  const ready = new Promise<void>((res) => (opened = res));
  r.sock = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      open(s) {
        s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      },
      data(_s, chunk) {
        const next = new Uint8Array(buf.length + chunk.length);
        next.set(buf);
        next.set(chunk, buf.length);
        buf = next;
        if (!upgraded) {
          const head = new TextDecoder().decode(buf).indexOf("\r\n\r\n");
          if (head < 0) return;
          upgraded = true;
          buf = buf.slice(head + 4);
          opened();
        }
        for (;;) {
          if (buf.length < 2) return;
          const op = buf[0]! & 0x0f;
          let len = buf[1]! & 0x7f, at = 2;
          if (len === 126) {
            if (buf.length < 4) return;
            len = (buf[2]! << 8) | buf[3]!;
            at = 4;
          } else if (len === 127) {
            if (buf.length < 10) return;
            len = Number(new DataView(buf.buffer, buf.byteOffset + 2, 8).getBigUint64(0));
            at = 10;
          }
          if (buf.length < at + len) return;
          const payload = new TextDecoder().decode(buf.subarray(at, at + len));
          buf = buf.slice(at + len);
          if (op === 0x9) {
            r.pings++;
            onPing(r, payload);
          }
        }
      },
      close() {
        r.closed = true;
      },
      error() {
        r.closed = true;
      },
    },
  });
  await ready;
  return r;
}
