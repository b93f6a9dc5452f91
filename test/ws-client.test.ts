/**
 * WsClient and its parts against servers on 127.0.0.1 that the tests start:
 *  - the frame reader fed hand-built server frames whole, split at every offset, byte by byte and
 *    in random chunks (fragmentation with pings between fragments, 7/16/64-bit lengths), and
 *    every frame it must refuse; the frame writer's frames decoded and unmasked;
 *  - a Bun.serve WebSocket server: text + binary both ways, messages > 64 KiB, ping/pong, server
 *    close and reconnect, 100 000 small messages in order, backpressure, the close handshake, wss;
 *  - a raw Bun.listen server writing hand-built frames: byte by byte and split at every offset
 *    over a real socket, bad opcodes, masked frames, refused handshakes (403, wrong accept key),
 *    an oversize message, a half-written frame then silence (stall), dropped connections
 *    (backoff, onOpen re-run), heartbeats — stalls, backoff and heartbeats on a manual clock.
 * Every wait is bounded (`until` throws after its timeout); nothing asserts on speed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FullJitterBackoff, type Timers } from "../src/net/backoff.ts";
import { WsClient, type WsClientOptions } from "../src/net/ws-client.ts";
import {
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_BIG,
  MaskKeys,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  WsFrameReader,
  WsFrameWriter,
  checkUpgradeResponse,
  upgradeRequest,
  wsAccept,
} from "../src/net/ws-frame.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await Bun.sleep(1);
  }
}

function bytesOf(p: Uint8Array | string): Uint8Array {
  return typeof p === "string" ? enc.encode(p) : p;
}

/** A server frame; options produce the malformed ones. */
function frame(op: number, payload: Uint8Array | string = new Uint8Array(0), o: { fin?: boolean; mask?: boolean; rsv?: number; len64?: boolean; len16?: boolean } = {}): Uint8Array {
  const p = bytesOf(payload);
  const len = p.length;
  const head: number[] = [((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | op];
  const m = o.mask ? 0x80 : 0;
  if (o.len64 || len > 65535) {
    head.push(m | 127, 0, 0, 0, 0, (len >>> 24) & 255, (len >>> 16) & 255, (len >>> 8) & 255, len & 255);
  } else if (o.len16 || len > 125) {
    head.push(m | 126, len >>> 8, len & 255);
  } else head.push(m | len);
  const key = [0x12, 0x34, 0x56, 0x78];
  if (o.mask) head.push(...key);
  const out = new Uint8Array(head.length + len);
  out.set(head);
  for (let i = 0; i < len; i++) out[head.length + i] = o.mask ? p[i]! ^ key[i & 3]! : p[i]!;
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function pattern(n: number, seed = 0): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 31 + seed * 7 + (i >>> 8)) & 255;
  return a;
}

interface ClientFrame {
  op: number;
  fin: boolean;
  masked: boolean;
  mask: number;
  payload: Uint8Array;
}

/** Decodes (and unmasks) client frames from buf; returns the frames and the bytes consumed. */
function decodeClientFrames(buf: Uint8Array): { frames: ClientFrame[]; used: number } {
  const frames: ClientFrame[] = [];
  let p = 0;
  for (;;) {
    if (buf.length - p < 2) break;
    const b0 = buf[p]!, b1 = buf[p + 1]!;
    let len = b1 & 0x7f, h = 2;
    if (len === 126) {
      if (buf.length - p < 4) break;
      len = (buf[p + 2]! << 8) | buf[p + 3]!;
      h = 4;
    } else if (len === 127) {
      if (buf.length - p < 10) break;
      len = 0;
      for (let i = 2; i < 10; i++) len = len * 256 + buf[p + i]!;
      h = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    const mh = masked ? 4 : 0;
    if (buf.length - p < h + mh + len) break;
    const key = buf.subarray(p + h, p + h + mh);
    const payload = new Uint8Array(len);
    for (let i = 0; i < len; i++) payload[i] = buf[p + h + mh + i]! ^ (masked ? key[i & 3]! : 0);
    frames.push({ op: b0 & 15, fin: (b0 & 0x80) !== 0, masked, mask: masked ? ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0 : 0, payload });
    p += h + mh + len;
  }
  return { frames, used: p };
}

function closeCode(f: ClientFrame): number {
  return f.payload.length >= 2 ? (f.payload[0]! << 8) | f.payload[1]! : 1005;
}

/** A clock and one-shot timers that move only when the test says so. */
class ManualTimers implements Timers {
  t = 0;
  private seq = 0;
  private q: Array<{ at: number; seq: number; fn: () => void }> = [];
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const h = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.q.push(h);
    return h;
  }
  clearTimeout(h: unknown): void {
    this.q = this.q.filter((x) => x !== h);
  }
  get pending(): number {
    return this.q.length;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: (typeof this.q)[number] | null = null;
      for (const h of this.q) if (h.at <= end && (next === null || h.at < next.at || (h.at === next.at && h.seq < next.seq))) next = h;
      if (next === null) break;
      this.q = this.q.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

/** What a test client saw: messages copied out of the reusable buffer. */
function recorder() {
  const got: Array<{ text: boolean; bytes: Uint8Array }> = [];
  let opens = 0;
  const closes: string[] = [];
  return {
    got,
    closes,
    get opens() {
      return opens;
    },
    texts: () => got.map((m) => (m.text ? dec.decode(m.bytes) : `<bin ${m.bytes.length}>`)),
    onMessage: (buf: Uint8Array, start: number, end: number, isText: boolean) => {
      got.push({ text: isText, bytes: buf.slice(start, end) });
    },
    onOpen: () => {
      opens++;
    },
    onClose: (reason: string) => {
      closes.push(reason);
    },
  };
}

const clients: WsClient[] = [];
function client(o: WsClientOptions): WsClient {
  const c = new WsClient({ connectTimeoutMs: 3000, closeTimeoutMs: 500, backoff: { baseMs: 2, capMs: 10 }, ...o });
  clients.push(c);
  c.start();
  return c;
}
afterAll(async () => {
  for (const c of clients) await c.close();
});

// ---------------------------------------------------------------------------------------------
// raw TCP server speaking hand-built frames

interface RawConn {
  index: number;
  key: string;
  request: string;
  frames: ClientFrame[];
  closed: boolean;
  bytesIn: number;
  /** do not answer the client's close frame */
  ignoreClose: boolean;
  write(b: Uint8Array | string): void;
  end(): void;
}

interface RawState {
  conn: RawConn | null;
  rx: Uint8Array;
  out: Uint8Array[];
}

function acceptHead(key: string): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${wsAccept(key)}\r\n\r\n`;
}

function rawServer(onUpgrade: (c: RawConn) => void) {
  const conns: RawConn[] = [];
  const flush = (s: Socket<RawState>) => {
    const q = s.data.out;
    while (q.length > 0) {
      const n = s.write(q[0]!);
      if (n < 0) return;
      if (n < q[0]!.length) {
        q[0] = q[0]!.subarray(n);
        return;
      }
      q.shift();
    }
  };
  const server = Bun.listen<RawState>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { conn: null, rx: new Uint8Array(0), out: [] };
        s.setNoDelay(true);
      },
      data(s, d) {
        const st = s.data;
        st.rx = concat(st.rx, d);
        if (st.conn === null) {
          const text = new TextDecoder("latin1").decode(st.rx);
          const end = text.indexOf("\r\n\r\n");
          if (end < 0) return;
          const key = /sec-websocket-key:\s*(\S+)/i.exec(text)?.[1] ?? "";
          const conn: RawConn = {
            index: conns.length,
            key,
            request: text.slice(0, end + 4),
            frames: [],
            closed: false,
            bytesIn: 0,
            ignoreClose: false,
            write(b) {
              st.out.push(bytesOf(b));
              flush(s);
            },
            end() {
              s.end();
            },
          };
          st.conn = conn;
          conns.push(conn);
          st.rx = st.rx.subarray(end + 4);
          onUpgrade(conn);
        }
        st.conn.bytesIn += d.length;
        const { frames, used } = decodeClientFrames(st.rx);
        st.conn.frames.push(...frames);
        st.rx = st.rx.subarray(used);
        // answer the client's close like a server does (unless the test wants silence)
        if (!st.conn.ignoreClose && frames.some((f) => f.op === OP_CLOSE)) {
          st.conn.write(frame(OP_CLOSE, new Uint8Array([0x03, 0xe8])));
          s.end();
        }
      },
      drain(s) {
        flush(s);
      },
      close(s) {
        if (s.data.conn) s.data.conn.closed = true;
      },
    },
  });
  return { port: server.port, conns, stop: () => server.stop(true) };
}

// ---------------------------------------------------------------------------------------------

describe("handshake", () => {
  test("Sec-WebSocket-Accept matches RFC 6455's worked example", () => {
    expect(wsAccept("dGhlIHNhbXBsZSBub25jZQ==")).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  test("request carries host, path, query, key, version and extra headers", () => {
    const r = upgradeRequest(new URL("wss://stream.example.com/ws/a?streams=x/y"), "KEY", { "X-Api": "1" });
    expect(r.startsWith("GET /ws/a?streams=x/y HTTP/1.1\r\nHost: stream.example.com\r\n")).toBe(true);
    expect(r).toContain("Sec-WebSocket-Key: KEY\r\n");
    expect(r).toContain("Sec-WebSocket-Version: 13\r\n");
    expect(r).toContain("X-Api: 1\r\n");
    expect(r.endsWith("\r\n\r\n")).toBe(true);
    expect(upgradeRequest(new URL("ws://127.0.0.1:9001"), "K")).toContain("Host: 127.0.0.1:9001\r\n");
    expect(() => upgradeRequest(new URL("ws://h/"), "K", { "X-Bad": "a\r\nInjected: 1" })).toThrow(/line break/);
  });

  test("response checks: status, Upgrade, Connection, accept key, no extensions", () => {
    const key = "dGhlIHNhbXBsZSBub25jZQ==";
    const ok = acceptHead(key).slice(0, -4);
    expect(checkUpgradeResponse(ok, key)).toBeNull();
    expect(checkUpgradeResponse(ok.replace("Connection: Upgrade", "Connection: keep-alive, Upgrade"), key)).toBeNull();
    expect(checkUpgradeResponse("HTTP/1.1 403 Forbidden\r\nContent-Length: 0", key)).toContain("HTTP/1.1 403 Forbidden");
    expect(checkUpgradeResponse(ok.replace("Upgrade: websocket", "Upgrade: h2c"), key)).toContain("Upgrade: websocket");
    expect(checkUpgradeResponse(ok.replace("Connection: Upgrade", "Connection: close"), key)).toContain("Connection: Upgrade");
    expect(checkUpgradeResponse(ok, "AAAAAAAAAAAAAAAAAAAAAA==")).toContain("wrong Sec-WebSocket-Accept");
    expect(checkUpgradeResponse(ok + "\r\nSec-WebSocket-Extensions: permessage-deflate", key)).toContain("extensions");
  });
});

describe("WsFrameReader", () => {
  function sink() {
    const events: string[] = [];
    const bufs = new Set<Uint8Array>();
    return {
      events,
      bufs,
      message(buf: Uint8Array, s: number, e: number, text: boolean) {
        bufs.add(buf);
        events.push(text ? `T:${dec.decode(buf.subarray(s, e))}` : `B:${e - s}:${Bun.hash(buf.subarray(s, e))}`);
      },
      control(op: number, buf: Uint8Array, s: number, e: number) {
        events.push(`C${op}:${dec.decode(buf.subarray(s, e))}`);
      },
    };
  }

  const big = pattern(70_000, 1);
  const mid = pattern(300, 2);
  const stream = concat(
    frame(OP_TEXT, "hello"),
    frame(OP_BINARY, mid),
    frame(OP_TEXT, "frag-", { fin: false }),
    frame(OP_PING, "p1"),
    frame(OP_CONTINUATION, "men", { fin: false }),
    frame(OP_CONTINUATION, "", { fin: false }),
    frame(OP_CONTINUATION, "ted", { fin: true }),
    frame(OP_BINARY, pattern(40, 3), { len64: true }),
    frame(OP_TEXT, ""),
    frame(OP_PONG, "q"),
    frame(OP_BINARY, big),
    frame(OP_CLOSE, concat(new Uint8Array([0x03, 0xe8]), enc.encode("bye"))),
  );
  const expected = [
    "T:hello",
    `B:300:${Bun.hash(mid)}`,
    "C9:p1",
    "T:frag-mented",
    `B:40:${Bun.hash(pattern(40, 3))}`,
    "T:",
    "C10:q",
    `B:70000:${Bun.hash(big)}`,
    "C8:\u0003\u00e8bye".replace("\u00e8", "\ufffd"),
  ];

  test("a stream of frames in one read: 7/16/64-bit lengths, fragments around a ping, empty messages", () => {
    const s = sink();
    const r = new WsFrameReader(s);
    expect(r.push(stream)).toBe(0);
    expect(s.events).toEqual(expected);
    expect(r.pending).toBe(0);
  });

  test("split at every offset into two reads gives the same events", () => {
    // everything before the 70 000-byte frame (10-byte header) and the close frame (7 bytes)
    const small = stream.subarray(0, stream.length - (big.length + 10) - 7);
    const s0 = sink();
    new WsFrameReader(s0).push(small);
    expect(s0.events).toEqual(expected.slice(0, 7));
    for (let k = 1; k < small.length; k++) {
      const s = sink();
      const r = new WsFrameReader(s);
      expect(r.push(small.subarray(0, k))).toBe(0);
      expect(r.push(small.subarray(k))).toBe(0);
      expect(s.events).toEqual(s0.events);
      expect(r.pending).toBe(0);
    }
  });

  test("byte by byte, and in random chunks through a small buffer that must grow", () => {
    const s = sink();
    const r = new WsFrameReader(s);
    for (let i = 0; i < stream.length; i++) expect(r.push(stream.subarray(i, i + 1))).toBe(0);
    expect(s.events).toEqual(expected);

    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let rep = 0; rep < 20; rep++) {
      const s2 = sink();
      const r2 = new WsFrameReader(s2, 1 << 20, 4096);
      const a0 = r2.address;
      for (let at = 0; at < stream.length; ) {
        const n = 1 + Math.floor(rnd() * 9000);
        expect(r2.push(stream.subarray(at, at + n))).toBe(0);
        at += n;
      }
      expect(s2.events).toEqual(expected);
      expect(r2.address).not.toBe(a0); // grew for the 70 000-byte message
    }
  });

  test("property: random messages, random fragmentation and control frames, random reads", () => {
    let seed = 99;
    const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let rep = 0; rep < 30; rep++) {
      const parts: Uint8Array[] = [];
      const want: string[] = [];
      for (let m = 0; m < 40; m++) {
        const len = rnd() < 0.1 ? Math.floor(rnd() * 200_000) : Math.floor(rnd() * 600);
        const text = rnd() < 0.5;
        const body = text ? enc.encode("x".repeat(len)) : pattern(len, m);
        const pieces = 1 + Math.floor(rnd() * 4);
        let at = 0;
        for (let k = 0; k < pieces; k++) {
          const to = k === pieces - 1 ? len : Math.min(len, at + Math.floor(rnd() * (len - at + 1)));
          parts.push(frame(k === 0 ? (text ? OP_TEXT : OP_BINARY) : OP_CONTINUATION, body.subarray(at, to), { fin: k === pieces - 1 }));
          at = to;
          if (rnd() < 0.2 && k < pieces - 1) {
            parts.push(frame(OP_PING, `c${m}`));
            want.push(`C9:c${m}`);
          }
        }
        want.push(text ? `T:${"x".repeat(len)}` : `B:${len}:${Bun.hash(body)}`);
      }
      const all = concat(...parts);
      const s = sink();
      const r = new WsFrameReader(s, 1 << 20, 4096);
      for (let at = 0; at < all.length; ) {
        const n = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 50 : 70_000));
        expect(r.push(all.subarray(at, at + n))).toBe(0);
        at += n;
      }
      expect(s.events).toEqual(want);
      expect(r.pending).toBe(0);
    }
  });

  test("messages are views into one reusable buffer", () => {
    const s = sink();
    const r = new WsFrameReader(s);
    for (let i = 0; i < 100; i++) r.push(concat(frame(OP_TEXT, `m${i}`), frame(OP_BINARY, pattern(i))));
    expect(s.events.length).toBe(200);
    expect(s.bufs.size).toBe(1);
    expect([...s.bufs][0]).toBe(r.bytes);
  });

  const refused: Array<[string, Uint8Array, number, RegExp]> = [
    ["masked server frame", frame(OP_TEXT, "hi", { mask: true }), CLOSE_PROTOCOL_ERROR, /masked/],
    ["RSV1 set", frame(OP_TEXT, "hi", { rsv: 4 }), CLOSE_PROTOCOL_ERROR, /reserved bits/],
    ["RSV3 set", frame(OP_BINARY, "hi", { rsv: 1 }), CLOSE_PROTOCOL_ERROR, /reserved bits/],
    ["opcode 3", frame(3, "hi"), CLOSE_PROTOCOL_ERROR, /reserved opcode 0x3/],
    ["opcode 0xB", frame(0xb, "hi"), CLOSE_PROTOCOL_ERROR, /reserved opcode 0xb/],
    ["fragmented ping", frame(OP_PING, "hi", { fin: false }), CLOSE_PROTOCOL_ERROR, /fragmented control/],
    ["126-byte ping", frame(OP_PING, pattern(126)), CLOSE_PROTOCOL_ERROR, /control frame of 126/],
    ["continuation first", frame(OP_CONTINUATION, "hi"), CLOSE_PROTOCOL_ERROR, /no message open/],
    ["text inside fragments", concat(frame(OP_TEXT, "a", { fin: false }), frame(OP_TEXT, "b")), CLOSE_PROTOCOL_ERROR, /while a fragmented/],
    ["1-byte close", frame(OP_CLOSE, new Uint8Array([3])), CLOSE_PROTOCOL_ERROR, /1-byte/],
    ["64-bit top bit", new Uint8Array([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]), CLOSE_PROTOCOL_ERROR, /top bit/],
    ["64-bit length of 2^32", new Uint8Array([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0]), CLOSE_TOO_BIG, /4294967296 bytes exceeds/],
    ["64-bit length of 2^31", new Uint8Array([0x82, 127, 0, 0, 0, 0, 0x80, 0, 0, 0]), CLOSE_TOO_BIG, /2147483648 bytes exceeds/],
    ["oversize (header only)", frame(OP_BINARY, pattern(2000)).subarray(0, 4), CLOSE_TOO_BIG, /2000 bytes exceeds the limit of 1000/],
    ["oversize by fragments", concat(frame(OP_TEXT, pattern(600), { fin: false }), frame(OP_CONTINUATION, pattern(600))), CLOSE_TOO_BIG, /1200 bytes/],
  ];
  for (const [name, bytes, code, why] of refused) {
    test(`refuses: ${name}`, () => {
      const s = sink();
      const r = new WsFrameReader(s, 1000);
      expect(r.push(concat(frame(OP_TEXT, "ok"), bytes))).toBe(code);
      expect(r.fault).toMatch(why);
      expect(s.events).toEqual(["T:ok"]);
      r.reset();
      expect(r.push(frame(OP_TEXT, "again"))).toBe(0);
      expect(s.events).toEqual(["T:ok", "T:again"]);
    });
  }

  test("a callback that resets the reader stops the parse", () => {
    let r!: WsFrameReader;
    const seen: string[] = [];
    r = new WsFrameReader({
      message(buf, s, e) {
        seen.push(dec.decode(buf.subarray(s, e)));
        if (seen.length === 2) r.reset();
      },
      control() {},
    });
    expect(r.push(concat(frame(OP_TEXT, "a"), frame(OP_TEXT, "b"), frame(OP_TEXT, "c")))).toBe(0);
    expect(seen).toEqual(["a", "b"]);
    expect(r.pending).toBe(0);
  });
});

describe("WsFrameWriter", () => {
  test("frames decode to their payloads at every length class, masked with fresh keys", () => {
    const w = new WsFrameWriter(256);
    const masks = new Set<number>();
    for (const len of [0, 1, 3, 4, 5, 125, 126, 127, 1000, 65535, 65536, 200_001]) {
      const p = pattern(len, len);
      const n = w.bytes(OP_BINARY, p);
      const { frames, used } = decodeClientFrames(w.buf.subarray(w.start, w.start + n));
      expect(used).toBe(n);
      expect(frames.length).toBe(1);
      expect(frames[0]!.masked).toBe(true);
      expect(frames[0]!.fin).toBe(true);
      expect(frames[0]!.op).toBe(OP_BINARY);
      expect(Bun.hash(frames[0]!.payload)).toBe(Bun.hash(p));
      masks.add(frames[0]!.mask);
    }
    expect(masks.size).toBe(12);
    const s = "ping ü € 𝄞 " + "y".repeat(300);
    const n = w.text(s);
    const f = decodeClientFrames(w.buf.subarray(w.start, w.start + n)).frames[0]!;
    expect(f.op).toBe(OP_TEXT);
    expect(dec.decode(f.payload)).toBe(s);
    // a sub-range of a larger array
    const big = pattern(500);
    const m = w.bytes(OP_BINARY, big, 100, 250);
    expect(decodeClientFrames(w.buf.subarray(w.start, w.start + m)).frames[0]!.payload).toEqual(big.slice(100, 250));
  });

  test("control and close frames", () => {
    const w = new WsFrameWriter();
    const src = pattern(300);
    const n = w.control(OP_PONG, src, 10, 135);
    const f = decodeClientFrames(w.ctl.subarray(w.ctlStart, w.ctlStart + n)).frames[0]!;
    expect(f.op).toBe(OP_PONG);
    expect(f.payload).toEqual(src.slice(10, 135));
    expect(() => w.control(OP_PING, src, 0, 126)).toThrow(/125/);
    const c = w.close(4001, "é".repeat(100));
    const cf = decodeClientFrames(w.ctl.subarray(w.ctlStart, w.ctlStart + c)).frames[0]!;
    expect(cf.op).toBe(OP_CLOSE);
    expect(closeCode(cf)).toBe(4001);
    expect(cf.payload.length).toBeLessThanOrEqual(125);
    expect(dec.decode(cf.payload.subarray(2))).toBe("é".repeat(41));
  });

  test("mask keys: a seeded generator is deterministic, a fresh one is not constant", () => {
    const a = new MaskKeys(new Uint32Array([1, 2, 3, 4])), b = new MaskKeys(new Uint32Array([1, 2, 3, 4]));
    const xs = Array.from({ length: 8 }, () => a.next());
    expect(Array.from({ length: 8 }, () => b.next())).toEqual(xs);
    expect(new Set(xs).size).toBe(8);
    const r = new MaskKeys();
    expect(new Set(Array.from({ length: 64 }, () => r.next())).size).toBeGreaterThan(60);
  });
});

describe("FullJitterBackoff", () => {
  test("ceiling doubles from base to cap; delays are uniform below it", () => {
    const b = new FullJitterBackoff({ baseMs: 100, capMs: 1000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5, 6].map(() => b.next())).toEqual([99, 199, 399, 799, 999, 999]);
    const z = new FullJitterBackoff({ baseMs: 100, capMs: 1000, random: () => 0 });
    expect(z.next()).toBe(0);
    expect(() => new FullJitterBackoff({ baseMs: 10, capMs: 5 })).toThrow(RangeError);
  });

  test("a connection up for stableMs resets the exponent; a short one does not", () => {
    const b = new FullJitterBackoff({ baseMs: 100, capMs: 10_000, stableMs: 1000, random: () => 0.5 });
    b.next();
    b.next();
    b.next();
    b.up(0);
    b.down(999);
    expect(b.attempt).toBe(3);
    expect(b.next()).toBe(400);
    b.up(2000);
    b.down(3000);
    expect(b.attempt).toBe(0);
    expect(b.next()).toBe(50);
  });
});

// ---------------------------------------------------------------------------------------------

describe("WsClient against Bun.serve", () => {
  const serverSeen: { texts: string[]; closes: Array<[number, string]>; pongs: string[]; opens: number } = { texts: [], closes: [], pongs: [], opens: 0 };
  let srv: ReturnType<typeof Bun.serve<{ path: string }>>;
  const closeOnce = { done: false };
  beforeAll(() => {
    srv = Bun.serve<{ path: string }>({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, s) {
        return s.upgrade(req, { data: { path: new URL(req.url).pathname } }) ? undefined : new Response("no", { status: 400 });
      },
      websocket: {
        maxPayloadLength: 64 << 20,
        open(ws) {
          serverSeen.opens++;
          const p = ws.data.path;
          if (p === "/push") {
            ws.send("hello");
            ws.send(pattern(1000, 5));
            ws.send("é".repeat(100_000));
            ws.send(pattern(1 << 20, 6));
          } else if (p === "/close-once") {
            if (!closeOnce.done) {
              closeOnce.done = true;
              ws.close(4001, "bye");
            } else ws.send("second");
          } else if (p === "/ping") {
            ws.ping("are you there");
          }
        },
        message(ws, m) {
          const p = ws.data.path;
          if (typeof m === "string") serverSeen.texts.push(m);
          if (p === "/echo") ws.send(m);
          else if (p === "/sum" && typeof m !== "string") ws.send(`${m.length}:${Bun.hash(m)}`);
          else if (p === "/flood" && typeof m === "string") {
            const n = Number(m);
            for (let i = 0; i < n; i += 1000) {
              ws.cork(() => {
                for (let k = i; k < Math.min(n, i + 1000); k++) ws.send(String(k));
              });
            }
          }
        },
        pong(_ws, d) {
          serverSeen.pongs.push(d.toString());
        },
        close(_ws, code, reason) {
          serverSeen.closes.push([code, reason]);
        },
      },
    });
  });
  afterAll(() => srv.stop(true));
  const url = (p: string) => `ws://127.0.0.1:${srv.port}${p}`;

  test("text and binary both ways, onOpen sends, echo comes back", async () => {
    const r = recorder();
    const c = client({
      url: url("/echo"),
      ...r,
      onOpen: (cl) => {
        r.onOpen();
        expect(cl.send("sub:btcusdt")).toBe(0);
        expect(cl.send(pattern(20, 9))).toBe(0);
      },
    });
    await until(() => r.got.length === 2, "two echoes");
    expect(r.texts()).toEqual(["sub:btcusdt", "<bin 20>"]);
    expect(r.got[1]!.bytes).toEqual(pattern(20, 9));
    expect(r.opens).toBe(1);
    expect(c.counters.connects).toBe(1);
    expect(c.counters.messages).toBe(2);
    expect(c.counters.bytesIn).toBeGreaterThan(0);
    await c.close();
    expect(c.status).toBe("stopped");
    expect(c.send("late")).toBe(-1);
  });

  test("cork: frames sent meanwhile are held, in order, and uncork writes them with one socket write", async () => {
    const r = recorder();
    let opened!: WsClient;
    const c = client({ url: url("/echo"), ...r, onOpen: (cl) => void (opened = cl) });
    await until(() => opened !== undefined, "open");
    const before = c.counters.bytesOut;
    const writes0 = c.counters.writes;
    c.cork();
    expect(c.send("cork-a")).toBe(0);
    expect(c.sendText(enc.encode("cork-b"))).toBe(0);
    expect(c.send(pattern(5000, 3))).toBe(0); // grows the hold buffer past its first 4 KiB
    expect(c.send("cork-c")).toBe(0);
    // nothing reached the socket yet
    expect(c.counters.bytesOut).toBe(before);
    expect(c.counters.writes).toBe(writes0);
    expect(c.uncork()).toBe(0);
    expect(c.counters.writes).toBe(writes0 + 1);
    const held = c.counters.bytesOut - before;
    expect(held).toBe(2 * (6 + 6) + (5000 + 8) + (6 + 6));
    await until(() => r.got.length === 4, "four echoes");
    expect(r.texts()).toEqual(["cork-a", "cork-b", "<bin 5000>", "cork-c"]);
    expect(r.got[2]!.bytes).toEqual(pattern(5000, 3));
    // uncorked: sends go straight out again; an empty cork writes nothing
    expect(c.send("after")).toBe(0);
    expect(c.counters.bytesOut).toBe(before + held + 6 + 5);
    c.cork();
    expect(c.uncork()).toBe(0);
    expect(c.counters.bytesOut).toBe(before + held + 11);
    expect(c.counters.writes).toBe(writes0 + 2);
    await until(() => r.got.length === 5, "fifth echo");
    await c.close();
  });

  test("large messages (> 64 KiB) from the server, and a 300 KiB binary send", async () => {
    const r = recorder();
    const c = client({ url: url("/push"), ...r });
    await until(() => r.got.length === 4, "four pushed messages");
    expect(r.got[0]!.text && dec.decode(r.got[0]!.bytes)).toBe("hello");
    expect(r.got[1]!.bytes).toEqual(pattern(1000, 5));
    expect(r.got[2]!.text).toBe(true);
    expect(dec.decode(r.got[2]!.bytes)).toBe("é".repeat(100_000));
    expect(r.got[3]!.text).toBe(false);
    expect(Bun.hash(r.got[3]!.bytes)).toBe(Bun.hash(pattern(1 << 20, 6)));
    await c.close();

    const r2 = recorder();
    const payload = pattern(300 * 1024, 11);
    const c2 = client({ url: url("/sum"), ...r2, onOpen: (cl) => void cl.send(payload) });
    await until(() => r2.got.length === 1, "sum of the 300 KiB send");
    expect(dec.decode(r2.got[0]!.bytes)).toBe(`${payload.length}:${Bun.hash(payload)}`);
    await c2.close();
  });

  test("server ping is answered with a pong echoing its payload; our ping gets a pong", async () => {
    const r = recorder();
    const pongs: string[] = [];
    const c = client({ url: url("/ping"), ...r, onPong: (b, s, e) => pongs.push(dec.decode(b.subarray(s, e))) });
    await until(() => serverSeen.pongs.includes("are you there"), "pong at the server");
    expect(c.counters.pingsIn).toBe(1);
    expect(c.counters.pongsOut).toBe(1);
    expect(c.sendPing(enc.encode("p-123"))).toBe(0);
    await until(() => c.counters.pongsIn === 1, "pong from the server");
    expect(pongs).toEqual(["p-123"]);
    expect(c.counters.pingsOut).toBe(1);
    await c.close();
  });

  test("server close: code and reason recorded, close echoed, reconnect re-runs onOpen", async () => {
    const r = recorder();
    const c = client({ url: url("/close-once"), ...r });
    await until(() => r.got.length === 1, "message on the second connection");
    expect(r.texts()).toEqual(["second"]);
    expect(r.opens).toBe(2);
    expect(c.counters.serverCloses).toBe(1);
    expect(c.counters.reconnects).toBe(1);
    expect(r.closes[0]).toContain("server closed (4001 bye)");
    expect(serverSeen.closes).toContainEqual([4001, "bye"]);
    await c.close();
  });

  test("100 000 small messages sent fast arrive complete and in order", async () => {
    const N = 100_000;
    let next = 0, bad = 0;
    const c = client({
      url: url("/flood"),
      onOpen: (cl) => void cl.send(String(N)),
      onMessage: (buf, s, e) => {
        let v = 0;
        for (let i = s; i < e; i++) v = v * 10 + buf[i]! - 48;
        if (v !== next) bad++;
        next++;
      },
    });
    await until(() => next === N, `${N} messages (got ${next})`, 30_000);
    expect(bad).toBe(0);
    expect(c.counters.messages).toBe(N);
    await c.close();
  });

  test("backpressure: a 32 MiB send is queued, reported, and flushed in order", async () => {
    const r = recorder();
    const payload = pattern(32 << 20, 3);
    let ret = 0;
    const c = client({
      url: url("/sum"),
      ...r,
      maxBufferedBytes: 64 << 20,
      onOpen: (cl) => {
        ret = cl.send(payload);
        cl.send(pattern(10, 1));
      },
    });
    await until(() => r.got.length === 2, "both sums", 20_000);
    expect(ret).toBeGreaterThan(0);
    expect(c.counters.backpressured).toBeGreaterThanOrEqual(1);
    expect(r.texts()).toEqual([`${payload.length}:${Bun.hash(payload)}`, `10:${Bun.hash(pattern(10, 1))}`]);
    expect(c.bufferedAmount).toBe(0);
    await c.close();
  });

  test("close(): the server sees our close frame; no reconnect afterwards", async () => {
    const r = recorder();
    const c = client({ url: url("/echo"), ...r });
    await until(() => c.isOpen, "open");
    const before = serverSeen.opens;
    await c.close(1000, "done");
    expect(c.status).toBe("stopped");
    await until(() => serverSeen.closes.some(([code, why]) => code === 1000 && why === "done"), "server close handler");
    await Bun.sleep(30);
    expect(serverSeen.opens).toBe(before);
    expect(r.closes).toEqual(["closed"]);
    expect(c.lastError).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------

describe("WsClient against hand-built frames", () => {
  const servers: Array<{ stop(): void }> = [];
  afterAll(() => {
    for (const s of servers) s.stop();
  });
  function raw(onUpgrade: (c: RawConn) => void) {
    const s = rawServer(onUpgrade);
    servers.push(s);
    return s;
  }

  test("frames written byte by byte, and split at every offset, over a real socket", async () => {
    const blob = concat(
      frame(OP_TEXT, "abc"),
      frame(OP_BINARY, pattern(300, 4)),
      frame(OP_TEXT, "frag-", { fin: false }),
      frame(OP_PING, "p1"),
      frame(OP_CONTINUATION, "ment"),
      frame(OP_BINARY, pattern(20, 8), { len64: true }),
    );
    const one = ["abc", "<bin 300>", "frag-ment", "<bin 20>"];
    const s = raw((c) => c.write(acceptHead(c.key)));
    const r = recorder();
    const c = client({ url: `ws://127.0.0.1:${s.port}/`, ...r });
    await until(() => c.isOpen, "open");
    const conn = s.conns[0]!;
    let sent = c.counters.bytesIn;
    for (let i = 0; i < blob.length; i++) {
      conn.write(blob.subarray(i, i + 1));
      sent++;
      await until(() => c.counters.bytesIn === sent, `byte ${i}`);
    }
    expect(r.texts()).toEqual(one);
    for (let k = 1; k < blob.length; k++) {
      conn.write(blob.subarray(0, k));
      await until(() => c.counters.bytesIn === sent + k, `first part at ${k}`);
      conn.write(blob.subarray(k));
      sent += blob.length;
      await until(() => r.got.length === 4 * (k + 1), `messages after split ${k}`);
    }
    const texts = r.texts();
    for (let k = 0; k < blob.length; k++) expect(texts.slice(4 * k, 4 * k + 4)).toEqual(one);
    expect(r.got.filter((m) => !m.text && m.bytes.length === 300).every((m) => Bun.hash(m.bytes) === Bun.hash(pattern(300, 4)))).toBe(true);
    await until(() => conn.frames.filter((f) => f.op === OP_PONG).length === blob.length, "a pong per ping");
    expect(conn.frames.every((f) => f.masked)).toBe(true);
    expect(conn.frames.every((f) => f.op !== OP_PONG || dec.decode(f.payload) === "p1")).toBe(true);
    expect(c.counters.protocolErrors).toBe(0);
    await c.close();
  });

  test("frames in the same read as the 101 response are delivered after onOpen", async () => {
    const s = raw((c) => c.write(concat(enc.encode(acceptHead(c.key)), frame(OP_TEXT, "early"), frame(OP_BINARY, pattern(5)))));
    const order: string[] = [];
    const c = client({
      url: `ws://127.0.0.1:${s.port}/stream?x=1`,
      onOpen: () => order.push("open"),
      onMessage: (b, st, e, t) => order.push(t ? dec.decode(b.subarray(st, e)) : `bin${e - st}`),
    });
    await until(() => order.length === 3, "open + two messages");
    expect(order).toEqual(["open", "early", "bin5"]);
    expect(s.conns[0]!.request.startsWith("GET /stream?x=1 HTTP/1.1\r\n")).toBe(true);
    await c.close();
  });

  const faults: Array<[string, Uint8Array, RegExp, "protocolErrors" | "oversize", number]> = [
    ["bad opcode", frame(0x5, "x"), /protocol error: reserved opcode 0x5/, "protocolErrors", CLOSE_PROTOCOL_ERROR],
    ["masked server frame", frame(OP_TEXT, "x", { mask: true }), /protocol error: masked frame/, "protocolErrors", CLOSE_PROTOCOL_ERROR],
    ["reserved bit", frame(OP_TEXT, "x", { rsv: 2 }), /reserved bits/, "protocolErrors", CLOSE_PROTOCOL_ERROR],
    ["invalid close code", frame(OP_CLOSE, new Uint8Array([0x03, 0xed])), /invalid code 1005/, "protocolErrors", CLOSE_PROTOCOL_ERROR],
    ["oversize message", frame(OP_BINARY, pattern(2000)), /oversize message: message of 2000 bytes exceeds the limit of 1000/, "oversize", CLOSE_TOO_BIG],
  ];
  for (const [name, bad, why, counter, code] of faults) {
    test(`${name}: counted, close ${code} sent, reconnect`, async () => {
      const s = raw((c) => {
        c.write(acceptHead(c.key));
        c.write(c.index === 0 ? concat(frame(OP_TEXT, "before"), bad, frame(OP_TEXT, "lost")) : frame(OP_TEXT, "after"));
      });
      const r = recorder();
      const c = client({ url: `ws://127.0.0.1:${s.port}/`, ...r, maxMessageBytes: 1000 });
      await until(() => r.got.length === 2, "message on the second connection");
      expect(r.texts()).toEqual(["before", "after"]);
      expect(c.counters[counter]).toBe(1);
      expect(c.lastError?.reason).toMatch(why);
      expect(r.opens).toBe(2);
      await until(() => s.conns[0]!.frames.some((f) => f.op === OP_CLOSE), "our close frame");
      expect(closeCode(s.conns[0]!.frames.find((f) => f.op === OP_CLOSE)!)).toBe(code);
      await c.close();
    });
  }

  test("101 response written byte by byte, then a frame", async () => {
    const s = raw(() => {});
    const r = recorder();
    const c = client({ url: `ws://127.0.0.1:${s.port}/`, ...r });
    await until(() => s.conns.length === 1, "request");
    const conn = s.conns[0]!;
    const head = enc.encode(acceptHead(conn.key));
    for (let i = 0; i < head.length; i++) {
      expect(c.isOpen).toBe(false);
      conn.write(head.subarray(i, i + 1));
      await until(() => c.counters.bytesIn === i + 1, `head byte ${i}`);
    }
    expect(c.isOpen).toBe(true);
    conn.write(frame(OP_TEXT, "first"));
    await until(() => r.got.length === 1, "first message");
    expect(r.texts()).toEqual(["first"]);
    expect(c.counters.reads).toBe(head.length + 1);
    await c.close();
  });

  test("a response head over 16 KiB is refused", async () => {
    const s = raw((c) => c.write(`HTTP/1.1 101 Switching Protocols\r\nX-Pad: ${"a".repeat(20_000)}\r\n\r\n`));
    const c = client({ url: `ws://127.0.0.1:${s.port}/`, onMessage: () => {} });
    await until(() => c.counters.handshakeFailures >= 1, "refused head");
    expect(c.lastError?.reason).toContain("longer than 16384 bytes");
    await c.close();
  });

  test("handshake refused with 403: error names the status line, retried", async () => {
    const s = raw((c) => {
      c.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
      c.end();
    });
    const c = client({ url: `ws://127.0.0.1:${s.port}/`, onMessage: () => {} });
    await until(() => c.counters.handshakeFailures >= 2, "two refused handshakes");
    expect(c.lastError?.reason).toContain('"HTTP/1.1 403 Forbidden"');
    expect(c.counters.connects).toBe(0);
    expect(s.conns.length).toBeGreaterThanOrEqual(2);
    await c.close();
  });

  test("handshake with a wrong accept key is refused", async () => {
    const s = raw((c) => {
      c.write(acceptHead("not-the-key").replace(/\r\n\r\n$/, "\r\n\r\n") + "");
      c.write(frame(OP_TEXT, "must not be delivered"));
    });
    const r = recorder();
    const c = client({ url: `ws://127.0.0.1:${s.port}/`, ...r });
    await until(() => c.counters.handshakeFailures >= 1, "refused handshake");
    expect(c.lastError?.reason).toContain("wrong Sec-WebSocket-Accept");
    expect(r.got.length).toBe(0);
    expect(r.opens).toBe(0);
    await c.close();
  });

  test("half-written frame then silence: stall after stallMs, reconnect after the backoff", async () => {
    const timers = new ManualTimers();
    const s = raw((c) => {
      c.write(acceptHead(c.key));
      if (c.index === 0) c.write(frame(OP_BINARY, pattern(100)).subarray(0, 10));
      else c.write(frame(OP_TEXT, "resumed"));
    });
    const r = recorder();
    const c = client({ url: `ws://127.0.0.1:${s.port}/`, ...r, timers, stallMs: 5000, backoff: { baseMs: 1000, capMs: 1000, random: () => 0.25 } });
    await until(() => s.conns.length === 1 && c.counters.bytesIn === acceptHead(s.conns[0]!.key).length + 10, "handshake and the partial frame");
    expect(c.isOpen).toBe(true);
    timers.advance(4999);
    expect(c.counters.stalls).toBe(0);
    expect(c.isOpen).toBe(true);
    timers.advance(1);
    expect(c.counters.stalls).toBe(1);
    expect(c.lastError?.reason).toBe("stall: no bytes for 5000 ms");
    expect(c.status).toBe("idle");
    timers.advance(249);
    expect(c.status).toBe("idle");
    timers.advance(1);
    expect(c.status).not.toBe("idle");
    await until(() => r.got.length === 1, "message after the reconnect");
    expect(r.texts()).toEqual(["resumed"]);
    expect(r.opens).toBe(2);
    await c.close();
  });

  test("bytes keep the stall watchdog quiet", async () => {
    const timers = new ManualTimers();
    const s = raw((c) => c.write(acceptHead(c.key)));
    const c = client({ url: `ws://127.0.0.1:${s.port}/`, onMessage: () => {}, timers, stallMs: 1000 });
    await until(() => c.isOpen, "open");
    for (let i = 0; i < 5; i++) {
      timers.advance(600);
      const seen = c.counters.bytesIn;
      s.conns[0]!.write(frame(OP_TEXT, `t${i}`));
      await until(() => c.counters.bytesIn > seen, "tick");
    }
    expect(c.counters.stalls).toBe(0);
    timers.advance(1000);
    expect(c.counters.stalls).toBe(1);
    await c.close();
  });

  test("server drops the connection: reconnect with exponential backoff, onOpen re-run each time", async () => {
    const timers = new ManualTimers();
    const s = raw((c) => {
      c.write(acceptHead(c.key));
      if (c.index < 3) c.end();
      else c.write(frame(OP_TEXT, "stays up"));
    });
    const r = recorder();
    const c = client({ url: `ws://127.0.0.1:${s.port}/`, ...r, timers, backoff: { baseMs: 100, capMs: 10_000, random: () => 0.5 } });
    let k = 0;
    for (const delay of [50, 100, 200]) {
      k++;
      await until(() => c.status === "idle" && s.conns.length === k && r.opens === k, `drop of connection ${k}`);
      timers.advance(delay - 1);
      expect(c.status).toBe("idle");
      timers.advance(1);
      expect(c.status).toBe("connecting");
    }
    await until(() => r.got.length === 1, "message on the fourth connection");
    expect(r.opens).toBe(4);
    expect(c.counters.reconnects).toBe(3);
    expect(r.closes.every((why) => why.startsWith("connection lost"))).toBe(true);
    await c.close();
  });

  test("server close frame is echoed, then the TCP close leads to a reconnect", async () => {
    const s = raw((c) => {
      c.write(acceptHead(c.key));
      if (c.index === 0) c.write(frame(OP_CLOSE, concat(new Uint8Array([0x0f, 0xa2]), enc.encode("maintenance"))));
      else c.write(frame(OP_TEXT, "back"));
    });
    const r = recorder();
    const c = client({ url: `ws://127.0.0.1:${s.port}/`, ...r });
    await until(() => s.conns[0]?.frames.some((f) => f.op === OP_CLOSE) ?? false, "echoed close");
    expect(closeCode(s.conns[0]!.frames.find((f) => f.op === OP_CLOSE)!)).toBe(4002);
    s.conns[0]!.end();
    await until(() => r.got.length === 1, "message after reconnect");
    expect(c.counters.serverCloses).toBe(1);
    expect(r.closes[0]).toBe("server closed (4002 maintenance)");
    await c.close();
  });

  test("close() with a server that never answers: gives up after closeTimeoutMs", async () => {
    const timers = new ManualTimers();
    const s = raw((c) => {
      c.ignoreClose = true;
      c.write(acceptHead(c.key));
    });
    const c = client({ url: `ws://127.0.0.1:${s.port}/`, onMessage: () => {}, timers, closeTimeoutMs: 2000 });
    await until(() => c.isOpen, "open");
    let resolved = false;
    const p = c.close(1001, "shutdown").then(() => (resolved = true));
    await until(() => s.conns[0]!.frames.length === 1, "close frame at the server");
    expect(closeCode(s.conns[0]!.frames[0]!)).toBe(1001);
    expect(dec.decode(s.conns[0]!.frames[0]!.payload.subarray(2))).toBe("shutdown");
    expect(c.status).toBe("closing");
    timers.advance(1999);
    await Bun.sleep(5);
    expect(resolved).toBe(false);
    timers.advance(1);
    await p;
    expect(c.status).toBe("stopped");
    await until(() => s.conns[0]!.closed, "socket closed");
    expect(timers.pending).toBe(0);
  });

  test("start() while a close is in progress: close() still resolves, then the client reconnects", async () => {
    const timers = new ManualTimers();
    const s = raw((c) => {
      if (c.index === 0) c.ignoreClose = true;
      c.write(acceptHead(c.key));
    });
    const r = recorder();
    const c = client({ url: `ws://127.0.0.1:${s.port}/`, ...r, timers, closeTimeoutMs: 1000, backoff: { baseMs: 10, capMs: 10, random: () => 0 } });
    await until(() => c.isOpen, "open");
    const closed = c.close();
    c.start();
    expect(c.status).toBe("closing");
    timers.advance(1000);
    await closed;
    // the zero-delay retry timer was due within the same advance
    expect(c.status).toBe("connecting");
    await until(() => r.opens === 2, "reconnected");
    await c.close();
  });

  test("heartbeat hook runs every heartbeatMs while open", async () => {
    const timers = new ManualTimers();
    const s = raw((c) => c.write(acceptHead(c.key)));
    const c = client({ url: `ws://127.0.0.1:${s.port}/`, onMessage: () => {}, timers, heartbeatMs: 3000, onHeartbeat: (cl) => void cl.send("ping") });
    await until(() => c.isOpen, "open");
    timers.advance(2999);
    expect(c.counters.heartbeats).toBe(0);
    timers.advance(1);
    timers.advance(3000);
    expect(c.counters.heartbeats).toBe(2);
    await until(() => s.conns[0]!.frames.length === 2, "two heartbeats at the server");
    expect(s.conns[0]!.frames.map((f) => [f.op, dec.decode(f.payload)])).toEqual([
      [OP_TEXT, "ping"],
      [OP_TEXT, "ping"],
    ]);
    await c.close();
  });

  test("a handler that throws fails the connection; the client reconnects", async () => {
    const s = raw((c) => {
      c.write(acceptHead(c.key));
      c.write(concat(frame(OP_TEXT, c.index === 0 ? "boom" : "fine")));
    });
    const seen: string[] = [];
    const c = client({
      url: `ws://127.0.0.1:${s.port}/`,
      onMessage: (b, st, e) => {
        const t = dec.decode(b.subarray(st, e));
        seen.push(t);
        if (t === "boom") throw new Error("handler bug");
      },
    });
    await until(() => seen.length === 2, "message after reconnect");
    expect(seen).toEqual(["boom", "fine"]);
    expect(c.counters.handlerErrors).toBe(1);
    expect(c.lastError?.reason).toBe("handler threw: handler bug");
    await c.close();
  });

  test("connection refused: counted as connect failures and retried until close()", async () => {
    const s = raw(() => {});
    const port = s.port;
    s.stop();
    const c = client({ url: `ws://127.0.0.1:${port}/`, onMessage: () => {} });
    await until(() => c.counters.connectFailures >= 3, "three failed connects");
    expect(c.lastError?.reason).toContain(`connect to 127.0.0.1:${port} failed`);
    await c.close();
    expect(c.status).toBe("stopped");
  });
});

// ---------------------------------------------------------------------------------------------

const openssl = Bun.which("openssl");
describe.skipIf(!openssl)("WsClient over TLS (wss, self-signed certificate made with openssl)", () => {
  let dir = "";
  let cert = "";
  let srv: ReturnType<typeof Bun.serve>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bot4-wss-"));
    const p = Bun.spawnSync([openssl!, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]);
    if (p.exitCode !== 0) throw new Error(`openssl failed: ${p.stderr.toString()}`);
    cert = await Bun.file(join(dir, "cert.pem")).text();
    const key = await Bun.file(join(dir, "key.pem")).text();
    srv = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert, key },
      fetch(req, s) {
        return s.upgrade(req, { data: undefined }) ? undefined : new Response("no", { status: 400 });
      },
      websocket: {
        open(ws) {
          ws.send("hello over tls");
          ws.send(pattern(200_000, 2));
        },
        message(ws, m) {
          ws.send(m);
        },
      },
    });
  });
  afterAll(() => {
    srv?.stop(true);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("wss with the test CA: messages both ways", async () => {
    const r = recorder();
    const c = client({ url: `wss://127.0.0.1:${srv.port}/`, tls: { ca: cert }, ...r, onOpen: (cl) => void cl.send("echo me") });
    await until(() => r.got.length === 3, "three messages over TLS");
    expect(r.got[0]!.text && dec.decode(r.got[0]!.bytes)).toBe("hello over tls");
    expect(Bun.hash(r.got[1]!.bytes)).toBe(Bun.hash(pattern(200_000, 2)));
    expect(dec.decode(r.got[2]!.bytes)).toBe("echo me");
    await c.close();
  });

  test("wss without trusting the certificate is refused before the upgrade", async () => {
    const c = client({ url: `wss://127.0.0.1:${srv.port}/`, onMessage: () => {} });
    await until(() => c.counters.connectFailures >= 1, "refused TLS");
    expect(c.lastError?.reason).toMatch(/TLS handshake with 127\.0\.0\.1 failed: .*self.signed/i);
    expect(c.counters.connects).toBe(0);
    await c.close();
  });
});
