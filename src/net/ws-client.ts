/**
 * WsClient — an RFC 6455 WebSocket client over Bun.connect (TCP for ws://, TLS with SNI = host
 * for wss://) for feed handlers that parse the received bytes themselves.
 *
 * Delivery contract (the hot path):
 *  - `onMessage(buf, start, end, isText)` gets every complete message as buf[start, end), a view
 *    into the client's reusable receive buffer. No string and no object is made per message.
 *    The bytes are valid ONLY during the call (the next read overwrites them): copy what you
 *    keep. `client.rxAddress + start` is the payload's address for a C parser; read
 *    `rxAddress` (and use `buf`) per call, both change when a message larger than the buffer
 *    arrives. The handler is called as a plain function (bind methods).
 *  - a handler that throws fails the connection (the rest of that read is lost): counted in
 *    `handlerErrors`, then reconnect — onOpen gets the chance to resync.
 *
 * Sending: `send(text | bytes)` builds one masked frame in a reusable buffer and writes it with
 * one socket write. It returns the bytes still queued in user space after the write: 0 when the
 * kernel took the whole frame, > 0 under backpressure (queued, flushed on drain, order kept),
 * -1 when the connection is not open (nothing sent). More than `maxBufferedBytes` queued fails
 * the connection. `sendPing()` sends a protocol ping; pings from the server are answered with a
 * pong echoing their payload, automatically.
 *
 * Supervision: after a failure (connect error or timeout, refused handshake, protocol error,
 * oversize message, stall, lost connection, server close) the client reconnects after a
 * FullJitterBackoff delay; `onOpen` runs after every successful handshake, so the handler
 * re-subscribes and resyncs its books there. A connection silent for `stallMs` is failed as
 * stalled. `onHeartbeat` runs every `heartbeatMs` while open (for venues that want an app-level
 * "ping"). `close()` runs the close handshake (send close, wait for the server's close or
 * `closeTimeoutMs`) and stops reconnecting. Counters and `lastError` say what happened.
 * Clock and timers are injectable (Timers) so tests can drive stalls and backoff.
 */
import type { Socket, SocketHandler } from "bun";
import { FullJitterBackoff, systemTimers, type BackoffOptions, type Timers } from "./backoff.ts";
import {
  CLOSE_NORMAL,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_BIG,
  OP_BINARY,
  OP_TEXT,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  WsFrameReader,
  WsFrameWriter,
  checkUpgradeResponse,
  headEnd,
  upgradeRequest,
  wsKey,
} from "./ws-frame.ts";

export type WsMessageHandler = (buf: Uint8Array, start: number, end: number, isText: boolean) => void;

export interface WsClientOptions {
  /** ws://host[:port]/path?query or wss://... */
  url: string;
  /** extra request headers for the upgrade (no line breaks) */
  headers?: Record<string, string>;
  /** TLS settings for wss:// (a private CA for tests, or a different SNI name) */
  tls?: { ca?: string | string[]; rejectUnauthorized?: boolean; serverName?: string };
  onMessage: WsMessageHandler;
  /** after every successful handshake: subscribe, resync */
  onOpen?: (client: WsClient) => void;
  /** after every disconnect (cold path): why, and whether a reconnect is scheduled */
  onClose?: (reason: string, willReconnect: boolean) => void;
  /** every heartbeatMs while open */
  onHeartbeat?: (client: WsClient) => void;
  heartbeatMs?: number;
  /** a pong arrived (payload valid only during the call) */
  onPong?: (buf: Uint8Array, start: number, end: number) => void;
  /** largest message accepted; bigger ones fail the connection (default 16 MiB) */
  maxMessageBytes?: number;
  /** TCP + TLS + upgrade must complete within this (default 10 s) */
  connectTimeoutMs?: number;
  /** how long close() waits for the server's close frame (default 2 s) */
  closeTimeoutMs?: number;
  /** no bytes for this long fails the connection as stalled (default 30 s; 0: off) */
  stallMs?: number;
  /** send queue limit under backpressure (default 16 MiB) */
  maxBufferedBytes?: number;
  /** reconnect after failures (default true) */
  reconnect?: boolean;
  backoff?: BackoffOptions;
  timers?: Timers;
}

export interface WsClientCounters {
  /** successful handshakes */
  connects: number;
  /** successful handshakes after the first */
  reconnects: number;
  /** TCP/TLS connects that failed or timed out */
  connectFailures: number;
  /** upgrades the server refused or answered wrongly */
  handshakeFailures: number;
  bytesIn: number;
  /** socket reads (bytesIn / reads: how much each wake-up brings) */
  reads: number;
  bytesOut: number;
  /** socket writes (one per frame sent, one per uncork(), more under backpressure) */
  writes: number;
  messages: number;
  pingsIn: number;
  pongsOut: number;
  pingsOut: number;
  pongsIn: number;
  heartbeats: number;
  stalls: number;
  protocolErrors: number;
  oversize: number;
  serverCloses: number;
  handlerErrors: number;
  /** sends that found the kernel buffer full */
  backpressured: number;
}

export type WsClientState = "idle" | "connecting" | "handshake" | "open" | "closing" | "stopped";

const IDLE = 0, CONNECTING = 1, HANDSHAKE = 2, OPEN = 3, CLOSING = 4, STOPPED = 5;
const STATE_NAMES: WsClientState[] = ["idle", "connecting", "handshake", "open", "closing", "stopped"];
const MAX_HEAD = 16 * 1024;
const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder();

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** RFC 6455 7.4: codes a peer may put on the wire. */
function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

export class WsClient {
  /** why the last connection ended, other than by close() (wall-clock `at`, ms) */
  lastError: { reason: string; at: number } | null = null;
  private readonly c: Omit<WsClientCounters, "messages"> = {
    connects: 0, reconnects: 0, connectFailures: 0, handshakeFailures: 0, bytesIn: 0, reads: 0, bytesOut: 0, writes: 0,
    pingsIn: 0, pongsOut: 0, pingsOut: 0, pongsIn: 0, heartbeats: 0, stalls: 0, protocolErrors: 0,
    oversize: 0, serverCloses: 0, handlerErrors: 0, backpressured: 0,
  };
  private messages = 0;
  private readonly url: URL;
  private readonly hostname: string;
  private readonly port: number;
  private readonly tls: { serverName: string; ca?: string | string[]; rejectUnauthorized?: boolean } | null;
  private readonly reader: WsFrameReader;
  private readonly writer = new WsFrameWriter();
  private readonly backoff: FullJitterBackoff;
  private readonly timers: Timers;
  // binaryType "uint8array": reads arrive as plain Uint8Array (the type says Buffer, a subclass)
  private readonly handlers: SocketHandler<number>;
  private state = IDLE;
  private stopped = true;
  /** connection generation: socket callbacks carrying another one are stale */
  private gen = 0;
  private sock: Socket<number> | null = null;
  private key = "";
  private head = new Uint8Array(MAX_HEAD);
  private headLen = 0;
  private lastRx = 0;
  private queue: Uint8Array[] = [];
  private buffered = 0;
  /** cork(): frames are copied here, in order, and written together by uncork() */
  private corked = false;
  private corkBuf = new Uint8Array(4096);
  private corkLen = 0;
  private everOpen = false;
  private connectTimer: unknown = null;
  private stallTimer: unknown = null;
  private heartbeatTimer: unknown = null;
  private closeTimer: unknown = null;
  private retryTimer: unknown = null;
  private closeWaiters: Array<() => void> = [];
  private readonly stallMs: number;

  constructor(private readonly o: WsClientOptions) {
    this.url = new URL(o.url);
    if (this.url.protocol !== "ws:" && this.url.protocol !== "wss:") throw new TypeError(`WsClient needs a ws:// or wss:// URL (got ${o.url})`);
    this.hostname = this.url.hostname.replace(/^\[(.*)\]$/, "$1");
    this.port = this.url.port ? Number(this.url.port) : this.url.protocol === "wss:" ? 443 : 80;
    this.tls = this.url.protocol === "wss:" ? { serverName: o.tls?.serverName ?? this.hostname, ca: o.tls?.ca, rejectUnauthorized: o.tls?.rejectUnauthorized } : null;
    this.timers = o.timers ?? systemTimers;
    this.backoff = new FullJitterBackoff(o.backoff);
    this.stallMs = o.stallMs ?? 30_000;
    const self = this;
    const user = o.onMessage;
    this.reader = new WsFrameReader(
      {
        message(buf, start, end, isText) {
          self.messages++;
          user(buf, start, end, isText);
        },
        control: (op, buf, start, end) => this.control(op, buf, start, end),
      },
      o.maxMessageBytes ?? 16 << 20,
    );
    this.handlers = {
      binaryType: "uint8array",
      open: (s) => this.onSocketOpen(s),
      data: (s, chunk) => this.onSocketData(s, chunk),
      drain: (s) => this.onSocketDrain(s),
      handshake: (s, ok, err) => this.onTlsHandshake(s, ok, err),
      close: (s, err) => this.onSocketClose(s, err),
      error: (s, err) => {
        if (s.data === this.gen) this.fail(`socket error: ${message(err)}`);
      },
    };
  }

  // ---- public API ---------------------------------------------------------------------------

  get counters(): WsClientCounters {
    return { ...this.c, messages: this.messages };
  }

  get status(): WsClientState {
    return STATE_NAMES[this.state]!;
  }

  get isOpen(): boolean {
    return this.state === OPEN;
  }

  /** Address of the receive buffer's byte 0: a message's payload is at rxAddress + start. */
  get rxAddress(): number {
    return this.reader.address;
  }

  /** Bytes queued in user space waiting for the socket to drain. */
  get bufferedAmount(): number {
    return this.buffered;
  }

  /** Connects (and keeps reconnecting until close()). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.backoff.reset();
    if (this.state === IDLE || this.state === STOPPED) this.connect();
  }

  /**
   * Sends a text (string) or binary (bytes) message as one frame with one socket write.
   * Returns 0 (written), > 0 (bytes queued under backpressure) or -1 (not open, not sent).
   */
  send(data: string | Uint8Array): number {
    if (this.state !== OPEN) return -1;
    const w = this.writer;
    const len = typeof data === "string" ? w.text(data) : w.bytes(OP_BINARY, data);
    return this.write(w.buf, w.start, len);
  }

  /**
   * Sends UTF-8 bytes as one text frame (the caller guarantees valid UTF-8: venues such as
   * Binance's WebSocket API accept only text frames); same return values as send().
   */
  sendText(data: Uint8Array, from = 0, to = data.length): number {
    if (this.state !== OPEN) return -1;
    const w = this.writer;
    const len = w.bytes(OP_TEXT, data, from, to);
    return this.write(w.buf, w.start, len);
  }

  /**
   * Writes an already-built, masked client frame buf[0, len) (c/order.c builds whole order
   * frames) through the same path as send(): one socket write, queued in order under
   * backpressure (the queue keeps a copy, so buf may be reused at once). The caller guarantees
   * it is one complete, valid client frame. Same return values as send().
   */
  sendFrame(buf: Uint8Array, len: number): number {
    if (this.state !== OPEN) return -1;
    return this.write(buf, 0, len);
  }

  /**
   * Holds this client's writes from now on: each frame sent is copied, in order, and uncork()
   * writes them all with one socket write (a gateway sending one engine step's orders and
   * cancels pays one system call, ~7 µs on loopback here, instead of one per frame). Call
   * uncork() before returning to the event loop.
   */
  cork(): void {
    this.corked = true;
  }

  /** Ends cork(): the held frames in one write. Same return values as send() (0 when nothing was held). */
  uncork(): number {
    this.corked = false;
    const n = this.corkLen;
    if (n === 0) return 0;
    this.corkLen = 0;
    return this.write(this.corkBuf, 0, n);
  }

  /** Sends a protocol ping (payload up to 125 bytes); same return values as send(). */
  sendPing(payload?: Uint8Array): number {
    if (this.state !== OPEN) return -1;
    const len = this.writer.control(OP_PING, payload ?? null, 0, payload ? payload.length : 0);
    this.c.pingsOut++;
    return this.write(this.writer.ctl, this.writer.ctlStart, len);
  }

  /**
   * Stops reconnecting and closes: when open, sends a close frame and waits for the server's
   * (or closeTimeoutMs). Resolves once the socket is gone.
   */
  close(code = CLOSE_NORMAL, reason = ""): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) {
      this.timers.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.state === IDLE || this.state === STOPPED) {
      this.state = STOPPED;
      return Promise.resolve();
    }
    const done = new Promise<void>((r) => this.closeWaiters.push(r));
    if (this.state === OPEN) {
      this.sendClose(code, reason);
      this.state = CLOSING;
      this.armCloseTimer();
    } else if (this.state !== CLOSING) {
      this.teardown("closed by the client before the handshake completed", true);
    }
    return done;
  }

  // ---- connection lifecycle (cold path) -----------------------------------------------------

  private connect(): void {
    this.retryTimer = null;
    const g = ++this.gen;
    this.state = CONNECTING;
    this.headLen = 0;
    const ms = this.o.connectTimeoutMs ?? 10_000;
    this.connectTimer = this.timers.setTimeout(() => {
      this.connectTimer = null;
      if (this.gen !== g || this.state >= OPEN) return;
      if (this.state === HANDSHAKE) this.c.handshakeFailures++;
      else this.c.connectFailures++;
      this.fail(`connect timeout after ${ms} ms (${STATE_NAMES[this.state]})`);
    }, ms);
    const failed = (e: unknown) => {
      if (this.gen !== g || this.state >= OPEN) return;
      this.c.connectFailures++;
      this.fail(`connect to ${this.hostname}:${this.port} failed: ${message(e)}`);
    };
    try {
      const base = { hostname: this.hostname, port: this.port, data: g, socket: this.handlers };
      const p = this.tls ? Bun.connect<number>({ ...base, tls: this.tls }) : Bun.connect<number>(base);
      p.catch(failed);
    } catch (e) {
      failed(e);
    }
  }

  private onSocketOpen(s: Socket<number>): void {
    if (s.data !== this.gen) {
      s.terminate();
      return;
    }
    this.sock = s;
    this.state = HANDSHAKE;
    s.setNoDelay(true);
    // wss: the upgrade goes out once the TLS handshake has verified the server (onTlsHandshake)
    if (this.tls === null) this.sendUpgrade();
  }

  private onTlsHandshake(s: Socket<number>, success: boolean, err: Error | null): void {
    if (s.data !== this.gen) return;
    if (!success || (err !== null && this.tls?.rejectUnauthorized !== false)) {
      this.c.connectFailures++;
      this.fail(`TLS handshake with ${this.tls?.serverName} failed: ${err ? message(err) : "not authorized"}`);
      return;
    }
    this.sendUpgrade();
  }

  private sendUpgrade(): void {
    this.key = wsKey();
    let req: string;
    try {
      req = upgradeRequest(this.url, this.key, this.o.headers);
    } catch (e) {
      this.c.handshakeFailures++;
      this.fail(`upgrade request: ${message(e)}`);
      return;
    }
    const bytes = Buffer.from(req, "latin1");
    this.write(bytes, 0, bytes.length);
  }

  private onSocketData(s: Socket<number>, chunk: Uint8Array): void {
    if (s.data !== this.gen) return;
    this.c.bytesIn += chunk.length;
    this.c.reads++;
    this.lastRx = this.timers.now();
    if (this.state === OPEN || this.state === CLOSING) this.feed(chunk);
    else if (this.state === HANDSHAKE) this.handshakeData(chunk);
  }

  /** One read into the frame reader; the only try/catch is here, once per read. */
  private feed(chunk: Uint8Array): void {
    let r: number;
    try {
      r = this.reader.push(chunk);
    } catch (e) {
      this.c.handlerErrors++;
      this.fail(`handler threw: ${message(e)}`);
      return;
    }
    if (r !== 0) {
      if (r === CLOSE_TOO_BIG) this.c.oversize++;
      else this.c.protocolErrors++;
      const why = this.reader.fault;
      this.sendClose(r, r === CLOSE_TOO_BIG ? "message too big" : "protocol error");
      this.fail(`${r === CLOSE_TOO_BIG ? "oversize message" : "protocol error"}: ${why}`, false);
    }
  }

  private handshakeData(chunk: Uint8Array): void {
    const from = this.headLen;
    const room = MAX_HEAD - from;
    const take = chunk.length < room ? chunk.length : room;
    this.head.set(take === chunk.length ? chunk : chunk.subarray(0, take), from);
    this.headLen += take;
    const end = headEnd(this.head, from > 3 ? from - 3 : 0, this.headLen);
    if (end < 0) {
      if (this.headLen === MAX_HEAD) {
        this.c.handshakeFailures++;
        this.fail(`handshake refused: response head longer than ${MAX_HEAD} bytes`);
      }
      return;
    }
    const headText = latin1.decode(this.head.subarray(0, end - 4));
    const refused = checkUpgradeResponse(headText, this.key);
    if (refused !== null) {
      this.c.handshakeFailures++;
      this.fail(refused);
      return;
    }
    if (this.connectTimer !== null) {
      this.timers.clearTimeout(this.connectTimer);
      this.connectTimer = null;
    }
    this.state = OPEN;
    this.c.connects++;
    if (this.everOpen) this.c.reconnects++;
    this.everOpen = true;
    const now = this.timers.now();
    this.backoff.up(now);
    this.lastRx = now;
    if (this.stallMs > 0) this.stallTimer = this.timers.setTimeout(this.stallCheck, this.stallMs);
    if (this.o.heartbeatMs && this.o.onHeartbeat) this.heartbeatTimer = this.timers.setTimeout(this.beat, this.o.heartbeatMs);
    const g = this.gen;
    if (this.o.onOpen) {
      try {
        this.o.onOpen(this);
      } catch (e) {
        this.c.handlerErrors++;
        this.fail(`onOpen threw: ${message(e)}`);
        return;
      }
    }
    // frames that came in the same read as the 101 response
    const restAt = end - from;
    if (this.gen === g && this.state === OPEN && restAt < chunk.length) this.feed(chunk.subarray(restAt));
  }

  private readonly stallCheck = (): void => {
    this.stallTimer = null;
    if (this.state !== OPEN && this.state !== CLOSING) return;
    const silent = this.timers.now() - this.lastRx;
    if (silent >= this.stallMs) {
      this.c.stalls++;
      this.fail(`stall: no bytes for ${Math.round(silent)} ms`);
    } else {
      this.stallTimer = this.timers.setTimeout(this.stallCheck, this.stallMs - silent);
    }
  };

  private readonly beat = (): void => {
    this.heartbeatTimer = null;
    if (this.state !== OPEN) return;
    this.c.heartbeats++;
    const g = this.gen;
    try {
      this.o.onHeartbeat!(this);
    } catch (e) {
      this.c.handlerErrors++;
      this.fail(`onHeartbeat threw: ${message(e)}`);
      return;
    }
    if (this.gen === g && this.state === OPEN) this.heartbeatTimer = this.timers.setTimeout(this.beat, this.o.heartbeatMs!);
  };

  /** Ping, pong and close frames from the server (called by the frame reader). */
  private control(op: number, buf: Uint8Array, start: number, end: number): void {
    if (op === OP_PING) {
      this.c.pingsIn++;
      if (this.state === OPEN) {
        const len = this.writer.control(OP_PONG, buf, start, end);
        this.c.pongsOut++;
        this.write(this.writer.ctl, this.writer.ctlStart, len);
      }
    } else if (op === OP_PONG) {
      this.c.pongsIn++;
      this.o.onPong?.(buf, start, end);
    } else {
      const code = end - start >= 2 ? (buf[start]! << 8) | buf[start + 1]! : 1005;
      if (end - start >= 2 && !validCloseCode(code)) {
        this.c.protocolErrors++;
        this.sendClose(CLOSE_PROTOCOL_ERROR, "bad close code");
        this.fail(`protocol error: close frame with invalid code ${code}`, false);
        return;
      }
      if (this.state === CLOSING) {
        // both close frames have been exchanged: the closing handshake is complete
        this.teardown(this.stopped ? "closed" : this.lastError?.reason ?? "closed", false);
        return;
      }
      const text = end - start > 2 ? utf8.decode(buf.subarray(start + 2, end)) : "";
      this.c.serverCloses++;
      this.lastError = { reason: `server closed (${code}${text ? ` ${text}` : ""})`, at: Date.now() };
      if (this.state === OPEN) {
        // echo the code (RFC 6455 5.5.1), then wait for the server to close TCP
        this.sendClose(code === 1005 ? CLOSE_NORMAL : code, "");
        this.state = CLOSING;
        this.armCloseTimer();
      }
    }
  }

  private onSocketDrain(s: Socket<number>): void {
    if (s.data !== this.gen) return;
    const q = this.queue;
    while (q.length > 0) {
      const head = q[0]!;
      const n = s.write(head, 0, head.length);
      this.c.writes++;
      if (n < 0) return;
      this.c.bytesOut += n;
      this.buffered -= n;
      if (n < head.length) {
        q[0] = head.subarray(n);
        return;
      }
      q.shift();
    }
  }

  private onSocketClose(s: Socket<number>, err?: Error): void {
    if (s.data !== this.gen) return;
    if (this.state === CLOSING) {
      this.teardown(this.stopped ? "closed" : this.lastError?.reason ?? "closed", false);
      return;
    }
    this.fail(`connection lost${err ? `: ${message(err)}` : ""} (${STATE_NAMES[this.state]})`);
  }

  /** Writes frame bytes, keeping order behind anything queued; returns bytes queued or -1. */
  private write(buf: Uint8Array, start: number, len: number): number {
    const s = this.sock;
    if (s === null) return -1;
    if (this.corked) {
      if (this.corkLen + len > this.corkBuf.length) {
        const bigger = new Uint8Array(Math.max(this.corkBuf.length * 2, this.corkLen + len));
        bigger.set(this.corkBuf.subarray(0, this.corkLen));
        this.corkBuf = bigger;
      }
      this.corkBuf.set(len === buf.length && start === 0 ? buf : buf.subarray(start, start + len), this.corkLen);
      this.corkLen += len;
      return 0;
    }
    if (this.queue.length === 0) {
      const n = s.write(buf, start, len);
      this.c.writes++;
      if (n === len) {
        this.c.bytesOut += n;
        return 0;
      }
      if (n < 0) return -1;
      this.c.bytesOut += n;
      start += n;
      len -= n;
    }
    this.c.backpressured++;
    this.queue.push(buf.slice(start, start + len));
    this.buffered += len;
    const limit = this.o.maxBufferedBytes ?? 16 << 20;
    if (this.buffered > limit) {
      this.fail(`send queue over ${limit} bytes: the connection is not draining`);
      return -1;
    }
    return this.buffered;
  }

  private sendClose(code: number, reason: string): void {
    if (this.sock === null) return;
    const len = this.writer.close(code, reason);
    this.write(this.writer.ctl, this.writer.ctlStart, len);
  }

  private armCloseTimer(): void {
    const g = this.gen;
    const ms = this.o.closeTimeoutMs ?? 2000;
    this.closeTimer = this.timers.setTimeout(() => {
      this.closeTimer = null;
      if (this.gen === g && this.state === CLOSING) this.teardown(this.stopped ? `closed (no close frame from the server within ${ms} ms)` : this.lastError?.reason ?? "closed", true);
    }, ms);
  }

  /** `abort`: reset the TCP connection; false after a close frame went out, so it is delivered. */
  private fail(reason: string, abort = true): void {
    this.lastError = { reason, at: Date.now() };
    this.teardown(reason, abort);
  }

  /** Ends the current connection (if any) and schedules the next one unless stopped. */
  private teardown(reason: string, abort: boolean): void {
    const wasUp = this.state === OPEN || this.state === CLOSING;
    this.gen++;
    for (const t of [this.connectTimer, this.stallTimer, this.heartbeatTimer, this.closeTimer]) if (t !== null) this.timers.clearTimeout(t);
    this.connectTimer = this.stallTimer = this.heartbeatTimer = this.closeTimer = null;
    const s = this.sock;
    this.sock = null;
    // frames held by cork() for this connection go nowhere (the gateway's timeouts see to their requests)
    this.corkLen = 0;
    if (s !== null) {
      if (abort) s.terminate();
      else {
        // FIN after what is written; the socket is no longer ours, so bound how long it lingers
        s.timeout(Math.max(1, Math.ceil((this.o.closeTimeoutMs ?? 2000) / 1000)));
        s.end();
      }
    }
    this.reader.reset();
    this.queue = [];
    this.buffered = 0;
    this.headLen = 0;
    if (wasUp) this.backoff.down(this.timers.now());
    // close() promised "the socket is gone", even if start() was called again meanwhile
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of waiters) w();
    if (this.stopped || this.o.reconnect === false) {
      this.stopped = true;
      this.state = STOPPED;
      this.o.onClose?.(reason, false);
      return;
    }
    this.state = IDLE;
    this.retryTimer = this.timers.setTimeout(() => this.connect(), this.backoff.next());
    this.o.onClose?.(reason, true);
  }
}
