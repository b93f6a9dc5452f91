/** CPU identity and features as the kernel loader needs them (Linux /proc/cpuinfo). */
import { readFileSync } from "node:fs";

export interface CpuInfo {
  model: string;
  flags: Set<string>;
  /** model + flags line exactly as scripts/cpu-id.sh prints them, to match a native build */
  identity: string;
}

let cached: CpuInfo | undefined;
export function cpuInfo(): CpuInfo {
  if (cached) return cached;
  let model = "unknown";
  let flagLine = "";
  try {
    const text = readFileSync("/proc/cpuinfo", "latin1");
    // only the first processor block: identical on every core, and large machines list hundreds
    const end = text.indexOf("\n\n");
    for (const line of (end > 0 ? text.slice(0, end) : text).split("\n")) {
      const c = line.indexOf(":");
      if (c < 0) continue;
      const key = line.slice(0, c).trim();
      if (key === "model name") model = line.slice(c + 1).trim();
      else if (key === "flags") flagLine = line.slice(c + 1).trim();
    }
  } catch {
    /* not Linux or no procfs: only the baseline variant qualifies */
  }
  cached = { model, flags: new Set(flagLine.split(/\s+/).filter(Boolean)), identity: `${model}\n${flagLine}` };
  return cached;
}

/** x86-64 micro-architecture levels as defined by the psABI (what gcc's -march=x86-64-vN assumes). */
const LEVEL_FLAGS: Record<"v3" | "v4", string[]> = {
  v3: ["avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave", "sse4_1", "sse4_2", "ssse3", "popcnt", "cx16"],
  v4: ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"],
};
export function supportsLevel(level: "v3" | "v4", info = cpuInfo()): boolean {
  const need = level === "v4" ? [...LEVEL_FLAGS.v3, ...LEVEL_FLAGS.v4] : LEVEL_FLAGS.v3;
  return need.every((f) => info.flags.has(f));
}
