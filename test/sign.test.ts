import { describe, expect, test } from "bun:test";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { HmacKey, hasShaNi, sha256, useSha256 } from "../ffi/sign.ts";
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

describe("C SHA-256 and HMAC-SHA256 (c/sign.c), SHA-NI and portable", () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const impls = (hasShaNi() ? ["shani", "portable"] : ["portable"]) as Array<"shani" | "portable">;
  // a deterministic generator, so a failure names the case that broke
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => (rnd() * 256) | 0);

  test("the compression function is chosen by CPU and can be forced", () => {
    expect(useSha256("auto")).toBe(hasShaNi() ? "shani" : "portable");
    expect(useSha256("portable")).toBe("portable");
    expect(useSha256("shani")).toBe(hasShaNi() ? "shani" : "portable");
    useSha256("auto");
  });

  for (const impl of impls) {
    test(`${impl}: SHA-256 and HMAC-SHA256 agree with Bun.CryptoHasher, messages 0..300 bytes, random keys 0..200 bytes`, () => {
      expect(useSha256(impl)).toBe(impl);
      try {
        let n = 0;
        for (let len = 0; len <= 300; len++) {
          const m = bytes(len);
          expect(hex(sha256(m))).toBe(new Bun.CryptoHasher("sha256").update(m).digest("hex"));
          for (let r = 0; r < 3; r++) {
            const key = bytes(r === 0 ? (len * 7) % 201 : r === 1 ? 64 : (rnd() * 200) | 0);
            if (key.length === 0) continue; // the empty key is checked against createHmac below
            expect(new HmacKey(key).hex(m)).toBe(new Bun.CryptoHasher("sha256", key).update(m).digest("hex"));
            n++;
          }
        }
        expect(n).toBeGreaterThan(600);
        expect(new HmacKey(new Uint8Array(0)).hex("abc")).toBe(createHmac("sha256", Buffer.alloc(0)).update("abc").digest("hex"));
        // longer messages cross many blocks
        for (const len of [1000, 4096, 10_000]) {
          const m = bytes(len);
          expect(new HmacKey(SECRET).hex(m)).toBe(createHmac("sha256", SECRET).update(m).digest("hex"));
        }
      } finally {
        useSha256("auto");
      }
    });

    test(`${impl}: RFC 4231 HMAC-SHA256 test cases 1-7`, () => {
      useSha256(impl);
      try {
        const h = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
        const t = (s: string) => new TextEncoder().encode(s);
        const cases: Array<[Uint8Array, Uint8Array, string]> = [
          [new Uint8Array(20).fill(0x0b), t("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"],
          [t("Jefe"), t("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"],
          [new Uint8Array(20).fill(0xaa), new Uint8Array(50).fill(0xdd), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"],
          [h("0102030405060708090a0b0c0d0e0f10111213141516171819"), new Uint8Array(50).fill(0xcd), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"],
          // test case 5 is truncated to 128 bits by the RFC
          [new Uint8Array(20).fill(0x0c), t("Test With Truncation"), "a3b6167473100ee06e0c796c2955552b"],
          [new Uint8Array(131).fill(0xaa), t("Test Using Larger Than Block-Size Key - Hash Key First"), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"],
          [new Uint8Array(131).fill(0xaa), t("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm."), "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"],
        ];
        for (const [key, data, want] of cases) expect(new HmacKey(key).hex(data).slice(0, want.length)).toBe(want);
        // FIPS 180-4 examples: "abc" and the two-block message
        expect(hex(sha256(t("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        expect(hex(sha256(t("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
      } finally {
        useSha256("auto");
      }
    });
  }

  test("Binance's documented signatures through the C key", () => {
    const q = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
    expect(new HmacKey(SECRET).hex(q)).toBe("c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
  });
});
