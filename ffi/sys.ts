/**
 * Thread placement and the machine's huge-page facts. Pinning applies to the calling thread (a
 * Bun Worker is an OS thread). Nothing here throws on a refusal: the caller gets `ok: false`
 * and a sentence saying why and what to do, and decides (the engine runs unpinned and says so).
 */
import { readFileSync } from "node:fs";
import { K } from "./lib.ts";

const ERRNO: Record<number, string> = { 1: "EPERM (not permitted)", 12: "ENOMEM (limit reached)", 22: "EINVAL (no allowed CPU in the list)", 11: "EAGAIN" };
const errnoName = (e: number) => ERRNO[e] ?? `errno ${e}`;

/** CPUs this thread may run on (its affinity mask, e.g. limited by taskset or a cgroup). */
export function allowedCpus(): number[] {
  const out = new Int32Array(1024);
  const n = K.bot4_sys_affinity(out, out.length);
  return n < 0 ? [] : Array.from(out.subarray(0, n));
}

/** The CPU this thread runs on now. */
export function currentCpu(): number {
  return K.bot4_sys_cpu();
}

export function threadId(): number {
  return K.bot4_sys_tid();
}

export interface PinResult {
  ok: boolean;
  message: string;
}

/** Pins the calling thread to `cpus`. */
export function pinThisThread(cpus: readonly number[]): PinResult {
  if (cpus.length === 0) return { ok: true, message: "not pinned (no CPU configured)" };
  const rc = K.bot4_sys_pin(Int32Array.from(cpus), cpus.length);
  if (rc === 0) return { ok: true, message: `pinned to CPU ${cpus.join(",")}` };
  const allowed = processCpus();
  const outside = cpus.filter((c) => !allowed.includes(c));
  if (outside.length) {
    return { ok: false, message: `CPU ${outside.join(",")} is not available to this process (allowed: ${allowed.join(",")}); fix BOT4_ENGINE_CPU / BOT4_FEED_CPUS` };
  }
  return { ok: false, message: `could not pin to CPU ${cpus.join(",")}: ${errnoName(rc)}` };
}

/** CPUs the process may use (its main thread's mask, from /proc/self/status). */
export function processCpus(): number[] {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) {
      const out: number[] = [];
      for (const part of m[1]!.split(",")) {
        const [a, b] = part.split("-").map(Number);
        for (let c = a!; c <= (b ?? a!); c++) out.push(c);
      }
      return out;
    }
  } catch {
    /* no procfs */
  }
  return allowedCpus();
}

/** Locks all current and future pages of the process in RAM. */
export function mlockAll(): PinResult {
  const rc = K.bot4_sys_mlockall();
  return rc === 0
    ? { ok: true, message: "all memory locked in RAM" }
    : { ok: false, message: `mlockall failed: ${errnoName(rc)}; raise the memlock limit (ulimit -l unlimited, or LimitMEMLOCK=infinity in the systemd unit) or set BOT4_MLOCK=off` };
}

export interface HugepageStatus {
  /** explicit 2 MiB pages reserved (vm.nr_hugepages) and free */
  total: number;
  free: number;
  pageKb: number;
  /** transparent huge pages mode: always, madvise or never ("unknown" if unreadable) */
  thp: string;
  describe: string;
}

function meminfoField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/** What the kernel offers: reserved huge pages and the THP mode. */
export function hugepageStatus(): HugepageStatus {
  let meminfo = "";
  let thp = "unknown";
  try {
    meminfo = readFileSync("/proc/meminfo", "utf8");
  } catch {
    /* not Linux procfs: all zero */
  }
  try {
    thp = /\[(\w+)\]/.exec(readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8"))?.[1] ?? "unknown";
  } catch {
    /* no THP support */
  }
  const total = meminfoField(meminfo, "HugePages_Total");
  const free = meminfoField(meminfo, "HugePages_Free");
  const pageKb = meminfoField(meminfo, "Hugepagesize");
  const describe =
    total > 0
      ? `${free} of ${total} huge pages of ${pageKb / 1024} MiB free; THP ${thp}`
      : `no huge pages reserved (reserve some with \`sysctl vm.nr_hugepages=64\`); THP ${thp}${thp === "never" ? " (enable with `echo madvise > /sys/kernel/mm/transparent_hugepage/enabled`)" : ""}`;
  return { total, free, pageKb, thp, describe };
}
