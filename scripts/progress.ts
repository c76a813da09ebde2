// Build progress: one line per step start/end with timings. On a TTY the lines are short and
// coloured; otherwise (CI, pipes) plain "edgewan-build: ..." lines; with --json every event
// is one JSON object per line on stderr, and stdout carries only the final report.
export type Mode = 'tty' | 'plain' | 'json';

export interface StepRecord {
  name: string;
  ms: number;
  cached: boolean;
}

export class Progress {
  readonly steps: StepRecord[] = [];
  readonly warnings: string[] = [];
  constructor(
    readonly mode: Mode,
    private readonly out: NodeJS.WritableStream = process.stderr,
  ) {}

  static detect(
    json: boolean,
    stream: NodeJS.WriteStream = process.stderr,
    env: Record<string, string | undefined> = process.env,
  ): Progress {
    return new Progress(json ? 'json' : stream.isTTY && !env.CI ? 'tty' : 'plain', stream);
  }

  private emit(event: string, fields: Record<string, unknown>, text: string): void {
    if (this.mode === 'json') this.out.write(`${JSON.stringify({ event, ...fields })}\n`);
    else this.out.write(`${text}\n`);
  }

  info(msg: string): void {
    this.emit('info', { message: msg }, this.mode === 'tty' ? `  ${msg}` : `edgewan-build: ${msg}`);
  }

  warn(msg: string): void {
    this.warnings.push(msg);
    this.emit(
      'warning',
      { message: msg },
      this.mode === 'tty' ? `\x1b[33m⚠ ${msg}\x1b[0m` : `edgewan-build: WARNING: ${msg}`,
    );
  }

  /** Run one step, timing it; f returns whether the result came from the cache. */
  async step<T>(name: string, f: () => Promise<T>, cachedOf: (r: T) => boolean = () => false): Promise<T> {
    const t0 = performance.now();
    this.emit(
      'start',
      { step: name },
      this.mode === 'tty' ? `\x1b[2m… ${name}\x1b[0m` : `edgewan-build: ${name} …`,
    );
    try {
      const r = await f();
      const ms = Math.round(performance.now() - t0);
      const cached = cachedOf(r);
      this.steps.push({ name, ms, cached });
      const secs = `${(ms / 1000).toFixed(1)} s`;
      this.emit(
        'done',
        { step: name, ms, cached },
        this.mode === 'tty'
          ? `\x1b[32m✓\x1b[0m ${name.padEnd(28)} ${secs.padStart(8)}${cached ? ' \x1b[2m(cached)\x1b[0m' : ''}`
          : `edgewan-build: ${name} done in ${secs}${cached ? ' (cached)' : ''}`,
      );
      return r;
    } catch (e) {
      const ms = Math.round(performance.now() - t0);
      this.emit(
        'failed',
        { step: name, ms },
        this.mode === 'tty'
          ? `\x1b[31m✗\x1b[0m ${name} failed after ${(ms / 1000).toFixed(1)} s`
          : `edgewan-build: ${name} FAILED after ${(ms / 1000).toFixed(1)} s`,
      );
      throw e;
    }
  }
}

/** Run tasks with at most `limit` at a time; rejects with the first error after all settle. */
export async function parallel<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: PromiseSettledResult<T>[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await tasks[i]() };
      } catch (e) {
        results[i] = { status: 'rejected', reason: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
  const bad = results.find((r) => r.status === 'rejected');
  if (bad) throw (bad as PromiseRejectedResult).reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
