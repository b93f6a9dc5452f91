/** Thread placement (a Worker pins its own thread) and the huge-page report. */
import { expect, test } from "bun:test";
import { K } from "../ffi/lib.ts";
import { allowedCpus, currentCpu, hugepageStatus, mlockAll, pinThisThread, sendFloor, threadId } from "../ffi/sys.ts";

/** Runs `body` (an async function body over the ffi/sys.ts exports) in a Worker: its own OS thread. */
async function inWorker<T>(body: string): Promise<T> {
  const code = `
    import * as sys from ${JSON.stringify(new URL("../ffi/sys.ts", import.meta.url).href)};
    postMessage(await (async () => { ${body} })());`;
  const url = URL.createObjectURL(new Blob([code], { type: "application/typescript" }));
  return new Promise((resolve, reject) => {
    const w = new Worker(url);
    w.onmessage = (e) => {
      resolve(e.data);
      w.terminate();
    };
    w.onerror = (e) => reject(new Error(e.message));
  });
}

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
  expect(r.message).toMatch(/CPU 4095 is not available to this process \(allowed: .*\); fix BOT4_ENGINE_CPU/);
  expect(pinThisThread([-1]).ok).toBe(false);
  expect(pinThisThread([0.5]).ok).toBe(false);
  expect(pinThisThread([]).ok).toBe(true);
  expect(currentCpu()).toBeGreaterThanOrEqual(0);
  expect(K.bot4_sys_pin(Int32Array.from([4095]), 1)).toBe(22); // EINVAL from C, mask untouched
});

test("a list with one CPU the machine lacks is refused whole; the thread's mask is left as it was", async () => {
  const missing = Math.max(...allowedCpus()) + 1; // a CPU number the kernel may accept but drop
  const r = await inWorker<{ ok: boolean; message: string; before: number[]; after: number[] }>(`
    const before = sys.allowedCpus();
    const r = sys.pinThisThread([before[0], ${missing}]);
    return { ...r, before, after: sys.allowedCpus() };`);
  expect(r.ok).toBe(false);
  expect(r.message).toContain(`CPU ${missing} is not available`);
  expect(r.after).toEqual(r.before);
});

test("thread ids: the main thread is the process, a Worker is another thread", async () => {
  expect(threadId()).toBe(process.pid);
  const w = await inWorker<number>("return sys.threadId();");
  expect(w).toBeGreaterThan(0);
  expect(w).not.toBe(process.pid);
});

test("mlockAll refuses flags that lock nothing, without calling the kernel", () => {
  expect(K.bot4_sys_mlockall(0)).toBe(22);
  expect(K.bot4_sys_mlockall(4)).toBe(22); // on-fault alone
  expect(K.bot4_sys_mlockall(8)).toBe(22);
  const r = mlockAll({ current: false, future: false });
  expect(r.ok).toBe(false);
  expect(r.message).toContain("EINVAL");
});

test("huge page status parses /proc/meminfo and the THP mode", () => {
  const s = hugepageStatus();
  expect(s.total).toBeGreaterThanOrEqual(0);
  expect(s.free).toBeLessThanOrEqual(s.total);
  expect(["always", "madvise", "never", "unknown"]).toContain(s.thp);
  expect(s.describe).toContain("THP");
  if (s.total === 0) expect(s.describe).toContain("vm.nr_hugepages");
});

test("the loopback send() reference times every write of a frame; bad arguments are refused", () => {
  const v = sendFloor(64, 419);
  expect(v.length).toBe(64);
  for (const x of v) {
    expect(Number.isFinite(x)).toBe(true);
    expect(x).toBeGreaterThan(0);
  }
  const out = new Float64Array(4);
  expect(K.bot4_sys_send_floor(4, 0, out)).toBe(22);
  expect(K.bot4_sys_send_floor(4, 70_000, out)).toBe(22);
  expect(K.bot4_sys_send_floor(0, 100, out)).toBe(22);
  expect(() => sendFloor(4, 0)).toThrow(/EINVAL/);
});
