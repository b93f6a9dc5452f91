import { afterAll, describe, expect, test } from "bun:test";
import { latencySummary, MetricsError, MetricsRegistry, serveMetrics, type HealthState } from "../src/telemetry/metrics.ts";

describe("MetricsRegistry", () => {
  test("renders the text exposition format: HELP/TYPE, labels escaped, summaries with quantiles, _sum, _count", () => {
    const reg = new MetricsRegistry();
    let consumed = 10;
    reg.register("bot4_ticks_consumed_total", "counter", "tick records consumed by the engine", () => [{ value: consumed }]);
    const rejects = reg.counter("bot4_risk_rejects_total", "orders refused by pre-trade risk, by reason");
    rejects.inc({ reason: "PRICE_COLLAR" });
    rejects.inc({ reason: "PRICE_COLLAR" }, 2);
    rejects.inc({ reason: 'odd"\\\nname' });
    reg.register("bot4_book_in_sync", "gauge", "1 when the book is in sync", () => [{ labels: { venue: "binanceusdm", symbol: "BTC/USDT:USDT" }, value: 1 }, { labels: { venue: "bybit", symbol: "BTCUSDT" }, value: 0 }]);
    reg.register("bot4_stage_latency_seconds", "summary", "latency per stage", () => [latencySummary({ count: 4, mean: 2000, p50: 1500, p90: 3000, p99: 4000, p999: 4000 }, { stage: "parse" })]);
    consumed = 12;
    const text = reg.render();
    expect(text).toBe(
      [
        "# HELP bot4_ticks_consumed_total tick records consumed by the engine",
        "# TYPE bot4_ticks_consumed_total counter",
        "bot4_ticks_consumed_total 12",
        "# HELP bot4_risk_rejects_total orders refused by pre-trade risk, by reason",
        "# TYPE bot4_risk_rejects_total counter",
        'bot4_risk_rejects_total{reason="PRICE_COLLAR"} 3',
        'bot4_risk_rejects_total{reason="odd\\"\\\\\\nname"} 1',
        "# HELP bot4_book_in_sync 1 when the book is in sync",
        "# TYPE bot4_book_in_sync gauge",
        'bot4_book_in_sync{venue="binanceusdm",symbol="BTC/USDT:USDT"} 1',
        'bot4_book_in_sync{venue="bybit",symbol="BTCUSDT"} 0',
        "# HELP bot4_stage_latency_seconds latency per stage",
        "# TYPE bot4_stage_latency_seconds summary",
        'bot4_stage_latency_seconds{stage="parse",quantile="0.5"} 0.0000015',
        'bot4_stage_latency_seconds{stage="parse",quantile="0.9"} 0.000003',
        'bot4_stage_latency_seconds{stage="parse",quantile="0.99"} 0.000004',
        'bot4_stage_latency_seconds{stage="parse",quantile="0.999"} 0.000004',
        'bot4_stage_latency_seconds_sum{stage="parse"} 0.000008',
        'bot4_stage_latency_seconds_count{stage="parse"} 4',
        "",
      ].join("\n"),
    );
  });

  test("refuses bad names, double registration, a counter going down; a failing collector does not break the scrape", () => {
    const reg = new MetricsRegistry();
    expect(() => reg.register("bad-name", "gauge", "x", () => [])).toThrow(MetricsError);
    expect(() => reg.register("bot4_things", "counter", "x", () => [])).toThrow(/should end in _total/);
    reg.register("bot4_ok", "gauge", "fine", () => [{ value: 1 }]);
    expect(() => reg.register("bot4_ok", "gauge", "again", () => [])).toThrow(/registered twice/);
    expect(() => reg.counter("bot4_c_total", "c").inc(undefined, -1)).toThrow(/cannot go down/);
    reg.register("bot4_broken", "gauge", "throws", () => {
      throw new Error("engine gone");
    });
    reg.register("bot4_after", "gauge", "still rendered", () => [{ value: NaN }, { labels: { a: "b" }, value: Infinity }]);
    const text = reg.render();
    expect(text).toContain("# collector of bot4_broken failed: engine gone");
    expect(text).toContain("bot4_after NaN\n");
    expect(text).toContain('bot4_after{a="b"} +Inf\n');
    expect(() => {
      const r = new MetricsRegistry();
      r.register("bot4_x", "gauge", "x", () => [{ labels: { "bad-label": 1 }, value: 1 }]);
      return r.render();
    }).not.toThrow(); // reported inside the output as a failed collector
  });
});

describe("serveMetrics", () => {
  const reg = new MetricsRegistry();
  reg.register("bot4_up", "gauge", "1 while the engine runs", () => [{ value: 1 }]);
  let state: HealthState = { live: true, ready: false, detail: { books: "resyncing" } };
  const srv = serveMetrics(reg, () => state, { port: 0 });
  afterAll(() => srv.stop());

  test("binds 127.0.0.1 and serves /metrics with the text content type", async () => {
    expect(srv.url).toStartWith("http://127.0.0.1:");
    const r = await fetch(`${srv.url}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("version=0.0.4");
    expect(await r.text()).toContain("bot4_up 1\n");
  });

  test("/health follows liveness, /ready readiness, with detail; unknown paths 404; POST 405", async () => {
    let r = await fetch(`${srv.url}/health`);
    expect(r.status).toBe(200);
    r = await fetch(`${srv.url}/ready`);
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ status: "unavailable", ready: false, books: "resyncing" });
    state = { live: true, ready: true, detail: {} };
    expect((await fetch(`${srv.url}/ready`)).status).toBe(200);
    state = { live: false, ready: false, detail: { why: "engine stopped" } };
    expect((await fetch(`${srv.url}/health`)).status).toBe(503);
    expect((await fetch(`${srv.url}/nope`)).status).toBe(404);
    expect((await fetch(`${srv.url}/metrics`, { method: "POST" })).status).toBe(405);
  });

  test("a port in use is refused with what to do", () => {
    expect(() => serveMetrics(reg, () => state, { port: srv.port })).toThrow(/BOT4_METRICS_PORT/);
  });
});
