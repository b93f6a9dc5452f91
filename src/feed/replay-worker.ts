/**
 * A replay feed: publishes a tape of recorded tick records into its ring, paced by the recorded
 * receive times (speed 1 = real time) or as fast as the ring takes them (speed 0 = max). Each
 * record is stamped with the bot4 clock as it is published, so the engine measures
 * receive-to-consume latency exactly as for a live feed. Replay waits on a full ring
 * (backpressure; each wait counted) instead of dropping: recorded data is never lost.
 */
import { workerData } from "node:worker_threads";
import { alignedRegion } from "../../ffi/buffers.ts";
import { now } from "../../ffi/clock.ts";
import { SpscRing } from "../../ffi/ring.ts";
import { pinThisThread } from "../../ffi/sys.ts";
import { T, TICK_BYTES, TICK_F64, TICK_U32 } from "../domain/tick.ts";
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

  while (Atomics.load(i32, I.START) === 0 && Atomics.load(i32, I.STOP) === 0) Atomics.wait(i32, I.START, 0, 100);

  const t0 = now();
  const r0 = count > 0 ? rec[0]! : 0;
  let produced = 0, waits = 0;
  let i = 0;
  while (i < count) {
    if (Atomics.load(i32, I.STOP) === 1) break;
    let t = now();
    if (speed > 0) {
      const due = t0 + (rec[i]! - r0) / speed;
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
      while (j < limit && rec[j]! <= horizon) j++;
    } else j = limit;
    let want = j - i;
    let n = ring.claim(want);
    while (n === 0) {
      waits++;
      if (Atomics.load(i32, I.STOP) === 1) break;
      n = ring.claim(want);
    }
    if (n === 0) break;
    const head = ring.headSlot;
    t = now();
    const lo = t >>> 0, hi = (t / TWO32) >>> 0;
    for (let k = 0; k < n; k++) {
      const d = ((head + k) & mask) * TICK_F64;
      const s = (i + k) * TICK_F64;
      for (let q = 0; q < TICK_F64; q++) dst[d + q] = src[s + q]!;
      const w = ((head + k) & mask) * TICK_U32 + T.TS_RECV_U32;
      dstU32[w] = lo;
      dstU32[w + 1] = hi;
    }
    ring.publish(n);
    wakeEngine(ctl);
    i += n;
    produced += n;
    f64[F.FEED_PRODUCED + feed] = produced;
    f64[F.FEED_WAITS + feed] = waits;
  }
  f64[F.FEED_DROPPED + feed] = ring.drops;
  Atomics.store(i32, I.FEED_DONE + feed, 1);
  wakeEngine(ctl);
  postMessage({ type: "done", feed, produced, waits });
}

main(workerData as ReplayInit);
