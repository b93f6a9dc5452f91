/**
 * Tick files: every hftbacktest Binance capture in ../shared/data imported into one `.b4t` (merged by
 * receive time), then
 *   - open + validate (mmap, header slots, tables, a CRC32 over every block, the table check of
 *     every record): ms per open and records/s;
 *   - a full scan of the mapped records through typed views (sum of price*size by kind): records/s;
 *   - replay of the mapped records into an SPSC ring (C batch copies straight from the mapping,
 *     `push(recordsPtr + off, n)`) drained by a consumer Worker with `pop`: records/s — the goal is
 *     >= 50 M records/s; the same replay with producer and consumer on one thread; and, as the
 *     reference, a plain `Uint8Array.set` copy of the same bytes in the same batch size;
 *   - the replay through the C books: on one thread (push, then the books applied in place from
 *     the ring slots), and split as the engine runs it, this thread pushing and a Worker applying
 *     the books (every book must stay in sync, 0 gaps);
 *   - the import itself (records/s), for scale.
 * Each figure is the median of several runs. TF_BATCH (records per push, default 1024) and TF_CAP
 * (ring capacity in records, default 16384) change the replay's shape.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { workerData } from "node:worker_threads";
import { alignedBuffer } from "../ffi/buffers.ts";
import { SpscRing } from "../ffi/ring.ts";
import { BookRule, BookSet } from "../ffi/book.ts";
import { Venue } from "../src/domain/instruments.ts";

interface ConsumerJob {
  ring: number;
  count: number;
  batch: number;
  flags: SharedArrayBuffer;
  /** apply the records to C books in place from the ring slots (the engine thread's work) */
  books?: { id: number; spot: boolean }[];
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

/** Books of a replay that are out of sync, gapped or crossed, each described (empty: all clean). */
function unsynced(books: BookSet): string[] {
  return books.all().filter((b) => { const c = b.counters(); return !b.synced || c.gaps > 0 || c.crossed > 0; }).map((b) => `book ${b.instrument}: ${JSON.stringify(b.counters())}`);
}

/** Consumer Worker: pops `count` records in batches and checks their order by receive time. */
function popAll(job: ConsumerJob, ring: SpscRing): { ns: number; got: number; bad: number } {
  const dst = alignedBuffer(job.batch * 64);
  const dv = new BigUint64Array(dst.buffer, dst.byteOffset, job.batch * 8);
  const t0 = Bun.nanoseconds();
  let got = 0, bad = 0;
  let last = 0n;
  while (got < job.count) {
    const n = ring.pop(dst.ptr, job.batch);
    if (n === 0) continue;
    // one look per batch (first and last receive time) so the check does not set the pace
    if (dv[1]! < last) bad++;
    last = dv[(n - 1) * 8 + 1]!;
    got += n;
  }
  return { ns: Bun.nanoseconds() - t0, got, bad };
}

/** Consumer Worker as the engine: applies each batch to C books where it sits in the ring (one FFI
 * call per batch) and hands the slots back an eighth of the ring at a time. */
function applyBooks(job: ConsumerJob, ring: SpscRing, specs: NonNullable<ConsumerJob["books"]>): { ns: number; got: number; bad: number; lost: string[] } {
  const set = new BookSet(specs.length);
  for (const b of specs) set.add(b.id, b.spot ? BookRule.binanceSpot : BookRule.binanceFutures);
  const recs = ring.recordsPtr, mask = ring.mask, step = (mask + 1) >> 3;
  const t0 = Bun.nanoseconds();
  let got = 0, held = 0;
  while (got < job.count) {
    const n = ring.availableAfter(held, job.batch);
    if (n === 0) {
      if (held) ring.release(held), (held = 0);
      continue;
    }
    set.apply(recs, mask, ring.tailSlot + held, n);
    held += n;
    got += n;
    if (held >= step) ring.release(held), (held = 0);
  }
  const ns = Bun.nanoseconds() - t0;
  if (held) ring.release(held);
  const lost = unsynced(set);
  return { ns, got, bad: lost.length, lost };
}

if (!Bun.isMainThread) {
  const job = workerData as ConsumerJob;
  const ring = SpscRing.attach(job.ring);
  const flags = new Int32Array(job.flags);
  postMessage({ ready: true });
  while (Atomics.load(flags, 0) === 0) Atomics.wait(flags, 0, 0, 10);
  postMessage(job.books ? applyBooks(job, ring, job.books) : popAll(job, ring));
} else {
  const { figure, section, done } = await import("./harness.ts");
  const { importFiles } = await import("../src/tickfile/import.ts");
  const { TickFile } = await import("../src/tickfile/reader.ts");
  const QUICK = process.argv.includes("--quick");
  const REPS = QUICK ? 3 : 7;

  const DATA = new URL("../../shared/data/hftbacktest/", import.meta.url).pathname;
  if (!existsSync(DATA)) {
    console.error(`tickfile bench needs the recorded captures in ${DATA}`);
    process.exit(1);
  }
  const inputs = ["binance-spot", "binance-usdm", "binance-coinm"].flatMap((d) => readdirSync(join(DATA, d)).filter((f) => f.endsWith(".gz")).sort().map((f) => join(DATA, d, f)));
  const dir = mkdtempSync(join(tmpdir(), "bot4-tickfile-bench-"));
  const path = join(dir, "binance.b4t");

  section(`import: ${inputs.length} hftbacktest Binance captures`);
  const s = await importFiles(inputs, path, { progress: false });
  figure("import_records", s.records, "records", `${s.frames} frames, ${s.instruments.length} instruments`);
  figure("import_records_per_s", s.recordsPerSecond, "records/s", "gunzip + JSON.parse + normalise + write");

  section("open + validate (mmap, CRC32 of every block, table check of every record)");
  const opens: number[] = [];
  let f = TickFile.open(path);
  for (let r = 0; r < REPS; r++) {
    const t0 = Bun.nanoseconds();
    f = TickFile.open(path);
    opens.push(Bun.nanoseconds() - t0);
  }
  const count = f.count;
  figure("open_validate_ms", median(opens) / 1e6, "ms", `${count} records, ${(f.fileBytes / 1048576).toFixed(1)} MiB`);
  figure("open_validate_records_per_s", count / (median(opens) / 1e9), "records/s");

  section("full scan of the mapped records (typed views, sum of price*size by kind)");
  const scans: number[] = [];
  let sink = 0;
  for (let r = 0; r < REPS; r++) {
    const { f64, bytes } = f;
    const sums = new Float64Array(8);
    const t0 = Bun.nanoseconds();
    for (let i = 0; i < count; i++) {
      const d = i * 8;
      sums[bytes[i * 64 + 62]!]! += f64[d + 2]! * f64[d + 3]!;
    }
    scans.push(Bun.nanoseconds() - t0);
    sink += sums[1]! + sums[2]! + sums[3]!;
  }
  figure("scan_records_per_s", count / (median(scans) / 1e9), "records/s");

  section("replay into an SPSC ring (C batch copies from the mapping)");
  const BATCH = Number(process.env.TF_BATCH ?? 1024);
  const CAP = Number(process.env.TF_CAP ?? 1 << 14);
  const src = f.recordsPtr;

  /** Producer here pushes the mapped records into a ring; a consumer Worker pops them (or, with
   * books, applies them to C books in place). Records per second, the median of REPS runs. */
  async function replayTwoThreads(books?: ConsumerJob["books"]): Promise<number> {
    const rates: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const ring = SpscRing.create(CAP);
      const flags = new SharedArrayBuffer(8);
      const w = new Worker(import.meta.url, { workerData: { ring: ring.handle, count, batch: BATCH, flags, books } satisfies ConsumerJob } as WorkerOptions);
      w.addEventListener("error", (e) => {
        console.error(`replay consumer failed: ${(e as ErrorEvent).message}`);
        process.exit(1);
      });
      const ready = new Promise((res) => w.addEventListener("message", (e) => (e as MessageEvent).data?.ready && res(null), { once: true }));
      await ready;
      const result = new Promise<{ ns: number; got: number; bad: number; lost?: string[] }>((res) => w.addEventListener("message", (e) => res((e as MessageEvent).data)));
      Atomics.store(new Int32Array(flags), 0, 1);
      Atomics.notify(new Int32Array(flags), 0);
      const t0 = Bun.nanoseconds();
      let sent = 0;
      let stalled = 0, stallStart = 0;
      while (sent < count) {
        const n = ring.push(src + sent * 64, Math.min(BATCH, count - sent));
        sent += n;
        if (n > 0) stalled = 0;
        else if ((++stalled & 0xfffff) === 0) {
          if (stalled === 0x100000) stallStart = Bun.nanoseconds();
          else if (Bun.nanoseconds() - stallStart > 2e9) {
            // no progress for 2 s: let the consumer's error event (if any) through
            await Bun.sleep(1);
            stalled = 0;
          }
        }
      }
      const res = await result;
      const ns = Math.max(res.ns, Bun.nanoseconds() - t0);
      w.terminate();
      ring.free();
      if (res.got !== count) throw new Error(`replay lost records: got ${res.got} of ${count}`);
      if (res.bad !== 0) throw new Error(books ? `books lost sync in the two-thread replay: ${res.lost?.join("; ")}` : `replay reordered records: ${res.bad} batches out of order`);
      rates.push(count / (ns / 1e9));
    }
    return median(rates);
  }
  const replayThreads = await replayTwoThreads();
  figure("replay_ring_2threads_per_s", replayThreads, "records/s", `push ${BATCH} per call from the mapping -> consumer Worker pop; goal >= 50 M/s`);

  const replayOne: number[] = [];
  {
    const ring = SpscRing.create(CAP);
    const dst = alignedBuffer(BATCH * 64);
    for (let r = 0; r < REPS; r++) {
      const t0 = Bun.nanoseconds();
      let sent = 0;
      while (sent < count) {
        const n = ring.push(src + sent * 64, Math.min(BATCH, count - sent));
        ring.pop(dst.ptr, n);
        sent += n;
      }
      replayOne.push(count / ((Bun.nanoseconds() - t0) / 1e9));
    }
    ring.free();
  }
  figure("replay_ring_1thread_per_s", median(replayOne), "records/s", "push then pop on one thread");

  // the same replay with every batch applied to the C books (one FFI call per batch): the
  // importer's records carry Binance's U/u/pu, so each book must sync and stay gap-free
  const replayBooks: number[] = [];
  let levels = 0;
  for (let i = 0; i < count; i++) if (f.bytes[i * 64 + 62] === 3) levels++;
  {
    const ring = SpscRing.create(CAP);
    // the books live for the whole run and are reset between rounds (a live feed's books are
    // made once); the consumer applies the records where they sit in the ring, as the engine does
    const books = new BookSet(f.instruments.length);
    for (const inst of f.instruments) books.add(inst.id, inst.venue === Venue.binance ? BookRule.binanceSpot : BookRule.binanceFutures);
    const recs = ring.recordsPtr, mask = ring.mask;
    for (let r = 0; r < REPS; r++) {
      for (const b of books.all()) b.reset();
      const t0 = Bun.nanoseconds();
      let sent = 0;
      while (sent < count) {
        const n = ring.push(src + sent * 64, Math.min(BATCH, count - sent));
        const m = ring.available(n);
        books.apply(recs, mask, ring.tailSlot, m);
        ring.release(m);
        sent += n;
      }
      replayBooks.push(count / ((Bun.nanoseconds() - t0) / 1e9));
      const lost = unsynced(books);
      if (lost.length) throw new Error(`books lost sync in the tick-file replay: ${lost.join("; ")}`);
    }
    ring.free();
  }
  figure("replay_ring_books_1thread_per_s", median(replayBooks), "records/s", `push into the ring, C books applied in place from the ring slots (one FFI call per ${BATCH}), ${((100 * levels) / count).toFixed(0)} % of records are book levels; every book synced, 0 gaps; goal >= 50 M/s`);
  const bookSpecs = f.instruments.map((inst) => ({ id: inst.id, spot: inst.venue === Venue.binance }));
  figure("replay_ring_books_2threads_per_s", await replayTwoThreads(bookSpecs), "records/s", `this thread pushes from the mapping, a Worker applies the C books in place from the ring slots (the feed and engine threads' split); every book synced, 0 gaps; goal >= 50 M/s`);

  const copies: number[] = [];
  {
    const dst = new Uint8Array(CAP * 64);
    const bytes = f.bytes;
    for (let r = 0; r < REPS; r++) {
      const t0 = Bun.nanoseconds();
      for (let sent = 0, slot = 0; sent < count; ) {
        const n = Math.min(BATCH, count - sent, CAP - slot);
        dst.set(bytes.subarray(sent * 64, (sent + n) * 64), slot * 64);
        sent += n;
        slot = (slot + n) & (CAP - 1);
      }
      copies.push(count / ((Bun.nanoseconds() - t0) / 1e9));
    }
  }
  figure("reference_uint8array_set_per_s", median(copies), "records/s", `Uint8Array.set of ${BATCH}-record batches into a ${CAP}-record buffer`);
  if (sink === 0.5) console.log(""); // keeps the scan from being optimised away
  rmSync(dir, { recursive: true, force: true });
  done();
}
