/** The Performance Profile Report as text (terminal) or Markdown, from the measured figures. */
import type { Dist, ProfileReport } from "./measure.ts";

type Cell = string;

function table(head: Cell[], rows: Cell[][], md: boolean, right: boolean[] = []): string {
  if (md) {
    const esc = (s: string) => s.replace(/\|/g, "\\|");
    return [`| ${head.map(esc).join(" | ")} |`, `| ${head.map((_, i) => (right[i] ? "---:" : "---")).join(" | ")} |`, ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`)].join("\n");
  }
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: Cell[]) => "  " + r.map((c, i) => (right[i] ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join("  ").trimEnd();
  return [line(head), line(w.map((x) => "-".repeat(x))), ...rows.map(line)].join("\n");
}

/** ns as a short human figure */
export function ns(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} ms`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e5 ? 0 : v >= 1e4 ? 1 : 2)} µs`;
  return `${v.toFixed(v >= 100 ? 0 : 1)} ns`;
}

const num = (v: number, d = 2) => (Math.abs(v) >= 1e6 ? `${(v / 1e6).toFixed(d)} M` : Math.abs(v) >= 1e4 ? `${(v / 1e3).toFixed(0)} k` : v.toFixed(d));

/** A log-scale bar from 10 ns to 1 ms: solid to P50, shaded from P50 to P99, a mark at P99.9. */
/** events per second from a count over `ms` milliseconds */
function rate(count: number, ms: number): string {
  return Math.round((count * 1000) / ms).toString();
}

export function bar(d: Dist, width = 30): string {
  const pos = (v: number) => Math.max(0, Math.min(width, Math.round(((Math.log10(Math.max(v, 10)) - 1) / 5) * width)));
  const a = pos(d.p50), b = pos(d.p99), c = pos(d.p999);
  let s = "";
  for (let i = 0; i < width; i++) s += i < a ? "█" : i < b ? "▒" : i === Math.max(b, c - 1) && c > b ? "|" : " ";
  return s.trimEnd() || "▏";
}

export function renderReport(r: ProfileReport, md: boolean): string {
  const out: string[] = [];
  const h = (t: string) => out.push(md ? `\n## ${t}\n` : `\n${t}\n${"=".repeat(t.length)}`);
  const p = (t: string) => out.push(md ? `${t}\n` : t);
  out.push(md ? `# bot4 Performance Profile Report\n` : "bot4 Performance Profile Report");
  p(`${r.when} — ${r.mode} run, ${r.reps} repetition${r.reps === 1 ? "" : "s"} per figure, seed ${r.seed} (workload), strategy ${r.strategy}. Every figure below was measured in this run on this machine.`);
  p(`Data: ${r.data.files.join(", ")} — ${r.data.frames} raw frames, ${r.data.records} records, ${r.data.instruments.join(", ")}.`);

  h("Machine");
  const m = r.machine;
  out.push(
    table(
      ["what", "found"],
      [
        ["CPU", `${m.cpu.model} (${m.cpu.cores} logical CPUs; allowed: ${m.cpusAllowed})`],
        ["CPU features", m.cpu.features],
        ["kernel variant", `${m.kernel.variant} — ${m.kernel.reason}`],
        ["kernel ISA / doubles per vector", `${m.kernel.isa} / ${m.kernel.doublesPerVector}`],
        ["clock", `${m.clock.source} (${m.clock.tscGHz} GHz; calibration ±${m.clock.calibrationErrorPpm} ppm)`],
        ["Bun", m.bun],
        ["load average (1 min), start / end of the run", `${m.loadAverage1m.start} / ${m.loadAverage1m.end} (other processes share these CPUs)`],
        ["a spinning thread kept off its CPU, start / end of the run", m.gaps.map((g) => `${rate(g.over10us, g.ms)}/s over 10 µs, ${rate(g.over30us, g.ms)}/s over 30 µs, longest ${ns(g.maxNs)}, ${(g.lostShare * 100).toFixed(1)}% of the time`).join(" / ") + " (a C loop reading the clock; a latency sample that such a gap falls into carries it)"],
      ],
      md,
    ),
  );

  h("Targets vs measured");
  out.push(table(["goal", "target", "measured", "", "how"], r.goals.map((g) => [g.name, g.target, `${g.measured.toFixed(g.measured >= 100 ? 0 : 2)} ${g.unit}`, g.met ? "met" : "MISSED", g.how]), md, [false, false, true, false, false]));

  h("Latency distributions per stage");
  p(md ? "Per-record stages: one timed call per batch, divided by its records (batch time / count). Per-op stages: each call timed alone with the bot4 clock (TSC), timer cost included. Bars: log scale 10 ns .. 1 ms, █ up to P50, ▒ up to P99, | at P99.9." : "  per-record stages: batch time / count; per-op stages: each call timed alone (TSC clock, timer included)\n  bars: log scale 10 ns .. 1 ms; █ to P50, ▒ to P99, | at P99.9");
  out.push(
    table(
      ["stage", "sample", "P50", "P90", "P95", "P99", "P99.9", "samples", "distribution"],
      r.stages.map((s) => [s.stage, s.unit, ns(s.ns.p50), ns(s.ns.p90), ns(s.ns.p95), ns(s.ns.p99), ns(s.ns.p999), String(s.ns.count), bar(s.ns)]),
      md,
      [false, false, true, true, true, true, true, true, false],
    ),
  );
  p(md ? "" : "");
  for (const s of r.stages) p(`${md ? "- " : "  "}${s.stage}: ${s.note} [${s.method}]`);

  h("Throughput");
  const t = r.throughput;
  out.push(
    table(
      ["figure", "median", "runs"],
      [
        ["whole replay, one core (frames -> parser -> engine, one thread)", `${num(t.oneCorePerS)} ticks/s`, t.oneCoreRuns.map((x) => num(x)).join(", ")],
        ["whole replay, two cores (feed thread -> SPSC ring -> engine thread)", `${num(t.twoCorePerS)} ticks/s`, t.twoCoreRuns.map((x) => num(x)).join(", ")],
        ["two cores vs one (paired runs)", `${t.twoVsOne.toFixed(2)}x`, t.ratios.map((x) => x.toFixed(2)).join(", ")],
        ["engine step alone, live path (records already parsed)", `${num(t.engineOnlyPerS)} ticks/s`, ""],
        ["engine step alone, paper (simulated venues in the engine thread)", `${num(t.paperEngineOnlyPerS)} ticks/s`, ""],
        ["parser alone", `${num(t.parseOnlyPerS)} records/s`, ""],
        [`engine step, ${r.memory.fiveVenues.venues.length} venues (${r.memory.fiveVenues.instruments} instruments)`, `${num(t.fiveVenueEnginePerS)} ticks/s`, ""],
      ],
      md,
      [false, true, false],
    ),
  );
  const x = t.crossCoreRtt;
  p(`${md ? "\n" : "  "}cross-core cache-line round trip (two C threads, ${x.pinned}, one record each way, ${x.roundTripsPerWindow} per window, measured before, between and after the runs above): P50 ${x.windowsP50Ns.map((v) => ns(v)).join(", ")}; P99 ${x.windowsP99Ns.map((v) => ns(v)).join(", ")}. Host placement varies: lowest window P50 ${ns(x.minP50Ns)}, highest ${ns(x.maxP50Ns)}.`);
  p(`${md ? "" : "  "}one core: ${t.oneCore.orders} orders in ${t.oneCore.batches} engine batches; two cores: ${t.twoCore.orders} orders in ${t.twoCore.batches} batches.`);
  p(`${md ? "" : "  "}two cores: the engine thread was in the engine step ${(t.twoCore.engineBusyShare * 100).toFixed(0)}% of the run and waited for records the rest; the feed thread napped on a ring that stayed full ${t.twoCore.feedNapsOnFullRing} times (medians over the runs).`);
  p(`${md ? "" : "  "}every engine figure is steady state: each timed run follows ${t.warmPasses} untimed passes of a throwaway parser and engine over the whole recording (the JIT's last tier, where a running engine spends its life), and the timed parser and engine first run the opening ${(t.warmShare * 100).toFixed(0)}% of the recording untimed themselves (a fresh engine's once-per-life costs: its first book snapshot, first touches of its tables, its first orders); the figures cover the rest.`);

  h("Memory");
  const mem = r.memory;
  out.push(
    table(
      ["figure", "value"],
      [
        ["RSS at start-up (bot4 profile entered, before kernels and engine)", `${mem.rssStartMb.toFixed(1)} MB`],
        ["RSS after set-up (kernels, data, frames)", `${mem.rssAfterSetupMb.toFixed(1)} MB`],
        [`RSS steady state, ${mem.fiveVenues.venues.length} venues (${mem.fiveVenues.venues.join(", ")}): a process of its own replaying them, holding the engine pools and ${mem.fiveVenues.held.rings} of feed rings`, `${mem.rssSteadyMb.toFixed(1)} MB`],
        ["RSS at that point: anonymous / file-backed / shared", `${mem.rssBreakdownMb.anon.toFixed(1)} / ${mem.rssBreakdownMb.file.toFixed(1)} / ${mem.rssBreakdownMb.shmem.toFixed(1)} MB (the tick file mapped: ${mem.fiveVenues.tickFileMb.toFixed(1)} MB; ${mem.fiveVenues.records} records replayed)`],
        ["RSS peak (sampled) / high-water mark (VmHWM) of that process", `${mem.rssPeakMb.toFixed(1)} / ${mem.vmHwmMb.toFixed(1)} MB`],
        ["high-water mark of this profile process (all of the above work)", `${mem.profileProcessVmHwmMb.toFixed(1)} MB`],
        ["allocation in the engine step (growth of allocator bytes between batches, summed, less the same loop without the engine: the probe's own; medians of 3; coarse estimate)", `${num(mem.heapAllocBytesPerS)}B/s (${mem.heapAllocBytesPerTick.toFixed(1)} B per tick)`],
        ["engine pools", mem.pools.describe],
        ...mem.pools.pools.map((q) => [`pool ${q.name}`, `${q.inUse} in use of ${q.capacity}, high water ${q.highWater}, ${q.gets} gets, ${q.exhausted} exhausted`]),
      ],
      md,
    ),
  );
  p(`\n${md ? "" : "  "}Order entry: ${r.orderEntry.orders} orders submitted, ${r.orderEntry.placedAtVenue} placed at the local venue, ${r.orderEntry.acks} acks, ${r.orderEntry.cancels} cancels. Engine replay: ${r.engine.orders} orders in ${r.engine.batches} batches. Profile took ${r.elapsedS.toFixed(1)} s.`);
  return out.join("\n") + "\n";
}
