/**
 * The journal worker: moves ring records into sqlite in batched transactions (group commit), off
 * the engine thread. It polls the ring (the producer never signals: a notify would cost the hot
 * path a futex call when the worker sleeps); an idle poll sleeps `idleMs`, so a record waits at
 * most about that long before its commit. A batch is whatever is in the ring, capped at batchMax.
 *
 * Messages from the engine: {type:"flush", id} → answered {type:"flushed", id, applied} once every
 * record published before the message is committed; {type:"close"} → drains, closes the database,
 * answers {type:"closed", applied}.
 */
import { workerData } from "node:worker_threads";
import { RingApplier } from "./apply.ts";
import { JournalRing } from "./ring.ts";
import { JournalStore, type Synchronous } from "./store.ts";

export interface JournalWorkerInit {
  dbPath: string;
  ringPath: string;
  synchronous: Synchronous;
  batchMax: number;
  idleMs: number;
}

declare const self: Worker;

function main(init: JournalWorkerInit): void {
  const ring = JournalRing.open(init.ringPath);
  const store = new JournalStore(init.dbPath, { synchronous: init.synchronous });
  const applier = new RingApplier(ring, store);
  let applied = store.appliedSeq;
  let closing = false;
  const flushes: number[] = [];

  const drain = (): number => {
    let n = 0;
    for (;;) {
      const to = applier.available(applied + 1, init.batchMax);
      if (to <= applied) return n;
      applier.applyBatch(applied + 1, to);
      n += to - applied;
      applied = to;
      ring.setClock(Date.now());
    }
  };

  self.addEventListener("message", (e: MessageEvent) => {
    const m = e.data as { type: string; id?: number };
    if (m.type === "flush") flushes.push(m.id ?? 0);
    else if (m.type === "close") closing = true;
  });

  const tick = (): void => {
    ring.setClock(Date.now());
    let n: number;
    try {
      n = drain();
    } catch (e) {
      postMessage({ type: "error", message: (e as Error).message });
      store.close();
      return;
    }
    while (flushes.length) postMessage({ type: "flushed", id: flushes.shift(), applied });
    if (closing) {
      store.close();
      postMessage({ type: "closed", applied, counters: store.counters, bad: applier.badRecords });
      return;
    }
    setTimeout(tick, n > 0 ? 0 : init.idleMs);
  };
  // ready after the first poll: from then on the worker is between polls (tests rely on an
  // idle worker sleeping `idleMs` before it looks at the ring again)
  drain();
  postMessage({ type: "ready", applied });
  setTimeout(tick, init.idleMs);
}

main(workerData as JournalWorkerInit);
