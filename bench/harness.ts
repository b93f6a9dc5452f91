/**
 * Shared bench plumbing. Every bench script prints human-readable figures, or with `--json`
 * exactly one JSON object of named figures on stdout (mitata's own table then goes to stderr).
 * Figures are medians unless their name says otherwise (p99, max, per_s ...).
 */
import { measure, run, bench as mitataBench, do_not_optimize } from "mitata";
import { type AlignedBuffer, alignedBuffer } from "../ffi/buffers.ts";

export const JSON_MODE = process.argv.includes("--json");
const figures: Record<string, number | string> = {};

/** Records a named figure; printed now in human mode, collected for `done()` in JSON mode. */
export function figure(name: string, value: number | string, unit = "", note = ""): void {
  figures[name] = typeof value === "number" ? Number(value.toPrecision(6)) : value;
  if (!JSON_MODE) {
    const v = typeof value === "number" ? fmt(value) : value;
    console.log(`  ${name.padEnd(44)} ${v.padStart(12)} ${unit}${note ? `   (${note})` : ""}`);
  }
}

export function section(title: string): void {
  if (!JSON_MODE) console.log(`\n${title}`);
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1e6) return v.toExponential(3);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

/** One mitata measurement of fn; records `<name>_ns` (median ns per call) and `<name>_p99_ns`. */
export async function micro(name: string, fn: () => unknown): Promise<number> {
  const s = await measure(fn, { min_cpu_time: 300e6 });
  figure(`${name}_ns`, s.p50, "ns/op", `p99 ${fmt(s.p99)} ns`);
  figures[`${name}_p99_ns`] = Number(s.p99.toPrecision(6));
  return s.p50;
}

/** Registers mitata benches, runs them (table on stderr in JSON mode), records each median. */
export async function mitataSuite(define: (bench: typeof mitataBench) => void): Promise<Record<string, number>> {
  define(mitataBench);
  const out = await run({
    format: JSON_MODE ? "quiet" : "mitata",
    print: JSON_MODE ? (s: string) => process.stderr.write(s + "\n") : undefined,
  });
  const medians: Record<string, number> = {};
  for (const t of out.benchmarks) {
    for (const r of t.runs) {
      if (!r.stats) continue;
      medians[r.name] = r.stats.p50;
      figures[`${r.name.replace(/[^A-Za-z0-9]+/g, "_")}_ns`] = Number(r.stats.p50.toPrecision(6));
    }
  }
  return medians;
}

export { do_not_optimize };

/** Percentiles of raw samples (sorted in place). */
export function percentiles(samples: Float64Array | number[]): { p50: number; p90: number; p99: number; p999: number; max: number; min: number } {
  const a = samples instanceof Float64Array ? samples.sort() : Float64Array.from(samples).sort();
  const at = (q: number) => a[Math.min(a.length - 1, Math.floor(q * a.length))]!;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: a[a.length - 1]!, min: a[0]! };
}

/** Prints the collected figures as one JSON object (JSON mode) — call once at the end. */
export function done(): void {
  if (JSON_MODE) process.stdout.write(JSON.stringify(figures) + "\n");
}

/**
 * Frames laid end to end in one aligned buffer that C can read: frame i is bytes
 * offs[i]..offs[i+1) at address `ptr`. Built once, outside the timed loop. The result holds the
 * backing buffer (`mem`):
 * C reads through `ptr`, which does not keep the memory alive, so callers keep the result itself
 * alive while C uses it (a benchmark that held only `ptr` and `offs` had its frames collected and
 * the memory reused by later allocations mid-run).
 */
export function frameBlob(frames: string[]): { ptr: number; offs: Float64Array; bytes: number; mem: AlignedBuffer } {
  const enc = new TextEncoder();
  const encoded = frames.map((f) => enc.encode(f));
  const total = encoded.reduce((a, b) => a + b.length, 0);
  const mem = alignedBuffer(total);
  const view = new Uint8Array(mem.buffer, mem.byteOffset, total);
  const offs = new Float64Array(frames.length + 1);
  let at = 0;
  encoded.forEach((e, i) => {
    offs[i] = at;
    view.set(e, at);
    at += e.length;
  });
  offs[frames.length] = at;
  return { ptr: mem.ptr, offs, bytes: total, mem };
}

/** Median over `reps` runs of fn, in ns per item (fn handles `items` items per run). */
export function perItem(fn: () => void, items: number, reps: number): number {
  const t: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    t.push(((performance.now() - t0) * 1e6) / items);
  }
  return percentiles(t).p50;
}
