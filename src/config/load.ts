/** Loads and validates the configuration; a bad value stops start-up with exit code 2. */
import { CREDENTIAL_SUFFIXES, type Config, configSchema, SECRET_PATTERN, settings } from "./schema.ts";

export const LIVE_CONFIRMATION = "I-accept-real-orders";

export class ConfigError extends Error {
  override name = "ConfigError";
  readonly exitCode = 2;
}

/** Masks a secret for display: keeps nothing of short values, the last 4 characters of long ones. */
export function mask(value: string): string {
  if (value.length <= 8) return "****";
  return `****${value.slice(-4)}`;
}

export function displayValue(name: string, value: unknown): string {
  if (value === undefined) return "(unset)";
  const s = Array.isArray(value) ? value.join(",") : String(value);
  if (SECRET_PATTERN.test(name)) return mask(s);
  return typeof value === "string" ? JSON.stringify(s) : s;
}

/** Validates `env` (default: process.env) against the schema. Throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(settings)) {
    const v = env[key];
    input[key] = v === "" ? undefined : v; // an empty value means "use the default"
  }
  const parsed = configSchema.safeParse(input);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0]);
      problems.push(`${name}=${displayValue(name, env[name])}: expected ${issue.message}`);
    }
  }
  // Unknown BOT4_ variables are mistakes (a typo silently falls back to a default otherwise).
  const known = new Set(Object.keys(settings));
  const credentials: Config["credentials"] = {};
  const endpoints: Config["endpoints"] = {};
  const orderApi: Config["orderApi"] = {};
  for (const key of Object.keys(env)) {
    if (!key.startsWith("BOT4_") || known.has(key)) continue;
    const cred = /^BOT4_([A-Z0-9]+)_(API_KEY|API_SECRET|PASSPHRASE)$/.exec(key);
    if (cred) {
      const venue = cred[1]!.toLowerCase();
      (credentials[venue] ??= {})[cred[2] as (typeof CREDENTIAL_SUFFIXES)[number]] = env[key];
      continue;
    }
    const ep = /^BOT4_([A-Z0-9]+)_(WS_URL|REST_URL|ORDER_URL)$/.exec(key);
    if (ep) {
      const v = env[key] ?? "";
      // market data streams are WebSocket, REST is HTTP; orders go to a WebSocket API (native) or a REST API (ccxt)
      const kind = ep[2] === "WS_URL" ? "ws" : ep[2] === "REST_URL" ? "http" : "either";
      const want = kind === "ws" ? /^wss?:\/\/[^\s/]+/ : kind === "http" ? /^https?:\/\/[^\s/]+/ : /^(wss?|https?):\/\/[^\s/]+/;
      if (!want.test(v)) problems.push(`${key}=${JSON.stringify(v)}: expected a ${kind === "ws" ? "ws:// or wss://" : kind === "http" ? "http:// or https://" : "ws://, wss:// (a WebSocket order API), http:// or https:// (a REST order API)"} URL`);
      else (endpoints[ep[1]!.toLowerCase()] ??= {})[ep[2] as "WS_URL" | "REST_URL" | "ORDER_URL"] = v;
      continue;
    }
    const api = /^BOT4_([A-Z0-9]+)_ORDER_API$/.exec(key);
    if (api) {
      const v = (env[key] ?? "").trim();
      if (v !== "native" && v !== "ccxt") problems.push(`${key}=${JSON.stringify(env[key] ?? "")}: expected native (the venue's own order entry where bot4 has one: binance) or ccxt (ccxt's REST client)`);
      else orderApi[api[1]!.toLowerCase()] = v;
      continue;
    }
    problems.push(`${key}=${displayValue(key, env[key])}: unknown setting; known settings are listed by \`bot4 --help\``);
  }
  if (parsed.success) {
    const c = parsed.data;
    if (c.BOT4_MODE === "live") {
      if (env.BOT4_LIVE_CONFIRM !== LIVE_CONFIRMATION) {
        problems.push(`BOT4_LIVE_CONFIRM=${displayValue("BOT4_LIVE_CONFIRM", env.BOT4_LIVE_CONFIRM)}: expected \`${LIVE_CONFIRMATION}\` — live mode sends real orders`);
      }
      if (!c.BOT4_VENUES) problems.push(`BOT4_VENUES="": expected at least one venue id in live mode (e.g. binance)`);
      for (const v of c.BOT4_VENUES.split(",").filter(Boolean)) {
        const cr = credentials[v];
        if (!cr?.API_KEY || !cr.API_SECRET) problems.push(`BOT4_${v.toUpperCase()}_API_KEY / _API_SECRET: expected both for live trading on ${v}`);
      }
    }
  }
  if (problems.length) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}\nFix these in your .env (or the environment) and start again.`);
  }
  return { ...(parsed.data as z_Out), credentials, endpoints, orderApi };
}
type z_Out = Omit<Config, "credentials" | "endpoints" | "orderApi">;

/** The effective configuration as name → display string, secrets masked (for `bot4 info`). */
export function describeConfig(c: Config): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(settings) as (keyof typeof settings)[]) out[key] = displayValue(key, c[key]);
  for (const [venue, cr] of Object.entries(c.credentials)) {
    for (const [k, v] of Object.entries(cr)) out[`BOT4_${venue.toUpperCase()}_${k}`] = mask(v ?? "");
  }
  for (const [venue, e] of Object.entries(c.endpoints ?? {})) {
    for (const [k, v] of Object.entries(e)) out[`BOT4_${venue.toUpperCase()}_${k}`] = JSON.stringify(v);
  }
  for (const [venue, v] of Object.entries(c.orderApi ?? {})) out[`BOT4_${venue.toUpperCase()}_ORDER_API`] = v;
  return out;
}
