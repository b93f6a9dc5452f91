/**
 * The control block shared by the orchestrator, the feed workers and the engine thread: one
 * SharedArrayBuffer, flags read with Atomics, counters with a single writer each (the engine
 * writes engine counters, feed f writes its own), so the status line reads them without locks.
 */
export const MAX_FEEDS = 16;

/** Int32 slots. */
export const I = {
  STOP: 0, // orchestrator -> everyone: 1 = stop now
  START: 1, // orchestrator -> feeds: 1 = begin replay (all threads ready)
  ENGINE_PARKED: 2, // engine -> feeds: 1 = engine sleeps on WAKE; a publisher must notify
  WAKE: 3, // futex word the engine parks on
  ENGINE_DONE: 4,
  FEEDS_STOP: 5, // orchestrator -> live feeds: stop producing (the engine then drains and stops)
  FEED_DONE: 8, // + feed index: 1 = that feed published its last record
} as const;
const INT_SLOTS = I.FEED_DONE + MAX_FEEDS;

/** Float64 slots (counters as doubles: exact to 2^53). */
export const F = {
  CONSUMED: 0, // engine: records consumed
  TRADES: 1, // engine: trades applied to state
  BATCHES: 2, // engine: non-empty polls
  LAT_LAST_P99: 3, // engine: P99 receive->consume of the last status window (ns)
  PARKS: 4, // engine: times it parked for lack of data
  FEED_PRODUCED: 8, // + feed: records published
  FEED_DROPPED: 8 + MAX_FEEDS, // + feed: records the ring could not take (counted, never silent)
  FEED_WAITS: 8 + 2 * MAX_FEEDS, // + feed: times the producer waited on a full ring
} as const;
const F64_SLOTS = 8 + 3 * MAX_FEEDS;

export interface Control {
  sab: SharedArrayBuffer;
  i32: Int32Array;
  f64: Float64Array;
}

export function createControl(): Control {
  const sab = new SharedArrayBuffer(INT_SLOTS * 4 + F64_SLOTS * 8);
  return attachControl(sab);
}

export function attachControl(sab: SharedArrayBuffer): Control {
  return { sab, i32: new Int32Array(sab, 0, INT_SLOTS), f64: new Float64Array(sab, INT_SLOTS * 4, F64_SLOTS) };
}

/**
 * Wakes the engine if it parked (called by a feed after publishing). The compare-exchange is a
 * locked instruction, a full fence: the ring's head store (a plain release store in C) is visible
 * before PARKED is read, and the engine re-polls the rings after announcing PARKED with a
 * sequentially consistent store, so a publish is never missed by a parking engine.
 */
export function wakeEngine(c: Control): void {
  if (Atomics.compareExchange(c.i32, I.ENGINE_PARKED, 1, 0) === 1) {
    Atomics.add(c.i32, I.WAKE, 1);
    Atomics.notify(c.i32, I.WAKE);
  }
}
