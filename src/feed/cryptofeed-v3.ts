/**
 * Reader for cryptofeed v3 recordings (recorder format 2): one JSON object per line,
 *
 *   {"t":"header","format":2,"exchange":...,"config":{...},"recorded":<unix s>}
 *   {"t":"http","conn":"X.http.1","ts":<unix s>,"url":...,"data":"<raw body>"}
 *   {"t":"connect","conn":"X.ws.2","ts":<unix s>,"addr":"wss://..."}
 *   {"t":"send"|"recv","conn":"X.ws.2","ts":<unix s>,"data":"<exact ws frame text>"}
 *
 * gzip or plain. Guarantees:
 *   - every readable line becomes one entry, in file order, with its 1-based line number, its
 *     kind, connection id, receive time (the float seconds as recorded, and the same value as
 *     exact integer ns, read from the number's shortest decimal form so microseconds survive) and
 *     the frame text untouched (`data` is a string the caller JSON-decodes again);
 *   - a line that cannot be read (not JSON, not an object, unknown `t`, no `conn`, no numeric
 *     `ts`, `data` not a string where the kind needs one) is counted in `stats.malformed` with its
 *     line number kept in `stats.malformedAt`, and skipped; it never stops the read;
 *   - DataFileError only when the file cannot be read at all or no line of it is readable.
 */
import { existsSync } from "node:fs";
import { DataFileError, readCaptureText } from "./recording.ts";

export type CryptofeedV3Kind = "http" | "connect" | "send" | "recv";

export interface CryptofeedV3Entry {
  kind: CryptofeedV3Kind;
  /** connection id as recorded, e.g. `BYBIT.ws.2`; frames of one connection share it */
  conn: string;
  /** receive time as recorded: float seconds since the Unix epoch */
  ts: number;
  /** the same instant in ns since the epoch, exact to the recorded decimal digits */
  recvNs: bigint;
  /** the frame (or HTTP body) text; "" for `connect` */
  frame: string;
  /** `addr` of connect/send, `url` of http; "" when absent */
  target: string;
  /** 1-based line number in the file */
  line: number;
}

export interface CryptofeedV3Stats {
  file: string;
  /** non-empty lines */
  lines: number;
  entries: number;
  byKind: Record<CryptofeedV3Kind | "header", number>;
  malformed: number;
  /** first malformed lines as `file:line: reason` */
  malformedAt: string[];
}

const MAX_MALFORMED_KEPT = 20;
const KINDS = new Set(["http", "connect", "send", "recv"]);

/**
 * Float seconds → integer ns, from the shortest decimal that round-trips the double (what the
 * recorder wrote for up to 17 significant digits), so `1786310819.526357` gives
 * 1786310819526357000n exactly rather than the double's nearest-representable neighbour.
 */
export function secondsToNs(s: number): bigint {
  if (!Number.isFinite(s)) throw new RangeError(`not a finite time: ${s}`);
  const text = String(s);
  if (/e/i.test(text)) return BigInt(Math.round(s * 1e9));
  const neg = text.startsWith("-");
  const body = neg ? text.slice(1) : text;
  const dot = body.indexOf(".");
  const whole = dot < 0 ? body : body.slice(0, dot);
  const frac = dot < 0 ? "" : body.slice(dot + 1);
  const ns = BigInt(whole) * 1_000_000_000n + BigInt((frac + "000000000").slice(0, 9));
  // digits beyond ns are dropped (truncation toward zero), never rounded into the next ns
  return neg ? -ns : ns;
}

export class CryptofeedV3Reader {
  readonly stats: CryptofeedV3Stats;
  /** the header line's object, when the file has one */
  header: Record<string, unknown> | null = null;

  private constructor(
    readonly name: string,
    private readonly text: string,
  ) {
    this.stats = { file: name, lines: 0, entries: 0, byKind: { header: 0, http: 0, connect: 0, send: 0, recv: 0 }, malformed: 0, malformedAt: [] };
  }

  /** Opens a file (gzip or plain), or reads `bytes` under that name. */
  static open(path: string, bytes?: Uint8Array): CryptofeedV3Reader {
    if (!bytes && !existsSync(path)) throw new DataFileError(`data file ${path} does not exist (expected a cryptofeed v3 recording, *.jsonl or *.jsonl.gz)`);
    return new CryptofeedV3Reader(path, readCaptureText(path, bytes));
  }

  /** A reader over text already in memory (tests, embedded slices). */
  static fromText(name: string, text: string): CryptofeedV3Reader {
    return new CryptofeedV3Reader(name, text);
  }

  /**
   * The entries in file order. Iterate once; stats are final when the iteration ends, and the
   * iteration ends with DataFileError when not one line was readable.
   */
  *entries(): Generator<CryptofeedV3Entry> {
    const text = this.text;
    const st = this.stats;
    let at = 0, lineNo = 0, readable = 0;
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
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        bad("invalid JSON");
        continue;
      }
      if (o === null || typeof o !== "object" || Array.isArray(o)) {
        bad("not a JSON object");
        continue;
      }
      const r = o as Record<string, unknown>;
      const t = r.t;
      if (t === "header") {
        st.byKind.header++;
        this.header ??= r;
        readable++;
        continue;
      }
      if (typeof t !== "string" || !KINDS.has(t)) {
        bad(`unknown entry kind t=${JSON.stringify(t)?.slice(0, 40)}`);
        continue;
      }
      const kind = t as CryptofeedV3Kind;
      if (typeof r.conn !== "string" || r.conn.length === 0) {
        bad(`${kind} entry without a conn id`);
        continue;
      }
      if (typeof r.ts !== "number" || !Number.isFinite(r.ts)) {
        bad(`${kind} entry without a numeric ts`);
        continue;
      }
      let frame = "";
      if (kind !== "connect") {
        if (typeof r.data !== "string") {
          bad(`${kind} entry whose data is not a string`);
          continue;
        }
        frame = r.data;
      }
      const target = typeof r.addr === "string" ? r.addr : typeof r.url === "string" ? r.url : "";
      st.byKind[kind]++;
      st.entries++;
      readable++;
      yield { kind, conn: r.conn, ts: r.ts, recvNs: secondsToNs(r.ts), frame, target, line: lineNo };
    }
    if (readable === 0) {
      throw new DataFileError(`data file ${this.name} holds no readable cryptofeed v3 line (${st.lines} non-empty lines, ${st.malformed} malformed${st.malformedAt[0] ? `, first: ${st.malformedAt[0]}` : ""})`);
    }
  }
}

/** Convenience: every entry of a file at once, with the reader's stats and header. */
export function readCryptofeedV3(path: string, bytes?: Uint8Array): { entries: CryptofeedV3Entry[]; stats: CryptofeedV3Stats; header: Record<string, unknown> | null } {
  const r = CryptofeedV3Reader.open(path, bytes);
  const entries = [...r.entries()];
  return { entries, stats: r.stats, header: r.header };
}
