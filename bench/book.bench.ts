/**
 * Binance depthUpdate frames from a real USD-M capture (../shared/data/hftbacktest), per frame:
 * JSON.parse of the frame, our TypeScript book applying the parsed diff (sync checks included),
 * and ccxt's own handleOrderBookMessage applying the same parsed message to its OrderBook, in the
 * same run. The frame -> book goal of the market-data issue (<= 1.5 us including parsing) needs
 * the C parser that is still to come; these are the figures it must beat.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { L2Book } from "../src/book/l2book.ts";
import { BinanceDepthSync } from "../src/feed/binance/depth.ts";
import { done, figure, percentiles, section } from "./harness.ts";

const FILE = resolve(import.meta.dir, "../../shared/data/hftbacktest/binance-usdm/btcusdt_20240808.gz");
if (!existsSync(FILE)) {
  console.error(`skipping book bench: ${FILE} is absent`);
  done();
  process.exit(0);
}
const lines = new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(readFileSync(FILE)))).split("\n");
const frames: string[] = [];
let snapshot: { lastUpdateId: number; bids: Array<[string, string]>; asks: Array<[string, string]> } | null = null;
/** depth frames that arrived before the snapshot: buffered by the sync, as live */
let before = 0;
for (const l of lines) {
  const sp = l.indexOf(" ");
  if (sp < 0) continue;
  const body = l.slice(sp + 1);
  if (body.startsWith('{"lastUpdateId"')) snapshot = JSON.parse(body);
  else if (body.includes('"depthUpdate"')) {
    frames.push(body);
    if (!snapshot) before++;
  }
}
const parsed = frames.map((f) => JSON.parse(f).data);
const levels = parsed.reduce((a, d) => a + d.b.length + d.a.length, 0);
section(`Binance USD-M depthUpdate frames: ${frames.length}, ${(levels / frames.length).toFixed(1)} levels per frame on average`);

function perFrame(fn: () => void, reps: number): number {
  const t: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    t.push(((performance.now() - t0) * 1e6) / frames.length);
  }
  return percentiles(t).p50;
}

let sink = 0;
const parseNs = perFrame(() => {
  for (const f of frames) sink += JSON.parse(f).data.u;
}, 7);
figure("depth_json_parse_ns", parseNs, "ns/frame", "JSON.parse of the whole frame");

const oursNs = perFrame(() => {
  const book = new L2Book("binance-futures", "BTCUSDT");
  const sync = new BinanceDepthSync(book, "futures");
  for (let k = 0; k < parsed.length; k++) {
    if (k === before) sync.onSnapshot(snapshot!);
    sync.onDiff(parsed[k]);
  }
  if (sync.counters.gaps) throw new Error("bench replay gapped");
  sink += book.bestBid;
}, 7);
figure("depth_apply_ts_book_ns", oursNs, "ns/frame", "parsed diff -> our book (sync checks, levels sorted)");

const ccxt = (await import("ccxt")).default as any;
const ex = new ccxt.pro.binanceusdm({});
const theirsNs = perFrame(() => {
  const ob = ex.orderBook({}, 1000);
  ob.reset({ bids: snapshot!.bids.map(([p, q]) => [Number(p), Number(q)]), asks: snapshot!.asks.map(([p, q]) => [Number(p), Number(q)]), nonce: snapshot!.lastUpdateId });
  for (let k = before; k < parsed.length; k++) if (parsed[k].u >= snapshot!.lastUpdateId) ex.handleOrderBookMessage(null, parsed[k], ob);
  sink += ob.bids[0][0];
}, 7);
figure("depth_apply_ccxt_ns", theirsNs, "ns/frame", "the same parsed diffs -> ccxt's OrderBook (handleOrderBookMessage)");
figure("depth_apply_vs_ccxt_x", theirsNs / oursNs, "x", "> 1: ours is faster");
figure("depth_frame_to_book_ts_ns", parseNs + oursNs, "ns/frame", "JSON.parse + apply; goal with a C parser: <= 1500");
if (sink === 42) console.log("");
done();
