/**
 * Cost of crossing the FFI seam, beside a plain JS call in the same run: no arguments,
 * pointer + length (pointer passed as a number, the fast path), and a TypedArray argument
 * (Bun converts it to a pointer on every call — the path hot code avoids).
 */
import { K, choice } from "../ffi/lib.ts";
import { alignedBuffer } from "../ffi/buffers.ts";
import { done, figure, mitataSuite, do_not_optimize, section } from "./harness.ts";

const buf = alignedBuffer(4096);
const view = new Uint8Array(buf.buffer, buf.byteOffset, 4096);
const noop = K.bot4_noop;
const ptrLen = K.bot4_noop_ptr_len;
let acc = 0;
function jsPtrLen(p: number, n: number): number {
  return (p & 1) + n;
}

section(`FFI call overhead (kernel variant ${choice.variant})`);
// bench names are the figure names (mitataSuite records each median as `<name>_ns`)
const m = await mitataSuite((bench) => {
  bench("js_call", () => do_not_optimize((acc = jsPtrLen(buf.ptr, acc & 1023))));
  bench("ffi_noop", () => noop());
  bench("ffi_ptr_len", () => do_not_optimize(ptrLen(buf.ptr, 64)));
  bench("ffi_typedarray_len", () => do_not_optimize(ptrLen(view as never, 64)));
});
section("summary (medians; goal: an FFI call <= 5 ns)");
for (const [k, v] of Object.entries(m)) figure(`${k}_ns`, v, "ns");
figure("ffi_ptr_len_vs_js_call", m.ffi_ptr_len! / m.js_call!, "x", "FFI crossing relative to a plain JS call");
done();
