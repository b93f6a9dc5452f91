/**
 * `bot4 import`: real captures from ../shared/data imported into tick files and read back with the
 * reader; every record compared with a direct parse of the input written here, independently of
 * the importers. Tardis CSV and cryptofeed logs; malformed lines counted, never fatal; the CLI.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InstrumentTable, Venue } from "../src/domain/instruments.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { bybitCategoryFromUrl } from "../src/feed/bybit/book.ts";
import { BybitTickerState, normalizeBybitFrame } from "../src/feed/bybit/normalize.ts";
import { normalizeCoinbaseFrame } from "../src/feed/coinbase/normalize.ts";
import { CryptofeedLogReader } from "../src/feed/cryptofeed-log.ts";
import { CryptofeedV3Reader } from "../src/feed/cryptofeed-v3.ts";
import { normalizeKrakenFrame } from "../src/feed/kraken/normalize.ts";
import { TickFlag, TickKind } from "../src/domain/tick.ts";
import { DataFileError } from "../src/feed/recording.ts";
import { LOCAL_VENUE_BASE } from "../src/tickfile/format.ts";
import { ImportProgress, importFiles } from "../src/tickfile/import.ts";
import { TickFile } from "../src/tickfile/reader.ts";

const DATA = new URL("../../shared/data/", import.meta.url).pathname;
const haveData = existsSync(join(DATA, "hftbacktest")) && existsSync(join(DATA, "cryptofeed")) && existsSync(join(DATA, "nautilus_trader/tardis"));
if (!haveData) console.warn(`skipping import tests: recorded data ${DATA} is absent (CI has ../shared beside the project)`);

const dir = mkdtempSync(join(tmpdir(), "bot4-import-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Rec {
  kind: number;
  flags: number;
  venue: number;
  native: string;
  ts: bigint;
  recv: bigint;
  price: number;
  size: number;
  price2: number;
  size2: number;
  seq: bigint;
}

function fileRecords(f: TickFile): Rec[] {
  const out: Rec[] = [];
  for (let i = 0; i < f.count; i++) {
    out.push({
      kind: f.bytes[i * 64 + 62]!,
      flags: f.bytes[i * 64 + 63]!,
      venue: f.u16[i * 32 + 30]!,
      native: f.instruments[f.u32[i * 16 + 14]!]!.native,
      ts: f.u64[i * 8]!,
      recv: f.u64[i * 8 + 1]!,
      price: f.f64[i * 8 + 2]!,
      size: f.f64[i * 8 + 3]!,
      price2: f.f64[i * 8 + 4]!,
      size2: f.f64[i * 8 + 5]!,
      seq: f.u64[i * 8 + 6]!,
    });
  }
  return out;
}

const text = (path: string): string => {
  const b = readFileSync(path);
  return new TextDecoder().decode(b[0] === 0x1f && b[1] === 0x8b ? Bun.gunzipSync(b) : b);
};

/** hftbacktest Binance capture parsed directly (the mapping documented in src/tickfile/importers/binance.ts). */
function parseHftbacktest(path: string, venue: number): Rec[] {
  const out: Rec[] = [];
  let symbol = "";
  for (const line of text(path).split("\n")) {
    if (!line) continue;
    const sp = line.indexOf(" ");
    const recv = BigInt(line.slice(0, sp));
    const m = JSON.parse(line.slice(sp + 1));
    const ms = (v: number | undefined) => (v === undefined ? 0n : BigInt(v) * 1_000_000n);
    const base = { venue, recv, price2: 0, size2: 0 };
    if (m.lastUpdateId !== undefined) {
      const seq = BigInt(m.lastUpdateId);
      const ts = ms(m.T ?? m.E);
      for (const [p, q] of m.bids) out.push({ ...base, native: symbol, kind: TickKind.level, flags: TickFlag.snapshot, ts, price: +p, size: +q, seq });
      for (const [p, q] of m.asks) out.push({ ...base, native: symbol, kind: TickKind.level, flags: TickFlag.snapshot | TickFlag.ask, ts, price: +p, size: +q, seq });
      out[out.length - 1]!.flags |= TickFlag.last;
      continue;
    }
    const d = m.data;
    if (d.e === "depthUpdate") {
      symbol = d.s;
      const x = { ...base, native: d.s, kind: TickKind.level, ts: ms(d.T ?? d.E), seq: BigInt(d.u), price2: d.U, size2: d.pu ?? -1 };
      for (const [p, q] of d.b) out.push({ ...x, flags: 0, price: +p, size: +q });
      for (const [p, q] of d.a) out.push({ ...x, flags: TickFlag.ask, price: +p, size: +q });
      out[out.length - 1]!.flags |= TickFlag.last;
    } else if (d.e === "trade") {
      out.push({ ...base, native: d.s, kind: TickKind.trade, flags: (d.m ? TickFlag.sell : 0) | TickFlag.last, ts: ms(d.T), price: +d.p, size: +d.q, seq: BigInt(d.t) });
    } else if (m.stream.endsWith("@bookTicker")) {
      out.push({ ...base, native: d.s, kind: TickKind.quote, flags: TickFlag.last, ts: ms(d.T ?? d.E), price: +d.b, size: +d.B, price2: +d.a, size2: +d.A, seq: BigInt(d.u) });
    } else throw new Error(`unexpected line in ${path}: ${line.slice(0, 100)}`);
  }
  return out;
}

function expectSame(got: Rec[], want: Rec[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (g.kind !== w.kind || g.flags !== w.flags || g.venue !== w.venue || g.native !== w.native || g.ts !== w.ts || g.recv !== w.recv || g.price !== w.price || g.size !== w.size || g.price2 !== w.price2 || g.size2 !== w.size2 || g.seq !== w.seq) {
      expect({ i, ...g }).toEqual({ i, ...w }); // prints the first difference
    }
  }
}

describe.skipIf(!haveData)("hftbacktest Binance captures", () => {
  const spot = join(DATA, "hftbacktest/binance-spot/btcusdt_20240808.gz");

  test("spot capture: every record equals a direct parse of its line", async () => {
    const out = join(dir, "spot.b4t");
    const s = await importFiles([spot], out);
    const f = TickFile.open(out);
    expectSame(fileRecords(f), parseHftbacktest(spot, Venue.binance));
    // README: 9,757 trades, 3,451 depth diffs, 28,040 bookTicker, 1 snapshot
    expect(s.kinds.trade).toBe(9757);
    expect(s.kinds.quote).toBe(28040);
    expect(s.frames).toBe(9757 + 3451 + 28040 + 1);
    expect(s.malformed).toBe(0);
    expect(s.instruments).toEqual([{ id: 0, venue: "binance", symbol: "BTC/USDT", native: "BTCUSDT", records: f.count }]);
    expect(f.source).toContain("hftbacktest");
  });

  test("USD-M capture (pu chaining in size2): every record equals a direct parse", async () => {
    const usdm = join(DATA, "hftbacktest/binance-usdm/ethusdt_20240808.gz");
    const out = join(dir, "usdm.b4t");
    const s = await importFiles([usdm], out, { from: "hftbacktest" });
    const f = TickFile.open(out);
    const want = parseHftbacktest(usdm, Venue.binanceusdm);
    expectSame(fileRecords(f), want);
    expect(s.instruments[0]).toMatchObject({ venue: "binanceusdm", symbol: "ETH/USDT:USDT", native: "ETHUSDT" });
    // the diffs chain in the records alone: pu (size2) of each diff = u (seq) of the previous one
    let prevU = -1n, chained = 0;
    for (const r of want) {
      if (r.kind !== TickKind.level || r.flags & TickFlag.snapshot || !(r.flags & TickFlag.last)) continue;
      if (prevU >= 0n) {
        expect(BigInt(r.size2)).toBe(prevU);
        chained++;
      }
      prevU = r.seq;
    }
    expect(chained).toBe(6586 - 1);
  });

  test("COIN-M capture: venue and inverse-perpetual symbol told by the stream", async () => {
    const out = join(dir, "coinm.b4t");
    const s = await importFiles([join(DATA, "hftbacktest/binance-coinm/ethusd_perp_20240808.gz")], out);
    expect(s.instruments).toEqual([expect.objectContaining({ venue: "binancecoinm", symbol: "ETH/USD:ETH", native: "ETHUSD_PERP" })]);
    expect(s.kinds.trade).toBe(1732);
    expect(s.kinds.quote).toBe(15812);
    expect(TickFile.open(out).venues.get(Venue.binancecoinm)).toBe("binancecoinm");
  });

  test("two captures merge by receive time; each instrument's records are those of its own import", async () => {
    const eth = join(DATA, "hftbacktest/binance-spot/ethusdt_20240808.gz");
    const out = join(dir, "merged.b4t");
    const s = await importFiles([spot, eth], out);
    const f = TickFile.open(out);
    const recs = fileRecords(f);
    for (let i = 1; i < recs.length; i++) if (recs[i]!.recv < recs[i - 1]!.recv) throw new Error(`record ${i} received before record ${i - 1}`);
    const btc = parseHftbacktest(spot, Venue.binance), ethWant = parseHftbacktest(eth, Venue.binance);
    expectSame(recs.filter((r) => r.native === "BTCUSDT"), btc);
    expectSame(recs.filter((r) => r.native === "ETHUSDT"), ethWant);
    expect(s.records).toBe(btc.length + ethWant.length);
    expect(s.inputs.map((i) => i.records)).toEqual([btc.length, ethWant.length]);
  });

  test("malformed lines are counted with their line numbers and leave no record", async () => {
    const lines = text(spot).split("\n").slice(0, 200);
    const good = lines.join("\n");
    const bad = [
      lines[0],
      "not-a-time {\"stream\":\"btcusdt@trade\"}",
      lines[1],
      "1723161254087896568 {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\"", // cut JSON
      "1723161254087896568 {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"61837.63\",\"T\":1}}", // no q
      "1723161253937085768 {\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BTCUSDT\",\"U\":5,\"u\":6,\"b\":[[\"61737.63\",\"x\"]],\"a\":[]}}",
      ...lines.slice(2),
    ].join("\n");
    writeFileSync(join(dir, "good.txt"), good);
    writeFileSync(join(dir, "bad.txt"), bad);
    const a = await importFiles([join(dir, "good.txt")], join(dir, "good.b4t"));
    const b = await importFiles([join(dir, "bad.txt")], join(dir, "bad.b4t"));
    expect(b.malformed).toBe(4);
    expect(b.malformedAt.map((m) => m.slice(m.lastIndexOf("bad.txt:") + 8))).toEqual([
      "2: no receive time (integer ns) before the JSON",
      "4: invalid JSON",
      "5: trade without numeric p/q/T/t",
      "6: depthUpdate level that is not [price > 0, qty >= 0]",
    ]);
    expect(b.records).toBe(a.records);
    expect(Buffer.compare(Buffer.from(TickFile.open(join(dir, "bad.b4t")).bytes), Buffer.from(TickFile.open(join(dir, "good.b4t")).bytes))).toBe(0);
  });
});

describe.skipIf(!haveData)("Tardis CSV", () => {
  const T = join(DATA, "nautilus_trader/tardis");
  const rows = (name: string) => text(join(T, name)).trim().split("\n").slice(1).map((l) => l.split(","));
  const us = (s: string) => BigInt(s) * 1000n;

  test("incremental_book_L2: one LEVEL per row, messages grouped by local_timestamp, file-local venue", async () => {
    const name = "deribit_incremental_book_L2_BTC-PERPETUAL.csv";
    const out = join(dir, "tardis-l2.b4t");
    const s = await importFiles([join(T, name)], out);
    expect(s.formats).toEqual(["tardis"]);
    const f = TickFile.open(out);
    const got = fileRecords(f);
    const r = rows(name);
    expect(got.length).toBe(r.length);
    expect(f.venues.get(LOCAL_VENUE_BASE)).toBe("deribit");
    r.forEach((row, i) => {
      const lastOfMessage = i === r.length - 1 || r[i + 1]![3] !== row[3] || r[i + 1]![4] !== row[4];
      expect(got[i]).toEqual({
        kind: TickKind.level,
        flags: (row[4] === "true" ? TickFlag.snapshot : 0) | (row[5] === "ask" ? TickFlag.ask : 0) | (lastOfMessage ? TickFlag.last : 0),
        venue: LOCAL_VENUE_BASE,
        native: "BTC-PERPETUAL",
        ts: us(row[2]!),
        recv: us(row[3]!),
        price: +row[6]!,
        size: +row[7]!,
        price2: 0,
        size2: 0,
        seq: 0n,
      });
    });
  });

  test("book_snapshot_5 and _25: bids then asks per row, Binance USD-M symbol unified", async () => {
    for (const [name, depth] of [["binance-futures_book_snapshot_5_BTCUSDT.csv", 5], ["binance-futures_book_snapshot_25_BTCUSDT.csv", 25]] as const) {
      const out = join(dir, `tardis-snap${depth}.b4t`);
      const s = await importFiles([join(T, name)], out, { from: "tardis" });
      expect(s.instruments).toEqual([{ id: 0, venue: "binanceusdm", symbol: "BTC/USDT:USDT", native: "BTCUSDT", records: s.records }]);
      const got = fileRecords(TickFile.open(out));
      const want: Array<Partial<Rec>> = [];
      for (const row of rows(name)) {
        for (const [side, first] of [[0, 6], [TickFlag.ask, 4]] as const) {
          for (let l = 0; l < depth; l++) want.push({ flags: TickFlag.snapshot | side, price: +row[first + l * 4]!, size: +row[first + l * 4 + 1]!, ts: us(row[2]!), recv: us(row[3]!) });
        }
        want[want.length - 1]!.flags! |= TickFlag.last;
      }
      expect(got.map((g) => ({ flags: g.flags, price: g.price, size: g.size, ts: g.ts, recv: g.recv }))).toEqual(want as never);
      expect(got.every((g) => g.kind === TickKind.level && g.venue === Venue.binanceusdm)).toBe(true);
    }
  });

  test("trades and quotes", async () => {
    const tOut = join(dir, "tardis-trades.b4t"), qOut = join(dir, "tardis-quotes.b4t");
    await importFiles([join(T, "bitmex_trades_XBTUSD.csv")], tOut);
    const trades = fileRecords(TickFile.open(tOut));
    expect(trades).toEqual(
      rows("bitmex_trades_XBTUSD.csv").map((r) => ({ kind: TickKind.trade, flags: (r[5] === "sell" ? TickFlag.sell : 0) | TickFlag.last, venue: LOCAL_VENUE_BASE, native: "XBTUSD", ts: us(r[2]!), recv: us(r[3]!), price: +r[6]!, size: +r[7]!, price2: 0, size2: 0, seq: 0n })),
    );
    await importFiles([join(T, "huobi-dm-swap_quotes_BTC-USD.csv")], qOut);
    const f = TickFile.open(qOut);
    expect(f.venues.get(LOCAL_VENUE_BASE)).toBe("huobi-dm-swap");
    expect(fileRecords(f)).toEqual(
      rows("huobi-dm-swap_quotes_BTC-USD.csv").map((r) => ({ kind: TickKind.quote, flags: TickFlag.last, venue: LOCAL_VENUE_BASE, native: "BTC-USD", ts: us(r[2]!), recv: us(r[3]!), price: +r[6]!, size: +r[7]!, price2: +r[5]!, size2: +r[4]!, seq: 0n })),
    );
  });

  test("several Tardis files of different venues in one tick file; a bad row is counted", async () => {
    const csv = text(join(T, "bitmex_trades_XBTUSD.csv")).split("\n");
    csv.splice(3, 0, "bitmex,XBTUSD,1583020803276000,1583020803336743,abc,sell,NaNx,1", "bitmex,XBTUSD,short");
    writeFileSync(join(dir, "bitmex-bad.csv"), csv.join("\n"));
    const out = join(dir, "tardis-mixed.b4t");
    const s = await importFiles([join(dir, "bitmex-bad.csv"), join(T, "huobi-dm-swap_quotes_BTC-USD.csv")], out);
    expect(s.malformed).toBe(2);
    expect(s.malformedAt[0]).toContain("bitmex-bad.csv:4: trade row without price > 0");
    expect(s.malformedAt[1]).toContain("bitmex-bad.csv:5: 3 columns, the header has 8");
    expect(s.kinds).toEqual({ trade: 10, quote: 10, level: 0, status: 0 });
    const f = TickFile.open(out);
    expect([...f.venues.values()].sort()).toEqual(["bitmex", "huobi-dm-swap"]);
  });
});

describe.skipIf(!haveData)("cryptofeed raw logs (Binance)", () => {
  const C = join(DATA, "cryptofeed");

  test("spot ws log + REST snapshots merge by receive time; every frame accounted for", async () => {
    const out = join(dir, "cf-spot.b4t");
    const s = await importFiles([join(C, "BINANCE.ws.1.0.gz"), join(C, "BINANCE.http.0.0.gz")], out, { from: "cryptofeed" });
    expect(s.formats).toEqual(["cryptofeed:binance"]);
    expect(s.malformed).toBe(0);
    expect(s.kinds.quote).toBe(84);
    expect(s.kinds.trade).toBe(2);
    expect(s.ignored).toBe(2); // the kline frames
    expect(s.inputs[0]!.frames).toBe(177 + 84 + 2 + 2);
    expect(s.inputs[1]!.frames).toBe(4);
    expect(s.instruments.map((i) => `${i.symbol} ${i.native}`).sort()).toEqual(["BLZ/ETH BLZETH", "LRC/BTC LRCBTC", "NKN/USDT NKNUSDT", "RUNE/EUR RUNEEUR"]);
    const recs = fileRecords(TickFile.open(out));
    // receive time exact to the logged decimals: `1633998512.0633569: {..."U":499869750,"u":499869752...`
    expect(recs[0]).toMatchObject({ recv: 1633998512063356900n, native: "NKNUSDT", seq: 499869752n, price2: 499869750, price: 0.3513, size: 6195, kind: TickKind.level, venue: Venue.binance });
    // the NKNUSDT snapshot (logged at 1633998512.320639) lands between the diffs received around it
    const snapAt = recs.findIndex((r) => r.flags & TickFlag.snapshot);
    expect(recs[snapAt]).toMatchObject({ recv: 1633998512320639000n, native: "NKNUSDT", seq: 499869752n });
    expect(recs[snapAt - 1]!.recv).toBeLessThanOrEqual(1633998512320639000n);
    const snapshots = new Set(recs.filter((r) => r.flags & TickFlag.snapshot && r.flags & TickFlag.last).map((r) => r.native));
    expect(snapshots.size).toBe(4);
    // the levels equal the diffs' and snapshots' levels in the logs
    let levels = 0;
    for (const file of ["BINANCE.ws.1.0.gz", "BINANCE.http.0.0.gz"]) {
      for (const line of text(join(C, file)).split("\n")) {
        const j = line.indexOf(": {");
        if (j < 0) continue;
        const m = JSON.parse(line.slice(j + 2));
        if (m.lastUpdateId) levels += m.bids.length + m.asks.length;
        else if (m.data?.e === "depthUpdate") levels += Math.max(1, m.data.b.length + m.data.a.length);
      }
    }
    expect(s.kinds.level + s.kinds.status).toBe(levels);
  });

  test("USD-M and COIN-M logs: venues from the stream shape, aggTrade ids as seq", async () => {
    const fut = await importFiles([join(C, "BINANCE_FUTURES.ws.1.0.gz")], join(dir, "cf-usdm.b4t"));
    expect(new Set(fut.instruments.map((i) => i.venue))).toEqual(new Set(["binanceusdm"]));
    expect(fut.instruments.map((i) => i.symbol).sort()).toEqual(["AKRO/USDT:USDT", "CTK/USDT:USDT", "KEEP/USDT:USDT", "SUSHI/USDT:USDT"]);
    expect(fut.kinds.trade).toBe(91);
    expect(fut.kinds.quote).toBe(613);
    const del = await importFiles([join(C, "BINANCE_DELIVERY.ws.1.0.gz"), join(C, "BINANCE_DELIVERY.http.0.0.gz")], join(dir, "cf-coinm.b4t"));
    expect(new Set(del.instruments.map((i) => i.venue))).toEqual(new Set(["binancecoinm"]));
    expect(del.instruments.map((i) => i.symbol)).toContain("BTC/USD:BTC-211231");
    expect(del.instruments.map((i) => i.symbol)).toContain("BCH/USD:BCH");
    expect(del.kinds.trade).toBe(51);
    expect(del.malformed).toBe(0);
    const recs = fileRecords(TickFile.open(join(dir, "cf-coinm.b4t")));
    const agg = recs.find((r) => r.kind === TickKind.trade && r.native === "BCHUSD_PERP" && r.seq === 11285749n);
    expect(agg).toMatchObject({ price: 427.91, size: 3, flags: TickFlag.sell | TickFlag.last, ts: 1626916403852000000n, recv: 1626916408607320000n });
  });
});

describe.skipIf(!haveData)("venue normalisers of src/feed through the registry", () => {
  // the expected records come from the shared readers (src/feed/cryptofeed-log.ts, cryptofeed-v3.ts)
  // and a direct call of the venue's normaliser per frame: the import must equal that, record for record
  test("Kraken raw logs (spot book/trade/ticker, Futures) equal their normaliser fed by the shared log reader", async () => {
    for (const files of [["KRAKEN.ws.50.0.gz"], ["KRAKEN.ws.48.0.gz"], ["KRAKEN_FUTURES.ws.1.0.gz"]]) {
      const paths = files.map((f) => join(DATA, "cryptofeed", f));
      const out = join(dir, `${files[0]}.b4t`);
      const s = await importFiles(paths, out, { from: "cryptofeed" });
      expect(s.formats).toEqual(["cryptofeed:kraken"]);
      const want = new TickBuffer(1024);
      const instruments = new InstrumentTable();
      for (const e of CryptofeedLogReader.open(paths[0]!).entries()) {
        if (e.kind === "recv") normalizeKrakenFrame(JSON.parse(e.text), e.recvNs, instruments, want);
      }
      expect(want.count).toBeGreaterThan(0);
      const f = TickFile.open(out);
      expect(f.count).toBe(want.count);
      expect(Buffer.compare(Buffer.from(f.bytes), Buffer.from(want.bytes()))).toBe(0);
      expect(f.instruments.map((i) => i.symbol)).toEqual(instruments.symbols);
    }
  });

  test("cryptofeed v3 Bybit and Coinbase recordings: category from the connection URL, records equal direct normalising", async () => {
    for (const [file, venue] of [["BYBIT.jsonl.gz", Venue.bybit], ["COINBASE.jsonl.gz", Venue.coinbase]] as const) {
      const path = join(DATA, "cryptofeed-v3", file);
      const out = join(dir, `${file}.b4t`);
      const s = await importFiles([path], out);
      expect(s.malformed).toBe(0);
      const want = new TickBuffer(1024);
      const instruments = new InstrumentTable();
      const addr = new Map<string, string>();
      const tickers = new Map<string, BybitTickerState>();
      for (const e of CryptofeedV3Reader.open(path).entries()) {
        if (e.kind === "connect") addr.set(e.conn, e.target);
        if (e.kind !== "recv") continue;
        const frame = JSON.parse(e.frame);
        if (venue === Venue.coinbase) normalizeCoinbaseFrame(frame, e.recvNs, instruments, want);
        else {
          const url = addr.get(e.conn)!;
          if (!tickers.has(url)) tickers.set(url, new BybitTickerState());
          normalizeBybitFrame(frame, e.recvNs, instruments, want, { category: bybitCategoryFromUrl(url), tickers: tickers.get(url)! });
        }
      }
      const f = TickFile.open(out);
      expect(f.count).toBe(want.count);
      expect(Buffer.compare(Buffer.from(f.bytes), Buffer.from(want.bytes()))).toBe(0);
      expect(s.kinds.trade).toBeGreaterThan(0);
      expect(s.kinds.level).toBeGreaterThan(0);
      if (venue === Venue.bybit) expect(f.instruments.map((i) => i.symbol)).toContain("BTC/USDT:USDT");
    }
  });
});

describe("errors and progress", () => {
  test("an input of unknown format, a missing input, a wrong --from are refused", async () => {
    writeFileSync(join(dir, "what.txt"), "hello\nworld\n");
    await expect(importFiles([join(dir, "what.txt")], join(dir, "x.b4t"))).rejects.toThrow(/cannot tell the format/);
    await expect(importFiles([join(dir, "nope.gz")], join(dir, "x.b4t"))).rejects.toBeInstanceOf(DataFileError);
    await expect(importFiles([join(dir, "what.txt")], join(dir, "x.b4t"), { from: "nosuch" })).rejects.toThrow(/unknown input format/);
    expect(existsSync(join(dir, "x.b4t.part"))).toBe(false);
  });

  test("an input with no usable line writes no file", async () => {
    writeFileSync(join(dir, "allbad.csv"), "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\nbitmex,XBTUSD,x,y,1,buy,1,1\n");
    await expect(importFiles([join(dir, "allbad.csv")], join(dir, "allbad.b4t"))).rejects.toThrow(/no record could be imported/);
    expect(existsSync(join(dir, "allbad.b4t"))).toBe(false);
    expect(existsSync(join(dir, "allbad.b4t.part"))).toBe(false);
  });

  test("progress off a TTY: one line per 10 % read, ending at 100 %", () => {
    const lines: string[] = [];
    const p = new ImportProgress(1000, (s) => lines.push(s), false);
    for (let r = 0; r <= 1000; r += 25) {
      p.read = r;
      p.update();
    }
    p.read = 1000;
    p.finish();
    expect(lines.length).toBe(10);
    expect(lines[0]).toContain("(10%)");
    expect(lines[9]).toContain("(100%)");
    expect(lines.every((l) => l.endsWith("\n"))).toBe(true);
    const tty: string[] = [];
    const q = new ImportProgress(1000, (s) => tty.push(s), true);
    q.read = 500;
    q.update();
    q.finish();
    expect(tty[0]!.startsWith("\r\x1b[2K")).toBe(true);
    expect(tty[tty.length - 1]!.endsWith("\n")).toBe(true);
  });
});

describe.skipIf(!haveData)("bot4 import (CLI)", () => {
  const run = (args: string[]) => {
    const root = new URL("..", import.meta.url).pathname;
    const p = Bun.spawnSync([process.execPath, "-e", `import { main } from "${root}src/cli/import.ts"; main(${JSON.stringify(args)}).then((c) => { process.exitCode = c; }, (e) => { process.stderr.write(e.name + ": " + e.message); process.exitCode = e.exitCode ?? (e.name === "DataFileError" ? 2 : 1); });`], { stdout: "pipe", stderr: "pipe" });
    return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
  };

  test("writes the file and prints the JSON summary; usage errors exit 2", () => {
    const out = join(dir, "cli.b4t");
    const r = run(["--out", out, "--progress", join(DATA, "nautilus_trader/tardis/bitmex_trades_XBTUSD.csv")]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.kinds.trade).toBe(10);
    expect(r.err).toContain("(100%)");
    expect(TickFile.open(out).count).toBe(10);
    expect(run(["--help"]).out).toContain("hftbacktest");
    const noOut = run([join(DATA, "nautilus_trader/tardis/bitmex_trades_XBTUSD.csv")]);
    expect(noOut.code).toBe(2);
    expect(noOut.err).toContain("--out");
    expect(run(["--out", out]).code).toBe(2);
    expect(run(["--out", out, "--from", "nosuch", "x"]).err).toContain("unknown --from nosuch");
    const missing = run(["--out", out, join(dir, "missing.gz")]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("cannot be read");
  });
});
