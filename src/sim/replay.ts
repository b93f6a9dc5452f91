/**
 * Replay of recorded captures for the venue simulator.
 *
 * `readCaptureLines` reads `<recv_ns> <frame>` capture files (gzip or plain: the hftbacktest
 * recordings under shared/data and the bundled slice under data/) and merges several files by
 * receive time (stable: lines with equal times keep file order). The frame text is kept exactly
 * as recorded, so a simulator that sends it sends the recorded bytes.
 *
 * `ReplayPump` walks a tape's frames in order and hands each to `onFrame`, paced:
 *  - `speed > 0`: at N x the recorded pace (1 = real time). Due times are anchored to the wall
 *    clock when the replay starts or resumes, so a pause does not make it rush afterwards.
 *  - `speed = 0`: as fast as the clients take them: frames go out in batches and the pump waits
 *    whenever `blocked()` says a receiver's socket buffer is full (the server calls `kick()` on
 *    drain). Each batch ends with a yield to the event loop, so REST requests and control
 *    messages are answered while the replay runs.
 * With `loop` the pump calls `onLoop` (the venue restarts) and starts over; otherwise `done`
 * resolves after the last frame. `pauseAt(i)` stops before frame i, for checkpoints.
 */
import { DataFileError, readCaptureText } from "../feed/recording.ts";

export type CaptureSource = string | { name: string; bytes: Uint8Array };

export interface CaptureLines {
  /** receive time of each line, ns since the epoch as recorded (a double: ~256 ns resolution) */
  recvNs: Float64Array;
  /** the frame text after the receive time, verbatim */
  text: string[];
  /** index into `files` of the file each line came from */
  file: Uint16Array;
  files: string[];
  /** lines without a readable receive time (skipped) */
  malformed: number;
}

/** Reads and merges capture files. Throws DataFileError for a missing or damaged file. */
export function readCaptureLines(sources: CaptureSource[]): CaptureLines {
  const rows: Array<{ recv: number; text: string; file: number; order: number }> = [];
  const files: string[] = [];
  let malformed = 0, order = 0;
  for (const src of sources) {
    const name = typeof src === "string" ? src : src.name;
    const fileIdx = files.length;
    files.push(name);
    const content = readCaptureText(name, typeof src === "string" ? undefined : src.bytes);
    let start = 0, usable = 0;
    while (start < content.length) {
      let end = content.indexOf("\n", start);
      if (end < 0) end = content.length;
      if (end > start) {
        const sp = content.indexOf(" ", start);
        const recv = sp > start && sp < end ? Number(content.slice(start, sp)) : NaN;
        if (Number.isFinite(recv) && recv > 0) {
          let stop = end;
          if (content.charCodeAt(stop - 1) === 13) stop--; // CRLF files
          rows.push({ recv, text: content.slice(sp + 1, stop), file: fileIdx, order: order++ });
          usable++;
        } else malformed++;
      }
      start = end + 1;
    }
    if (usable === 0) throw new DataFileError(`capture ${name} holds no \`<recv_ns> <frame>\` line`);
  }
  rows.sort((a, b) => a.recv - b.recv || a.order - b.order);
  const recvNs = new Float64Array(rows.length);
  const file = new Uint16Array(rows.length);
  const text = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    recvNs[i] = r.recv;
    file[i] = r.file;
    text[i] = r.text;
  }
  return { recvNs, text, file, files, malformed };
}

/** What the pump needs of a tape: frame count, recorded times, and the first frame to send. */
export interface PacedTape {
  count: number;
  recvNs: Float64Array;
  /** frames before this index are the venue's history: applied at reset, never sent */
  start: number;
}

export interface ReplayOptions {
  /** 1 = recorded pace, N = N x faster, 0 = as fast as the receivers take them */
  speed: number;
  loop?: boolean;
  /** frames per event-loop turn at speed 0 (default 256) */
  batch?: number;
}

export interface ReplayHandlers {
  onFrame(i: number): void;
  /** the tape starts over (loop): the venue resets its state */
  onLoop(): void;
  /** true while a receiver cannot take more (speed 0 only) */
  blocked(): boolean;
}

export class ReplayPump {
  /** index of the next frame to send */
  position: number;
  passes = 0;
  sent = 0;
  /** frames the pump held back because a receiver was full (speed 0) */
  blockedWaits = 0;
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private running = false;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private scheduled = false;
  private anchorIdx = 0;
  private anchorWall = 0;
  private stopAt = -1;
  private stopWaiters: Array<() => void> = [];
  private readonly batch: number;

  constructor(
    private readonly tape: PacedTape,
    private readonly opts: ReplayOptions,
    private readonly h: ReplayHandlers,
  ) {
    if (!(opts.speed >= 0) || !Number.isFinite(opts.speed)) throw new RangeError(`replay speed must be a finite number >= 0 (0 = as fast as possible), got ${opts.speed}`);
    this.position = tape.start;
    this.batch = Math.max(1, opts.batch ?? 256);
    this.done = new Promise((r) => (this.resolveDone = r));
    if (tape.start >= tape.count && !opts.loop) this.resolveDone();
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.stopped || this.running) return;
    this.running = true;
    this.anchor();
    this.schedule(0);
  }

  pause(): void {
    this.running = false;
    this.cancel();
  }

  resume(): void {
    this.start();
  }

  stop(): void {
    this.stopped = true;
    this.running = false;
    this.cancel();
    this.resolveDone();
    this.releaseStopWaiters();
  }

  /** Pauses before frame `i` (resolves at once if the pump is already there or past it). */
  pauseAt(i: number): Promise<void> {
    if (this.position >= i || this.stopped) {
      this.pause();
      return Promise.resolve();
    }
    this.stopAt = i;
    return new Promise((r) => this.stopWaiters.push(r));
  }

  /** A receiver drained: continue if the pump was waiting for it. */
  kick(): void {
    if (this.running && !this.scheduled) this.schedule(0);
  }

  private anchor(): void {
    this.anchorIdx = this.position;
    this.anchorWall = performance.now();
  }

  private cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.scheduled = false;
  }

  private schedule(ms: number): void {
    this.scheduled = true;
    this.timer = setTimeout(() => {
      this.scheduled = false;
      this.timer = undefined;
      this.run();
    }, ms);
  }

  private releaseStopWaiters(): void {
    const w = this.stopWaiters;
    this.stopWaiters = [];
    this.stopAt = -1;
    for (const r of w) r();
  }

  private run(): void {
    const { tape, h } = this;
    const speed = this.opts.speed;
    let n = 0;
    while (this.running) {
      if (this.position === this.stopAt) {
        this.pause();
        this.releaseStopWaiters();
        return;
      }
      if (this.position >= tape.count) {
        this.passes++;
        if (!this.opts.loop) {
          this.running = false;
          this.resolveDone();
          return;
        }
        h.onLoop();
        this.position = tape.start;
        this.anchor();
        if (this.position >= tape.count) return; // nothing to send in a loop: stop rather than spin
        continue;
      }
      if (speed > 0) {
        const due = this.anchorWall + (tape.recvNs[this.position]! - tape.recvNs[this.anchorIdx]!) / 1e6 / speed;
        const wait = due - performance.now();
        if (wait > 0.5) {
          this.schedule(Math.min(wait, 1000));
          return;
        }
      } else if (h.blocked()) {
        this.blockedWaits++;
        // kick() on drain restarts the pump; poll too, in case a receiver went away without draining
        this.schedule(5);
        return;
      }
      h.onFrame(this.position++);
      this.sent++;
      if (++n >= this.batch) {
        this.schedule(0);
        return;
      }
    }
  }
}
