/**
 * RFC 6455 wire format for a client: the opening handshake strings, a frame reader for server
 * frames and a frame writer for (masked) client frames. No sockets here — ws-client.ts moves bytes.
 *
 * WsFrameReader guarantees:
 *  - every byte received is copied once into one reusable receive buffer (`bytes`); messages are
 *    delivered as (buf, start, end) views into it — no string, no object per message. The view is
 *    valid only during the callback: the next read overwrites it. `address` is the buffer's
 *    address for C parsers (address + start); both change only when a message larger than the
 *    buffer arrives and it grows (up to maxMessage + frame overhead).
 *  - frames split anywhere across reads and many frames per read are handled; fragmented
 *    messages are reassembled in place into one contiguous payload (continuation payloads are
 *    moved down over the headers between them); control frames may arrive between fragments.
 *  - refused, as protocol errors (close code 1002): reserved bits (no extension is negotiated),
 *    masked server frames (RFC 6455 5.1), reserved opcodes, fragmented or > 125-byte control
 *    frames, a continuation with no message open, a new message while one is open, a 64-bit
 *    length with its top bit set, a 1-byte close payload. Refused as too big (1009): a message
 *    whose length (known from the header, before its payload is read) exceeds maxMessage.
 *    After a fault the reader stops; the connection is failed and the reader reset.
 *  - text payloads are not UTF-8 validated: they go to byte parsers, `isText` says what the
 *    server declared.
 *  - state is advanced before each callback, so a callback may reset the reader (close the
 *    connection) and parsing stops cleanly.
 *
 * WsFrameWriter guarantees: each frame is built in a reusable buffer (header, 4-byte mask key
 * from a xoshiro128** generator seeded from crypto.getRandomValues, payload masked in place a
 * 32-bit word at a time) and handed out as (buffer, start, length) for one socket write; control
 * frames use their own small buffer so a pong can be written while a data frame is pending.
 */
import { alignedBuffer } from "../../ffi/buffers.ts";

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_TOO_BIG = 1009;

/** RFC 6455 1.3: the GUID appended to Sec-WebSocket-Key before hashing. */
export const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// ---------------------------------------------------------------------------------------------
// Opening handshake (cold path)

/** A fresh Sec-WebSocket-Key: 16 random bytes, base64 (RFC 6455 4.1). */
export function wsKey(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
}

/** The Sec-WebSocket-Accept a server must answer `key` with: base64(SHA-1(key + GUID)). */
export function wsAccept(key: string): string {
  return new Bun.CryptoHasher("sha1").update(key + WS_GUID).digest("base64");
}

/** The HTTP/1.1 upgrade request for `url` (ws: or wss:). */
export function upgradeRequest(url: URL, key: string, headers: Record<string, string> = {}): string {
  const defaultPort = url.protocol === "wss:" ? "443" : "80";
  const host = url.port && url.port !== defaultPort ? `${url.hostname}:${url.port}` : url.hostname;
  let req =
    `GET ${url.pathname || "/"}${url.search} HTTP/1.1\r\n` +
    `Host: ${host}\r\n` +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${key}\r\n` +
    "Sec-WebSocket-Version: 13\r\n";
  for (const [k, v] of Object.entries(headers)) {
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) throw new TypeError(`header ${JSON.stringify(k)} contains a line break`);
    req += `${k}: ${v}\r\n`;
  }
  return req + "\r\n";
}

/** Index just past the blank line ending the response head, or -1 while it is incomplete. */
export function headEnd(b: Uint8Array, from: number, to: number): number {
  for (let i = Math.max(from, 3); i < to; i++) {
    if (b[i] === 0x0a && b[i - 1] === 0x0d && b[i - 2] === 0x0a && b[i - 3] === 0x0d) return i + 1;
  }
  return -1;
}

/**
 * Checks the server's answer to the upgrade (RFC 6455 4.1, client requirements): status 101,
 * Upgrade: websocket, Connection: upgrade, the right Sec-WebSocket-Accept, and no extension or
 * subprotocol (we asked for none). Returns null when accepted, else the reason to report.
 */
export function checkUpgradeResponse(head: string, key: string): string | null {
  const lines = head.split("\r\n");
  const status = lines[0] ?? "";
  if (!/^HTTP\/1\.1 101(\s|$)/.test(status)) return `handshake refused: ${JSON.stringify(status)}`;
  const h = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    const c = line.indexOf(":");
    if (c <= 0) return `handshake refused: malformed header line ${JSON.stringify(line)} after ${JSON.stringify(status)}`;
    const name = line.slice(0, c).trim().toLowerCase(), value = line.slice(c + 1).trim();
    h.set(name, h.has(name) ? `${h.get(name)}, ${value}` : value);
  }
  if ((h.get("upgrade") ?? "").toLowerCase() !== "websocket") return `handshake refused: ${JSON.stringify(status)} without "Upgrade: websocket"`;
  const conn = (h.get("connection") ?? "").toLowerCase().split(",").map((s) => s.trim());
  if (!conn.includes("upgrade")) return `handshake refused: ${JSON.stringify(status)} without "Connection: Upgrade"`;
  const accept = h.get("sec-websocket-accept");
  if (accept !== wsAccept(key)) return `handshake refused: ${JSON.stringify(status)} with wrong Sec-WebSocket-Accept ${JSON.stringify(accept ?? null)}`;
  if (h.has("sec-websocket-extensions")) return `handshake refused: server chose extensions we did not offer (${h.get("sec-websocket-extensions")})`;
  if (h.has("sec-websocket-protocol")) return `handshake refused: server chose a subprotocol we did not offer (${h.get("sec-websocket-protocol")})`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Frame reader (hot path)

export interface WsFrameSink {
  /** A complete message; buf[start, end) is valid only during the call. */
  message(buf: Uint8Array, start: number, end: number, isText: boolean): void;
  /** A ping, pong or close frame; buf[start, end) is its payload, valid only during the call. */
  control(opcode: number, buf: Uint8Array, start: number, end: number): void;
}

const MIN_RX = 1 << 20;
/** longest frame header a server sends: 2 + 8 length bytes (no mask) */
const MAX_HEADER = 10;
const TWO_32 = 4294967296;
/** offsets and lengths stay int32 in the parse loop (fast typed-array indexing) */
const MAX_MESSAGE_LIMIT = 2 ** 30;

/** A 64-bit big-endian length (cold path: only for refusing it). */
function length64(b: Uint8Array, at: number): number {
  let v = 0;
  for (let i = 0; i < 8; i++) v = v * 256 + b[at + i]!;
  return v;
}

export class WsFrameReader {
  /** the reusable receive buffer; messages are views into it */
  bytes: Uint8Array;
  /** address of bytes[0], for C parsers */
  address: number;
  /** why the last push() returned non-zero */
  fault = "";
  private filled = 0;
  /** start of the first unparsed frame */
  private pos = 0;
  /** opcode of the message being reassembled (0: none) */
  private fragOp = 0;
  /** reassembled payload so far is [msgStart, msgEnd), always <= pos */
  private msgStart = 0;
  private msgEnd = 0;
  /** bytes needed (from the keep point) to complete the frame being waited on */
  private want = 0;
  /** bumped by reset(); a callback that resets the reader stops the parse loop */
  private epoch = 0;
  // keeps the aligned allocation alive while `address` is in use
  private store: ArrayBuffer | SharedArrayBuffer;

  constructor(
    private readonly sink: WsFrameSink,
    readonly maxMessage: number = 16 << 20,
    initialBytes = MIN_RX,
  ) {
    if (!(maxMessage > 0 && maxMessage <= MAX_MESSAGE_LIMIT)) throw new RangeError(`maxMessage must be in 1..2^30 (got ${maxMessage})`);
    const a = alignedBuffer(Math.max(initialBytes, 4096));
    this.store = a.buffer;
    this.bytes = new Uint8Array(a.buffer, a.byteOffset, a.bytes);
    this.address = a.ptr;
  }

  /** Drops any partial frame or message (after a disconnect). */
  reset(): void {
    this.filled = this.pos = this.fragOp = this.msgStart = this.msgEnd = this.want = 0;
    this.fault = "";
    this.epoch++;
  }

  /** Bytes held for an incomplete frame or message. */
  get pending(): number {
    return this.filled - (this.fragOp !== 0 ? this.msgStart : this.pos);
  }

  /**
   * Feeds one read. Returns 0, or the close code of the fault (CLOSE_PROTOCOL_ERROR,
   * CLOSE_TOO_BIG) with `fault` set; after a fault the caller must reset() before reuse.
   */
  push(chunk: Uint8Array): number {
    const n = chunk.length;
    const epoch = this.epoch;
    let off = 0;
    while (off < n) {
      let room = this.bytes.length - this.filled;
      if (room === 0) {
        this.compact();
        room = this.bytes.length - this.filled;
        if (room === 0) {
          this.grow(this.want);
          room = this.bytes.length - this.filled;
        }
      }
      if (off === 0 && n <= room) {
        this.bytes.set(chunk, this.filled);
        this.filled += n;
        off = n;
      } else {
        const take = room < n - off ? room : n - off;
        this.bytes.set(chunk.subarray(off, off + take), this.filled);
        this.filled += take;
        off += take;
      }
      const r = this.parse();
      if (r !== 0 || this.epoch !== epoch) return r;
    }
    this.compact();
    return 0;
  }

  private parse(): number {
    const b = this.bytes;
    const epoch = this.epoch;
    // callbacks cannot add bytes; one that resets the reader is caught by the epoch check
    const filled = this.filled;
    for (;;) {
      const p = this.pos;
      const avail = filled - p;
      if (avail < 2) return this.waitFor(p, MAX_HEADER);
      const b0 = b[p]!, b1 = b[p + 1]!;
      if ((b0 & 0x70) !== 0) return this.protocol("reserved bits set (no extension was negotiated)");
      if ((b1 & 0x80) !== 0) return this.protocol("masked frame from the server");
      const op = b0 & 0x0f;
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (avail < 4) return this.waitFor(p, MAX_HEADER);
        len = (b[p + 2]! << 8) | b[p + 3]!;
        hdr = 4;
      } else if (len === 127) {
        if (avail < 10) return this.waitFor(p, MAX_HEADER);
        if ((b[p + 2]! & 0x80) !== 0) return this.protocol("64-bit frame length with the top bit set");
        // lengths >= 2^31 exceed any maxMessage: refuse them before `len` stops being an int32
        if ((b[p + 2]! | b[p + 3]! | b[p + 4]! | b[p + 5]! | (b[p + 6]! & 0x80)) !== 0) return this.tooBig(length64(b, p + 2));
        len = (b[p + 6]! << 24) | (b[p + 7]! << 16) | (b[p + 8]! << 8) | b[p + 9]!;
        hdr = 10;
      }
      if (op >= 8) {
        if ((b0 & 0x80) === 0) return this.protocol("fragmented control frame");
        if (len > 125) return this.protocol(`control frame of ${len} bytes (limit 125)`);
        if (op > OP_PONG) return this.protocol(`reserved opcode 0x${op.toString(16)}`);
        if (op === OP_CLOSE && len === 1) return this.protocol("close frame with a 1-byte payload");
      } else if (op === OP_CONTINUATION) {
        if (this.fragOp === 0) return this.protocol("continuation frame with no message open");
        if (this.msgEnd - this.msgStart + len > this.maxMessage) return this.tooBig(this.msgEnd - this.msgStart + len);
      } else if (op <= OP_BINARY) {
        if (this.fragOp !== 0) return this.protocol("new message while a fragmented one is open");
        if (len > this.maxMessage) return this.tooBig(len);
      } else {
        return this.protocol(`reserved opcode 0x${op.toString(16)}`);
      }
      const start = p + hdr;
      const end = start + len;
      if (end > filled) return this.waitFor(p, hdr + len);
      this.pos = end;
      if (op >= 8) {
        this.sink.control(op, b, start, end);
        if (this.epoch !== epoch) return 0;
      } else if ((b0 & 0x80) !== 0) {
        if (op !== OP_CONTINUATION) {
          this.sink.message(b, start, end, op === OP_TEXT);
        } else {
          const ms = this.msgStart, me = this.msgEnd, text = this.fragOp === OP_TEXT;
          if (len > 0) b.copyWithin(me, start, end);
          this.fragOp = this.msgStart = this.msgEnd = 0;
          this.sink.message(b, ms, me + len, text);
        }
        if (this.epoch !== epoch) return 0;
      } else if (op !== OP_CONTINUATION) {
        this.fragOp = op;
        this.msgStart = start;
        this.msgEnd = end;
      } else {
        if (len > 0) b.copyWithin(this.msgEnd, start, end);
        this.msgEnd += len;
      }
    }
  }

  /** Frame at p needs `frameBytes` in total; remembers how much room that takes. */
  private waitFor(p: number, frameBytes: number): number {
    // p is always this.pos; after compaction the frame sits right after the reassembled payload
    this.want = (this.fragOp !== 0 ? this.msgEnd - this.msgStart : 0) + (p - this.pos) + frameBytes;
    return 0;
  }

  private protocol(reason: string): number {
    this.fault = reason;
    return CLOSE_PROTOCOL_ERROR;
  }

  private tooBig(len: number): number {
    this.fault = `message of ${len} bytes exceeds the limit of ${this.maxMessage}`;
    return CLOSE_TOO_BIG;
  }

  /** Moves the reassembled payload and the unparsed bytes to the front of the buffer. */
  private compact(): void {
    const b = this.bytes;
    if (this.fragOp === 0) {
      const p = this.pos;
      if (p === 0) return;
      if (p < this.filled) b.copyWithin(0, p, this.filled);
      this.filled -= p;
      this.pos = 0;
      return;
    }
    const ms = this.msgStart, msgLen = this.msgEnd - ms, p = this.pos, rest = this.filled - p;
    if (ms === 0 && p === msgLen) return;
    if (ms > 0 && msgLen > 0) b.copyWithin(0, ms, this.msgEnd);
    if (rest > 0 && p !== msgLen) b.copyWithin(msgLen, p, this.filled);
    this.msgStart = 0;
    this.msgEnd = msgLen;
    this.pos = msgLen;
    this.filled = msgLen + rest;
  }

  /** Cold path: a frame larger than the buffer (bounded by maxMessage before we get here). */
  private grow(need: number): void {
    this.compact();
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const a = alignedBuffer(size);
    const next = new Uint8Array(a.buffer, a.byteOffset, a.bytes);
    next.set(this.bytes.subarray(0, this.filled));
    this.store = a.buffer;
    this.bytes = next;
    this.address = a.ptr;
  }
}

// ---------------------------------------------------------------------------------------------
// Frame writer

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** payload offset in the transmit buffers: 4-aligned, room for the longest client header (14) */
const PAYLOAD_AT = 16;
const CONTROL_BYTES = PAYLOAD_AT + 128;

/** xoshiro128** — fast 32-bit PRNG for mask keys, seeded from the OS CSPRNG. */
export class MaskKeys {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed?: Uint32Array) {
    const s = seed ?? crypto.getRandomValues(new Uint32Array(4));
    if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 0x9e3779b9;
    this.s0 = s[0]! >>> 0;
    this.s1 = s[1]! >>> 0;
    this.s2 = s[2]! >>> 0;
    this.s3 = s[3]! >>> 0;
  }

  next(): number {
    const s1 = this.s1;
    const x = Math.imul(s1, 5);
    const r = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return r;
  }
}

export class WsFrameWriter {
  /** data frames are built here: frame = buf[start, start + length) after a build call */
  buf: Buffer;
  private words: Uint32Array;
  /** small control frames (ping, pong, close) */
  readonly ctl: Buffer;
  private readonly ctlWords: Uint32Array;
  start = 0;
  private readonly keys: MaskKeys;

  constructor(initialBytes = 64 * 1024, keys = new MaskKeys()) {
    this.keys = keys;
    this.buf = Buffer.from(new ArrayBuffer(Math.max(initialBytes, 256)));
    this.words = new Uint32Array(this.buf.buffer, this.buf.byteOffset, this.buf.length >>> 2);
    this.ctl = Buffer.from(new ArrayBuffer(CONTROL_BYTES));
    this.ctlWords = new Uint32Array(this.ctl.buffer, this.ctl.byteOffset, CONTROL_BYTES >>> 2);
  }

  /** Builds a text frame in `buf`; returns its length (frame starts at `start`). */
  text(s: string): number {
    if (PAYLOAD_AT + s.length * 3 > this.buf.length) this.grow(PAYLOAD_AT + s.length * 3);
    const len = this.buf.write(s, PAYLOAD_AT);
    return this.finish(OP_TEXT, len);
  }

  /** Builds a frame with opcode `op` carrying src[from, to) in `buf`; returns its length. */
  bytes(op: number, src: Uint8Array, from = 0, to = src.length): number {
    const len = to - from;
    if (PAYLOAD_AT + len > this.buf.length) this.grow(PAYLOAD_AT + len);
    if (from === 0 && to === src.length) this.buf.set(src, PAYLOAD_AT);
    else this.buf.set(src.subarray(from, to), PAYLOAD_AT);
    return this.finish(op, len);
  }

  /**
   * Builds a control frame in `ctl` (frame starts at ctlStart(len)) with payload src[from, to)
   * (at most 125 bytes), masked while copied; returns the frame length. No allocation.
   */
  control(op: number, src: Uint8Array | null, from: number, to: number): number {
    const len = to - from;
    if (len > 125 || len < 0) throw new RangeError(`control payload of ${len} bytes (limit 125)`);
    const c = this.ctl;
    const mask = this.keys.next();
    const at = PAYLOAD_AT - 6;
    c[at] = 0x80 | op;
    c[at + 1] = 0x80 | len;
    c[at + 2] = mask & 0xff;
    c[at + 3] = (mask >>> 8) & 0xff;
    c[at + 4] = (mask >>> 16) & 0xff;
    c[at + 5] = mask >>> 24;
    for (let i = 0; i < len; i++) c[PAYLOAD_AT + i] = src![from + i]! ^ c[at + 2 + (i & 3)]!;
    return len + 6;
  }

  /** Builds a close frame (code, reason truncated to fit 125 bytes) in `ctl`; returns its length. */
  close(code: number, reason: string): number {
    const c = this.ctl;
    c[PAYLOAD_AT] = code >>> 8;
    c[PAYLOAD_AT + 1] = code & 0xff;
    // a UTF-16 unit is at most 3 UTF-8 bytes; 41 units always fit in the 123 bytes left
    const n = c.write(reason.length > 41 ? reason.slice(0, 41) : reason, PAYLOAD_AT + 2);
    const len = 2 + n;
    const mask = this.keys.next();
    const at = PAYLOAD_AT - 6;
    c[at] = 0x80 | OP_CLOSE;
    c[at + 1] = 0x80 | len;
    c[at + 2] = mask & 0xff;
    c[at + 3] = (mask >>> 8) & 0xff;
    c[at + 4] = (mask >>> 16) & 0xff;
    c[at + 5] = mask >>> 24;
    this.maskWords(this.ctlWords, c, len, mask);
    return len + 6;
  }

  /** Start of the control frame in `ctl` (every control frame has a 6-byte header). */
  get ctlStart(): number {
    return PAYLOAD_AT - 6;
  }

  private finish(op: number, len: number): number {
    const b = this.buf;
    const mask = this.keys.next();
    let at: number;
    if (len < 126) {
      at = PAYLOAD_AT - 6;
      b[at + 1] = 0x80 | len;
    } else if (len < 65536) {
      at = PAYLOAD_AT - 8;
      b[at + 1] = 0x80 | 126;
      b[at + 2] = len >>> 8;
      b[at + 3] = len & 0xff;
    } else {
      at = PAYLOAD_AT - 14;
      b[at + 1] = 0x80 | 127;
      const hi = Math.floor(len / TWO_32), lo = len >>> 0;
      b[at + 2] = hi >>> 24;
      b[at + 3] = (hi >>> 16) & 0xff;
      b[at + 4] = (hi >>> 8) & 0xff;
      b[at + 5] = hi & 0xff;
      b[at + 6] = lo >>> 24;
      b[at + 7] = (lo >>> 16) & 0xff;
      b[at + 8] = (lo >>> 8) & 0xff;
      b[at + 9] = lo & 0xff;
    }
    b[at] = 0x80 | op;
    b[PAYLOAD_AT - 4] = mask & 0xff;
    b[PAYLOAD_AT - 3] = (mask >>> 8) & 0xff;
    b[PAYLOAD_AT - 2] = (mask >>> 16) & 0xff;
    b[PAYLOAD_AT - 1] = mask >>> 24;
    this.maskWords(this.words, b, len, mask);
    this.start = at;
    return PAYLOAD_AT - at + len;
  }

  /** XORs the payload at PAYLOAD_AT with the mask whose bytes are (mask >>> 8k) & 0xff. */
  private maskWords(words: Uint32Array, b: Uint8Array, len: number, mask: number): void {
    const w = LITTLE_ENDIAN ? mask : ((mask & 0xff) << 24) | ((mask & 0xff00) << 8) | ((mask >>> 8) & 0xff00) | (mask >>> 24);
    const first = PAYLOAD_AT >>> 2, last = first + (len >>> 2);
    for (let i = first; i < last; i++) words[i] = words[i]! ^ w;
    for (let i = len & ~3; i < len; i++) b[PAYLOAD_AT + i] = b[PAYLOAD_AT + i]! ^ ((mask >>> ((i & 3) << 3)) & 0xff);
  }

  private grow(need: number): void {
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    this.buf = Buffer.from(new ArrayBuffer(size));
    this.words = new Uint32Array(this.buf.buffer, this.buf.byteOffset, this.buf.length >>> 2);
  }
}
