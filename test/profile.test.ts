/**
 * `bot4 profile`: the shortest mode (--quick) runs from source (and from the built executable when
 * build/bot4 is there), its --json has every section, every figure is a finite measured number
 * above zero, --markdown writes the report, and bad input (unknown flag, missing or damaged data)
 * ends with exit code 2 and one `bot4:` line. Timings are never compared with the goals here.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bar, ns } from "../src/profile/report.ts";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const BIN = join(ROOT, "build/bot4");
const SHARED = resolve(ROOT, "../shared/data");
const haveShared = existsSync(join(SHARED, "hftbacktest")) && existsSync(join(SHARED, "xgboost-models/gbtree_many_trees.model.json"));
if (!haveShared) console.warn(`profile.test: ${SHARED} is absent: the five-venue and ML figures cannot be checked`);

async function cli(cmd: string[], cwd = ROOT): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, BOT4_LOG_LEVEL: "info" } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

const positive = (what: string, v: unknown) => {
  if (!(typeof v === "number" && Number.isFinite(v) && v > 0)) throw new Error(`${what} is not a finite number > 0: ${String(v)}`);
};

function checkReport(r: any): void {
  expect(r.version).toBe(1);
  expect(r.mode).toBe("quick");
  expect(typeof r.machine.kernel.variant).toBe("string");
  expect(r.machine.kernel.variant.length).toBeGreaterThan(0);
  expect(typeof r.machine.cpu.features).toBe("string");
  expect(r.machine.cpu.features).toContain("avx2");
  // the gap probe before and after: counts nest (over 5 µs >= over 10 >= over 30 >= over 100), and
  // at least one read was slower than the next (the clock moved), the longest gap bounds them all
  expect(r.machine.gaps.length).toBe(2);
  for (const g of r.machine.gaps) {
    expect(g.over5us).toBeGreaterThanOrEqual(g.over10us);
    expect(g.over10us).toBeGreaterThanOrEqual(g.over30us);
    expect(g.over30us).toBeGreaterThanOrEqual(g.over100us);
    positive("longest gap", g.maxNs);
    expect(g.lostShare).toBeGreaterThanOrEqual(0);
    expect(g.lostShare).toBeLessThan(1);
    if (g.over5us > 0) expect(g.maxNs).toBeGreaterThan(5000);
    if (g.over100us > 0) expect(g.lostShare).toBeGreaterThan(0);
  }
  expect(r.throughput.warmShare).toBeGreaterThan(0);
  expect(r.throughput.warmShare).toBeLessThan(1);
  positive("data.records", r.data.records);
  positive("data.frames", r.data.frames);

  const goalNames = r.goals.map((g: any) => g.name);
  for (const want of ["tick-to-decision P99", "tick-to-decision P99.9", "tick processing P99", "order submission P99", "replay throughput, one core", "two cores vs one"]) expect(goalNames).toContain(want);
  expect(goalNames.some((n: string) => n.startsWith("RSS steady state"))).toBe(true);
  if (haveShared) expect(goalNames).toContain("ML inference in the loop P99");
  for (const g of r.goals) {
    positive(`goal ${g.name}`, g.measured);
    expect(typeof g.met).toBe("boolean");
    expect(g.target).toMatch(/^(<=|>=) /);
  }

  const stageNames = r.stages.map((s: any) => s.stage);
  for (const want of ["parse", "book", "indicators", "strategy", "risk", "route", "encode/sign", "write", "order submission", "tick-to-decision", "engine step"]) expect(stageNames).toContain(want);
  for (const s of r.stages) {
    expect(["batch time / count", "per op (TSC)"]).toContain(s.method);
    for (const q of ["count", "mean", "p50", "p90", "p95", "p99", "p999", "max"]) positive(`stage ${s.stage} ${q}`, s.ns[q]);
    // a distribution: percentiles in order
    expect(s.ns.p50).toBeLessThanOrEqual(s.ns.p90);
    expect(s.ns.p90).toBeLessThanOrEqual(s.ns.p95);
    expect(s.ns.p95).toBeLessThanOrEqual(s.ns.p99);
    expect(s.ns.p99).toBeLessThanOrEqual(s.ns.p999);
  }

  const t = r.throughput;
  for (const k of ["oneCorePerS", "twoCorePerS", "twoVsOne", "engineOnlyPerS", "parseOnlyPerS", "fiveVenueEnginePerS"]) positive(`throughput.${k}`, t[k]);
  expect(t.oneCoreRuns.length).toBe(r.reps);
  expect(t.crossCoreRtt.windowsP50Ns.length).toBe(r.reps + 1);
  for (const v of [...t.crossCoreRtt.windowsP50Ns, ...t.crossCoreRtt.windowsP99Ns]) positive("cross-core round trip", v);
  // both pipelines ran the same strategy over the same records and traded
  positive("one-core orders", t.oneCore.orders);
  positive("two-core orders", t.twoCore.orders);

  const m = r.memory;
  for (const k of ["rssStartMb", "rssAfterSetupMb", "rssSteadyMb", "rssPeakMb", "vmHwmMb", "profileProcessVmHwmMb", "heapAllocBytesPerS", "heapAllocBytesPerTick"]) positive(`memory.${k}`, m[k]);
  expect(m.rssPeakMb).toBeGreaterThanOrEqual(m.rssSteadyMb);
  if (haveShared) expect(m.fiveVenues.venues.length).toBe(5);
  expect(m.pools.pools.map((p: any) => p.name)).toEqual(["orders", "ticks", "signals"]);
  for (const p of m.pools.pools) positive(`pool ${p.name} capacity`, p.capacity);

  // the order-entry run really reached the local venue: every order placed, acknowledged, cancelled
  positive("orders submitted", r.orderEntry.orders);
  expect(r.orderEntry.placedAtVenue).toBe(r.orderEntry.orders);
  expect(r.orderEntry.acks).toBe(r.orderEntry.orders);
}

describe("bot4 profile --quick", () => {
  test("from source: --json has every section with measured figures; --markdown writes the report", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bot4-profile-test-"));
    try {
      const md = join(dir, "report.md");
      const r = await cli([BUN, "src/cli/main.ts", "profile", "--quick", "--quiet", "--json", "--markdown", md]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      checkReport(JSON.parse(r.out));
      const text = readFileSync(md, "utf8");
      expect(text).toStartWith("# bot4 Performance Profile Report");
      for (const h of ["## Machine", "## Targets vs measured", "## Latency distributions per stage", "## Throughput", "## Memory"]) expect(text).toContain(h);
      expect(text).toContain("| tick-to-decision P99 | <= 5 µs |");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);

  test.skipIf(!existsSync(BIN))("the built executable runs it too (its pipeline worker is compiled in)", async () => {
    const r = await cli([BIN, "profile", "--quick", "--quiet", "--json"]);
    expect(r.code).toBe(0);
    checkReport(JSON.parse(r.out));
  }, 240_000);

  test("the text report has the goals table and the stage bars", async () => {
    const r = await cli([BUN, "src/cli/main.ts", "profile", "--quick", "--quiet", "--reps", "1"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Targets vs measured");
    expect(r.out).toMatch(/tick-to-decision P99 +<= 5 µs +[\d.]+ µs +(met|MISSED)/);
    expect(r.out).toContain("cross-core cache-line round trip");
    expect(r.out).toMatch(/parse +ns per record/);
  }, 240_000);
});

describe("bot4 profile refuses bad input with exit code 2 and one line", () => {
  const oneLine = (err: string) => {
    const lines = err.trim().split("\n");
    expect(lines.length).toBe(1);
    expect(lines[0]).toStartWith("bot4: ");
  };
  test("unknown flag", async () => {
    const r = await cli([BUN, "src/cli/main.ts", "profile", "--fast"]);
    expect(r.code).toBe(2);
    oneLine(r.err);
    expect(r.err).toContain("--fast");
  });
  test("bad --reps", async () => {
    const r = await cli([BUN, "src/cli/main.ts", "profile", "--reps", "zero"]);
    expect(r.code).toBe(2);
    oneLine(r.err);
  });
  test("missing data file", async () => {
    const r = await cli([BUN, "src/cli/main.ts", "profile", "--quick", "--quiet", "--data", "/nonexistent/capture.gz"]);
    expect(r.code).toBe(2);
    oneLine(r.err);
    expect(r.err).toContain("/nonexistent/capture.gz");
  });
  test("damaged gzip and a file with no capture line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bot4-profile-bad-"));
    try {
      const gz = join(dir, "broken.gz");
      writeFileSync(gz, Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]));
      let r = await cli([BUN, "src/cli/main.ts", "profile", "--quick", "--quiet", "--data", gz]);
      expect(r.code).toBe(2);
      oneLine(r.err);
      expect(r.err).toContain("damaged");
      const txt = join(dir, "notes.txt");
      writeFileSync(txt, "hello\nworld\n");
      r = await cli([BUN, "src/cli/main.ts", "profile", "--quick", "--quiet", "--data", txt]);
      expect(r.code).toBe(2);
      oneLine(r.err);
      expect(r.err).toContain("not a raw Binance capture");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("report helpers", () => {
  test("ns() picks the unit", () => {
    expect(ns(42)).toBe("42.0 ns");
    expect(ns(1500)).toBe("1.50 µs");
    expect(ns(2_500_000)).toBe("2.50 ms");
  });
  test("bar() is longer for slower distributions and marks P99.9 beyond P99", () => {
    const d = (p50: number, p99: number, p999: number) => ({ count: 1, min: 1, max: p999, mean: p50, p50, p90: p99, p95: p99, p99, p999 });
    expect(bar(d(10_000, 20_000, 30_000)).length).toBeGreaterThan(bar(d(50, 100, 150)).length);
    expect(bar(d(100, 1000, 100_000))).toContain("|");
    expect(bar(d(100, 1000, 100_000)).indexOf("█")).toBe(0);
  });
});
