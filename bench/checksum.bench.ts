/**
 * Book checksums. Figures, all in the same run:
 *   - CRC32 of a ~200-byte ASCII string (the size of Kraken's top-10 text): Bun.hash.crc32 (native),
 *     our table loop, and node:zlib's crc32 as the reference — decides what `crc32()` uses;
 *   - the Kraken v1 checksum of a real book (KRAKEN.ws.50.0.gz, the 10 pairs' final books): ours
 *     (digits copied into a preallocated buffer, one native CRC call), beside feeding the CRC table
 *     a byte at a time, and the plain way (build the text with replace + join, then Bun.hash.crc32);
 *   - the full cost of a Kraken v1 book update from the capture: apply the parsed message
 *     (levels, truncation, checksum check), and JSON.parse + apply, per message;
 *   - the OKX checksum (25 + 25 levels interleaved) of a synthetic 400-level book, ours beside the
 *     table loop and the plain join + crc32.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { crc32 as zlibCrc32 } from "node:zlib";
import { ASK, BID, L2Book } from "../src/book/l2book.ts";
import { crc32Ascii, crc32Begin, crc32End, crc32Table } from "../src/book/crc32.ts";
import { CryptofeedLogReader } from "../src/feed/cryptofeed-log.ts";
import { crc32KrakenDigits, KrakenBooks, type KrakenBookSync } from "../src/feed/kraken/book.ts";
import { OkxBookSync, type OkxLevel } from "../src/feed/okx/book.ts";
import { do_not_optimize, done, figure, micro, percentiles, section } from "./harness.ts";

// ---- CRC32 of a ~200-byte string
section("CRC32 of a 200-byte ASCII string");
let s200 = "";
for (let i = 0; s200.length < 200; i++) s200 += String((i * 7919) % 100003);
s200 = s200.slice(0, 200);
const bytes200 = new TextEncoder().encode(s200);
if (Bun.hash.crc32(s200) !== zlibCrc32(s200) || crc32Table(s200) !== zlibCrc32(s200)) throw new Error("crc32 paths disagree");
await micro("crc32_bun_hash_string_200B", () => do_not_optimize(Bun.hash.crc32(s200)));
await micro("crc32_table_string_200B", () => do_not_optimize(crc32Table(s200)));
await micro("crc32_bun_hash_bytes_200B", () => do_not_optimize(Bun.hash.crc32(bytes200)));
await micro("crc32_table_bytes_200B", () => do_not_optimize(crc32Table(bytes200)));
await micro("crc32_node_zlib_string_200B_reference", () => do_not_optimize(zlibCrc32(s200)));
await micro("crc32_bun_hash_string_40B", () => do_not_optimize(Bun.hash.crc32(s200.slice(0, 40))));
const s40 = s200.slice(0, 40);
await micro("crc32_table_string_40B", () => do_not_optimize(crc32Table(s40)));

// ---- Kraken v1, real capture
const FILE = resolve(import.meta.dir, "../../shared/data/cryptofeed/KRAKEN.ws.50.0.gz");
if (!existsSync(FILE)) {
  console.error(`skipping the Kraken part: ${FILE} is absent`);
} else {
  const texts: string[] = [];
  for (const e of CryptofeedLogReader.open(FILE).entries()) if (e.kind === "recv" && e.text.startsWith("[")) texts.push(e.text);
  const parsed = texts.map((t) => JSON.parse(t) as unknown[]).filter((f) => KrakenBooks.isBookFrame(f));
  const bookTexts = texts.filter((t) => KrakenBooks.isBookFrame(JSON.parse(t)));
  section(`Kraken v1 book (KRAKEN.ws.50.0.gz): ${parsed.length} book messages, 10 pairs, depth 1000`);
  const books = new KrakenBooks();
  for (const f of parsed) books.onFrame(f);
  const syncs: KrakenBookSync[] = [...books.byPair.values()];
  if (syncs.some((x) => x.counters.checksumMismatches > 0)) throw new Error("checksum mismatch on the capture");
  // the plain way: build the text, then hash it
  const plain = (x: KrakenBookSync) => {
    const parts: string[] = [];
    for (const side of [ASK, BID]) for (let i = 0; i < Math.min(10, x.book.depth(side)); i++) {
      const [p, v] = x.levelStrings(side, i)!;
      parts.push(p.replace(".", "").replace(/^0+/, ""), v.replace(".", "").replace(/^0+/, ""));
    }
    return Bun.hash.crc32(parts.join(""));
  };
  const table = (x: KrakenBookSync) => {
    let crc = crc32Begin();
    for (const side of [ASK, BID]) for (let i = 0; i < Math.min(10, x.book.depth(side)); i++) {
      const [p, v] = x.levelStrings(side, i)!;
      crc = crc32KrakenDigits(crc32KrakenDigits(crc, p), v);
    }
    return crc32End(crc);
  };
  for (const x of syncs) if (plain(x) !== x.checksum() || table(x) !== x.checksum()) throw new Error("checksum paths disagree");
  let k = 0;
  const ours = await micro("kraken_checksum_scratch_native", () => do_not_optimize(syncs[k++ % syncs.length]!.checksum()));
  k = 0;
  await micro("kraken_checksum_table_bytewise", () => do_not_optimize(table(syncs[k++ % syncs.length]!)));
  k = 0;
  const ref = await micro("kraken_checksum_plain_join_bun_hash_reference", () => do_not_optimize(plain(syncs[k++ % syncs.length]!)));
  figure("kraken_checksum_speedup_vs_plain", ref / ours, "x");

  const perMessage = (fn: () => void, reps: number) => {
    const t: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      fn();
      t.push(((performance.now() - t0) * 1e6) / parsed.length);
    }
    return percentiles(t).p50;
  };
  const apply = perMessage(() => {
    const b = new KrakenBooks();
    for (let i = 0; i < parsed.length; i++) b.onFrame(parsed[i]!);
  }, 60);
  figure("kraken_update_apply_with_checksum_per_msg_ns", apply, "ns/msg", "levels + truncation + checksum check; parsed message in");
  const parseApply = perMessage(() => {
    const b = new KrakenBooks();
    for (let i = 0; i < bookTexts.length; i++) b.onFrame(JSON.parse(bookTexts[i]!) as unknown[]);
  }, 60);
  figure("kraken_update_parse_and_apply_per_msg_ns", parseApply, "ns/msg", "JSON.parse of the frame text + the above");
}

// ---- OKX: a synthetic 400-level book (there is no OKX capture)
section("OKX books checksum (25 + 25 levels of a 400-level book)");
const okx = new OkxBookSync(new L2Book("okx", "BTC-USDT"));
const lvl = (p: number, i: number): OkxLevel => [p.toFixed(1), (0.001 + i * 0.137).toFixed(8).replace(/0+$/, ""), "0", "3"];
const bids = Array.from({ length: 400 }, (_, i) => lvl(30000 - 0.1 * (i + 1), i));
const asks = Array.from({ length: 400 }, (_, i) => lvl(30000 + 0.1 * (i + 1), i + 7));
okx.onSnapshot({ asks, bids, seqId: 1, prevSeqId: -1 });
const okxPlain = () => {
  const parts: string[] = [];
  for (let i = 0; i < 25; i++) {
    const b = okx.levelStrings(BID, i), a = okx.levelStrings(ASK, i);
    if (b) parts.push(b[0], b[1]);
    if (a) parts.push(a[0], a[1]);
  }
  return Bun.hash.crc32(parts.join(":")) | 0;
};
const okxTable = () => {
  let crc = crc32Begin();
  for (let i = 0; i < 25; i++) {
    for (const side of [BID, ASK]) {
      const l = okx.levelStrings(side, i);
      if (!l) continue;
      if (i > 0 || side === ASK) crc = crc32Ascii(crc, ":");
      crc = crc32Ascii(crc32Ascii(crc32Ascii(crc, l[0]), ":"), l[1]);
    }
  }
  return crc32End(crc) | 0;
};
if (okxPlain() !== okx.checksum() || okxTable() !== okx.checksum()) throw new Error("OKX checksum paths disagree");
const okxOurs = await micro("okx_checksum_scratch_native", () => do_not_optimize(okx.checksum()));
await micro("okx_checksum_table_bytewise", () => do_not_optimize(okxTable()));
const okxRef = await micro("okx_checksum_plain_join_bun_hash_reference", () => do_not_optimize(okxPlain()));
figure("okx_checksum_speedup_vs_plain", okxRef / okxOurs, "x");
done();
