/**
 * Kraken books: CRC32 against zlib; the v1 checksum on Kraken's documented example and on every
 * update of the real capture (4,269 checksums); a corrupted level caught, the book made unusable,
 * a resync asked for and a fresh snapshot recovering it; split updates, truncation to the
 * subscribed depth, republished levels; malformed and unknown frames counted; v2 (numbers formatted
 * with the pair's precision) on cases built from the v2 guide; Kraken Futures seq gaps.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32 as zlibCrc32 } from "node:zlib";
import { ASK, BID, L2Book } from "../src/book/l2book.ts";
import { crc32, crc32Ascii, crc32Begin, crc32End, crc32EndSigned, Crc32Scratch, crc32Table, toSigned32 } from "../src/book/crc32.ts";
import { verifyKrakenCapture, verifyKrakenFuturesCapture } from "../src/book/verify-kraken.ts";
import { CryptofeedLogReader } from "../src/feed/cryptofeed-log.ts";
import { appendKrakenDigits, appendKrakenFixed, crc32KrakenDigits, crc32KrakenFixed, KrakenBooks, KrakenBookSync, KrakenV2BookSync, type KrakenV1Level, type KrakenV2Level } from "../src/feed/kraken/book.ts";
import { KrakenFuturesBooks } from "../src/feed/kraken/futures-book.ts";
import { krakenFuturesUnified, krakenSpotUnified, normalizeKrakenFrame } from "../src/feed/kraken/normalize.ts";
import { InstrumentTable, Venue } from "../src/domain/instruments.ts";
import { T, TICK_BYTES, TICK_F64, TickFlag, TickKind, readU64 } from "../src/domain/tick.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";

const DATA = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const SPOT = join(DATA, "cryptofeed", "KRAKEN.ws.50.0.gz");
const FUT = join(DATA, "cryptofeed", "KRAKEN_FUTURES.ws.1.0.gz");
const TRADES = join(DATA, "cryptofeed", "KRAKEN.ws.48.0.gz");
const haveData = existsSync(SPOT) && existsSync(FUT);
if (!haveData) console.warn(`[kraken.test] ${join(DATA, "cryptofeed")} is absent: the real-data tests are skipped`);

/** Kraken's rule, as literally as the guide states it: remove ".", remove leading zeros. */
const fmt = (s: string) => s.replace(".", "").replace(/^0+/, "");
/** The checksum text built the literal way from top-10 asks (low→high) and bids (high→low). */
const literal = (asks: Array<[string, string]>, bids: Array<[string, string]>) =>
  zlibCrc32([...asks.slice(0, 10), ...bids.slice(0, 10)].map(([p, v]) => fmt(p) + fmt(v)).join(""));

function frames(path: string): Array<{ frame: unknown; line: number }> {
  const out: Array<{ frame: unknown; line: number }> = [];
  for (const e of CryptofeedLogReader.open(path).entries()) if (e.kind === "recv") out.push({ frame: JSON.parse(e.text), line: e.line });
  return out;
}

describe("crc32", () => {
  test("equals zlib's CRC-32 on strings and bytes, by both paths", () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let n = 0; n < 300; n++) {
      const len = Math.floor(rnd() * 300);
      let s = "";
      for (let i = 0; i < len; i++) s += String.fromCharCode(32 + Math.floor(rnd() * 95));
      const ref = zlibCrc32(s);
      expect(crc32(s)).toBe(ref);
      expect(crc32Table(s)).toBe(ref);
      const b = new TextEncoder().encode(s);
      expect(crc32(b)).toBe(ref);
      expect(crc32Table(b)).toBe(ref);
      // streaming in two pieces equals the whole
      const cut = Math.floor(len / 2);
      expect(crc32End(crc32Ascii(crc32Ascii(crc32Begin(), s, 0, cut), s, cut))).toBe(ref);
    }
    expect(crc32("")).toBe(0);
    expect(crc32("héllo")).toBe(zlibCrc32(Buffer.from("héllo", "utf8")));
    expect(crc32("123456789")).toBe(0xcbf43926); // the CRC-32/ISO-HDLC check value
    expect(crc32EndSigned(crc32Ascii(crc32Begin(), "123456789"))).toBe(0xcbf43926 | 0);
    expect(toSigned32(0xcbf43926)).toBe(-873187034);
    // the scratch path: pieces appended, one native hash; reuse after reset; growth
    const sc = new Crc32Scratch(2);
    for (const s of ["123", "456789"]) sc.ascii(s);
    expect(sc.crc32()).toBe(0xcbf43926);
    sc.reset();
    sc.byte(0x31);
    expect(sc.crc32()).toBe(zlibCrc32("1"));
    // Kraken digit rule by both paths
    for (const s of ["0.05000", "0.00000304", "10.5", "45285.2", "0.0", "1000.000", "0.000022900"]) {
      sc.reset();
      appendKrakenDigits(sc, s);
      expect(sc.crc32()).toBe(zlibCrc32(s.replace(".", "").replace(/^0+/, "")));
      expect(crc32End(crc32KrakenDigits(crc32Begin(), s))).toBe(zlibCrc32(s.replace(".", "").replace(/^0+/, "")));
    }
  });
});

describe("Kraken v1 checksum", () => {
  // the guide's example book: asks 0.05005…0.05050 step 0.00005, bids 0.05000…0.04950 without
  // 0.04985, 0.00000500 each; the guide gives its checksum as 974947235
  const docAsks: KrakenV1Level[] = Array.from({ length: 10 }, (_, i) => [(0.05005 + i * 0.00005).toFixed(5), "0.00000500", "1582905487.684110"]);
  const docBids: KrakenV1Level[] = ["0.05000", "0.04995", "0.04990", "0.04980", "0.04975", "0.04970", "0.04965", "0.04960", "0.04955", "0.04950"].map((p) => [p, "0.00000500", "1582905487.684110"]);

  test("Kraken's documented example gives 974947235", () => {
    const sync = new KrakenBookSync(new L2Book("kraken", "BTC/USD"), 10);
    expect(sync.onSnapshot(docAsks, docBids)).toBe("snapshot");
    expect(sync.checksum()).toBe(974947235);
    expect(literal(docAsks.map((l) => [l[0], l[1]]), docBids.map((l) => [l[0], l[1]]))).toBe(974947235);
    expect(fmt("0.05000") + fmt("0.00000304")).toBe("5000304"); // the guide's formatting example
  });

  test("split update (asks and bids in two objects), checksum in the last; mismatch → unusable → resync → snapshot recovers", () => {
    const sync = new KrakenBookSync(new L2Book("kraken", "BTC/USD"), 10);
    sync.onSnapshot(docAsks, docBids);
    // a new best ask and the removal of the best bid, in the guide's two-object layout
    const asks: Array<[string, string]> = [["0.05004", "0.00000100"], ...docAsks.slice(0, 9).map((l) => [l[0], l[1]] as [string, string])];
    const bids = docBids.slice(1).map((l) => [l[0], l[1]] as [string, string]);
    const c = String(literal(asks, bids));
    const msg = [0, { a: [["0.05004", "0.00000100", "1582905487.7"]] }, { b: [["0.05000", "0.00000000", "1582905487.7"]], c }, "book-10", "BTC/USD"];
    expect(sync.onMessage(msg)).toBe("applied");
    expect(sync.book.depth(ASK)).toBe(10); // truncated: 0.05050 fell out of the subscribed depth
    expect(sync.book.price(ASK, 9)).toBe(0.05045);
    expect(sync.counters.truncated).toBe(1);
    expect(sync.book.bestBid).toBe(0.04995);
    // the level that fell out comes back, republished, when a better ask goes
    const back = [0, { a: [["0.05004", "0.00000000", "1582905487.8"], ["0.05050", "0.00000500", "1582905487.8", "r"]], c: String(literal(docAsks.map((l) => [l[0], l[1]]), bids)) }, "book-10", "BTC/USD"];
    expect(sync.onMessage(back)).toBe("applied");
    expect(sync.counters.republished).toBe(1);
    expect(sync.levelStrings(ASK, 9)).toEqual(["0.05050", "0.00000500"]);
    // a wrong checksum: the book is cleared, unusable, a resync asked for
    const wrong = [0, { b: [["0.04990", "0.00000700", "1582905487.9"]], c: "12345" }, "book-10", "BTC/USD"];
    expect(sync.onMessage(wrong)).toBe("mismatch");
    expect(sync.book.synced).toBe(false);
    expect(sync.book.depth(BID)).toBe(0);
    expect(sync.resyncRequested).toBe(true);
    expect(sync.counters.checksumMismatches).toBe(1);
    expect(sync.lastProblem).toContain("venue 12345");
    expect(sync.onMessage(back)).toBe("skipped");
    sync.resyncSent();
    expect(sync.resyncRequested).toBe(false);
    expect(sync.onMessage([0, { as: docAsks, bs: docBids }, "book-10", "BTC/USD"])).toBe("snapshot");
    expect(sync.book.synced).toBe(true);
    expect(sync.checksum()).toBe(974947235);
  });

  test("unreadable levels and messages: counted; a bad level makes the book unusable", () => {
    const sync = new KrakenBookSync(new L2Book("kraken", "BTC/USD"), 10);
    sync.onSnapshot(docAsks, docBids);
    expect(sync.onMessage([0, { x: 1 }, "book-10", "BTC/USD"])).toBe("malformed"); // neither a nor b
    expect(sync.book.synced).toBe(true); // nothing applied: the book is still right
    expect(sync.onMessage([0, "junk", "book-10", "BTC/USD"])).toBe("malformed");
    expect(sync.onMessage([0, { a: [["abc", "1.0", "1"]], c: "1" }, "book-10", "BTC/USD"])).toBe("malformed");
    expect(sync.book.synced).toBe(false);
    expect(sync.resyncRequested).toBe(true);
    sync.onSnapshot(docAsks, docBids);
    expect(sync.onMessage([0, { a: [["0.05004", "1.0", "1"]], c: "-5" }, "book-10", "BTC/USD"])).toBe("malformed");
    expect(sync.counters.malformed).toBe(4);
    expect(sync.book.synced).toBe(false);
    expect(() => new KrakenBookSync(new L2Book("kraken", "X"), 5)).toThrow(RangeError);
  });

  test("a crossed book is unusable", () => {
    const sync = new KrakenBookSync(new L2Book("kraken", "BTC/USD"), 10);
    sync.onSnapshot(docAsks, docBids);
    expect(sync.onUpdate(null, [["0.05010", "1.00000000", "1"]], null)).toBe("crossed");
    expect(sync.book.synced).toBe(false);
    expect(sync.counters.checksumMissing).toBe(1);
    expect(sync.resyncRequested).toBe(true);
  });
});

describe.skipIf(!haveData)("Kraken v1 capture (KRAKEN.ws.50.0.gz)", () => {
  test("verifyKrakenCapture: 4,269 checksums, all match, every book synced", () => {
    const r = verifyKrakenCapture([SPOT]);
    expect(r.checksumsChecked).toBe(4269);
    expect(r.checksumMismatches).toBe(0);
    expect(r.bookUpdates).toBe(4269);
    expect(r.malformed).toBe(0);
    expect(r.resyncs).toBe(0);
    expect(r.crossed).toBe(0);
    expect(r.instruments.length).toBe(10);
    expect(r.instruments.every((i) => i.synced && i.lastProblem === null)).toBe(true);
    expect(r.messages).toBe(4321);
    expect(r.ignored).toBe(4321 - 4279); // events, heartbeats
  });

  test("checksums agree with the literal string rule on every update (independent of the sync's CRC path)", () => {
    const books = new KrakenBooks();
    let checked = 0;
    for (const { frame } of frames(SPOT)) {
      if (!KrakenBooks.isBookFrame(frame)) continue;
      const routed = books.onFrame(frame)!;
      const last = frame[frame.length - 3] as { c?: string };
      if (typeof last.c !== "string") continue;
      const s = routed.sync;
      const side = (sd: number) => Array.from({ length: Math.min(10, s.book.depth(sd)) }, (_, i) => s.levelStrings(sd, i)!);
      expect(literal(side(ASK), side(BID))).toBe(Number(last.c));
      checked++;
    }
    expect(checked).toBe(4269);
  });

  test("one corrupted level: mismatch caught, book unusable, resync asked, updates skipped, a fresh snapshot recovers", () => {
    const all = frames(SPOT).map((f) => f.frame).filter((f): f is unknown[] => KrakenBooks.isBookFrame(f));
    const pair = "XMR/USD";
    const clean = new KrakenBooks();
    const dirty = new KrakenBooks();
    let corrupted = -1;
    let snapshotAt = -1;
    let afterRecovery = 0;
    for (let i = 0; i < all.length; i++) {
      const f = all[i]!;
      const isPair = f[f.length - 1] === pair;
      const cr = clean.onFrame(f)!;
      expect(cr.result === "snapshot" || cr.result === "applied").toBe(true);
      let g = f;
      // corrupt the first XMR/USD update (after 50 of them) whose first level sits in the top 10
      if (isPair && corrupted < 0 && cr.sync.counters.updates > 50) {
        const body = (f[1] as Record<string, KrakenV1Level[]>);
        const key = body.a ? "a" : "b";
        const lv = body[key]![0]!;
        const side = key === "a" ? ASK : BID;
        const p = Number(lv[0]);
        const tenth = cr.sync.book.price(side, 9);
        if (Number(lv[1]) > 0 && (side === ASK ? p <= tenth : p >= tenth)) {
          g = structuredClone(f);
          const gl = (g[1] as Record<string, KrakenV1Level[]>)[key]![0]!;
          gl[1] = (Number(gl[1]) + 1).toFixed(8); // one level's volume wrong by 1
          corrupted = i;
        }
      }
      const dr = dirty.onFrame(g)!;
      if (i === corrupted) {
        expect(dr.result).toBe("mismatch");
        const ds = dirty.byPair.get(pair)!;
        expect(ds.book.synced).toBe(false);
        expect(ds.resyncRequested).toBe(true);
        expect(ds.lastProblem).toContain("checksum mismatch");
      } else if (isPair && corrupted >= 0 && snapshotAt < 0) {
        expect(dr.result).toBe("skipped");
        // resubscribed: after 20 more updates, the venue's fresh snapshot (the clean book's state) arrives
        if (dirty.byPair.get(pair)!.counters.skipped === 20) {
          const cs = clean.byPair.get(pair)!;
          const levels = (side: number) => Array.from({ length: cs.book.depth(side) }, (_, k) => [...cs.levelStrings(side, k)!, "0"]);
          expect(dirty.onFrame([992, { as: levels(ASK), bs: levels(BID) }, "book-1000", pair])!.result).toBe("snapshot");
          snapshotAt = i;
        }
      } else if (isPair && snapshotAt >= 0) {
        expect(dr.result).toBe("applied");
        afterRecovery++;
      } else {
        expect(dr.result).toBe(cr.result);
      }
    }
    expect(corrupted).toBeGreaterThan(0);
    expect(snapshotAt).toBeGreaterThan(corrupted);
    expect(afterRecovery).toBeGreaterThan(100);
    const d = dirty.byPair.get(pair)!;
    expect(d.book.synced).toBe(true);
    expect(d.counters.checksumMismatches).toBe(1);
    expect(d.counters.resyncs).toBe(1);
    expect(d.checksum()).toBe(clean.byPair.get(pair)!.checksum());
    expect(d.book.levels(ASK)).toEqual(clean.byPair.get(pair)!.book.levels(ASK));
  });

  test("malformed lines, non-JSON payloads, unknown frames and unreadable book messages are counted, never thrown", () => {
    const dir = mkdtempSync(join(tmpdir(), "kraken-"));
    const p = join(dir, "KRAKEN.ws.test");
    const lines = [
      `wss://ws.kraken.com <-> 1618678132.3858151`,
      `1618678133.0: {"event":"heartbeat"}`,
      `1618678133.1: [1360,{"as":[["0.000022900","13355.87450757","1618678123.481570"]],"bs":[["0.000022800","1.00000000","1618678123.481570"]]},"book-10","ADA/XBT"]`,
      `1618678133.2: [1360,{"a":[["0.000022900","13355.87450756","1618678123.6"]]`,
      `this line is noise`,
      `1618678133.3: [1361,[["0.1","2","3","s","l",""]],"trade","ADA/XBT"]`,
      `1618678133.4: {"totally":"unknown"}`,
      `1618678133.5: [1360,{"a":[["not a price","1.0","1618678123.7"]],"c":"1"},"book-10","ADA/XBT"]`,
      `1618678133.6: [7,{"a":[]},"book-5","XBT/USD"]`,
      ``,
    ];
    writeFileSync(p, lines.join("\n"));
    const r = verifyKrakenCapture([p]);
    expect(r.malformed).toBe(4); // truncated JSON, the noise line, the unreadable level, book-5
    expect(r.malformedAt.map((m) => Number(/KRAKEN\.ws\.test:(\d+):/.exec(m)![1]))).toEqual([4, 8, 9, 5]);
    expect(r.ignored).toBe(3); // heartbeat, trade, unknown object
    expect(r.instruments.length).toBe(1);
    expect(r.instruments[0]!.synced).toBe(false);
    expect(r.resyncs).toBe(1);
  });
});

describe("Kraken v2 book (cases built from the v2 checksum guide)", () => {
  // prices with 1 decimal, quantities with 8 (the guide's BTC/USD example precision)
  const PP = 1, QP = 8;
  const lit = (asks: KrakenV2Level[], bids: KrakenV2Level[]) =>
    literal(asks.map((l) => [l.price.toFixed(PP), l.qty.toFixed(QP)]), bids.map((l) => [l.price.toFixed(PP), l.qty.toFixed(QP)]));
  const asks: KrakenV2Level[] = Array.from({ length: 12 }, (_, i) => ({ price: 45285.2 + i * 0.5, qty: i === 0 ? 0.001 : 0.1 * (i + 1) }));
  const bids: KrakenV2Level[] = Array.from({ length: 12 }, (_, i) => ({ price: 45283.5 - i * 0.7, qty: 1.5 + i * 0.00000001 }));

  test("the guide's formatting: 45285.2 → 452852, 0.00100000 → 100000", () => {
    const scratch = new Crc32Scratch(4); // tiny: growth is exercised too
    const one = (x: number, d: number) => {
      const viaTable = crc32End(crc32KrakenFixed(crc32Begin(), x, d));
      scratch.reset();
      appendKrakenFixed(scratch, x, d);
      expect(scratch.crc32()).toBe(viaTable);
      return viaTable;
    };
    expect(one(45285.2, 1)).toBe(zlibCrc32("452852"));
    expect(one(0.001, 8)).toBe(zlibCrc32("100000"));
    expect(one(0, 8)).toBe(zlibCrc32(""));
    expect(one(1e9, 8)).toBe(zlibCrc32("100000000000000000")); // beyond 2^53 when scaled: the toFixed path
    // digits straight from the double equal toFixed + the rule, on many values
    let seed = 3;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let n = 0; n < 2000; n++) {
      const d = Math.floor(rnd() * 9);
      const x = Math.round(rnd() * 1e7) / 10 ** d;
      expect(one(x, d)).toBe(zlibCrc32(fmt(x.toFixed(d))));
    }
  });

  test("snapshot and updates checked (depth 10: truncated), mismatch → resync → snapshot recovers", () => {
    const sync = new KrakenV2BookSync(new L2Book("kraken", "BTC/USD"), 10, PP, QP);
    const a10 = asks.slice(0, 10), b10 = bids.slice(0, 10);
    const snap = { channel: "book", type: "snapshot", data: [{ symbol: "BTC/USD", asks: a10, bids: b10, checksum: lit(a10, b10), timestamp: "2023-10-06T17:35:55.440295Z" }] };
    expect(sync.onMessage(snap)).toBe("snapshot");
    expect(sync.counters.checksumsChecked).toBe(1);
    // a better bid pushes the 10th bid out (truncation); an ask level goes (qty 0)
    const nb = { price: 45284.0, qty: 0.25 };
    const expBids = [nb, ...b10.slice(0, 9)];
    const expAsks = [...a10.slice(0, 2), ...a10.slice(3)];
    const upd = { channel: "book", type: "update", data: [{ symbol: "BTC/USD", asks: [{ price: a10[2]!.price, qty: 0 }], bids: [nb], checksum: lit(expAsks, expBids), timestamp: "x" }] };
    expect(sync.onMessage(upd)).toBe("applied");
    expect(sync.book.depth(BID)).toBe(10);
    expect(sync.book.price(BID, 9)).toBe(b10[8]!.price);
    expect(sync.book.depth(ASK)).toBe(9);
    // the venue republishes the 11th ask to keep the depth
    const expAsks2 = [...expAsks, asks[10]!];
    expect(sync.onMessage({ channel: "book", type: "update", data: [{ symbol: "BTC/USD", asks: [asks[10]!], bids: [], checksum: lit(expAsks2, expBids) }] })).toBe("applied");
    expect(sync.counters.checksumMismatches).toBe(0);
    // the same state checked with the wrong precision would not match: formatting matters
    expect(new KrakenV2BookSync(sync.book, 10, PP, 4).checksum()).not.toBe(sync.checksum());
    // a message for another symbol changes nothing here
    expect(sync.onMessage({ channel: "book", type: "update", data: [{ symbol: "ETH/USD", asks: [], bids: [{ price: 1, qty: 1 }], checksum: 1 }] })).toBe("skipped");
    // a corrupted quantity
    const bad = { channel: "book", type: "update", data: [{ symbol: "BTC/USD", asks: [], bids: [{ price: nb.price, qty: 0.26 }], checksum: lit(expAsks2, [{ price: nb.price, qty: 0.25 }, ...expBids.slice(1)]) }] };
    expect(sync.onMessage(bad)).toBe("mismatch");
    expect(sync.book.synced).toBe(false);
    expect(sync.resyncRequested).toBe(true);
    expect(sync.onMessage(upd)).toBe("skipped");
    expect(sync.onMessage(snap)).toBe("snapshot");
    expect(sync.book.synced).toBe(true);
    expect(sync.counters).toMatchObject({ snapshots: 2, checksumsChecked: 5, checksumMismatches: 1, resyncs: 1, skipped: 1 });
  });

  test("a snapshot whose checksum disagrees is refused; non-numeric levels and bad messages are counted", () => {
    const sync = new KrakenV2BookSync(new L2Book("kraken", "BTC/USD"), 10, PP, QP);
    const a10 = asks.slice(0, 10), b10 = bids.slice(0, 10);
    expect(sync.onData("snapshot", { symbol: "BTC/USD", asks: a10, bids: b10, checksum: (lit(a10, b10) + 1) >>> 0 })).toBe("mismatch");
    expect(sync.book.synced).toBe(false);
    expect(sync.onData("snapshot", { symbol: "BTC/USD", asks: [{ price: "1" as unknown as number, qty: 1 }], bids: b10, checksum: 1 })).toBe("malformed");
    expect(sync.onMessage({ channel: "ticker", type: "update", data: [] })).toBe("malformed");
    expect(sync.onData("update", { symbol: "BTC/USD" } as never)).toBe("malformed");
    expect(sync.counters.malformed).toBe(3);
    expect(() => new KrakenV2BookSync(new L2Book("kraken", "X"), 10, 1.5, 8)).toThrow(RangeError);
  });
});

describe.skipIf(!haveData)("Kraken Futures book (KRAKEN_FUTURES.ws.1.0.gz)", () => {
  test("verifyKrakenFuturesCapture: no seq gap, 7,014 deltas applied, every book synced", () => {
    const r = verifyKrakenFuturesCapture([FUT]);
    expect(r.sequenceGaps).toBe(0);
    expect(r.bookUpdates).toBe(7014);
    expect(r.malformed).toBe(0);
    expect(r.crossed).toBe(0);
    expect(r.instruments.length).toBe(10);
    expect(r.instruments.every((i) => i.synced && i.lastProblem === null)).toBe(true);
  });

  test("a dropped delta is a gap: book unusable, resync asked; a replayed one is stale; a fresh snapshot recovers", () => {
    const all = frames(FUT).map((f) => f.frame as Record<string, unknown>);
    const books = new KrakenFuturesBooks();
    const ref = new KrakenFuturesBooks();
    const product = "PI_ETHUSD";
    let seen = 0, gapAt = -1, recovered = false;
    for (const m of all) {
      ref.onMessage(m);
      const mine = m.product_id === product && m.feed === "book";
      if (mine) seen++;
      if (mine && seen === 100) continue; // lost on the wire
      const r = books.onMessage(m);
      if (mine && seen === 101) {
        expect(r!.result).toBe("gap");
        const s = books.byProduct.get(product)!;
        expect(s.book.synced).toBe(false);
        expect(s.resyncRequested).toBe(true);
        expect(s.lastProblem).toContain("sequence gap");
        gapAt = seen;
      } else if (mine && seen > 101 && !recovered) {
        expect(r!.result).toBe("skipped");
        if (seen === 150) {
          // the resubscription's snapshot: the reference book's state at this seq
          const rs = ref.byProduct.get(product)!;
          const lv = (side: number) => rs.book.levels(side).map(([price, qty]) => ({ price, qty }));
          expect(books.onMessage({ feed: "book_snapshot", product_id: product, seq: rs.book.lastSeq, bids: lv(BID), asks: lv(ASK) })!.result).toBe("snapshot");
          // the last delta again: stale
          expect(books.onMessage(m)!.result).toBe("stale");
          recovered = true;
        }
      } else if (mine && recovered) {
        expect(r!.result).toBe("applied");
      }
    }
    expect(gapAt).toBe(101);
    const s = books.byProduct.get(product)!;
    expect(s.book.synced).toBe(true);
    expect(s.counters).toMatchObject({ gaps: 1, resyncs: 1, stale: 1, snapshots: 2 });
    expect(s.book.levels(BID)).toEqual(ref.byProduct.get(product)!.book.levels(BID));
    expect(s.book.levels(ASK)).toEqual(ref.byProduct.get(product)!.book.levels(ASK));
    expect(books.onMessage({ event: "subscribed", feed: "book", product_ids: [product] })).toBeNull();
    expect(books.onMessage({ feed: "book", product_id: product, side: "up", seq: 1, price: 1, qty: 1 })!.result).toBe("malformed");
  });
});

describe("normalizeKrakenFrame", () => {
  const rec = (buf: TickBuffer, i: number) => ({
    kind: buf.u8[i * TICK_BYTES + T.KIND_U8]!,
    flags: buf.u8[i * TICK_BYTES + T.FLAGS_U8]!,
    price: buf.f64[i * TICK_F64 + T.PRICE_F64]!,
    size: buf.f64[i * TICK_F64 + T.SIZE_F64]!,
    seq: readU64(buf.u32, i * (TICK_BYTES / 4) + T.SEQ_U32),
    exch: buf.u64[i * TICK_F64]!,
    recv: buf.u64[i * TICK_F64 + 1]!,
    inst: buf.u32[i * (TICK_BYTES / 4) + T.INSTRUMENT_U32]!,
    venue: buf.u16[i * (TICK_BYTES / 2) + T.VENUE_U16]!,
  });
  const run = (path: string) => {
    const buf = new TickBuffer(1024);
    const inst = new InstrumentTable();
    const fs = frames(path);
    let withRecords = 0;
    for (const [k, { frame }] of fs.entries()) {
      const n = normalizeKrakenFrame(frame, BigInt(k), inst, buf);
      if (n > 0) withRecords++;
    }
    const recs = Array.from({ length: buf.count }, (_, i) => rec(buf, i));
    return { fs: fs.map((f) => f.frame), recs, inst, withRecords };
  };

  test.skipIf(!haveData)("spot v1 trades (KRAKEN.ws.48.0.gz): one TRADE per trade, sell = taker sold, exact times", () => {
    const { fs, recs, inst, withRecords } = run(TRADES);
    const trades = fs.filter((f): f is unknown[] => Array.isArray(f) && f[f.length - 2] === "trade").flatMap((f) => f[1] as string[][]);
    expect(trades.length).toBeGreaterThan(8);
    expect(recs.length).toBe(trades.length);
    expect(recs.every((r) => r.kind === TickKind.trade && r.venue === Venue.kraken)).toBe(true);
    expect(recs.map((r) => (r.flags & TickFlag.sell) !== 0)).toEqual(trades.map((t) => t[3] === "s"));
    expect(recs.map((r) => r.price)).toEqual(trades.map((t) => Number(t[0])));
    expect(recs.filter((r) => r.flags & TickFlag.last).length).toBe(withRecords);
    expect(recs[0]!.exch).toBe(BigInt(trades[0]![2]!.replace(".", "")) * 1000n); // 6 decimals → ns
    expect(inst.symbols).toContain("XMR/USD");
  });

  test.skipIf(!haveData)("spot v1 book (KRAKEN.ws.50.0.gz): one LEVEL per level, snapshot/ask flags, LAST per message", () => {
    const { fs, recs, withRecords } = run(SPOT);
    const book = fs.filter((f): f is unknown[] => KrakenBooks.isBookFrame(f));
    let snapLevels = 0, askLevels = 0, all = 0;
    for (const f of book) for (const o of f.slice(1, -2) as Array<Record<string, unknown[]>>) for (const [k, v] of Object.entries(o)) {
      if (k === "c") continue;
      all += v.length;
      if (k.length === 2) snapLevels += v.length;
      if (k[0] === "a") askLevels += v.length;
    }
    expect(recs.length).toBe(all);
    expect(recs.every((r) => r.kind === TickKind.level && r.seq === 0)).toBe(true);
    expect(recs.filter((r) => r.flags & TickFlag.snapshot).length).toBe(snapLevels);
    expect(recs.filter((r) => r.flags & TickFlag.ask).length).toBe(askLevels);
    expect(withRecords).toBe(4279);
    expect(recs.filter((r) => r.flags & TickFlag.last).length).toBe(4279);
  });

  test.skipIf(!haveData)("futures (KRAKEN_FUTURES.ws.1.0.gz): trades and book levels with the venue seq; trade_snapshot and tickers skipped", () => {
    const { fs, recs, inst } = run(FUT);
    const objs = fs as Array<Record<string, unknown>>;
    const trades = objs.filter((o) => o.feed === "trade" && o.event === undefined);
    const deltas = objs.filter((o) => o.feed === "book" && o.event === undefined);
    const snaps = objs.filter((o) => o.feed === "book_snapshot");
    const snapLevels = snaps.reduce((n, o) => n + (o.bids as unknown[]).length + (o.asks as unknown[]).length, 0);
    expect(recs.filter((r) => r.kind === TickKind.trade).length).toBe(trades.length);
    expect(recs.filter((r) => r.kind === TickKind.level).length).toBe(deltas.length + snapLevels);
    expect(recs.filter((r) => r.flags & TickFlag.snapshot).length).toBe(snapLevels);
    const lvl = recs.filter((r) => r.kind === TickKind.level && !(r.flags & TickFlag.snapshot));
    expect(lvl.map((r) => r.seq)).toEqual(deltas.map((d) => d.seq as number));
    expect(lvl.map((r) => (r.flags & TickFlag.ask) !== 0)).toEqual(deltas.map((d) => d.side === "sell"));
    const tr = recs.filter((r) => r.kind === TickKind.trade);
    expect(tr.map((r) => (r.flags & TickFlag.sell) !== 0)).toEqual(trades.map((t) => t.side === "sell"));
    expect(tr.map((r) => r.exch)).toEqual(trades.map((t) => BigInt(t.time as number) * 1_000_000n));
    expect(inst.symbols).toContain("ETH/USD:ETH");
    expect(inst.symbols).toContain("BTC/USD:BTC-210924");
  });

  test("spot v2 trade and book; unknown and unreadable frames append nothing", () => {
    const buf = new TickBuffer(2);
    const inst = new InstrumentTable();
    const trade = { channel: "trade", type: "update", data: [
      { symbol: "MATIC/USD", side: "sell", price: 0.5147, qty: 6423.46326, ord_type: "limit", trade_id: 4665846, timestamp: "2023-09-25T07:48:36.925533Z" },
      { symbol: "MATIC/USD", side: "buy", price: 0.5148, qty: 1, ord_type: "market", trade_id: 4665847, timestamp: "2023-09-25T07:49:37.708706Z" },
    ] };
    expect(normalizeKrakenFrame(trade, 9n, inst, buf)).toBe(2);
    expect(rec(buf, 0)).toMatchObject({ kind: TickKind.trade, flags: TickFlag.sell, price: 0.5147, seq: 4665846, exch: 1695628116925533000n, recv: 9n });
    expect(rec(buf, 1)).toMatchObject({ flags: TickFlag.last, seq: 4665847 });
    const book = { channel: "book", type: "snapshot", data: [{ symbol: "BTC/USD", bids: [{ price: 45283.5, qty: 0.1 }], asks: [{ price: 45285.2, qty: 0.001 }, { price: 45286.4, qty: 1.2 }], checksum: 1, timestamp: "2023-10-06T17:35:55.440295Z" }] };
    expect(normalizeKrakenFrame(book, 10n, inst, buf)).toBe(3);
    expect([2, 3, 4].map((i) => rec(buf, i).flags)).toEqual([TickFlag.snapshot, TickFlag.snapshot | TickFlag.ask, TickFlag.snapshot | TickFlag.ask | TickFlag.last]);
    expect(inst.symbols).toEqual(["MATIC/USD", "BTC/USD"]);
    const n0 = buf.count;
    for (const junk of [
      { channel: "heartbeat" },
      { event: "heartbeat" },
      { channel: "ticker", type: "update", data: [{}] },
      [1, { a: ["x"] }, "ticker", "XBT/USD"],
      [1, { a: [["1.0", "2.0", "3.0"], ["bad", "2.0", "3.0"]] }, "book-10", "XBT/USD"], // one bad level: the whole frame is refused
      [1, [["1.0", "2.0", "3.0", "x", "l", ""]], "trade", "XBT/USD"],
      { channel: "book", type: "update", data: [{ symbol: "BTC/USD", bids: [{ price: "1", qty: 1 }], asks: [] }] },
      { feed: "book", product_id: "PI_XBTUSD", side: "sell", seq: 1, price: 1, qty: 1 }, // no timestamp
      { feed: "trade_snapshot", product_id: "PI_XBTUSD", trades: [] },
      "pong", null, 42,
    ]) expect(normalizeKrakenFrame(junk, 1n, inst, buf)).toBe(0);
    expect(buf.count).toBe(n0);
  });

  test("symbols map to ccxt's unified form", () => {
    expect(krakenSpotUnified("XBT/CHF")).toBe("BTC/CHF");
    expect(krakenSpotUnified("XDG/XBT")).toBe("DOGE/BTC");
    expect(krakenSpotUnified("ADA/EUR")).toBe("ADA/EUR");
    expect(krakenFuturesUnified("PI_XBTUSD")).toBe("BTC/USD:BTC");
    expect(krakenFuturesUnified("FI_ETHUSD_211231")).toBe("ETH/USD:ETH-211231");
    expect(krakenFuturesUnified("PF_SOLUSD")).toBe("SOL/USD:USD");
    expect(krakenFuturesUnified("IN_XBTUSD")).toBe("IN_XBTUSD");
  });
});
