/**
 * What the JSON-over-WebSocket feeds (Bybit, OKX, Coinbase, Kraken) share: a text transport that
 * can send (`TextTransport`; the Binance feed takes bytes for its C parser instead), the
 * reconnecting session with heartbeat, pong timeout, stall watchdog and backoff with full jitter
 * (`TextFeedSession`), the fixed instrument-id table the normalisers write through
 * (`FixedInstruments`), and the frame-to-ring copier (`TickRingWriter`: one ring push per frame).
 */
import { alignedBuffer, type AlignedBuffer } from "../../ffi/buffers.ts";
import type { SpscRing } from "../../ffi/ring.ts";
import { InstrumentTable } from "../domain/instruments.ts";
import { T, TICK_BYTES, TICK_U32, TickFlag, TickKind, TickStatus, writeU64 } from "../domain/tick.ts";
import { TickBuffer } from "../domain/tick-buffer.ts";
import { WsClient, type WsClientOptions } from "../net/ws-client.ts";
import type { VenueFrameParser } from "../../ffi/vparse.ts";

export type NoticeFn = (what: string, detail: Record<string, unknown>) => void;

/** What every JSON WebSocket feed is configured with; each venue's options add its own. */
export interface JsonFeedOptions {
  /** the stream URL (default: the venue's public endpoint where it has one; ws://127.0.0.1:port in tests) */
  wsUrl?: string;
  ring: SpscRing;
  /** venue id stamped on the records (default: the feed's venue) */
  venue?: number;
  /** receive timestamps (the bot4 clock, ns) */
  clock: () => number;
  backoff?: BackoffOptions;
  /** a stream silent this long is reconnected (each feed's default follows its venue's heartbeat) */
  stallMs?: number;
  /** heartbeat: the period (Bybit, 20 s) or the silence (OKX 20 s, Kraken 5 s) before the venue's ping */
  pingMs?: number;
  /** how long a pong may take (Bybit 10 s, OKX and Kraken 5 s by default) */
  pongTimeoutMs?: number;
  /** a resubscribe that brought no snapshot within this long is sent again (default 5000 ms) */
  resyncTimeoutMs?: number;
  transport?: TextTransportFactory;
  /** cold-path notices (reconnects, error replies, resyncs); never called per frame */
  onNotice?: NoticeFn;
  /** random source for the jitter (tests make it deterministic) */
  random?: () => number;
}

/** What a text transport gives a feed: whole text frames, in order. */
export interface TextTransportHandlers {
  onOpen(): void;
  onText(text: string): void;
  /**
   * A byte transport's frames: a text frame's UTF-8 bytes buf[start, end), at address `ptr` for
   * C, valid only during the call (no string is made; the feed's C parser reads them in place).
   * Without it a byte transport decodes each frame and calls onText.
   */
  onBytes?(buf: Uint8Array, start: number, end: number, ptr: number): void;
  onClose(reason: string): void;
}
export interface TextTransport {
  /** false when the socket is not open (nothing sent) */
  send(text: string): boolean;
  close(): void;
}
export type TextTransportFactory = (url: string, h: TextTransportHandlers) => TextTransport;

const utf8 = new TextDecoder();

/** Bun's WebSocket client as a text transport (frames as JS strings; the default is wsClientTransport below); binary frames (not sent by these venues' public streams) are decoded as UTF-8. */
export function bunTextWebSocketTransport(): TextTransportFactory {
  return (url, h) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => h.onOpen();
    ws.onmessage = (ev: MessageEvent) => {
      const d = ev.data as string | ArrayBuffer;
      h.onText(typeof d === "string" ? d : utf8.decode(d));
    };
    ws.onclose = (ev: CloseEvent) => h.onClose(`closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ""})`);
    ws.onerror = () => {
      /* onclose follows with the code */
    };
    return {
      send: (text) => {
        if (ws.readyState !== WebSocket.OPEN) return false;
        ws.send(text);
        return true;
      },
      close: () => ws.close(),
    };
  };
}

/** What a feed does with a frame after its C step: `n` the step's status, the frame as text or as bytes buf[start, end). */
export type ParsedFrame = (n: number, text: string | null, buf: Uint8Array | null, start: number, end: number) => void;

/**
 * The frame entry points of a feed whose C step (VenueFrameParser) reads a whole frame: each
 * frame counted, parsed — stamped with `clock`, or in C with the bot4 clock when `clock` is null —
 * and handed with its status to `parsed`. Text from a text transport, bytes in place from a byte
 * transport.
 */
export function parsedFrames(vp: VenueFrameParser, counters: { frames: number }, clock: (() => number) | null, parsed: ParsedFrame): Pick<SessionHandlers, "onText" | "onBytes"> {
  return {
    onText: (text) => {
      counters.frames++;
      parsed(clock === null ? vp.textNow(text) : vp.text(text, clock()), text, null, 0, 0);
    },
    onBytes: (buf, start, end, ptr) => {
      counters.frames++;
      parsed(clock === null ? vp.frameNow(ptr, end - start) : vp.frame(ptr, end - start, clock()), null, buf, start, end);
    },
  };
}

/** A frame's bytes as text (cold paths of the byte transport: replies, errors, unreadable frames). */
export function frameText(buf: Uint8Array, start: number, end: number): string {
  return utf8.decode(buf.subarray(start, end));
}

/**
 * The default transport: our WebSocket client (src/net/ws-client.ts, RFC 6455 over Bun.connect,
 * TLS for wss://) delivering each frame's bytes in its receive buffer to the feed's C parser: no
 * string per frame and no re-encoding copy (Bun's WebSocket hands over a decoded JS string, which
 * the feed had to encode back into bytes for C). One connection per call: the session above it
 * does the reconnecting, the heartbeat and the stall watchdog, so the client's own are off.
 */
export function wsClientTransport(o: { tls?: WsClientOptions["tls"] } = {}): TextTransportFactory {
  return (url, h) => {
    const bytes = h.onBytes;
    const c: WsClient = new WsClient({
      url,
      tls: o.tls,
      reconnect: false,
      stallMs: 0,
      onOpen: () => h.onOpen(),
      onMessage: bytes
        ? (buf, start, end) => bytes(buf, start, end, c.rxAddress + start)
        : (buf, start, end) => h.onText(utf8.decode(buf.subarray(start, end))),
      onClose: (reason) => h.onClose(reason),
    });
    c.start();
    return {
      send: (text) => c.send(text) >= 0,
      close: () => void c.close(),
    };
  };
}

export interface HeartbeatOptions {
  /** the application-level ping frame */
  text: string;
  /** send every `everyMs` (`idleOnly` false), or once `everyMs` passed without any frame (true) */
  everyMs: number;
  idleOnly: boolean;
  /** no pong this long after a ping: the connection is dead */
  timeoutMs: number;
}

export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
  /** a connection that stayed up this long resets the backoff */
  stableMs?: number;
}

export interface SessionCounters {
  connects: number;
  reconnects: number;
  stalls: number;
  pingsSent: number;
  pongs: number;
  pongTimeouts: number;
  /** frames the feed tried to send while no socket was open */
  sendFailures: number;
}

export interface SessionHandlers {
  /** a connection opened: subscribe here */
  onOpen(): void;
  onText(text: string): void;
  /** frames as bytes, where the transport delivers them so (see TextTransportHandlers.onBytes) */
  onBytes?(buf: Uint8Array, start: number, end: number, ptr: number): void;
  /** the connection ended (closed by the venue, stalled, no pong): per-connection state ends here */
  onLost(reason: string): void;
  /** every watchdog tick while started (cold path: retries); `t` = performance.now() */
  onTick?(t: number): void;
}

export interface SessionOptions {
  url: string;
  transport?: TextTransportFactory;
  backoff?: BackoffOptions;
  stallMs?: number;
  heartbeat: HeartbeatOptions;
  onNotice?: NoticeFn;
  random?: () => number;
}

/**
 * One venue session over successive websocket connections: connect, reconnect with exponential
 * backoff and full jitter (uniform in [0, min(cap, base·2^attempt)], reset after a stable
 * connection), a stall watchdog, and an application-level heartbeat. Frames of a connection the
 * session has given up on are never delivered.
 */
export class TextFeedSession {
  private transport: TextTransport | null = null;
  private stopped = true;
  private attempt = 0;
  private openedAt = 0;
  /**
   * When a frame was last seen, as of the watchdog's tick: frames only count (`frames`), and the
   * tick that finds the count moved stamps the time. No clock read per frame; silences are
   * measured to within one tick period (at most a quarter of the stall, heartbeat and pong limits).
   */
  private lastFrameAt = 0;
  private frames = 0;
  private framesSeen = 0;
  private lastPingAt = 0;
  private pingSince = 0;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private watchdog: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly o: SessionOptions,
    private readonly h: SessionHandlers,
    readonly counters: SessionCounters,
  ) {}

  /** A socket is open and subscribed-to (between onOpen and onLost). */
  get connected(): boolean {
    return this.transport !== null && this.openedAt !== 0;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
    const hb = this.o.heartbeat, stallMs = this.o.stallMs ?? 30_000;
    const period = Math.max(10, Math.min(1000, stallMs / 4, hb.everyMs / 4, hb.timeoutMs / 4));
    this.watchdog = setInterval(() => this.tick(), period);
  }

  stop(): void {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const t = this.transport;
    this.transport = null;
    this.openedAt = 0;
    t?.close();
  }

  send(text: string): boolean {
    if (this.transport?.send(text)) return true;
    this.counters.sendFailures++;
    return false;
  }

  /** The feed recognised the venue's answer to a ping. */
  pong(): void {
    this.counters.pongs++;
    this.pingSince = 0;
  }

  /** Gives up on the current connection (the feed found it unusable) and reconnects. */
  drop(reason: string): void {
    const t = this.transport;
    if (!t) return;
    this.transport = null;
    t.close();
    this.lost(reason);
  }

  private connect(): void {
    const mk = this.o.transport ?? wsClientTransport();
    const bytes = this.h.onBytes;
    let self: TextTransport | null = null;
    self = mk(this.o.url, {
      onBytes: bytes
        ? (buf, start, end, ptr) => {
            if (this.transport !== self) return;
            this.frames++;
            bytes.call(this.h, buf, start, end, ptr);
          }
        : undefined,
      onOpen: () => {
        if (this.transport !== self) return;
        const c = this.counters;
        c.connects++;
        if (c.connects > 1) c.reconnects++;
        this.openedAt = this.lastPingAt = performance.now();
        this.lastFrameAt = 0;
        this.framesSeen = this.frames;
        this.pingSince = 0;
        this.h.onOpen();
      },
      onText: (text) => {
        if (this.transport !== self) return;
        this.frames++;
        this.h.onText(text);
      },
      onClose: (reason) => {
        if (this.transport !== self) return;
        this.transport = null;
        this.lost(reason);
      },
    });
    this.transport = self;
  }

  private tick(): void {
    const t = performance.now();
    if (this.transport && this.openedAt) {
      const hb = this.o.heartbeat, stallMs = this.o.stallMs ?? 30_000;
      if (this.frames !== this.framesSeen) {
        this.framesSeen = this.frames;
        this.lastFrameAt = t;
      }
      const silent = t - Math.max(this.lastFrameAt, this.openedAt);
      if (silent > stallMs) {
        this.counters.stalls++;
        this.o.onNotice?.("stream stalled: reconnecting", { silentMs: Math.round(silent) });
        this.drop("stall");
      } else if (this.pingSince !== 0) {
        if (t - this.pingSince > hb.timeoutMs) {
          this.counters.pongTimeouts++;
          this.o.onNotice?.("no pong: reconnecting", { waitedMs: Math.round(t - this.pingSince) });
          this.drop("no pong");
        }
      } else if (hb.idleOnly ? silent >= hb.everyMs : t - this.lastPingAt >= hb.everyMs) {
        if (this.send(hb.text)) {
          this.counters.pingsSent++;
          this.lastPingAt = this.pingSince = t;
        }
      }
    }
    if (!this.stopped) this.h.onTick?.(t);
  }

  private lost(reason: string): void {
    const wasOpen = this.openedAt;
    this.openedAt = 0;
    this.pingSince = 0;
    this.h.onLost(reason);
    if (this.stopped) return;
    const b = this.o.backoff ?? {};
    const base = b.baseMs ?? 250, cap = b.capMs ?? 30_000, stable = b.stableMs ?? 60_000;
    if (wasOpen && performance.now() - wasOpen > stable) this.attempt = 0;
    // exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)]
    const ceiling = Math.min(cap, base * 2 ** Math.min(this.attempt, 20));
    const delay = Math.floor((this.o.random ?? Math.random)() * ceiling);
    this.attempt++;
    this.o.onNotice?.("connection lost: reconnecting", { reason, attempt: this.attempt, delayMs: delay });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) this.connect();
    }, delay);
    this.timers.add(timer);
  }
}

/**
 * Instrument ids fixed by a feed's configuration. The normalisers name instruments through
 * `id(venue, unifiedSymbol)`; here that is a lookup, never a registration: a symbol that was not
 * configured gets UNKNOWN (no book table holds it) and is counted.
 */
export class FixedInstruments extends InstrumentTable {
  static readonly UNKNOWN = 0xffffffff;
  /** lookups of symbols that were not configured */
  unknown = 0;
  private readonly fixed = new Map<string, number>();

  constructor(entries: Iterable<readonly [string, number]>) {
    super();
    for (const [symbol, id] of entries) {
      if (!Number.isInteger(id) || id < 0 || id >= FixedInstruments.UNKNOWN) throw new RangeError(`instrument id for ${symbol} must be an integer in [0, 2^32-2], got ${id}`);
      this.fixed.set(symbol, id);
    }
  }

  override id(_venue: number, symbol: string): number {
    const id = this.fixed.get(symbol);
    if (id !== undefined) return id;
    this.unknown++;
    return FixedInstruments.UNKNOWN;
  }
}

/**
 * Copies one frame's records (a TickBuffer) into 64-byte-aligned memory, stamps the venue and
 * the receive time, and pushes them with one `ring.pushDrop` (what does not fit is counted by the
 * ring as drops). The scratch memory grows, rarely, to the largest frame seen.
 */
export class TickRingWriter {
  private mem: AlignedBuffer;
  private u8: Uint8Array;
  private u16: Uint16Array;
  private u32: Uint32Array;
  private cap: number;

  constructor(
    readonly ring: SpscRing,
    readonly venue: number,
    records = 1024,
  ) {
    this.cap = 0;
    this.mem = alignedBuffer(64);
    this.u8 = new Uint8Array(0);
    this.u16 = new Uint16Array(0);
    this.u32 = new Uint32Array(0);
    this.grow(records);
  }

  /** Pushes the buffer's records; returns how many the ring took. `recvNs`: the bot4 clock. */
  push(tb: TickBuffer, recvNs: number): number {
    const n = tb.count;
    if (n > this.cap) this.grow(n);
    this.u8.set(tb.u8.subarray(0, n * TICK_BYTES));
    const recv = recvNs > 0 ? Math.trunc(recvNs) : 0, venue = this.venue, u16 = this.u16, u32 = this.u32;
    for (let i = 0; i < n; i++) {
      writeU64(u32, i * TICK_U32 + T.TS_RECV_U32, recv);
      u16[i * (TICK_BYTES / 2) + T.VENUE_U16] = venue;
    }
    return this.ring.pushDrop(this.mem.ptr, n);
  }

  /**
   * Pushes one STATUS record for `instrument` (price = TickStatus code): the engine's book clears
   * and is unusable until the venue's next snapshot (c/book.h). Used where the engine's book
   * cannot see that the stream broke itself: OKX, Coinbase and Kraken chains and checksums are
   * checked by the handler, and a lost connection is invisible to any book.
   */
  pushBookLost(instrument: number, recvNs: number, code: number = TickStatus.disconnected): number {
    this.u8.fill(0, 0, TICK_BYTES);
    writeU64(this.u32, T.TS_RECV_U32, recvNs > 0 ? Math.trunc(recvNs) : 0);
    this.u32[T.INSTRUMENT_U32] = instrument;
    this.u16[T.VENUE_U16] = this.venue;
    this.u8[T.KIND_U8] = TickKind.status;
    this.u8[T.FLAGS_U8] = TickFlag.last;
    new Float64Array(this.u8.buffer, this.u8.byteOffset, TICK_BYTES / 8)[T.PRICE_F64] = code;
    return this.ring.pushDrop(this.mem.ptr, 1);
  }

  private grow(records: number): void {
    this.cap = Math.max(records, this.cap * 2);
    this.mem = alignedBuffer(this.cap * TICK_BYTES);
    const { buffer, byteOffset } = this.mem;
    this.u8 = new Uint8Array(buffer, byteOffset, this.cap * TICK_BYTES);
    this.u16 = new Uint16Array(buffer, byteOffset, (this.cap * TICK_BYTES) / 2);
    this.u32 = new Uint32Array(buffer, byteOffset, (this.cap * TICK_BYTES) / 4);
  }
}

/**
 * Books waiting for the snapshot their resubscribe asked for, and since when: a second ask for
 * one already waiting is not sent, and one that waited longer than the venue's allowance is
 * asked again (its clock restarts). Every JSON feed resyncs its books this way.
 */
export class PendingResyncs {
  private readonly since = new Map<string, number>();

  get size(): number {
    return this.since.size;
  }
  has(key: string): boolean {
    return this.since.has(key);
  }
  /** `key` now waits for its snapshot, from `t` (ms, performance.now()). */
  begin(key: string, t: number): void {
    this.since.set(key, t);
  }
  /** Its snapshot arrived. */
  done(key: string): void {
    this.since.delete(key);
  }
  /** A new connection subscribes everything again: nothing is waiting any more. */
  clear(): void {
    this.since.clear();
  }
  /** Keys that have waited `waitMs` or more by `t`, with how long; their clocks restart at `t`. */
  overdue(t: number, waitMs: number): Array<{ key: string; waitedMs: number }> {
    const out: Array<{ key: string; waitedMs: number }> = [];
    for (const [key, since] of this.since) {
      if (t - since < waitMs) continue;
      this.since.set(key, t);
      out.push({ key, waitedMs: Math.round(t - since) });
    }
    return out;
  }
}

/** A received frame as a JSON object, or why it is not one (the feed counts it as malformed). */
export function jsonObject(text: string): Record<string, unknown> | string {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (m === null || typeof m !== "object" || Array.isArray(m)) return "not a JSON object";
  return m as Record<string, unknown>;
}
