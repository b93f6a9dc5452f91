/** Symbols of c/clock.c. */
import type { LayoutSpec } from "./types.ts";

export const clockSymbols = {} as const;
export const clockLayouts: LayoutSpec[] = [];
