/** Symbols of the indicator kernels (filled in with the C side). Offsets mirrored from the headers. */
import type { LayoutSpec } from "./types.ts";

export const indSymbols = {} as const;
export const indLayouts: LayoutSpec[] = [];
