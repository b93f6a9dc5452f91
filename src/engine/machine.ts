/** Facts about this machine and this build, for `bot4 info` and reports. */
import { cpuInfo } from "../../ffi/cpu.ts";
import { choice, K, kernelPath } from "../../ffi/lib.ts";
import type { Config } from "../config/schema.ts";

const INTERESTING_FLAGS = ["sse4_2", "avx", "avx2", "fma", "bmi2", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "constant_tsc", "nonstop_tsc", "rdtscp", "invariant_tsc"];

export async function gatherInfo(config: Config) {
  const cpu = cpuInfo();
  return {
    cpu: {
      model: cpu.model,
      cores: navigator.hardwareConcurrency,
      features: INTERESTING_FLAGS.filter((f) => cpu.flags.has(f)).join(" "),
    },
    kernel: {
      variant: choice.variant,
      reason: choice.reason,
      isa: String(K.bot4_isa()),
      doublesPerVector: K.bot4_lanes(),
      library: kernelPath,
    },
    pools: {
      orders: config.BOT4_POOL_ORDERS,
      ticks: config.BOT4_POOL_TICKS,
      signals: config.BOT4_POOL_SIGNALS,
      ringCapacity: config.BOT4_RING_CAPACITY,
    },
  };
}
