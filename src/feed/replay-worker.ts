/**
 * A replay feed: publishes a tape of recorded tick records into its ring, paced by the recorded
 * receive times (speed 1 = real time) or as fast as the ring takes them (speed 0 = max). Each
 * record is stamped with the bot4 clock as it is published, so the engine measures
 * receive-to-consume latency exactly as for a live feed. Replay waits on a full ring
 * (backpressure; each wait counted) instead of dropping: recorded data is never lost.
 *
 * Load testing: `loops` replays the tape again and again (soak runs), and `rate` publishes at a
 * fixed number of records per second regardless of the recorded times, like a venue that does
 * not wait: what a full ring cannot take is dropped and counted (peak-load runs find the rate of
 * the first drop).
 */
import { workerData } from "node:worker_threads";
import { alignedRegion } from "../../ffi/buffers.ts";
import { now } from "../../ffi/clock.ts";
import { SpscRing } from "../../ffi/ring.ts";
import { pinThisThread } from "../../ffi/sys.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32, TickFlag, TickKind, TickStatus } from "../domain/tick.ts";
import { attachControl, F, I, wakeEngine } from "../engine/control.ts";

export interface ReplayInit {
  feed: number;
  control: SharedArrayBuffer;
  ring: number;
  tape: { buffer: SharedArrayBuffer; byteOffset: number; count: number };
  recordedRecvNs: Float64Array;
  /** 0 = as fast as possible */
  speed: number;
  cpus: number[];
  /** times the tape is replayed (default 1; 0 = until stopped) */
  loops?: number;
  /** fixed records per second (0 = paced by `speed`); a full ring then drops instead of waiting */
  rate?: number;
}

const MAX_BATCH = 256;
const TWO32 = 4294967296;

function main(init: ReplayInit): void {
  const ctl = attachControl(init.control);
  const { i32, f64 } = ctl;
  if (init.cpus.length) pinThisThread(init.cpus);
  const ring = SpscRing.attach(init.ring);
  const tape = alignedRegion(init.tape.buffer, init.tape.byteOffset, init.tape.count * TICK_BYTES);
  const src = new Float64Array(tape.buffer, tape.byteOffset, init.tape.count * TICK_F64);
  const rec = init.recordedRecvNs;
  const count = init.tape.count;
  const dst = ring.f64;
  const dstU32 = ring.u32;
  const mask = ring.mask;
  const speed = init.speed;
  const feed = init.feed;

  // instruments whose books this tape feeds: a new pass tells the engine their stream restarted
  const srcU8 = new Uint8Array(tape.buffer, tape.byteOffset, count * TICK_BYTES);
  const srcU32 = new Uint32Array(tape.buffer, tape.byteOffset, count * TICK_U32);
  const booked = new Map<number, number>();
  for (let k = 0; k < count; k++) {
    if (srcU8[k * TICK_BYTES + T.KIND_U8] === TickKind.level) booked.set(srcU32[k * TICK_U32 + T.INSTRUMENT_U32]!, srcU32[k * TICK_U32 + (T.VENUE_U16 >> 1)]! & 0xffff);
  }
  const dstU8 = ring.u8;

  while (Atomics.load(i32, I.START) === 0 && Atomics.load(i32, I.STOP) === 0) Atomics.wait(i32, I.START, 0, 100);

  const loops = init.loops ?? 1;
  const rate = init.rate ?? 0;
  const t0 = now();
  const r0 = count > 0 ? rec[0]! : 0;
  let produced = 0, waits = 0, dropped = 0;
  let i = 0;
  let loop = 0;
  // rate mode: record number `sent` is due at t0 + sent / rate
  let sent = 0;
  let shift = 0;
  for (;;) {
    if (i >= count) {
      if (count === 0 || (loops > 0 && ++loop >= loops)) break;
      // the next pass follows the last record by a millisecond of recorded time; its books
      // start again from the recorded snapshot, as after a reconnect
      shift += rec[count - 1]! - r0 + 1e6;
      i = 0;
      if (!restarted()) break;
    }
    if (Atomics.load(i32, I.STOP) === 1) break;
    let t = now();
    if (rate > 0) {
      const due = Math.floor(((t - t0) * rate) / 1e9) - sent;
      if (due <= 0) {
        // sleep until the next record is due (at least 50 µs: records go out in small bursts,
        // as a venue's packets do, and the feed never spins on a core the engine needs)
        const wait = ((sent + 1) * 1e9) / rate + t0 - t;
        Atomics.wait(i32, I.STOP, 0, Math.max(0.05, wait / 1e6));
        continue;
      }
      const want = Math.min(due, MAX_BATCH, count - i);
      const n = ring.claim(want);
      if (n < want) {
        // the engine is behind: a venue would not wait; what does not fit is lost, and counted
        dropped += want - n;
        f64[F.FEED_DROPPED + feed] = dropped;
      }
      publishBatch(i, n, t);
      i += want;
      sent += want;
      produced += n;
      f64[F.FEED_PRODUCED + feed] = produced;
      continue;
    }
    if (speed > 0) {
      const due = t0 + (rec[i]! + shift - r0) / speed;
      if (due > t) {
        // sleep until it is due (wakes early on STOP). No spinning: the feed's lateness is not
        // part of the measured latency (records are stamped when published), and a spinning feed
        // would take the core the engine needs on a small machine.
        Atomics.wait(i32, I.STOP, 0, (due - t) / 1e6);
        continue;
      }
    }
    // everything due now goes out as one batch
    let j = i + 1;
    const limit = Math.min(count, i + MAX_BATCH);
    if (speed > 0) {
      const horizon = r0 + (t - t0) * speed;
      while (j < limit && rec[j]! + shift <= horizon) j++;
    } else j = limit;
    let want = j - i;
    let n = ring.claim(want);
    if (n === 0) waits++;
    // a full ring: poll it every 20 µs rather than spin (the engine may need this core)
    while (n === 0) {
      if (Atomics.load(i32, I.STOP) === 1) break;
      Atomics.wait(i32, I.STOP, 0, 0.02);
      n = ring.claim(want);
    }
    if (n === 0) break;
    publishBatch(i, n, now());
    i += n;
    produced += n;
    f64[F.FEED_PRODUCED + feed] = produced;
    f64[F.FEED_WAITS + feed] = waits;
  }
  f64[F.FEED_DROPPED + feed] = ring.drops + dropped;
  Atomics.store(i32, I.FEED_DONE + feed, 1);
  wakeEngine(ctl);
  postMessage({ type: "done", feed, produced, waits, dropped: ring.drops + dropped, loops: loop + (i > 0 ? 1 : 0) });

  /** STATUS (stream disconnected) for every booked instrument, before a new pass; false on STOP */
  function restarted(): boolean {
    const t = now();
    const lo = t >>> 0, hi = (t / TWO32) >>> 0;
    for (const [inst, venue] of booked) {
      let n = ring.claim(1);
      while (n === 0) {
        if (Atomics.load(i32, I.STOP) === 1) return false;
        Atomics.wait(i32, I.STOP, 0, 0.02);
        n = ring.claim(1);
      }
      const slot = ring.headSlot & mask;
      dst.fill(0, slot * TICK_F64, (slot + 1) * TICK_F64);
      dst[slot * TICK_F64 + T.PRICE_F64] = TickStatus.disconnected;
      dstU32[slot * TICK_U32 + T.INSTRUMENT_U32] = inst;
      dstU32[slot * TICK_U32 + (T.VENUE_U16 >> 1)] = venue;
      dstU8[slot * TICK_BYTES + T.KIND_U8] = TickKind.status;
      dstU8[slot * TICK_BYTES + T.FLAGS_U8] = TickFlag.last;
      dstU32[slot * TICK_U32 + T.TS_RECV_U32] = lo;
      dstU32[slot * TICK_U32 + T.TS_RECV_U32 + 1] = hi;
      ring.publish(1);
    }
    wakeEngine(ctl);
    return true;
  }

  /** copies tape records i..i+n-1 into the claimed slots, stamps them received at t, publishes */
  function publishBatch(from: number, n: number, t: number): void {
    if (n === 0) return;
    const head = ring.headSlot;
    const lo = t >>> 0, hi = (t / TWO32) >>> 0;
    for (let k = 0; k < n; k++) {
      const d = ((head + k) & mask) * TICK_F64;
      const s = (from + k) * TICK_F64;
      for (let q = 0; q < TICK_F64; q++) dst[d + q] = src[s + q]!;
      const w = ((head + k) & mask) * TICK_U32 + T.TS_RECV_U32;
      dstU32[w] = lo;
      dstU32[w + 1] = hi;
    }
    ring.publish(n);
    wakeEngine(ctl);
  }
}

main(workerData as ReplayInit);
