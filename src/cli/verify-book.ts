/** `bot4 verify-book FILE...`: replays a raw capture through the feed's book code; prints a JSON summary. */
import { flagHelp, parseFlags, type FlagSpec, UsageError } from "./args.ts";

const FLAGS: Record<string, FlagSpec> = {
  help: { about: "this help" },
};

export async function main(args: string[]): Promise<number> {
  const files: string[] = [];
  const f = parseFlags("verify-book", args, FLAGS, files);
  if (f.help) {
    process.stdout.write(
      `usage: bot4 verify-book FILE [FILE...]\n\nReplays a raw capture (\`<recv_ns> <json>\` lines, gzip or plain; several files = one stream in order)\nthrough the same depth-sync and book code as the live feed and prints one JSON summary: messages,\nbook updates, sequence gaps, resyncs, crossed books, top-of-book checks against the venue's\nbookTicker at the same update id, and the final top of book per instrument.\nExit code 0 when every book stayed in sync with no gap and no mismatch, 1 otherwise.\n\n${flagHelp(FLAGS)}\n`,
    );
    return 0;
  }
  if (files.length === 0) throw new UsageError("verify-book: name at least one capture file (see `bot4 verify-book --help`)");
  const { verifyBinanceCapture } = await import("../book/verify.ts");
  const r = verifyBinanceCapture(files);
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  const clean = r.sequenceGaps === 0 && r.topMismatches === 0 && r.crossed === 0 && r.malformed === 0 && r.instruments.every((i) => i.synced);
  return clean ? 0 : 1;
}
