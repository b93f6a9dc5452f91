/**
 * cryptofeed v3 reader: both recordings in ../shared/data read completely (line counts, kinds and
 * connections checked against an independent pass over the same text), exact ns receive times,
 * and damaged input — bad JSON, unknown kinds, missing fields — counted with line numbers while the
 * good lines still come through; a file with nothing readable is refused.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CryptofeedV3Reader, readCryptofeedV3, secondsToNs } from "../src/feed/cryptofeed-v3.ts";
import { DataFileError, readCaptureText } from "../src/feed/recording.ts";

const DATA = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const V3 = join(DATA, "cryptofeed-v3");
const haveData = existsSync(V3);
if (!haveData) console.warn(`[cryptofeed-v3.test] ${V3} is absent: the real-data tests are skipped`);

describe("secondsToNs", () => {
  test("keeps the recorded microseconds exactly", () => {
    expect(secondsToNs(1786310819.526357)).toBe(1786310819526357000n);
    expect(secondsToNs(1786310819.5264041)).toBe(1786310819526404100n);
    expect(secondsToNs(1786310817)).toBe(1786310817000000000n);
    expect(secondsToNs(0.000000001)).toBe(1n); // printed as 1e-9: falls back to arithmetic
    expect(() => secondsToNs(NaN)).toThrow(RangeError);
  });
});

describe("cryptofeed v3 reader", () => {
  test("damaged lines are counted with their line numbers; good ones still come through", () => {
    const text = [
      `{"t":"header","format":2,"exchange":"BYBIT"}`,
      `{"t":"connect","conn":"BYBIT.ws.2","ts":1.5,"addr":"wss://x"}`,
      `{"t":"recv","conn":"BYBIT.ws.2","ts":2.25,"data":"{\\"a\\":1}"}`,
      `not json`,
      ``,
      `{"t":"bogus","conn":"c","ts":1,"data":""}`,
      `{"t":"recv","ts":1,"data":"x"}`,
      `{"t":"recv","conn":"c","ts":"soon","data":"x"}`,
      `{"t":"recv","conn":"c","ts":3,"data":{"already":"decoded"}}`,
      `[1,2]`,
      `{"t":"send","conn":"BYBIT.ws.2","ts":4,"addr":"wss://x","data":"{\\"op\\":\\"subscribe\\"}"}\r`,
    ].join("\n");
    const r = CryptofeedV3Reader.fromText("mem", text);
    const es = [...r.entries()];
    expect(es.map((e) => [e.kind, e.line])).toEqual([["connect", 2], ["recv", 3], ["send", 11]]);
    expect(es[0]!.frame).toBe("");
    expect(es[0]!.target).toBe("wss://x");
    expect(JSON.parse(es[1]!.frame)).toEqual({ a: 1 });
    expect(es[1]!.recvNs).toBe(2_250_000_000n);
    expect(r.header?.exchange).toBe("BYBIT");
    expect(r.stats.lines).toBe(10);
    expect(r.stats.malformed).toBe(6);
    expect(r.stats.malformedAt.map((m) => m.split(":")[1])).toEqual(["4", "6", "7", "8", "9", "10"]);
    expect(r.stats.malformedAt[0]).toBe("mem:4: invalid JSON");
    expect(r.stats.byKind).toEqual({ header: 1, http: 0, connect: 1, send: 1, recv: 1 });
  });

  test("a file with no readable line is refused; a missing file too", () => {
    const dir = mkdtempSync(join(tmpdir(), "cf3-"));
    const p = join(dir, "junk.jsonl");
    writeFileSync(p, "garbage\n{\"t\":\"nope\"}\n");
    const r = CryptofeedV3Reader.open(p);
    expect(() => [...r.entries()]).toThrow(DataFileError);
    expect(r.stats.malformed).toBe(2);
    expect(() => CryptofeedV3Reader.open(join(dir, "absent.jsonl.gz"))).toThrow(DataFileError);
  });

  for (const file of ["BYBIT.jsonl.gz", "COINBASE.jsonl.gz"]) {
    test.skipIf(!haveData)(`${file}: every line read, agreeing with an independent pass`, () => {
      const path = join(V3, file);
      const { entries, stats, header } = readCryptofeedV3(path);
      // independent pass: plain split + JSON.parse of every line
      const lines = readCaptureText(path).split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(stats.malformed).toBe(0);
      expect(stats.lines).toBe(lines.length);
      expect(stats.entries).toBe(lines.filter((l) => l.t !== "header").length);
      expect(header?.exchange).toBe(file.startsWith("BYBIT") ? "BYBIT" : "COINBASE");
      const recv = lines.filter((l) => l.t === "recv");
      const mine = entries.filter((e) => e.kind === "recv");
      expect(mine.length).toBe(recv.length);
      expect(mine.length).toBeGreaterThan(900);
      for (let i = 0; i < recv.length; i++) {
        expect(mine[i]!.frame).toBe(recv[i]!.data as string);
        expect(mine[i]!.conn).toBe(recv[i]!.conn as string);
        // ns time within 1 µs of the float seconds (the recorder wrote µs)
        const diff = Number(mine[i]!.recvNs) / 1e9 - (recv[i]!.ts as number);
        expect(Math.abs(diff)).toBeLessThan(1e-6);
      }
      // every recv frame is itself JSON
      for (const e of mine) expect(() => JSON.parse(e.frame)).not.toThrow();
      const conns = new Set(mine.map((e) => e.conn));
      expect([...conns].sort()).toEqual(file.startsWith("BYBIT") ? ["BYBIT.ws.2", "BYBIT.ws.3"] : ["COINBASE.ws.2"]);
    });
  }
});
