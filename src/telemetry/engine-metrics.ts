/**
 * The running engine's metrics, read at scrape time from the shared blocks the engine and feeds
 * publish into (control counters, the trading status, the risk block's reject counters and kill
 * switch): the hot path pays nothing for a scrape.
 */
import type { Control } from "../engine/control.ts";
import { F } from "../engine/control.ts";
import { S, STAGES, type TradingStatus } from "../engine/status.ts";
import type { KillSwitch, RiskLimits } from "../risk/pretrade.ts";
import { latencySummary, MetricsRegistry, type HealthState } from "./metrics.ts";

export interface EngineMetricsSources {
  control: Control;
  /** feed index -> venue label */
  feeds: string[];
  /** instrument id -> `venue:symbol` */
  instruments: string[];
  status: TradingStatus | null;
  limits: RiskLimits | null;
  kill: KillSwitch | null;
  /** book state per instrument id from the engine (null: not known yet) */
  startedAtMs: number;
}

export function engineMetrics(src: EngineMetricsSources): { registry: MetricsRegistry; health: () => HealthState } {
  const reg = new MetricsRegistry();
  const c = src.control.f64;
  reg.register("bot4_ticks_consumed_total", "counter", "tick records consumed by the engine", () => [{ value: c[F.CONSUMED]! }]);
  reg.register("bot4_trades_applied_total", "counter", "trade records applied to instrument state", () => [{ value: c[F.TRADES]! }]);
  reg.register("bot4_feed_records_total", "counter", "records published by each feed into its ring", () => src.feeds.map((venue, f) => ({ labels: { feed: f, venue }, value: c[F.FEED_PRODUCED + f]! })));
  reg.register("bot4_feed_dropped_total", "counter", "records a full ring could not take (never silent)", () => src.feeds.map((venue, f) => ({ labels: { feed: f, venue }, value: c[F.FEED_DROPPED + f]! })));
  reg.register("bot4_engine_parks_total", "counter", "times the engine parked for lack of data", () => [{ value: c[F.PARKS]! }]);
  reg.register("bot4_receive_to_consume_p99_seconds", "gauge", "P99 receive-to-consume latency of the last one-second window", () => [{ value: c[F.LAT_LAST_P99]! / 1e9 }]);
  reg.register("bot4_uptime_seconds", "gauge", "seconds since the engine started", () => [{ value: (Date.now() - src.startedAtMs) / 1000 }]);
  const st = src.status;
  if (st) {
    reg.register("bot4_stage_latency_seconds", "summary", "engine stage latencies (tickToDecision: batch start to order handed to the gateway)", () =>
      STAGES.map((s) => latencySummary(st.stage(s), { stage: s })),
    );
    reg.register("bot4_orders_total", "counter", "orders sent to gateways", () => [{ value: st.get(S.ORDERS) }]);
    reg.register("bot4_fills_total", "counter", "fills received", () => [{ value: st.get(S.FILLS) }]);
    reg.register("bot4_venue_rejects_total", "counter", "orders rejected by venues", () => [{ value: st.get(S.VENUE_REJECTS) }]);
    reg.register("bot4_open_orders", "gauge", "orders not yet terminal", () => [{ value: st.get(S.OPEN) }]);
    reg.register("bot4_pnl", "gauge", "realised + unrealised PnL after fees (quote)", () => [{ value: st.get(S.PNL) }]);
    reg.register("bot4_fees_total", "counter", "fees paid (quote)", () => [{ value: st.get(S.FEES) }]);
    reg.register("bot4_position", "gauge", "net position per instrument (base units)", () => src.instruments.map((name, i) => ({ labels: { instrument: name }, value: st.inst(i, "position") })));
    reg.register("bot4_book_usable", "gauge", "1 when the instrument's book is in sync and uncrossed (trading allowed)", () => src.instruments.map((name, i) => ({ labels: { instrument: name }, value: st.inst(i, "usable") })));
    reg.register("bot4_strategy_failed", "gauge", "1 when the strategy threw and was stopped", () => [{ value: st.get(S.STRATEGY_ERROR) }]);
  }
  const limits = src.limits;
  if (limits) {
    reg.register("bot4_risk_rejects_total", "counter", "pre-trade risk rejections by reason", () =>
      Object.entries(limits.rejectCounts()).map(([reason, value]) => ({ labels: { reason }, value })),
    );
  }
  const kill = src.kill;
  if (kill) {
    reg.register("bot4_kill_switch_tripped", "gauge", "1 when the kill switch has halted trading (label: reason)", () => [
      { labels: { reason: kill.tripped ? kill.reasonName : "" }, value: kill.tripped ? 1 : 0 },
    ]);
  }
  const health = (): HealthState => {
    const published = st ? st.get(S.PUBLISHED) : 0;
    let usable = 0;
    if (st) for (let i = 0; i < src.instruments.length; i++) usable += st.inst(i, "usable") === 1 ? 1 : 0;
    const tripped = kill?.tripped ?? false;
    return {
      live: true,
      ready: !tripped && (st ? published > 0 && usable === src.instruments.length : c[F.CONSUMED]! > 0),
      detail: { consumed: c[F.CONSUMED]!, booksUsable: usable, instruments: src.instruments.length, killSwitch: tripped ? kill!.reasonName : null },
    };
  };
  return { registry: reg, health };
}
