/**
 * WebSocket receive path: a local Bun.serve server (a child process, so its CPU is not ours)
 * pushes one real Binance USD-M depthUpdate frame (../shared/data/hftbacktest) N times as text
 * frames; the client side counts messages/s and its own CPU time per message
 * (process.cpuUsage: reads, frame parsing, delivery, GC), and the round trip with one frame in
 * flight (ask -> the frame's bytes in the handler: both send paths, the server, one receive), for,
 * in the same run:
 *   - WsClient (src/net/ws-client.ts): the handler gets (buf, start, end) in the reusable
 *     receive buffer, i.e. what a C parser needs (rxAddress + start, length);
 *   - Bun's built-in WebSocket: onmessage gets a string; plus TextEncoder.encodeInto into a
 *     reusable buffer, the step a C parser needs on that path (and the string alone, for scale).
 * Also, without sockets: WsFrameReader parse + deliver per message from 64 KiB reads, and
 * encodeInto of the frame alone. Figures are medians over REPS runs; the client order rotates.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { WsClient } from "../src/net/ws-client.ts";
import { OP_TEXT, WsFrameReader } from "../src/net/ws-frame.ts";
import { done, figure, micro, perItem, percentiles, section } from "./harness.ts";

const FILE = resolve(import.meta.dir, "../../shared/data/hftbacktest/binance-usdm/btcusdt_20240808.gz");
const QUICK = process.argv.includes("--quick");
const REPS = QUICK ? 3 : 7;
const N = QUICK ? 50_000 : 200_000;

/** A typical depthUpdate: the median-sized one among the first 2000 in the capture. */
function depthFrame(): string {
  const text = new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(readFileSync(FILE))));
  const picked: string[] = [];
  let at = 0;
  while (picked.length < 2000 && at < text.length) {
    let nl = text.indexOf("\n", at);
    if (nl < 0) nl = text.length;
    const line = text.slice(at, nl);
    at = nl + 1;
    const sp = line.indexOf(" ");
    if (sp > 0 && line.includes('"e":"depthUpdate"')) picked.push(line.slice(sp + 1));
  }
  picked.sort((a, b) => a.length - b.length);
  return picked[picked.length >> 1]!;
}

// ---- server mode (child process) --------------------------------------------------------------

if (process.argv.includes("--server")) {
  const frame = depthFrame();
  let dropped = 0;
  const server = Bun.serve<{ left: number }>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, s) {
      return s.upgrade(req, { data: { left: 0 } }) ? undefined : new Response("upgrade only", { status: 400 });
    },
    websocket: {
      backpressureLimit: 256 << 20,
      closeOnBackpressureLimit: false,
      message(ws, m) {
        ws.data.left = Number(m);
        pump(ws);
      },
      drain(ws) {
        pump(ws);
      },
    },
  });
  function pump(ws: import("bun").ServerWebSocket<{ left: number }>): void {
    let pressed = false;
    while (ws.data.left > 0 && !pressed) {
      ws.cork(() => {
        for (let k = 0; k < 64 && ws.data.left > 0; k++) {
          const r = ws.send(frame);
          ws.data.left--;
          if (r === 0) dropped++;
          if (r === -1) pressed = true;
        }
      });
    }
    if (dropped > 0) console.error(`bench server dropped ${dropped} frames`);
  }
  process.stdout.write(JSON.stringify({ port: server.port }) + "\n");
  // the parent kills us; stdin closing means it is gone
  for await (const _ of Bun.stdin.stream()) {
    /* keep alive until stdin closes */
  }
  server.stop(true);
  process.exit(0);
}

// ---- client side ------------------------------------------------------------------------------

if (!existsSync(FILE)) {
  console.error(`skipping ws bench: ${FILE} is absent`);
  done();
  process.exit(0);
}
const frame = depthFrame();
const frameBytes = new TextEncoder().encode(frame);
section(`WebSocket receive: Binance USD-M depthUpdate, ${frameBytes.length} bytes, ${N} messages per run, ${REPS} runs`);

const child = Bun.spawn([process.execPath, import.meta.path, "--server"], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
const reader = child.stdout.getReader();
let head = "";
while (!head.includes("\n")) {
  const { value, done: eof } = await reader.read();
  if (eof) throw new Error("bench server exited before printing its port");
  head += new TextDecoder().decode(value);
}
reader.releaseLock();
const port = (JSON.parse(head.split("\n")[0]!) as { port: number }).port;
const url = `ws://127.0.0.1:${port}/`;

interface Receiver {
  name: string;
  /** asks the server for n frames */
  ask(n: number): void;
  close(): void;
  check(): void;
  /** socket bytes and reads so far (WsClient only) */
  reads?: () => { bytes: number; reads: number };
}

let sink = 0;
const RTT_N = QUICK ? 5_000 : 20_000;

/**
 * Every receiver calls arrived() once its handler has the message's bytes. Flood: count down.
 * Round trip: stamp the arrival, ask for the next frame (one in flight at a time).
 */
const drv = { left: 0, rtt: false, i: 0, tAsk: 0, samples: new Float64Array(RTT_N), r: null as Receiver | null, done: () => {} };
function arrived(): void {
  if (!drv.rtt) {
    if (--drv.left === 0) drv.done();
    return;
  }
  drv.samples[drv.i++] = performance.now() - drv.tAsk;
  if (drv.i === RTT_N) drv.done();
  else {
    drv.tAsk = performance.now();
    drv.r!.ask(1);
  }
}
function flood(r: Receiver, n: number): Promise<void> {
  return new Promise<void>((res) => {
    Object.assign(drv, { rtt: false, left: n, r, done: res });
    r.ask(n);
  });
}
function roundTrips(r: Receiver): Promise<Float64Array> {
  return new Promise<Float64Array>((res) => {
    Object.assign(drv, { rtt: true, i: 0, r, done: () => res(drv.samples.slice()) });
    drv.tAsk = performance.now();
    r.ask(1);
  });
}

async function ours(): Promise<Receiver> {
  let ok = 0;
  let c!: WsClient;
  const opened = new Promise<void>((res, rej) => {
    c = new WsClient({
      url,
      stallMs: 0,
      reconnect: false,
      maxMessageBytes: 1 << 20,
      onOpen: () => res(),
      onClose: (why) => rej(new Error(`WsClient closed: ${why}`)),
      onMessage: (buf, start, end) => {
        // what a C parser is handed: address and length, no copy
        sink += c.rxAddress + start + buf[start]!;
        if (end - start === frameBytes.length) ok++;
        arrived();
      },
    });
    c.start();
  });
  await opened;
  return {
    name: "wsclient",
    ask: (n) => void c.send(String(n)),
    close: () => void c.close(),
    check: () => {
      const k = c.counters;
      if (ok !== k.messages) throw new Error(`WsClient delivered ${k.messages - ok} messages of the wrong length`);
    },
    reads: () => ({ bytes: c.counters.bytesIn, reads: c.counters.reads }),
  };
}

async function bunWs(encode: boolean): Promise<Receiver> {
  const ws = new WebSocket(url);
  const scratch = new Uint8Array(1 << 20);
  const enc = new TextEncoder();
  let bad = 0;
  ws.onmessage = encode
    ? (ev: MessageEvent) => {
        const w = enc.encodeInto(ev.data as string, scratch).written;
        if (w !== frameBytes.length) bad++;
        sink += w + scratch[0]!;
        arrived();
      }
    : (ev: MessageEvent) => {
        sink += (ev.data as string).length;
        arrived();
      };
  await new Promise<void>((res, rej) => {
    ws.onopen = () => res();
    ws.onerror = () => rej(new Error("Bun WebSocket failed to open"));
  });
  return {
    name: encode ? "bun_ws_encode" : "bun_ws_string",
    ask: (n) => ws.send(String(n)),
    close: () => ws.close(),
    check: () => {
      if (bad > 0) throw new Error(`Bun WebSocket: ${bad} messages encoded to the wrong length`);
    },
  };
}

const receivers = [await ours(), await bunWs(true), await bunWs(false)];
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const floodReads: number[] = [];
const rate: Record<string, number[]> = {}, cpu: Record<string, number[]> = {}, rtt50: Record<string, number[]> = {}, rtt99: Record<string, number[]> = {};
for (const r of receivers) {
  rate[r.name] = [];
  cpu[r.name] = [];
  rtt50[r.name] = [];
  rtt99[r.name] = [];
  await flood(r, N >> 2); // warm-up
  await roundTrips(r);
}
for (let rep = 0; rep < REPS; rep++) {
  for (let k = 0; k < receivers.length; k++) {
    const r = receivers[(rep + k) % receivers.length]!;
    Bun.gc(true);
    const r0 = r.reads?.();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await flood(r, N);
    const t1 = performance.now();
    const c1 = process.cpuUsage(c0);
    const r1 = r.reads?.();
    if (r0 && r1) floodReads.push((r1.bytes - r0.bytes) / (r1.reads - r0.reads));
    rate[r.name]!.push(N / ((t1 - t0) / 1e3));
    cpu[r.name]!.push(((c1.user + c1.system) * 1e3) / N);
    const p = percentiles(await roundTrips(r));
    rtt50[r.name]!.push(p.p50 * 1e3); // ms -> us
    rtt99[r.name]!.push(p.p99 * 1e3);
  }
}
for (const r of receivers) {
  r.check();
  r.close();
}
child.stdin.end();
child.kill();
await child.exited;

section("over a local socket (server in a child process)");
figure("wsclient_bytes_per_read", median(floodReads), "B", `${(median(floodReads) / frameBytes.length).toFixed(0)} messages per socket read while flooded`);
figure("wsclient_msgs_per_s", median(rate.wsclient!), "msg/s", "WsClient, bytes to the handler");
figure("bun_ws_encode_msgs_per_s", median(rate.bun_ws_encode!), "msg/s", "Bun WebSocket string + encodeInto");
figure("bun_ws_string_msgs_per_s", median(rate.bun_ws_string!), "msg/s", "Bun WebSocket string only");
figure("wsclient_cpu_ns_per_msg", median(cpu.wsclient!), "ns/msg", "client process CPU per message, receive -> handler has the bytes");
figure("bun_ws_encode_cpu_ns_per_msg", median(cpu.bun_ws_encode!), "ns/msg", "same, Bun WebSocket + encodeInto (what a C parser needs)");
figure("bun_ws_string_cpu_ns_per_msg", median(cpu.bun_ws_string!), "ns/msg", "same, Bun WebSocket string only");
figure("wsclient_cpu_vs_bun_encode", median(cpu.bun_ws_encode!) / median(cpu.wsclient!), "x", "CPU per message, Bun + encodeInto / WsClient");
section(`round trip, one frame in flight: ask (a send) -> the frame's bytes in the handler, ${RTT_N} per run`);
for (const name of ["wsclient", "bun_ws_encode", "bun_ws_string"]) {
  figure(`${name}_rtt_p50_us`, median(rtt50[name]!), "us", "median over runs of the run's p50");
  figure(`${name}_rtt_p99_us`, median(rtt99[name]!), "us", "median over runs of the run's p99");
}

// ---- without sockets -------------------------------------------------------------------------

section("in memory: one 64 KiB read at a time");
const one = new Uint8Array(2 + (frameBytes.length > 125 ? (frameBytes.length > 65535 ? 8 : 2) : 0) + frameBytes.length);
one[0] = 0x80 | OP_TEXT;
let h = 2;
if (frameBytes.length > 65535) throw new Error("depth frame unexpectedly large");
if (frameBytes.length > 125) {
  one[1] = 126;
  one[2] = frameBytes.length >>> 8;
  one[3] = frameBytes.length & 255;
  h = 4;
} else one[1] = frameBytes.length;
one.set(frameBytes, h);
const perChunk = Math.floor(65536 / one.length);
const chunk = new Uint8Array(perChunk * one.length);
for (let i = 0; i < perChunk; i++) chunk.set(one, i * one.length);
const CHUNKS = 200;
let delivered = 0;
const fr = new WsFrameReader({
  message: (buf, s) => {
    delivered++;
    sink += buf[s]!;
  },
  control: () => {},
});
const parseNs = perItem(() => {
  for (let i = 0; i < CHUNKS; i++) fr.push(chunk);
}, CHUNKS * perChunk, 9);
if (delivered !== 9 * CHUNKS * perChunk) throw new Error(`reader delivered ${delivered}`);
figure("reader_push_ns_per_msg", parseNs, "ns/msg", `WsFrameReader copy + parse + deliver, ${perChunk} frames per read`);
const scratch = new Uint8Array(1 << 20);
const te = new TextEncoder();
await micro("encode_into_depth_frame", () => te.encodeInto(frame, scratch));
done();
if (sink === 0.5) console.log(sink);
