/**
 * Client order ids: unique across restarts, legal on every venue we speak to, reproducible under
 * a seed for backtests. An id is `<session><counter>`: the session part is fixed at start from
 * the wall clock (ms, base 36) and 20 random bits, the counter is base 36. Two sessions share a
 * prefix only if they start in the same millisecond and draw the same 20 bits.
 * Binance's newClientOrderId must match ^[\.A-Z\:/a-z0-9_-]{1,36}$; OKX's clOrdId allows only
 * letters and digits (up to 32), so ids use [0-9a-z] only and stay <= 32 characters.
 * A retried submission must reuse its id (OrderTracker.submit treats a known id as a retry);
 * the generator never hands the same id out twice.
 */

/** Binance newClientOrderId pattern (spot and futures API docs) */
export const BINANCE_CLIENT_ID = /^[.A-Z:/a-z0-9_-]{1,36}$/;
/** what we generate: a subset legal on Binance, Bybit, OKX, Coinbase (client_order_id is free text), Kraken (cl_ord_id) */
export const CLIENT_ID = /^[0-9a-z]{1,32}$/;
export const MAX_ID_LENGTH = 32;

/** mulberry32: a small seeded generator, enough for a session tag */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ClientIdOptions {
  /** a short tag of ours in front (letters and digits; default "b4") */
  tag?: string;
  /** for backtests: the same seed and startMs give the same ids */
  seed?: number;
  /** start time of the session (default Date.now()) */
  startMs?: number;
}

export class ClientIdGenerator {
  readonly session: string;
  private n = 0;

  constructor(o: ClientIdOptions = {}) {
    const tag = o.tag ?? "b4";
    if (!/^[0-9a-z]{0,8}$/.test(tag)) throw new RangeError(`client id tag "${tag}" must be 0-8 characters of [0-9a-z]`);
    const startMs = o.startMs ?? Date.now();
    if (!(Number.isSafeInteger(startMs) && startMs >= 0)) throw new RangeError(`client id startMs must be a whole ms time (got ${startMs})`);
    const rnd = o.seed === undefined ? (crypto.getRandomValues(new Uint32Array(1))[0]! & 0xfffff) : Math.floor(mulberry32(o.seed)() * 0x100000);
    // ms time in base 36 is 8 characters until the year 2059; random part fixed at 4
    this.session = `${tag}${startMs.toString(36)}${rnd.toString(36).padStart(4, "0")}`;
    if (this.session.length > MAX_ID_LENGTH - 6) throw new RangeError(`client id session "${this.session}" leaves too little room for the counter`);
  }

  /** the next id: never returned before by this generator */
  next(): string {
    const id = this.session + (this.n++).toString(36);
    if (id.length > MAX_ID_LENGTH) throw new RangeError(`client id counter exhausted (${this.n} ids in session ${this.session})`);
    return id;
  }

  /** how many ids were handed out */
  get issued(): number {
    return this.n;
  }

  /** true when the id came from a generator with this session */
  owns(id: string): boolean {
    return id.startsWith(this.session) && id.length > this.session.length;
  }
}

/** true when `id` is acceptable as a client order id on Binance (other venues: stricter CLIENT_ID) */
export function isVenueLegalId(id: string): boolean {
  return BINANCE_CLIENT_ID.test(id) && CLIENT_ID.test(id);
}
