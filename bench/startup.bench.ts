/**
 * The executable as an operator runs it (build/bot4): start-up time of `bot4 --version` and
 * `bot4 info` (median and p99 over repeated spawns, beside `bun --version` and `node -e 0` measured
 * in the same run), resident memory of a paper run while it replays in real time (idle engine:
 * parked between ticks) and at max speed, and end-to-end throughput of `bot4 run --speed max`.
 * Goals: `bot4 --version` <= 50 ms, idle RSS <= 60 MB.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { done, figure, percentiles, section } from "./harness.ts";

const ROOT = resolve(import.meta.dir, "..");
const BIN = join(ROOT, "build/bot4");
const QUICK = process.argv.includes("--quick");
if (!existsSync(BIN)) {
  console.error(`${BIN} is missing: run \`make\` first`);
  process.exit(1);
}
const ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" };

function spawnMs(cmd: string[], n: number): ReturnType<typeof percentiles> {
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const p = Bun.spawnSync(cmd, { env: ENV, stdout: "ignore", stderr: "ignore" });
    t[i] = performance.now() - t0;
    if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${p.exitCode}`);
  }
  return percentiles(t);
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

section("start-up (spawn to exit, ms)");
const N = QUICK ? 10 : 30;
const v = spawnMs([BIN, "--version"], N);
figure("startup_version_ms", v.p50, "ms", `p99 ${v.p99.toFixed(1)} ms; goal <= 50`);
const info = spawnMs([BIN, "info"], Math.ceil(N / 2));
figure("startup_info_ms", info.p50, "ms", "loads the kernels, checks layouts, reads the CPU");
const bunV = spawnMs([process.execPath, "--version"], N);
figure("ref_bun_version_ms", bunV.p50, "ms", "reference: the Bun runtime alone");
try {
  const nodeV = spawnMs(["node", "-e", "0"], Math.ceil(N / 2));
  figure("ref_node_empty_ms", nodeV.p50, "ms", "reference: node -e 0");
} catch {
  /* node absent: no reference */
}

section("resident memory (MB)");
{
  const peak = (args: string[]) => {
    const p = Bun.spawnSync([BIN, ...args], { env: ENV, stdout: "ignore", stderr: "ignore" });
    return Number(p.resourceUsage?.maxRSS ?? NaN) / 1048576; // Bun reports maxRSS in bytes
  };
  figure("rss_version_peak_mb", peak(["--version"]), "MB", "the runtime and the CLI entry alone");
  figure("rss_info_peak_mb", peak(["info"]), "MB", "one thread: kernels loaded, engine arena and pools mapped");
}
for (const [market, name, note] of [
  ["replay", "rss_idle_run", "real-time tape replay, engine parked between ticks; goal <= 60"],
  ["sim", "rss_idle_run_sim", "the default run: the venue simulator in the same process + the native feed"],
] as const) {
  const p = Bun.spawn([BIN, "run", "--market", market, "--speed", "1", "--duration", "4"], { env: ENV, stdout: "ignore", stderr: "ignore" });
  const samples: number[] = [];
  await Bun.sleep(1500);
  for (let i = 0; i < 10; i++) {
    samples.push(rssMb(p.pid));
    await Bun.sleep(200);
  }
  await p.exited;
  figure(`${name}_mb`, percentiles(samples).p50, "MB", note);
  figure(`${name}_max_mb`, Math.max(...samples), "MB");
}
{
  const p = Bun.spawn([BIN, "run", "--market", "replay", "--speed", "max", "--json"], { env: ENV, stdout: "pipe", stderr: "ignore" });
  let peak = 0;
  const poll = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(p.pid));
    } catch {
      /* exited */
    }
  }, 20);
  const out = await new Response(p.stdout).text();
  await p.exited;
  clearInterval(poll);
  const r = JSON.parse(out);
  figure("rss_max_speed_run_peak_mb", peak, "MB");
  section("end to end: bot4 run --speed max (bundled data, 2 feeds -> rings -> engine)");
  figure("e2e_run_ticks", r.consumed, "ticks", `${r.feeds.reduce((a: number, f: { dropped: number }) => a + f.dropped, 0)} dropped`);
  figure("e2e_run_throughput_per_s", r.throughputPerS, "ticks/s", `includes thread start-up; the data is only ${Math.round(r.consumed / 1000)} k ticks`);
  figure("e2e_recv_to_consume_p50_ns", r.latencyNs.p50, "ns");
  figure("e2e_recv_to_consume_p99_ns", r.latencyNs.p99, "ns");
}
{
  const p = Bun.spawnSync([BIN, "run", "--market", "replay", "--speed", "20", "--json"], { env: ENV, stdout: "pipe", stderr: "ignore" });
  const r = JSON.parse(p.stdout.toString());
  section("end to end: bot4 run --speed 20 (paced replay: latency of a feed that is not saturated)");
  figure("e2e_paced_recv_to_consume_p50_ns", r.latencyNs.p50, "ns");
  figure("e2e_paced_recv_to_consume_p99_ns", r.latencyNs.p99, "ns");
  figure("e2e_paced_recv_to_consume_p999_ns", r.latencyNs.p999, "ns");
}
done();
