/**
 * Thread placement and the machine's huge-page facts. Pinning applies to the calling thread (a
 * Bun Worker is an OS thread). Nothing here throws on a refusal: the caller gets `ok: false`
 * and a sentence saying why and what to do, and decides (the engine runs unpinned and says so).
 */
import { readFileSync } from "node:fs";
import { K } from "./lib.ts";
import { SysConst } from "./sym/mem.ts";

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

/**
 * Pins the calling thread to exactly `cpus`, or leaves it as it was and says why not. (The kernel
 * silently drops CPUs outside the thread's cpuset; a partial pin is undone and reported.)
 */
export function pinThisThread(cpus: readonly number[]): PinResult {
  if (cpus.length === 0) return { ok: true, message: "not pinned (no CPU configured)" };
  const want = [...new Set(cpus)].sort((x, y) => x - y);
  const refuse = (bad: number[]) => ({
    ok: false,
    message: `CPU ${bad.join(",")} is not available to this process (allowed: ${processCpus().join(",")}); fix BOT4_ENGINE_CPU / BOT4_FEED_CPUS`,
  });
  const invalid = want.filter((c) => !Number.isInteger(c) || c < 0 || c >= SysConst.CPU_SETSIZE);
  if (invalid.length) return refuse(invalid);
  const before = allowedCpus();
  const rc = K.bot4_sys_pin(Int32Array.from(want), want.length);
  if (rc !== 0) {
    const outside = want.filter((c) => !processCpus().includes(c));
    return outside.length || rc === 22 ? refuse(outside.length ? outside : want) : { ok: false, message: `could not pin to CPU ${want.join(",")}: ${errnoName(rc)}` };
  }
  const got = allowedCpus();
  const dropped = want.filter((c) => !got.includes(c));
  if (dropped.length) {
    if (before.length) K.bot4_sys_pin(Int32Array.from(before), before.length);
    return refuse(dropped);
  }
  return { ok: true, message: `pinned to CPU ${want.join(",")}` };
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

export interface MlockAllOptions {
  /** lock pages mapped now (default true) */
  current?: boolean;
  /** lock pages mapped later (default true) */
  future?: boolean;
  /** lock pages only as they are first touched (MCL_ONFAULT; default false) */
  onFault?: boolean;
}

/** Locks the process's pages in RAM (all current and future ones by default). */
export function mlockAll(o: MlockAllOptions = {}): PinResult {
  const flags =
    (o.current === false ? 0 : SysConst.MLOCK_CURRENT) | (o.future === false ? 0 : SysConst.MLOCK_FUTURE) | (o.onFault ? SysConst.MLOCK_ONFAULT : 0);
  const rc = K.bot4_sys_mlockall(flags);
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

/**
 * The kernel's own cost of one write to a loopback TCP socket (C send(), TCP_NODELAY), each of n
 * writes of `bytes` bytes timed alone with the bot4 clock: the floor under any order path that
 * ends in a socket write on this machine (see c/sys.h). Throws with the errno on a socket failure.
 */
export interface Gaps {
  ms: number;
  /** gaps between two consecutive clock reads over 5 / 10 / 30 / 100 µs */
  over5us: number;
  over10us: number;
  over30us: number;
  over100us: number;
  maxNs: number;
  /** share of the time lost in gaps over 5 µs */
  lostShare: number;
}

/** How often this thread is kept off its CPU: `ms` milliseconds of a C loop reading the clock (see c/sys.h). */
export function gaps(ms: number): Gaps {
  const out = new Float64Array(7);
  const rc = K.bot4_sys_gaps(ms, out);
  if (rc !== 0) throw new RangeError(`gap probe: the duration must be in (0, 60000] ms, got ${ms}`);
  return { ms, over5us: out[0]!, over10us: out[1]!, over30us: out[2]!, over100us: out[3]!, maxNs: out[4]!, lostShare: out[5]! };
}

export function sendFloor(n: number, bytes: number): Float64Array {
  const out = new Float64Array(n);
  const rc = K.bot4_sys_send_floor(n, bytes, out);
  if (rc !== 0) throw new Error(`loopback send() reference could not run: ${errnoName(rc)}`);
  return out;
}
