import { describe, expect, test } from "bun:test";
import { ConfigError, describeConfig, LIVE_CONFIRMATION, loadConfig, mask } from "../src/config/load.ts";
import { parseCpuList } from "../src/config/schema.ts";

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("configuration", () => {
  test("no variables at all: paper mode with the documented defaults", () => {
    const c = loadConfig({});
    expect(c.BOT4_MODE).toBe("paper");
    expect(c.BOT4_POOL_ORDERS).toBe(10_000);
    expect(c.BOT4_POOL_TICKS).toBe(100_000);
    expect(c.BOT4_POOL_SIGNALS).toBe(1_000);
    expect(c.BOT4_RING_CAPACITY).toBe(16384);
    expect(c.BOT4_ENGINE_CPU).toEqual([]);
    expect(c.BOT4_HUGEPAGES).toBe(true);
  });

  test("values are coerced and validated", () => {
    const c = loadConfig({ BOT4_POOL_ORDERS: "500", BOT4_ENGINE_CPU: "1", BOT4_FEED_CPUS: "0,2-3", BOT4_HUGEPAGES: "off", BOT4_REPLAY_SPEED: "max" });
    expect(c.BOT4_POOL_ORDERS).toBe(500);
    expect(c.BOT4_ENGINE_CPU).toEqual([1]);
    expect(c.BOT4_FEED_CPUS).toEqual([0, 2, 3]);
    expect(c.BOT4_HUGEPAGES).toBe(false);
    expect(c.BOT4_REPLAY_SPEED).toBe("max");
  });

  test("each bad value is named with its value and the expected form; exit code 2", () => {
    const e = configError({ BOT4_POOL_ORDERS: "lots", BOT4_RING_CAPACITY: "1000", BOT4_MODE: "yolo", BOT4_REPLAY_SPEED: "-1" });
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain('BOT4_POOL_ORDERS="lots": expected a whole number from 1 to 10000000');
    expect(e.message).toContain('BOT4_RING_CAPACITY="1000": expected a power of two');
    expect(e.message).toContain('BOT4_MODE="yolo": expected paper or live');
    expect(e.message).toContain('BOT4_REPLAY_SPEED="-1"');
  });

  test("a misspelt BOT4_ variable is refused rather than silently ignored", () => {
    expect(configError({ BOT4_POOL_ORDER: "5" }).message).toContain("BOT4_POOL_ORDER=\"5\": unknown setting");
  });

  test("live mode needs the confirmation, venues and their keys; secrets are masked in errors", () => {
    const e = configError({ BOT4_MODE: "live", BOT4_VENUES: "binance", BOT4_BINANCE_API_SECRET: "s3cr3t-value-abcdef" });
    expect(e.message).toContain(`expected \`${LIVE_CONFIRMATION}\``);
    expect(e.message).toContain("BOT4_BINANCE_API_KEY / _API_SECRET");
    expect(e.message).not.toContain("s3cr3t");
    const ok = loadConfig({ BOT4_MODE: "live", BOT4_VENUES: "binance", BOT4_LIVE_CONFIRM: LIVE_CONFIRMATION, BOT4_BINANCE_API_KEY: "key-1234567890", BOT4_BINANCE_API_SECRET: "s3cr3t-value-abcdef" });
    expect(ok.credentials.binance?.API_SECRET).toBe("s3cr3t-value-abcdef");
    const shown = describeConfig(ok);
    expect(shown.BOT4_BINANCE_API_SECRET).toBe("****cdef");
    expect(JSON.stringify(shown)).not.toContain("s3cr3t");
  });

  test("order entry per venue: BOT4_<VENUE>_ORDER_API is native or ccxt, anything else refused", () => {
    const c = loadConfig({ BOT4_BINANCE_ORDER_API: "ccxt", BOT4_KRAKEN_ORDER_API: "native" });
    expect(c.orderApi).toEqual({ binance: "ccxt", kraken: "native" });
    expect(describeConfig(c).BOT4_BINANCE_ORDER_API).toBe("ccxt");
    expect(loadConfig({}).orderApi).toEqual({});
    expect(() => loadConfig({ BOT4_BINANCE_ORDER_API: "rest" })).toThrow(/BOT4_BINANCE_ORDER_API="rest": expected native .* or ccxt/);
  });

  test("BOT4_ENGINE_SPIN_US: auto by default, or whole microseconds", () => {
    expect(loadConfig({}).BOT4_ENGINE_SPIN_US).toBe("auto");
    expect(loadConfig({ BOT4_ENGINE_SPIN_US: "5000" }).BOT4_ENGINE_SPIN_US).toBe("5000");
    expect(() => loadConfig({ BOT4_ENGINE_SPIN_US: "1.5" })).toThrow(/BOT4_ENGINE_SPIN_US="1.5": expected `auto` or whole microseconds/);
  });

  test("masking hides short secrets entirely", () => {
    expect(mask("abc")).toBe("****");
    expect(mask("0123456789")).toBe("****6789");
  });

  test("CPU lists", () => {
    expect(parseCpuList("")).toEqual([]);
    expect(parseCpuList("0-2,5")).toEqual([0, 1, 2, 5]);
  });
});
