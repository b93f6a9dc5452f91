import { describe, expect, test } from "bun:test";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { Ed25519Signer, HmacSha256Signer, hexEqual, signerFromConfig, verifyEd25519, wsApiPayload } from "../src/exec/gateway/sign.ts";

// Binance's documented example key (REST "SIGNED endpoint examples" and WebSocket API "SIGNED request example (HMAC)")
const SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

describe("HMAC-SHA256", () => {
  test("reproduces Binance's REST example signature", () => {
    const s = new HmacSha256Signer(SECRET);
    const q = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
    expect(s.sign(q)).toBe("c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
  });

  test("reproduces Binance's WebSocket API example: sorted params, then HMAC", () => {
    const params = { symbol: "BTCUSDT", side: "SELL", type: "LIMIT", timeInForce: "GTC", quantity: "0.01000000", price: "52000.00", newOrderRespType: "ACK", recvWindow: 100, timestamp: 1645423376532, apiKey: API_KEY };
    const payload = wsApiPayload(params);
    expect(payload).toBe(`apiKey=${API_KEY}&newOrderRespType=ACK&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT`);
    expect(new HmacSha256Signer(SECRET).sign(payload)).toBe("cc15477742bd704c29492d96c7ead9414dfd8e0ec4a00f947bb5bb454ddbd08a");
  });

  test("the keyed state is reused without leaking between calls and agrees with node's createHmac", () => {
    const s = new HmacSha256Signer("k3y");
    for (const p of ["", "a", "timestamp=1", "x".repeat(1000), "a"]) expect(s.sign(p)).toBe(createHmac("sha256", "k3y").update(p).digest("hex"));
  });

  test("signHexInto (byte path, no allocation) agrees with createHmac, keys shorter and longer than a block", () => {
    const enc = new TextEncoder(), dec = new TextDecoder();
    for (const key of ["k3y", SECRET, "x".repeat(64), "y".repeat(65), "z".repeat(200)]) {
      const s = new HmacSha256Signer(key);
      for (const p of ["", "a", "timestamp=1", "q".repeat(55), "q".repeat(56), "w".repeat(1000), "a"]) {
        const b = enc.encode(p);
        s.payload.set(b, 0);
        const out = new Uint8Array(70).fill(33);
        s.signHexInto(b.length, out, 3);
        expect(dec.decode(out.subarray(3, 67))).toBe(createHmac("sha256", key).update(p).digest("hex"));
        expect(out[2]).toBe(33);
        expect(out[67]).toBe(33);
      }
    }
    expect(() => new HmacSha256Signer("k", 16).signHexInto(17, new Uint8Array(64), 0)).toThrow(/at most 16/);
  });

  test("empty secret is refused; hex comparison is case-insensitive and length-checked", () => {
    expect(() => new HmacSha256Signer("")).toThrow(/empty/);
    expect(hexEqual("abCD", "ABcd")).toBe(true);
    expect(hexEqual("abcd", "abce")).toBe(false);
    expect(hexEqual("abcd", "abc")).toBe(false);
  });
});

describe("Ed25519", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const pubPem = publicKey.export({ type: "spki", format: "pem" }).toString();

  test("signs base64, verifies against the public key, deterministic; tampering fails", () => {
    const s = new Ed25519Signer(pem);
    const p = "apiKey=abc&timestamp=1668481559918";
    const sig = s.sign(p);
    expect(Buffer.from(sig, "base64").length).toBe(64);
    expect(s.sign(p)).toBe(sig);
    expect(verifyEd25519(pubPem, p, sig)).toBe(true);
    expect(verifyEd25519(pubPem, p + "0", sig)).toBe(false);
    expect(s.publicKeyPem).toBe(pubPem);
  });

  test("a 32-byte seed (hex or base64) gives the same key as its PEM", () => {
    const der = privateKey.export({ type: "pkcs8", format: "der" });
    const seed = der.subarray(der.length - 32);
    const a = new Ed25519Signer(seed.toString("hex"));
    const b = new Ed25519Signer(seed.toString("base64"));
    expect(a.sign("x=1")).toBe(new Ed25519Signer(pem).sign("x=1"));
    expect(b.sign("x=1")).toBe(a.sign("x=1"));
  });

  test("bad keys get clear errors", () => {
    expect(() => new Ed25519Signer("-----BEGIN PRIVATE KEY-----\nzzz\n-----END PRIVATE KEY-----")).toThrow(/does not parse/);
    expect(() => new Ed25519Signer("abcd")).toThrow(/32-byte seed/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    expect(() => new Ed25519Signer(rsa)).toThrow(/not ed25519/);
    expect(() => signerFromConfig({ apiKey: "k" })).toThrow(/no credentials/);
    expect(() => signerFromConfig({ apiKey: "k", secret: "s", privateKey: pem })).toThrow(/not both/);
    expect(signerFromConfig({ apiKey: "k", secret: "s" }).kind).toBe("hmac-sha256");
  });
});
