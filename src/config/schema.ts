/**
 * The one configuration schema. Every setting is an environment variable (Bun loads `.env`,
 * `.env.local` and `.env.<NODE_ENV>` from the working directory before we read them); each has a
 * default, so no `.env` at all means paper trading on the built-in simulated venues.
 */
import { z } from "zod";

const positiveInt = (max: number) => {
  const form = `a whole number from 1 to ${max}`;
  return z.coerce.number({ error: form }).int(form).min(1, form).max(max, form);
};

const cpuList = z
  .string()
  .trim()
  .regex(/^$|^\d+(-\d+)?(,\d+(-\d+)?)*$/, "a CPU list such as `1`, `2,3` or `0-3` (empty: no pinning)")
  .transform(parseCpuList);

export function parseCpuList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(",").filter(Boolean)) {
    const [a, b] = part.split("-").map(Number) as [number, number | undefined];
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

const onOff = z
  .enum(["on", "off", "true", "false", "1", "0", "yes", "no"], { error: "on or off" })
  .transform((v) => ["on", "true", "1", "yes"].includes(v));

/** Each entry: the variable, its schema, and a one-line description for `bot4 info` / `--help`. */
export const settings = {
  BOT4_MODE: { schema: z.enum(["paper", "live"], { error: "paper or live" }).default("paper"), about: "paper: simulated venues; live: real venues (needs BOT4_LIVE_CONFIRM)" },
  BOT4_LIVE_CONFIRM: { schema: z.string().optional(), about: "must be `I-accept-real-orders` when BOT4_MODE=live" },
  BOT4_VENUES: {
    schema: z.string().trim().regex(/^$|^[a-z0-9]+(,[a-z0-9]+)*$/, "a comma-separated list of venue ids such as `binance,okx` (empty: simulated venues)").default(""),
    about: "venues to connect to; empty means the built-in simulated venues",
  },
  BOT4_SYMBOLS: {
    schema: z.string().trim().regex(/^$|^[a-z0-9]+:[A-Za-z0-9/_:-]+(,[a-z0-9]+:[A-Za-z0-9/_:-]+)*$/, "a comma-separated list of venue:SYMBOL such as `binanceusdm:BTCUSDT,binance:ETHUSDT`").default(""),
    about: "instruments traded on the venues of BOT4_VENUES, as venue:venue-symbol (e.g. binanceusdm:BTCUSDT)",
  },
  BOT4_DATA: { schema: z.string().default(""), about: "recorded data replayed by paper mode (empty: the bundled slice)" },
  BOT4_REPLAY_SPEED: {
    schema: z.string().trim().regex(/^(max|\d+(\.\d+)?)$/, "`max` or a positive speed factor such as `1` or `10`").default("1"),
    about: "replay speed of recorded data: 1 = real time, `max` = as fast as the engine consumes",
  },
  BOT4_KERNEL: { schema: z.enum(["native", "v4", "v3", "base"], { error: "native, v4, v3 or base" }).optional(), about: "force a kernel variant (default: chosen from CPU features)" },
  BOT4_CLOCK: { schema: z.enum(["tsc", "monotonic"], { error: "tsc or monotonic" }).optional(), about: "force the latency clock source (default: TSC when invariant)" },
  BOT4_RING_CAPACITY: {
    schema: positiveInt(1 << 26).refine((n) => (n & (n - 1)) === 0, "a power of two such as 65536").default(16384),
    about: "tick records per feed ring (power of two; 64 bytes each, resident from start-up)",
  },
  BOT4_POOL_ORDERS: { schema: positiveInt(10_000_000).default(10_000), about: "order objects preallocated" },
  BOT4_POOL_TICKS: { schema: positiveInt(100_000_000).default(100_000), about: "tick records preallocated" },
  BOT4_POOL_SIGNALS: { schema: positiveInt(10_000_000).default(1_000), about: "signal objects preallocated" },
  BOT4_HUGEPAGES: { schema: onOff.default(true), about: "ask for 2 MB huge pages for the arena (falls back to THP, then normal pages)" },
  BOT4_MLOCK: { schema: z.enum(["off", "try", "require"], { error: "off, try or require" }).default("off"), about: "lock engine memory in RAM: try = warn on failure, require = refuse to start" },
  BOT4_ENGINE_CPU: { schema: cpuList.default([]), about: "CPU(s) the engine thread is pinned to (empty: bot4 run pins it to the last CPU when the process has 3 or more, feeds to the ones between the first and the last; else not pinned)" },
  BOT4_FEED_CPUS: { schema: cpuList.default([]), about: "CPU(s) feed workers are pinned to (empty: not pinned)" },
  BOT4_ENGINE_SPIN_US: {
    schema: z.string().trim().regex(/^(auto|\d{1,10})$/, "`auto` or whole microseconds such as `200`").default("auto"),
    about: "how long the engine thread busy-polls its rings after the last record before it sleeps (µs); auto: 1 s when it has a CPU of its own (pinned), else 200 (a sleeping engine waits for the kernel to wake it: tens of µs to ms on a VM)",
  },
  BOT4_STRATEGY: { schema: z.string().trim().default("market-maker"), about: "strategy run by `bot4 run`: a built-in name (market-maker, arbitrage, bollinger) or a .ts/.js file; `none` = market data only" },
  BOT4_STRATEGY_PARAMS: {
    schema: z.string().trim().regex(/^$|^[A-Za-z_][A-Za-z0-9_]*=-?[0-9.eE+-]+(,[A-Za-z_][A-Za-z0-9_]*=-?[0-9.eE+-]+)*$/, "name=value pairs such as `gamma=0.1,quoteAmount=0.01`").default(""),
    about: "the strategy's numeric parameters, `name=value,...`",
  },
  BOT4_RISK: { schema: z.string().default(""), about: "pre-trade risk limits as JSON (fields of src/risk/limits.ts RiskConfig, e.g. {\"maxPosition\":0.05,\"dailyLossLimit\":500}); empty: collar 500 bps, stale book 5 s" },
  BOT4_CAPITAL: { schema: z.coerce.number({ error: "a positive amount" }).positive("a positive amount").default(100_000), about: "paper trading: quote currency per simulated venue, and base currency worth as much per instrument" },
  BOT4_PAPER_LATENCY_US: { schema: z.coerce.number({ error: "microseconds >= 0" }).nonnegative("microseconds >= 0").default(500), about: "paper trading: one-way order and report latency of the simulated venues (µs)" },
  BOT4_PAPER_FEES: {
    schema: z.string().trim().regex(/^-?\d+(\.\d+)?,-?\d+(\.\d+)?$/, "maker,taker fees in basis points such as `1,4`").default("1,4"),
    about: "paper trading: maker,taker fees of the simulated venues (bps)",
  },
  BOT4_JOURNAL: { schema: z.string().default("bot4-journal.sqlite"), about: "order journal (sqlite, WAL) of `bot4 run`; `off` = no journal" },
  BOT4_METRICS_PORT: { schema: z.coerce.number({ error: "a port from 0 to 65535" }).int("a port from 0 to 65535").min(0, "a port from 0 to 65535").max(65535, "a port from 0 to 65535").default(0), about: "Prometheus /metrics, /health and /ready on this port (0 = off)" },
  BOT4_METRICS_HOST: { schema: z.string().trim().default("127.0.0.1"), about: "address the metrics endpoint binds (metrics show positions and PnL: keep it local)" },
  BOT4_LOG_LEVEL: { schema: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"], { error: "trace, debug, info, warn, error, fatal or silent" }).default("info"), about: "log level" },
  BOT4_LOG_FILE: { schema: z.string().default(""), about: "JSON log file (empty: standard error)" },
} as const;

/** Variables whose values are secrets: masked everywhere they are shown, redacted from logs. */
export const SECRET_PATTERN = /(SECRET|KEY|PASSWORD|PASSPHRASE|TOKEN|PRIVATE)/i;

/** Per-venue credentials: BOT4_<VENUE>_API_KEY, BOT4_<VENUE>_API_SECRET, BOT4_<VENUE>_PASSPHRASE. */
export const CREDENTIAL_SUFFIXES = ["API_KEY", "API_SECRET", "PASSPHRASE"] as const;

/** Per-venue endpoints: BOT4_<VENUE>_WS_URL (market data stream base), _REST_URL (market data REST), _ORDER_URL (order entry: a WebSocket API natively, a REST API through ccxt). */
export const ENDPOINT_SUFFIXES = ["WS_URL", "REST_URL", "ORDER_URL"] as const;

export const configSchema = z.object(
  Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, v.schema])) as {
    [K in keyof typeof settings]: (typeof settings)[K]["schema"];
  },
);

export type Config = z.output<typeof configSchema> & {
  credentials: Record<string, Partial<Record<(typeof CREDENTIAL_SUFFIXES)[number], string>>>;
  /** per-venue endpoint overrides: BOT4_<VENUE>_WS_URL, BOT4_<VENUE>_REST_URL (a local simulator, a testnet) */
  endpoints: Record<string, Partial<Record<(typeof ENDPOINT_SUFFIXES)[number], string>>>;
  /** per-venue order entry in live mode: BOT4_<VENUE>_ORDER_API=native|ccxt (default: native where bot4 has one, else ccxt) */
  orderApi: Record<string, "native" | "ccxt">;
};
