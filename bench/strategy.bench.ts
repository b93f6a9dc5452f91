/**
 * Strategy dispatch overhead (src/strategy/dispatch.ts): engine -> `onTrade` -> no-op, per tick,
 * over the bundled real Binance USD-M recording (trades, depth levels and snapshots as the engine
 * sees them). Reference in the same run: the common event-object design (a fresh `{instrument,
 * price, amount, side, ts}` per trade handed to the handler). Goal: <= 50 ns per tick.
 */
import { join } from "node:path";
import { loadBinanceCapture } from "../src/feed/recording.ts";
import { StrategyDispatcher } from "../src/strategy/dispatch.ts";
import type { Strategy } from "../src/strategy/api.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickFlag, TickKind } from "../src/domain/tick.ts";
import { done, figure, perItem, section } from "./harness.ts";

const dir = join(import.meta.dir, "../data/binance-usdm");
const tape = loadBinanceCapture([join(dir, "btcusdt_20240808_235415-235515.gz"), join(dir, "ethusdt_20240808_235415-235515.gz")]);
const n = tape.count;
let trades = 0;
for (let i = 0; i < n; i++) if (tape.u8[i * TICK_BYTES + T.KIND_U8] === TickKind.trade) trades++;
// the same recording's trades alone, contiguous and repeated to 64k: the per-trade cost
const TN = 1 << 16;
const tbuf = new ArrayBuffer(TN * TICK_BYTES);
const tu8 = new Uint8Array(tbuf), tu32 = new Uint32Array(tbuf), tf64 = new Float64Array(tbuf);
for (let i = 0, k = 0; k < TN; i = (i + 1) % n) {
  if (tape.u8[i * TICK_BYTES + T.KIND_U8] !== TickKind.trade) continue;
  tu8.set(tape.u8.subarray(i * TICK_BYTES, (i + 1) * TICK_BYTES), k * TICK_BYTES);
  k++;
}

let sink = 0;
class Noop implements Strategy {
  onTrade(inst: number, price: number, amount: number, side: number, ts: number): void {
    sink += inst;
  }
}
class NoopBoth extends Noop {
  onBook(inst: number): void {
    sink += inst;
  }
}
const BATCH = 1024;
function runDispatch(d: StrategyDispatcher): void {
  for (let s = 0; s < n; s += BATCH) d.dispatch(tape.u8, tape.u32, tape.f64, 0xffffffff, s, Math.min(BATCH, n - s));
}
function runTrades(d: StrategyDispatcher): void {
  for (let s = 0; s < TN; s += BATCH) d.dispatch(tu8, tu32, tf64, 0xffffffff, s, BATCH);
}
const dTrades = new StrategyDispatcher(new Noop(), tape.instruments.size);
const dBoth = new StrategyDispatcher(new NoopBoth(), tape.instruments.size);

interface TradeEvent { instrument: number; price: number; amount: number; side: string; ts: number }
const objHandler = { onTrade(e: TradeEvent) { sink += e.instrument; } };
function runObjects(): void {
  const u8 = tu8, u32 = tu32, f64 = tf64;
  for (let i = 0; i < TN; i++) {
    if (u8[i * TICK_BYTES + T.KIND_U8] !== TickKind.trade) continue;
    const w = i * TICK_U32 + T.TS_RECV_U32;
    objHandler.onTrade({ instrument: u32[i * TICK_U32 + T.INSTRUMENT_U32]!, price: f64[i * TICK_F64 + T.PRICE_F64]!, amount: f64[i * TICK_F64 + T.SIZE_F64]!, side: u8[i * TICK_BYTES + T.FLAGS_U8]! & TickFlag.sell ? "sell" : "buy", ts: u32[w + 1]! * 4294967296 + u32[w]! });
  }
}

section(`dispatch over the bundled recording: ${n} records (${trades} trades), batches of ${BATCH}`);
for (let w = 0; w < 20; w++) { runDispatch(dTrades); runDispatch(dBoth); runTrades(dTrades); runObjects(); }
const perTick = perItem(() => runDispatch(dTrades), n, 101);
const perTrade = perItem(() => runTrades(dTrades), TN, 201);
const both = perItem(() => runDispatch(dBoth), n, 101);
const objPerTrade = perItem(runObjects, TN, 201);
figure("dispatch_per_record_ns", perTick, "ns", "onTrade no-op, every record walked");
figure("dispatch_per_trade_ns", perTrade, "ns", "trades only (65,536 from the recording); goal <= 50");
figure("dispatch_trade_and_book_per_record_ns", both, "ns", "onTrade + one onBook per touched book per batch");
figure("event_object_per_trade_ns", objPerTrade, "ns", "reference: a fresh event object per trade");
figure("dispatch_vs_event_object", objPerTrade / perTrade, "x");
if (sink === -1) console.log(sink);
done();
