/** `bot4 verify-book FILE...`: replays a raw capture through the feed's book code; prints a JSON summary. */
import { flagHelp, parseFlags, type FlagSpec, UsageError } from "./args.ts";
import { CAPTURE_FORMATS, type CaptureFormat, detectCapture } from "../book/detect.ts";

const FLAGS: Record<string, FlagSpec> = {
  format: { value: true, about: `capture format (default: detected from the first file): ${Object.keys(CAPTURE_FORMATS).join(", ")}` },
  help: { about: "this help" },
};

interface Summary {
  messages: number;
  malformed: number;
  sequenceGaps: number;
  checksumMismatches: number;
  topMismatches: number;
  crossed: number;
  instruments: Array<{ synced: boolean }>;
}

async function run(format: CaptureFormat, files: string[]): Promise<Summary> {
  switch (format) {
    case "binance":
      return (await import("../book/verify.ts")).verifyBinanceCapture(files);
    case "binance-cryptofeed":
      return (await import("../book/verify.ts")).verifyBinanceCryptofeedCapture(files);
    case "kraken":
      return (await import("../book/verify-kraken.ts")).verifyKrakenCapture(files);
    case "kraken-futures":
      return (await import("../book/verify-kraken.ts")).verifyKrakenFuturesCapture(files);
    case "bybit":
      return (await import("../book/verify-bybit.ts")).verifyBybitCapture(files);
    case "coinbase":
      return (await import("../book/verify-coinbase.ts")).verifyCoinbaseCapture(files);
  }
}

export async function main(args: string[]): Promise<number> {
  const files: string[] = [];
  const f = parseFlags("verify-book", args, FLAGS, files);
  if (f.help) {
    process.stdout.write(
      `usage: bot4 verify-book [--format NAME] FILE [FILE...]\n\nReplays a raw capture (gzip or plain; several files = one stream in order) through the same\nparser, sequence / checksum procedure and book code as the live feed, and prints one JSON summary:\nmessages, book updates, checksums checked and mismatched, sequence gaps, resyncs, crossed books,\ntop-of-book checks against the venue's own top where the capture has one at the same update id,\nand the final top of book per instrument.\nExit code 0 when every book stayed in sync with no gap and no mismatch, 1 otherwise.\n\nFormats:\n${Object.entries(CAPTURE_FORMATS)
        .map(([k, v]) => `  ${k.padEnd(18)} ${v}`)
        .join("\n")}\n\n${flagHelp(FLAGS)}\n`,
    );
    return 0;
  }
  if (files.length === 0) throw new UsageError("verify-book: name at least one capture file (see `bot4 verify-book --help`)");
  let format: CaptureFormat;
  if (typeof f.format === "string") {
    if (!(f.format in CAPTURE_FORMATS)) throw new UsageError(`verify-book: --format ${f.format} is not one of ${Object.keys(CAPTURE_FORMATS).join(", ")}`);
    format = f.format as CaptureFormat;
  } else {
    format = detectCapture(files[0]!);
  }
  const r = await run(format, files);
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  const clean = r.sequenceGaps === 0 && r.checksumMismatches === 0 && r.topMismatches === 0 && r.crossed === 0 && r.malformed === 0 && r.messages > 0 && r.instruments.length > 0 && r.instruments.every((i) => i.synced);
  return clean ? 0 : 1;
}
