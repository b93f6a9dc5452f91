/**
 * cryptofeed recordings as importer entries.
 *
 * Raw logs (cryptofeed master `*.ws.*.gz` / `*.http.*.gz`), one event per line:
 *   `<url> <-> <ts>`          connection opened            (skipped)
 *   `<url> <- <ts>: <json>`   frame sent by the client      (skipped)
 *   `<ts>: <json>`            frame received, verbatim      → a frame
 *   `<url> -> <ts>: <json>`   REST response body            → a frame with `source` = the URL
 * `<ts>` is float seconds as text; its decimal digits become exact ns (no float rounding). A received
 * frame's `source` is the URL of the connection opened last before it (the REST URL for a REST body).
 * The lines are split here, as a stream, rather than with src/feed/cryptofeed-log.ts's reader, which
 * holds the whole decoded file in memory: imports must stay within bounded memory for large logs.
 *
 * cryptofeed v3 recordings (`*.jsonl.gz`) are read with src/feed/cryptofeed-v3.ts; `recv` entries and
 * `http` bodies become frames.
 *
 * The venue of a raw log is told by the URLs in its first lines (stream / fstream / dstream
 * .binance.com, ws.kraken.com, …); a v3 file names its exchange in its header line.
 */
import { decimalSecondsToNs } from "../../feed/cryptofeed-log.ts";
import { CryptofeedV3Reader } from "../../feed/cryptofeed-v3.ts";
import { bybitCategoryFromUrl } from "../../feed/bybit/book.ts";
import { BybitTickerState, normalizeBybitFrame } from "../../feed/bybit/normalize.ts";
import { normalizeCoinbaseFrame } from "../../feed/coinbase/normalize.ts";
import { normalizeKrakenFrame } from "../../feed/kraken/normalize.ts";
import { normalizeOkxFrame } from "../../feed/okx/normalize.ts";
import { makeBinanceNormaliser } from "./binance.ts";
import type { BadLine, Frame, ImportInput, ImporterEntry, Normaliser } from "./types.ts";

const TS_RE = /^\d{1,12}(\.\d{1,18})?$/;

export { decimalSecondsToNs };

/** True when the head looks like a cryptofeed raw log. */
export function isCryptofeedLog(head: string): boolean {
  const first = head.slice(0, Math.max(0, head.indexOf("\n")) || head.length);
  return /^\S+:\/\/\S+ (<->|<-|->) \d+(\.\d+)?/.test(first) || /^\d+(\.\d+)?: [{[]/.test(first);
}

export async function* cryptofeedLogFrames(input: ImportInput): AsyncIterable<Frame | BadLine> {
  let lineNo = 0;
  let wsUrl: string | undefined;
  for await (const batch of input.lines()) {
    for (const raw of batch) {
      lineNo++;
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line.trim().length === 0) continue;
      let source: string | undefined;
      let rest = line;
      if (!(line.charCodeAt(0) >= 48 && line.charCodeAt(0) <= 57)) {
        const sp = line.indexOf(" ");
        const arrow = sp > 0 ? line.slice(sp + 1, line.indexOf(" ", sp + 1)) : "";
        if (arrow === "<->") wsUrl = line.slice(0, sp);
        if (arrow === "<->" || arrow === "<-") continue; // connect / sent: not market data
        if (arrow !== "->") {
          yield { bad: "neither `<ts>: <json>` nor `<url> <->|<-|-> <ts>`", line: lineNo };
          continue;
        }
        source = line.slice(0, sp);
        rest = line.slice(sp + 4);
      }
      const colon = rest.indexOf(": ");
      const ts = colon > 0 ? rest.slice(0, colon) : "";
      if (!TS_RE.test(ts)) {
        yield { bad: "no `<seconds>: ` receive time", line: lineNo };
        continue;
      }
      let frame: unknown;
      try {
        frame = JSON.parse(rest.slice(colon + 2));
      } catch {
        yield { bad: "invalid JSON", line: lineNo };
        continue;
      }
      source ??= wsUrl;
      yield source === undefined ? { frame, recvNs: decimalSecondsToNs(ts), line: lineNo } : { frame, recvNs: decimalSecondsToNs(ts), line: lineNo, source };
    }
  }
}

export async function* cryptofeedV3Frames(input: ImportInput): AsyncIterable<Frame | BadLine> {
  const r = CryptofeedV3Reader.open(input.path);
  let reported = 0;
  const addr = new Map<string, string>();
  for (const e of r.entries()) {
    while (reported < r.stats.malformedAt.length) yield badFrom(r.stats.malformedAt[reported++]!);
    if (e.kind === "connect") addr.set(e.conn, e.target);
    if (e.kind !== "recv" && e.kind !== "http") continue;
    let frame: unknown;
    try {
      frame = JSON.parse(e.frame);
    } catch {
      yield { bad: "frame text is not JSON", line: e.line };
      continue;
    }
    const source = e.kind === "http" ? e.target : addr.get(e.conn);
    yield source === undefined ? { frame, recvNs: e.recvNs, line: e.line } : { frame, recvNs: e.recvNs, line: e.line, source };
  }
  while (reported < r.stats.malformedAt.length) yield badFrom(r.stats.malformedAt[reported++]!);
  // the reader keeps the first 20 malformed lines with their numbers; count the rest without one
  for (let i = r.stats.malformedAt.length; i < r.stats.malformed; i++) yield { bad: "malformed cryptofeed v3 line", line: 0 };
  input.consumed(input.size);
}

function badFrom(at: string): BadLine {
  const m = /:(\d+): (.*)$/.exec(at);
  return { bad: m?.[2] ?? at, line: m ? Number(m[1]) : 0 };
}

/** Venue hosts of each exchange's raw log, as recorded in its connect / REST lines. */
const HOSTS: Record<string, RegExp> = {
  binance: /\/\/[a-z]*\.?binance\.com/,
  kraken: /\/\/[a-z-]*\.?kraken\.com/,
  coinbase: /\/\/[a-z-.]*coinbase\.com/,
  bybit: /\/\/[a-z-.]*bybit\.com/,
  okx: /\/\/[a-z-.]*ok(x|ex)\.com/,
};

export function cryptofeedLogEntry(venue: string, normaliser: (input: ImportInput) => Normaliser, about: string): ImporterEntry {
  const host = HOSTS[venue]!;
  return {
    name: `cryptofeed:${venue}`,
    about,
    detect: ({ head }) => isCryptofeedLog(head) && host.test(head.slice(0, 4096)),
    reader: cryptofeedLogFrames,
    normaliser,
  };
}

export function cryptofeedV3Entry(exchange: string, normaliser: (input: ImportInput) => Normaliser, about: string): ImporterEntry {
  return {
    name: `cryptofeed-v3:${exchange.toLowerCase()}`,
    about,
    detect: ({ head }) => head.startsWith(`{"t":"header"`) && new RegExp(`"exchange":"${exchange}"`).test(head.slice(0, 2048)),
    reader: cryptofeedV3Frames,
    normaliser,
  };
}

export const cryptofeedBinance = cryptofeedLogEntry("binance", (input) => makeBinanceNormaliser(input.ctx), "cryptofeed raw logs of Binance spot / USD-M / COIN-M (depth, bookTicker, trade, aggTrade; *.http.* REST snapshots)");

/** Entries for the venue normalisers of src/feed/<venue>/normalize.ts. */
export function venueEntries(): ImporterEntry[] {
  const out: ImporterEntry[] = [];
  const plain = (fn: Normaliser) => (): Normaliser => (frame, recvNs, instruments, tb) => fn(frame, recvNs, instruments, tb);
  out.push(cryptofeedLogEntry("kraken", plain(normalizeKrakenFrame), "cryptofeed raw logs of Kraken spot v1/v2 and Kraken Futures (normalizeKrakenFrame)"));
  out.push(cryptofeedLogEntry("okx", plain(normalizeOkxFrame), "cryptofeed raw logs of OKX v5 (normalizeOkxFrame)"));
  out.push(cryptofeedLogEntry("coinbase", plain(normalizeCoinbaseFrame), "cryptofeed raw logs of Coinbase Advanced Trade (normalizeCoinbaseFrame; the legacy Exchange feed of the 2021 logs maps to nothing)"));
  out.push(cryptofeedV3Entry("COINBASE", plain(normalizeCoinbaseFrame), "cryptofeed v3 JSON lines of Coinbase Advanced Trade (normalizeCoinbaseFrame)"));
  // Bybit's normaliser takes the stream's category (from the connection URL: names instruments) and a
  // tickers state per connection (linear tickers are deltas), so it gets its own adapter
  const bybit = (): Normaliser => {
    const tickers = new Map<string, BybitTickerState>();
    return (frame, recvNs, instruments, out, source) => {
      const url = source ?? "";
      let t = tickers.get(url);
      if (!t) tickers.set(url, (t = new BybitTickerState()));
      return normalizeBybitFrame(frame, recvNs, instruments, out, { category: bybitCategoryFromUrl(url), tickers: t });
    };
  };
  out.push(cryptofeedLogEntry("bybit", bybit, "cryptofeed raw logs of Bybit v5 (normalizeBybitFrame; the retired v2 API of the 2021 logs maps to nothing)"));
  out.push(cryptofeedV3Entry("BYBIT", bybit, "cryptofeed v3 JSON lines of Bybit v5 (normalizeBybitFrame)"));
  return out;
}
