/**
 * The `bot4` executable as an operator meets it (build/bot4, made by `make test`'s `all`): version,
 * usage errors, bad configuration and bad data refused with exit code 2 and one clear line (no
 * stack trace), `info` from a copy of the binary alone in another folder, and a paper run that
 * consumes every record of the bundled data with nothing dropped.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { InstrumentTable } from "../src/domain/instruments.ts";
import { loadBinanceCapture } from "../src/feed/recording.ts";
import pkg from "../package.json" with { type: "json" };

const ROOT = resolve(import.meta.dir, "..");
const BIN = join(ROOT, "build/bot4");
const BUNDLED = ["data/binance-usdm/btcusdt_20240808_235415-235515.gz", "data/binance-usdm/ethusdt_20240808_235415-235515.gz"].map((p) => join(ROOT, p));

interface Ran {
  code: number;
  out: string;
  err: string;
}

/** Runs the binary in `cwd` with only PATH and HOME from this environment (no BOT4_* leaks in). */
function bot4(args: string[], opts: { cwd?: string; env?: Record<string, string>; bin?: string } = {}): Ran {
  const cwd = opts.cwd ?? mkdtempSync(join(tmpdir(), "bot4-cli-"));
  const p = Bun.spawnSync([opts.bin ?? BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", BOT4_JOURNAL: "off", ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}

function refusedCleanly(r: Ran, pattern: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/^bot4: /);
  expect(r.err).toMatch(pattern);
  expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`make\` (make test builds it first)`);
});

describe("bot4 executable", () => {
  test("--version and help", () => {
    const v = bot4(["--version"]);
    expect(v.code).toBe(0);
    expect(v.out.trim()).toBe(`bot4 ${pkg.version}`);
    const h = bot4(["--help"]);
    expect(h.code).toBe(0);
    expect(h.out).toContain("usage: bot4 <command>");
    expect(bot4([]).code).toBe(2);
  });

  test("unknown command and unknown flag exit 2 with one clear line", () => {
    refusedCleanly(bot4(["frobnicate"]), /unknown command `frobnicate`/);
    refusedCleanly(bot4(["run", "--sped", "max"]), /--sped/);
    refusedCleanly(bot4(["run", "--speed", "fast"]), /--speed: expected `max` or a positive speed factor/);
  });

  test("bad configuration in .env is refused, naming the setting", () => {
    const dir = mkdtempSync(join(tmpdir(), "bot4-env-"));
    writeFileSync(join(dir, ".env"), "BOT4_RING_CAPACITY=1000\nBOT4_POOL_ORDERS=-5\n");
    const r = bot4(["info"], { cwd: dir });
    refusedCleanly(r, /BOT4_RING_CAPACITY/);
    expect(r.err).toMatch(/BOT4_POOL_ORDERS/);
    writeFileSync(join(dir, ".env"), "BOT4_RING_CAPACTY=65536\n");
    refusedCleanly(bot4(["info"], { cwd: dir }), /BOT4_RING_CAPACTY/);
    refusedCleanly(bot4(["info"], { env: { BOT4_KERNEL: "avx9000" } }), /BOT4_KERNEL="avx9000": expected native, v4, v3 or base/);
    refusedCleanly(bot4(["run"], { env: { BOT4_MODE: "live", BOT4_LIVE_CONFIRM: "yes" } }), /live|LIVE/);
  });

  test("missing or corrupt data files are refused with what to do", () => {
    refusedCleanly(bot4(["run", "--data", "/nonexistent/capture.gz"]), /does not exist.*BOT4_DATA/);
    const dir = mkdtempSync(join(tmpdir(), "bot4-data-"));
    const bad = join(dir, "broken.gz");
    writeFileSync(bad, Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(64, 0x55)]));
    refusedCleanly(bot4(["run", "--data", bad]), /damaged gzip/);
  });

  test("verify-book prints a JSON summary; exit 0 when the book stayed in sync", () => {
    const cap = resolve(ROOT, "../shared/data/hftbacktest/binance-spot/ethusdt_20240808.gz");
    if (!existsSync(cap)) {
      console.warn(`skipping verify-book CLI check: ${cap} is absent`);
      return;
    }
    const r = bot4(["verify-book", cap]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.sequenceGaps).toBe(0);
    expect(j.instruments[0].symbol).toBe("ETHUSDT");
    expect(j.instruments[0].top.bid).toBeGreaterThan(0);
    refusedCleanly(bot4(["verify-book"]), /name at least one capture file/);
    refusedCleanly(bot4(["verify-book", "/nonexistent.gz"]), /cannot read data file/);
  });

  test("the binary copied alone to another folder still runs and reports its kernel", () => {
    const dir = mkdtempSync(join(tmpdir(), "bot4-alone-"));
    const lone = join(dir, "bot4");
    copyFileSync(BIN, lone);
    Bun.spawnSync(["chmod", "+x", lone]);
    const r = bot4(["info", "--json"], { cwd: dir, bin: lone });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const info = JSON.parse(r.out);
    expect(["native", "v4", "v3", "base"]).toContain(info.kernel.variant);
    expect(info.kernel.library).toStartWith("/$bunfs/");
    expect(info.kernel.doublesPerVector).toBeGreaterThanOrEqual(2);
  });

  test("default paper run: the native feed on the simulated venue (127.0.0.1) syncs both books over the real protocol", () => {
    const r = bot4(["run", "--duration", "4", "--speed", "4", "--json"]);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    expect(res.market).toBe("sim");
    expect(res.venue).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(res.stoppedBy).toBe("duration");
    const live = res.live[0];
    expect(live.counters.connects).toBe(1);
    expect(live.counters.frames).toBeGreaterThan(1000);
    expect(live.counters.refused).toBe(0);
    expect(live.counters.snapshotsFetched).toBe(2);
    expect(live.parser.malformed + live.parser.unknownSymbol + live.parser.missing).toBe(0);
    // the second simulated venue, Kraken v2 (bundled recording), checksummed books
    const kraken = res.live[1];
    expect(res.venues).toEqual(["binanceusdm", "kraken"]);
    expect(kraken.counters.frames).toBeGreaterThan(100);
    expect(kraken.counters.checksumMismatches).toBe(0);
    expect(res.consumed).toBe(live.counters.records + kraken.counters.records);
    const binanceBooks = res.books.filter((b: { symbol: string }) => b.symbol.startsWith("binanceusdm:"));
    expect(binanceBooks.length).toBe(2);
    for (const b of binanceBooks) expect(b).toMatchObject({ synced: true, gaps: 0, crossed: 0, resyncs: 0, snapshots: 1 });
    const krakenBooks = res.books.filter((b: { symbol: string }) => b.symbol.startsWith("kraken:"));
    expect(krakenBooks.length).toBe(10);
    for (const b of krakenBooks) expect(b).toMatchObject({ synced: true, gaps: 0, crossed: 0 });
    expect(res.instruments.filter((i: { symbol: string }) => i.symbol.startsWith("binanceusdm:")).every((i: { trades: number }) => i.trades > 0)).toBe(true);
    // BOT4_ENGINE_SPIN_US=auto: the engine busy-polls 1 s when pinned to a CPU of its own, else 200 µs
    expect(res.engineSpinUs).toBe(res.enginePinned?.length ? 1e6 : 200);
  }, 60_000);

  test("paper run at max speed consumes every bundled record, none dropped; the books stay in sync", () => {
    const table = new InstrumentTable();
    const expected = BUNDLED.map((f) => loadBinanceCapture([f], undefined, table).count);
    const r = bot4(["run", "--market", "replay", "--speed", "max", "--json"], { env: { BOT4_ENGINE_SPIN_US: "5000" } });
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    const total = expected.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(40_000);
    expect(res.stoppedBy).toBe("end of data");
    expect(res.feeds.map((f: { produced: number }) => f.produced)).toEqual(expected);
    expect(res.feeds.every((f: { dropped: number }) => f.dropped === 0)).toBe(true);
    expect(res.consumed).toBe(total);
    expect(res.latencyNs.count).toBe(total);
    expect(res.latencyNs.p50).toBeGreaterThan(0);
    expect(res.engineSpinUs).toBe(5000);
    expect(res.instruments.map((i: { symbol: string }) => i.symbol).sort()).toEqual(["binanceusdm:BTC/USDT:USDT", "binanceusdm:ETH/USDT:USDT"]);
    for (const i of res.instruments) {
      expect(i.trades).toBeGreaterThan(0);
      expect(i.vwap).toBeGreaterThan(i.low * 0.999);
      expect(i.vwap).toBeLessThan(i.high * 1.001);
    }
    // the slice carries depth diffs and the REST snapshot: the engine's books sync and stay in sync
    expect(res.books.length).toBe(2);
    for (const b of res.books) {
      expect(b).toMatchObject({ synced: true, gaps: 0, crossed: 0, resyncs: 0, snapshots: 1 });
      expect(b.applied).toBeGreaterThan(1000);
      expect(b.bid).toBeLessThan(b.ask);
    }
  }, 60_000);
});
