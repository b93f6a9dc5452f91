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
  /** i32[0] GO, i32[1] feed finished; f64[1] start stamp (bot4 clock ns); i32[4] records of the
   * untimed opening chunks, i32[5] set once the feed has pushed them (32 bytes) */
  flags: SharedArrayBuffer;
  /** passes over the recording before the timed one */
  warmPasses: number;
  /** capacity of the ring (records): the warm-up's own ring has at least this many */
  ringRecords: number;
  /** share of the chunks each role runs untimed through its own parser and engine before the start */
  warmShare: number;
}

/** how long the feed keeps offering records to a full ring before it naps (ns) */
const FULL_SPIN_NS = 5e6;

/** a pause after the warm-up (ms) */
const QUIET_MS = 100;

export interface PipelineResult {
  role: string;
  /** records handled in the timed run (after the untimed opening chunks) */
  records: number;
  /** records of the untimed opening chunks */
  warmRecords: number;
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

type Stage = ReturnType<typeof stage>;
type Eng = ReturnType<typeof buildEngine>;

/**
 * The roles' loop bodies, one function each: the warm-up runs these very functions (over a ring
 * of its own), so the timed run starts in the code the JIT compiled for them, not in a loop it
 * meets for the first time (measured before: the ring calls and the role loops were compiled
 * during the timed run, on the CPU the other role needed).
 */
function bothChunk(cp: ChunkParser, c: number, s: Stage, e: Eng): number {
  const r = cp.parse(c, s.ptr, STAGE_RECORDS);
  step(e, s.u8, s.u32, s.f64, s.ptr, 0xffffffff, 0, r);
  return r;
}

/** parses chunk c and pushes its records; returns naps taken on a ring that stayed full */
function feedChunk(cp: ChunkParser, c: number, s: Stage, ring: SpscRing, flags: Int32Array, out: { records: number }): number {
  const r = cp.parse(c, s.ptr, STAGE_RECORDS);
  let put = 0, naps = 0, fullSince = -1;
  for (;;) {
    put += ring.push(s.ptr + put * TICK_BYTES, r - put);
    if (put >= r) break;
    // a full ring: the engine releases an eighth of it at a time, every ~100 µs when it runs
    // behind, so keep offering (each try one FFI call reading the consumer's index, a line the
    // engine writes only when it releases) for up to FULL_SPIN_NS; only a ring that stays full
    // that long gets a nap. Naps were the old rule after a few thousand tries (~50 µs): the
    // kernel made them last milliseconds here, and the engine drained the ring and sat idle
    if (fullSince < 0) fullSince = now();
    else if (now() - fullSince > FULL_SPIN_NS) {
      Atomics.wait(flags, 0, 1, 0.05);
      naps++;
      fullSince = -1;
    }
  }
  out.records = r;
  return naps;
}

/**
 * Engine steps (<= MAX_BATCH records each) over what the ring holds now; returns the records
 * taken. Slots go back to the feed every `releaseEvery` records and when the ring runs dry, not
 * after each step: the feed re-reads the consumer's index only when it runs out of room, so the
 * two cores trade the ring's index lines once per release instead of once per step.
 */
function engineDrain(e: Eng, ring: SpscRing, releaseEvery: number): number {
  const core = e.core, clock = e.clock;
  const u8 = ring.u8, u32 = ring.u32, f64 = ring.f64, p = ring.recordsPtr, mask = ring.mask;
  let taken = 0, held = 0, from = ring.tailSlot;
  for (;;) {
    const n = ring.availableAfter(held, MAX_BATCH);
    if (n === 0) break;
    e.deliver();
    core.onRecords(u8, u32, f64, p, mask, from + held, n, clock);
    held += n;
    if (held >= releaseEvery) {
      ring.release(held);
      taken += held;
      from += held;
      held = 0;
    }
  }
  if (held > 0) ring.release(held);
  return taken + held;
}

/** an eighth of the ring: the feed always has room for a chunk of that size */
function releaseEvery(ring: SpscRing): number {
  return Math.max(MAX_BATCH, ring.capacity >>> 3);
}

function warm(job: PipelineJob): void {
  const s = stage();
  const ring = job.role === "both" ? null : SpscRing.create(Math.max(job.ringRecords, STAGE_RECORDS));
  const flags = new Int32Array(2);
  const out = { records: 0 };
  try {
    for (let p = 0; p < job.warmPasses; p++) {
      const cp = new ChunkParser(job.frames);
      const e = job.role === "feed" ? null : buildEngine(job.spec);
      for (let c = 0; c < cp.chunks; c++) {
        if (job.role === "both") bothChunk(cp, c, s, e!);
        else if (job.role === "feed") {
          feedChunk(cp, c, s, ring!, flags, out);
          ring!.release(ring!.available(out.records));
        } else {
          const r = cp.parse(c, s.ptr, STAGE_RECORDS);
          ring!.push(s.ptr, r);
          engineDrain(e!, ring!, releaseEvery(ring!));
        }
      }
    }
  } finally {
    ring?.free();
  }
}

function orders(core: { summary(): { perVenue: Array<{ orders: number }> } }): number {
  return core.summary().perVenue.reduce((a, v) => a + v.orders, 0);
}

function run(job: PipelineJob): PipelineResult {
  const flags = new Int32Array(job.flags, 0, 2);
  const prefix = new Int32Array(job.flags, 16, 2);
  const stamps = new Float64Array(job.flags, 8, 1);
  warm(job);
  const s = stage();
  const cp = job.role === "engine" ? null : new ChunkParser(job.frames);
  const e = job.role === "feed" ? null : buildEngine(job.spec);
  const ring = job.role === "both" ? null : SpscRing.attach(job.ring);
  const every = ring ? releaseEvery(ring) : 0;
  // the opening chunks run untimed through this run's own parser and engine before the start
  // (as TradingCore's first decisions in measure.ts: once-per-life costs of a fresh engine)
  const chunks = cp ? cp.chunks : 0;
  const first = Math.floor(chunks * job.warmShare);
  let warmRecords = 0;
  if (job.role === "both") {
    for (let c = 0; c < first; c++) warmRecords += bothChunk(cp!, c, s, e!);
  } else if (job.role === "feed") {
    const out = { records: 0 };
    for (let c = 0; c < first; c++) {
      feedChunk(cp!, c, s, ring!, flags, out);
      warmRecords += out.records;
    }
    prefix[0] = warmRecords;
    Atomics.store(prefix, 1, 1);
  } else {
    while (Atomics.load(prefix, 1) === 0 || warmRecords < prefix[0]!) warmRecords += engineDrain(e!, ring!, every);
  }
  // compilations queued by now finish before the start, not on the timed run's CPUs
  Atomics.wait(flags, 1, 0, QUIET_MS);
  postMessage({ ready: true });
  while (Atomics.load(flags, 0) === 0) Atomics.wait(flags, 0, 0, 50);
  const t0 = stamps[0]!;
  const batches0 = e ? e.core.counters.batches : 0;
  const orders0 = e ? orders(e.core) : 0;
  let records = 0, batches = 0, busyNs = 0, fullWaits = 0;
  if (job.role === "both") {
    for (let c = first; c < chunks; c++) records += bothChunk(cp!, c, s, e!);
  } else if (job.role === "feed") {
    const out = { records: 0 };
    for (let c = first; c < chunks; c++) {
      fullWaits += feedChunk(cp!, c, s, ring!, flags, out);
      records += out.records;
      batches++;
    }
    Atomics.store(flags, 1, 1);
  } else {
    // waiting is stamped where it starts and ends (two clock reads per wait), so the steps
    // themselves run without timers, as in the one-thread run they are compared with
    let idleNs = 0;
    for (;;) {
      const n = engineDrain(e!, ring!, every);
      if (n > 0) {
        records += n;
        continue;
      }
      const idleFrom = now();
      while (ring!.available(1) === 0 && Atomics.load(flags, 1) === 0);
      idleNs += now() - idleFrom;
      if (ring!.available(1) === 0) break;
    }
    busyNs = now() - t0 - idleNs;
  }
  const t1 = now();
  if (e) batches = e.core.counters.batches - batches0;
  return { role: job.role, records, warmRecords, ns: t1 - t0, batches, orders: e ? orders(e.core) - orders0 : 0, busyNs, fullWaits };
}

const result = run(workerData as PipelineJob);
postMessage({ result });
