/**
 * Where a Worker's entry file is. From source, a path under src/; inside the `bot4` executable,
 * under /$bunfs/root/ (the common root of the entry points given to `bun build --compile`, which
 * is src/: the Makefile lists every worker entry beside src/cli/main.ts).
 */
import { join } from "node:path";

export const COMPILED = Bun.main.startsWith("/$bunfs/");

/** @param rel path relative to src/, e.g. "feed/replay-worker.ts" */
export function workerEntry(rel: string): string {
  return COMPILED ? `/$bunfs/root/${rel}` : join(import.meta.dir, "..", rel);
}
