/**
 * cryptofeed recordings as importer entries.
 *
 * Raw logs (cryptofeed master `*.ws.*.gz` / `*.http.*.gz`), one event per line:
 *   `<url> <-> <ts>`          connection opened            (skipped)
 *   `<url> <- <ts>: <json>`   frame sent by the client      (skipped)
 *   `<ts>: <json>`            frame received, verbatim      → a frame
 *   `<url> -> <ts>: <json>`   REST response body            → a frame with `source` = the URL
 * `<ts>` is float seconds as text; its decimal digits become exact ns (no float rounding). This is a
 * minimal splitter of our own: the shared reader planned for src/feed/cryptofeed-log.ts did not exist
 * when this was written — switch to it once it does.
 *
 * cryptofeed v3 recordings (`*.jsonl.gz`) are read with src/feed/cryptofeed-v3.ts; `recv` entries and
 * `http` bodies become frames.
 *
 * The venue of a raw log is told by the URLs in its first lines (stream / fstream / dstream
 * .binance.com, ws.kraken.com, …); a v3 file names its exchange in its header line.
 */
import { existsSync } from "node:fs";
import { CryptofeedV3Reader } from "../../feed/cryptofeed-v3.ts";
import { makeBinanceNormaliser } from "./binance.ts";
import type { BadLine, Frame, ImportInput, ImporterEntry, Normaliser } from "./types.ts";

const TS_RE = /^\d{1,12}(\.\d{1,18})?$/;

/** `1633998512.0633569` → 1633998512063356900n (digits past ns are dropped). */
export function decimalSecondsToNs(s: string): bigint {
  const dot = s.indexOf(".");
  const whole = dot < 0 ? s : s.slice(0, dot);
  const frac = dot < 0 ? "" : s.slice(dot + 1);
  return BigInt(whole) * 1_000_000_000n + BigInt((frac + "000000000").slice(0, 9));
}

/** True when the head looks like a cryptofeed raw log. */
export function isCryptofeedLog(head: string): boolean {
  const first = head.slice(0, Math.max(0, head.indexOf("\n")) || head.length);
  return /^\S+:\/\/\S+ (<->|<-|->) \d+(\.\d+)?/.test(first) || /^\d+(\.\d+)?: [{[]/.test(first);
}

export async function* cryptofeedLogFrames(input: ImportInput): AsyncIterable<Frame | BadLine> {
  let lineNo = 0;
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
      yield source === undefined ? { frame, recvNs: decimalSecondsToNs(ts), line: lineNo } : { frame, recvNs: decimalSecondsToNs(ts), line: lineNo, source };
    }
  }
}

export async function* cryptofeedV3Frames(input: ImportInput): AsyncIterable<Frame | BadLine> {
  const r = CryptofeedV3Reader.open(input.path);
  let reported = 0;
  for (const e of r.entries()) {
    while (reported < r.stats.malformedAt.length) yield badFrom(r.stats.malformedAt[reported++]!);
    if (e.kind !== "recv" && e.kind !== "http") continue;
    let frame: unknown;
    try {
      frame = JSON.parse(e.frame);
    } catch {
      yield { bad: "frame text is not JSON", line: e.line };
      continue;
    }
    yield e.kind === "http" ? { frame, recvNs: e.recvNs, line: e.line, source: e.target } : { frame, recvNs: e.recvNs, line: e.line };
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

/** Venue normalisers written elsewhere (`src/feed/<venue>/normalize.ts`), registered when present. */
export async function optionalVenueEntries(): Promise<ImporterEntry[]> {
  const out: ImporterEntry[] = [];
  const feed = new URL("../../feed/", import.meta.url);
  const load = async (venue: string, fnName: string): Promise<Normaliser | null> => {
    const file = new URL(`${venue}/normalize.ts`, feed);
    if (!existsSync(file)) return null;
    const mod = (await import(file.href)) as Record<string, unknown>;
    const fn = mod[fnName];
    return typeof fn === "function" ? (fn as Normaliser) : null;
  };
  const wrap = (fn: Normaliser) => (): Normaliser => {
    const n: Normaliser = (frame, recvNs, instruments, out, source) => fn(frame, recvNs, instruments, out, source);
    return n;
  };
  const kraken = await load("kraken", "normalizeKrakenFrame");
  if (kraken) out.push(cryptofeedLogEntry("kraken", wrap(kraken), "cryptofeed raw logs of Kraken (normalizeKrakenFrame)"));
  const okx = await load("okx", "normalizeOkxFrame");
  if (okx) out.push(cryptofeedLogEntry("okx", wrap(okx), "cryptofeed raw logs of OKX (normalizeOkxFrame)"));
  const coinbase = await load("coinbase", "normalizeCoinbaseFrame");
  if (coinbase) {
    out.push(cryptofeedLogEntry("coinbase", wrap(coinbase), "cryptofeed raw logs of Coinbase (normalizeCoinbaseFrame)"));
    out.push(cryptofeedV3Entry("COINBASE", wrap(coinbase), "cryptofeed v3 JSON lines of Coinbase (normalizeCoinbaseFrame)"));
  }
  const bybit = await load("bybit", "normalizeBybitFrame");
  if (bybit) {
    out.push(cryptofeedLogEntry("bybit", wrap(bybit), "cryptofeed raw logs of Bybit (normalizeBybitFrame)"));
    out.push(cryptofeedV3Entry("BYBIT", wrap(bybit), "cryptofeed v3 JSON lines of Bybit (normalizeBybitFrame)"));
  }
  return out;
}
