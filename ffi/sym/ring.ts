/** Symbols of c/ring.c. */
import type { LayoutSpec } from "./types.ts";

export const ringSymbols = {} as const;
export const ringLayouts: LayoutSpec[] = [];
