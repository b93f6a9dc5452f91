/**
 * Loads the strategy named in config: a built-in by name, or a user's file by path (TypeScript or
 * JavaScript; its default export, or an export named `strategy`, is an instance, a class or a
 * factory taking the numeric parameters). Cold path: every refusal says what was found and what
 * was expected.
 */
import { isAbsolute, resolve } from "node:path";
import { existsSync } from "node:fs";
import type { Strategy, StrategyExport } from "./api.ts";
import { AvellanedaStoikovMaker } from "./builtin/market-maker.ts";
import { CrossVenueArbitrage } from "./builtin/arbitrage.ts";
import { BollingerMeanReversion } from "./builtin/bollinger.ts";

export class StrategyError extends Error {
  override name = "StrategyError";
}

export const BUILTIN: Record<string, { about: string; make: (p: Record<string, number>) => Strategy }> = {
  "market-maker": { about: "inventory-skewed two-sided quotes (Avellaneda–Stoikov)", make: (p) => new AvellanedaStoikovMaker(p) },
  arbitrage: { about: "cross-venue arbitrage between the same pair on two venues (IOC legs)", make: (p) => new CrossVenueArbitrage(p) },
  bollinger: { about: "Bollinger-band mean reversion on bars", make: (p) => new BollingerMeanReversion(p) },
};

const HANDLERS = ["onStart", "onTrade", "onBook", "onBar", "onOrder", "onFill", "onTimer", "onStop"] as const;

/** `a=1,b=2.5` -> { a: 1, b: 2.5 } */
export function parseParams(s: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of s.split(",").map((x) => x.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    const k = part.slice(0, eq).trim();
    const v = Number(part.slice(eq + 1));
    if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || part.slice(eq + 1).trim() === "" || !Number.isFinite(v)) {
      throw new StrategyError(`strategy parameter \`${part}\` is not name=number (example: gamma=0.1,quoteAmount=0.002)`);
    }
    out[k] = v;
  }
  return out;
}

function check(s: unknown, where: string): Strategy {
  if (s === null || typeof s !== "object") throw new StrategyError(`${where} did not give a strategy object (got ${s === null ? "null" : typeof s})`);
  const o = s as Record<string, unknown>;
  const present = HANDLERS.filter((h) => o[h] !== undefined);
  for (const h of present) if (typeof o[h] !== "function") throw new StrategyError(`${where}: ${h} is a ${typeof o[h]}, expected a function`);
  if (!present.some((h) => h !== "onStart" && h !== "onStop")) {
    throw new StrategyError(`${where} has none of the handlers ${HANDLERS.filter((h) => h !== "onStart" && h !== "onStop").join(", ")}: it could never act`);
  }
  return s as Strategy;
}

function instantiate(e: StrategyExport, params: Record<string, number>, where: string): Strategy {
  if (typeof e === "function") {
    // a class (has a prototype with handlers) or a factory
    const proto = (e as { prototype?: Record<string, unknown> }).prototype;
    const isClass = /^class[\s{]/.test(Function.prototype.toString.call(e)) || (proto !== undefined && HANDLERS.some((h) => typeof proto[h] === "function"));
    try {
      return check(isClass ? new (e as new (p: Record<string, number>) => Strategy)(params) : (e as (p: Record<string, number>) => Strategy)(params), where);
    } catch (err) {
      if (err instanceof StrategyError) throw err;
      throw new StrategyError(`${where}: constructing the strategy failed: ${(err as Error).message}`);
    }
  }
  return check(e, where);
}

/** Resolves `spec` (a built-in name or a file path) to a strategy instance. */
export async function loadStrategy(spec: string, params: Record<string, number> = {}, cwd = process.cwd()): Promise<Strategy> {
  const b = BUILTIN[spec];
  if (b) {
    try {
      return b.make(params);
    } catch (err) {
      throw new StrategyError(`strategy ${spec}: ${(err as Error).message}`);
    }
  }
  const path = isAbsolute(spec) ? spec : resolve(cwd, spec);
  if (!existsSync(path)) {
    throw new StrategyError(`strategy \`${spec}\` is neither a built-in (${Object.keys(BUILTIN).join(", ")}) nor a file (${path} does not exist)`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await import(path);
  } catch (err) {
    throw new StrategyError(`strategy file ${path} did not load: ${(err as Error).message}`);
  }
  const e = (mod.default ?? mod.strategy) as StrategyExport | undefined;
  if (e === undefined) throw new StrategyError(`strategy file ${path} exports neither a default nor \`strategy\` (exports: ${Object.keys(mod).join(", ") || "none"})`);
  return instantiate(e, params, `strategy file ${path}`);
}
