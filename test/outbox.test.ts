/**
 * TradingCore's outbox: what a strategy step submits and cancels is decided inside the step
 * (risk, order table, tick-to-decision) and handed to the gateways after its handlers return,
 * in the order decided, each gateway held (hold / flush) meanwhile so it can write them
 * together. Outside a step (a handler answering a report) requests go at once.
 */
import { describe, expect, test } from "bun:test";
import type { ExecReport, OrderRequest } from "../src/domain/order.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { TickKind } from "../src/domain/tick.ts";
import { TradingCore } from "../src/engine/trading.ts";
import { VirtualClock } from "../src/exec/sim/gateway.ts";
import type { Strategy, StrategyContext } from "../src/strategy/api.ts";

/** a venue that records every call, and (optionally) answers orders and cancels inside the call */
function recordingGateway(answerInside: boolean) {
  const calls: string[] = [];
  let handler: (r: ExecReport) => void = () => {};
  const report = (kind: ExecReport["kind"], id: string): ExecReport => ({ kind, venue: "v", symbol: "BTC/USDT", clientOrderId: id, side: "buy", lastAmount: 0, lastPrice: 0, filled: 0, remaining: 0.001, fee: 0, venueTimeMs: 0 });
  const gw = {
    venue: "v",
    onReport(h: (r: ExecReport) => void) {
      handler = h;
    },
    submit(req: OrderRequest) {
      calls.push(`submit ${req.clientOrderId} ${req.side} ${req.price}`);
      if (answerInside) handler(report("ack", req.clientOrderId));
    },
    cancel(_s: string, id: string) {
      calls.push(`cancel ${id}`);
      if (answerInside) handler(report("cancelled", id));
    },
    hold() {
      calls.push("hold");
    },
    flush() {
      calls.push("flush");
    },
    async openOrders() {
      return [];
    },
    async fills() {
      return [];
    },
    async close() {},
  };
  return { gw, calls };
}

function tradeTape(prices: number[]): TickBuffer {
  const b = new TickBuffer(16);
  prices.forEach((p, i) => b.push({ kind: TickKind.trade, venue: 1, instrument: 0, tsExchangeNs: 1e9 + i * 1e6, tsRecvNs: 1e9 + i * 1e6, price: p, size: 0.01 }));
  return b;
}

function coreWith(strategy: Strategy, gw: unknown) {
  const core = new TradingCore({ instruments: [{ id: 0, venue: "v", symbol: "BTC/USDT", tickSize: 0.01, lotSize: 0.001 }], strategy, clock: new VirtualClock(0), gateways: new Map([["v", gw as never]]), risk: { collarBps: 500, staleMs: 0 }, idPrefix: "o-" });
  core.market.refPrice[0] = 100;
  core.market.usable[0] = 1;
  return core;
}


/** a started core whose strategy runs `onTrade(ctx, inst, price)` (and `onOrder`, when given) */
function started(gw: unknown, name: string, onTrade: (ctx: StrategyContext, inst: number, price: number) => void, onOrder?: (ctx: StrategyContext, ev: { kind: string; clientOrderId: string }) => void) {
  let ctx!: StrategyContext;
  const strategy = {
    name,
    onStart: (c: StrategyContext) => void (ctx = c),
    onTrade: (inst: number, price: number) => onTrade(ctx, inst, price),
    ...(onOrder ? { onOrder: (ev: { kind: string; clientOrderId: string }) => onOrder(ctx, ev) } : {}),
  };
  const core = coreWith(strategy as unknown as Strategy, gw);
  core.start();
  return core;
}

describe("TradingCore outbox", () => {
  test("a step's cancels and orders reach the gateway after the handlers return, in order, between hold and flush", () => {
    const { gw, calls } = recordingGateway(false);
    const seenInside: number[] = [];
    let ids: string[] = [];
    const strategy: Strategy = {
      name: "quoter",
      onStart(ctx: StrategyContext) {
        this.ctx = ctx;
      },
      onTrade(this: { ctx: StrategyContext }, inst: number, price: number) {
        const ctx = this.ctx;
        for (const id of ids) ctx.cancel(id);
        ids = [ctx.submit(inst, 0, 0.001, price - 0.5), ctx.submit(inst, 1, 0.001, price + 0.5)];
        // decided, counted as open, but not yet at the gateway while the handler runs
        seenInside.push(calls.length, ctx.openOrders(inst));
      },
    } as Strategy & { ctx?: StrategyContext };
    const core = coreWith(strategy, gw);
    core.start();
    const tape = tradeTape([100, 100.2]);
    core.onRecords(tape.u8, tape.u32, tape.f64, 0, 0xffffffff, 0, 1);
    expect(seenInside).toEqual([0, 2]);
    expect(calls).toEqual(["hold", "submit o-1 buy 99.5", "submit o-2 sell 100.5", "flush"]);
    expect(core.hist.tickToDecision.count).toBe(2);
    expect(core.hist.submit.count).toBe(2);
    calls.length = 0;
    core.onRecords(tape.u8, tape.u32, tape.f64, 0, 0xffffffff, 1, 1);
    expect(calls).toEqual(["hold", "cancel o-1", "cancel o-2", "submit o-3 buy 99.7", "submit o-4 sell 100.7", "flush"]);
    expect(core.hist.tickToDecision.count).toBe(4);
  });

  test("answers given inside the gateway's calls reach the strategy after its step; a submit from that handler goes at once and is not a tick-to-decision sample", () => {
    const { gw, calls } = recordingGateway(true);
    const events: string[] = [];
    let replaced = false;
    const core = started(
      gw,
      "replacer",
      (ctx, inst, price) => {
        events.push("trade");
        const id = ctx.submit(inst, 0, 0.001, price - 1);
        ctx.cancel(id);
        events.push("step done");
      },
      (ctx, ev) => {
        events.push(`${ev.kind} ${ev.clientOrderId}`);
        if (ev.kind === "cancelled" && !replaced) {
          replaced = true;
          ctx.submit(0, 0, 0.001, 98);
        }
      },
    );
    const tape = tradeTape([100]);
    core.onRecords(tape.u8, tape.u32, tape.f64, 0, 0xffffffff, 0, 1);
    expect(events).toEqual(["trade", "step done", "ack o-1", "cancelled o-1", "ack o-2"]);
    expect(calls).toEqual(["hold", "submit o-1 buy 99", "cancel o-1", "submit o-2 buy 98", "flush"]);
    expect(core.hist.tickToDecision.count).toBe(1);
    expect(core.hist.submit.count).toBe(2);
    expect(core.openOrders(0)).toBe(1);
  });

  test("a handler that throws: the orders it decided before are still sent, then cancelled; the gateway is flushed", () => {
    const { gw, calls } = recordingGateway(false);
    const core = started(gw, "thrower", (ctx, inst, price) => {
      ctx.submit(inst, 0, 0.001, price - 1);
      throw new Error("boom");
    });
    const tape = tradeTape([100]);
    core.onRecords(tape.u8, tape.u32, tape.f64, 0, 0xffffffff, 0, 1);
    expect(core.strategyError?.message).toBe("boom");
    expect(calls).toEqual(["hold", "submit o-1 buy 99", "cancel o-1", "flush"]);
  });

  test("a gateway that throws on one order: that order is rejected (reported after the step), the next still goes, the gateway is flushed", () => {
    const { gw, calls } = recordingGateway(false);
    const submit = gw.submit;
    gw.submit = (req: OrderRequest) => {
      if (req.clientOrderId === "o-1") throw new Error("socket gone");
      submit(req);
    };
    const seen: string[] = [];
    const logs: string[] = [];
    let ctx!: StrategyContext;
    const strategy = {
      name: "two",
      onStart: (c: StrategyContext) => void (ctx = c),
      onTrade: (inst: number, price: number) => {
        ctx.submit(inst, 0, 0.001, price - 1);
        ctx.submit(inst, 1, 0.001, price + 1);
      },
      onOrder: (ev: { kind: string; clientOrderId: string; reason?: string }) => seen.push(`${ev.kind} ${ev.clientOrderId} ${ev.reason ?? ""}`),
    };
    const core = new TradingCore({ instruments: [{ id: 0, venue: "v", symbol: "BTC/USDT", tickSize: 0.01, lotSize: 0.001 }], strategy: strategy as unknown as Strategy, clock: new VirtualClock(0), gateways: new Map([["v", gw as never]]), risk: { collarBps: 500, staleMs: 0 }, idPrefix: "o-", log: (m) => logs.push(m) });
    core.market.refPrice[0] = 100;
    core.market.usable[0] = 1;
    core.start();
    const tape = tradeTape([100]);
    core.onRecords(tape.u8, tape.u32, tape.f64, 0, 0xffffffff, 0, 1);
    expect(calls).toEqual(["hold", "submit o-2 sell 101", "flush"]);
    expect(seen).toEqual(["rejected o-1 gateway error: socket gone"]);
    expect(core.openOrders(0)).toBe(1);
    expect(core.strategyError).toBeNull();
    expect(logs.some((m) => m.startsWith("gateway threw on an order"))).toBe(true);
  });

  test("more requests in one step than the outbox holds at first: it grows, nothing lost or reordered", () => {
    const { gw, calls } = recordingGateway(false);
    const core = started(gw, "many", (ctx, inst, price) => {
      for (let k = 0; k < 40; k++) ctx.submit(inst, 0, 0.001, price - 1 - k / 100);
    });
    const tape = tradeTape([100]);
    core.onRecords(tape.u8, tape.u32, tape.f64, 0, 0xffffffff, 0, 1);
    expect(calls.length).toBe(42);
    expect(calls[0]).toBe("hold");
    expect(calls[41]).toBe("flush");
    for (let k = 0; k < 40; k++) expect(calls[k + 1]).toBe(`submit o-${k + 1} buy ${Number((99 - k / 100).toFixed(2))}`);
  });
});
