/**
 * `make bench`: every bench/*.bench.ts in turn (each is its own process, so one bench's threads
 * and heap do not disturb the next). `--json` prints one object: { machine, <bench>: figures }.
 * `--only a,b` runs a subset.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { cpuInfo } from "../ffi/cpu.ts";

const json = process.argv.includes("--json");
const onlyArg = process.argv.indexOf("--only");
const only = onlyArg > 0 ? new Set((process.argv[onlyArg + 1] ?? "").split(",")) : undefined;
const dir = import.meta.dir;
const names = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .map((f) => f.replace(/\.bench\.ts$/, ""))
  .filter((n) => !only || only.has(n))
  .sort();

const cpu = cpuInfo();
const out: Record<string, unknown> = {
  machine: { cpu: cpu.model, cores: navigator.hardwareConcurrency, avx2: cpu.flags.has("avx2"), avx512f: cpu.flags.has("avx512f"), bun: Bun.version, date: new Date().toISOString() },
};
let failed = 0;
for (const name of names) {
  if (!json) console.log(`\n=== ${name} ${"=".repeat(Math.max(0, 70 - name.length))}`);
  const p = Bun.spawnSync([process.execPath, join(dir, `${name}.bench.ts`), ...(json ? ["--json"] : [])], {
    stdout: json ? "pipe" : "inherit",
    stderr: json ? "pipe" : "inherit",
    env: process.env,
  });
  if (p.exitCode !== 0) {
    failed++;
    const msg = `bench ${name} failed (exit ${p.exitCode})`;
    if (json) out[name] = { error: msg, stderr: p.stderr.toString().slice(-2000) };
    else console.error(msg);
    continue;
  }
  if (json) {
    const text = p.stdout.toString().trim().split("\n").pop() ?? "{}";
    try {
      out[name] = JSON.parse(text);
    } catch {
      failed++;
      out[name] = { error: "bench printed no JSON object", stdout: text.slice(-500) };
    }
  }
}
if (json) console.log(JSON.stringify(out, null, 2));
process.exit(failed ? 1 : 0);
