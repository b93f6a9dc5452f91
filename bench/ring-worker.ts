/**
 * Worker side of bench/ring.bench.ts. Roles: a TypeScript producer and consumer over an SPSC ring
 * (records written / read in place), an echo thread for round trips, and a postMessage receiver
 * for the reference. Each waits for GO in the shared flags so timings start together.
 */
import { workerData } from "node:worker_threads";
import { now } from "../ffi/clock.ts";
import { SpscRing } from "../ffi/ring.ts";

export type BenchRole =
  | { role: "producer"; ring: number; count: number; batch: number; full: boolean; flags: SharedArrayBuffer }
  | { role: "consumer"; ring: number; count: number; batch: number; full: boolean; flags: SharedArrayBuffer }
  | { role: "echo"; ping: number; pong: number; count: number; flags: SharedArrayBuffer }
  | { role: "pm-receiver"; count: number; batch: number };

export const GO = 0;

function waitGo(flags: Int32Array): void {
  while (Atomics.load(flags, GO) === 0) Atomics.wait(flags, GO, 0, 10);
}

function run(r: BenchRole): void {
  switch (r.role) {
    case "producer": {
      const flags = new Int32Array(r.flags);
      const ring = SpscRing.attach(r.ring);
      const { f64, u32, mask } = ring;
      postMessage({ ready: true });
      waitGo(flags);
      let seq = 0;
      while (seq < r.count) {
        const n = ring.claim(r.batch < r.count - seq ? r.batch : r.count - seq);
        if (n === 0) continue;
        const h = ring.headSlot;
        for (let k = 0; k < n; k++) {
          const s = (h + k) & mask;
          const d = s * 8;
          const q = seq + k;
          if (r.full) {
            // a whole 64-byte record: timestamps, price, size, level, seq, ids
            f64[d] = q;
            f64[d + 1] = q;
            f64[d + 2] = q * 0.5;
            f64[d + 3] = 1;
            f64[d + 4] = q * 0.5 + 0.1;
            f64[d + 5] = 2;
            u32[s * 16 + 12] = q;
            u32[s * 16 + 13] = 0;
            u32[s * 16 + 14] = 7;
            u32[s * 16 + 15] = 0x0101_0001;
          } else {
            // the fields a consumer checks: seq, price, size
            u32[s * 16 + 12] = q;
            f64[d + 2] = q * 0.5;
            f64[d + 3] = 1;
          }
        }
        ring.publish(n);
        seq += n;
      }
      postMessage({ produced: seq });
      return;
    }
    case "consumer": {
      const flags = new Int32Array(r.flags);
      const ring = SpscRing.attach(r.ring);
      const { f64, u32, mask } = ring;
      postMessage({ ready: true });
      waitGo(flags);
      let got = 0, bad = 0, sum = 0, t0 = 0;
      while (got < r.count) {
        const n = ring.available(r.batch);
        if (n === 0) continue;
        if (got === 0) t0 = now();
        const t = ring.tailSlot;
        for (let k = 0; k < n; k++) {
          const s = (t + k) & mask;
          if (u32[s * 16 + 12] !== ((got + k) >>> 0)) bad++;
          sum += f64[s * 8 + 2]! + f64[s * 8 + 3]!;
          if (r.full) sum += f64[s * 8]! + f64[s * 8 + 4]! + f64[s * 8 + 5]!;
        }
        ring.release(n);
        got += n;
      }
      const ns = now() - t0;
      postMessage({ got, bad, ns, sum });
      return;
    }
    case "echo": {
      const flags = new Int32Array(r.flags);
      const ping = SpscRing.attach(r.ping);
      const pong = SpscRing.attach(r.pong);
      const pf = ping.f64, qf = pong.f64, pm = ping.mask, qm = pong.mask;
      postMessage({ ready: true });
      waitGo(flags);
      for (let i = 0; i < r.count; i++) {
        while (ping.available(1) === 0);
        const v = pf[(ping.tailSlot & pm) * 8]!;
        ping.release(1);
        while (pong.claim(1) === 0);
        qf[(pong.headSlot & qm) * 8] = v;
        pong.publish(1);
      }
      postMessage({ echoed: r.count });
      return;
    }
    case "pm-receiver": {
      let got = 0, sum = 0, t0 = 0;
      self.onmessage = (e: MessageEvent) => {
        if (got === 0) t0 = now();
        const d = e.data;
        if (d instanceof Float64Array) {
          for (let k = 0; k < d.length; k += 8) sum += d[k + 2]!;
          got += d.length / 8;
        } else {
          sum += d.price;
          got++;
        }
        if (got >= r.count) postMessage({ got, ns: now() - t0, sum });
      };
      postMessage({ ready: true });
      return;
    }
  }
}

run(workerData as BenchRole);
