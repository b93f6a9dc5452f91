/**
 * The venue simulator: a `Bun.serve` server on 127.0.0.1 (only) that replays recorded market
 * data over a venue's real public protocol — WebSocket streams and the REST endpoints a client
 * needs to sync — with faults injected on demand. One server is one venue host (Binance spot,
 * Binance USD-M, ...); clients under test connect to it exactly as they would to the venue.
 *
 * Guarantees:
 *  - one replay position for the whole venue (it is one market): every connection subscribed to
 *    a stream gets that stream's frames in recorded order, from the moment it subscribed; the
 *    venue's own state (books) advances with every frame that leaves the venue, whether or not
 *    a fault lost it on its way to a client — so REST snapshots are always those of the venue
 *    at the current replay position, and a correct client can resync after any fault;
 *  - frames are sent as recorded (the venue module decides the framing a connection asked for:
 *    Binance's combined envelope is the recorded line itself, a raw stream its `data` bytes);
 *  - faults (src/sim/faults.ts) touch data frames only, per connection, deterministically under
 *    a seed, and are all counted (`connections[i].faults`, `faultTotals()`);
 *  - pings at the venue's documented interval (configurable), disconnect of a client that does
 *    not answer within the venue's documented timeout; a venue's inbound message limit
 *    disconnects clients that exceed it; both counted;
 *  - speed 0 replays as fast as the slowest subscribed client takes the frames (backpressure),
 *    speed N at N x the recorded pace.
 *
 * A venue protocol is a `VenueModule` (one file per protocol under src/sim/venues/):
 *   tape       the capture as frames, each with a stream name (or -1: a venue state line, such
 *              as a recorded REST snapshot, applied to the venue but never sent), and `start`,
 *              the first frame to send (what precedes it is the venue's history)
 *   reset()    venue state at the tape's start (called at start and when a loop starts over)
 *   advance(i) frame i leaves the venue: update the venue's state
 *   accept(url)              a WebSocket upgrade: the connection's session and initial streams
 *   frame(session, i)        the text a connection receives for frame i (its framing)
 *   onMessage(session, text, conn)  client requests (subscribe, ...), answered via `conn`
 *   rest(req, url)           REST endpoints (undefined = 404)
 *   errorFrame()             what the venue sends as an error (for the `error` fault)
 *   ping, inboundPerSecond   the venue's documented heartbeat and rate limit
 * The core owns sockets, subscriptions, pacing, faults and heartbeats; a module for Bybit v5,
 * Coinbase Advanced Trade, Kraken or OKX only maps that venue's subscribe messages, framing and
 * REST onto these calls (their app-level pings are messages handled in onMessage).
 */
import type { Server, ServerWebSocket } from "bun";
import { addFaultCounters, emptyFaultCounters, FaultAction, FaultInjector, type FaultCounters, type FaultPlan } from "./faults.ts";
import { ReplayPump, type PacedTape } from "./replay.ts";

export interface SimTape extends PacedTape {
  /** stream id of each frame; -1 = a venue state line, never sent */
  streamOf: Int32Array;
  /** stream names by id */
  streams: string[];
}

/** What a venue module may do with one connection. */
export interface ConnControl {
  readonly id: number;
  /** sends a reply (never subject to faults) */
  send(text: string): void;
  subscribe(names: string[]): void;
  unsubscribe(names: string[]): void;
  subscriptions(): string[];
  close(code: number, reason: string): void;
}

export interface VenueModule<S = unknown> {
  readonly name: string;
  readonly tape: SimTape;
  readonly ping: { intervalMs: number; timeoutMs: number; echoRequired: boolean };
  /** incoming messages per second a connection may send (0 = no limit) */
  readonly inboundPerSecond: number;
  reset(): void;
  advance(i: number): void;
  accept(url: URL): { session: S; streams: string[] } | Response;
  frame(session: S, i: number): string;
  onMessage(session: S, text: string, conn: ConnControl): void;
  rest(req: Request, url: URL): Response | Promise<Response> | undefined;
  errorFrame(): string;
}

export interface VenueSimOptions<S = unknown> {
  venue: VenueModule<S>;
  /** only 127.0.0.1 is accepted: the simulator never listens beyond this machine */
  hostname?: string;
  /** 0 (default) = any free port */
  port?: number;
  /** 1 = recorded pace, N = N x, 0 = as fast as clients take it (default 1) */
  speed?: number;
  loop?: boolean;
  /** start the replay at once (default true); otherwise call start() */
  autoStart?: boolean;
  /** faults for every connection, or chosen per connection */
  faults?: FaultPlan | ((conn: { id: number; url: string }) => FaultPlan | undefined);
  /** overrides of the venue's documented heartbeat, e.g. to make tests fast */
  ping?: { intervalMs?: number; timeoutMs?: number };
  /** override of the venue's inbound message limit (0 = none) */
  inboundPerSecond?: number;
  /** connections are closed after this long (Binance: 24 h) */
  maxConnectionMs?: number;
  /** speed 0: wait while a subscriber has more than this many bytes queued (default 1 MiB) */
  highWaterBytes?: number;
  /** cold-path notices (connections, timeouts, loops) */
  onNotice?: (what: string, detail: Record<string, unknown>) => void;
}

export interface SimCounters {
  connections: number;
  closed: number;
  controlMessages: number;
  restRequests: number;
  pings: number;
  pongs: number;
  /** pongs that did not echo the last ping (venues that require the echo do not count them) */
  unsolicitedPongs: number;
  pongTimeouts: number;
  rateLimited: number;
  expired: number;
  /** frames Bun refused because a socket's buffer was over its limit */
  sendDropped: number;
  loops: number;
}

export interface SimConnectionInfo {
  id: number;
  url: string;
  open: boolean;
  /** data frames put on the wire (after faults) */
  sent: number;
  subscriptions: string[];
  faults: FaultCounters;
  closeCode?: number;
}

interface WsData {
  url: string;
  session: unknown;
  streams: string[];
  conn?: SimConnection;
}

class SimConnection implements ConnControl {
  open = true;
  sent = 0;
  closeCode: number | undefined;
  readonly openedAt = performance.now();
  readonly subs = new Set<string>();
  /** first unanswered ping (0 = none outstanding) */
  awaitingSince = 0;
  lastPingAt = performance.now();
  pingPayload = "";
  private inbound: number[] = [];
  private delayQ: string[] = [];
  private delayDue: number[] = [];
  private delayTimer: ReturnType<typeof setTimeout> | undefined;
  private lastDue = 0;
  readonly timers: Array<ReturnType<typeof setTimeout>> = [];
  readonly emitFn: (s: string) => void;

  constructor(
    readonly id: number,
    readonly ws: ServerWebSocket<WsData>,
    readonly session: unknown,
    readonly injector: FaultInjector,
    private readonly sim: VenueSimImpl,
  ) {
    this.emitFn = (s) => this.out(s);
  }

  send(text: string): void {
    if (this.open) this.sim.wsSend(this.ws, text);
  }
  subscribe(names: string[]): void {
    for (const n of names) {
      if (this.subs.has(n)) continue;
      this.subs.add(n);
      this.sim.index(this, n, true);
    }
  }
  unsubscribe(names: string[]): void {
    for (const n of names) {
      if (!this.subs.delete(n)) continue;
      this.sim.index(this, n, false);
    }
  }
  subscriptions(): string[] {
    return [...this.subs];
  }
  close(code: number, reason: string): void {
    if (!this.open) return;
    this.ws.close(code, reason);
  }

  /** A frame after the faults: straight out, or through the latency queue (order kept). */
  private out(s: string): void {
    if (!this.open) return;
    if (!this.injector.hasDelay) {
      this.sent++;
      this.sim.wsSend(this.ws, s);
      return;
    }
    const now = performance.now();
    const due = Math.max(now + this.injector.delayMs(), this.lastDue);
    this.lastDue = due;
    this.delayQ.push(s);
    this.delayDue.push(due);
    if (this.delayTimer === undefined) this.delayTimer = setTimeout(() => this.flushDelayed(), Math.max(0, due - now));
  }

  private flushDelayed(): void {
    this.delayTimer = undefined;
    const now = performance.now();
    let k = 0;
    while (k < this.delayQ.length && this.delayDue[k]! <= now + 0.5) {
      if (this.open && !this.injector.stalled) {
        this.sent++;
        this.sim.wsSend(this.ws, this.delayQ[k]!);
      }
      k++;
    }
    this.delayQ.splice(0, k);
    this.delayDue.splice(0, k);
    if (this.delayQ.length > 0) this.delayTimer = setTimeout(() => this.flushDelayed(), Math.max(0, this.delayDue[0]! - now));
  }

  /** One data frame of `stream` for this connection. */
  deliver(stream: string, text: string): void {
    const act = this.injector.feed(stream, text, this.emitFn);
    if (act === FaultAction.disconnect) this.sim.faultDisconnect(this);
  }

  /** Counts an incoming message; false when the venue's per-second limit is exceeded. */
  admit(limit: number): boolean {
    if (limit <= 0) return true;
    const now = performance.now();
    const q = this.inbound;
    q.push(now);
    while (q.length > 0 && q[0]! <= now - 1000) q.shift();
    return q.length <= limit;
  }

  dispose(): void {
    this.open = false;
    for (const t of this.timers) clearTimeout(t);
    if (this.delayTimer !== undefined) clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
  }
}

export interface VenueSim<S = unknown> {
  readonly port: number;
  /** http://127.0.0.1:port */
  readonly httpUrl: string;
  /** ws://127.0.0.1:port */
  readonly wsUrl: string;
  readonly venue: VenueModule<S>;
  readonly counters: SimCounters;
  /** resolves when the replay has sent its last frame (never, with loop) */
  readonly done: Promise<void>;
  /** index of the next frame to send */
  readonly position: number;
  start(): void;
  pause(): void;
  resume(): void;
  /** pauses before frame i (a checkpoint) */
  pauseAt(i: number): Promise<void>;
  connections(): SimConnectionInfo[];
  /** all faults injected so far, over every connection */
  faultTotals(): FaultCounters;
  /** faults for connections opened from now on */
  setFaults(f: VenueSimOptions["faults"]): void;
  /** subscribers of a stream now (open connections) */
  subscribers(stream: string): number;
  disconnectAll(code?: number, reason?: string): void;
  stop(): Promise<void>;
}

const LOCAL = "127.0.0.1";

class VenueSimImpl implements VenueSim<unknown> {
  readonly counters: SimCounters = { connections: 0, closed: 0, controlMessages: 0, restRequests: 0, pings: 0, pongs: 0, unsolicitedPongs: 0, pongTimeouts: 0, rateLimited: 0, expired: 0, sendDropped: 0, loops: 0 };
  readonly venue: VenueModule<unknown>;
  private readonly server: Server<WsData>;
  private readonly pump: ReplayPump;
  private readonly conns: SimConnection[] = [];
  private readonly bySid: Array<Set<SimConnection>>;
  private readonly sidOf = new Map<string, number>();
  private faults: VenueSimOptions["faults"];
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly pingIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private readonly inboundLimit: number;
  private readonly maxConnMs: number;
  private readonly highWater: number;
  private pingSeq = 0;

  constructor(private readonly o: VenueSimOptions<unknown>) {
    if (o.hostname !== undefined && o.hostname !== LOCAL) {
      throw new Error(`the venue simulator listens on ${LOCAL} only (asked for ${o.hostname}): it must never be reachable from another machine`);
    }
    const v = (this.venue = o.venue);
    this.faults = o.faults;
    this.pingIntervalMs = o.ping?.intervalMs ?? v.ping.intervalMs;
    this.pongTimeoutMs = o.ping?.timeoutMs ?? v.ping.timeoutMs;
    this.inboundLimit = o.inboundPerSecond ?? v.inboundPerSecond;
    this.maxConnMs = o.maxConnectionMs ?? 24 * 3600_000;
    this.highWater = o.highWaterBytes ?? 1 << 20;
    this.bySid = v.tape.streams.map(() => new Set<SimConnection>());
    v.tape.streams.forEach((s, i) => this.sidOf.set(s, i));
    v.reset();
    this.pump = new ReplayPump(v.tape, { speed: o.speed ?? 1, loop: o.loop }, {
      onFrame: (i) => this.emit(i),
      onLoop: () => this.restart(),
      blocked: () => this.blocked(),
    });
    const self = this;
    this.server = Bun.serve<WsData>({
      hostname: LOCAL,
      port: o.port ?? 0,
      fetch(req, srv) {
        const url = new URL(req.url);
        if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
          const a = v.accept(url);
          if (a instanceof Response) return a;
          return srv.upgrade(req, { data: { url: url.pathname + url.search, session: a.session, streams: a.streams } })
            ? undefined
            : new Response("WebSocket upgrade failed", { status: 400 });
        }
        self.counters.restRequests++;
        return v.rest(req, url) ?? Response.json({ code: -1, msg: `no such endpoint: ${req.method} ${url.pathname}` }, { status: 404 });
      },
      websocket: {
        // the simulator pings per the venue's rules itself: no Bun pings, no Bun idle timeout
        sendPings: false,
        idleTimeout: 0,
        perMessageDeflate: false,
        backpressureLimit: 64 << 20,
        closeOnBackpressureLimit: false,
        open: (ws) => self.onOpen(ws),
        message: (ws, msg) => self.onMessage(ws, msg),
        pong: (ws, data) => self.onPong(ws, data),
        drain: () => self.pump.kick(),
        close: (ws, code) => self.onClose(ws, code),
      },
    });
    const tick = Math.max(5, Math.min(this.pingIntervalMs, this.pongTimeoutMs) / 4);
    this.heartbeat = setInterval(() => this.beat(), tick);
    if (o.autoStart ?? true) this.pump.start();
  }

  get port(): number {
    return this.server.port!;
  }
  get httpUrl(): string {
    return `http://${LOCAL}:${this.port}`;
  }
  get wsUrl(): string {
    return `ws://${LOCAL}:${this.port}`;
  }
  get done(): Promise<void> {
    return this.pump.done;
  }
  get position(): number {
    return this.pump.position;
  }

  start(): void {
    this.pump.start();
  }
  pause(): void {
    this.pump.pause();
  }
  resume(): void {
    this.pump.resume();
  }
  pauseAt(i: number): Promise<void> {
    return this.pump.pauseAt(i);
  }
  setFaults(f: VenueSimOptions["faults"]): void {
    this.faults = f;
  }

  connections(): SimConnectionInfo[] {
    return this.conns.map((c) => ({ id: c.id, url: c.ws.data.url, open: c.open, sent: c.sent, subscriptions: c.subscriptions(), faults: { ...c.injector.counters }, closeCode: c.closeCode }));
  }

  faultTotals(): FaultCounters {
    const t = emptyFaultCounters();
    for (const c of this.conns) addFaultCounters(t, c.injector.counters);
    return t;
  }

  subscribers(stream: string): number {
    const sid = this.sidOf.get(stream);
    return sid === undefined ? 0 : this.bySid[sid]!.size;
  }

  disconnectAll(code = 1001, reason = "going away"): void {
    for (const c of this.conns) c.close(code, reason);
  }

  async stop(): Promise<void> {
    this.pump.stop();
    clearInterval(this.heartbeat);
    for (const c of this.conns) c.dispose();
    await this.server.stop(true);
  }

  /** subscription index upkeep (called by connections) */
  index(c: SimConnection, name: string, add: boolean): void {
    const sid = this.sidOf.get(name);
    if (sid === undefined) return; // a stream the capture does not hold: accepted, never delivers
    if (add) this.bySid[sid]!.add(c);
    else this.bySid[sid]!.delete(c);
  }

  wsSend(ws: ServerWebSocket<WsData>, text: string): void {
    if (ws.send(text) === 0) this.counters.sendDropped++;
  }

  faultDisconnect(c: SimConnection): void {
    const d = c.injector.plan.disconnect;
    this.notice("fault: disconnect", { conn: c.id, afterFrames: c.injector.counters.frames });
    c.injector.flush(() => {}); // a frame held for reordering is lost with the connection
    if (d?.abrupt) c.ws.terminate();
    else c.ws.close(d?.code ?? 1001, "simulated disconnect");
    c.dispose();
  }

  private notice(what: string, detail: Record<string, unknown>): void {
    this.o.onNotice?.(what, detail);
  }

  private emit(i: number): void {
    const v = this.venue;
    v.advance(i);
    const sid = v.tape.streamOf[i]!;
    if (sid < 0) return;
    const set = this.bySid[sid]!;
    if (set.size === 0) return;
    const name = v.tape.streams[sid]!;
    for (const c of set) c.deliver(name, v.frame(c.session, i));
  }

  private restart(): void {
    this.counters.loops++;
    this.notice("replay loops: venue restarts", { loops: this.counters.loops });
    // the tape's ids start over: a venue restart, so clients reconnect and resync
    this.venue.reset();
    this.disconnectAll(1012, "service restart");
  }

  private blocked(): boolean {
    for (const c of this.conns) {
      if (c.open && !c.injector.stalled && c.subs.size > 0 && c.ws.getBufferedAmount() > this.highWater) return true;
    }
    return false;
  }

  private planFor(id: number, url: string): FaultPlan | undefined {
    const f = this.faults;
    return typeof f === "function" ? f({ id, url }) : f;
  }

  private onOpen(ws: ServerWebSocket<WsData>): void {
    const id = this.counters.connections++;
    const plan = this.planFor(id, ws.data.url);
    const c = new SimConnection(id, ws, ws.data.session, new FaultInjector(plan, id, () => this.venue.errorFrame()), this);
    ws.data.conn = c;
    this.conns.push(c);
    c.subscribe(ws.data.streams);
    if (plan?.disconnect?.afterMs !== undefined) {
      c.timers.push(setTimeout(() => {
        if (!c.open) return;
        c.injector.countDisconnect();
        this.faultDisconnect(c);
      }, plan.disconnect.afterMs));
    }
    if (plan?.stall?.afterMs !== undefined) c.timers.push(setTimeout(() => c.injector.stallNow(), plan.stall.afterMs));
    this.notice("connection opened", { conn: id, url: ws.data.url });
  }

  private onMessage(ws: ServerWebSocket<WsData>, msg: string | Buffer): void {
    const c = ws.data.conn;
    if (!c || !c.open) return;
    this.counters.controlMessages++;
    if (!c.admit(this.inboundLimit)) {
      this.counters.rateLimited++;
      this.notice("inbound message limit exceeded: disconnecting", { conn: c.id, limitPerSecond: this.inboundLimit });
      c.close(1008, "too many messages");
      return;
    }
    this.venue.onMessage(c.session, typeof msg === "string" ? msg : msg.toString("utf8"), c);
  }

  private onPong(ws: ServerWebSocket<WsData>, data: Buffer): void {
    const c = ws.data.conn;
    if (!c) return;
    this.counters.pongs++;
    if (this.venue.ping.echoRequired && data.toString("utf8") !== c.pingPayload) {
      this.counters.unsolicitedPongs++;
      return;
    }
    c.awaitingSince = 0;
  }

  private onClose(ws: ServerWebSocket<WsData>, code: number): void {
    const c = ws.data.conn;
    if (!c) return;
    this.counters.closed++;
    c.closeCode = code;
    for (const n of c.subs) this.index(c, n, false);
    c.dispose();
    this.notice("connection closed", { conn: c.id, code });
  }

  /** Heartbeats: pings at the venue's interval, disconnect without a pong in time, 24 h limit. */
  private beat(): void {
    const now = performance.now();
    for (const c of this.conns) {
      if (!c.open || c.injector.stalled) continue;
      if (now - c.openedAt > this.maxConnMs) {
        this.counters.expired++;
        c.close(1000, "connection lifetime reached");
        continue;
      }
      if (c.awaitingSince > 0 && now - c.awaitingSince > this.pongTimeoutMs) {
        this.counters.pongTimeouts++;
        this.notice("no pong in time: disconnecting", { conn: c.id, timeoutMs: this.pongTimeoutMs });
        c.ws.terminate();
        c.dispose();
        continue;
      }
      if (now - c.lastPingAt >= this.pingIntervalMs) {
        c.lastPingAt = now;
        c.pingPayload = String(++this.pingSeq);
        if (c.awaitingSince === 0) c.awaitingSince = now;
        this.counters.pings++;
        c.ws.ping(c.pingPayload);
      }
    }
  }
}

/** Starts a venue simulator on 127.0.0.1. */
export function startVenueSim<S>(opts: VenueSimOptions<S>): VenueSim<S> {
  return new VenueSimImpl(opts as VenueSimOptions<unknown>) as unknown as VenueSim<S>;
}
