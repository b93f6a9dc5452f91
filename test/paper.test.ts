/**
 * `bot4 run` paper trading end to end, against the built binary: the simulated Binance USD-M
 * venue on 127.0.0.1 -> the native feed -> the engine thread's books, strategy, pre-trade risk,
 * simulated execution and order journal. Checks the trading figures against the journal on disk,
 * the metrics endpoint while it runs, SIGUSR2 (kill switch: trading halts, open orders cancelled),
 * SIGINT (clean stop: cancel all, journal flushed, latency summary printed), and refusals.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = join(import.meta.dir, "..", "build", "bot4");
const dir = mkdtempSync(join(tmpdir(), "bot4-paper-"));

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", BOT4_LOG_LEVEL: "warn", ...extra };
}

function run(args: string[], extra: Record<string, string> = {}) {
  const p = Bun.spawnSync([BIN, ...args], { cwd: dir, env: env(extra), stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}

function journalRows(path: string): { orders: Array<{ status: string; client_id: string }>; fills: number } {
  const db = new Database(path, { readonly: true });
  try {
    const orders = db.query("SELECT client_id, status FROM orders").all() as Array<{ status: string; client_id: string }>;
    const fills = (db.query("SELECT COUNT(*) AS n FROM fills").get() as { n: number }).n;
    return { orders, fills };
  } finally {
    db.close();
  }
}

const LIVE = new Set(["pending_new", "new", "partially_filled", "pending_cancel"]);

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`make\` (make test builds it first)`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bot4 run: paper trading", () => {
  test("the default strategy trades through risk and the simulated venue; the journal on disk agrees; a restart recovers from it", () => {
    const journal = join(dir, "j1.sqlite");
    const r = run(["run", "--duration", "6", "--speed", "4", "--json"], { BOT4_JOURNAL: journal });
    expect(r.err).not.toMatch(/bot4: /);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    expect(res.market).toBe("sim");
    for (const b of res.books) expect(b).toMatchObject({ synced: true, gaps: 0 });
    const t = res.trading;
    expect(t.strategyError).toBeNull();
    expect(t.killSwitch).toBeNull();
    expect(t.orders).toBeGreaterThan(5);
    // every accepted order was decided once, journaled once, and is finished after Ctrl-C/stop
    expect(t.latency.tickToDecision.count).toBe(t.orders);
    expect(t.latency.risk.count).toBe(t.orders + Object.values(t.riskRejects as Record<string, number>).reduce((a, b) => a + b, 0));
    expect(t.openOrders).toBe(0);
    expect(t.shutdown.stillLive).toBe(0);
    expect(t.journal).toMatchObject({ path: journal, submits: t.orders, refused: 0 });
    const rows = journalRows(journal);
    expect(rows.orders.length).toBe(t.orders);
    expect(rows.orders.filter((o) => LIVE.has(o.status))).toEqual([]);
    expect(rows.fills).toBe(t.fills);
    // positions: the fills' net amounts add up to the reported positions
    const pos = t.perInstrument.reduce((a: number, p: { position: number }) => a + Math.abs(p.position), 0);
    expect(Number.isFinite(pos)).toBe(true);
    expect(Number.isFinite(t.pnl)).toBe(true);

    // the same journal again: recovery runs first (nothing live to settle), new ids in a new session
    const r2 = run(["run", "--duration", "3", "--speed", "4", "--json"], { BOT4_JOURNAL: journal });
    expect(r2.code).toBe(0);
    const t2 = JSON.parse(r2.out).trading;
    // one recovery per venue (Binance USD-M and Kraken), nothing left live by the clean stop
    expect(t2.recovery.length).toBe(2);
    for (const rec of t2.recovery) expect(rec).toMatchObject({ liveBefore: 0, adopted: 0, refused: 0 });
    const rows2 = journalRows(journal);
    expect(rows2.orders.length).toBe(t.orders + t2.orders);
    expect(new Set(rows2.orders.map((o) => o.client_id)).size).toBe(rows2.orders.length);
    expect(rows2.orders.filter((o) => LIVE.has(o.status))).toEqual([]);
  }, 90_000);

  test("metrics while running; SIGUSR2 trips the kill switch (no new orders, all cancelled); SIGINT stops cleanly", async () => {
    const journal = join(dir, "j2.sqlite");
    const port = 20000 + Math.floor(Math.random() * 20000);
    const p = Bun.spawn([BIN, "run", "--speed", "4", "--metrics-port", String(port)], { cwd: dir, env: env({ BOT4_JOURNAL: journal }), stdout: "pipe", stderr: "pipe" });
    const metric = (text: string, name: string): number => {
      const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
      return m ? Number(m[1]) : NaN;
    };
    const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    try {
      let text = "";
      const t0 = Date.now();
      for (;;) {
        await Bun.sleep(250);
        try {
          text = await scrape();
          if (metric(text, "bot4_orders_total") > 3) break;
        } catch {
          // not listening yet
        }
        if (Date.now() - t0 > 40_000) throw new Error(`no orders within 40 s; last scrape:\n${text}`);
      }
      expect(metric(text, "bot4_kill_switch_tripped\\{reason=\"\"\\}")).toBe(0);
      expect(text).toMatch(/^bot4_stage_latency_seconds_count\{stage="tickToDecision"\} \d+$/m);
      expect(text).toMatch(/^bot4_book_usable\{instrument="binanceusdm:BTC\/USDT:USDT"\} 1$/m);
      const ready = await fetch(`http://127.0.0.1:${port}/ready`);
      expect(ready.status).toBe(200);

      p.kill("SIGUSR2");
      let tripped = "";
      for (let k = 0; k < 40 && !tripped; k++) {
        await Bun.sleep(250);
        text = await scrape();
        if (/^bot4_kill_switch_tripped\{reason="SIGNAL"\} 1$/m.test(text) && metric(text, "bot4_open_orders") === 0) tripped = text;
      }
      expect(tripped).not.toBe("");
      expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(503);
      const ordersAtTrip = metric(tripped, "bot4_orders_total");
      await Bun.sleep(1500);
      text = await scrape();
      expect(metric(text, "bot4_orders_total")).toBe(ordersAtTrip);
      expect(metric(text, "bot4_open_orders")).toBe(0);

      p.kill("SIGINT");
      const code = await p.exited;
      const out = await new Response(p.stdout).text();
      const err = await new Response(p.stderr).text();
      expect(code).toBe(0);
      expect(err).toMatch(/kill switch tripped/);
      expect(out).toMatch(/^stopped by signal/m);
      expect(out).toMatch(/kill switch TRIPPED \(SIGNAL: manual: SIGUSR2 received\)/);
      expect(out).toMatch(/^tickToDecision\s+\d+/m);
      expect(out).toMatch(/0 orders still live; journal .*flushed and closed/);
      const rows = journalRows(journal);
      expect(rows.orders.length).toBe(ordersAtTrip);
      expect(rows.orders.filter((o) => LIVE.has(o.status))).toEqual([]);
    } finally {
      p.kill("SIGKILL");
    }
  }, 90_000);

  test("a strategy that throws is stopped, its orders cancelled, exit 1 with the error in the report", () => {
    const file = join(dir, "thrower.ts");
    writeFileSync(
      file,
      `export default class Thrower {
  name = "thrower";
  n = 0;
  onStart(ctx) { this.ctx = ctx; this.btc = ctx.instrument("binanceusdm", "BTC/USDT:USDT"); }
  onBook(i) {
    if (i !== this.btc || !this.ctx.bookUsable(i)) return;
    if (this.n === 0) { this.n++; this.ctx.submit(i, 0, 0.001, this.ctx.bid(i) - 50); return; }
    if (++this.n > 200) throw new Error("boom from the strategy");
  }
}
`,
    );
    const r = run(["run", "--duration", "8", "--speed", "4", "--json", "--strategy", file, "--journal", "off"]);
    expect(r.code).toBe(1);
    const t = JSON.parse(r.out).trading;
    expect(t.strategyError).toBe("boom from the strategy");
    expect(t.orders).toBe(1);
    expect(t.openOrders).toBe(0);
    expect(t.journal).toBeNull();
  }, 60_000);

  test("BOT4_VENUES: paper trading on a venue's live market data (here the Binance USD-M simulator on 127.0.0.1 through the endpoint overrides)", async () => {
    const { startDefaultMarket } = await import("../src/sim/venues/binance.ts");
    const sim = startDefaultMarket({ speed: 4, loop: true });
    try {
      const venueEnv = { BOT4_VENUES: "binanceusdm", BOT4_SYMBOLS: "binanceusdm:BTCUSDT", BOT4_BINANCEUSDM_WS_URL: sim.wsUrl, BOT4_BINANCEUSDM_REST_URL: sim.httpUrl, BOT4_JOURNAL: "off" };
      const p = Bun.spawn([BIN, "run", "--duration", "5", "--json"], { cwd: dir, env: env(venueEnv), stdout: "pipe", stderr: "pipe" });
      const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
      expect(err).not.toMatch(/bot4: /);
      expect(code).toBe(0);
      const res = JSON.parse(out);
      expect(res.market).toBe("venues");
      expect(res.books.map((b: { symbol: string }) => b.symbol)).toEqual(["binanceusdm:BTC/USDT:USDT"]);
      expect(res.books[0]).toMatchObject({ synced: true, gaps: 0 });
      expect(res.live[0].counters.connects).toBe(1);
      expect(res.trading.orders).toBeGreaterThan(0);
      expect(res.trading.openOrders).toBe(0);
      // refusals: a symbol the venue does not list, a venue bot4 cannot connect to, a symbol of a venue not configured
      for (const [extra, pattern] of [
        [{ BOT4_SYMBOLS: "binanceusdm:NOPEUSDT" }, /does not list NOPEUSDT/],
        [{ BOT4_VENUES: "nosuchvenue", BOT4_SYMBOLS: "nosuchvenue:BTCUSDT" }, /nosuchvenue is not a venue bot4 can connect to/],
        [{ BOT4_SYMBOLS: "binance:BTCUSDT" }, /binance is not in BOT4_VENUES/],
        [{ BOT4_BINANCEUSDM_WS_URL: "http://x" }, /BOT4_BINANCEUSDM_WS_URL.*ws:\/\/ or wss:\/\//],
      ] as Array<[Record<string, string>, RegExp]>) {
        const r = Bun.spawn([BIN, "run", "--duration", "2"], { cwd: dir, env: env({ ...venueEnv, ...extra }), stdout: "pipe", stderr: "pipe" });
        const [c2, e2] = await Promise.all([r.exited, new Response(r.stderr).text()]);
        expect(c2).toBe(2);
        expect(e2).toMatch(pattern);
        expect(e2).not.toMatch(/\n\s+at /);
      }
    } finally {
      await sim.stop();
    }
  }, 90_000);

  test("bad strategy or risk configuration: one clear line, exit 2", () => {
    for (const [args, extra, pattern] of [
      [["--strategy", join(dir, "missing.ts")], {}, /strategy/i],
      [["--strategy", "no-such-builtin"], {}, /no-such-builtin/],
      [[], { BOT4_RISK: "{not json" }, /BOT4_RISK: not JSON/],
      [[], { BOT4_RISK: '{"maxPosition":-1}' }, /BOT4_RISK: maxPosition/],
      [[], { BOT4_RISK: '{"maxPositon":1}' }, /BOT4_RISK/],
      [["--params", "gamma"], {}, /--params/],
    ] as Array<[string[], Record<string, string>, RegExp]>) {
      const r = run(["run", "--duration", "2", "--journal", "off", ...args], extra);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^bot4: /);
      expect(r.err).toMatch(pattern);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  }, 60_000);
});
