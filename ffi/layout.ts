/**
 * Start-up check of every struct shared with C: the C side writes "name=value" lines of sizes,
 * offsets and constants (bot4_layout_<family>), this side compares them with the TypeScript mirror.
 */
export class LayoutMismatchError extends Error {
  constructor(
    readonly family: string,
    readonly problems: string[],
  ) {
    super(
      `struct layout mismatch between the C kernels and TypeScript (${family}):\n  ${problems.join("\n  ")}\n` +
        `The kernel library and the TypeScript sources were built from different versions: ` +
        `rebuild both with \`make clean all\` (or use a bot4 executable built in one piece).`,
    );
    this.name = "LayoutMismatchError";
  }
}

export type LayoutFn = (buf: Uint8Array, cap: number) => number;

/** Parses what a layout function wrote. */
export function readLayout(fn: LayoutFn): Map<string, number> {
  const buf = new Uint8Array(16384);
  const n = fn(buf, buf.length);
  if (n >= buf.length) throw new Error(`layout text longer than ${buf.length} bytes`);
  const out = new Map<string, number>();
  for (const line of new TextDecoder().decode(buf.subarray(0, n)).split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out.set(line.slice(0, eq), Number(line.slice(eq + 1)));
  }
  return out;
}

/** Compares C's layout with the expected one; every name on either side must agree. */
export function checkLayout(family: string, fn: LayoutFn, expected: Record<string, number>): void {
  const actual = readLayout(fn);
  const problems: string[] = [];
  for (const [name, want] of Object.entries(expected)) {
    const got = actual.get(name);
    if (got === undefined) problems.push(`${name}: TypeScript expects ${want}, C does not export it`);
    else if (got !== want) problems.push(`${name}: C says ${got}, TypeScript says ${want}`);
  }
  for (const name of actual.keys()) {
    if (!(name in expected)) problems.push(`${name}: exported by C (${actual.get(name)}), not mirrored in TypeScript`);
  }
  if (problems.length) throw new LayoutMismatchError(family, problems);
}
