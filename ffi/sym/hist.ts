/** Symbols of c/hist.c. */
import type { LayoutSpec } from "./types.ts";

export const histSymbols = {} as const;
export const histLayouts: LayoutSpec[] = [];
