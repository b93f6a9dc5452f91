/** Thread placement (a Worker pins its own thread) and the huge-page report. */
import { expect, test } from "bun:test";
import { allowedCpus, currentCpu, hugepageStatus, pinThisThread } from "../ffi/sys.ts";

test("pinning a Worker's thread to each allowed CPU puts it there", async () => {
  const cpus = allowedCpus();
  expect(cpus.length).toBeGreaterThan(0);
  const code = `
    import { currentCpu, pinThisThread, allowedCpus } from ${JSON.stringify(new URL("../ffi/sys.ts", import.meta.url).href)};
    const out = [];
    for (const c of ${JSON.stringify(cpus)}) {
      const r = pinThisThread([c]);
      let on = -1;
      for (let i = 0; i < 1000 && on !== c; i++) on = currentCpu();
      out.push({ c, ok: r.ok, on, allowed: allowedCpus() });
    }
    postMessage(out);`;
  const url = URL.createObjectURL(new Blob([code], { type: "application/typescript" }));
  const res: Array<{ c: number; ok: boolean; on: number; allowed: number[] }> = await new Promise((resolve, reject) => {
    const w = new Worker(url);
    w.onmessage = (e) => {
      resolve(e.data);
      w.terminate();
    };
    w.onerror = (e) => reject(new Error(e.message));
  });
  for (const r of res) {
    expect(r.ok).toBe(true);
    expect(r.on).toBe(r.c);
    expect(r.allowed).toEqual([r.c]);
  }
  // the main thread was not touched
  expect(allowedCpus()).toEqual(cpus);
});

test("a CPU outside the allowed set is refused with a message, not an exception", () => {
  const r = pinThisThread([4095]);
  expect(r.ok).toBe(false);
  expect(r.message).toMatch(/CPU 4095 is not available to this process.*BOT4_ENGINE_CPU/);
  expect(pinThisThread([]).ok).toBe(true);
  expect(currentCpu()).toBeGreaterThanOrEqual(0);
});

test("huge page status parses /proc/meminfo and the THP mode", () => {
  const s = hugepageStatus();
  expect(s.total).toBeGreaterThanOrEqual(0);
  expect(s.free).toBeLessThanOrEqual(s.total);
  expect(["always", "madvise", "never", "unknown"]).toContain(s.thp);
  expect(s.describe).toContain("THP");
  if (s.total === 0) expect(s.describe).toContain("vm.nr_hugepages");
});
