/** Minimal, strict argument parsing: unknown commands and flags are errors (exit code 2). */
export class UsageError extends Error {
  override name = "UsageError";
  readonly exitCode = 2;
}

export interface FlagSpec {
  /** takes a value (`--speed 10` or `--speed=10`) */
  value?: boolean;
  about: string;
}

/** @param positional where non-flag arguments go; without it they are refused */
export function parseFlags(command: string, args: string[], spec: Record<string, FlagSpec>, positional?: string[]): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith("--") && positional) {
      positional.push(a);
      continue;
    }
    if (!a.startsWith("--")) throw new UsageError(`bot4 ${command}: unexpected argument \`${a}\`; see \`bot4 ${command} --help\``);
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const s = spec[name];
    if (!s) throw new UsageError(`bot4 ${command}: unknown flag --${name}; known flags: ${Object.keys(spec).map((k) => `--${k}`).join(", ")}`);
    if (s.value) {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined || v === "") throw new UsageError(`bot4 ${command}: --${name} needs a value (${s.about})`);
      out[name] = v;
    } else {
      if (eq > 0) throw new UsageError(`bot4 ${command}: --${name} takes no value`);
      out[name] = true;
    }
  }
  return out;
}

export function flagHelp(spec: Record<string, FlagSpec>): string {
  return Object.entries(spec)
    .map(([k, s]) => `  --${(k + (s.value ? " <v>" : "")).padEnd(20)} ${s.about}`)
    .join("\n");
}
