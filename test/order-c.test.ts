/**
 * c/order.c: the order.place frame built in one C call is byte for byte what the TypeScript
 * reference builds (BinanceWsGateway.encodePlaceInto + WsFrameWriter with the same mask key);
 * its number formatter is the TypeScript putDecimal's; it declines what it must.
 */
import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import type { OrderRequest } from "../src/domain/order.ts";
import { BinanceWsGateway, decimalText, putDecimal } from "../src/exec/gateway/binance-ws.ts";
import { HmacSha256Signer, wsApiPayload } from "../src/exec/gateway/sign.ts";
import { MaskKeys, WsFrameWriter, OP_TEXT } from "../src/net/ws-frame.ts";
import { OrderConst, OrderError, OrderFrameEncoder, SignError, cDecimal, hasShaNi } from "../ffi/sign.ts";
import { VARIANTS, chooseVariant, openVariant } from "../ffi/lib.ts";

const KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const ED_PRIV = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const URL_ = "ws://127.0.0.1:9/ws-api/v3";
const dec = new TextDecoder();

let seed = 2024;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const CID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/|#$%&()*+,;=?@[]^`{}~ !'<>";

function randomNumber(): number {
  switch (Math.floor(rnd() * 5)) {
    case 0: return Math.round(rnd() * 1e6) / 100; // two decimals
    case 1: return Math.round(rnd() * 1e8) / 1e8 + 1e-8; // satoshi steps
    case 2: return rnd() * 10 ** Math.floor(rnd() * 20 - 9); // any magnitude
    case 3: return Math.floor(rnd() * 1e7) + 1; // whole
    default: return pick([0.1, 0.2, 0.3, 1.005, 2.675, 49_000.5, 0.00123, 1e-7, 123456789.123, 0.125, 2.5, 1e15 - 1, 5e-9]);
  }
}

/** The reference: encodePlaceInto's text framed by WsFrameWriter with a generator seeded as `masks`. */
function referenceFrame(g: BinanceWsGateway, w: WsFrameWriter, id: number, req: OrderRequest, ts: number): Uint8Array | null {
  const n = g.encodePlaceInto(id, req, ts);
  if (n < 0) return null;
  const len = w.bytes(OP_TEXT, (g as unknown as { frame: Uint8Array }).frame, 0, n);
  return w.buf.slice(w.start, w.start + len);
}

function unmask(frame: Uint8Array): string {
  const lenByte = frame[1]! & 0x7f;
  const at = lenByte === 126 ? 4 : 2;
  const mask = frame.subarray(at, at + 4);
  const p = frame.slice(at + 4);
  for (let i = 0; i < p.length; i++) p[i] ^= mask[i & 3]!;
  return dec.decode(p);
}

describe("c/order.c order.place frames", () => {
  test("the C number formatter writes putDecimal's text and declines exactly where it declines", () => {
    const buf = new Uint8Array(64);
    const xs = [0.1, 0.2, 0.3, 1.005, 2.675, 49000.5, 0.00123, 1e-7, 123456789.123, 0.5, 1.5, 2.5, 0.125, 1e15, 1e15 - 1, 999999999.9999999, 1e9, 1e9 - 1e-7, 1e-20, 5e-324, 0, -0, -1, NaN, Infinity, 2 ** 53, 4503599627370495.5];
    for (let k = 0; k < 40_000; k++) xs.push(rnd() * 10 ** Math.floor(rnd() * 24 - 12));
    for (let k = 0; k < 5000; k++) xs.push(Math.round(rnd() * 10 ** (1 + Math.floor(rnd() * 15))) / 10 ** Math.floor(rnd() * 16));
    let wrote = 0, declined = 0;
    for (const x of xs) {
      for (const d of [undefined, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15]) {
        const e = putDecimal(buf, 0, x, d);
        const c = cDecimal(x, d === undefined ? OrderConst.SHORTEST : d);
        if (e < 0) {
          expect(c).toBeNull();
          declined++;
        } else {
          expect(c).toBe(dec.decode(buf.subarray(0, e)));
          expect(c).toBe(decimalText(x, d));
          wrote++;
        }
      }
    }
    for (const d of [16, 20, -2]) expect(cDecimal(1.5, d)).toBeNull();
    expect(wrote).toBeGreaterThan(400_000);
    expect(declined).toBeGreaterThan(1000);
  });

  test("frames are byte for byte encodePlaceInto + WsFrameWriter (HMAC and Ed25519 session; 6000 random orders)", () => {
    const syms = { "BTC/USDT": { id: "BTCUSDT", priceDecimals: 2, amountDecimals: 5 }, "ETH/USDT": { id: "ETHUSDT" }, "XRP/USDT": { id: "XRPUSDT", priceDecimals: 4, amountDecimals: 0 }, "PEPE/USDT": { id: "PEPEUSDT", priceDecimals: 10, amountDecimals: 15 }, "ODD/USDT": { id: "ODDUSDT", priceDecimals: 20, amountDecimals: 1.5 } };
    const gws = [
      new BinanceWsGateway({ url: URL_, apiKey: KEY, secret: SECRET, reconnect: false, symbols: syms, recvWindow: 3000 }),
      new BinanceWsGateway({ url: URL_, apiKey: "k", secret: "s", reconnect: false, symbols: syms, recvWindow: 60000 }),
      new BinanceWsGateway({ url: URL_, apiKey: KEY + KEY.slice(0, 30), secret: SECRET + SECRET, reconnect: false, symbols: syms }),
      new BinanceWsGateway({ url: URL_, apiKey: KEY, privateKey: ED_PRIV, reconnect: false, symbols: syms }),
    ];
    const encs = gws.map((g) => (g as unknown as { cenc: OrderFrameEncoder | null }).cenc!);
    for (const g of gws) expect(g.nativeFrames).toBe(true);
    const signer = new HmacSha256Signer(SECRET);
    let checked = 0, textNumbers = 0;
    for (let k = 0; k < 1500; k++) {
      const type = pick(["market", "limit", "limit"] as const);
      const cid = Array.from({ length: 1 + Math.floor(rnd() * 36) }, () => pick([...CID_CHARS])).join("");
      const req: OrderRequest = {
        clientOrderId: cid, venue: "binance", symbol: pick(["BTC/USDT", "ETH/USDT", "XRP/USDT", "PEPE/USDT", "ODD/USDT", "SOL/USDT"]), side: rnd() < 0.5 ? "buy" : "sell", type,
        amount: randomNumber(), price: type === "market" ? undefined : randomNumber(), timeInForce: pick(["GTC", "IOC", "FOK", "PO", undefined] as const),
      };
      const id = pick([k, k + 1, Math.floor(rnd() * 10 ** Math.floor(1 + rnd() * 15))]);
      const ts = pick([1_700_000_000_000 + k, Math.floor(rnd() * 1e9), Math.floor(rnd() * 2 ** 52), 0]);
      for (let i = 0; i < gws.length; i++) {
        const g = gws[i]!, e = encs[i]!;
        const s = new Uint32Array([k + 1, i + 7, 99, 12345]);
        const ref = referenceFrame(g, new WsFrameWriter(4096, new MaskKeys(new Uint32Array(s))), id, req, ts);
        expect(ref).not.toBeNull();
        const n = g.encodeFrame(e, id, req, ts, new MaskKeys(new Uint32Array(s)).next());
        expect(n).toBeGreaterThan(0);
        const got = e.out.slice(0, n);
        if (!Buffer.from(got).equals(Buffer.from(ref!))) expect(unmask(got)).toBe(unmask(ref!));
        expect(Buffer.from(got).equals(Buffer.from(ref!))).toBe(true);
        if (req.symbol === "ODD/USDT" || !(req.amount < 1e15)) textNumbers++;
        checked++;
      }
      // the signature in the frame is the HMAC of the sorted params (the venue's rule)
      const m = JSON.parse(unmask(encs[0]!.out.slice(0, gws[0]!.encodeFrame(encs[0]!, id, req, ts, 0))));
      const { signature, ...rest } = m.params;
      expect(signature).toBe(signer.sign(wsApiPayload(rest)));
      expect(m.id).toBe(id);
    }
    expect(checked).toBe(6000);
    expect(textNumbers).toBeGreaterThan(100);
    for (const g of gws) void g.close();
  });

  test("signature payloads across the 55/56/64-byte padding edges (API keys of 0..100 bytes, client ids of 1..64)", () => {
    // the signature payload's length crosses 55/56/64-byte padding edges and the text crosses the 126-byte header switch
    for (const apiKey of ["", "a", "ab".repeat(20), "x".repeat(100)]) {
      const g = new BinanceWsGateway({ url: URL_, apiKey: apiKey || "k", ...(apiKey ? { secret: SECRET } : { privateKey: ED_PRIV }), reconnect: false });
      const e = (g as unknown as { cenc: OrderFrameEncoder }).cenc;
      for (let len = 1; len <= 64; len++) {
        const req: OrderRequest = { clientOrderId: "c".repeat(len), venue: "binance", symbol: "BTC/USDT", side: "buy", type: "market", amount: 1 };
        const s = new Uint32Array([len, 1, 2, 3]);
        const ref = referenceFrame(g, new WsFrameWriter(4096, new MaskKeys(new Uint32Array(s))), 1, req, 1);
        const n = g.encodeFrame(e, 1, req, 1, new MaskKeys(new Uint32Array(s)).next());
        expect(Buffer.from(e.out.slice(0, n)).equals(Buffer.from(ref!))).toBe(true);
      }
      void g.close();
    }
  });

  test("a text under 126 bytes gets the 6-byte header (pieces left empty to make one)", () => {
    const e = new OrderFrameEncoder({ head: new Uint8Array(0), rw: new Uint8Array(0), keyPart: new Uint8Array(0), rwQuery: new Uint8Array(0) });
    const sym = new TextEncoder().encode("AB");
    const s = new Uint32Array([5, 6, 7, 8]);
    const n = e.place(1, 2, false, OrderConst.MARKET, 0, OrderConst.SHORTEST, 3, OrderConst.SHORTEST, "c", sym, "", new MaskKeys(new Uint32Array(s)).next());
    const frame = e.out.slice(0, n);
    expect(frame[1]! & 0x7f).toBeLessThan(126);
    const text = unmask(frame);
    expect(text).toBe(`{"id":1c","newOrderRespType":"RESULT","quantity":"3BUY","symbol":"AB","timestamp":2,"type":"MARKET"}}`);
    const w = new WsFrameWriter(4096, new MaskKeys(new Uint32Array(s)));
    const len = w.text(text);
    expect(Buffer.from(frame).equals(w.buf.subarray(w.start, w.start + len))).toBe(true);
  });

  test("declines what the byte path declines: JSON-unsafe or long client ids, ids/timestamps not whole; errors are clear", () => {
    const g = new BinanceWsGateway({ url: URL_, apiKey: KEY, secret: SECRET, reconnect: false });
    const e = (g as unknown as { cenc: OrderFrameEncoder }).cenc;
    const req = (cid: string): OrderRequest => ({ clientOrderId: cid, venue: "binance", symbol: "BTC/USDT", side: "buy", type: "limit", amount: 1, price: 2, timeInForce: "GTC" });
    expect(g.encodeFrame(e, 1, req('bad"id'), 1, 0)).toBe(OrderError.field);
    expect(g.encodeFrame(e, 1, req("bad\\id"), 1, 0)).toBe(OrderError.field);
    expect(g.encodeFrame(e, 1, req("é"), 1, 0)).toBe(OrderError.field);
    expect(g.encodeFrame(e, 1, req("x".repeat(65)), 1, 0)).toBe(OrderError.field);
    expect(g.encodeFrame(e, 1, req("x".repeat(64)), 1, 0)).toBeGreaterThan(0);
    expect(g.encodeFrame(e, 1.5, req("a"), 1, 0)).toBe(OrderError.field);
    expect(g.encodeFrame(e, 1, req("a"), -1, 0)).toBe(OrderError.field);
    expect(g.encodeFrame(e, 2 ** 53, req("a"), 1, 0)).toBe(OrderError.field);
    const long = new Uint8Array(OrderConst.PIECE + 1).fill(65);
    expect(() => new OrderFrameEncoder({ head: long, rw: new Uint8Array(1), keyPart: new Uint8Array(1), rwQuery: new Uint8Array(1) })).toThrow(SignError);
    expect(() => new OrderFrameEncoder({ head: long, rw: new Uint8Array(1), keyPart: new Uint8Array(1), rwQuery: new Uint8Array(1) })).toThrow(/head piece is 193 bytes/);
    expect(() => new OrderFrameEncoder({ secret: "", head: new Uint8Array(1), rw: new Uint8Array(1), keyPart: new Uint8Array(1), rwQuery: new Uint8Array(1) })).toThrow(/secret is empty/);
    // an API key too long for the C context: the gateway keeps the TypeScript path
    const big = new BinanceWsGateway({ url: URL_, apiKey: "K".repeat(300), secret: SECRET, reconnect: false });
    expect(big.nativeFrames).toBe(false);
    void g.close();
    void big.close();
  });

  test("every variant this CPU runs (base included) signs the same, with SHA-NI where the CPU has it", () => {
    const key = new Uint8Array(72), msg = new TextEncoder().encode("apiKey=k&newClientOrderId=x&timestamp=1"), outs: string[] = [];
    for (const v of VARIANTS) {
      let lib;
      try {
        chooseVariant(v);
        lib = openVariant(v);
      } catch {
        continue;
      }
      const s = lib.symbols;
      expect(s.bot4_sha256_impl()).toBe(hasShaNi() ? 2 : 1);
      expect(s.bot4_hmac_key_init(key, new TextEncoder().encode(SECRET), SECRET.length)).toBe(0);
      const out = new Uint8Array(64);
      expect(s.bot4_hmac_sha256_hex(key, msg, msg.length, out)).toBe(0);
      outs.push(dec.decode(out));
      lib.close();
    }
    expect(outs.length).toBeGreaterThanOrEqual(2);
    for (const o of outs) expect(o).toBe(new HmacSha256Signer(SECRET).sign("apiKey=k&newClientOrderId=x&timestamp=1"));
  });
});

describe("c/order.c order.cancel frames", () => {
  test("the C frame carries the TypeScript text's params, signature included (HMAC, Ed25519 session; random ids, 6 symbols, API keys and ids across padding edges)", () => {
    const syms = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "DOGE/USDT", "BNB/BTC", "XRP/USDT"];
    let checked = 0;
    for (const apiKey of ["k", "ab".repeat(20), KEY, "x".repeat(100)]) {
      for (const auth of ["hmac", "ed25519"] as const) {
        const g = new BinanceWsGateway({ url: URL_, apiKey, ...(auth === "hmac" ? { secret: SECRET } : { privateKey: ED_PRIV }), reconnect: false, recvWindow: 3000 });
        const e = (g as unknown as { ccancel: OrderFrameEncoder }).ccancel;
        expect(e).not.toBeNull();
        for (let k = 0; k < 300; k++) {
          const len = 1 + Math.floor(rnd() * 64);
          let cid = "";
          for (let i = 0; i < len; i++) cid += pick([...CID_CHARS]);
          const id = Math.floor(rnd() * 1e12), ts = 1_700_000_000_000 + Math.floor(rnd() * 1e9), sym = pick(syms);
          const mask = Math.floor(rnd() * 4294967296);
          const n = g.encodeCancelFrame(id, sym, cid, ts, mask);
          expect(n).toBeGreaterThan(0);
          const frame = e.out.slice(0, n);
          // one complete masked text frame: FIN + text, MASK bit, its length
          expect(frame[0]).toBe(0x81);
          expect(frame[1]! & 0x80).toBe(0x80);
          const got = JSON.parse(unmask(frame));
          const want = JSON.parse(g.encodeCancel(id, sym, cid, ts));
          expect(got).toEqual(want);
          // sorted by name, as the signature's payload; the signature last
          const keys = Object.keys(got.params).filter((k) => k !== "signature");
          expect(keys).toEqual([...keys].sort());
          if (auth === "hmac") expect(Object.keys(got.params).at(-1)).toBe("signature");
          if (auth === "hmac") {
            const { signature, ...rest } = got.params;
            expect(signature).toBe(new HmacSha256Signer(SECRET).sign(wsApiPayload(rest)));
          } else expect(got.params.signature).toBeUndefined();
          checked++;
        }
        void g.close();
      }
    }
    expect(checked).toBe(2400);
  });

  test("declines what it must: JSON-unsafe or long client ids, ids not whole (the gateway then sends the TypeScript text)", () => {
    const g = new BinanceWsGateway({ url: URL_, apiKey: KEY, secret: SECRET, reconnect: false });
    expect(g.encodeCancelFrame(1, "BTC/USDT", 'a"b', 1, 0)).toBe(OrderError.field);
    expect(g.encodeCancelFrame(1, "BTC/USDT", "a\\b", 1, 0)).toBe(OrderError.field);
    expect(g.encodeCancelFrame(1, "BTC/USDT", "c".repeat(65), 1, 0)).toBe(OrderError.field);
    expect(g.encodeCancelFrame(1.5, "BTC/USDT", "ok", 1, 0)).toBe(OrderError.field);
    expect(g.encodeCancelFrame(1, "BTC/USDT", "ok", -1, 0)).toBe(OrderError.field);
    expect(g.encodeCancelFrame(1, "BTC/USDT", "ok", 1, 0)).toBeGreaterThan(0);
    void g.close();
  });
});
