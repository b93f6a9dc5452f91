/**
 * OKX v5 public market data (`/ws/v5/public`: `books` and `trades`), as the venue simulator speaks
 * it (a VenueModule, see src/sim/server.ts). Rules are OKX's documented ones (okx.com/docs-v5:
 * "WebSocket" connect/subscribe/error codes, "Order book channel", "Checksum", "Trades channel").
 *
 * Tape. There is no OKX capture: `generateOkxTape` builds a session from the documentation,
 * deterministic under a seed (the same seed gives the same bytes). Per instrument a starting
 * book (the venue's history), then `books` updates — one to six level changes (a size changed, a
 * level inserted within 60 ticks of the touch, a level deleted with size "0"), never crossing,
 * `seqId` = `prevSeqId` + 1..3, and the documented no-change messages (no levels, `prevSeqId` ==
 * `seqId` == the previous seqId) — and `trades` pushes at the touch. Every checksum is OKX's
 * CRC32 over the top 25 levels a side of the book after the message (OkxBookSync.checksum). A
 * stream is `<channel>:<instId>` (`books:BTC-USDT`), so fault rules can name a channel or one
 * instrument.
 *
 * The venue's state advances with every frame that leaves it, whether a fault lost it or not: per
 * instrument an OkxBookSync on an L2Book (received strings kept, checksum checked on every
 * update: a generator fault would show as `bookProblems`), and the order counts of each level.
 *
 * WebSocket (client requests, answered on the connection, never subject to faults)
 *  - `{"op":"subscribe"|"unsubscribe","args":[{"channel","instId"}],"id"?}` → per arg
 *    `{"event":<op>,"arg":{...},"connId":..}` (with `id` echoed when sent); a `books`
 *    subscription is followed by a `snapshot` of the venue's current book: "action":"snapshot",
 *    the top 400 levels a side as [px, sz, "0", orders], `prevSeqId` -1, `seqId` and `checksum`
 *    of the venue's book; the next update pushed carries `prevSeqId` == that seqId.
 *    Subscribing a channel the connection already has answers the event again (and a fresh
 *    snapshot for books).
 *  - errors, as `{"event":"error","code","msg","connId"}`: 60018 "Wrong URL or channel:<ch>,
 *    instId:<id> doesn't exist..." for an instrument or channel this venue does not list (per
 *    arg; the other args are served); 60012 "Invalid request: <text>" for a request that is not
 *    JSON; 60019 "Invalid op: <op>"; 60013 "Invalid args" for missing or malformed args.
 *  - heartbeat: the text "ping" → the text "pong". OKX sends no protocol pings of its own, so the
 *    core's heartbeat is off for this venue.
 *  - `errorFrame` (the `error` fault): an error event without a request (code 50001, "Service
 *    temporarily unavailable", simulator's choice).
 *
 * REST (GET)
 *  - `/api/v5/market/books?instId=&sz=` (sz 1..400, default 1): the venue's book,
 *    `{"code":"0","msg":"","data":[{asks,bids,ts}]}`; unknown instId → code 51001
 *    "Instrument ID does not exist";
 *  - `/api/v5/public/time`: the replay clock;
 *  - `/api/v5/public/instruments?instType=&instId=`: the venue's instruments of that type (SPOT
 *    for BASE-QUOTE, SWAP for BASE-QUOTE-SWAP), OKX's field names: `tickSz` is the instrument's
 *    tick, `lotSz`/`minSz` the finest unit the generated sizes use (0.00000001), a SWAP's
 *    `ctVal` 1 (the generated sizes are amounts of the base currency), `state` "live"; no
 *    instType → code 50014 "Parameter instType can not be empty.", an instType other than
 *    SPOT/SWAP/FUTURES/OPTION → 51000 "Parameter instType error", an instId not listed under
 *    that type → 51001 "Instrument ID does not exist" (OKX's codes; wording of the last two the
 *    simulator's).
 *
 * Not modelled: OKX's disconnect of a connection that is silent for 30 s, the 480 subscribe
 * requests an hour limit, sequence resets after maintenance, other channels.
 */
import { ASK, BID, L2Book } from "../../book/l2book.ts";
import { OkxBookSync, type OkxBookData, type OkxLevel } from "../../feed/okx/book.ts";
import { mulberry32 } from "../faults.ts";
import { startVenueSim, type ConnControl, type SimTape, type VenueModule, type VenueSim, type VenueSimOptions } from "../server.ts";

export interface OkxSimInstrument {
  instId: string;
  /** price increment */
  tick: number;
  /** decimals of a price string */
  digits: number;
  /** the starting mid, in ticks */
  midTicks: number;
}

export const OKX_SIM_INSTRUMENTS: OkxSimInstrument[] = [
  { instId: "BTC-USDT", tick: 0.1, digits: 1, midTicks: 300_000 },
  { instId: "ETH-USDT-SWAP", tick: 0.01, digits: 2, midTicks: 200_000 },
];

/** OKX `books`: 400 levels a side */
export const OKX_BOOKS_DEPTH = 400;

export interface OkxTapeOptions {
  /** pushes after the starting books (default 4000) */
  pushes?: number;
  seed?: number;
  instruments?: OkxSimInstrument[];
  /** exchange time of the first push, ms (default 1_700_000_000_000) */
  startMs?: number;
  /** share of pushes that are trades (default 0.2) and of books pushes without change (default 0.05) */
  tradeShare?: number;
  noChangeShare?: number;
}

export interface OkxTape extends SimTape {
  text: string[];
  /** instrument index of each frame */
  inst: Int32Array;
  /** the books update of each books frame (undefined for trades) */
  update: Array<OkxBookData | undefined>;
  instruments: OkxSimInstrument[];
  /** the book of each instrument before the first frame (its history) */
  startBooks: OkxBookData[];
}

export const okxStream = (channel: string, instId: string): string => `${channel}:${instId}`;

/** Builds a deterministic OKX session (see the header). */
export function generateOkxTape(o: OkxTapeOptions = {}): OkxTape {
  const insts = o.instruments ?? OKX_SIM_INSTRUMENTS;
  const n = o.pushes ?? 4000;
  const rnd = mulberry32(o.seed ?? 7);
  const tradeShare = o.tradeShare ?? 0.2, noChange = o.noChangeShare ?? 0.05;
  const int = (k: number) => Math.floor(rnd() * k);
  // sizes in the formats OKX uses: contracts, base amounts with 4 or 8 decimals
  const size = () => [String(1 + int(40)), (0.0001 + rnd() * 3).toFixed(4), (0.00000001 + rnd() / 100).toFixed(8)][int(3)]!;
  const px = (i: number, ticks: number) => (ticks * insts[i]!.tick).toFixed(insts[i]!.digits);
  /** the generator's book: ticks → level, per side */
  const sides = insts.map(() => [new Map<number, OkxLevel>(), new Map<number, OkxLevel>()] as const);
  const syncs = insts.map((x) => new OkxBookSync(new L2Book("okx-gen", x.instId)));
  const seq = insts.map((_, i) => 1000 + i * 50_000);
  const best = (i: number, side: number) => {
    let b = side === BID ? -Infinity : Infinity;
    for (const t of sides[i]![side]!.keys()) b = side === BID ? Math.max(b, t) : Math.min(b, t);
    return b;
  };
  const startBooks: OkxBookData[] = insts.map((x, i) => {
    const bids: OkxLevel[] = [], asks: OkxLevel[] = [];
    for (let k = 0; k < 60; k++) bids.push([px(i, x.midTicks - 1 - 2 * k), size(), "0", String(1 + int(9))]);
    for (let k = 0; k < 70; k++) asks.push([px(i, x.midTicks + 1 + 2 * k), size(), "0", String(1 + int(9))]);
    bids.forEach((l, k) => sides[i]![BID].set(x.midTicks - 1 - 2 * k, l));
    asks.forEach((l, k) => sides[i]![ASK].set(x.midTicks + 1 + 2 * k, l));
    const d: OkxBookData = { asks, bids, ts: String((o.startMs ?? 1_700_000_000_000) - 1), checksum: 0, prevSeqId: -1, seqId: seq[i]! };
    syncs[i]!.onSnapshot(d);
    d.checksum = syncs[i]!.checksum();
    return d;
  });
  const text: string[] = [], inst: number[] = [], update: Array<OkxBookData | undefined> = [], recv: number[] = [], stream: string[] = [];
  let ts = o.startMs ?? 1_700_000_000_000, tradeId = 500_000;
  for (let k = 0; k < n; k++) {
    const i = int(insts.length), x = insts[i]!;
    ts += 1 + int(5);
    inst.push(i);
    recv.push(ts * 1e6 + 250_000);
    if (rnd() < tradeShare) {
      const fills = Array.from({ length: 1 + int(3) }, () => {
        const buy = rnd() < 0.5;
        // a buyer takes the best ask, a seller the best bid
        return { instId: x.instId, tradeId: String(tradeId++), px: px(i, best(i, buy ? ASK : BID)), sz: size(), side: buy ? "buy" : "sell", ts: String(ts), count: String(1 + int(3)) };
      });
      text.push(JSON.stringify({ arg: { channel: "trades", instId: x.instId }, data: fills }));
      update.push(undefined);
      stream.push(okxStream("trades", x.instId));
      continue;
    }
    const prev = seq[i]!;
    const arg = { channel: "books", instId: x.instId };
    let d: OkxBookData;
    if (rnd() < noChange) {
      // OKX: a message with no change has prevSeqId == seqId == the previous seqId
      d = { asks: [], bids: [], ts: String(ts), checksum: syncs[i]!.checksum(), prevSeqId: prev, seqId: prev };
    } else {
      const out: [OkxLevel[], OkxLevel[]] = [[], []];
      const used: [Set<number>, Set<number>] = [new Set(), new Set()];
      for (let j = 1 + int(6); j > 0; j--) {
        const side = rnd() < 0.5 ? BID : ASK;
        const book = sides[i]![side]!;
        const r = rnd();
        let t: number;
        let lv: OkxLevel;
        if (r < 0.4) {
          // a size change of one of the 40 best levels
          const keys = [...book.keys()].sort((a, b) => (side === BID ? b - a : a - b)).slice(0, 40);
          t = keys[int(keys.length)]!;
          lv = [px(i, t), size(), "0", String(1 + int(9))];
        } else if (r < 0.75 || book.size <= 20) {
          // a level inserted (or replaced) near the touch, never at or through the other side
          const other = best(i, side === BID ? ASK : BID);
          t = side === BID ? other - 1 - int(60) : other + 1 + int(60);
          lv = [px(i, t), size(), "0", String(1 + int(9))];
        } else {
          const keys = [...book.keys()];
          t = keys[int(keys.length)]!;
          lv = [px(i, t), "0", "0", "0"];
        }
        if (used[side]!.has(t)) continue; // one entry per price a message
        used[side]!.add(t);
        if (lv[1] === "0") book.delete(t);
        else book.set(t, lv);
        out[side]!.push(lv);
      }
      const next = prev + 1 + int(3);
      seq[i] = next;
      d = { asks: out[ASK], bids: out[BID], ts: String(ts), checksum: 0, prevSeqId: prev, seqId: next };
      const r = syncs[i]!.onUpdate(d);
      if (r !== "applied") throw new Error(`generateOkxTape: the generated update seqId ${next} of ${x.instId} does not apply (${r}: ${syncs[i]!.lastProblem})`);
      d.checksum = syncs[i]!.checksum();
    }
    text.push(JSON.stringify({ arg, action: "update", data: [d] }));
    update.push(d);
    stream.push(okxStream("books", x.instId));
  }
  const streams: string[] = [];
  const sidOf = new Map<string, number>();
  for (const x of insts) {
    for (const ch of ["books", "trades"]) {
      sidOf.set(okxStream(ch, x.instId), streams.length);
      streams.push(okxStream(ch, x.instId));
    }
  }
  return {
    count: n, recvNs: Float64Array.from(recv), start: 0, streamOf: Int32Array.from(stream, (s) => sidOf.get(s)!), streams,
    text, inst: Int32Array.from(inst), update, instruments: insts, startBooks,
  };
}

/** The venue's book of one instrument. */
export class OkxVenueBook {
  readonly sync: OkxBookSync;
  /** order counts of each level, by price */
  private readonly orders: [Map<number, string>, Map<number, string>] = [new Map(), new Map()];
  ts = "0";
  /** updates that did not apply (a generator fault) */
  problems = 0;

  constructor(readonly instId: string) {
    this.sync = new OkxBookSync(new L2Book("sim-okx", instId));
  }

  get book(): L2Book {
    return this.sync.book;
  }

  load(d: OkxBookData): void {
    for (const m of this.orders) m.clear();
    if (this.sync.onSnapshot(d) !== "snapshot") this.problems++;
    this.counts(BID, d.bids);
    this.counts(ASK, d.asks);
    this.ts = d.ts ?? this.ts;
  }

  apply(d: OkxBookData): void {
    const r = this.sync.onUpdate(d);
    if (r !== "applied" && r !== "heartbeat") {
      this.problems++;
      return;
    }
    this.counts(BID, d.bids);
    this.counts(ASK, d.asks);
    this.ts = d.ts ?? this.ts;
  }

  private counts(side: number, levels: OkxLevel[]): void {
    const m = this.orders[side]!;
    for (const l of levels) {
      if (Number(l[1]) === 0) m.delete(Number(l[0]));
      else m.set(Number(l[0]), l[3] ?? "1");
    }
  }

  /** the top `n` levels of a side as OKX sends them: [px, sz, "0", orders] */
  levels(side: number, n: number): OkxLevel[] {
    const out: OkxLevel[] = [];
    const m = Math.min(n, this.book.depth(side));
    for (let i = 0; i < m; i++) {
      const [p, s] = this.sync.levelStrings(side, i)!;
      out.push([p, s, "0", this.orders[side]!.get(this.book.price(side, i)) ?? "1"]);
    }
    return out;
  }

  snapshotFrame(): string {
    const data = { asks: this.levels(ASK, OKX_BOOKS_DEPTH), bids: this.levels(BID, OKX_BOOKS_DEPTH), ts: this.ts, checksum: this.sync.checksum(), prevSeqId: -1, seqId: this.book.lastSeq };
    return JSON.stringify({ arg: { channel: "books", instId: this.instId }, action: "snapshot", data: [data] });
  }
}

export interface OkxSession {
  connId: string;
}

const NEVER_MS = 2 ** 31 - 1;
const CHANNELS = new Set(["books", "trades"]);

export class OkxVenue implements VenueModule<OkxSession> {
  readonly name = "okx";
  readonly tape: OkxTape;
  readonly ping = { intervalMs: NEVER_MS, timeoutMs: NEVER_MS, echoRequired: false };
  readonly inboundPerSecond = 0;
  books: OkxVenueBook[] = [];
  /** replies sent per connection id */
  readonly replies = new Map<number, number>();
  snapshotsSent = 0;
  private readonly instIndex = new Map<string, number>();
  private lastIdx = -1;
  private sessions = 0;

  constructor(tape: OkxTape) {
    this.tape = tape;
    tape.instruments.forEach((x, i) => this.instIndex.set(x.instId, i));
    this.reset();
  }

  book(instId: string): OkxVenueBook | undefined {
    const i = this.instIndex.get(instId);
    return i === undefined ? undefined : this.books[i];
  }

  get bookProblems(): number {
    return this.books.reduce((s, b) => s + b.problems, 0);
  }

  reset(): void {
    this.books = this.tape.instruments.map((x, i) => {
      const b = new OkxVenueBook(x.instId);
      b.load(this.tape.startBooks[i]!);
      return b;
    });
    this.lastIdx = -1;
  }

  advance(i: number): void {
    this.lastIdx = i;
    const d = this.tape.update[i];
    if (d) this.books[this.tape.inst[i]!]!.apply(d);
  }

  nowMs(): number {
    const t = this.tape;
    return this.lastIdx < 0 ? Math.floor(t.recvNs[0]! / 1e6) - 1 : Math.floor(t.recvNs[this.lastIdx]! / 1e6);
  }

  accept(url: URL): { session: OkxSession; streams: string[] } | Response {
    if (url.pathname !== "/ws/v5/public") return new Response(`no such WebSocket endpoint: ${url.pathname}`, { status: 404 });
    return { session: { connId: `okx${(++this.sessions).toString(16).padStart(6, "0")}` }, streams: [] };
  }

  frame(_session: OkxSession, i: number): string {
    return this.tape.text[i]!;
  }

  errorFrame(): string {
    return '{"event":"error","code":"50001","msg":"Service temporarily unavailable. Please try again later.","connId":""}';
  }

  onMessage(session: OkxSession, text: string, conn: ConnControl): void {
    const send = (body: unknown) => {
      this.replies.set(conn.id, (this.replies.get(conn.id) ?? 0) + 1);
      conn.send(typeof body === "string" ? body : JSON.stringify(body));
    };
    if (text === "ping") return send("pong");
    const error = (code: string, msg: string, id?: string) => send(id === undefined ? { event: "error", code, msg, connId: session.connId } : { id, event: "error", code, msg, connId: session.connId });
    let m: { op?: unknown; args?: unknown; id?: unknown };
    try {
      m = JSON.parse(text);
    } catch {
      return error("60012", `Invalid request: ${text.slice(0, 200)}`);
    }
    if (m === null || typeof m !== "object" || Array.isArray(m)) return error("60012", `Invalid request: ${text.slice(0, 200)}`);
    const id = typeof m.id === "string" ? m.id : undefined;
    if (m.op !== "subscribe" && m.op !== "unsubscribe") return error("60019", `Invalid op: ${typeof m.op === "string" ? m.op : JSON.stringify(m.op)}`, id);
    const op = m.op;
    const args = m.args;
    if (!Array.isArray(args) || args.length === 0 || !args.every((a) => a !== null && typeof a === "object" && typeof a.channel === "string")) return error("60013", "Invalid args", id);
    for (const a of args as Array<{ channel: string; instId?: unknown }>) {
      const instId = typeof a.instId === "string" ? a.instId : "";
      const i = this.instIndex.get(instId);
      if (i === undefined || !CHANNELS.has(a.channel)) {
        error("60018", `Wrong URL or channel:${a.channel},instId:${instId} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`, id);
        continue;
      }
      const arg = { channel: a.channel, instId };
      send(id === undefined ? { event: op, arg, connId: session.connId } : { id, event: op, arg, connId: session.connId });
      const s = okxStream(a.channel, instId);
      if (op === "unsubscribe") {
        conn.unsubscribe([s]);
        continue;
      }
      conn.subscribe([s]);
      // OKX: the first push after a books subscription is the full snapshot
      if (a.channel === "books") {
        this.snapshotsSent++;
        send(this.books[i]!.snapshotFrame());
      }
    }
  }

  rest(req: Request, url: URL): Response | undefined {
    if (req.method !== "GET") return undefined;
    const body = (code: string, msg: string, data: unknown[]) => new Response(JSON.stringify({ code, msg, data }), { headers: { "content-type": "application/json" } });
    if (url.pathname === "/api/v5/public/time") return body("0", "", [{ ts: String(this.nowMs()) }]);
    if (url.pathname === "/api/v5/public/instruments") {
      const type = url.searchParams.get("instType") ?? "";
      if (!type) return body("50014", "Parameter instType can not be empty.", []);
      if (!["SPOT", "SWAP", "FUTURES", "OPTION"].includes(type)) return body("51000", "Parameter instType error", []);
      const instId = url.searchParams.get("instId");
      const list = this.tape.instruments.filter((x) => okxInstType(x.instId) === type && (instId === null || x.instId === instId));
      if (instId !== null && list.length === 0) return body("51001", "Instrument ID does not exist", []);
      return body("0", "", list.map(okxInstrumentEntry));
    }
    if (url.pathname !== "/api/v5/market/books") return undefined;
    const b = this.book(url.searchParams.get("instId") ?? "");
    if (!b) return body("51001", "Instrument ID does not exist", []);
    const sz = Number(url.searchParams.get("sz") ?? "1");
    if (!Number.isInteger(sz) || sz < 1 || sz > OKX_BOOKS_DEPTH) return body("51000", "Parameter sz error", []);
    return body("0", "", [{ asks: b.levels(ASK, sz), bids: b.levels(BID, sz), ts: b.ts }]);
  }
}

/** SPOT for BASE-QUOTE, SWAP for BASE-QUOTE-SWAP (the instruments this simulator generates) */
const okxInstType = (instId: string): string => (instId.endsWith("-SWAP") ? "SWAP" : instId.split("-").length === 2 ? "SPOT" : "OTHER");

/** An `/api/v5/public/instruments` entry of a generated instrument (see the header). */
function okxInstrumentEntry(x: OkxSimInstrument): Record<string, string> {
  const [base = "", quote = ""] = x.instId.split("-");
  const swap = okxInstType(x.instId) === "SWAP";
  const lot = "0.00000001";
  return {
    instType: okxInstType(x.instId), instId: x.instId, uly: swap ? `${base}-${quote}` : "", instFamily: swap ? `${base}-${quote}` : "",
    baseCcy: swap ? "" : base, quoteCcy: swap ? "" : quote, settleCcy: swap ? quote : "",
    ctVal: swap ? "1" : "", ctMult: swap ? "1" : "", ctValCcy: swap ? base : "", ctType: swap ? "linear" : "",
    tickSz: x.tick.toFixed(x.digits), lotSz: lot, minSz: lot, state: "live",
  };
}

export interface OkxSimOptions extends Omit<VenueSimOptions<OkxSession>, "venue"> {
  /** a tape generated before, or the generator's options */
  tape?: OkxTape | OkxTapeOptions;
}

export type OkxSim = VenueSim<OkxSession> & { readonly venue: OkxVenue };

/** An OKX v5 public venue on 127.0.0.1 replaying a generated session. */
export function startOkxSim(o: OkxSimOptions = {}): OkxSim {
  const { tape, ...rest } = o;
  const t = tape && "streamOf" in tape ? tape : generateOkxTape(tape);
  return startVenueSim({ ...rest, venue: new OkxVenue(t) }) as OkxSim;
}
