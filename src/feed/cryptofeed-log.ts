/**
 * Reader for cryptofeed's raw log format (the master-branch recorder: `*.ws.N.M` / `*.http.N.M`,
 * gzip or plain), one line per event:
 *
 *   <ws url> <-> <ts>               connect
 *   <ws url> <- <ts>: <json>        sent by us
 *   <ts>: <json>                    received, verbatim
 *   <http url> -> <ts>: <json>      REST response body
 *   (blank lines, at least at the end)
 *
 * `<ts>` is local time in float seconds. Guarantees:
 *   - every readable line becomes one entry, in file order, with its 1-based line number, kind,
 *     URL (a received frame carries the URL of the connection opened last before it, "" if none),
 *     time as float seconds and as exact integer ns taken from the recorded decimal digits, and the
 *     payload text untouched (the caller JSON-decodes it: this reader never parses payloads, so it
 *     costs one scan per line; a payload that is not JSON is the caller's to count);
 *   - a line that fits none of the four shapes (no time, a time that is not a number, no payload
 *     where the shape needs one) is counted in `stats.malformed` with its line number kept in
 *     `stats.malformedAt`, and skipped; it never stops the read;
 *   - DataFileError only when the file cannot be read at all or no line of it is readable.
 */
import { existsSync } from "node:fs";
import { DataFileError, readCaptureText } from "./recording.ts";

export type CryptofeedLogKind = "connect" | "send" | "recv" | "http";

export interface CryptofeedLogEntry {
  kind: CryptofeedLogKind;
  /** websocket URL (connect/send; recv: the current connection's), REST URL for http */
  url: string;
  /** time as recorded: float seconds since the Unix epoch */
  ts: number;
  /** the same instant in ns since the epoch, exact to the recorded decimal digits */
  recvNs: bigint;
  /** the JSON payload text as recorded; "" for connect */
  text: string;
  /** 1-based line number in the file */
  line: number;
}

export interface CryptofeedLogStats {
  file: string;
  /** non-blank lines */
  lines: number;
  entries: number;
  byKind: Record<CryptofeedLogKind, number>;
  malformed: number;
  /** first malformed lines as `file:line: reason` */
  malformedAt: string[];
}

const MAX_MALFORMED_KEPT = 20;
const TS_RE = /^\d+(\.\d+)?$/;

/** Decimal seconds text (`1618678132.9278011`) → integer ns, digits beyond the ns dropped. */
export function decimalSecondsToNs(text: string): bigint {
  const dot = text.indexOf(".");
  const whole = dot < 0 ? text : text.slice(0, dot);
  const frac = dot < 0 ? "" : text.slice(dot + 1);
  return BigInt(whole) * 1_000_000_000n + BigInt((frac + "000000000").slice(0, 9));
}

export class CryptofeedLogReader {
  readonly stats: CryptofeedLogStats;

  private constructor(
    readonly name: string,
    private readonly text: string,
  ) {
    this.stats = { file: name, lines: 0, entries: 0, byKind: { connect: 0, send: 0, recv: 0, http: 0 }, malformed: 0, malformedAt: [] };
  }

  /** Opens a file (gzip or plain), or reads `bytes` under that name. */
  static open(path: string, bytes?: Uint8Array): CryptofeedLogReader {
    if (!bytes && !existsSync(path)) throw new DataFileError(`data file ${path} does not exist (expected a cryptofeed raw log, e.g. KRAKEN.ws.50.0.gz)`);
    return new CryptofeedLogReader(path, readCaptureText(path, bytes));
  }

  /** A reader over text already in memory (tests, embedded slices). */
  static fromText(name: string, text: string): CryptofeedLogReader {
    return new CryptofeedLogReader(name, text);
  }

  /**
   * The entries in file order. Iterate once; stats are final when the iteration ends, and the
   * iteration ends with DataFileError when not one line was readable.
   */
  *entries(): Generator<CryptofeedLogEntry> {
    const text = this.text;
    const st = this.stats;
    let at = 0, lineNo = 0, readable = 0;
    let wsUrl = "";
    const bad = (why: string) => {
      st.malformed++;
      if (st.malformedAt.length < MAX_MALFORMED_KEPT) st.malformedAt.push(`${this.name}:${lineNo}: ${why}`);
    };
    while (at < text.length) {
      let nl = text.indexOf("\n", at);
      if (nl < 0) nl = text.length;
      let line = text.slice(at, nl);
      at = nl + 1;
      lineNo++;
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line.trim().length === 0) continue;
      st.lines++;
      const c0 = line.charCodeAt(0);
      let kind: CryptofeedLogKind;
      let url = "";
      let rest: string; // "<ts>: <json>" or, for connect, "<ts>"
      if (c0 >= 48 && c0 <= 57) {
        kind = "recv";
        url = wsUrl;
        rest = line;
      } else {
        // `<url> <op> ...`: the URL has no spaces, the op is the next token
        const sp = line.indexOf(" ");
        const sp2 = sp < 0 ? -1 : line.indexOf(" ", sp + 1);
        const op = sp < 0 ? "" : line.slice(sp + 1, sp2 < 0 ? line.length : sp2);
        if (op === "<->") kind = "connect";
        else if (op === "<-") kind = "send";
        else if (op === "->") kind = "http";
        else {
          bad("not a cryptofeed log line (no time, no `<url> <->|<-|-> <time>` prefix)");
          continue;
        }
        url = line.slice(0, sp);
        rest = sp2 < 0 ? "" : line.slice(sp2 + 1);
      }
      let tsText: string, payload: string;
      if (kind === "connect") {
        tsText = rest.trim();
        payload = "";
      } else {
        const colon = rest.indexOf(": ");
        if (colon < 0) {
          bad(`${kind} line without \`<time>: <json>\``);
          continue;
        }
        tsText = rest.slice(0, colon);
        payload = rest.slice(colon + 2);
        if (payload.length === 0) {
          bad(`${kind} line with an empty payload`);
          continue;
        }
      }
      if (!TS_RE.test(tsText)) {
        bad(`${kind} line whose time ${JSON.stringify(tsText.slice(0, 30))} is not decimal seconds`);
        continue;
      }
      if (kind === "connect") wsUrl = url;
      st.byKind[kind]++;
      st.entries++;
      readable++;
      yield { kind, url, ts: Number(tsText), recvNs: decimalSecondsToNs(tsText), text: payload, line: lineNo };
    }
    if (readable === 0) {
      throw new DataFileError(`data file ${this.name} holds no readable cryptofeed log line (${st.lines} non-blank lines, ${st.malformed} malformed${st.malformedAt[0] ? `, first: ${st.malformedAt[0]}` : ""})`);
    }
  }
}

/** Convenience: every entry of a file at once, with the reader's stats. */
export function readCryptofeedLog(path: string, bytes?: Uint8Array): { entries: CryptofeedLogEntry[]; stats: CryptofeedLogStats } {
  const r = CryptofeedLogReader.open(path, bytes);
  const entries = [...r.entries()];
  return { entries, stats: r.stats };
}
