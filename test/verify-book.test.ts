/**
 * `bot4 verify-book` over every capture in ../shared/data that carries sequence ids or checksums:
 * the format is recognised without a flag, every book stays in sync with no gap, no checksum
 * mismatch and no disagreement with the venue's own top of book; a capture with a line removed
 * is caught (gap, exit 1); an unknown file is refused with the list of formats.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectCapture, UnknownCaptureError } from "../src/book/detect.ts";
import { readCaptureText } from "../src/feed/recording.ts";

const DATA = new URL("../../shared/data/", import.meta.url).pathname;
const hasData = existsSync(DATA);
if (!hasData) console.warn(`verify-book.test: ${DATA} is absent; capture cases are skipped`);
const ROOT = new URL("..", import.meta.url).pathname;
const BUN = process.execPath;

function verify(files: string[], extra: string[] = []): { code: number; report: any; stderr: string } {
  const p = Bun.spawnSync([BUN, join(ROOT, "src/cli/main.ts"), "verify-book", ...extra, ...files], { stdout: "pipe", stderr: "pipe" });
  const out = p.stdout.toString();
  return { code: p.exitCode ?? -1, report: out.trim() ? JSON.parse(out) : null, stderr: p.stderr.toString() };
}

const CAPTURES: Array<[string, string[], { checksums?: number; topChecks?: boolean }]> = [
  ["binance", ["hftbacktest/binance-usdm/btcusdt_20240808.gz"], { topChecks: true }],
  ["binance", ["hftbacktest/binance-usdm/ethusdt_20240808.gz"], { topChecks: true }],
  ["binance", ["hftbacktest/binance-spot/btcusdt_20240808.gz", "hftbacktest/binance-spot/btcusdt_20240809.gz"], { topChecks: true }],
  ["binance", ["hftbacktest/binance-spot/ethusdt_20240808.gz"], { topChecks: true }],
  ["binance", ["hftbacktest/binance-coinm/btcusd_perp_20240808.gz", "hftbacktest/binance-coinm/btcusd_perp_20240809.gz"], { topChecks: true }],
  ["binance", ["hftbacktest/binance-coinm/ethusd_perp_20240808.gz", "hftbacktest/binance-coinm/ethusd_perp_20240809.gz"], { topChecks: true }],
  ["binance-cryptofeed", ["cryptofeed/BINANCE.ws.1.0.gz", "cryptofeed/BINANCE.http.0.0.gz"], { topChecks: true }],
  ["binance-cryptofeed", ["cryptofeed/BINANCE_FUTURES.ws.1.0.gz", "cryptofeed/BINANCE_FUTURES.http.0.0.gz"], { topChecks: true }],
  ["binance-cryptofeed", ["cryptofeed/BINANCE_DELIVERY.ws.1.0.gz", "cryptofeed/BINANCE_DELIVERY.http.0.0.gz"], { topChecks: true }],
  ["kraken", ["cryptofeed/KRAKEN.ws.50.0.gz"], { checksums: 4269 }],
  ["kraken-futures", ["cryptofeed/KRAKEN_FUTURES.ws.1.0.gz"], {}],
  ["bybit", ["cryptofeed-v3/BYBIT.jsonl.gz"], {}],
  ["bybit", ["nautilus_trader/bybit/2024-12-01_XRPUSDT_ob500.jsonl.gz"], {}],
  ["coinbase", ["cryptofeed-v3/COINBASE.jsonl.gz"], {}],
];

describe.skipIf(!hasData)("every capture with sequence ids or checksums", () => {
  for (const [format, rel, want] of CAPTURES) {
    test(`${rel.join(" + ")}: detected as ${format}, in sync, 0 gaps, 0 mismatches`, () => {
      const files = rel.map((r) => DATA + r);
      expect(detectCapture(files[0]!)).toBe(format);
      const { code, report } = verify(files);
      expect(report.sequenceGaps).toBe(0);
      expect(report.checksumMismatches).toBe(0);
      expect(report.topMismatches).toBe(0);
      expect(report.crossed).toBe(0);
      expect(report.malformed).toBe(0);
      expect(report.bookUpdates).toBeGreaterThan(0);
      expect(report.instruments.every((i: { synced: boolean }) => i.synced)).toBe(true);
      if (want.checksums) expect(report.checksumsChecked).toBe(want.checksums);
      if (want.topChecks) expect(report.topChecks).toBeGreaterThan(0);
      expect(code).toBe(0);
    }, 30_000);
  }

  test("a Binance capture with one depth diff removed: the gap is found, the book asks for a resync, exit 1", () => {
    const lines = readCaptureText(DATA + "hftbacktest/binance-usdm/btcusdt_20240808.gz").split("\n");
    const depth = lines.map((l, i) => (l.includes("depthUpdate") ? i : -1)).filter((i) => i >= 0);
    lines.splice(depth[3000]!, 1);
    const dir = mkdtempSync(join(tmpdir(), "bot4-verify-"));
    const file = join(dir, "cut.txt");
    writeFileSync(file, lines.join("\n"));
    const { code, report } = verify([file]);
    expect(report.sequenceGaps).toBe(1);
    expect(report.resyncs).toBe(1);
    expect(report.instruments[0].synced).toBe(false);
    expect(report.instruments[0].lastProblem).toMatch(/^gap at update \d+/);
    expect(code).toBe(1);
  }, 30_000);
});

test("an unknown file is refused with the list of formats, exit 2; --format names are checked", () => {
  const dir = mkdtempSync(join(tmpdir(), "bot4-verify-"));
  const file = join(dir, "x.csv");
  writeFileSync(file, "a,b,c\n1,2,3\n");
  expect(() => detectCapture(file)).toThrow(UnknownCaptureError);
  const r = verify([file]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("kraken-futures");
  const bad = verify([file], ["--format", "nasdaq"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("--format nasdaq is not one of");
});
