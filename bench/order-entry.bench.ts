/**
 * Order entry: what it costs to turn a decided order into signed bytes on a socket.
 *  - signing: HMAC-SHA256 (hex) and Ed25519 (base64) of a Binance order payload (goal: <= 1 µs):
 *    Bun.CryptoHasher (string and byte paths) and, same run, the C kernel (c/sign.c: SHA-NI where
 *    the CPU has it, and the portable rounds forced, for reference);
 *  - encode + sign: BinanceWsGateway.encodePlace (the order.place text, params in sorted order,
 *    signed: HMAC key; Ed25519 logged-on session: no per-order signature);
 *  - encode + sign + frame: what submit does before the socket write — the C path (c/order.c:
 *    text + signature + masked frame in one FFI call) against the TypeScript byte path
 *    (encodePlaceInto + Bun.CryptoHasher HMAC + WsFrameWriter), same run, with the ratio;
 *  - encode + sign + write: BinanceWsGateway.submit into a loopback WebSocket (127.0.0.1, a
 *    server that discards), each call timed alone (Bun.nanoseconds) for P50 / P99 (goal: P99 <=
 *    15 µs for risk + route + encode + sign + write; risk and route are not in this figure —
 *    they run before submit, which is their hook). submit also keeps the tracker and pending
 *    entries, as in production;
 *  - reference, same run: ccxt's binance createOrderRequest + sign of the same order (markets
 *    loaded from the local venue), i.e. ccxt building and signing the REST request.
 */
import ccxt from "ccxt";
import { generateKeyPairSync } from "node:crypto";
import type { OrderRequest } from "../src/domain/order.ts";
import { HmacKey, useSha256, type OrderFrameEncoder } from "../ffi/sign.ts";
import { alignedBuffer } from "../ffi/buffers.ts";
import { BinanceWsGateway } from "../src/exec/gateway/binance-ws.ts";
import { MaskKeys, OP_TEXT, WsFrameWriter } from "../src/net/ws-frame.ts";
import { Ed25519Signer, HmacSha256Signer } from "../src/exec/gateway/sign.ts";
import { SimExchange } from "../src/exec/sim/exchange.ts";
import { pointUrlsAt } from "../src/feed/ccxt/adapter.ts";
import { startBinanceOrderVenue } from "../src/sim/binance-orders.ts";
import { createLogger } from "../src/telemetry/log.ts";
import { done, figure, micro, section } from "./harness.ts";

const SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const QUERY = "apiKey=" + KEY + "&newClientOrderId=bot4-000001&newOrderRespType=RESULT&price=49000.5&quantity=0.00123&recvWindow=5000&side=BUY&symbol=BTCUSDT&timeInForce=GTC&timestamp=1700000000000&type=LIMIT";
const edPem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const quiet = createLogger({ level: "silent" });

const hmac = new HmacSha256Signer(SECRET);
const edS = new Ed25519Signer(edPem);
const order: OrderRequest = { clientOrderId: "bot4-000001", venue: "binance", symbol: "BTC/USDT", side: "buy", type: "limit", amount: 0.00123, price: 49_000.5, timeInForce: "GTC" };

section("signing one order payload");
const hmacStr = await micro("hmac_sha256_sign", () => hmac.sign(QUERY));
const qBytes = new TextEncoder().encode(QUERY);
hmac.payload.set(qBytes, 0);
const sigOut = new Uint8Array(64);
const hmacInto = await micro("hmac_sha256_sign_into", () => hmac.signHexInto(qBytes.length, sigOut, 0));
await micro("ed25519_sign", () => edS.sign(QUERY));
figure("hmac_string_over_bytes", hmacStr / hmacInto, "x", "keyed-hasher copy + hex string / two SHA256.hash into preallocated buffers, same run");
// the C kernel on the same payload, in C-visible memory (addresses taken once: no allocation)
const cKey = new HmacKey(SECRET);
const cMem = alignedBuffer(4096);
new Uint8Array(cMem.buffer, cMem.byteOffset + 64, qBytes.length).set(qBytes);
// the closures read the addresses through cMem, so the buffer stays reachable while C writes into it
const cImpl = useSha256("auto");
const hmacC = await micro(`hmac_sha256_c_${cImpl}`, () => cKey.hexInto(cMem.ptr + 64, qBytes.length, cMem.ptr));
useSha256("portable");
const hmacCPortable = await micro("hmac_sha256_c_portable", () => cKey.hexInto(cMem.ptr + 64, qBytes.length, cMem.ptr));
useSha256("auto");
figure("hmac_bytes_over_c", hmacInto / hmacC, "x", `Bun.SHA256.hash byte path / C HMAC (${cImpl}), same run`);
figure("hmac_c_portable_over_c", hmacCPortable / hmacC, "x", `C portable rounds / C ${cImpl}, same run`);

section("encode + sign (order.place text)");
const gwH = new BinanceWsGateway({ url: "ws://127.0.0.1:9/ws-api/v3", apiKey: KEY, secret: SECRET, reconnect: false, log: quiet });
const gwE = new BinanceWsGateway({ url: "ws://127.0.0.1:9/ws-api/v3", apiKey: KEY, privateKey: edPem, reconnect: false, log: quiet });
const gwE2 = new BinanceWsGateway({ url: "ws://127.0.0.1:9/ws-api/v3", apiKey: KEY, privateKey: edPem, signEveryRequest: true, reconnect: false, log: quiet });
let n = 0;
const encStr = await micro("encode_sign_hmac", () => gwH.encodePlace(++n, order, 1_700_000_000_000 + n));
const encBytes = await micro("encode_sign_hmac_bytes", () => gwH.encodePlaceInto(++n, order, 1_700_000_000_000 + n));
await micro("encode_ed25519_session", () => gwE.encodePlace(++n, order, 1_700_000_000_000 + n));
await micro("encode_ed25519_session_bytes", () => gwE.encodePlaceInto(++n, order, 1_700_000_000_000 + n));
figure("encode_sign_string_over_bytes", encStr / encBytes, "x", "encodePlace (strings) / encodePlaceInto (bytes; what submit uses), HMAC, same run");
await micro("encode_sign_ed25519_each", () => gwE2.encodePlace(++n, order, 1_700_000_000_000 + n));

section("encode + sign + frame (what submit does before the socket write), HMAC key");
// the TypeScript byte path: encodePlaceInto (Bun.CryptoHasher HMAC) + WsFrameWriter (mask, copy)
const jsWriter = new WsFrameWriter();
const jsFrame = (gwH as unknown as { frame: Uint8Array }).frame;
const encFrameJs = await micro("encode_sign_frame_js", () => jsWriter.bytes(OP_TEXT, jsFrame, 0, gwH.encodePlaceInto(++n, order, 1_700_000_000_000 + n)));
// the C path: one FFI call (text + HMAC + masked frame), mask key from the same xoshiro generator
const cencH = (gwH as unknown as { cenc: OrderFrameEncoder }).cenc;
const masks = new MaskKeys();
const encFrameC = await micro("encode_sign_frame_c", () => gwH.encodeFrame(cencH, ++n, order, 1_700_000_000_000 + n, masks.next()));
const cencE = (gwE as unknown as { cenc: OrderFrameEncoder }).cenc;
await micro("encode_frame_c_ed25519_session", () => gwE.encodeFrame(cencE, ++n, order, 1_700_000_000_000 + n, masks.next()));
figure("encode_sign_frame_js_over_c", encFrameJs / encFrameC, "x", "TypeScript bytes + CryptoHasher + WsFrameWriter / one C call, same run");
await Promise.all([gwH.close(), gwE.close(), gwE2.close()]);

section("encode + sign + write to a loopback WebSocket (each call timed alone)");
let received = 0;
const sink = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("ws only", { status: 400 })), websocket: { message() { received++; }, perMessageDeflate: false } });
async function loopback(name: string, creds: { secret?: string; privateKey?: string }): Promise<void> {
  const gw = new BinanceWsGateway({ url: `ws://127.0.0.1:${sink.port}/ws-api/v3`, apiKey: KEY, ...creds, userData: false, limits: [], timeoutMs: 1e9, log: quiet });
  // Ed25519 sessions log on first; the discard server never answers, so the bench marks the session ready itself
  if (creds.privateKey) {
    gw.client.start();
    while (!gw.client.isOpen) await Bun.sleep(1);
    (gw as unknown as { ready: boolean }).ready = true;
  } else await gw.start();
  const N = 20_000, WARM = 2000;
  const t = new Float64Array(N);
  const req = { ...order };
  // client ids made before the loop (an engine's ids come from a counter, not a template string)
  const cids = Array.from({ length: N + WARM }, (_, i) => `bot4-${name}-${i}`);
  for (let i = 0; i < N + WARM; i++) {
    req.clientOrderId = cids[i]!;
    const a = Bun.nanoseconds();
    gw.submit(req);
    const b = Bun.nanoseconds();
    if (i >= WARM) t[i - WARM] = b - a;
    if ((i & 255) === 255) await Bun.sleep(0); // let the socket drain, as an engine loop would
  }
  t.sort();
  figure(`${name}_submit_p50_us`, t[N >> 1]! / 1000, "µs");
  figure(`${name}_submit_p99_us`, t[Math.floor(N * 0.99)]! / 1000, "µs");
  figure(`${name}_submit_max_us`, t[N - 1]! / 1000, "µs");
  // the stages of one submit, each timed alone on the same connection, interleaved so both paths
  // see the same load: C (encode+sign+frame in one call, then WsClient.sendFrame: one socket
  // write) and TypeScript (encodePlaceInto, then sendText: copy + mask + one socket write)
  const ce = new Float64Array(N), cw = new Float64Array(N), te = new Float64Array(N), tw = new Float64Array(N);
  const frame = (gw as unknown as { frame: Uint8Array }).frame;
  const enc = (gw as unknown as { cenc: OrderFrameEncoder }).cenc;
  const mk = new MaskKeys();
  for (let i = 0; i < N + WARM; i++) {
    req.clientOrderId = cids[i]!;
    const a = Bun.nanoseconds();
    const f = gw.encodeFrame(enc, 1e6 + i, req, 1_700_000_000_000 + i, mk.next());
    const b = Bun.nanoseconds();
    gw.client.sendFrame(enc.out, f);
    const c = Bun.nanoseconds();
    const len = gw.encodePlaceInto(2e6 + i, req, 1_700_000_000_000 + i);
    const d = Bun.nanoseconds();
    gw.client.sendText(frame, 0, len);
    const e = Bun.nanoseconds();
    if (i >= WARM) {
      ce[i - WARM] = b - a;
      cw[i - WARM] = c - b;
      te[i - WARM] = d - c;
      tw[i - WARM] = e - d;
    }
    if ((i & 255) === 255) await Bun.sleep(0);
  }
  for (const t of [ce, cw, te, tw]) t.sort();
  const p50 = (t: Float64Array) => t[N >> 1]! / 1000, p99 = (t: Float64Array) => t[Math.floor(N * 0.99)]! / 1000;
  figure(`${name}_stage_c_encode_sign_frame_p50_us`, p50(ce), "µs", `p99 ${p99(ce).toFixed(2)} (one FFI call: text + signature + masked frame)`);
  figure(`${name}_stage_c_write_p50_us`, p50(cw), "µs", `p99 ${p99(cw).toFixed(2)} (sendFrame: one socket write)`);
  figure(`${name}_stage_js_encode_sign_p50_us`, p50(te), "µs", `p99 ${p99(te).toFixed(2)} (encodePlaceInto)`);
  figure(`${name}_stage_js_frame_write_p50_us`, p50(tw), "µs", `p99 ${p99(tw).toFixed(2)} (sendText: copy + mask + one socket write)`);
  figure(`${name}_stage_js_over_c_p50`, (p50(te) + p50(tw)) / (p50(ce) + p50(cw)), "x", `encode..write, TypeScript / C, same run; p99 ratio ${((p99(te) + p99(tw)) / (p99(ce) + p99(cw))).toFixed(2)}`);
  await gw.close();
}
await loopback("hmac", { secret: SECRET });
await loopback("ed25519_session", { privateKey: edPem });
await Bun.sleep(50);
figure("loopback_frames_received", received, "frames");
sink.stop(true);

section("reference, same run: ccxt binance createOrderRequest + sign (REST)");
const ex = new SimExchange({ venue: "binance", balances: { USDT: 1e6 } });
ex.listSymbol({ symbol: "BTC/USDT", tickSize: 0.01, lotSize: 0.00001, minNotional: 5, base: "BTC", quote: "USDT" });
const venue = startBinanceOrderVenue({ exchange: ex, keys: [{ apiKey: KEY, secret: SECRET }] });
const cx = new (ccxt as any).binance({ apiKey: KEY, secret: SECRET, options: { fetchCurrencies: false, fetchMargins: false, adjustForTimeDifference: false, fetchMarkets: { types: ["spot"] } } });
cx.urls = { ...cx.urls, api: pointUrlsAt(cx.urls.api, venue.httpUrl, venue.wsUrl) };
await cx.loadMarkets();
const ccxtNs = await micro("ccxt_create_order_request_sign", () => {
  const r = cx.createOrderRequest("BTC/USDT", "limit", "buy", 0.00123, 49_000.5, { clientOrderId: "bot4-000001" });
  return cx.sign("order", "private", "POST", r);
});
await venue.stop();
const ours = await micro("encode_sign_hmac_again", () => gwH.encodePlace(++n, order, 1_700_000_000_000 + n));
figure("ccxt_over_ours_encode_sign", ccxtNs / ours, "x", "ccxt request+sign / our encode+sign (HMAC), same run");
done();
// every server and gateway above is closed, but ccxt's HTTP client can keep a handle open after
// loadMarkets, and `make bench` waits for this process: leave once the figures are out
process.exit(0);
