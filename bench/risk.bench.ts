/**
 * Pre-trade risk check cost (src/risk/pretrade.ts): PreTradeRisk.check() per order, median and
 * p99, for orders that pass every rule and for orders rejected late in the chain (position
 * limit, self-trade), with every rule switched on. Instruments, sides, prices and amounts come
 * from a 4096-order array so nothing is constant. Same-run reference: the same rules written the
 * plain way (a limits object, Maps of instrument state, positions and throttle buckets, reasons
 * counted in an object). Goal: check <= 50 ns p99.
 */
import { PositionBook } from "../src/exec/positions.ts";
import { KillSwitch, marketView, PreTradeRisk, Reject, RiskConfig, RiskLimits } from "../src/risk/pretrade.ts";
import { do_not_optimize, done, figure, micro, section } from "./harness.ts";

const NI = 16;
const VENUES = 4;
const T = 1_700_000_000_000_000_000;
const cfg = RiskConfig.parse({
  maxOrderAmount: 50,
  maxOrderNotional: 2_000_000,
  maxPosition: 100,
  maxGrossExposure: 50_000_000,
  collarBps: 200,
  maxMsgsPerSec: 1e12, // on, never binding: the bucket arithmetic is in the measured cost
  dailyLossLimit: 1e6,
  maxDrawdown: 1e6,
  staleMs: 5000,
  selfTradePrevention: true,
});

// ---- the engine-side state both checks read ------------------------------------------------
const refs = Float64Array.from({ length: NI }, (_, i) => 100 * (i + 1) * (1 + 0.01 * Math.sin(i)));
const venueOf = Int32Array.from({ length: NI }, (_, i) => i % VENUES);
const startPos = Float64Array.from({ length: NI }, (_, i) => (i % 3) - 1); // -1, 0, 1 ...

const limits = RiskLimits.create(NI, cfg);
const market = marketView(NI);
market.refPrice.set(refs);
market.usable.fill(1);
market.updatedNs.fill(T);
for (let i = 0; i < NI; i++) {
  market.ownBestBid[i] = refs[i]! * 0.99;
  market.ownBestAsk[i] = refs[i]! * 1.01;
}
const book = new PositionBook(NI);
for (let i = 0; i < NI; i++) if (startPos[i]) book.apply(i, startPos[i]! > 0 ? 0 : 1, Math.abs(startPos[i]!), refs[i]!, 0);
const risk = new PreTradeRisk(limits, market, book, venueOf, VENUES, new KillSwitch(limits));
risk.updatePnl(1234);

// ---- the plain object-based reference --------------------------------------------------------
interface InstState { ref: number; usable: boolean; updatedNs: number; ownBid: number; ownAsk: number; venue: number }
interface Limits { maxOrderAmount: number; maxOrderNotional: number; maxPosition: number; maxGrossExposure: number; collar: number; maxMsgsPerSec: number; dailyLossLimit: number; maxDrawdown: number; staleNs: number; stp: boolean; perInst: Record<string, { maxOrderAmount?: number; maxOrderNotional?: number; maxPosition?: number }> }
class PlainRisk {
  killed = false;
  pnl = 1234;
  peak = 1234;
  readonly counts: Record<string, number> = {};
  readonly buckets = new Map<number, { tokens: number; last: number }>();
  constructor(
    readonly limits: Limits,
    readonly insts: Map<number, InstState>,
    readonly positions: Map<number, { amount: number }>,
  ) {}
  private reject(name: string, code: number): number {
    this.counts[name] = (this.counts[name] ?? 0) + 1;
    return code;
  }
  check(order: { inst: number; side: "buy" | "sell"; price: number; amount: number }, nowNs: number): number {
    const L = this.limits;
    if (this.killed) return this.reject("KILL_SWITCH", 1);
    const s = this.insts.get(order.inst);
    if (!s || !(order.amount > 0) || !Number.isFinite(order.amount) || (!Number.isNaN(order.price) && !(order.price > 0 && Number.isFinite(order.price)))) return this.reject("BAD_ORDER", 2);
    if (!s.usable) return this.reject("BOOK_UNUSABLE", 3);
    if (nowNs - s.updatedNs > L.staleNs) return this.reject("STALE_BOOK", 4);
    if (!(s.ref > 0)) return this.reject("NO_REFERENCE_PRICE", 5);
    const px = Number.isNaN(order.price) ? s.ref * (order.side === "buy" ? 1 + L.collar : 1 - L.collar) : order.price;
    if (Math.abs(px - s.ref) > s.ref * L.collar * (1 + 1e-12)) return this.reject("PRICE_COLLAR", 6);
    const o = L.perInst[String(order.inst)] ?? {};
    const maxAmt = o.maxOrderAmount ?? L.maxOrderAmount;
    if (maxAmt && order.amount > maxAmt) return this.reject("MAX_ORDER_AMOUNT", 7);
    const maxNot = o.maxOrderNotional ?? L.maxOrderNotional;
    if (maxNot && order.amount * px > maxNot) return this.reject("MAX_ORDER_NOTIONAL", 8);
    const pos = this.positions.get(order.inst)?.amount ?? 0;
    const after = order.side === "buy" ? pos + order.amount : pos - order.amount;
    const maxPos = o.maxPosition ?? L.maxPosition;
    if (maxPos && Math.abs(after) > maxPos && (Math.abs(after) > Math.abs(pos) || after * pos < 0)) return this.reject("MAX_POSITION", 9);
    if (L.maxGrossExposure && Math.abs(after) > Math.abs(pos)) {
      let gross = 0;
      for (const [id, p] of this.positions) gross += Math.abs(p.amount) * this.insts.get(id)!.ref;
      if (gross + (Math.abs(after) - Math.abs(pos)) * s.ref > L.maxGrossExposure) return this.reject("MAX_GROSS_EXPOSURE", 10);
    }
    let b = this.buckets.get(s.venue);
    if (!b) this.buckets.set(s.venue, (b = { tokens: L.maxMsgsPerSec, last: nowNs }));
    if (L.maxMsgsPerSec) {
      b.tokens = Math.min(L.maxMsgsPerSec, b.tokens + ((nowNs - b.last) / 1e9) * L.maxMsgsPerSec);
      b.last = nowNs;
      if (b.tokens < 1) return this.reject("THROTTLE", 11);
    }
    if (L.dailyLossLimit && -this.pnl >= L.dailyLossLimit) return this.reject("DAILY_LOSS", 12);
    if (L.maxDrawdown && this.peak - this.pnl >= L.maxDrawdown) return this.reject("DRAWDOWN", 13);
    if (L.stp && ((order.side === "buy" && px >= s.ownAsk) || (order.side === "sell" && px <= s.ownBid))) return this.reject("SELF_TRADE", 14);
    if (L.maxMsgsPerSec) b.tokens -= 1;
    return 0;
  }
}
const plain = new PlainRisk(
  { maxOrderAmount: cfg.maxOrderAmount, maxOrderNotional: cfg.maxOrderNotional, maxPosition: cfg.maxPosition, maxGrossExposure: cfg.maxGrossExposure, collar: cfg.collarBps / 1e4, maxMsgsPerSec: cfg.maxMsgsPerSec, dailyLossLimit: cfg.dailyLossLimit, maxDrawdown: cfg.maxDrawdown, staleNs: cfg.staleMs * 1e6, stp: cfg.selfTradePrevention, perInst: {} },
  new Map(Array.from({ length: NI }, (_, i) => [i, { ref: refs[i]!, usable: true, updatedNs: T, ownBid: market.ownBestBid[i]!, ownAsk: market.ownBestAsk[i]!, venue: venueOf[i]! }])),
  new Map(Array.from({ length: NI }, (_, i) => [i, { amount: book.amount[i]! }])),
);

// ---- orders ---------------------------------------------------------------------------------
const M = 4096, MASK = M - 1;
let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
function orders(kind: "pass" | "reject") {
  const inst = new Int32Array(M), side = new Int32Array(M), price = new Float64Array(M), amount = new Float64Array(M);
  for (let k = 0; k < M; k++) {
    const i = Math.floor(rnd() * NI);
    const s = rnd() < 0.5 ? 0 : 1;
    inst[k] = i;
    side[k] = s;
    const ref = refs[i]!;
    if (kind === "pass") {
      // inside the collar and short of our own resting orders (a market order, priced at the
      // collar, would cross them: those are in the reject set)
      price[k] = ref * (s === 0 ? 1 - 0.005 * rnd() : 1 + 0.005 * rnd());
      amount[k] = 0.01 + rnd() * 5;
    } else if (k & 1) {
      // late reject: a buy that takes the position (+99, see nearLimit) past maxPosition 100
      side[k] = 0;
      price[k] = ref * (1 - 0.005 * rnd());
      amount[k] = 2 + rnd() * 5;
    } else {
      // the last rule: crosses our own resting order (own bid/ask 1 % off the reference); one in
      // four a market order (priced at the 2 % collar)
      price[k] = rnd() < 0.25 ? NaN : s === 0 ? ref * (1.01 + 0.005 * rnd()) : ref * (0.99 - 0.005 * rnd());
      amount[k] = 0.01 + rnd() * 0.5;
    }
  }
  return { inst, side, price, amount };
}
const P = orders("pass");
const R = orders("reject");
// the rejected orders run against a book holding +99 of everything
const nearLimit = new PositionBook(NI);
for (let i = 0; i < NI; i++) nearLimit.apply(i, 0, 99, refs[i]!, 0);
const riskR = new PreTradeRisk(limits, market, nearLimit, venueOf, VENUES, new KillSwitch(limits));
riskR.updatePnl(1234);
const plainR = new PlainRisk(plain.limits, plain.insts, new Map(Array.from({ length: NI }, (_, i) => [i, { amount: 99 }])));
const objP = Array.from({ length: M }, (_, k) => ({ inst: P.inst[k]!, side: P.side[k] === 0 ? ("buy" as const) : ("sell" as const), price: P.price[k]!, amount: P.amount[k]! }));
const objR = Array.from({ length: M }, (_, k) => ({ inst: R.inst[k]!, side: R.side[k] === 0 ? ("buy" as const) : ("sell" as const), price: R.price[k]!, amount: R.amount[k]! }));

// both implementations must agree on every order before anything is timed
let agreeP = 0, agreeR = 0, passes = 0;
const rejectMix: Record<number, number> = {};
for (let k = 0; k < M; k++) {
  const a = risk.check(P.inst[k]!, P.side[k]!, P.price[k]!, P.amount[k]!, T);
  if (a === plain.check(objP[k]!, T)) agreeP++;
  if (a === Reject.OK) passes++;
  const b = riskR.check(R.inst[k]!, R.side[k]!, R.price[k]!, R.amount[k]!, T);
  if (b === plainR.check(objR[k]!, T)) agreeR++;
  rejectMix[b] = (rejectMix[b] ?? 0) + 1;
}
if (agreeP !== M || agreeR !== M || passes !== M || (rejectMix[Reject.MAX_POSITION] ?? 0) + (rejectMix[Reject.SELF_TRADE] ?? 0) !== M) {
  throw new Error(`bench setup wrong: agree ${agreeP}/${agreeR}, passes ${passes}, rejects ${JSON.stringify(rejectMix)}`);
}

let j = 0;
const now = T; // fixed: the books stay fresh (stale rule on); the throttle bucket (1e12/s) never runs dry
section(`pre-trade risk check (${NI} instruments on ${VENUES} venues, every rule on; ${M} varied orders)`);
const base = await micro("loop_baseline", () => {
  const k = j++ & MASK;
  do_not_optimize(P.inst[k]! + P.side[k]! + P.price[k]! + P.amount[k]!);
});
const pass = await micro("check_pass", () => {
  const k = j++ & MASK;
  return risk.check(P.inst[k]!, P.side[k]!, P.price[k]!, P.amount[k]!, now);
});
const rej = await micro("check_reject", () => {
  const k = j++ & MASK;
  return riskR.check(R.inst[k]!, R.side[k]!, R.price[k]!, R.amount[k]!, now);
});
const refPass = await micro("ref_plain_pass", () => plain.check(objP[j++ & MASK]!, now));
const refRej = await micro("ref_plain_reject", () => plainR.check(objR[j++ & MASK]!, now));
if (risk.check(P.inst[0]!, P.side[0]!, P.price[0]!, P.amount[0]!, T) !== Reject.OK) throw new Error("state drifted");

section("summary (medians; p99 from mitata's samples; goal: check <= 50 ns p99)");
figure("check_pass_ns", pass, "ns", "all 12 rules evaluated, order accepted");
figure("check_pass_net_ns", pass - base, "ns", "minus the loop baseline (order load + closure)");
figure("check_reject_ns", rej, "ns", "rejected at MAX_POSITION or SELF_TRADE, counted");
figure("ref_plain_pass_ns", refPass, "ns", "limits object, Maps of instruments/positions/buckets");
figure("ref_plain_reject_ns", refRej, "ns");
figure("plain_vs_check_pass", refPass / pass, "x");
figure("plain_vs_check_reject", refRej / rej, "x");
done();
