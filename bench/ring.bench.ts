/**
 * Rings across threads (two Workers, records written and read in place from TypeScript):
 *   - throughput batched (claim/publish up to 256 records per call) and unbatched (one record per
 *     call), with the fields a consumer checks and with whole 64-byte records;
 *   - round trip of one record main thread -> echo Worker -> main thread over two SPSC rings;
 *   - references in the same run: postMessage per record and per 256-record batch, and the same
 *     ring driven from C threads (raw hardware round trip and throughput).
 * Goals: batched >= 100 M/s, unbatched >= 15 M/s, RTT P50 <= 400 ns and P99 <= 1 us, >= 100x
 * postMessage. Each throughput figure is the median of several runs.
 */
import { cpus } from "node:os";
import { alignedBuffer } from "../ffi/buffers.ts";
import { now } from "../ffi/clock.ts";
import { K } from "../ffi/lib.ts";
import { SpscRing } from "../ffi/ring.ts";
import type { BenchRole } from "./ring-worker.ts";
import { done, figure, percentiles, section } from "./harness.ts";

const WORKER = new URL("./ring-worker.ts", import.meta.url).href;
const QUICK = process.argv.includes("--quick");
const REPS = QUICK ? 3 : 5;

function start(role: BenchRole): { w: Worker; ready: Promise<unknown>; result: Promise<any> } {
  const w = new Worker(WORKER, { workerData: role } as WorkerOptions);
  let first = true;
  let onReady!: (v: unknown) => void, onResult!: (v: unknown) => void;
  const ready = new Promise((r) => (onReady = r));
  const result = new Promise((r) => (onResult = r));
  w.addEventListener("message", (e) => {
    const d = (e as MessageEvent).data;
    if (first && d?.ready) {
      first = false;
      onReady(d);
    } else onResult(d);
  });
  w.addEventListener("error", (e) => {
    console.error(`bench worker failed: ${(e as ErrorEvent).message}`);
    process.exit(1);
  });
  return { w, ready, result };
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

async function throughput(count: number, batch: number, full: boolean): Promise<number> {
  const rates: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const ring = SpscRing.create(1 << 14);
    const flags = new SharedArrayBuffer(16);
    const p = start({ role: "producer", ring: ring.handle, count, batch, full, flags });
    const c = start({ role: "consumer", ring: ring.handle, count, batch: Math.max(batch, 1), full, flags });
    await Promise.all([p.ready, c.ready]);
    Atomics.store(new Int32Array(flags), 0, 1);
    Atomics.notify(new Int32Array(flags), 0);
    const [, res] = await Promise.all([p.result, c.result]);
    p.w.terminate();
    c.w.terminate();
    ring.free();
    if (res.bad !== 0 || res.got !== count) throw new Error(`ring bench lost order: ${res.bad} bad of ${res.got}`);
    rates.push(count / (res.ns / 1e9));
  }
  return median(rates);
}

async function postMessageRate(count: number, batch: number): Promise<number> {
  const rates: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const r = start({ role: "pm-receiver", count, batch });
    await r.ready;
    if (batch === 1) {
      for (let i = 0; i < count; i++) r.w.postMessage({ ts: i, price: i * 0.5, size: 1, seq: i, instrument: 7 });
    } else {
      for (let i = 0; i < count; i += batch) {
        const a = new Float64Array(batch * 8);
        for (let k = 0; k < batch; k++) a[k * 8 + 2] = (i + k) * 0.5;
        r.w.postMessage(a);
      }
    }
    const res = await r.result;
    r.w.terminate();
    rates.push(res.got / (res.ns / 1e9));
  }
  return median(rates);
}

async function roundTrips(n: number): Promise<Float64Array> {
  const ping = SpscRing.create(64), pong = SpscRing.create(64);
  const flags = new SharedArrayBuffer(16);
  const e = start({ role: "echo", ping: ping.handle, pong: pong.handle, count: n, flags });
  await e.ready;
  Atomics.store(new Int32Array(flags), 0, 1);
  Atomics.notify(new Int32Array(flags), 0);
  const out = new Float64Array(n);
  const pf = ping.f64, qf = pong.f64, pm = ping.mask, qm = pong.mask;
  for (let i = 0; i < n; i++) {
    const t0 = now();
    while (ping.claim(1) === 0);
    pf[(ping.headSlot & pm) * 8] = t0;
    ping.publish(1);
    while (pong.available(1) === 0);
    const back = qf[(pong.tailSlot & qm) * 8]!;
    pong.release(1);
    const t1 = now();
    out[i] = back === t0 ? t1 - t0 : NaN;
  }
  await e.result;
  e.w.terminate();
  ping.free();
  pong.free();
  return out;
}

const cores = cpus().length;
section(`SPSC ring across two Workers (${cores} CPUs, ${REPS} runs each, median)`);
const NB = QUICK ? 5_000_000 : 20_000_000;
const NU = QUICK ? 1_000_000 : 4_000_000;
const batched = await throughput(NB, 256, false);
figure("ring_batched_per_s", batched, "records/s", "256 per claim; seq+price+size written and read in place; goal >= 1e8");
const batchedFull = await throughput(NB, 256, true);
figure("ring_batched_full_record_per_s", batchedFull, "records/s", "whole 64-byte records written, 6 fields read");
const unbatched = await throughput(NU, 1, false);
figure("ring_unbatched_per_s", unbatched, "records/s", "one record per claim/publish; goal >= 1.5e7");
const nativeRate = K.bot4_ring_throughput_native(NB, 256, 1 << 14);
figure("ring_c_threads_batched_per_s", nativeRate, "records/s", "reference: same ring, C producer thread -> C consumer, 256 per push");

section("round trip main thread -> echo Worker -> main thread (one record each way)");
const RTT_N = QUICK ? 100_000 : 400_000;
const rtt = await roundTrips(RTT_N);
const lost = rtt.filter((v) => Number.isNaN(v)).length;
if (lost) throw new Error(`${lost} round trips came back with the wrong record`);
// one-second-ish windows: the machine is shared, so report the overall figure and the quietest window
const W = 50_000;
const windows: Array<ReturnType<typeof percentiles>> = [];
for (let i = 0; i + W <= rtt.length; i += W) windows.push(percentiles(rtt.slice(i, i + W)));
const all = percentiles(rtt);
figure("ring_rtt_p50_ns", all.p50, "ns", "goal <= 400");
figure("ring_rtt_p99_ns", all.p99, "ns", "goal <= 1000");
figure("ring_rtt_p999_ns", all.p999, "ns");
const quiet = windows.reduce((a, b) => (b.p99 < a.p99 ? b : a));
figure("ring_rtt_quietest_window_p50_ns", quiet.p50, "ns", `${W} round trips`);
figure("ring_rtt_quietest_window_p99_ns", quiet.p99, "ns");
figure("ring_rtt_median_window_p99_ns", median(windows.map((w) => w.p99)), "ns");
const cOut = alignedBuffer(RTT_N * 8);
const rc = K.bot4_ring_rtt_native(RTT_N, cOut.ptr, -1, -1);
if (rc !== 0) throw new Error(`native RTT failed: errno ${rc}`);
const cRtt = percentiles(new Float64Array(cOut.buffer, cOut.byteOffset, RTT_N).slice());
figure("ring_rtt_c_threads_p50_ns", cRtt.p50, "ns", "reference: two C threads, same rings");
figure("ring_rtt_c_threads_p99_ns", cRtt.p99, "ns");

section("postMessage reference (main thread -> Worker, same run)");
const NP = QUICK ? 200_000 : 1_000_000;
const pm1 = await postMessageRate(NP, 1);
figure("postmessage_per_record_per_s", pm1, "records/s", "one object per message");
const pm256 = await postMessageRate(NP * 4, 256);
figure("postmessage_batch256_per_s", pm256, "records/s", "a Float64Array of 256 records per message");
figure("ring_batched_vs_postmessage_x", batched / pm1, "x", "goal >= 100");
figure("ring_batched_vs_postmessage_batched_x", batched / pm256, "x");
figure("ring_unbatched_vs_postmessage_x", unbatched / pm1, "x");
done();
