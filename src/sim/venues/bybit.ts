/**
 * Bybit v5 public market data (`/v5/public/linear`, `/v5/public/spot`, `/v5/public/inverse`), as the
 * venue simulator speaks it (a VenueModule, see src/sim/server.ts). Rules are Bybit's documented
 * ones (bybit-exchange.github.io/docs/v5/ws/connect, v5/websocket/public/orderbook, .../ticker).
 *
 * Tape
 *  - a cryptofeed v3 recording (src/feed/cryptofeed-v3.ts, e.g. shared/data/cryptofeed-v3/
 *    BYBIT.jsonl.gz): every `recv` frame carrying a `topic` of the first connection of each
 *    category (the category comes from the connection's recorded address), merged by receive
 *    time. The recorded op replies are not replayed: the venue answers its clients' own requests.
 *    A stream is `<category>/<topic>` (`linear/orderbook.200.BTCUSDT`), so fault rules can name
 *    a category, a topic family or one topic. Replay starts at the first frame.
 *  - frames go out verbatim; one connection gets the frames of the topics it subscribed, from the
 *    moment it subscribed.
 *
 * The venue's state advances with every frame that leaves it, whether a fault lost it or not:
 *  - per `orderbook.N.SYMBOL`: a BybitBookSync on an L2Book (the venue keeps the book by its own
 *    documented rules), plus the price and size strings as recorded, so a snapshot the venue
 *    sends carries the recorded text; `u`, `seq`, `ts`, `cts` of the last frame. A recorded
 *    frame that breaks the venue's own book (a gap in the capture) is counted in
 *    `bookProblems`, and no snapshot is sent for that topic until the next recorded snapshot;
 *  - per linear/inverse `tickers.SYMBOL`: the merged ticker (snapshot, then deltas: "if a response
 *    param is not found in the message, then its value has not changed").
 *
 * WebSocket (client requests, answered on the connection, never subject to faults)
 *  - `{"op":"subscribe"|"unsubscribe","args":[topics],"req_id"?}` → `{"success":true,"ret_msg":"",
 *    "conn_id":<id>,"req_id":<echoed or "">,"op":<op>}`. Then, for each orderbook topic of a
 *    subscribe, a `snapshot` of the venue's current book ("once you have subscribed
 *    successfully, you will receive a snapshot"), at most N levels a side; for linear/inverse
 *    tickers a snapshot of the merged ticker. The next recorded delta of that topic carries the
 *    snapshot's u + 1.
 *  - refused with `success: false` (nothing of the request applied): a topic whose symbol the
 *    capture does not list for this category → `Invalid symbol :[t1,t2]` (the wording the Bybit
 *    feed tests use); a topic of a known symbol that the capture does not hold (another depth,
 *    a family not recorded) → `error:topic not in the capture,topic:<t>` (the simulator's
 *    wording: the venue would serve it, this replay cannot); a subscribe of a topic the
 *    connection already has → `error:already subscribed,topic:<t>`; spot requests of more than
 *    10 args ("for spot, you can input up to 10 args for each subscription request"); a request
 *    that is not JSON, has no string op, an unknown op or args that are not strings (the
 *    simulator's wording, in Bybit's reply shape).
 *  - heartbeat: `{"op":"ping","req_id"?}` → linear/inverse `{"req_id":..,"op":"pong","args":
 *    ["<ms>"],"conn_id":..}`, spot `{"success":true,"ret_msg":"pong","conn_id":..,"req_id":..,
 *    "op":"ping"}` (the documented pong shapes); <ms> is the replay clock. Bybit sends no
 *    protocol-level pings of its own, so the core's heartbeat is off for this venue.
 *  - `errorFrame` (the `error` fault): a `success: false` reply without a request, as Bybit's
 *    gateway sends on an internal problem (simulator wording).
 *
 * REST (GET)
 *  - `/v5/market/orderbook?category=&symbol=&limit=`: the venue's book of the deepest recorded
 *    orderbook topic of that symbol (limit: spot 1..200 default 1, linear/inverse 1..500 default
 *    25, capped at the recorded depth), Bybit's `{retCode, retMsg, result:{s,b,a,ts,u,seq,cts},
 *    retExtInfo, time}`; errors `retCode 10001` (bad params) as Bybit sends them;
 *  - `/v5/market/time`: the replay clock;
 *  - `/v5/market/instruments-info?category=&symbol=`: the instrument list the recording holds
 *    for that category (a cryptofeed v3 `http` entry of instruments-info, as recorded: tick size,
 *    qty step, ...), every entry or the one of `symbol` (an empty list for a symbol not listed, as
 *    Bybit answers), in one page (`nextPageCursor` ""); a category the recording holds no list for
 *    answers an empty list; a bad category `retCode 10001`.
 *
 * Not modelled: Bybit's server-side idle disconnect, the per-IP connection limit, the 21,000
 * character args limit of linear, unprompted snapshots other than those recorded.
 */
import { ASK, BID, L2Book } from "../../book/l2book.ts";
import { BybitBookSync, bybitCategoryFromUrl, type BybitCategory, type BybitOrderbookData } from "../../feed/bybit/book.ts";
import { CryptofeedV3Reader } from "../../feed/cryptofeed-v3.ts";
import { DataFileError } from "../../feed/recording.ts";
import type { CaptureSource } from "../replay.ts";
import { startVenueSim, type ConnControl, type SimTape, type VenueModule, type VenueSim, type VenueSimOptions } from "../server.ts";

export type BybitSimCategory = Exclude<BybitCategory, "option">;

export interface BybitTape extends SimTape {
  /** the recorded frame text, verbatim */
  text: string[];
  /** decoded orderbook and tickers frames (the venue's state); undefined for the others */
  obj: Array<Record<string, unknown> | undefined>;
  /** category and topic of each stream id */
  streamCategory: BybitSimCategory[];
  streamTopic: string[];
  /** topics recorded per category */
  topics: Map<BybitSimCategory, Set<string>>;
  /** symbols recorded per category */
  symbols: Map<BybitSimCategory, Set<string>>;
  file: string;
  /** connections of a category already taken (their frames are not replayed) */
  skippedConnections: string[];
  /** the recorded instruments-info entries per category (REST, as the venue listed them) */
  instrumentsInfo: Map<BybitSimCategory, Array<Record<string, unknown>>>;
}

export const bybitStream = (category: BybitSimCategory, topic: string): string => `${category}/${topic}`;

/** the symbol of a topic (`orderbook.200.BTCUSDT` → BTCUSDT) */
const topicSymbol = (topic: string): string => topic.slice(topic.lastIndexOf(".") + 1);

/** Reads a cryptofeed v3 Bybit recording into a tape. Throws DataFileError for an unusable file. */
export function loadBybitTape(source: CaptureSource): BybitTape {
  const name = typeof source === "string" ? source : source.name;
  const reader = CryptofeedV3Reader.open(name, typeof source === "string" ? undefined : source.bytes);
  const connCategory = new Map<string, BybitSimCategory | null>();
  const taken = new Set<BybitSimCategory>();
  const skipped: string[] = [];
  const rows: Array<{ recv: number; text: string; obj: Record<string, unknown>; stream: string; category: BybitSimCategory; topic: string }> = [];
  const instrumentsInfo = new Map<BybitSimCategory, Array<Record<string, unknown>>>();
  for (const e of reader.entries()) {
    if (e.kind === "http") {
      const list = recordedInstruments(e.target, e.frame);
      if (list) instrumentsInfo.set(list.category, [...(instrumentsInfo.get(list.category) ?? []), ...list.list]);
      continue;
    }
    if (e.kind === "connect") {
      const c = bybitCategoryFromUrl(e.target);
      if (c === null || c === "option") {
        connCategory.set(e.conn, null);
        continue;
      }
      if (taken.has(c)) {
        // one replay position per topic: a second recorded connection of a category would replay
        // the same topics with a sequence of their own
        skipped.push(e.conn);
        connCategory.set(e.conn, null);
        continue;
      }
      taken.add(c);
      connCategory.set(e.conn, c);
      continue;
    }
    if (e.kind !== "recv") continue;
    const category = connCategory.get(e.conn);
    if (!category) continue;
    let o: unknown;
    try {
      o = JSON.parse(e.frame);
    } catch {
      continue;
    }
    if (o === null || typeof o !== "object" || Array.isArray(o)) continue;
    const obj = o as Record<string, unknown>;
    if (typeof obj.topic !== "string") continue; // op replies: the venue answers requests itself
    rows.push({ recv: Number(e.recvNs), text: e.frame, obj, stream: bybitStream(category, obj.topic), category, topic: obj.topic });
  }
  if (rows.length === 0) throw new DataFileError(`${name}: no Bybit v5 public topic frame (recv of a /v5/public/{linear|spot|inverse} connection) to replay`);
  // stable merge of the connections by receive time
  const order = rows.map((_, i) => i).sort((a, b) => rows[a]!.recv - rows[b]!.recv || a - b);
  const n = rows.length;
  const recvNs = new Float64Array(n);
  const streamOf = new Int32Array(n);
  const text = new Array<string>(n);
  const obj = new Array<Record<string, unknown> | undefined>(n);
  const streams: string[] = [], streamCategory: BybitSimCategory[] = [], streamTopic: string[] = [];
  const sidOf = new Map<string, number>();
  const topics = new Map<BybitSimCategory, Set<string>>();
  const symbols = new Map<BybitSimCategory, Set<string>>();
  for (let k = 0; k < n; k++) {
    const r = rows[order[k]!]!;
    let sid = sidOf.get(r.stream);
    if (sid === undefined) {
      sid = streams.length;
      sidOf.set(r.stream, sid);
      streams.push(r.stream);
      streamCategory.push(r.category);
      streamTopic.push(r.topic);
      if (!topics.has(r.category)) topics.set(r.category, new Set());
      if (!symbols.has(r.category)) symbols.set(r.category, new Set());
      topics.get(r.category)!.add(r.topic);
      symbols.get(r.category)!.add(topicSymbol(r.topic));
    }
    recvNs[k] = r.recv;
    streamOf[k] = sid;
    text[k] = r.text;
    const fam = r.topic.slice(0, r.topic.indexOf("."));
    obj[k] = fam === "orderbook" || fam === "tickers" ? r.obj : undefined;
  }
  return { count: n, recvNs, start: 0, streamOf, streams, text, obj, streamCategory, streamTopic, topics, symbols, file: name, skippedConnections: skipped, instrumentsInfo };
}

/** A recorded `/v5/market/instruments-info` answer: its category and entries (undefined for other requests or unreadable bodies). */
function recordedInstruments(url: string, body: string): { category: BybitSimCategory; list: Array<Record<string, unknown>> } | undefined {
  if (!url.includes("/v5/market/instruments-info")) return undefined;
  let o: { retCode?: unknown; result?: { category?: unknown; list?: unknown } };
  try {
    o = JSON.parse(body);
  } catch {
    return undefined;
  }
  const c = o?.result?.category, list = o?.result?.list;
  if (o?.retCode !== 0 || (c !== "linear" && c !== "spot" && c !== "inverse") || !Array.isArray(list)) return undefined;
  return { category: c, list: list.filter((x): x is Record<string, unknown> => x !== null && typeof x === "object" && typeof x.symbol === "string") };
}

/** The venue's book of one orderbook topic. */
export class BybitVenueBook {
  readonly sync: BybitBookSync;
  /** recorded text of each level, keyed by price */
  private readonly px: [Map<number, string>, Map<number, string>] = [new Map(), new Map()];
  private readonly sz: [Map<number, string>, Map<number, string>] = [new Map(), new Map()];
  ts = 0;
  cts: number | undefined;
  seq = 0;
  /** recorded frames that broke this book (gaps in the capture) */
  problems = 0;

  constructor(
    readonly category: BybitSimCategory,
    readonly topic: string,
    readonly symbol: string,
    /** levels a side the topic carries (orderbook.N.SYMBOL) */
    readonly depth: number,
  ) {
    this.sync = new BybitBookSync(new L2Book(`sim-bybit-${category}`, symbol), topic);
  }

  get book(): L2Book {
    return this.sync.book;
  }

  /** usable for a snapshot: loaded and not broken */
  get ready(): boolean {
    return !this.sync.needSnapshot;
  }

  apply(f: Record<string, unknown>): void {
    const d = f.data as BybitOrderbookData;
    const r = this.sync.onMessage(f.type, d, f.ts, f.cts);
    if (r === "snapshot") {
      for (const m of this.px) m.clear();
      for (const m of this.sz) m.clear();
    } else if (r !== "applied") {
      if (r !== "stale" && r !== "discarded") this.problems++;
      if (this.sync.needSnapshot) {
        for (const m of this.px) m.clear();
        for (const m of this.sz) m.clear();
      }
      return;
    }
    this.text(BID, d.b as string[][]);
    this.text(ASK, d.a as string[][]);
    this.ts = typeof f.ts === "number" ? f.ts : this.ts;
    this.cts = typeof f.cts === "number" ? f.cts : undefined;
    this.seq = typeof d.seq === "number" ? d.seq : this.seq;
  }

  private text(side: number, levels: string[][]): void {
    const px = this.px[side]!, sz = this.sz[side]!;
    for (const [p, s] of levels) {
      const k = Number(p);
      if (Number(s) === 0) {
        px.delete(k);
        sz.delete(k);
      } else {
        px.set(k, p!);
        sz.set(k, s!);
      }
    }
  }

  /** the top `n` levels of a side as recorded strings */
  levels(side: number, n: number): string[][] {
    const book = this.book;
    const out: string[][] = [];
    const m = Math.min(n, book.depth(side));
    for (let i = 0; i < m; i++) {
      const p = book.price(side, i);
      out.push([this.px[side]!.get(p)!, this.sz[side]!.get(p)!]);
    }
    return out;
  }

  /** the snapshot the venue sends a subscriber now */
  snapshotFrame(): string {
    const data = { s: this.symbol, b: this.levels(BID, this.depth), a: this.levels(ASK, this.depth), u: this.book.lastSeq, seq: this.seq };
    return JSON.stringify(this.cts === undefined ? { topic: this.topic, type: "snapshot", ts: this.ts, data } : { topic: this.topic, type: "snapshot", ts: this.ts, data, cts: this.cts });
  }
}

/** The merged ticker of a linear/inverse `tickers.SYMBOL` topic. */
class BybitVenueTicker {
  data: Record<string, unknown> | undefined;
  ts = 0;
  cs: unknown;
  constructor(readonly topic: string) {}
  apply(f: Record<string, unknown>): void {
    const d = f.data as Record<string, unknown> | undefined;
    if (d === null || typeof d !== "object") return;
    if (f.type === "snapshot") this.data = { ...d };
    else if (this.data) Object.assign(this.data, d);
    else return; // a delta before any snapshot: nothing to merge into
    if (typeof f.ts === "number") this.ts = f.ts;
    this.cs = f.cs;
  }
  snapshotFrame(): string {
    return JSON.stringify({ topic: this.topic, type: "snapshot", data: this.data, cs: this.cs, ts: this.ts });
  }
}

export interface BybitSession {
  category: BybitSimCategory;
  connId: string;
}

/** Bybit: "For spot, you can input up to 10 args for each subscription request" */
const SPOT_MAX_ARGS = 10;
/** documented depths of orderbook topics */
const DEPTHS = new Set([1, 50, 200, 500, 1000]);
/** the core's heartbeat never fires (setInterval's limit): Bybit sends no protocol pings */
const NEVER_MS = 2 ** 31 - 1;

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

export class BybitVenue implements VenueModule<BybitSession> {
  readonly name = "bybit";
  readonly tape: BybitTape;
  readonly ping = { intervalMs: NEVER_MS, timeoutMs: NEVER_MS, echoRequired: false };
  readonly inboundPerSecond = 0;
  /** by stream name */
  readonly books = new Map<string, BybitVenueBook>();
  private readonly tickers = new Map<string, BybitVenueTicker>();
  /** replies sent per connection id (tests compare what a client received with what was sent) */
  readonly replies = new Map<number, number>();
  /** snapshots sent on subscribe, over every connection */
  snapshotsSent = 0;
  private lastIdx = -1;
  private sessions = 0;

  constructor(tape: BybitTape) {
    this.tape = tape;
    this.reset();
  }

  /** The venue's book of `orderbook.N.SYMBOL` on a category, or undefined. */
  book(category: BybitSimCategory, topic: string): BybitVenueBook | undefined {
    return this.books.get(bybitStream(category, topic));
  }

  /** recorded frames that broke one of the venue's books, over all of them */
  get bookProblems(): number {
    let n = 0;
    for (const b of this.books.values()) n += b.problems;
    return n;
  }

  reset(): void {
    this.books.clear();
    this.tickers.clear();
    const t = this.tape;
    t.streams.forEach((s, sid) => {
      const topic = t.streamTopic[sid]!, category = t.streamCategory[sid]!;
      const parts = topic.split(".");
      if (parts[0] === "orderbook" && parts.length === 3) this.books.set(s, new BybitVenueBook(category, topic, parts[2]!, Number(parts[1])));
      else if (parts[0] === "tickers" && category !== "spot") this.tickers.set(s, new BybitVenueTicker(topic));
    });
    this.lastIdx = -1;
  }

  advance(i: number): void {
    this.lastIdx = i;
    const f = this.tape.obj[i];
    if (!f) return;
    const s = this.tape.streams[this.tape.streamOf[i]!]!;
    const b = this.books.get(s);
    if (b) b.apply(f);
    else this.tickers.get(s)?.apply(f);
  }

  /** The replay clock: recorded receive time of the last frame that left the venue (ms). */
  nowMs(): number {
    const t = this.tape;
    return Math.floor(t.recvNs[Math.min(Math.max(0, this.lastIdx), t.count - 1)]! / 1e6);
  }

  accept(url: URL): { session: BybitSession; streams: string[] } | Response {
    const c = bybitCategoryFromUrl(url.pathname);
    if (c === null || c === "option" || url.pathname !== `/v5/public/${c}`) return new Response(`no such WebSocket endpoint: ${url.pathname}`, { status: 404 });
    if (!this.tape.topics.has(c)) return new Response(`the capture holds no /v5/public/${c} stream`, { status: 404 });
    return { session: { category: c, connId: `bybit-sim-${++this.sessions}` }, streams: [] };
  }

  frame(_session: BybitSession, i: number): string {
    return this.tape.text[i]!;
  }

  errorFrame(): string {
    return '{"success":false,"ret_msg":"error:internal error, please retry","conn_id":"","req_id":"","op":""}';
  }

  onMessage(session: BybitSession, text: string, conn: ConnControl): void {
    const send = (body: unknown) => {
      this.replies.set(conn.id, (this.replies.get(conn.id) ?? 0) + 1);
      conn.send(typeof body === "string" ? body : JSON.stringify(body));
    };
    let m: { op?: unknown; args?: unknown; req_id?: unknown };
    try {
      m = JSON.parse(text);
    } catch {
      return send({ success: false, ret_msg: `error:request is not JSON: ${text.slice(0, 60)}`, conn_id: session.connId, req_id: "", op: "" });
    }
    if (m === null || typeof m !== "object" || Array.isArray(m)) return send({ success: false, ret_msg: "error:request is not a JSON object", conn_id: session.connId, req_id: "", op: "" });
    const reqId = typeof m.req_id === "string" ? m.req_id : "";
    const op = m.op;
    const fail = (msg: string) => send({ success: false, ret_msg: msg, conn_id: session.connId, req_id: reqId, op: typeof op === "string" ? op : "" });
    if (op === "ping") {
      if (session.category === "spot") return send({ success: true, ret_msg: "pong", conn_id: session.connId, req_id: reqId, op: "ping" });
      return send({ req_id: reqId, op: "pong", args: [String(this.nowMs())], conn_id: session.connId });
    }
    if (op !== "subscribe" && op !== "unsubscribe") return fail(`error:unsupported op ${JSON.stringify(op)?.slice(0, 40)}`);
    const args = m.args;
    if (!Array.isArray(args) || args.length === 0 || !args.every((a) => typeof a === "string")) return fail("error:args must be a non-empty array of topic strings");
    if (session.category === "spot" && args.length > SPOT_MAX_ARGS) return fail(`error:args size ${args.length} exceeds ${SPOT_MAX_ARGS}`);
    const topics = args as string[];
    const known = this.tape.topics.get(session.category)!;
    const syms = this.tape.symbols.get(session.category)!;
    const badSymbol = topics.filter((t) => !syms.has(topicSymbol(t)) || !validTopic(t));
    if (badSymbol.length > 0) return fail(`Invalid symbol :[${badSymbol.join(",")}]`);
    const notRecorded = topics.find((t) => !known.has(t));
    if (notRecorded !== undefined) return fail(`error:topic not in the capture,topic:${notRecorded}`);
    const streams = topics.map((t) => bybitStream(session.category, t));
    if (op === "unsubscribe") {
      conn.unsubscribe(streams);
      return send({ success: true, ret_msg: "", conn_id: session.connId, req_id: reqId, op });
    }
    const have = new Set(conn.subscriptions());
    const again = streams.findIndex((s) => have.has(s));
    if (again >= 0) return fail(`error:already subscribed,topic:${topics[again]}`);
    conn.subscribe(streams);
    send({ success: true, ret_msg: "", conn_id: session.connId, req_id: reqId, op });
    for (const s of streams) {
      const b = this.books.get(s);
      if (b?.ready) {
        this.snapshotsSent++;
        send(b.snapshotFrame());
        continue;
      }
      const tk = this.tickers.get(s);
      if (tk?.data) send(tk.snapshotFrame());
    }
  }

  rest(req: Request, url: URL): Response | undefined {
    if (req.method !== "GET") return undefined;
    const now = this.nowMs();
    const ok = (result: unknown) => json({ retCode: 0, retMsg: "OK", result, retExtInfo: {}, time: now });
    const bad = (msg: string) => json({ retCode: 10001, retMsg: msg, result: {}, retExtInfo: {}, time: now });
    if (url.pathname === "/v5/market/time") return ok({ timeSecond: String(Math.floor(now / 1000)), timeNano: `${now}000000` });
    if (url.pathname !== "/v5/market/orderbook" && url.pathname !== "/v5/market/instruments-info") return undefined;
    const category = url.searchParams.get("category") ?? "";
    const symbol = url.searchParams.get("symbol") ?? "";
    if (category !== "linear" && category !== "spot" && category !== "inverse") return bad("Illegal category");
    if (url.pathname === "/v5/market/instruments-info") {
      const all = this.tape.instrumentsInfo.get(category) ?? [];
      return ok({ category, list: symbol ? all.filter((x) => x.symbol === symbol) : all, nextPageCursor: "" });
    }
    if (!symbol) return bad("params error: symbol is required");
    const spot = category === "spot";
    const lim = url.searchParams.get("limit");
    const limit = lim === null ? (spot ? 1 : 25) : Number(lim);
    if (!Number.isInteger(limit) || limit < 1 || limit > (spot ? 200 : 500)) return bad("params error: limit out of range");
    let best: BybitVenueBook | undefined;
    for (const b of this.books.values()) if (b.category === category && b.symbol === symbol && b.ready && (!best || b.depth > best.depth)) best = b;
    if (!best) return bad(this.tape.symbols.get(category)?.has(symbol) ? `params error: the capture holds no orderbook of ${symbol} on ${category}` : "params error: Symbol Is Invalid");
    const n = Math.min(limit, best.depth);
    return ok({ s: symbol, b: best.levels(BID, n), a: best.levels(ASK, n), ts: best.ts, u: best.book.lastSeq, seq: best.seq, cts: best.cts ?? best.ts });
  }
}

/** `family.SYMBOL` or `orderbook.N.SYMBOL` with a documented depth, `kline.I.SYMBOL` */
function validTopic(t: string): boolean {
  const p = t.split(".");
  if (p.some((x) => x.length === 0)) return false;
  if (p[0] === "orderbook") return p.length === 3 && DEPTHS.has(Number(p[1]));
  if (p[0] === "kline") return p.length === 3;
  return p.length === 2;
}

export interface BybitSimOptions extends Omit<VenueSimOptions<BybitSession>, "venue"> {
  /** a cryptofeed v3 Bybit recording, or a tape loaded before */
  capture: CaptureSource | BybitTape;
}

export type BybitSim = VenueSim<BybitSession> & { readonly venue: BybitVenue };

/** A Bybit v5 public venue on 127.0.0.1 replaying a capture. */
export function startBybitSim(o: BybitSimOptions): BybitSim {
  const { capture, ...rest } = o;
  const tape = typeof capture === "object" && "streamTopic" in capture ? capture : loadBybitTape(capture);
  return startVenueSim({ ...rest, venue: new BybitVenue(tape) }) as BybitSim;
}
