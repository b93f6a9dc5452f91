/** Symbols of the model kernels (filled in with the C side). Offsets mirrored from the headers. */
import type { LayoutSpec } from "./types.ts";

export const modelSymbols = {} as const;
export const modelLayouts: LayoutSpec[] = [];
