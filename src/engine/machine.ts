/** Facts about this machine and this build, for `bot4 info` and reports. */
import { clockInfo } from "../../ffi/clock.ts";
import { cpuInfo } from "../../ffi/cpu.ts";
import { enginePools } from "../../ffi/mem.ts";
import { hugepageStatus, processCpus } from "../../ffi/sys.ts";
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
    clock: (() => {
      const c = clockInfo();
      return {
        source: c.source,
        reason: c.reason,
        tscGHz: c.tscHz ? Number((c.tscHz / 1e9).toFixed(6)) : 0,
        calibrationErrorPpm: Number((c.calibErr * 1e6).toFixed(2)),
      };
    })(),
    memory: (() => {
      // the pools the engine would make, made here: the page kind is what this machine gives now
      const pools = enginePools(config);
      const hp = hugepageStatus();
      try {
        return {
          hugepages: hp.describe,
          arena: pools.arena.describe(),
          pageKind: pools.arena.kind,
          orders: config.BOT4_POOL_ORDERS,
          ticks: config.BOT4_POOL_TICKS,
          signals: config.BOT4_POOL_SIGNALS,
          ringCapacity: config.BOT4_RING_CAPACITY,
        };
      } finally {
        pools.free();
      }
    })(),
    threads: {
      cpusAllowed: processCpus().join(","),
      engineCpu: config.BOT4_ENGINE_CPU.length ? config.BOT4_ENGINE_CPU.join(",") : "not pinned",
      feedCpus: config.BOT4_FEED_CPUS.length ? config.BOT4_FEED_CPUS.join(",") : "not pinned",
    },
  };
}
