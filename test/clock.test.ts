/**
 * The bot4 clock (c/clock.c, ffi/clock.ts): monotonic in one thread and across Workers (one
 * anchor per process), agreement with CLOCK_MONOTONIC, recalibration without backward steps,
 * the forced sources, epoch conversion and a short start-up.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clockInfo, fromEpochNs, now, offsetFromMonotonicNs, recalibrate, toEpochMs, toEpochNs } from "../ffi/clock.ts";
import { K } from "../ffi/lib.ts";

const CLOCK_TS = join(import.meta.dir, "..", "ffi", "clock.ts");
const start = clockInfo();

function workerFile(body: string): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "bot4-clock-"));
  const file = join(dir, "w.ts");
  writeFileSync(file, `import { now, clockInfo } from ${JSON.stringify(CLOCK_TS)};\n${body}`);
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Runs a script in a fresh bun process with BOT4_CLOCK set; returns its JSON output. */
function probe(clockEnv: string): { status: number | null; out: Record<string, unknown> | null; stderr: string } {
  const script = `
    const { now, clockInfo, offsetFromMonotonicNs } = await import(${JSON.stringify(CLOCK_TS)});
    let prev = now(), back = 0;
    for (let i = 0; i < 200000; i++) { const t = now(); if (t < prev) back++; prev = t; }
    const t0 = now(); await Bun.sleep(20); const t1 = now();
    console.log(JSON.stringify({ ...clockInfo(), back, slept: t1 - t0, offset: offsetFromMonotonicNs() },
      (k, v) => (typeof v === "bigint" ? String(v) : v)));`;
  const r = spawnSync(process.execPath, ["-e", script], {
    env: { ...process.env, BOT4_CLOCK: clockEnv },
    encoding: "utf8",
    timeout: 30_000,
  });
  let out: Record<string, unknown> | null = null;
  try {
    out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "");
  } catch {
    out = null;
  }
  return { status: r.status, out, stderr: r.stderr };
}

describe("clock", () => {
  test("start-up calibration is short and the source choice follows the CPU and the kernel", () => {
    expect(start.initNs).toBeGreaterThan(0);
    expect(start.initNs).toBeLessThan(10e6); // a few ms: 2 ms baseline plus brackets
    expect(start.reason.length).toBeGreaterThan(0);
    const forced = process.env.BOT4_CLOCK === "tsc" || process.env.BOT4_CLOCK === "monotonic";
    expect(start.forced).toBe(forced);
    const avail = "/sys/devices/system/clocksource/clocksource0/available_clocksource";
    const kernelTrustsTsc = !existsSync(avail) || readFileSync(avail, "utf8").split(/\s+/).includes("tsc");
    if (!forced) expect(start.source).toBe(start.invariantTsc && kernelTrustsTsc ? "tsc" : "monotonic");
    if (start.source === "tsc") {
      expect(start.calibBaselineNs).toBeGreaterThanOrEqual(2e6);
      expect(start.tscHz).toBeGreaterThan(1e8);
      expect(start.calibErr).toBeGreaterThan(0);
      expect(start.calibErr).toBeLessThan(1e-3);
    } else {
      expect(start.tscHz).toBe(0);
    }
  });

  test("now() never decreases over a million reads, and the u64 C entry agrees with it", () => {
    let prev = now(), back = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const t = now();
      if (t < prev) back++;
      prev = t;
    }
    expect(back).toBe(0);
    for (let i = 0; i < 1000; i++) {
      const t0 = now();
      const u = Number(K.bot4_clock_now_ns());
      const t1 = now();
      expect(u).toBeGreaterThanOrEqual(t0);
      expect(u).toBeLessThanOrEqual(t1);
    }
    expect(Number.isInteger(now())).toBe(true);
  });

  test("a Worker's now() is on the same anchor: stamps interleave with this thread's in order", async () => {
    const { file, cleanup } = workerFile(`
      self.onmessage = (e) => {
        if (e.data === "info") { postMessage({ anchor: String(clockInfo().anchorMonotonicNs) }); return; }
        let prev = now(), back = 0;
        for (let i = 0; i < 100000; i++) { const t = now(); if (t < prev) back++; prev = t; }
        postMessage({ t: now(), back });
      };`);
    const w = new Worker(file);
    const ask = (msg: unknown) =>
      new Promise<{ t: number; back: number; anchor: string }>((resolve, reject) => {
        w.onmessage = (e) => resolve(e.data);
        w.onerror = (e) => reject(e);
        w.postMessage(msg);
      });
    try {
      const { anchor } = await ask("info");
      expect(anchor).toBe(String(start.anchorMonotonicNs));
      for (let i = 0; i < 20; i++) {
        const before = now();
        const r = await ask("stamp");
        const after = now();
        expect(r.back).toBe(0);
        expect(r.t).toBeGreaterThan(before);
        expect(r.t).toBeLessThan(after);
      }
    } finally {
      w.terminate();
      cleanup();
    }
  });

  test("agrees with CLOCK_MONOTONIC over 100 ms within the calibration's error bound", () => {
    const info = clockInfo();
    const o0 = offsetFromMonotonicNs();
    const t0 = now();
    busyWait(100);
    const o1 = offsetFromMonotonicNs();
    const elapsed = now() - t0;
    const drift = Math.abs(o1 - o0);
    // rate error bound times the interval, plus two brackets' width (clock_gettime on a VM)
    const bound = (info.source === "tsc" ? info.calibErr : 0) * elapsed + 500;
    console.log(`  drift over ${(elapsed / 1e6).toFixed(1)} ms: ${drift} ns (bound ${bound.toFixed(0)} ns, calib err ${(info.calibErr * 1e6).toFixed(2)} ppm)`);
    expect(elapsed).toBeGreaterThanOrEqual(99e6);
    expect(drift).toBeLessThanOrEqual(bound);
  });

  test("recalibrate refines the rate, never steps back (seen from a Worker), and slews the offset away", async () => {
    const { file, cleanup } = workerFile(`
      self.onmessage = (e) => {
        const end = now() + e.data * 1e6;
        let prev = now(), back = 0, reads = 0;
        postMessage("started");
        while (prev < end) { const t = now(); if (t < prev) back++; prev = t; reads++; }
        postMessage({ back, reads });
      };`);
    const w = new Worker(file);
    const msgs: unknown[] = [];
    const done = new Promise<{ back: number; reads: number }>((resolve, reject) => {
      w.onmessage = (e) => (e.data === "started" ? msgs.push(e.data) : resolve(e.data));
      w.onerror = (e) => reject(e);
    });
    try {
      busyWait(Math.max(0, 300 - now() / 1e6)); // a baseline well past the start-up 2 ms
      w.postMessage(400);
      while (msgs.length === 0) await Bun.sleep(1);
      let back = 0;
      let err = 0;
      for (let i = 0; i < 40; i++) {
        const before = now();
        err = recalibrate();
        const after = now();
        if (after < before) back++;
        await Bun.sleep(5);
      }
      const r = await done;
      expect(back).toBe(0);
      expect(r.back).toBe(0);
      expect(r.reads).toBeGreaterThan(1000);
      const info = clockInfo();
      if (info.source === "tsc") {
        expect(info.recalibrations).toBeGreaterThanOrEqual(1);
        expect(info.calibBaselineNs).toBeGreaterThan(300e6);
        expect(err).toBe(info.calibErr);
        expect(info.calibErr).toBeLessThan(start.calibErr);
        // after the slew window (>= 100 ms, |offset| / 1e-4) the clock is back on CLOCK_MONOTONIC
        busyWait(Math.max(100, Math.abs(info.lastOffsetNs) * 1e4 / 1e6) + 20);
        const off = offsetFromMonotonicNs();
        console.log(`  last offset slewed ${info.lastOffsetNs} ns; now ${off} ns; calib err ${(info.calibErr * 1e9).toFixed(1)} ppb`);
        expect(Math.abs(off)).toBeLessThan(500 + info.calibErr * now());
      } else {
        expect(err).toBe(0);
      }
    } finally {
      w.terminate();
      cleanup();
    }
  });

  // A deliberately mis-set rate (fresh process) gives recalibrate a real offset to remove.
  for (const rel of [2e-4, -2e-4]) {
    test(`recalibrate slews away the offset of a rate off by ${rel * 1e6} ppm, without stepping back`, () => {
      if (start.source !== "tsc") return void expect(start.source).toBe("monotonic");
      const script = `
        const { now, clockInfo, offsetFromMonotonicNs, recalibrate } = await import(${JSON.stringify(CLOCK_TS)});
        const { K } = await import(${JSON.stringify(join(import.meta.dir, "..", "ffi", "lib.ts"))});
        const spin = (ms) => { const e = performance.now() + ms; while (performance.now() < e); };
        K.bot4_clock_test_skew(${rel});
        spin(300);
        const before = offsetFromMonotonicNs();
        recalibrate();
        const found = clockInfo().lastOffsetNs;
        const windowNs = Math.max(100e6, Math.abs(found) * 1e4);
        const t0 = now(), end = t0 + windowNs + 30e6;
        let prev = t0, back = 0, mid = null, t;
        while ((t = now()) < end) {
          if (t < prev) back++;
          prev = t;
          if (mid === null && t > t0 + windowNs / 2) mid = offsetFromMonotonicNs();
        }
        console.log(JSON.stringify({ before, found, mid, back, after: offsetFromMonotonicNs() }));`;
      const r = spawnSync(process.execPath, ["-e", script], { env: { ...process.env, BOT4_CLOCK: "" }, encoding: "utf8", timeout: 30_000 });
      expect(r.stderr).toBe("");
      const o = JSON.parse(r.stdout.trim()) as { before: number; found: number; mid: number; back: number; after: number };
      console.log(`  ${rel * 1e6} ppm for 300 ms: offset ${o.before} ns, half-way ${o.mid} ns, after the slew ${o.after} ns`);
      expect(Math.sign(o.before)).toBe(-Math.sign(rel)); // a fast clock runs ahead of CLOCK_MONOTONIC
      expect(Math.abs(o.before)).toBeGreaterThan(Math.abs(rel) * 300e6 * 0.8);
      expect(Math.abs(o.found - o.before)).toBeLessThan(2000);
      expect(o.back).toBe(0);
      expect(Math.abs(o.mid)).toBeGreaterThan(Math.abs(o.found) * 0.3); // slewed, not stepped
      expect(Math.abs(o.mid)).toBeLessThan(Math.abs(o.found) * 0.7);
      expect(Math.abs(o.after)).toBeLessThan(1000);
    });
  }

  test("epoch conversion matches CLOCK_REALTIME and round-trips", () => {
    const t = now();
    const wall = Date.now();
    const epochNs = toEpochNs(t);
    expect(Math.abs(Number(epochNs / 1_000_000n) - wall)).toBeLessThanOrEqual(2);
    expect(Math.abs(toEpochMs(t) - wall)).toBeLessThanOrEqual(2);
    expect(Math.abs(toEpochMs(t) - Number(epochNs) / 1e6)).toBeLessThan(1e-3);
    expect(fromEpochNs(epochNs)).toBe(Math.round(t));
    expect(fromEpochNs(start.anchorRealtimeNs)).toBeLessThan(1e6); // anchor is clock ~0
  });
});

describe("forced sources (fresh process, BOT4_CLOCK)", () => {
  test("BOT4_CLOCK=monotonic uses CLOCK_MONOTONIC and still works", () => {
    const r = probe("monotonic");
    expect(r.status).toBe(0);
    expect(r.out).not.toBeNull();
    const o = r.out!;
    expect(o.source).toBe("monotonic");
    expect(o.forced).toBe(true);
    expect(o.tscHz).toBe(0);
    expect(o.back).toBe(0);
    expect(o.slept as number).toBeGreaterThanOrEqual(19e6);
    expect(Math.abs(o.offset as number)).toBeLessThan(1000);
  });

  test("BOT4_CLOCK=tsc uses the TSC", () => {
    const r = probe("tsc");
    expect(r.status).toBe(0);
    const o = r.out!;
    expect(o.source).toBe("tsc");
    expect(o.forced).toBe(true);
    expect(o.tscHz as number).toBeGreaterThan(1e8);
    expect(o.back).toBe(0);
  });

  test("an unknown BOT4_CLOCK is refused with a clear message", () => {
    const r = probe("hpet");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("BOT4_CLOCK=hpet is not a clock source; expected tsc or monotonic");
  });
});
