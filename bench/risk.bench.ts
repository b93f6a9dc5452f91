/**
 * Pre-trade risk check cost (src/risk/pretrade.ts): PreTradeRisk.check() per order, median and
 * p99, for orders that pass every rule and for orders rejected late in the chain (position limit,
 * self-trade), with every rule switched on (throttle on but never binding, so its arithmetic is
 * in the cost). Instruments, venues, sides, prices and amounts come from a 4096-order array so
 * nothing is constant. Same-run reference: the same rules written the plain way (a limits object,
 * Maps of instrument state, positions and throttle buckets, reasons counted in an object).
 * Three p99s: mitata's (per sample of a timed batch); one per single call, timed around each
 * call with Bun.nanoseconds() and again with the bot4 clock (calibrated TSC, one FFI call:
 * ffi/clock.ts), each shown with its timer pair's own cost measured the same way; and one over
 * batches of BATCH consecutive calls (timer cost / BATCH per call), i.e. the distribution of
 * the per-check cost averaged over short runs, which the timer's own jitter does not swamp.
 * The batch figures are then taken again in REPS repetitions (p50 and p99 of each, lowest and
 * median p99): this host's two vCPUs share a core, the same compiled check runs ~1.8x slower
 * while the other one is busy, and the spread over repetitions shows which speed a p99 is.
 * Goal: check <= 50 ns p99.
 */
import { now as tscNow } from "../ffi/clock.ts";
import { PositionBook } from "../src/exec/positions.ts";
import { marketView, PreTradeRisk, Reject, RiskConfig, RiskLimits } from "../src/risk/pretrade.ts";
import { do_not_optimize, done, figure, micro, percentiles, section } from "./harness.ts";

const NI = 16;
const VENUES = 4;
const T = 1_700_000_000_000_000_000;
const cfg = RiskConfig.parse({
  maxOrderAmount: 50,
  maxOrderNotional: 2_000_000,
  maxPosition: 100,
  maxGrossExposure: 50_000_000,
  collarBps: 200,
  maxMsgsPerSec: 1e12, // on, never binding
  dailyLossLimit: 1e6,
  maxDrawdown: 1e6,
  staleMs: 5000,
  selfTradePrevention: true,
});

// ---- engine-side state both checks read ------------------------------------------------------
const refs = Float64Array.from({ length: NI }, (_, i) => 100 * (i + 1) * (1 + 0.01 * Math.sin(i)));
const venueOf = Int32Array.from({ length: NI }, (_, i) => i % VENUES);
const market = marketView(NI);
market.refPrice.set(refs);
market.usable.fill(1);
market.updatedNs.fill(T);
for (let i = 0; i < NI; i++) {
  market.ownBestBid[i] = refs[i]! * 0.99;
  market.ownBestAsk[i] = refs[i]! * 1.01;
  market.openBuy[i] = 0.5;
  market.openSell[i] = 0.25;
}
const limits = RiskLimits.create(NI, cfg, VENUES);
function book(start: (i: number) => number): PositionBook {
  const b = new PositionBook(NI);
  for (let i = 0; i < NI; i++) {
    b.mark(i, refs[i]!);
    const a = start(i);
    if (a) b.apply(i, a > 0 ? 0 : 1, Math.abs(a), refs[i]!, 0);
  }
  return b;
}
const risk = new PreTradeRisk({ limits, market, positions: book((i) => (i % 3) - 1) });
risk.updatePnl(1234);
// the rejected orders run against positions of +99 everywhere
const riskR = new PreTradeRisk({ limits, market, positions: book(() => 99) });

// ---- the plain object-based reference --------------------------------------------------------
interface InstState { ref: number; usable: boolean; updatedNs: number; ownBid: number; ownAsk: number; openBuy: number; openSell: number }
interface PlainLimits { maxOrderAmount: number; maxOrderNotional: number; maxPosition: number; maxGrossExposure: number; collar: number; maxMsgsPerSec: number; dailyLossLimit: number; maxDrawdown: number; staleNs: number; stp: boolean }
class PlainRisk {
  killed = false;
  pnl = 1234;
  peak = 1234;
  readonly counts: Record<string, number> = {};
  readonly buckets = new Map<number, { tokens: number; last: number }>();
  constructor(
    readonly limits: PlainLimits,
    readonly insts: Map<number, InstState>,
    readonly positions: Map<number, { amount: number }>,
  ) {}
  private reject(name: string, code: number): number {
    this.counts[name] = (this.counts[name] ?? 0) + 1;
    return code;
  }
  check(order: { inst: number; venue: number; side: "buy" | "sell"; price: number; amount: number }, nowNs: number): number {
    const L = this.limits;
    if (this.killed) return this.reject("KILL_SWITCH", Reject.KILL_SWITCH);
    const s = this.insts.get(order.inst);
    if (!s || !(order.amount > 0) || !Number.isFinite(order.amount) || (!Number.isNaN(order.price) && !(order.price > 0 && Number.isFinite(order.price)))) return this.reject("BAD_ORDER", Reject.BAD_ORDER);
    if (!s.usable) return this.reject("BOOK_DESYNC", Reject.BOOK_DESYNC);
    if (!(nowNs - s.updatedNs <= L.staleNs)) return this.reject("STALE_BOOK", Reject.STALE_BOOK);
    if (!(s.ref > 0)) return this.reject("NO_REFERENCE_PRICE", Reject.NO_REFERENCE_PRICE);
    const buy = order.side === "buy";
    const px = Number.isNaN(order.price) ? s.ref * (buy ? 1 + L.collar : 1 - L.collar) : order.price;
    if (Math.abs(px - s.ref) > s.ref * L.collar * (1 + 1e-9)) return this.reject("PRICE_COLLAR", Reject.PRICE_COLLAR);
    if (order.amount > L.maxOrderAmount * (1 + 1e-9)) return this.reject("MAX_ORDER_AMOUNT", Reject.MAX_ORDER_AMOUNT);
    if (order.amount * px > L.maxOrderNotional * (1 + 1e-9)) return this.reject("MAX_ORDER_NOTIONAL", Reject.MAX_ORDER_NOTIONAL);
    const pos = this.positions.get(order.inst)?.amount ?? 0;
    const worst = buy ? pos + s.openBuy + order.amount : s.openSell + order.amount - pos;
    if (worst > L.maxPosition * (1 + 1e-9)) return this.reject("MAX_POSITION", Reject.MAX_POSITION);
    const grows = Math.abs(buy ? pos + order.amount : pos - order.amount) - Math.abs(pos);
    if (grows > 0) {
      let gross = 0;
      for (const [id, p] of this.positions) gross += Math.abs(p.amount) * this.insts.get(id)!.ref;
      if (gross + grows * s.ref > L.maxGrossExposure * (1 + 1e-9)) return this.reject("MAX_GROSS_EXPOSURE", Reject.MAX_GROSS_EXPOSURE);
    }
    let b = this.buckets.get(order.venue);
    if (!b) this.buckets.set(order.venue, (b = { tokens: L.maxMsgsPerSec, last: nowNs }));
    b.tokens = Math.min(L.maxMsgsPerSec, b.tokens + ((nowNs - b.last) / 1e9) * L.maxMsgsPerSec);
    b.last = nowNs;
    if (b.tokens < 1) return this.reject("THROTTLE", Reject.THROTTLE);
    if (-this.pnl >= L.dailyLossLimit) return this.reject("DAILY_LOSS", Reject.DAILY_LOSS);
    if (this.peak - this.pnl >= L.maxDrawdown) return this.reject("DRAWDOWN", Reject.DRAWDOWN);
    if (L.stp && (buy ? px >= s.ownAsk : px <= s.ownBid)) return this.reject("SELF_TRADE", Reject.SELF_TRADE);
    b.tokens -= 1;
    return 0;
  }
}
const plainLimits: PlainLimits = { maxOrderAmount: cfg.maxOrderAmount, maxOrderNotional: cfg.maxOrderNotional, maxPosition: cfg.maxPosition, maxGrossExposure: cfg.maxGrossExposure, collar: cfg.collarBps / 1e4, maxMsgsPerSec: cfg.maxMsgsPerSec, dailyLossLimit: cfg.dailyLossLimit, maxDrawdown: cfg.maxDrawdown, staleNs: cfg.staleMs * 1e6, stp: cfg.selfTradePrevention };
const insts = new Map(Array.from({ length: NI }, (_, i) => [i, { ref: refs[i]!, usable: true, updatedNs: T, ownBid: market.ownBestBid[i]!, ownAsk: market.ownBestAsk[i]!, openBuy: market.openBuy[i]!, openSell: market.openSell[i]! }]));
const plain = new PlainRisk(plainLimits, insts, new Map(Array.from({ length: NI }, (_, i) => [i, { amount: risk.positions.net[i]! }])));
const plainR = new PlainRisk(plainLimits, insts, new Map(Array.from({ length: NI }, (_, i) => [i, { amount: 99 }])));

// ---- orders ---------------------------------------------------------------------------------
const M = 4096, MASK = M - 1;
let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
function orders(kind: "pass" | "reject") {
  const inst = new Int32Array(M), venue = new Int32Array(M), side = new Int32Array(M), price = new Float64Array(M), amount = new Float64Array(M);
  for (let k = 0; k < M; k++) {
    const i = Math.floor(rnd() * NI);
    let s = rnd() < 0.5 ? 0 : 1;
    const ref = refs[i]!;
    if (kind === "pass") {
      // inside the collar and short of our own resting orders
      price[k] = ref * (s === 0 ? 1 - 0.005 * rnd() : 1 + 0.005 * rnd());
      amount[k] = 0.01 + rnd() * 5;
    } else if (k & 1) {
      // late reject: a buy that takes +99 (and 0.5 open) past maxPosition 100
      s = 0;
      price[k] = ref * (1 - 0.005 * rnd());
      amount[k] = 2 + rnd() * 5;
    } else {
      // the last rule: crosses our own resting order; one in four a market order (priced at the 2 % collar)
      price[k] = rnd() < 0.25 ? NaN : s === 0 ? ref * (1.01 + 0.005 * rnd()) : ref * (0.99 - 0.005 * rnd());
      amount[k] = 0.01 + rnd() * 0.5;
    }
    inst[k] = i;
    venue[k] = venueOf[i]!;
    side[k] = s;
  }
  return { inst, venue, side, price, amount };
}
const P = orders("pass");
const R = orders("reject");
const obj = (o: ReturnType<typeof orders>) => Array.from({ length: M }, (_, k) => ({ inst: o.inst[k]!, venue: o.venue[k]!, side: o.side[k] === 0 ? ("buy" as const) : ("sell" as const), price: o.price[k]!, amount: o.amount[k]! }));
const objP = obj(P);
const objR = obj(R);

// both implementations must agree on every order before anything is timed
let agreeP = 0, agreeR = 0, passes = 0;
const rejectMix: Record<number, number> = {};
for (let k = 0; k < M; k++) {
  const a = risk.check(P.inst[k]!, P.venue[k]!, P.side[k]!, P.price[k]!, P.amount[k]!, T);
  if (a === plain.check(objP[k]!, T)) agreeP++;
  if (a === Reject.OK) passes++;
  const b = riskR.check(R.inst[k]!, R.venue[k]!, R.side[k]!, R.price[k]!, R.amount[k]!, T);
  if (b === plainR.check(objR[k]!, T)) agreeR++;
  rejectMix[b] = (rejectMix[b] ?? 0) + 1;
}
if (agreeP !== M || agreeR !== M || passes !== M || (rejectMix[Reject.MAX_POSITION] ?? 0) + (rejectMix[Reject.SELF_TRADE] ?? 0) !== M) {
  throw new Error(`bench setup wrong: agree ${agreeP}/${agreeR}, passes ${passes}, rejects ${JSON.stringify(rejectMix)}`);
}

let j = 0;
const now = T; // fixed: books stay fresh; the 1e12/s bucket never runs dry
section(`pre-trade risk check (${NI} instruments on ${VENUES} venues, every rule on; ${M} varied orders)`);
const base = await micro("loop_baseline", () => {
  const k = j++ & MASK;
  do_not_optimize(P.inst[k]! + P.venue[k]! + P.side[k]! + P.price[k]! + P.amount[k]!);
});
const pass = await micro("check_pass", () => {
  const k = j++ & MASK;
  return risk.check(P.inst[k]!, P.venue[k]!, P.side[k]!, P.price[k]!, P.amount[k]!, now);
});
const rej = await micro("check_reject", () => {
  const k = j++ & MASK;
  return riskR.check(R.inst[k]!, R.venue[k]!, R.side[k]!, R.price[k]!, R.amount[k]!, now);
});
const refPass = await micro("ref_plain_pass", () => plain.check(objP[j++ & MASK]!, now));
const refRej = await micro("ref_plain_reject", () => plainR.check(objR[j++ & MASK]!, now));

// per single call: a timer read around each call; the timer pair alone measured the same way.
// Two timers: Bun.nanoseconds() and the bot4 clock (rdtsc behind one FFI call).
const S = 1 << 20;
const samples = new Float64Array(S);
type Pct = { p50: number; p99: number; p999: number };
function perCall(which: 0 | 1 | 2, ns: () => number): Pct {
  for (let rep = 0; rep < 2; rep++) {
    // first pass warms the loop up; the second is kept
    for (let k = 0; k < S; k++) {
      const o = k & MASK;
      let t0: number, t1: number;
      if (which === 0) {
        t0 = ns();
        t1 = ns();
      } else if (which === 1) {
        t0 = ns();
        risk.check(P.inst[o]!, P.venue[o]!, P.side[o]!, P.price[o]!, P.amount[o]!, now);
        t1 = ns();
      } else {
        t0 = ns();
        riskR.check(R.inst[o]!, R.venue[o]!, R.side[o]!, R.price[o]!, R.amount[o]!, now);
        t1 = ns();
      }
      samples[k] = t1 - t0;
    }
  }
  const p = percentiles(samples);
  return { p50: p.p50, p99: p.p99, p999: p.p999 };
}
// over batches: BATCH consecutive calls between two timer reads, cost per call = span / BATCH
const BATCH = 32, NB = S / BATCH;
const bsamples = new Float64Array(NB);
function perBatch(which: 0 | 1 | 2): Pct {
  const ns = Bun.nanoseconds;
  for (let rep = 0; rep < 2; rep++) {
    let k = 0;
    for (let n = 0; n < NB; n++) {
      let acc = 0;
      const t0 = ns();
      if (which === 0) for (let e = k + BATCH; k < e; k++) { const o = k & MASK; acc += P.inst[o]! + P.amount[o]!; }
      else if (which === 1) for (let e = k + BATCH; k < e; k++) { const o = k & MASK; acc += risk.check(P.inst[o]!, P.venue[o]!, P.side[o]!, P.price[o]!, P.amount[o]!, now); }
      else for (let e = k + BATCH; k < e; k++) { const o = k & MASK; acc += riskR.check(R.inst[o]!, R.venue[o]!, R.side[o]!, R.price[o]!, R.amount[o]!, now); }
      bsamples[n] = (ns() - t0) / BATCH;
      do_not_optimize(acc);
    }
  }
  const p = percentiles(bsamples);
  return { p50: p.p50, p99: p.p99, p999: p.p999 };
}
const tm = perCall(0, Bun.nanoseconds);
const cp = perCall(1, Bun.nanoseconds);
const cr = perCall(2, Bun.nanoseconds);
const tt = perCall(0, tscNow);
const ctp = perCall(1, tscNow);
const ctr = perCall(2, tscNow);
const bb = perBatch(0);
const bp = perBatch(1);
const br = perBatch(2);
// The same batch figures again in REPS repetitions, p50 and p99 of each. On this host the two
// vCPUs share one physical core: while anything runs on the other one (another process, a
// test, this process's own helper threads) the same compiled check runs ~1.8x slower (a spin
// loop pinned to the other vCPU takes a fixed arithmetic loop from 1.46 to 2.52 ns). So one
// process shows repetitions with p50 ~37 ns next to ones with p50 ~65 ns (no recompilation in
// between), and a p99 over one ~80 ms run is the slow speed as soon as the other vCPU was busy
// for 1 % of it; the spread over repetitions shows which speed a p99 belongs to.
const REPS = 5;
const repPass: Pct[] = [], repRej: Pct[] = [];
for (let r = 0; r < REPS; r++) {
  repPass.push(perBatch(1));
  repRej.push(perBatch(2));
}
const sorted = (a: number[]) => [...a].sort((u, v) => u - v);
const med = (a: number[]) => sorted(a)[a.length >> 1]!;
if (risk.check(P.inst[0]!, P.venue[0]!, P.side[0]!, P.price[0]!, P.amount[0]!, T) !== Reject.OK) throw new Error("state drifted");

section("summary (goal: check <= 50 ns p99)");
figure("check_pass_ns", pass, "ns", "median, all rules evaluated, order accepted");
figure("check_pass_net_ns", pass - base, "ns", "minus the loop baseline (order load + closure)");
figure("check_reject_ns", rej, "ns", "median, rejected at MAX_POSITION or SELF_TRADE, counted and logged to the ring");
figure("ref_plain_pass_ns", refPass, "ns", "limits object, Maps of instruments/positions/buckets");
figure("ref_plain_reject_ns", refRej, "ns");
figure("plain_vs_check_pass", refPass / pass, "x");
figure("plain_vs_check_reject", refRej / rej, "x");
figure("percall_timer_p50_ns", tm.p50, "ns", `Bun.nanoseconds() pair alone; p99 ${tm.p99}`);
figure("percall_timer_p99_ns", tm.p99, "ns");
figure("percall_check_pass_p50_ns", cp.p50, "ns", "single calls, timer included");
figure("percall_check_pass_p99_ns", cp.p99, "ns", `p99.9 ${cp.p999}`);
figure("percall_check_reject_p50_ns", cr.p50, "ns");
figure("percall_check_reject_p99_ns", cr.p99, "ns", `p99.9 ${cr.p999}`);
figure("percall_check_pass_p99_net_ns", cp.p99 - tm.p50, "ns", "p99 minus the timer's median");
figure("percall_check_reject_p99_net_ns", cr.p99 - tm.p50, "ns");
figure("tsc_timer_p50_ns", tt.p50, "ns", `bot4 clock (rdtsc via FFI) pair alone; p99 ${tt.p99}`);
figure("tsc_check_pass_p50_ns", ctp.p50, "ns", "single calls, TSC timer included");
figure("tsc_check_pass_p99_ns", ctp.p99, "ns", `p99.9 ${ctp.p999}`);
figure("tsc_check_reject_p99_ns", ctr.p99, "ns", `p99.9 ${ctr.p999}`);
figure("tsc_check_pass_p99_net_ns", ctp.p99 - tt.p50, "ns", "p99 minus the TSC timer pair's median");
figure("tsc_check_reject_p99_net_ns", ctr.p99 - tt.p50, "ns");
figure("batch_loop_p50_ns", bb.p50, "ns", `per call over batches of ${BATCH}: loop + order loads alone; p99 ${bb.p99}`);
figure("batch_check_pass_p50_ns", bp.p50, "ns", `per call over batches of ${BATCH}`);
figure("batch_check_pass_p99_ns", bp.p99, "ns", `p99.9 ${bp.p999}`);
figure("batch_check_reject_p50_ns", br.p50, "ns");
figure("batch_check_reject_p99_ns", br.p99, "ns", `p99.9 ${br.p999}`);
const p99s = (a: Pct[]) => a.map((p) => p.p99);
const each = (a: Pct[]) => a.map((p) => `${p.p50.toFixed(1)}/${p.p99.toFixed(1)}`).join(" ");
figure("batch_check_pass_p99_reps_min_ns", Math.min(...p99s(repPass)), "ns", `the batch p99 in ${REPS} more repetitions: lowest; p50/p99 of each ${each(repPass)}`);
figure("batch_check_pass_p99_reps_median_ns", med(p99s(repPass)), "ns");
figure("batch_check_reject_p99_reps_min_ns", Math.min(...p99s(repRej)), "ns", `p50/p99 of each ${each(repRej)}`);
figure("batch_check_reject_p99_reps_median_ns", med(p99s(repRej)), "ns");
do_not_optimize(samples);
done();
