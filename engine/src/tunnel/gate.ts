// Admission control for reading local sockets (one ReadGate per tunnel component, i.e. per
// process). Every read of a TCP socket allocates up to 64 KiB outside the V8 heap, and a
// paused-by-pipe socket reads once more into its own buffer: with 1,000 busy connections that
// alone was 128 MB (measured, docs/tunnel.md "Memory with 1,000 streams"). So a local socket
// reads only while it holds a read slot, and slots are handed out only while
//   held bytes (read, not yet sent on the link) + armed slots × 64 KiB ≤ budget.
// A reader gives its slot back as soon as one read arrives and asks again once its stream has
// sent that data, so busy streams take turns (FIFO). A slot armed but idle longer than
// ROTATE_MS is taken back when others wait, so idle interactive connections cannot starve bulk
// ones, and a stream stalled on credit (slow far reader) holds only what it already read.

/** Largest single read of a TCP socket in Node (libuv's suggested buffer size). */
export const READ_MAX = 64 * 1024;
const ROTATE_MS = 25;

export interface GateReader {
  /** Start reading (the gate granted a slot). */
  arm(): void;
  /** Stop reading now (slot taken back while idle). */
  disarm(): void;
}

export class ReadGate {
  /** Bytes read from local sockets that no stream has sent on the link yet. */
  held = 0;
  peakHeld = 0;
  private readonly armed = new Map<GateReader, number>(); // reader → armed since (ms)
  private readonly waiting = new Set<GateReader>(); // insertion order = FIFO
  private timer: NodeJS.Timeout | null = null;

  constructor(public budget: number) {}

  get armedCount(): number {
    return this.armed.size;
  }
  get waitingCount(): number {
    return this.waiting.size;
  }

  /** The reader wants to read: armed at once when there is room, else queued. */
  request(r: GateReader): void {
    if (this.armed.has(r)) return;
    this.waiting.add(r);
    this.admit();
  }

  /**
   * A read arrived: the reader stopped reading and its slot is free. Call it after the data
   * was written to its stream (which hold()s the bytes), so the room check sees them.
   */
  took(r: GateReader): void {
    this.armed.delete(r);
    this.waiting.delete(r);
    this.admit();
  }

  /** A stream accepted `n` bytes it has not sent yet. */
  hold(n: number): void {
    this.held += n;
    if (this.held > this.peakHeld) this.peakHeld = this.held;
  }

  /** `n` held bytes left the process (sent on the link) or were dropped. */
  release(n: number): void {
    this.held = Math.max(0, this.held - n);
    this.admit();
  }

  /** The reader is gone (socket ended or closed). */
  cancel(r: GateReader): void {
    this.armed.delete(r);
    this.waiting.delete(r);
    this.admit();
  }

  private room(): boolean {
    // With nothing held or armed one reader may read whatever the budget (a budget below one
    // read must not stop everything); otherwise held bytes come back as streams send them.
    return (
      (this.armed.size === 0 && this.held === 0) ||
      this.held + (this.armed.size + 1) * READ_MAX <= this.budget
    );
  }

  private admit(): void {
    for (const r of this.waiting) {
      if (!this.room()) break;
      this.waiting.delete(r);
      this.armed.set(r, Date.now());
      r.arm();
    }
    this.rotateLater();
  }

  /** While readers wait, take slots back from readers that have been idle a while. */
  private rotateLater(): void {
    if (this.timer || this.waiting.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const old = Date.now() - ROTATE_MS;
      const idle = [...this.armed].filter(([, since]) => since <= old).map(([r]) => r);
      for (const r of idle.slice(0, this.waiting.size)) {
        this.armed.delete(r);
        r.disarm();
        this.waiting.add(r); // back of the queue
      }
      this.admit();
    }, ROTATE_MS);
    this.timer.unref();
  }
}
