/** `bot4 import [--from FORMAT] --out FILE.b4t INPUT...`: recorded market data → one tick file; JSON summary on stdout. */
import { flagHelp, parseFlags, type FlagSpec, UsageError } from "./args.ts";

const FLAGS: Record<string, FlagSpec> = {
  from: { value: true, about: "input format (registry name or family, e.g. hftbacktest, tardis, cryptofeed); detected per input when omitted" },
  out: { value: true, about: "the tick file to write (.b4t); written as <out>.part and renamed when complete" },
  progress: { about: "show progress on stderr even for small inputs (default: inputs of 8 MiB or more)" },
  quiet: { about: "no progress output" },
  formats: { about: "list the input formats and exit" },
  help: { about: "this help" },
};

export async function main(args: string[]): Promise<number> {
  const inputs: string[] = [];
  const f = parseFlags("import", args, FLAGS, inputs);
  const { importers, importFiles } = await import("../tickfile/import.ts");
  if (f.help || f.formats) {
    const list = (await importers()).map((e) => `  ${e.name.padEnd(22)} ${e.about}`).join("\n");
    if (f.formats) {
      process.stdout.write(`${list}\n`);
      return 0;
    }
    process.stdout.write(
      `usage: bot4 import [--from FORMAT] --out FILE.b4t INPUT [INPUT...]\n\nReads recorded market data (gzip or plain) and writes one bot4 tick file: 64-byte records with\nvenue and instrument tables and per-block checksums (src/tickfile/format.ts). Several inputs are\nmerged by receive time, a venue message's records kept together. Lines that cannot be read are\ncounted and listed with their line numbers, never fatal. Prints one JSON summary: records per\nkind, malformed and ignored frames, instruments. Exit code 0 when the file was written.\n\nformats:\n${list}\n\n${flagHelp(FLAGS)}\n`,
    );
    return 0;
  }
  if (typeof f.out !== "string") throw new UsageError("import: name the output with --out FILE.b4t (see `bot4 import --help`)");
  if (inputs.length === 0) throw new UsageError("import: name at least one input file (see `bot4 import --help`)");
  if (f.progress && f.quiet) throw new UsageError("import: --progress and --quiet contradict each other");
  if (typeof f.from === "string") {
    const { selectImporters } = await import("../tickfile/import.ts");
    const all = await importers();
    if (selectImporters(all, f.from).length === 0) throw new UsageError(`import: unknown --from ${f.from}; formats: ${all.map((e) => e.name).join(", ")}`);
  }
  const summary = await importFiles(inputs, f.out, {
    from: typeof f.from === "string" ? f.from : undefined,
    progress: f.quiet ? false : f.progress ? true : undefined,
  });
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  return 0;
}
