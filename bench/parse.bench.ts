/**
 * Binance trade frames from a real USD-M capture (../shared/data/hftbacktest): bytes -> 64-byte
 * TRADE record in an SPSC ring through the C parser (one FFI call per frame), beside JSON.parse
 * of the same frame and ccxt's own path (JSON.parse + parseWsTrade), in the same run.
 * Goals (market-data issue): trade bytes -> record in the ring <= 200 ns; >= 10x ccxt.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { K } from "../ffi/lib.ts";
import { BinanceParser } from "../ffi/parse.ts";
import { SpscRing } from "../ffi/ring.ts";
import { done, figure, frameBlob, perItem, section } from "./harness.ts";

const FILE = resolve(import.meta.dir, "../../shared/data/hftbacktest/binance-usdm/btcusdt_20240808.gz");
if (!existsSync(FILE)) {
  console.error(`skipping parse bench: ${FILE} is absent`);
  done();
  process.exit(0);
}
const frames: string[] = [];
for (const l of new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(readFileSync(FILE)))).split("\n")) {
  const sp = l.indexOf(" ");
  if (sp > 0 && l.includes('@trade"')) frames.push(l.slice(sp + 1));
}
section(`Binance USD-M trade frames: ${frames.length}, ${(frames.reduce((a, f) => a + f.length, 0) / frames.length).toFixed(0)} bytes on average`);

const blob = frameBlob(frames);
const offs = blob.offs;
const perFrame = (fn: () => void, reps: number) => perItem(fn, frames.length, reps);

const parser = new BinanceParser(2);
parser.addSymbol("BTCUSDT", 0);
const ring = SpscRing.create(4096);
const toRing = K.bot4_binance_to_ring, available = K.bot4_ring_available, release = K.bot4_ring_release;
let sink = 0;
const cNs = perFrame(() => {
  const pp = parser.ptr, base = blob.ptr, rh = ring.handle;
  for (let k = 0; k < frames.length; k++) {
    sink += toRing(pp, base + offs[k]!, offs[k + 1]! - offs[k]!, k, rh);
    // the consumer's side, as the engine would: release what arrived every 256 frames
    if ((k & 255) === 255) release(rh, available(rh, 4096));
  }
  release(rh, available(rh, 4096));
}, 9);
if (parser.counters().ringDrops !== 0 || parser.counters().trades !== frames.length * 9) throw new Error("trade bench lost records");
figure("trade_to_ring_c_ns", cNs, "ns/frame", "bytes -> C parser -> TRADE record in the SPSC ring; goal <= 200");

const jsonNs = perFrame(() => {
  for (const f of frames) sink += JSON.parse(f).data.t;
}, 9);
figure("trade_json_parse_ns", jsonNs, "ns/frame", "JSON.parse of the frame alone (no record written)");

const ccxt = (await import("ccxt")).default as any;
const ex = new ccxt.pro.binanceusdm({});
const market = { id: "BTCUSDT", symbol: "BTC/USDT:USDT", base: "BTC", quote: "USDT", settle: "USDT", type: "swap", spot: false, swap: true, linear: true, contract: true, precision: {}, limits: {} };
ex.markets = { "BTC/USDT:USDT": market };
ex.markets_by_id = { BTCUSDT: [market] };
const check = ex.parseWsTrade(JSON.parse(frames[0]!).data, market);
if (check.price !== Number(JSON.parse(frames[0]!).data.p)) throw new Error("ccxt parseWsTrade did not parse the trade");
const ccxtNs = perFrame(() => {
  for (const f of frames) sink += ex.parseWsTrade(JSON.parse(f).data, market).price;
}, 5);
figure("trade_ccxt_ns", ccxtNs, "ns/frame", "ccxt: JSON.parse + parseWsTrade of the same frame");
figure("trade_c_vs_ccxt_x", ccxtNs / cNs, "x", "goal >= 10");
ring.free();
if (sink === 42) console.log("");
done();
