/**
 * cryptofeed raw log reader: every file in ../shared/data/cryptofeed read completely (kinds, URLs,
 * times and payloads checked against an independent regex pass over the same text), exact ns
 * times, damaged lines counted with line numbers while good ones still come through, a file with
 * nothing readable refused.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CryptofeedLogReader, decimalSecondsToNs, readCryptofeedLog, type CryptofeedLogKind } from "../src/feed/cryptofeed-log.ts";
import { DataFileError, readCaptureText } from "../src/feed/recording.ts";

const DATA = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const CF = join(DATA, "cryptofeed");
const haveData = existsSync(CF);
if (!haveData) console.warn(`[cryptofeed-log.test] ${CF} is absent: the real-data tests are skipped`);

describe("decimalSecondsToNs", () => {
  test("keeps every recorded digit down to the ns", () => {
    expect(decimalSecondsToNs("1618678132.9278011")).toBe(1618678132927801100n);
    expect(decimalSecondsToNs("1618678132")).toBe(1618678132000000000n);
    expect(decimalSecondsToNs("0.0000000019")).toBe(1n); // beyond ns: dropped, not rounded
  });
});

describe("cryptofeed log reader", () => {
  test("all four line shapes, blank lines, damaged lines counted with line numbers", () => {
    const text = [
      `wss://ws.kraken.com <-> 1618678132.3858151`,
      `wss://ws.kraken.com <- 1618678132.8253062: {"event":"subscribe"}`,
      `1618678132.8258188: {"event":"systemStatus"}`,
      ``,
      `https://api.binance.com/api/v3/depth?symbol=X&limit=10 -> 1633998512.320639: {"lastUpdateId":1}`,
      `garbage without a time`,
      `1618678133.5: `,
      `12ab: {"x":1}`,
      `wss://x <- 1.5 {"no":"colon"}`,
      `wss://x <-> soon`,
      `1618678134.25: not json at all`, // the payload is the caller's to judge
      `wss://ws2 <-> 5\r`,
      `6: [1]`,
      ``,
      ``,
    ].join("\n");
    const r = CryptofeedLogReader.fromText("mem", text);
    const es = [...r.entries()];
    expect(es.map((e) => [e.kind, e.line, e.url])).toEqual([
      ["connect", 1, "wss://ws.kraken.com"],
      ["send", 2, "wss://ws.kraken.com"],
      ["recv", 3, "wss://ws.kraken.com"],
      ["http", 5, "https://api.binance.com/api/v3/depth?symbol=X&limit=10"],
      ["recv", 11, "wss://ws.kraken.com"],
      ["connect", 12, "wss://ws2"],
      ["recv", 13, "wss://ws2"],
    ]);
    expect(es[0]!.text).toBe("");
    expect(es[0]!.recvNs).toBe(1618678132385815100n);
    expect(es[1]!.text).toBe(`{"event":"subscribe"}`);
    expect(es[3]!.text).toBe(`{"lastUpdateId":1}`);
    expect(es[3]!.ts).toBe(1633998512.320639);
    expect(es[6]!.recvNs).toBe(6_000_000_000n);
    expect(r.stats.lines).toBe(12);
    expect(r.stats.entries).toBe(7);
    expect(r.stats.byKind).toEqual({ connect: 2, send: 1, recv: 3, http: 1 });
    expect(r.stats.malformed).toBe(5);
    expect(r.stats.malformedAt.map((m) => Number(m.split(":")[1]))).toEqual([6, 7, 8, 9, 10]);
  });

  test("a file with no readable line is refused; a missing file too", () => {
    const dir = mkdtempSync(join(tmpdir(), "cflog-"));
    const p = join(dir, "junk.ws.1.0");
    writeFileSync(p, "garbage\nmore garbage\n\n");
    const r = CryptofeedLogReader.open(p);
    expect(() => [...r.entries()]).toThrow(DataFileError);
    expect(r.stats.malformed).toBe(2);
    expect(() => CryptofeedLogReader.open(join(dir, "absent.ws.1.0.gz"))).toThrow(DataFileError);
    writeFileSync(p, "\n\n");
    expect(() => [...CryptofeedLogReader.open(p).entries()]).toThrow(DataFileError);
  });

  const files = haveData ? readdirSync(CF).filter((f) => f.endsWith(".gz")).sort() : ["(none)"];
  for (const file of files) {
    test.skipIf(!haveData)(`${file}: every line read, agreeing with an independent regex pass`, () => {
      const path = join(CF, file);
      const { entries, stats } = readCryptofeedLog(path);
      // independent pass: one regex per documented shape
      const shapes: Array<[RegExp, CryptofeedLogKind]> = [
        [/^(\S+) <-> ([0-9.]+)$/, "connect"],
        [/^(\S+) <- ([0-9.]+): (.+)$/, "send"],
        [/^(\S+) -> ([0-9.]+): (.+)$/, "http"],
        [/^()([0-9.]+): (.+)$/, "recv"],
      ];
      const expected: Array<{ kind: CryptofeedLogKind; url: string; ts: number; text: string; line: number }> = [];
      let url = "";
      readCaptureText(path).split("\n").forEach((l, i) => {
        if (l.length === 0) return;
        for (const [re, kind] of shapes) {
          const m = re.exec(l);
          if (!m) continue;
          if (kind === "connect") url = m[1]!;
          expected.push({ kind, url: kind === "recv" ? url : m[1]!, ts: Number(m[2]), text: m[3] ?? "", line: i + 1 });
          return;
        }
        throw new Error(`${file}:${i + 1} fits no documented shape`);
      });
      expect(stats.malformed).toBe(0);
      expect(stats.entries).toBe(expected.length);
      expect(entries.map((e) => ({ kind: e.kind, url: e.url, ts: e.ts, text: e.text, line: e.line }))).toEqual(expected);
      // payloads of the recorded files are all JSON
      for (const e of entries) if (e.kind !== "connect") JSON.parse(e.text);
      expect(entries.every((e) => e.recvNs / 1_000_000_000n === BigInt(Math.floor(e.ts)))).toBe(true);
    });
  }

  test.skipIf(!haveData)("KRAKEN.ws.50.0.gz: counts by kind", () => {
    const { stats } = readCryptofeedLog(join(CF, "KRAKEN.ws.50.0.gz"));
    expect(stats.byKind).toEqual({ connect: 1, send: 1, recv: 4321, http: 0 });
  });
});
