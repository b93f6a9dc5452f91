/** Symbols of c/state.c. */
import type { LayoutSpec } from "./types.ts";

export const stateSymbols = {} as const;
export const stateLayouts: LayoutSpec[] = [];
