/** `bot4 info`: what this binary is and what it found on this machine. */
import pkg from "../../package.json" with { type: "json" };
import { describeConfig, loadConfig } from "../config/load.ts";
import { settings } from "../config/schema.ts";
import { flagHelp, parseFlags, type FlagSpec } from "./args.ts";

const FLAGS: Record<string, FlagSpec> = {
  json: { about: "print one JSON object" },
  settings: { about: "list every setting with its meaning" },
  help: { about: "this help" },
};

export async function main(args: string[]): Promise<number> {
  const f = parseFlags("info", args, FLAGS);
  if (f.help) {
    process.stdout.write(`usage: bot4 info [flags]\n\n${flagHelp(FLAGS)}\n`);
    return 0;
  }
  if (f.settings) {
    for (const [k, s] of Object.entries(settings)) process.stdout.write(`${k.padEnd(22)} ${s.about}\n`);
    return 0;
  }
  const config = loadConfig();
  const { gatherInfo } = await import("../engine/machine.ts");
  const info = { version: pkg.version, bun: Bun.version, ...(await gatherInfo(config)), config: describeConfig(config) };
  if (f.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return 0;
  }
  const lines: string[] = [];
  const kv = (k: string, v: unknown) => lines.push(`  ${k.padEnd(22)} ${typeof v === "string" ? v : JSON.stringify(v)}`);
  lines.push(`bot4 ${info.version} (Bun ${info.bun})`);
  for (const [section, body] of Object.entries(info)) {
    if (typeof body !== "object" || body === null) continue;
    lines.push(`${section}:`);
    for (const [k, v] of Object.entries(body)) kv(k, v);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}
