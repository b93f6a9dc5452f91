/** Symbols of c/mem.c. */
import type { LayoutSpec } from "./types.ts";

export const memSymbols = {} as const;
export const memLayouts: LayoutSpec[] = [];
