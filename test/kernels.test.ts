/**
 * The kernel library seam: variant choice, layout checks, the AVX-512 build really holding
 * AVX-512 code, and vector kernels agreeing with their scalar reference in every variant.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { checkLayout, LayoutMismatchError, readLayout } from "../ffi/layout.ts";
import { choice, chooseVariant, K, openVariant, type Variant, VARIANTS, variantPaths } from "../ffi/lib.ts";
import { supportsLevel } from "../ffi/cpu.ts";
import { coreLayouts } from "../ffi/sym/core.ts";
import { StateLayout } from "../ffi/sym/state.ts";
import { alignedBuffer } from "../ffi/buffers.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickKind, writeU64 } from "../src/domain/tick.ts";

const runnable: Variant[] = VARIANTS.filter((v) => (v === "v4" ? supportsLevel("v4") : v === "v3" ? supportsLevel("v3") : true));

function disassemble(path: string, fn: string): string {
  const r = spawnSync("objdump", ["-d", "--no-show-raw-insn", path], { encoding: "utf8", maxBuffer: 64 << 20 });
  expect(r.status).toBe(0);
  const start = r.stdout.indexOf(`<${fn}>:\n`);
  expect(start).toBeGreaterThan(0);
  const end = r.stdout.indexOf("\n\n", start);
  return r.stdout.slice(start, end);
}

describe("variant choice", () => {
  test("the loaded variant reports itself and its vector width", () => {
    expect(String(K.bot4_variant())).toBe(choice.variant);
    const lanes = K.bot4_lanes();
    expect([2, 4, 8]).toContain(lanes);
    if (choice.variant === "v3") expect(lanes).toBe(4);
    if (choice.variant === "base") expect(lanes).toBe(2);
  });

  test("every runnable variant opens, passes its layout checks and names itself", () => {
    for (const v of runnable) {
      const lib = openVariant(v);
      expect(String(lib.symbols.bot4_variant())).toBe(v);
      expect(lib.symbols.bot4_lanes()).toBe(v === "v4" ? 8 : v === "v3" ? 4 : v === "base" ? 2 : K.bot4_lanes());
    }
  });

  test("BOT4_KERNEL forces a variant, and refuses unknown or unrunnable ones with a clear reason", () => {
    expect(chooseVariant("base")).toEqual({ variant: "base", reason: "forced by BOT4_KERNEL" });
    expect(() => chooseVariant("avx9000")).toThrow(/BOT4_KERNEL=avx9000 is not a kernel variant; expected one of native, v4, v3, base/);
    if (!supportsLevel("v4")) expect(() => chooseVariant("v4")).toThrow(/lacks the AVX-512 features/);
  });

  test("automatic choice prefers native on the build host, else the widest supported level", () => {
    const c = chooseVariant("");
    expect(VARIANTS).toContain(c.variant);
    if (c.variant !== "native") expect(c.variant).toBe(supportsLevel("v4") ? "v4" : supportsLevel("v3") ? "v3" : "base");
  });

  test("a forced variant is what a fresh process loads", () => {
    const r = spawnSync(process.execPath, ["-e", `const {K}=await import("${import.meta.dir}/../ffi/lib.ts"); console.log(K.bot4_variant())`], {
      env: { ...process.env, BOT4_KERNEL: "base" },
      encoding: "utf8",
    });
    expect(r.stdout.trim()).toBe("base");
  });
});

describe("layout checks", () => {
  test("C's tick layout equals the TypeScript mirror", () => {
    const spec = coreLayouts[0]!;
    const got = readLayout(K.bot4_layout_tick as never);
    for (const [k, v] of Object.entries(spec.expected)) expect(got.get(k)).toBe(v);
    expect(got.get("bot4_tick_t")).toBe(64);
  });

  test("a mismatch names the field and both values, and says how to fix it", () => {
    const spec = coreLayouts[0]!;
    const bad = { ...spec.expected, "bot4_tick_t.price": 24 };
    let err: unknown;
    try {
      checkLayout("tick", K.bot4_layout_tick as never, bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LayoutMismatchError);
    expect(String((err as Error).message)).toContain("bot4_tick_t.price: C says 16, TypeScript says 24");
    expect(String((err as Error).message)).toContain("make clean all");
  });

  test("a field C exports but TypeScript does not mirror is a mismatch too", () => {
    const spec = coreLayouts[0]!;
    const partial = { ...spec.expected } as Record<string, number>;
    delete partial["bot4_tick_t.flags"];
    expect(() => checkLayout("tick", K.bot4_layout_tick as never, partial)).toThrow(/bot4_tick_t.flags: exported by C \(63\), not mirrored/);
  });
});

describe("vector code per variant (objdump)", () => {
  const vectorKernels = ["bot4_state_update8", "bot4_state_totals"];
  test("the AVX-512 build uses zmm registers in the vector kernels", () => {
    for (const fn of vectorKernels) expect(disassemble(variantPaths.v4, fn)).toMatch(/%zmm\d+/);
  });
  test("the AVX2 build uses ymm and never zmm (4-wide halves, no 8-wide spills)", () => {
    for (const fn of vectorKernels) {
      const asm = disassemble(variantPaths.v3, fn);
      expect(asm).toMatch(/%ymm\d+/);
      expect(asm).not.toMatch(/%zmm/);
    }
    // 8-wide types on AVX2 would go through the stack; the 4-wide build keeps them in registers
    expect(disassemble(variantPaths.v3, "bot4_state_update8")).not.toMatch(/\(%rsp\)|\(%rbp\)/);
  });
  test("the baseline build uses only SSE registers", () => {
    for (const fn of vectorKernels) expect(disassemble(variantPaths.base, fn)).not.toMatch(/%[yz]mm/);
  });
});

describe("state kernel: 8-wide update equals scalar apply, bit for bit, in every runnable variant", () => {
  for (const v of VARIANTS.filter((x) => !runnable.includes(x))) {
    test.skip(`${v}: this CPU cannot execute it (run the suite on an AVX-512 machine)`, () => {});
  }
  for (const v of runnable) {
    test(v, () => {
      const lib = openVariant(v).symbols;
      const instruments = 16;
      const bytes = Number(lib.bot4_state_bytes(instruments));
      const a = alignedBuffer(bytes), b = alignedBuffer(bytes);
      lib.bot4_state_init(a.ptr, instruments);
      lib.bot4_state_init(b.ptr, instruments);
      const lanes = alignedBuffer(3 * 8 * 8);
      const px = new Float64Array(lanes.buffer, lanes.byteOffset, 8);
      const qty = new Float64Array(lanes.buffer, lanes.byteOffset + 64, 8);
      const ts = new Float64Array(lanes.buffer, lanes.byteOffset + 128, 8);
      const recs = alignedBuffer(16 * TICK_BYTES);
      const f64 = new Float64Array(recs.buffer, recs.byteOffset, 16 * TICK_F64);
      const u32 = new Uint32Array(recs.buffer, recs.byteOffset, 16 * TICK_U32);
      const u8 = new Uint8Array(recs.buffer, recs.byteOffset, 16 * TICK_BYTES);
      let seed = 12345;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
      for (let step = 0; step < 5000; step++) {
        for (let g = 0; g < 2; g++) {
          let n = 0;
          for (let l = 0; l < 8; l++) {
            const trade = rnd() < 0.6;
            px[l] = 60000 + rnd() * 100;
            qty[l] = trade ? Math.round(rnd() * 1000) / 1000 + 0.001 : 0;
            ts[l] = step * 1000 + l;
            if (trade) {
              const f = n * TICK_F64, w = n * TICK_U32;
              f64[f + T.PRICE_F64] = px[l]!;
              f64[f + T.SIZE_F64] = qty[l]!;
              writeU64(u32, w + T.TS_RECV_U32, ts[l]!);
              u32[w + T.INSTRUMENT_U32] = g * 8 + l;
              u8[n * TICK_BYTES + T.KIND_U8] = TickKind.trade;
              n++;
            }
          }
          lib.bot4_state_update8(a.ptr + StateLayout.group + g * StateLayout.groupBytes, lanes.ptr, lanes.ptr + 64, lanes.ptr + 128);
          lib.bot4_state_apply(b.ptr, recs.ptr, 0xffffffff, 0, n);
        }
      }
      const va = new Uint8Array(a.buffer, a.byteOffset + 64, bytes - 64);
      const vb = new Uint8Array(b.buffer, b.byteOffset + 64, bytes - 64);
      expect(Buffer.compare(Buffer.from(va), Buffer.from(vb))).toBe(0);
      const vwap0 = new Float64Array(a.buffer, a.byteOffset + 64 + StateLayout.rows.vwap, 8)[0]!;
      expect(vwap0).toBeGreaterThan(60000);
      expect(vwap0).toBeLessThan(60100);
    });
  }
});

describe("book grid: the exactness rule without a division (FMA variants) equals round(key*scale)/scale === key (base variant, division)", () => {
  // keys a venue sends (decimals with 0..10 digits, either sign: asks are stored negated), their
  // neighbours one ulp away (never exactly on the unit), ties and powers of two (the division
  // path), against every decimal scale a book infers (10^0..10^8)
  const keys: number[] = [];
  let seed = 99;
  const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const up = (x: number) => {
    const f = new Float64Array([x]);
    const u = new BigInt64Array(f.buffer);
    u[0] = u[0]! + (x >= 0 ? 1n : -1n);
    return f[0]!;
  };
  for (let i = 0; i < 20000; i++) {
    const digits = Math.floor(rnd() * 11);
    const k = Number((rnd() * 10 ** Math.floor(rnd() * 7)).toFixed(digits)) || 1;
    keys.push(k, -k, up(k), -up(k));
  }
  for (let e = -20; e <= 40; e++) keys.push(2 ** e, -(2 ** e), up(2 ** e));
  keys.push(0.5, 1.5, 2.5, 1e15 + 0.5, 2 ** 52 + 1, 2 ** 53, 1e300, 5e-324);
  const expected = (key: number, scale: number) => {
    const x = key * scale;
    // nearest integer, ties to even (what cvtsd2si and llrint do)
    let t = Math.round(x);
    if (Math.abs(x % 1) === 0.5 && t % 2 !== 0) t -= 1;
    if (!(Math.abs(t) < 2 ** 63)) t = -(2 ** 63); // cvtsd2si's answer out of range: INT64_MIN
    return t / scale === key ? 1 : 0;
  };
  for (const v of runnable) {
    test(v, () => {
      const lib = openVariant(v).symbols;
      let mismatches = 0, onUnit = 0;
      for (let d = 0; d <= 8; d++) {
        const scale = 10 ** d;
        for (const key of keys) {
          const got = lib.bot4_book_unit_check(key, scale);
          onUnit += got;
          if (got !== expected(key, scale)) mismatches++;
        }
      }
      expect(mismatches).toBe(0);
      expect(onUnit).toBeGreaterThan(keys.length); // both verdicts are exercised
    });
  }
});
