/**
 * TA-Lib's C library (build/ref/libta.so, made by `make ref` from the sources the npm `talib`
 * package carries) through bun:ffi: the reference that indicator tests and benches compare with.
 * Opened lazily on first use; the product never imports this file.
 */
import { dlopen, ptr } from "bun:ffi";
import { existsSync } from "node:fs";

const LIB = `${import.meta.dir}/../build/ref/libta.so`;
const MA_SMA = 0;

function open() {
  if (!existsSync(LIB)) throw new Error(`${LIB} is missing: build it with \`make ref\` (compiles TA-Lib's C sources from node_modules/talib)`);
  return dlopen(LIB, {
    TA_SMA: { args: ["i32", "i32", "ptr", "i32", "ptr", "ptr", "ptr"], returns: "i32" },
    TA_EMA: { args: ["i32", "i32", "ptr", "i32", "ptr", "ptr", "ptr"], returns: "i32" },
    TA_RSI: { args: ["i32", "i32", "ptr", "i32", "ptr", "ptr", "ptr"], returns: "i32" },
    TA_BBANDS: { args: ["i32", "i32", "ptr", "i32", "f64", "f64", "i32", "ptr", "ptr", "ptr", "ptr", "ptr"], returns: "i32" },
    TA_MACD: { args: ["i32", "i32", "ptr", "i32", "i32", "i32", "ptr", "ptr", "ptr", "ptr", "ptr"], returns: "i32" },
    TA_ATR: { args: ["i32", "i32", "ptr", "ptr", "ptr", "i32", "ptr", "ptr", "ptr"], returns: "i32" },
    TA_STDDEV: { args: ["i32", "i32", "ptr", "i32", "f64", "ptr", "ptr", "ptr"], returns: "i32" },
  }).symbols;
}

let lib: ReturnType<typeof open> | undefined;
/** The raw symbols (for benches that want to call TA-Lib without the NaN padding below). */
export function talibSymbols(): ReturnType<typeof open> {
  return (lib ??= open());
}

const beg = new Int32Array(1), nb = new Int32Array(1);

function check(rc: number, fn: string): void {
  if (rc !== 0) throw new Error(`TA-Lib ${fn} returned error code ${rc}`);
}

/** TA-Lib writes outputs from index 0 for inputs outBegIdx..; this pads the warm-up with NaN so
 * index i of the result belongs to input i, as our kernels report it. */
function aligned(n: number, outs: Float64Array[]): Float64Array[] {
  const b = beg[0]!, m = nb[0]!;
  return outs.map((o) => {
    const r = new Float64Array(n).fill(NaN);
    r.set(o.subarray(0, m), b);
    return r;
  });
}

type One = "TA_SMA" | "TA_EMA" | "TA_RSI";
function one(fn: One, x: Float64Array, p: number): Float64Array {
  const out = new Float64Array(x.length);
  check(talibSymbols()[fn](0, x.length - 1, ptr(x), p, ptr(beg), ptr(nb), ptr(out)), fn);
  return aligned(x.length, [out])[0]!;
}

export const taSma = (x: Float64Array, p: number) => one("TA_SMA", x, p);
export const taEma = (x: Float64Array, p: number) => one("TA_EMA", x, p);
export const taRsi = (x: Float64Array, p: number) => one("TA_RSI", x, p);

export function taBbands(x: Float64Array, p: number, k: number): { upper: Float64Array; middle: Float64Array; lower: Float64Array } {
  const u = new Float64Array(x.length), m = new Float64Array(x.length), l = new Float64Array(x.length);
  check(talibSymbols().TA_BBANDS(0, x.length - 1, ptr(x), p, k, k, MA_SMA, ptr(beg), ptr(nb), ptr(u), ptr(m), ptr(l)), "TA_BBANDS");
  const [upper, middle, lower] = aligned(x.length, [u, m, l]);
  return { upper: upper!, middle: middle!, lower: lower! };
}

export function taMacd(x: Float64Array, fast: number, slow: number, signal: number): { line: Float64Array; signal: Float64Array; hist: Float64Array } {
  const a = new Float64Array(x.length), b = new Float64Array(x.length), c = new Float64Array(x.length);
  check(talibSymbols().TA_MACD(0, x.length - 1, ptr(x), fast, slow, signal, ptr(beg), ptr(nb), ptr(a), ptr(b), ptr(c)), "TA_MACD");
  const [line, sig, hist] = aligned(x.length, [a, b, c]);
  return { line: line!, signal: sig!, hist: hist! };
}

export function taAtr(h: Float64Array, l: Float64Array, c: Float64Array, p: number): Float64Array {
  const out = new Float64Array(c.length);
  check(talibSymbols().TA_ATR(0, c.length - 1, ptr(h), ptr(l), ptr(c), p, ptr(beg), ptr(nb), ptr(out)), "TA_ATR");
  return aligned(c.length, [out])[0]!;
}

export function taStddev(x: Float64Array, p: number): Float64Array {
  const out = new Float64Array(x.length);
  check(talibSymbols().TA_STDDEV(0, x.length - 1, ptr(x), p, 1, ptr(beg), ptr(nb), ptr(out)), "TA_STDDEV");
  return aligned(x.length, [out])[0]!;
}
