// The core's revocation list (tunnel.auth.revoked): one entry per line, an edge name or
// "serial:HEX" (the serials are in the CA's issued.tsv), "#" comments and blank lines allowed.
// A list with any line that is neither is malformed as a whole: at start that is a config
// error (check-config and run both call parseRevocationList through auth.ts), at run time the
// last good list stays in force, the error is logged and counted. The file is re-read on
// SIGHUP, when fs.watch reports a change in its directory (editors and `mv` replace the file),
// and by a 500 ms stat poll in case no watch event comes (network file systems, overlayfs).
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { edgeNameProblem } from './names.ts';
import { normSerial, type PeerIdentity } from './pki.ts';

export interface RevocationList {
  names: ReadonlySet<string>;
  serials: ReadonlySet<string>;
  entries: number;
}

export const EMPTY_LIST: RevocationList = { names: new Set(), serials: new Set(), entries: 0 };

/** Parse the text of a list; throws Error("line N: …") on the first bad line. */
export function parseRevocationList(text: string): RevocationList {
  const names = new Set<string>();
  const serials = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const m = /^serial:([0-9a-fA-F:]+)$/.exec(line);
    if (m) {
      const hex = m[1].replace(/:/g, '');
      if (hex.length === 0 || hex.length > 40)
        throw new Error(
          `line ${i + 1}: "${line.slice(0, 60)}" is not a certificate serial (1-40 hex digits)`,
        );
      serials.add(normSerial(hex));
      return;
    }
    const bad = edgeNameProblem(line);
    if (bad) throw new Error(`line ${i + 1}: neither an edge name nor serial:HEX (${bad})`);
    names.add(line);
  });
  return { names, serials, entries: names.size + serials.size };
}

/** A revocation list that cannot be read or parsed (logged with its code; the last good list stays). */
export class RevocationProblem extends Error {
  readonly code = 'EDGEWAN_ERR_FLEET_REVOCATION';
  constructor(message: string) {
    super(message);
    this.name = 'RevocationProblem';
  }
}

/** Read and parse `file`; throws RevocationProblem naming the file (and line). */
export function readRevocationList(file: string): RevocationList {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RevocationProblem(
      `cannot read the revocation list ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  if (text.length > 4 << 20) throw new RevocationProblem(`the revocation list ${file} is larger than 4 MiB`);
  try {
    return parseRevocationList(text);
  } catch (e) {
    throw new RevocationProblem(`the revocation list ${file} is malformed, ${(e as Error).message}`);
  }
}

export function isRevoked(list: RevocationList, id: PeerIdentity): boolean {
  return list.names.has(id.name) || list.serials.has(id.serial);
}

export interface WatchHooks {
  /** A new good list is in force (also the first one). */
  applied(list: RevocationList): void;
  /** The file changed but cannot be used; the last good list stays in force. */
  rejected(message: string): void;
}

/** Keeps the list current; stop() ends the watch and the poll. */
export class RevocationWatcher {
  list: RevocationList;
  loads = 0;
  errors = 0;
  lastError: string | null = null;
  private stamp: string;
  private watcher: FSWatcher | null = null;
  private readonly poll: NodeJS.Timeout;
  private debounce: NodeJS.Timeout | null = null;

  constructor(
    readonly file: string,
    private readonly hooks: WatchHooks,
    initial?: RevocationList,
  ) {
    this.stamp = this.stat();
    this.list = initial ?? readRevocationList(file);
    this.loads = 1;
    try {
      this.watcher = watch(dirname(file), { persistent: false }, (_ev, f) => {
        if (!f || f === basename(file)) this.soon();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      /* the poll still runs */
    }
    this.poll = setInterval(() => {
      if (this.stat() !== this.stamp) this.soon();
    }, 500);
    this.poll.unref();
  }

  private stat(): string {
    try {
      const s = statSync(this.file);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (e) {
      return `missing:${(e as NodeJS.ErrnoException).code}`;
    }
  }

  /** Several events for one save arrive together: re-read once, 50 ms after the first. */
  private soon(): void {
    if (this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.reload();
    }, 50);
    this.debounce.unref();
  }

  /** Re-read now (SIGHUP, or a change seen). Returns whether a new list is in force. */
  reload(): boolean {
    this.stamp = this.stat();
    let next: RevocationList;
    try {
      next = readRevocationList(this.file);
    } catch (e) {
      this.errors++;
      this.lastError = (e as Error).message;
      this.hooks.rejected(this.lastError);
      return false;
    }
    this.list = next;
    this.loads++;
    this.lastError = null;
    this.hooks.applied(next);
    return true;
  }

  stop(): void {
    clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
    this.watcher?.close();
  }
}
