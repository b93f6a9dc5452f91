/**
 * Records for a backtest: a tick file (`.b4t`, mapped zero-copy), raw Binance captures
 * (`<recv_ns> <json>` lines, parsed by the feed's own C parser), or, with no input, the bundled
 * recording. Several raw captures are merged by receive time; tick files are taken one at a time.
 */
import { readFileSync } from "node:fs";
import btcSlice from "../../data/binance-usdm/btcusdt_20240808_235415-235515.gz" with { type: "file" };
import ethSlice from "../../data/binance-usdm/ethusdt_20240808_235415-235515.gz" with { type: "file" };
import { UsageError } from "../cli/args.ts";
import { Venue, venueName, type VenueName } from "../domain/instruments.ts";
import { loadBinanceCapture } from "../feed/recording.ts";
import { T, TICK_U32, writeU64 } from "../domain/tick.ts";
import { TickFile } from "../tickfile/reader.ts";
import type { RecordSource } from "./run.ts";

export async function loadSource(paths: string[], rawVenue = "binanceusdm"): Promise<{ records: RecordSource; names: string[] }> {
  if (paths.length === 0) {
    const tape = loadBinanceCapture([btcSlice, ethSlice].map((p) => ({ name: p.split("/").pop()!, bytes: readFileSync(p) })), Venue.binanceusdm);
    return { records: tapeSource(tape), names: ["bundled Binance USD-M BTC/ETH slice (60 s)"] };
  }
  const tickFiles = paths.filter((p) => p.endsWith(".b4t"));
  if (tickFiles.length > 0) {
    if (paths.length !== 1) throw new UsageError("backtest: give one tick file (.b4t), or raw captures only; merge tick files with `bot4 import` first");
    const tf = TickFile.open(tickFiles[0]!);
    if (tf.count === 0) throw new UsageError(`backtest: ${tickFiles[0]} holds no records`);
    return {
      records: { u8: tf.bytes, u32: tf.u32, f64: tf.f64, ptr: tf.recordsPtr, count: tf.count, instruments: tf.instruments.map((i) => ({ venue: tf.venueName(i.venue), symbol: i.symbol })) },
      names: [tickFiles[0]!],
    };
  }
  if (!(rawVenue in Venue) || !rawVenue.startsWith("binance")) throw new UsageError(`backtest: --venue for raw captures is binance, binanceusdm or binancecoinm, got \`${rawVenue}\``);
  const tape = loadBinanceCapture(paths, Venue[rawVenue as VenueName]);
  if (tape.count === 0) throw new UsageError(`backtest: no records in ${paths.join(", ")} (${tape.stats.malformed} malformed lines)`);
  return { records: tapeSource(tape), names: paths };
}

/** A tape keeps receive times apart (the replay feed stamps records when it publishes): a backtest's clock is the recorded receive time, so it goes into each record. */
function tapeSource(tape: ReturnType<typeof loadBinanceCapture>): RecordSource {
  for (let i = 0; i < tape.count; i++) writeU64(tape.u32, i * TICK_U32 + T.TS_RECV_U32, Math.round(tape.recordedRecvNs[i]!));
  return {
    u8: tape.u8,
    u32: tape.u32,
    f64: tape.f64,
    ptr: tape.mem.ptr,
    count: tape.count,
    instruments: tape.instruments.symbols.map((s, i) => ({ venue: venueName(tape.instruments.venues[i]!), symbol: s })),
  };
}
