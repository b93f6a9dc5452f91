/**
 * Which recorded format (and venue) a capture file is, from its first lines — so `bot4
 * verify-book FILE` needs no flag for the captures in ../shared/data. Unknown shapes are refused
 * with the list of what is understood.
 */
import { readCaptureText } from "../feed/recording.ts";

export const CAPTURE_FORMATS = {
  binance: "Binance `<recv_ns> <json>` lines (hftbacktest captures: combined streams + REST snapshot)",
  "binance-cryptofeed": "cryptofeed raw logs of Binance spot / USD-M / COIN-M (pass the .ws and the .http log)",
  kraken: "cryptofeed raw log of Kraken spot WS v1 (book-N with CRC32 checksums)",
  "kraken-futures": "cryptofeed raw log of Kraken Futures (book_snapshot + book with seq)",
  bybit: "Bybit v5 JSON lines (cryptofeed v3 recording, or Bybit's orderbook history dump)",
  coinbase: "Coinbase Advanced Trade JSON lines (cryptofeed v3 recording)",
} as const;
export type CaptureFormat = keyof typeof CAPTURE_FORMATS;

export class UnknownCaptureError extends Error {
  override name = "UnknownCaptureError";
}

/** The format of a capture file, judged from its first 64 KiB of text. */
export function detectCapture(path: string): CaptureFormat {
  const text = readCaptureText(path);
  const head = text.slice(0, 65536);
  const first = head.slice(0, head.indexOf("\n") < 0 ? head.length : head.indexOf("\n"));
  const low = head.toLowerCase();
  if (/^\d{12,} \{/.test(first)) return "binance";
  if (first.startsWith('{"t":')) {
    if (low.includes("bybit")) return "bybit";
    if (low.includes("coinbase")) return "coinbase";
  }
  if (first.startsWith('{"topic":"orderbook.')) return "bybit";
  if (/^(wss?|https?):\/\/\S+ (<->|<-|->) /.test(first) || /^\d+(\.\d+)?: [[{]/.test(first)) {
    if (low.includes("futures.kraken.com")) return "kraken-futures";
    if (low.includes("kraken.com")) return "kraken";
    if (low.includes("binance")) return "binance-cryptofeed";
  }
  throw new UnknownCaptureError(
    `${path}: not a capture format verify-book understands. Known formats (--format NAME):\n` +
      Object.entries(CAPTURE_FORMATS)
        .map(([k, v]) => `  ${k.padEnd(18)} ${v}`)
        .join("\n"),
  );
}
