// All engine output goes through this logger: one JSON line per event on stderr
// (journald and `docker logs` friendly). No console calls elsewhere in the engine.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  setLevel(level: LogLevel): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  write?: (line: string) => void;
  now?: () => Date;
}

// When stderr's reader goes away (EPIPE), stop writing: otherwise the 'error' event becomes an
// uncaught exception whose log line fails again — a busy loop that was seen in a benchmark.
let stderrBroken = false;
let stderrGuarded = false;
function writeStderr(line: string): void {
  if (stderrBroken) return;
  if (!stderrGuarded) {
    stderrGuarded = true;
    process.stderr.on('error', () => {
      stderrBroken = true;
    });
  }
  process.stderr.write(line);
}

export function createLogger(opts: LoggerOptions = {}, bound: Record<string, unknown> = {}): Logger {
  const state = { level: opts.level ?? 'info' };
  const write = opts.write ?? writeStderr;
  const now = opts.now ?? (() => new Date());
  const make = (extra: Record<string, unknown>): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
      if (ORDER[level] < ORDER[state.level]) return;
      const rec: Record<string, unknown> = { time: now().toISOString(), level, msg, ...extra, ...fields };
      for (const [k, v] of Object.entries(rec)) {
        if (v instanceof Error) rec[k] = { message: v.message, code: (v as { code?: unknown }).code };
      }
      write(`${JSON.stringify(rec)}\n`);
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (f) => make({ ...extra, ...f }),
      setLevel: (l) => {
        state.level = l;
      },
    };
  };
  return make(bound);
}
