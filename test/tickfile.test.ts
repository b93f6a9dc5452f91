/**
 * Tick files: writer → reader round trip, every kind of damage refused with the right byte offset,
 * and recovery of what a killed writer leaves (in-process, torn header slot, and a real SIGKILL).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Venue } from "../src/domain/instruments.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { TICK_BYTES, TickFlag, TickKind } from "../src/domain/tick.ts";
import { BLOCK_BYTES, BLOCK_RECORDS, crc32, decodeSlot, encodeSlot, H, HEADER_BYTES, type HeaderFields, LOCAL_VENUE_BASE, SLOT_BYTES, TickFileError } from "../src/tickfile/format.ts";
import { TickFile } from "../src/tickfile/reader.ts";
import { TickFileWriter } from "../src/tickfile/writer.ts";

const dir = mkdtempSync(join(tmpdir(), "bot4-tickfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const INSTRUMENTS: Array<[number, string, string]> = [
  [Venue.binanceusdm, "BTC/USDT:USDT", "BTCUSDT"],
  [Venue.binance, "ETH/USDT", "ETHUSDT"],
  [LOCAL_VENUE_BASE, "BTC-PERPETUAL", "BTC-PERPETUAL"],
];

/** Record i of the deterministic test stream (every field depends on i). */
function pushRecord(tb: TickBuffer, i: number): void {
  const inst = i % 3;
  tb.push({
    kind: 1 + (i % 4),
    flags: i % 16,
    venue: INSTRUMENTS[inst]![0],
    instrument: inst,
    tsExchangeNs: 1723161255000000000n + BigInt(i) * 1000n,
    tsRecvNs: 1723161255000000007n + BigInt(i) * 1000n,
    price: 60000 + i / 8,
    size: (i % 97) / 10,
    price2: i % 5 === 0 ? 61000 + i : 0,
    size2: i % 7,
    seq: 5_000_000_000_000 + i,
  });
}

function records(n: number): TickBuffer {
  const tb = new TickBuffer(n);
  for (let i = 0; i < n; i++) pushRecord(tb, i);
  return tb;
}

function newWriter(path: string, opts = {}): TickFileWriter {
  const w = TickFileWriter.create(path, { source: "tickfile.test.ts", ...opts });
  w.venue(LOCAL_VENUE_BASE, "deribit");
  INSTRUMENTS.forEach(([v, s, n], id) => w.instrument(id, v, s, n));
  return w;
}

const N = 2 * BLOCK_RECORDS + 1808; // two full blocks and a tail
const tb = records(N);
const good = join(dir, "good.b4t");
{
  const w = newWriter(good);
  // appended in uneven pieces so blocks straddle appends
  const b = tb.bytes();
  for (let at = 0; at < b.length; ) {
    const n = Math.min(b.length - at, 777 * TICK_BYTES);
    w.appendBytes(b.subarray(at, at + n));
    at += n;
  }
  w.close();
}
const goodBytes = readFileSync(good);
const header = decodeSlot(goodBytes, 0) as HeaderFields;

function variant(name: string, edit: (b: Uint8Array) => Uint8Array | void): string {
  const b = new Uint8Array(goodBytes);
  const out = edit(b) ?? b;
  const p = join(dir, `${name}.b4t`);
  writeFileSync(p, out);
  return p;
}

function refused(path: string, opts = {}): TickFileError {
  try {
    TickFile.open(path, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(TickFileError);
    return e as TickFileError;
  }
  throw new Error(`${path} was accepted`);
}

describe("round trip", () => {
  test("every record comes back byte for byte, with the tables and the source", () => {
    expect(existsSync(`${good}.part`)).toBe(false);
    const f = TickFile.open(good);
    expect(f.count).toBe(N);
    expect(f.finished).toBe(true);
    expect(f.source).toBe("tickfile.test.ts");
    expect(Buffer.compare(Buffer.from(f.bytes), Buffer.from(tb.bytes()))).toBe(0);
    expect(f.recordOffset % 4096).toBe(0);
    expect(f.recordsPtr % 64).toBe(0);
    expect([...f.venues]).toEqual([[LOCAL_VENUE_BASE, "deribit"], [Venue.binanceusdm, "binanceusdm"], [Venue.binance, "binance"]]);
    expect(f.instruments.map((i) => [i.venue, i.symbol, i.native])).toEqual(INSTRUMENTS);
    expect(f.instrumentTable().label(0)).toBe("binanceusdm:BTC/USDT:USDT");
    // typed views address the mapping
    expect(f.u64[(N - 1) * 8]).toBe(1723161255000000000n + BigInt(N - 1) * 1000n);
    expect(f.f64[(N - 1) * 8 + 2]).toBe(60000 + (N - 1) / 8);
    expect(f.fileBytes).toBe(f.recordOffset + N * TICK_BYTES);
  });

  test("an empty finished file opens with no records", () => {
    const p = join(dir, "empty-ok.b4t");
    TickFileWriter.create(p).close();
    const f = TickFile.open(p);
    expect(f.count).toBe(0);
    expect(f.recordsPtr).toBe(0);
  });

  test("the writer refuses records its tables cannot name", () => {
    const w = TickFileWriter.create(join(dir, "refuse.b4t"));
    w.instrument(0, Venue.binance, "BTC/USDT", "BTCUSDT");
    const t = new TickBuffer(1);
    t.push({ kind: TickKind.trade, venue: Venue.binance, instrument: 3, tsExchangeNs: 1n, tsRecvNs: 1n, price: 1, size: 1 });
    w.append(t);
    expect(() => w.checkpoint()).toThrow(/instrument 3/);
    w.abort();
    const t2 = new TickBuffer(1);
    const w2 = TickFileWriter.create(join(dir, "refuse2.b4t"));
    w2.instrument(0, Venue.binance, "BTC/USDT", "BTCUSDT");
    t2.push({ kind: TickKind.trade, venue: Venue.okx, instrument: 0, tsExchangeNs: 1n, tsRecvNs: 1n, price: 1, size: 1 });
    w2.append(t2);
    expect(() => w2.close()).toThrow(/venue 6/);
    w2.abort();
    expect(existsSync(join(dir, "refuse2.b4t.part"))).toBe(false);
  });
});

describe("damage is refused with its byte offset", () => {
  const blockAt = (k: number) => header.recordOffset + k * BLOCK_BYTES;

  test("zero-length file, wrong magic, short header", () => {
    const zero = variant("zero", () => new Uint8Array(0));
    let e = refused(zero);
    expect(e.message).toContain("empty file");
    expect(e.offset).toBe(0);
    e = refused(variant("text", () => new TextEncoder().encode("exchange,symbol,timestamp\n".repeat(40))));
    expect(e.message).toContain("bad magic at 0");
    expect(e.offset).toBe(0);
    e = refused(variant("short", (b) => b.subarray(0, 300)));
    expect(e.message).toContain("truncated at offset 300");
    expect(e.offset).toBe(300);
  });

  test("one flipped byte in each region", () => {
    const cases: Array<[string, number, RegExp, number]> = [
      ["magic", 3, /bad magic at 3/, 3],
      ["slot A field", H.count, /header slot A CRC mismatch at offset 0\.\.255/, 0],
      ["slot A crc", H.crc + 1, /header slot A CRC mismatch/, 0],
      ["slot B field", SLOT_BYTES + H.recordOffset, /header slot B CRC mismatch at offset 256\.\.511/, 256],
      ["slot B magic", SLOT_BYTES, /bad magic at 256/, 256],
      ["source", header.source.offset + 2, new RegExp(`source text CRC mismatch at offset ${header.source.offset}\\.\\.`), header.source.offset],
      ["venue table", header.venues.offset + 4, new RegExp(`venue table CRC mismatch at offset ${header.venues.offset}\\.\\.`), header.venues.offset],
      ["instrument table", header.instruments.offset + 9, new RegExp(`instrument table CRC mismatch at offset ${header.instruments.offset}\\.\\.`), header.instruments.offset],
      ["block index", header.blockIndex.offset + 4, new RegExp(`block 1 CRC mismatch at offset ${blockAt(1)}\\.\\.${blockAt(2) - 1}`), blockAt(1)],
      ["record in block 0", blockAt(0) + 100 * 64 + 17, new RegExp(`block 0 CRC mismatch at offset ${blockAt(0)}\\.\\.${blockAt(1) - 1}`), blockAt(0)],
      ["record in block 1", blockAt(1) + 4095 * 64 + 63, new RegExp(`block 1 CRC mismatch at offset ${blockAt(1)}\\.\\.${blockAt(2) - 1}`), blockAt(1)],
      ["record in the tail", blockAt(2) + 1807 * 64, new RegExp(`tail block 2 CRC mismatch at offset ${blockAt(2)}\\.\\.${blockAt(2) + 1808 * 64 - 1}`), blockAt(2)],
    ];
    for (const [name, at, re, offset] of cases) {
      const e = refused(variant(`flip-${name.replace(/ /g, "-")}`, (b) => void (b[at]! ^= 0x20)));
      expect(e.message).toMatch(re);
      expect(e.offset).toBe(offset);
    }
  });

  test("truncation at several offsets", () => {
    const size = goodBytes.length;
    const cut = (n: number) => refused(variant(`cut-${n}`, (b) => b.subarray(0, n)));
    for (const n of [1, 7, 255, 511]) {
      const e = cut(n);
      expect(e.message).toContain(`shorter than the 512-byte header: truncated at offset ${n}`);
      expect(e.offset).toBe(n);
    }
    let e: TickFileError = cut(header.recordOffset - 100);
    expect(e.message).toContain(`file ends at offset ${header.recordOffset - 100}, inside the meta region`);
    for (const n of [header.recordOffset, blockAt(1) + 13, size - 64, size - 1]) {
      e = cut(n);
      expect(e.message).toContain(`record area shorter than the header says: ${N} records need bytes ${header.recordOffset}..${size - 1}, the file ends at offset ${n}`);
      expect(e.offset).toBe(n);
    }
    e = refused(variant("longer", (b) => Buffer.concat([b, new Uint8Array(64)])));
    expect(e.message).toContain(`64 bytes after the record area at offset ${size}`);
    expect(e.offset).toBe(size);
  });

  test("wrong version, and a record naming an instrument out of the table", () => {
    const reslot = (b: Uint8Array, edit: (h: HeaderFields) => void, raw?: (slot: Uint8Array) => void) => {
      for (const base of [0, SLOT_BYTES]) {
        const h = decodeSlot(b, base) as HeaderFields;
        edit(h);
        const s = encodeSlot(h);
        raw?.(s);
        if (raw) new DataView(s.buffer).setUint32(H.crc, crc32(s.subarray(0, H.crc)), true);
        b.set(s, base);
      }
    };
    let e = refused(variant("v2", (b) => reslot(b, () => {}, (s) => new DataView(s.buffer).setUint16(H.version, 2, true))));
    expect(e.message).toContain("unsupported format version 2 at offset 8");
    expect(e.offset).toBe(8);

    // record 4100 (block 1) names instrument 99; its block CRC recomputed so only the table check can catch it
    const i = 4100;
    e = refused(
      variant("inst99", (b) => {
        const at = header.recordOffset + i * 64;
        new DataView(b.buffer).setUint32(at + 56, 99, true);
        new DataView(b.buffer).setUint32(header.blockIndex.offset + 4, crc32(b.subarray(blockAt(1), blockAt(2))), true);
      }),
    );
    expect(e.message).toContain(`instrument id 99 out of table (3 instruments) at record ${i} offset ${header.recordOffset + i * 64 + 56}`);
    expect(e.offset).toBe(header.recordOffset + i * 64);
    // the same file opened with recover gives the records before it
    const p = join(dir, "inst99.b4t");
    const f = TickFile.open(p, { recover: true });
    expect(f.count).toBe(i);
    expect(f.recovery!.reason).toContain("instrument id 99 out of table");

    // a header whose record count disagrees with its block index
    e = refused(variant("count", (b) => reslot(b, (h) => void (h.count += 1))));
    expect(e.message).toMatch(/record count \d+ disagrees with its block index/);
    expect(e.offset).toBe(H.count);
  });
});

describe("crash recovery", () => {
  test("a writer that never closed: strict open refuses, recover returns the committed prefix", () => {
    const p = join(dir, "crash.b4t");
    const w = newWriter(p);
    const b = tb.bytes();
    w.appendBytes(b.subarray(0, 9000 * 64)); // blocks 0 and 1 commit by themselves
    w.checkpoint(); // commits the 808-record tail of block 2
    w.appendBytes(b.subarray(9000 * 64, 9500 * 64)); // staged only: lost in a crash
    const part = `${p}.part`;
    expect(existsSync(p)).toBe(false);
    const e = refused(part);
    expect(e.message).toContain("not closed by its writer");
    expect(e.message).toContain("9000 records committed");
    const f = TickFile.open(part, { recover: true });
    expect(f.count).toBe(9000);
    expect(f.recovery).toMatchObject({ finished: false, committed: 9000, valid: 9000, reason: null });
    expect(Buffer.compare(Buffer.from(f.bytes), Buffer.from(b.subarray(0, 9000 * 64)))).toBe(0);
    // the writer goes on (the file was only read) and finishes normally
    w.appendBytes(b.subarray(9500 * 64));
    w.close();
    expect(TickFile.open(p).count).toBe(N);
  });

  test("a torn header write falls back to the other slot; a torn block to the blocks before it", () => {
    const p = join(dir, "torn.b4t");
    const w = newWriter(p, { atomic: false });
    const b = tb.bytes();
    w.appendBytes(b.subarray(0, 5000 * 64));
    w.checkpoint(); // commit: 4096 + 904 tail
    w.appendBytes(b.subarray(5000 * 64, 9000 * 64)); // block 1 fills: commit of 8192 (+808 staged)
    const bytes = new Uint8Array(readFileSync(p));
    const slots = [decodeSlot(bytes, 0), decodeSlot(bytes, SLOT_BYTES)] as HeaderFields[];
    const newest = slots[0]!.commitSeq > slots[1]!.commitSeq ? 0 : 1;
    expect(slots[newest]!.count).toBe(8192);
    expect(slots[1 - newest]!.count).toBe(5000);
    // the newest slot torn mid-write: the older commit is used
    const torn = new Uint8Array(bytes);
    torn.fill(0, newest * SLOT_BYTES + 100, newest * SLOT_BYTES + 256);
    writeFileSync(join(dir, "torn-slot.b4t"), torn);
    let f = TickFile.open(join(dir, "torn-slot.b4t"), { recover: true });
    expect(f.count).toBe(5000);
    expect(f.recovery!.slot).toBe(newest === 0 ? "B" : "A");
    expect(f.recovery!.otherSlot).toContain("CRC mismatch");
    expect(Buffer.compare(Buffer.from(f.bytes), Buffer.from(b.subarray(0, 5000 * 64)))).toBe(0);
    // block 1's records damaged (a write that never reached the disk): block 0 is what is left
    const lost = new Uint8Array(bytes);
    lost.fill(0, header.recordOffset + BLOCK_BYTES + 64 * 10, header.recordOffset + BLOCK_BYTES + 64 * 20);
    writeFileSync(join(dir, "torn-block.b4t"), lost);
    f = TickFile.open(join(dir, "torn-block.b4t"), { recover: true });
    expect(f.count).toBe(BLOCK_RECORDS);
    expect(f.recovery!.reason).toContain("block 1 CRC mismatch");
    w.abort();
  });

  test("a finished file cut short recovers whole checked blocks", () => {
    const p = variant("cut-recover", (b) => b.subarray(0, header.recordOffset + BLOCK_BYTES + 5000));
    const f = TickFile.open(p, { recover: true });
    expect(f.count).toBe(BLOCK_RECORDS);
    expect(f.recovery!.reason).toContain("record area shorter than the header says");
    expect(Buffer.compare(Buffer.from(f.bytes), Buffer.from(tb.bytes().subarray(0, BLOCK_BYTES)))).toBe(0);
  });

  test("a writer process killed with SIGKILL leaves a file readable up to its last commit", async () => {
    const p = join(dir, "killed.b4t");
    const script = join(dir, "writer-child.ts");
    const root = new URL("..", import.meta.url).pathname;
    writeFileSync(
      script,
      `import { TickFileWriter } from "${root}src/tickfile/writer.ts";
import { TickBuffer } from "${root}src/domain/tick-buffer.ts";
const w = TickFileWriter.create(${JSON.stringify(p)}, { source: "child", sync: "checkpoint" });
w.venue(${LOCAL_VENUE_BASE}, "deribit");
const INSTRUMENTS = ${JSON.stringify(INSTRUMENTS)};
INSTRUMENTS.forEach(([v, s, n], id) => w.instrument(id, v, s, n));
const tb = new TickBuffer(1000);
const push = ${pushRecord.toString()};
for (let i = 0; ; i++) {
  push(tb, i);
  if (tb.count === 997) { w.append(tb); tb.clear(); w.checkpoint(); process.stdout.write("committed " + w.count + "\\n"); }
}
`,
    );
    const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
    let committed = 0, text = "";
    const reader = child.stdout.getReader();
    while (committed < 3 * BLOCK_RECORDS) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`writer child exited early: ${await new Response(child.stderr).text()}`);
      text += new TextDecoder().decode(value);
      const m = [...text.matchAll(/committed (\d+)/g)];
      if (m.length) committed = Number(m[m.length - 1]![1]);
    }
    child.kill("SIGKILL");
    await child.exited;
    expect(child.signalCode).toBe("SIGKILL");
    const part = `${p}.part`;
    expect(refused(part).message).toContain("not closed by its writer");
    const f = TickFile.open(part, { recover: true });
    expect(f.count).toBeGreaterThanOrEqual(committed);
    expect(f.count % 997).toBe(0); // whole commits only
    const expectRecords = records(f.count);
    expect(Buffer.compare(Buffer.from(f.bytes), Buffer.from(expectRecords.bytes()))).toBe(0);
  });
});

test("the format's constants agree with the tick record", () => {
  expect(HEADER_BYTES).toBe(512);
  expect(BLOCK_BYTES).toBe(4096 * 64);
  expect(TickFlag.last).toBe(8);
  // truncateSync and appendFileSync: a file grown after close is refused, then accepted once restored
  const p = variant("grown", () => {});
  appendFileSync(p, new Uint8Array(1));
  expect(refused(p).message).toContain("1 bytes after the record area");
  truncateSync(p, goodBytes.length);
  expect(TickFile.open(p).count).toBe(N);
  copyFileSync(p, join(dir, "copy.b4t"));
  expect(TickFile.open(join(dir, "copy.b4t")).count).toBe(N);
});
