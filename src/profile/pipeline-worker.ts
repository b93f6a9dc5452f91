/**
 * Worker of `bot4 profile`'s one-core / two-core comparison. Roles:
 *   - "both":   one thread does the whole replay: raw frames -> C parser (one call per chunk of
 *               frames) -> staging records -> TradingCore (steps of <= MAX_BATCH records);
 *   - "feed":   raw frames -> C parser -> SPSC ring (C copy of the chunk's records);
 *   - "engine": SPSC ring -> TradingCore (steps of what is available, <= MAX_BATCH records).
 * Each role first warms up over the whole recording (WARM_PASSES times, throwaway parser and
 * engine each time: the JIT's last tier is what a running engine runs on), reports ready,
 * then waits for GO; the main thread stamps the start on the shared clock just before GO, and the
 * role that processes the last record stamps the end.
 */
import { workerData } from "node:worker_threads";
import { alignedBuffer } from "../../ffi/buffers.ts";
import { now } from "../../ffi/clock.ts";
import { SpscRing } from "../../ffi/ring.ts";
import { TICK_BYTES, TICK_F64, TICK_U32 } from "../domain/tick.ts";
import { buildEngine, MAX_BATCH, step, type EngineSpec } from "./engine.ts";
import { ChunkParser, STAGE_RECORDS, type FrameShare } from "./frames.ts";

export interface PipelineJob {
  role: "both" | "feed" | "engine";
  frames: FrameShare;
  spec: EngineSpec;
  ring: number;
  /** i32[0] GO, i32[1] feed finished; f64[1] start stamp (bot4 clock ns) */
  flags: SharedArrayBuffer;
  /** passes over the recording before the timed one */
  warmPasses: number;
}

export interface PipelineResult {
  role: string;
  records: number;
  /** ns from the start stamp to the last record handled by this role */
  ns: number;
  batches: number;
  orders: number;
  /** engine role: ns not spent waiting for records (the engine steps; the rest of `ns` it waited) */
  busyNs: number;
  /** feed role: naps on a full ring (the engine was behind) */
  fullWaits: number;
}

function stage() {
  const mem = alignedBuffer(STAGE_RECORDS * TICK_BYTES);
  return {
    ptr: mem.ptr,
    u8: new Uint8Array(mem.buffer, mem.byteOffset, STAGE_RECORDS * TICK_BYTES),
    u32: new Uint32Array(mem.buffer, mem.byteOffset, STAGE_RECORDS * TICK_U32),
    f64: new Float64Array(mem.buffer, mem.byteOffset, STAGE_RECORDS * TICK_F64),
  };
}

function warm(job: PipelineJob): void {
  const s = stage();
  for (let p = 0; p < job.warmPasses; p++) {
    const cp = new ChunkParser(job.frames);
    const e = buildEngine(job.spec);
    for (let c = 0; c < cp.chunks; c++) {
      const r = cp.parse(c, s.ptr, STAGE_RECORDS);
      step(e, s.u8, s.u32, s.f64, s.ptr, 0xffffffff, 0, r);
    }
  }
}

function orders(core: { summary(): { perVenue: Array<{ orders: number }> } }): number {
  return core.summary().perVenue.reduce((a, v) => a + v.orders, 0);
}

function run(job: PipelineJob): PipelineResult {
  const flags = new Int32Array(job.flags, 0, 2);
  const stamps = new Float64Array(job.flags, 8, 1);
  warm(job);
  const s = stage();
  const cp = job.role === "engine" ? null : new ChunkParser(job.frames);
  const e = job.role === "feed" ? null : buildEngine(job.spec);
  const ring = job.role === "both" ? null : SpscRing.attach(job.ring);
  postMessage({ ready: true });
  while (Atomics.load(flags, 0) === 0) Atomics.wait(flags, 0, 0, 50);
  const t0 = stamps[0]!;
  let records = 0, batches = 0, busyNs = 0, fullWaits = 0;
  if (job.role === "both") {
    const chunks = cp!.chunks;
    for (let c = 0; c < chunks; c++) {
      const r = cp!.parse(c, s.ptr, STAGE_RECORDS);
      step(e!, s.u8, s.u32, s.f64, s.ptr, 0xffffffff, 0, r);
      records += r;
    }
    batches = e!.core.counters.batches;
  } else if (job.role === "feed") {
    const chunks = cp!.chunks;
    const r0 = ring!;
    for (let c = 0; c < chunks; c++) {
      const r = cp!.parse(c, s.ptr, STAGE_RECORDS);
      let put = 0;
      for (let tries = 0; ; tries++) {
        put += r0.push(s.ptr + put * TICK_BYTES, r - put);
        if (put >= r) break;
        // a full ring: the engine frees a batch every few µs, so keep offering for a while (each
        // try is an FFI call); only a ring that stays full gets a nap, which the kernel may make
        // far longer than asked
        if (tries < 4096) continue;
        Atomics.wait(flags, 0, 1, 0.02);
        fullWaits++;
        tries = 0;
      }
      records += r;
      batches++;
    }
    Atomics.store(flags, 1, 1);
  } else {
    const r0 = ring!;
    const core = e!.core, clock = e!.clock;
    const u8 = r0.u8, u32 = r0.u32, f64 = r0.f64, p = r0.recordsPtr, mask = r0.mask;
    // waiting is stamped where it starts and ends (two clock reads per wait), so the steps
    // themselves run without timers, as in the one-thread run they are compared with
    let idleNs = 0, idleFrom = -1;
    for (;;) {
      const n = r0.available(MAX_BATCH);
      if (n === 0) {
        if (idleFrom < 0) idleFrom = now();
        if (Atomics.load(flags, 1) === 1 && r0.available(1) === 0) break;
        continue;
      }
      if (idleFrom >= 0) {
        idleNs += now() - idleFrom;
        idleFrom = -1;
      }
      e!.deliver();
      core.onRecords(u8, u32, f64, p, mask, r0.tailSlot, n, clock);
      r0.release(n);
      records += n;
      batches++;
    }
    const end = now();
    if (idleFrom >= 0) idleNs += end - idleFrom;
    busyNs = end - t0 - idleNs;
  }
  const t1 = now();
  return { role: job.role, records, ns: t1 - t0, batches, orders: e ? orders(e.core) : 0, busyNs, fullWaits };
}

const result = run(workerData as PipelineJob);
postMessage({ result });
