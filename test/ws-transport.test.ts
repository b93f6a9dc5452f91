/**
 * The JSON feeds' default transport (wsClientTransport): frames arrive as bytes in the client's
 * receive buffer, at an address a C parser can read, with no string made; a handler without
 * onBytes gets decoded text; sends and close work; a refused connection reports a close.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { toArrayBuffer } from "bun:ffi";
import { wsClientTransport } from "../src/feed/ws-session.ts";

let srv: ReturnType<typeof Bun.serve>;
const got: string[] = [];
beforeAll(() => {
  srv = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, s) {
      return s.upgrade(req) ? undefined : new Response("no", { status: 400 });
    },
    websocket: {
      open(ws) {
        ws.send('{"topic":"orderbook.50.BTCUSDT","type":"snapshot"}');
        ws.send("é€ ok");
      },
      message(ws, m) {
        got.push(String(m));
        if (m === "ping") ws.send("pong");
      },
    },
  });
});
afterAll(() => srv.stop(true));

async function until(f: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(2);
  }
}

test("bytes at a C-readable address, no string; sends and close", async () => {
  const frames: string[] = [];
  const texts: string[] = [];
  let opened = 0, closed = "";
  const t = wsClientTransport()(`ws://127.0.0.1:${srv.port}/`, {
    onOpen: () => opened++,
    onText: (s) => texts.push(s),
    onBytes: (buf, start, end, ptr) => {
      // what C would read at ptr is the frame itself
      const c = new Uint8Array(toArrayBuffer(ptr, 0, end - start));
      expect(c).toEqual(buf.subarray(start, end));
      frames.push(new TextDecoder().decode(c));
    },
    onClose: (r) => (closed = r),
  });
  await until(() => frames.length === 2);
  expect(opened).toBe(1);
  expect(frames).toEqual(['{"topic":"orderbook.50.BTCUSDT","type":"snapshot"}', "é€ ok"]);
  expect(texts).toEqual([]);
  expect(t.send("ping")).toBe(true);
  await until(() => frames.length === 3);
  expect(frames[2]).toBe("pong");
  expect(got).toContain("ping");
  t.close();
  await until(() => closed !== "");
  expect(t.send("late")).toBe(false);
});

test("a handler without onBytes gets decoded text", async () => {
  const texts: string[] = [];
  const t = wsClientTransport()(`ws://127.0.0.1:${srv.port}/`, { onOpen: () => {}, onText: (s) => texts.push(s), onClose: () => {} });
  await until(() => texts.length === 2);
  expect(texts[1]).toBe("é€ ok");
  t.close();
});

test("nothing listening: the transport reports a close (the session reconnects with its own backoff)", async () => {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  let closed = "";
  wsClientTransport()(`ws://127.0.0.1:${port}/`, { onOpen: () => {}, onText: () => {}, onClose: (r) => (closed = r) });
  await until(() => closed !== "");
  expect(closed.length).toBeGreaterThan(0);
});
