/**
 * The one place that opens the kernel library. Four builds of the same C sources are embedded
 * (files imported with `type: "file"`, so `bun build --compile` carries them inside the
 * executable); one is chosen from the CPU's features at start-up:
 *   native  — -march=native of the build host; chosen only on a CPU whose model and flags match it
 *   v4      — x86-64-v4 (AVX-512, 8 doubles per vector)
 *   v3      — x86-64-v3 (AVX2, 4 doubles per vector)
 *   base    — x86-64 baseline (SSE2)
 * BOT4_KERNEL=native|v4|v3|base forces one (refused if the CPU cannot run it). Every struct
 * shared with C is checked against the compiler's layout before anything else runs.
 */
import { dlopen } from "bun:ffi";
import libNative from "../build/lib/libbot4-native.so" with { type: "file" };
import libV4 from "../build/lib/libbot4-v4.so" with { type: "file" };
import libV3 from "../build/lib/libbot4-v3.so" with { type: "file" };
import libBase from "../build/lib/libbot4-base.so" with { type: "file" };
import nativeCpu from "../build/lib/native.cpu" with { type: "text" };
import { cpuInfo, supportsLevel } from "./cpu.ts";
import { checkLayout } from "./layout.ts";
import { clockLayouts, clockSymbols } from "./sym/clock.ts";
import { coreLayouts, coreSymbols } from "./sym/core.ts";
import { histLayouts, histSymbols } from "./sym/hist.ts";
import { memLayouts, memSymbols } from "./sym/mem.ts";
import { ringLayouts, ringSymbols } from "./sym/ring.ts";
import { stateLayouts, stateSymbols } from "./sym/state.ts";
import { feedLayouts, feedSymbols } from "./sym/feed.ts";
import { indLayouts, indSymbols } from "./sym/ind.ts";
import { modelLayouts, modelSymbols } from "./sym/model.ts";
import { vparseLayouts, vparseSymbols } from "./sym/vparse.ts";
import { signLayouts, signSymbols } from "./sym/sign.ts";

export const VARIANTS = ["native", "v4", "v3", "base"] as const;
export type Variant = (typeof VARIANTS)[number];

const PATHS: Record<Variant, string> = { native: libNative, v4: libV4, v3: libV3, base: libBase };

export class KernelLoadError extends Error {
  override name = "KernelLoadError";
}

export interface VariantChoice {
  variant: Variant;
  reason: string;
}

/** Picks the variant for this CPU, or the forced one when `forced` is set and the CPU can run it. */
export function chooseVariant(forced = process.env.BOT4_KERNEL): VariantChoice {
  const cpu = cpuInfo();
  const nativeMatches = nativeCpu.trim() === cpu.identity.trim();
  const runnable: Record<Variant, boolean> = {
    native: nativeMatches,
    v4: supportsLevel("v4"),
    v3: supportsLevel("v3"),
    base: true,
  };
  if (forced !== undefined && forced !== "") {
    if (!(VARIANTS as readonly string[]).includes(forced)) {
      throw new KernelLoadError(`BOT4_KERNEL=${forced} is not a kernel variant; expected one of ${VARIANTS.join(", ")} (or unset to choose by CPU)`);
    }
    const v = forced as Variant;
    if (!runnable[v]) {
      const why = v === "native" ? "this CPU is not the one the native build was compiled for" : `this CPU lacks the ${v === "v4" ? "AVX-512" : "AVX2"} features it needs`;
      throw new KernelLoadError(`BOT4_KERNEL=${v} cannot run here: ${why}; unset BOT4_KERNEL or pick ${VARIANTS.filter((x) => runnable[x]).join(", ")}`);
    }
    return { variant: v, reason: "forced by BOT4_KERNEL" };
  }
  if (nativeMatches) return { variant: "native", reason: "CPU matches the build host" };
  if (runnable.v4) return { variant: "v4", reason: "CPU has AVX-512 (x86-64-v4)" };
  if (runnable.v3) return { variant: "v3", reason: "CPU has AVX2 (x86-64-v3)" };
  return { variant: "base", reason: "CPU lacks AVX2: baseline x86-64" };
}

const symbols = {
  ...coreSymbols,
  ...ringSymbols,
  ...histSymbols,
  ...clockSymbols,
  ...memSymbols,
  ...stateSymbols,
  ...feedSymbols,
  ...indSymbols,
  ...modelSymbols,
  ...vparseSymbols,
  ...signSymbols,
} as const;
const layouts = [...coreLayouts, ...ringLayouts, ...histLayouts, ...clockLayouts, ...memLayouts, ...stateLayouts, ...feedLayouts, ...indLayouts, ...modelLayouts, ...vparseLayouts, ...signLayouts];

/** Opens one variant and checks its layouts; used directly by tests that compare variants. */
export function openVariant(variant: Variant) {
  const lib = dlopen(PATHS[variant], symbols);
  for (const spec of layouts) {
    const fn = (lib.symbols as unknown as Record<string, (b: Uint8Array, n: number) => number>)[spec.fn];
    if (!fn) throw new KernelLoadError(`layout function ${spec.fn} is not declared in ffi/sym`);
    checkLayout(spec.family, fn, spec.expected);
  }
  return lib;
}

export const choice = chooseVariant();
export const kernelPath = PATHS[choice.variant];
const opened = openVariant(choice.variant);
/** The kernel symbols of the chosen variant. Hot paths copy the functions they call into locals. */
export const K = opened.symbols;
export const variantPaths: Readonly<Record<Variant, string>> = PATHS;
