/** Symbols of the venue kernels (filled in with the C side). Offsets mirrored from the headers. */
import type { LayoutSpec } from "./types.ts";

export const vparseSymbols = {} as const;
export const vparseLayouts: LayoutSpec[] = [];
