/**
 * The C signing kernels (c/sign.c, c/order.c) seen from TypeScript.
 *
 *  - HmacKey: an HMAC-SHA256 key prepared once in C memory (the ipad / opad states absorbed);
 *    `hexInto` signs bytes already in C-visible memory (addresses as numbers: no allocation),
 *    `hex` is the cold convenience form. sha256() and the implementation switch are for tests.
 *  - OrderFrameEncoder: one gateway's Binance `order.place` context (fixed pieces, HMAC key) and
 *    a reusable input struct; `place()` writes the per-order fields and makes ONE FFI call that
 *    returns a complete masked WebSocket frame in `out` (text + signature + frame: c/order.h).
 *    Memory for context, input and output is one 64-byte aligned JS-owned buffer whose
 *    addresses are taken once.
 */
import { alignedBuffer, type AlignedBuffer } from "./buffers.ts";
import { K } from "./lib.ts";
import { HMAC_KEY_BYTES, ORDER_CTX_BYTES, ORDER_IN_BYTES, OrderConst, OrderError, OrderInOffset, Sha256Impl } from "./sym/sign.ts";

export { OrderConst, OrderError, Sha256Impl } from "./sym/sign.ts";

const utf8 = new TextEncoder();

export class SignError extends Error {
  override name = "SignError";
}

/** The SHA-256 compression in use: "shani" (x86 SHA extensions) or "portable". */
export function sha256Impl(): "shani" | "portable" {
  return K.bot4_sha256_impl() === Sha256Impl.shani ? "shani" : "portable";
}

export function hasShaNi(): boolean {
  return K.bot4_sha256_has_shani() === 1;
}

/**
 * Forces the compression function process-wide ("auto": SHA-NI where the CPU has it). For tests
 * and benches only; returns the one now in use.
 */
export function useSha256(which: "auto" | "portable" | "shani"): "shani" | "portable" {
  K.bot4_sha256_use(Sha256Impl[which]);
  return sha256Impl();
}

/** SHA-256 of bytes (cold path: allocates its result). */
export function sha256(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  K.bot4_sha256(msg.length > 0 ? msg : new Uint8Array(1), msg.length, out);
  return out;
}

export class HmacKey {
  /** address of the bot4_hmac_key_t */
  readonly ptr: number;
  private readonly mem: AlignedBuffer;
  private readonly scratch: Uint8Array;
  private readonly scratchPtr: number;
  private static readonly SCRATCH = 4096;

  constructor(secret: string | Uint8Array) {
    const key = typeof secret === "string" ? utf8.encode(secret) : secret;
    this.mem = alignedBuffer(HMAC_KEY_BYTES + 64 + HmacKey.SCRATCH);
    this.ptr = this.mem.ptr;
    const r = K.bot4_hmac_key_init(this.ptr, key.length > 0 ? key : null, key.length);
    if (r !== 0) throw new SignError("HMAC key: bot4_hmac_key_init refused the key");
    this.scratch = new Uint8Array(this.mem.buffer, this.mem.byteOffset + 128, HmacKey.SCRATCH);
    this.scratchPtr = this.ptr + 128;
  }

  /** HMAC of `len` bytes at address `msgPtr`; 64 hex digits written at address `outPtr`. */
  hexInto(msgPtr: number, len: number, outPtr: number): void {
    if (K.bot4_hmac_sha256_hex(this.ptr, msgPtr, len, outPtr) !== 0) throw new SignError("HMAC key not initialised");
  }

  /** HMAC of bytes or a (UTF-8) string, as lowercase hex (cold path). */
  hex(msg: string | Uint8Array): string {
    const m = typeof msg === "string" ? utf8.encode(msg) : msg;
    const out = new Uint8Array(64);
    if (m.length <= HmacKey.SCRATCH - 64) {
      this.scratch.set(m, 64);
      this.hexInto(this.scratchPtr + 64, m.length, this.scratchPtr);
      out.set(this.scratch.subarray(0, 64));
    } else if (K.bot4_hmac_sha256_hex(this.ptr, m, m.length, out) !== 0) throw new SignError("HMAC key not initialised");
    return new TextDecoder().decode(out);
  }
}

/** The fixed pieces of one gateway's order.place text and signature payload (c/order.h). */
export interface OrderPieces {
  /** HMAC secret: orders are signed; absent: no signature (an Ed25519 logged-on session) */
  secret?: string;
  /** `,"method":"order.place","params":{["apiKey":"K",]"newClientOrderId":"` */
  head: Uint8Array;
  /** `","recvWindow":W,"side":"` */
  rw: Uint8Array;
  /** `apiKey=K&newClientOrderId=` (signed orders) */
  keyPart: Uint8Array;
  /** `&recvWindow=W&side=` (signed orders) */
  rwQuery: Uint8Array;
  /** the cancel encoder's pieces instead (order.cancel by client id; see c/order.h): head, rw, keyPart, rwQuery as documented there */
  method?: "place" | "cancel";
}

const IN_AT = 1024;
const OUT_AT = 2048;
const OUT_CAP = OrderConst.TEXT_MAX + 64;
const O = OrderInOffset;

export class OrderFrameEncoder {
  /** the frame after a successful place(): out[0, length) */
  readonly out: Uint8Array;
  private readonly mem: AlignedBuffer;
  private readonly ctxPtr: number;
  private readonly inPtr: number;
  private readonly outPtr: number;
  private readonly f64: Float64Array;
  private readonly i32: Int32Array;
  private readonly u32: Uint32Array;
  private readonly u8: Uint8Array;
  private lastSym: Uint8Array | null = null;
  private lastTif = "";
  private readonly fn: typeof K.bot4_order_place_frame;

  constructor(p: OrderPieces) {
    this.fn = p.method === "cancel" ? K.bot4_order_cancel_frame : K.bot4_order_place_frame;
    if (ORDER_CTX_BYTES > IN_AT || IN_AT + ORDER_IN_BYTES > OUT_AT) throw new SignError("order encoder: struct sizes outgrew the buffer plan");
    this.mem = alignedBuffer(OUT_AT + OUT_CAP);
    const base = this.mem.byteOffset, buf = this.mem.buffer;
    this.ctxPtr = this.mem.ptr;
    this.inPtr = this.mem.ptr + IN_AT;
    this.outPtr = this.mem.ptr + OUT_AT;
    this.f64 = new Float64Array(buf, base + IN_AT, 8);
    this.i32 = new Int32Array(buf, base + IN_AT, 16);
    this.u32 = new Uint32Array(buf, base + IN_AT, 16);
    this.u8 = new Uint8Array(buf, base + IN_AT, ORDER_IN_BYTES);
    this.out = new Uint8Array(buf, base + OUT_AT, OUT_CAP);
    for (const [name, piece] of [["head", p.head], ["rw", p.rw], ["keyPart", p.keyPart], ["rwQuery", p.rwQuery]] as const) {
      if (piece.length > OrderConst.PIECE) throw new SignError(`order encoder: the ${name} piece is ${piece.length} bytes, at most ${OrderConst.PIECE} (is the API key that long?)`);
    }
    if (p.secret !== undefined && p.secret.length === 0) throw new SignError("order encoder: the API secret is empty");
    const secret = p.secret !== undefined ? utf8.encode(p.secret) : null;
    const nz = (b: Uint8Array) => (b.length > 0 ? b : new Uint8Array(1));
    const r = K.bot4_order_ctx_init(this.ctxPtr, secret, secret?.length ?? 0, nz(p.head), p.head.length, nz(p.rw), p.rw.length, nz(p.keyPart), p.keyPart.length, nz(p.rwQuery), p.rwQuery.length);
    if (r !== 0) throw new SignError(`order encoder: bot4_order_ctx_init failed (${r})`);
  }

  /**
   * One order into `out` as a complete masked text frame; returns its length, or a negative
   * OrderError: `number` (a price or quantity the byte formatter declines: call
   * numbersAsText() then frame()), `field` (a client id that is not plain JSON-safe ASCII or
   * too long, a symbol or time in force too long, an id or timestamp not a whole number: use
   * another path). `sym` is the symbol's id bytes (kept between calls while the same array).
   * decimals: 0..15, or OrderConst.SHORTEST / NO_FORMAT.
   */
  place(id: number, tsMs: number, sell: boolean, type: number, price: number, priceDec: number, amount: number, amountDec: number, cid: string, sym: Uint8Array, tif: string, mask: number): number {
    const f = this.f64, u8 = this.u8;
    f[0] = id;
    f[1] = tsMs;
    f[2] = price;
    f[3] = amount;
    this.i32[8] = priceDec;
    this.i32[9] = amountDec;
    this.u32[10] = mask;
    u8[O.side] = sell ? OrderConst.SELL : OrderConst.BUY;
    u8[O.type] = type;
    u8[O.flags] = 0;
    if (!this.putIds(cid, sym)) return OrderError.field;
    if (tif !== this.lastTif) {
      if (tif.length > OrderConst.TIF) return OrderError.field;
      for (let i = 0; i < tif.length; i++) u8[O.tif + i] = tif.charCodeAt(i);
      u8[O.tifLen] = tif.length;
      this.lastTif = tif;
    }
    return this.fn(this.ctxPtr, this.inPtr, this.outPtr, OUT_CAP);
  }

  /**
   * order.cancel of a client order id as a complete masked text frame (an encoder made with
   * method "cancel"); its length or a negative OrderError (`field`: an id that is not plain
   * JSON-safe ASCII or too long, a symbol too long, an id or timestamp not whole: use another path).
   */
  cancel(id: number, tsMs: number, cid: string, sym: Uint8Array, mask: number): number {
    const f = this.f64;
    f[0] = id;
    f[1] = tsMs;
    this.u32[10] = mask;
    if (!this.putIds(cid, sym)) return OrderError.field;
    return this.fn(this.ctxPtr, this.inPtr, this.outPtr, OUT_CAP);
  }

  /** the client id (JSON-safe printable ASCII only: no quote, no backslash, as encodePlaceInto) and the symbol's bytes into the input struct; false when one does not fit */
  private putIds(cid: string, sym: Uint8Array): boolean {
    const u8 = this.u8;
    const n = cid.length;
    if (n > OrderConst.CID) return false;
    for (let i = 0; i < n; i++) {
      const c = cid.charCodeAt(i);
      if (c < 32 || c > 126 || c === 34 || c === 92) return false;
      u8[O.cid + i] = c;
    }
    u8[O.cidLen] = n;
    if (sym !== this.lastSym) {
      if (sym.length > OrderConst.SYM) return false;
      for (let i = 0; i < sym.length; i++) u8[O.sym + i] = sym[i]!;
      u8[O.symLen] = sym.length;
      this.lastSym = sym;
    }
    return true;
  }

  /**
   * After place() returned OrderError.number: the price and quantity as text (ASCII, as the
   * caller's formatter writes them), then the frame again; returns its length or an error.
   */
  numbersAsText(priceText: string, qtyText: string): number {
    const u8 = this.u8;
    if (priceText.length > OrderConst.NUM || qtyText.length > OrderConst.NUM) return OrderError.field;
    for (let i = 0; i < priceText.length; i++) u8[O.priceTxt + i] = priceText.charCodeAt(i);
    for (let i = 0; i < qtyText.length; i++) u8[O.qtyTxt + i] = qtyText.charCodeAt(i);
    u8[O.priceLen] = priceText.length;
    u8[O.qtyLen] = qtyText.length;
    u8[O.flags] = OrderConst.TEXT_NUMBERS;
    const r = this.fn(this.ctxPtr, this.inPtr, this.outPtr, OUT_CAP);
    u8[O.flags] = 0;
    return r;
  }
}

/** The C putDecimal (tests): its text, or null where it declines. */
export function cDecimal(x: number, decimals: number): string | null {
  const b = new Uint8Array(64);
  const n = K.bot4_order_decimal(x, decimals, b);
  return n < 0 ? null : new TextDecoder("latin1").decode(b.subarray(0, n));
}
