/**
 * Venues and instruments get small integer ids: they index the state tables (8 instruments per
 * vector group) and travel in every tick record. Names follow ccxt's unified vocabulary
 * (`BTC/USDT:USDT` is the USD-M linear perpetual, `BTC/USDT` spot).
 */
export const Venue = {
  sim: 0,
  binance: 1,
  binanceusdm: 2,
  binancecoinm: 3,
  coinbase: 4,
  kraken: 5,
  okx: 6,
  bybit: 7,
} as const;
export type VenueName = keyof typeof Venue;
export const venueName = (id: number): string => (Object.keys(Venue) as VenueName[]).find((k) => Venue[k] === id) ?? `venue#${id}`;

/** Instrument id registry: the first symbol registered gets 0, and so on. */
export class InstrumentTable {
  private readonly ids = new Map<string, number>();
  readonly symbols: string[] = [];
  readonly venues: number[] = [];

  /** Id of (venue, symbol), registering it on first sight. */
  id(venue: number, symbol: string): number {
    const key = `${venue}:${symbol}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.symbols.length;
      this.ids.set(key, id);
      this.symbols.push(symbol);
      this.venues.push(venue);
    }
    return id;
  }

  get size(): number {
    return this.symbols.length;
  }

  label(id: number): string {
    return `${venueName(this.venues[id] ?? -1)}:${this.symbols[id] ?? `#${id}`}`;
  }

  toJSON(): { symbols: string[]; venues: number[] } {
    return { symbols: this.symbols, venues: this.venues };
  }

  static from(j: { symbols: string[]; venues: number[] }): InstrumentTable {
    const t = new InstrumentTable();
    j.symbols.forEach((s, i) => t.id(j.venues[i]!, s));
    return t;
  }
}

/** Binance stream symbol (`btcusdt`) of USD-M futures → ccxt unified symbol (`BTC/USDT:USDT`). */
export function binanceUsdmUnified(raw: string): string {
  const s = raw.toUpperCase();
  for (const quote of ["USDT", "USDC", "BUSD"]) {
    if (s.endsWith(quote) && s.length > quote.length) return `${s.slice(0, -quote.length)}/${quote}:${quote}`;
  }
  return s;
}

/** Base and quote currency of a ccxt unified symbol (`BTC/USDT`, `BTC/USDT:USDT` -> BTC, USDT). */
export function baseQuote(symbol: string): { base: string; quote: string } {
  const [pair] = symbol.split(":");
  const [base, quote] = (pair ?? symbol).split("/");
  if (!base || !quote) throw new RangeError(`cannot tell base and quote of \`${symbol}\` (expected a ccxt unified symbol such as BTC/USDT)`);
  return { base, quote };
}
