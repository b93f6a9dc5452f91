/**
 * JS-owned memory that C may read: a large ArrayBuffer (never moved by the GC) aligned to 64
 * bytes, with its address taken once. Keep the returned object alive as long as C uses `ptr`.
 */
import { ptr as addressOf } from "bun:ffi";

export interface AlignedBuffer {
  /** backing store (larger than `bytes` by up to `align`); shared when asked, so Workers can view it */
  buffer: ArrayBuffer | SharedArrayBuffer;
  /** offset of the aligned region inside `buffer` */
  byteOffset: number;
  bytes: number;
  /** address of the aligned region */
  ptr: number;
}

export function alignedBuffer(bytes: number, align = 64, shared = false): AlignedBuffer {
  // at least 64 KiB so the store is a plain heap allocation, never an inline (movable) one
  const size = Math.max(bytes + align, 65536);
  const buffer = shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size);
  const base = addressOf(new Uint8Array(buffer));
  const byteOffset = (align - (base % align)) % align;
  return { buffer, byteOffset, bytes, ptr: base + byteOffset };
}

/** The aligned region of a buffer made by alignedBuffer, re-derived in another Worker. */
export function alignedRegion(buffer: ArrayBuffer | SharedArrayBuffer, byteOffset: number, bytes: number): AlignedBuffer {
  return { buffer, byteOffset, bytes, ptr: addressOf(new Uint8Array(buffer)) + byteOffset };
}

/** Address of a typed array's first element (taken once, outside hot loops). */
export function addressOfView(view: ArrayBufferView): number {
  return addressOf(view);
}
