/**
 * Logs: pino, JSON lines, written asynchronously (sonic-boom buffers and flushes off the caller's
 * path). Never called inside the tick loop: hot paths count, the cold path logs the counts.
 * Anything that looks like a credential is redacted by key name, wherever it is nested.
 */
import pino, { type Logger } from "pino";

const SECRET_KEYS = ["apiKey", "secret", "apiSecret", "password", "passphrase", "token", "privateKey", "signature"];
export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  "headers.X-MBX-APIKEY",
  "*.headers.X-MBX-APIKEY",
];

export interface LogOptions {
  level?: string;
  /** file path; empty or undefined: standard error */
  file?: string;
  /** synchronous writes, for tests that read the output right away */
  sync?: boolean;
}

let root: Logger | undefined;

export function createLogger(opts: LogOptions = {}): Logger {
  const dest = pino.destination({
    dest: opts.file ? opts.file : 2,
    sync: opts.sync ?? false,
    minLength: opts.sync ? 0 : 4096,
    mkdir: true,
  });
  return pino(
    {
      level: opts.level ?? "info",
      base: { app: "bot4", pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    dest,
  );
}

/** The process logger (configured once by the CLI; a default stderr logger otherwise). */
export function log(): Logger {
  return (root ??= createLogger({ level: process.env.BOT4_LOG_LEVEL || "info" }));
}

export function setLogger(l: Logger): void {
  root = l;
}

/** Flushes buffered lines before exit. */
export function flushLogs(): void {
  try {
    root?.flush();
  } catch {
    /* a closed destination has nothing left to flush */
  }
}
