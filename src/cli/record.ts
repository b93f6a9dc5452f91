/**
 * `bot4 record`: live market data from a venue's native feed handler into a tick file, exactly
 * the records the engine would receive (one ring, drained into the writer). The file is
 * checkpointed every second with fdatasync, so a recorder killed at any moment leaves a file
 * that opens in recover mode up to its last checkpoint; Ctrl-C (or --duration) finishes it and
 * renames it into place.
 */
import { SpscRing } from "../../ffi/ring.ts";
import { alignedBuffer } from "../../ffi/buffers.ts";
import { now } from "../../ffi/clock.ts";
import { Venue, venueName, binanceUsdmUnified } from "../domain/instruments.ts";
import { BinanceFeed, type BinanceChannel, type BinanceMarket } from "../feed/binance/feed.ts";
import { TickFileWriter } from "../tickfile/writer.ts";
import { flagHelp, parseFlags, type FlagSpec, UsageError } from "./args.ts";

const FLAGS: Record<string, FlagSpec> = {
  venue: { value: true, about: "binance (spot), binanceusdm or binancecoinm" },
  symbols: { value: true, about: "comma-separated venue symbols, e.g. BTCUSDT,ETHUSDT" },
  channels: { value: true, about: "comma-separated: trade, bookTicker, depth (default: all three)" },
  out: { value: true, about: "the tick file to write (.b4t); <out>.part until finished" },
  "depth-speed": { value: true, about: "diff depth stream update speed: 100ms (default), 0ms (USD-M/COIN-M), 250ms, 500ms" },
  duration: { value: true, about: "stop after this many seconds (default: until Ctrl-C)" },
  ws: { value: true, about: "WebSocket base URL (default: the venue's public endpoint)" },
  rest: { value: true, about: "REST base URL for depth snapshots (default: the venue's public endpoint)" },
  help: { about: "this help" },
};

const MARKETS: Record<string, { market: BinanceMarket; venue: number; ws: string; rest: string; unified: (s: string) => string }> = {
  binance: { market: "spot", venue: Venue.binance, ws: "wss://stream.binance.com:9443", rest: "https://api.binance.com", unified: (s) => s },
  binanceusdm: { market: "usdm", venue: Venue.binanceusdm, ws: "wss://fstream.binance.com", rest: "https://fapi.binance.com", unified: binanceUsdmUnified },
  binancecoinm: { market: "coinm", venue: Venue.binancecoinm, ws: "wss://dstream.binance.com", rest: "https://dapi.binance.com", unified: (s) => s },
};

export async function main(args: string[]): Promise<number> {
  const f = parseFlags("record", args, FLAGS);
  if (f.help) {
    process.stdout.write(`usage: bot4 record --venue V --symbols A,B --out FILE.b4t [flags]\n\nRecords a venue's live market data through its native feed handler into a tick file\n(the same 64-byte records the engine consumes; checkpointed every second).\n\n${flagHelp(FLAGS)}\n`);
    return 0;
  }
  const v = typeof f.venue === "string" ? MARKETS[f.venue] : undefined;
  if (!v) throw new UsageError(`record: --venue must be one of ${Object.keys(MARKETS).join(", ")} (native handlers that exist so far)`);
  if (typeof f.symbols !== "string" || !f.symbols) throw new UsageError("record: --symbols A,B is required");
  if (typeof f.out !== "string" || !f.out) throw new UsageError("record: --out FILE.b4t is required");
  const channels = (typeof f.channels === "string" ? f.channels.split(",") : ["trade", "bookTicker", "depth"]) as BinanceChannel[];
  for (const c of channels) if (!["trade", "bookTicker", "depth"].includes(c)) throw new UsageError(`record: unknown channel ${c} (trade, bookTicker, depth)`);
  const depthSpeed = typeof f["depth-speed"] === "string" ? f["depth-speed"] : "100ms";
  if (!["100ms", "0ms", "250ms", "500ms"].includes(depthSpeed)) throw new UsageError(`record: --depth-speed must be 100ms, 0ms, 250ms or 500ms, got ${depthSpeed}`);
  const duration = typeof f.duration === "string" ? Number(f.duration) : 0;
  if (!(duration >= 0)) throw new UsageError(`record: --duration must be a number of seconds, got ${f.duration}`);
  const symbols = f.symbols.split(",").map((s, i) => ({ symbol: s.trim().toUpperCase(), instrument: i }));

  const writer = TickFileWriter.create(f.out, { source: `bot4 record ${venueName(v.venue)} ${symbols.map((s) => s.symbol).join(",")}`, sync: "checkpoint" });
  for (const s of symbols) writer.instrument(s.instrument, v.venue, v.unified(s.symbol), s.symbol);
  const ring = SpscRing.create(1 << 16);
  const notices: string[] = [];
  const feed = new BinanceFeed({
    market: v.market,
    wsUrl: typeof f.ws === "string" ? f.ws : v.ws,
    restUrl: typeof f.rest === "string" ? f.rest : v.rest,
    symbols,
    channels,
    depthSpeed: depthSpeed as "100ms" | "0ms" | "250ms" | "500ms",
    ring,
    venue: v.venue,
    clock: now,
    onNotice: (what, detail) => {
      notices.push(what);
      process.stderr.write(`bot4 record: ${what} ${JSON.stringify(detail)}\n`);
    },
  });
  const CAP = 4096;
  const buf = alignedBuffer(CAP * 64);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, CAP * 64);
  const drain = () => {
    for (;;) {
      const n = ring.pop(buf.ptr, CAP);
      if (n === 0) return;
      writer.appendBytes(bytes.subarray(0, n * 64));
    }
  };
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const onSignal = () => stop();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const pump = setInterval(drain, 5);
  const checkpoint = setInterval(() => {
    drain();
    writer.checkpoint();
  }, 1000);
  const timer = duration > 0 ? setTimeout(stop, duration * 1000) : null;
  feed.start();
  await stopped;
  feed.stop();
  clearInterval(pump);
  clearInterval(checkpoint);
  if (timer) clearTimeout(timer);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  drain();
  const path = writer.close();
  const summary = { file: path, records: writer.count, feed: feed.counters, parser: feed.parserCounters(), ringDrops: ring.drops };
  ring.free();
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  return 0;
}
