/**
 * The C Binance parser (c/parse.c) against JavaScript's own reading of the same bytes: every
 * record of real captures equals what JSON.parse + Number() give; decimals convert exactly as
 * Number(); bad frames are refused and counted, never crash, never write a record.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { alignedBuffer } from "../ffi/buffers.ts";
import { BinanceParser, ParseStatus, parseDecimalC } from "../ffi/parse.ts";
import { SpscRing } from "../ffi/ring.ts";
import { readCaptureText } from "../src/feed/recording.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickFlag, TickKind } from "../src/domain/tick.ts";

const DATA = new URL("../../shared/data/", import.meta.url).pathname;
const hasData = existsSync(DATA);
if (!hasData) console.warn(`parse.test: ${DATA} is absent; real-capture cases are skipped`);

const enc = new TextEncoder();
const CAP = 8192;
const out = alignedBuffer(CAP * TICK_BYTES);
const f64 = new Float64Array(out.buffer, out.byteOffset, CAP * TICK_F64);
const u32 = new Uint32Array(out.buffer, out.byteOffset, CAP * TICK_U32);
const u8 = new Uint8Array(out.buffer, out.byteOffset, CAP * TICK_BYTES);
const u64 = new BigUint64Array(out.buffer, out.byteOffset, CAP * TICK_F64);
const inBuf = alignedBuffer(1 << 20);
const inBytes = new Uint8Array(inBuf.buffer, inBuf.byteOffset, 1 << 20);

function parse(p: BinanceParser, frame: string | Uint8Array, recv = 7, cap = CAP, defaultInst?: number): number {
  const b = typeof frame === "string" ? enc.encode(frame) : frame;
  inBytes.set(b);
  return p.parse(inBuf.ptr, b.length, recv, out.ptr, cap, defaultInst);
}
const rec = (i: number) => ({
  kind: u8[i * TICK_BYTES + T.KIND_U8],
  flags: u8[i * TICK_BYTES + T.FLAGS_U8],
  price: f64[i * TICK_F64 + T.PRICE_F64],
  size: f64[i * TICK_F64 + T.SIZE_F64],
  price2: f64[i * TICK_F64 + T.PRICE2_F64],
  size2: f64[i * TICK_F64 + T.SIZE2_F64],
  seq: u64[i * TICK_F64 + 6],
  tsEx: u64[i * TICK_F64],
  tsRecv: u64[i * TICK_F64 + 1],
  inst: u32[i * TICK_U32 + T.INSTRUMENT_U32],
  venue: new Uint16Array(out.buffer, out.byteOffset)[i * 32 + T.VENUE_U16],
});

function parser(): BinanceParser {
  const p = new BinanceParser(2);
  p.addSymbol("BTCUSDT", 0);
  p.addSymbol("ETHUSDT", 1);
  return p;
}

describe("decimal conversion", () => {
  test("equals Number() on plain decimals, long mantissas, exponents and edge forms", () => {
    const cases = ["0", "0.0", "61820.10", "0.00000001", "1.5e3", "123456789012345678901234", "9007199254740993", "0.1", "0.3", "-2.5", "1e-7", "00012.3400", "4.35"];
    for (const c of cases) expect(parseDecimalC(c)).toBe(Number(c));
    for (const bad of ["", ".", "-", "1.2.3", "abc", "1,5"]) expect(parseDecimalC(bad)).toBeNaN();
  });
  test("equals Number() on 200,000 random decimal strings (property)", () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 200_000; i++) {
      const intDigits = 1 + Math.floor(rnd() * 12), fracDigits = Math.floor(rnd() * 14);
      let s = "";
      for (let k = 0; k < intDigits; k++) s += Math.floor(rnd() * 10);
      if (fracDigits) {
        s += ".";
        for (let k = 0; k < fracDigits; k++) s += Math.floor(rnd() * 10);
      }
      if (parseDecimalC(s) !== Number(s)) throw new Error(`C ${parseDecimalC(s)} != Number ${Number(s)} for ${s}`);
    }
  });
});

describe("Binance frames", () => {
  test("futures trade in a combined-stream envelope", () => {
    const p = parser();
    const n = parse(p, '{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255123,"T":1723161255121,"s":"BTCUSDT","t":5158155372,"p":"61659.70","q":"0.004","X":"MARKET","m":true}}', 99);
    expect(n).toBe(1);
    const r = rec(0);
    expect(r).toMatchObject({ kind: TickKind.trade, flags: TickFlag.sell | TickFlag.last, price: 61659.7, size: 0.004, inst: 0, venue: 2 });
    expect(r.seq).toBe(5158155372n);
    expect(r.tsEx).toBe(1723161255121n * 1_000_000n);
    expect(r.tsRecv).toBe(99n);
  });
  test("trade ids and times of every length 1..20 digits read exactly (property)", () => {
    // ids are measured by a 16-byte compare up to 15 digits and by the digit loop beyond; prices
    // and sizes of every plain shape; the frame's tail decides which path a number takes
    const p = parser();
    let seed = 777;
    const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    const digits = (n: number) => String(1 + Math.floor(rnd() * 9)) + Array.from({ length: n - 1 }, () => String(Math.floor(rnd() * 10))).join("");
    for (let i = 0; i < 3000; i++) {
      const id = digits(1 + (i % 19));
      const ms = digits(1 + Math.floor(rnd() * 13)); // ms times; x 1e6 must fit the record's u64 ns
      const px = `${digits(1 + Math.floor(rnd() * 9))}.${digits(1 + Math.floor(rnd() * 9))}`;
      const qty = rnd() < 0.5 ? digits(1 + Math.floor(rnd() * 9)) : `0.${digits(1 + Math.floor(rnd() * 9))}`;
      const tail = rnd() < 0.5 ? "}" : ',"X":"MARKET","m":true}';
      const text = `{"e":"trade","E":${ms},"T":${ms},"s":"BTCUSDT","t":${id},"p":"${px}","q":"${qty}"${tail.startsWith(",") ? tail : ',"m":false}'}`;
      expect(parse(p, text)).toBe(1);
      const r = rec(0);
      if (r.seq !== BigInt(id) || r.tsEx !== BigInt(ms) * 1_000_000n || r.price !== Number(px) || r.size !== Number(qty)) {
        throw new Error(`${text}: seq ${r.seq} ts ${r.tsEx} price ${r.price} size ${r.size}`);
      }
    }
    // 20 digits: past the compact reader, the general walker still reads a value that fits u64
    expect(parse(p, '{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":12345678901234567890,"p":"1.5","q":"2","m":true}')).toBe(1);
    expect(rec(0).seq).toBe(12345678901234567890n);
  });
  test("spot trade (raw stream), buyer aggressor, and aggTrade", () => {
    const p = parser();
    expect(parse(p, '{"e":"trade","E":1,"s":"ETHUSDT","t":12,"p":"2500.01","q":"1.5","T":2,"m":false,"M":true}')).toBe(1);
    expect(rec(0)).toMatchObject({ kind: TickKind.trade, flags: TickFlag.last, price: 2500.01, size: 1.5, inst: 1 });
    expect(parse(p, '{"e":"aggTrade","E":1,"s":"ETHUSDT","a":777,"p":"2500.02","q":"0.5","f":10,"l":12,"T":3,"m":true,"M":true}')).toBe(1);
    expect(rec(0).seq).toBe(777n);
    expect(rec(0).flags).toBe(TickFlag.sell | TickFlag.last);
  });
  test("bookTicker: spot (no event type) and futures", () => {
    const p = parser();
    expect(parse(p, '{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"61000.01","B":"1.5","a":"61000.02","A":"2"}}')).toBe(1);
    expect(rec(0)).toMatchObject({ kind: TickKind.quote, price: 61000.01, size: 1.5, price2: 61000.02, size2: 2 });
    expect(rec(0).seq).toBe(400900217n);
    expect(parse(p, '{"e":"bookTicker","u":5,"s":"ETHUSDT","b":"1","B":"2","a":"3","A":"4","T":10,"E":11}')).toBe(1);
    expect(rec(0)).toMatchObject({ kind: TickKind.quote, price: 1, size: 2, price2: 3, size2: 4, inst: 1 });
    expect(rec(0).tsEx).toBe(10_000_000n);
  });
  test("depthUpdate: one LEVEL per entry, U/u/pu on every record, LAST on the final one", () => {
    const p = parser();
    const n = parse(p, '{"e":"depthUpdate","E":1,"T":2,"s":"BTCUSDT","U":100,"u":105,"pu":99,"b":[["61000.1","0.5"],["60999.9","0"]],"a":[["61000.2","1.25"]]}');
    expect(n).toBe(3);
    const rs = [0, 1, 2].map(rec);
    expect(rs.map((r) => [r.price, r.size, r.flags])).toEqual([
      [61000.1, 0.5, 0],
      [60999.9, 0, 0],
      [61000.2, 1.25, TickFlag.ask | TickFlag.last],
    ]);
    for (const r of rs) {
      expect(r.seq).toBe(105n);
      expect(r.price2).toBe(100);
      expect(r.size2).toBe(99);
      expect(r.kind).toBe(TickKind.level);
    }
    // spot: no pu -> -1; an empty diff still carries its ids
    expect(parse(p, '{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":106,"u":107,"b":[],"a":[]}')).toBe(1);
    expect(rec(0)).toMatchObject({ kind: TickKind.level, flags: TickFlag.nolevel | TickFlag.last, price2: 106, size2: -1 });
  });
  test("depthUpdate levels whose decimal shapes change from level to level equal Number() of each (property)", () => {
    // the level reader tries each number against the previous one's shape first; runs of one
    // shape, shape changes, lengths past its 8 + 8 digits and numbers near the frame's end
    const p = parser();
    let seed = 4242;
    const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    const digits = (n: number) => Array.from({ length: n }, () => String(Math.floor(rnd() * 10))).join("");
    let shape = [5, 2];
    const num = () => {
      if (rnd() < 0.3) shape = [Math.floor(rnd() * 11), Math.floor(rnd() * 11)];
      const [a, f] = shape as [number, number];
      const text = (a ? digits(a) : "0") + (f ? "." + digits(f) : rnd() < 0.1 ? "." : "");
      return /[1-9]/.test(text) ? text : "1" + text;
    };
    for (let frame = 0; frame < 400; frame++) {
      const levels: Array<[string, string]> = Array.from({ length: 1 + Math.floor(rnd() * 60) }, () => [num(), num()]);
      const half = Math.floor(levels.length / 2);
      const text = `{"e":"depthUpdate","E":1,"T":2,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":${JSON.stringify(levels.slice(0, half))},"a":${JSON.stringify(levels.slice(half))}}`;
      expect(parse(p, text)).toBe(levels.length);
      for (let i = 0; i < levels.length; i++) {
        const r = rec(i);
        if (r.price !== Number(levels[i]![0]) || r.size !== Number(levels[i]![1])) throw new Error(`frame ${frame} level ${i}: ${levels[i]} read as ${r.price}, ${r.size}`);
      }
    }
  });
  test("a level number that is not a decimal is refused even right after a number of an unusual shape", () => {
    const p = parser();
    // asks follow so the suspect number is far from the frame's end (the shaped reader needs 24 bytes)
    const frame = (b: string) => `{"e":"depthUpdate","E":1,"T":2,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":${b},"a":[["3.5","1"],["3.6","1"]]}`;
    expect(parse(p, frame('[["1.","1"],["2.5","1"]]'))).toBe(4);
    expect([rec(0).price, rec(1).price]).toEqual([1, 2.5]);
    for (const bad of ['[["1.","1"],["2-","1"]]', '[["1.5","1"],["2x5","1"]]', '[["12","1"],["1-","1"]]', '[["1.25","1"],["1.2\"","1"]]']) {
      expect([bad, parse(p, frame(bad)) < 0]).toEqual([bad, true]);
    }
  });
  test("REST snapshot takes the caller's instrument and SNAPSHOT flags", () => {
    const p = parser();
    const n = parse(p, '{"lastUpdateId":555,"E":1,"T":2,"bids":[["10.0","1"],["9.5","2"]],"asks":[["10.5","3"]]}', 1, CAP, 1);
    expect(n).toBe(3);
    expect(rec(0)).toMatchObject({ flags: TickFlag.snapshot, inst: 1, price: 10 });
    expect(rec(2)).toMatchObject({ flags: TickFlag.snapshot | TickFlag.ask | TickFlag.last, price: 10.5, size: 3 });
    expect(rec(2).seq).toBe(555n);
    // without a default instrument the snapshot cannot be attributed
    expect(parse(p, '{"lastUpdateId":555,"bids":[],"asks":[]}')).toBe(ParseStatus.missing);
  });
  test("control replies, venue errors, unknown types and unknown symbols are told apart and counted", () => {
    const p = parser();
    expect(parse(p, '{"result":null,"id":1}')).toBe(ParseStatus.control);
    expect(parse(p, '{"code":2,"msg":"Invalid request"}')).toBe(ParseStatus.venueError);
    expect(parse(p, '{"e":"kline","E":1,"s":"BTCUSDT","k":{"t":1,"o":"1"}}')).toBe(ParseStatus.unknownType);
    expect(parse(p, '{"e":"trade","E":1,"s":"DOGEUSDT","t":1,"p":"1","q":"1","T":1,"m":true}')).toBe(ParseStatus.unknownSymbol);
    expect(parse(p, '{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"x","q":"1","T":1,"m":true}')).toBe(ParseStatus.missing);
    expect(parse(p, '{"e":"trade","E":1,"s":"BTCUSDT","p":"1","q":"1","T":1,"m":true}')).toBe(ParseStatus.missing);
    const c = p.counters();
    expect(c).toMatchObject({ control: 1, venueErrors: 1, unknownType: 1, unknownSymbol: 1, missing: 2, trades: 0 });
  });
  test("a frame cut at every byte, or with any byte replaced by a quote or a bracket, is refused without a record", () => {
    const p = parser();
    const frame = enc.encode('{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":2,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["61000.1","0.5"]],"a":[["61000.2","1.25"]]}}');
    for (let cut = 0; cut < frame.length; cut++) {
      const n = parse(p, frame.subarray(0, cut));
      expect(n).toBeLessThan(0);
    }
    let refused = 0;
    for (let i = 0; i < frame.length; i++) {
      for (const ch of [0x22, 0x5d, 0x7b]) {
        const bad = frame.slice();
        bad[i] = ch;
        const n = parse(p, bad);
        if (n < 0) refused++;
        else expect(n).toBeLessThanOrEqual(2); // a change inside a value may still be a valid frame
      }
    }
    expect(refused).toBeGreaterThan(frame.length);
    expect(parse(p, frame)).toBe(2);
  });
  test("the general walker (whitespace, key order, escapes, extra keys) gives the same records as the compact fast path", () => {
    const p = parser();
    const compact = '{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"T":2,"s":"BTCUSDT","U":100,"u":105,"pu":99,"b":[["61000.1","0.5"]],"a":[["61000.2","1.25","7"]]}}';
    const n1 = parse(p, compact);
    const want = [0, 1].map(rec);
    const pretty = JSON.stringify({ data: { a: [["61000.2", "1.25"]], b: [["61000.1", "0.5"]], pu: 99, u: 105, U: 100, s: "BTCUSDT", T: 2, E: 1, e: "depthUpdate", extra: { x: [1, { y: "\\\"" }] } }, stream: "btcusdt@depth" }, null, 2);
    const n2 = parse(p, pretty);
    expect(n1).toBe(2);
    expect(n2).toBe(2);
    // the pretty frame lists asks first: same levels in the other order, LAST on its final record
    const got = [0, 1].map(rec);
    expect(got[1]!.flags & TickFlag.last).toBe(TickFlag.last);
    const noLast = (r: ReturnType<typeof rec>) => ({ ...r, flags: r.flags & ~TickFlag.last });
    expect(got.map(noLast).sort((x, y) => x.price - y.price)).toEqual(want.map(noLast).sort((x, y) => x.price - y.price));
    expect(p.counters().malformed).toBe(0);
  });
  test("more levels than the output holds: refused as a whole (no partial book update)", () => {
    const p = parser();
    const levels = Array.from({ length: 50 }, (_, i) => `["${100 + i}.5","1"]`).join(",");
    expect(parse(p, `{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[${levels}],"a":[]}`, 1, 10)).toBe(ParseStatus.tooMany);
    expect(p.counters().tooMany).toBe(1);
  });
  test("toRing places a frame's records in the ring and counts what a full ring could not take", () => {
    const p = parser();
    const ring = SpscRing.create(4);
    const frame = enc.encode('{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1.5","1"],["1.4","1"],["1.3","1"]],"a":[["1.6","1"],["1.7","1"]]}');
    inBytes.set(frame);
    expect(p.toRing(inBuf.ptr, frame.length, 5, ring)).toBe(4);
    expect(p.counters().ringDrops).toBe(1);
    expect(ring.drops).toBe(1);
    expect(ring.pop(out.ptr, 8)).toBe(4);
    expect(rec(0).price).toBe(1.5);
    expect(rec(3).price).toBe(1.6);
    ring.free();
  });
});

describe.skipIf(!hasData)("real captures", () => {
  for (const rel of ["hftbacktest/binance-usdm/btcusdt_20240808.gz", "hftbacktest/binance-spot/ethusdt_20240808.gz", "hftbacktest/binance-coinm/btcusd_perp_20240809.gz"]) {
    test(`${rel}: every record equals JSON.parse + Number() of the same frame`, () => {
      const p = new BinanceParser(2);
      const text = readCaptureText(DATA + rel);
      let frames = 0, records = 0, registered = false;
      for (const line of text.split("\n")) {
        const sp = line.indexOf(" ");
        if (sp < 0) continue;
        const body = line.slice(sp + 1);
        const m = JSON.parse(body);
        const d = m.data ?? m;
        if (!registered && typeof d.s === "string") {
          p.addSymbol(d.s, 3);
          registered = true;
        }
        const n = parse(p, body, 1, CAP, 3);
        frames++;
        if (d.e === "trade") {
          expect(n).toBe(1);
          const r = rec(0);
          if (r.price !== Number(d.p) || r.size !== Number(d.q) || r.seq !== BigInt(d.t) || (r.flags & TickFlag.sell) !== (d.m ? TickFlag.sell : 0) || r.tsEx !== BigInt(d.T) * 1_000_000n) throw new Error(`trade differs: ${body}`);
        } else if (d.e === "depthUpdate" || m.lastUpdateId !== undefined) {
          const all = [...(d.b ?? d.bids).map((x: string[]) => [x, 0]), ...(d.a ?? d.asks).map((x: string[]) => [x, TickFlag.ask])];
          expect(n).toBe(Math.max(1, all.length));
          all.forEach(([[ps, qs], side]: [string[], number], i: number) => {
            const r = rec(i);
            if (r.price !== Number(ps) || r.size !== Number(qs) || (r.flags & TickFlag.ask) !== side || r.seq !== BigInt(d.u ?? m.lastUpdateId)) throw new Error(`level ${i} differs: ${body.slice(0, 200)}`);
          });
        } else if (m.stream?.endsWith("@bookTicker") || d.e === "bookTicker") {
          expect(n).toBe(1);
          const r = rec(0);
          if (r.price !== Number(d.b) || r.size !== Number(d.B) || r.price2 !== Number(d.a) || r.size2 !== Number(d.A) || r.seq !== BigInt(d.u)) throw new Error(`bookTicker differs: ${body}`);
        }
        if (n > 0) records += n;
      }
      const c = p.counters();
      expect(c.frames).toBe(frames);
      expect(c.malformed + c.missing + c.unknownSymbol + c.unknownType).toBe(0);
      expect(records).toBeGreaterThan(frames);
    });
  }
});
