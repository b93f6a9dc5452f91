/** One struct family's expected layout: the C function that reports it and the TS mirror. */
export interface LayoutSpec {
  family: string;
  /** name of the exported `int bot4_layout_<family>(char *buf, int cap)` */
  fn: string;
  expected: Record<string, number>;
}
