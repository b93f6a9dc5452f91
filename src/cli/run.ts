/** `bot4 run`: the engine. No venues configured: paper mode on replayed recorded data. */
import btcSlice from "../../data/binance-usdm/btcusdt_20240808_235415-235515.gz" with { type: "file" };
import ethSlice from "../../data/binance-usdm/ethusdt_20240808_235415-235515.gz" with { type: "file" };
import { ConfigError, loadConfig } from "../config/load.ts";
import { createLogger, flushLogs, setLogger } from "../telemetry/log.ts";
import { flagHelp, parseFlags, type FlagSpec, UsageError } from "./args.ts";

const FLAGS: Record<string, FlagSpec> = {
  speed: { value: true, about: "replay speed: 1 = real time, 10, ... or max (overrides BOT4_REPLAY_SPEED)" },
  market: { value: true, about: "sim: the simulated Binance USD-M venue on 127.0.0.1 replaying the data, the native feed connected to it (default without --data); replay: recorded ticks straight into the rings (default with --data)" },
  data: { value: true, about: "comma-separated recorded captures (overrides BOT4_DATA; default: the bundled slice)" },
  duration: { value: true, about: "stop after this many seconds (default: at the end of the data)" },
  json: { about: "print the final summary as one JSON object on stdout" },
  help: { about: "this help" },
};

export const BUNDLED_DATA = [btcSlice, ethSlice];

function parseSpeed(v: string, from: string): number {
  if (v === "max") return 0;
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`${from}: expected \`max\` or a positive speed factor, got \`${v}\``);
  return n;
}

const fmtNs = (ns: number) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);

export async function main(args: string[]): Promise<number> {
  const f = parseFlags("run", args, FLAGS);
  if (f.help) {
    process.stdout.write(`usage: bot4 run [flags]\n\nPaper mode (no venues configured) replays recorded market data through the engine:\nfeed workers -> lock-free rings -> per-instrument state, timing receive-to-consume latency.\n\n${flagHelp(FLAGS)}\n`);
    return 0;
  }
  const config = loadConfig();
  const logger = createLogger({ level: config.BOT4_LOG_LEVEL, file: config.BOT4_LOG_FILE || undefined });
  setLogger(logger);
  if (config.BOT4_MODE === "live" || config.BOT4_VENUES) {
    throw new ConfigError(`BOT4_MODE=${config.BOT4_MODE} BOT4_VENUES="${config.BOT4_VENUES}": this build has no live venue connections yet; unset BOT4_VENUES and use BOT4_MODE=paper to replay recorded data`);
  }
  const speed = parseSpeed(typeof f.speed === "string" ? f.speed : config.BOT4_REPLAY_SPEED, f.speed ? "--speed" : "BOT4_REPLAY_SPEED");
  const duration = typeof f.duration === "string" ? Number(f.duration) : 0;
  if (!(duration >= 0) || !Number.isFinite(duration)) throw new UsageError(`--duration: expected seconds (a number >= 0), got \`${f.duration}\``);
  const dataArg = typeof f.data === "string" ? f.data : config.BOT4_DATA;
  const files = dataArg ? dataArg.split(",").filter(Boolean) : BUNDLED_DATA;
  // no venue configured: the simulated venue is the default market; captures named with --data /
  // BOT4_DATA are replayed straight into the rings unless --market sim asks for the venue
  const market = typeof f.market === "string" ? f.market : dataArg ? "replay" : "sim";
  if (market !== "sim" && market !== "replay") throw new UsageError(`--market: expected \`sim\` or \`replay\`, got \`${market}\``);
  if (market === "sim") return runOnSimulatedVenue(files, speed, duration, !!f.json, config, logger);

  const { loadBinanceCapture } = await import("../feed/recording.ts");
  const { InstrumentTable } = await import("../domain/instruments.ts");
  const { Pipeline } = await import("../engine/pipeline.ts");
  const { choice } = await import("../../ffi/lib.ts");

  const instruments = new InstrumentTable();
  // one feed per source, instrument ids shared by all of them
  const tapes = files.map((file) => loadBinanceCapture([file], undefined, instruments));
  for (const t of tapes) {
    if (t.stats.malformed > 0) logger.warn({ file: t.stats.files[0], malformed: t.stats.malformed, first: t.stats.malformedAt }, "skipped malformed lines in recorded data; the rest is replayed");
  }
  const records = tapes.reduce((a, t) => a + t.count, 0);
  // parsing the captures left megabytes of text behind: collect it before the engine starts
  Bun.gc(true);
  logger.info({ kernel: choice.variant, feeds: tapes.length, records, instruments: instruments.symbols, speed: speed || "max" }, "paper mode: replaying recorded data");
  const tty = process.stderr.isTTY && !f.json;
  if (!f.json) process.stderr.write(`bot4 run: paper mode, ${tapes.length} feeds, ${records.toLocaleString("en-US")} records, ${instruments.size} instruments, speed ${speed || "max"}, kernel ${choice.variant} — Ctrl-C to stop\n`);

  // every instrument whose recording carries depth keeps a book, with its venue's procedure
  const { BookRule } = await import("../../ffi/book.ts");
  const { Venue } = await import("../domain/instruments.ts");
  const withDepth = new Set<number>();
  for (const t of tapes) for (let i = 0; i < t.count; i++) if (t.u8[i * 64 + 62] === 3) withDepth.add(t.u32[i * 16 + 14]!);
  const books = [...withDepth].map((id) => ({ instrument: id, rule: instruments.venues[id] === Venue.binance ? BookRule.binanceSpot : BookRule.binanceFutures }));

  const pipeline = new Pipeline({
    books,
    tapes,
    instruments,
    ringCapacity: config.BOT4_RING_CAPACITY,
    speed,
    engineCpus: config.BOT4_ENGINE_CPU,
    feedCpus: config.BOT4_FEED_CPUS,
    spinNs: 200_000,
    pools: config,
    durationS: duration,
    onStatus: tty
      ? (s) => process.stderr.write(`\r  ${s.elapsedS.toFixed(0)} s  ${s.consumed.toLocaleString("en-US")} / ${records.toLocaleString("en-US")} ticks  ${Math.round(s.ratePerS).toLocaleString("en-US")}/s  p99 ${fmtNs(s.p99WindowNs)}  ring waits ${s.waits}   `)
      : undefined,
  });
  let signals = 0;
  const onSignal = (sig: string) => {
    if (++signals > 1) process.exit(130);
    logger.info({ signal: sig }, "stopping: draining rings");
    pipeline.stop("signal");
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  const r = await pipeline.run();
  if (tty) process.stderr.write("\n");
  logger.info({ stoppedBy: r.stoppedBy, consumed: r.consumed, latencyNs: r.latencyNs }, "engine stopped");
  flushLogs();
  const dropped = r.feeds.reduce((a, x) => a + x.dropped, 0);
  if (f.json) {
    process.stdout.write(`${JSON.stringify({ kernel: choice.variant, ...r })}\n`);
  } else {
    const L = r.latencyNs;
    const out = [
      `stopped by ${r.stoppedBy} after ${r.elapsedS.toFixed(2)} s`,
      `ticks consumed ${r.consumed.toLocaleString("en-US")} of ${r.feeds.reduce((a, x) => a + x.produced, 0).toLocaleString("en-US")} published (${records.toLocaleString("en-US")} in the data); trades applied ${r.trades.toLocaleString("en-US")}; dropped ${dropped}; rejected ${r.counters.rejected}`,
      `throughput ${Math.round(r.throughputPerS).toLocaleString("en-US")} ticks/s over ${r.batches.toLocaleString("en-US")} batches; engine parked ${r.parks} times`,
      `receive -> consume latency (${L.count.toLocaleString("en-US")} ticks): p50 ${fmtNs(L.p50)}  p90 ${fmtNs(L.p90)}  p99 ${fmtNs(L.p99)}  p99.9 ${fmtNs(L.p999)}  max ${fmtNs(L.max)}`,
      "instrument                     trades         last          vwap        volume",
      ...r.instruments.map((i) => `${i.symbol.padEnd(28)} ${String(i.trades).padStart(8)} ${i.last.toFixed(2).padStart(12)} ${i.vwap.toFixed(2).padStart(13)} ${i.volume.toFixed(3).padStart(13)}`),
    ];
    if (r.books.length) {
      out.push("book                         state          bid          ask   levels (bid/ask)   updates  gaps  resyncs");
      for (const b of r.books) {
        out.push(`${b.symbol.padEnd(28)} ${(b.synced ? "in sync" : `UNUSABLE${b.problem ? ` (${b.problem})` : ""}`).padEnd(10)} ${b.bid.toFixed(2).padStart(12)} ${b.ask.toFixed(2).padStart(12)} ${`${b.depth[0]}/${b.depth[1]}`.padStart(18)} ${String(b.applied).padStart(9)} ${String(b.gaps).padStart(5)} ${String(b.resyncs).padStart(8)}`);
      }
    }
    out.push(`engine memory: ${r.memory}`);
    if (r.pinError) out.push(`engine not pinned: ${r.pinError}`);
    process.stdout.write(`${out.join("\n")}\n`);
  }
  return 0;
}

/**
 * The default paper market: the venue simulator (src/sim) replays the recorded captures over
 * Binance USD-M's real protocol on 127.0.0.1, looping, and the engine's native feed handler
 * connects to it exactly as to the venue — WebSocket streams parsed in C into the ring, REST
 * depth snapshots, resyncs — so a paper run exercises the live code path end to end.
 */
async function runOnSimulatedVenue(files: string[], speed: number, duration: number, json: boolean, config: ReturnType<typeof loadConfig>, logger: ReturnType<typeof createLogger>): Promise<number> {
  const { startDefaultMarket } = await import("../sim/venues/binance.ts");
  const { InstrumentTable, Venue, binanceUsdmUnified } = await import("../domain/instruments.ts");
  const { Pipeline } = await import("../engine/pipeline.ts");
  const { BookRule } = await import("../../ffi/book.ts");
  const { choice } = await import("../../ffi/lib.ts");
  const sim = startDefaultMarket({ captures: files, speed, loop: true, onNotice: (what, detail) => logger.debug({ sim: what, ...detail }, "venue simulator") });
  const instruments = new InstrumentTable();
  const symbols = sim.symbols.map((sym) => ({ symbol: sym, instrument: instruments.id(Venue.binanceusdm, binanceUsdmUnified(sym)) }));
  const books = symbols.map((x) => ({ instrument: x.instrument, rule: BookRule.binanceFutures }));
  logger.info({ kernel: choice.variant, venue: sim.httpUrl, symbols: sim.symbols, speed: speed || "max" }, "paper mode: native feed on the simulated venue");
  const tty = process.stderr.isTTY && !json;
  if (!json) process.stderr.write(`bot4 run: paper mode, simulated Binance USD-M at ${sim.wsUrl} (${sim.symbols.join(", ")}), speed ${speed || "max"}, kernel ${choice.variant} — Ctrl-C to stop\n`);
  const pipeline = new Pipeline({
    tapes: [],
    live: [{ venue: Venue.binanceusdm, binance: { market: "usdm", wsUrl: sim.wsUrl, restUrl: sim.httpUrl, symbols, channels: ["trade", "bookTicker", "depth"], depthSpeed: "0ms" } }],
    staleMs: 10_000,
    books,
    instruments,
    ringCapacity: config.BOT4_RING_CAPACITY,
    speed,
    engineCpus: config.BOT4_ENGINE_CPU,
    feedCpus: config.BOT4_FEED_CPUS,
    spinNs: 200_000,
    pools: config,
    durationS: duration,
    onNotice: (n) => logger.info({ feed: n.what, ...n.detail }, "feed"),
    onStatus: tty ? (st) => process.stderr.write(`\r  ${st.elapsedS.toFixed(0)} s  ${st.consumed.toLocaleString("en-US")} ticks  ${Math.round(st.ratePerS).toLocaleString("en-US")}/s  p99 ${fmtNs(st.p99WindowNs)}   `) : undefined,
  });
  let signals = 0;
  const onSignal = (sig: string) => {
    if (++signals > 1) process.exit(130);
    logger.info({ signal: sig }, "stopping");
    pipeline.stop("signal");
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  const r = await pipeline.run();
  await sim.stop();
  if (tty) process.stderr.write("\n");
  logger.info({ stoppedBy: r.stoppedBy, consumed: r.consumed, latencyNs: r.latencyNs }, "engine stopped");
  flushLogs();
  if (json) {
    process.stdout.write(`${JSON.stringify({ kernel: choice.variant, market: "sim", venue: sim.httpUrl, ...r })}\n`);
    return 0;
  }
  const L = r.latencyNs;
  const live = r.live[0];
  const out = [
    `stopped by ${r.stoppedBy} after ${r.elapsedS.toFixed(2)} s`,
    `feed: ${live?.counters.frames ?? 0} frames -> ${r.consumed.toLocaleString("en-US")} ticks; ${live?.counters.connects ?? 0} connections, ${live?.counters.snapshotsFetched ?? 0} REST snapshots, ${live?.counters.refused ?? 0} frames refused; trades applied ${r.trades.toLocaleString("en-US")}; ring drops ${r.feeds.reduce((a, x) => a + x.dropped, 0)}`,
    `receive -> consume latency (${L.count.toLocaleString("en-US")} ticks): p50 ${fmtNs(L.p50)}  p90 ${fmtNs(L.p90)}  p99 ${fmtNs(L.p99)}  p99.9 ${fmtNs(L.p999)}  max ${fmtNs(L.max)}`,
    "instrument                     trades         last          vwap        volume",
    ...r.instruments.map((i) => `${i.symbol.padEnd(28)} ${String(i.trades).padStart(8)} ${i.last.toFixed(2).padStart(12)} ${i.vwap.toFixed(2).padStart(13)} ${i.volume.toFixed(3).padStart(13)}`),
    "book                         state          bid          ask   levels (bid/ask)   updates  gaps  resyncs",
    ...r.books.map((b) => `${b.symbol.padEnd(28)} ${(b.synced ? "in sync" : `UNUSABLE${b.problem ? ` (${b.problem})` : ""}`).padEnd(10)} ${b.bid.toFixed(2).padStart(12)} ${b.ask.toFixed(2).padStart(12)} ${`${b.depth[0]}/${b.depth[1]}`.padStart(18)} ${String(b.applied).padStart(9)} ${String(b.gaps).padStart(5)} ${String(b.resyncs).padStart(8)}`),
    `engine memory: ${r.memory}`,
  ];
  if (r.pinError) out.push(`engine not pinned: ${r.pinError}`);
  process.stdout.write(`${out.join("\n")}\n`);
  return 0;
}
