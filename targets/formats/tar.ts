// Deterministic tar writer shared by every package and image format (deb, ipk, apk data,
// OCI layers). Entries are sorted by path, parents come before children, owner is 0:0
// (root/root), mtime is the one SOURCE_DATE_EPOCH passed down, modes are explicit, and a
// duplicate path is an error naming it. Output is plain ustar (pax only for long names).
import { pack } from 'tar-stream';

export type FileEntry =
  | { type: 'file'; path: string; mode: number; data: Buffer; uid?: number; gid?: number }
  | { type: 'dir'; path: string; mode: number; uid?: number; gid?: number }
  | { type: 'symlink'; path: string; target: string; uid?: number; gid?: number };

export interface TarOptions {
  /** seconds since the epoch (SOURCE_DATE_EPOCH) for every entry */
  mtime: number;
  /** prefix every path with "./" (Debian and OpenWRT archives use it) */
  dotSlash?: boolean;
  /** add missing parent directories (mode 0755) automatically */
  implicitDirs?: boolean;
  /** with dotSlash: write the "./" entry first (default true; an .ipk's outer tar has none) */
  rootDir?: boolean;
}

export class DuplicatePathError extends Error {
  readonly code = 'EDGEWAN_ERR_FORMAT_DUPLICATE_PATH';
}

/** Normalise to a relative path without leading "./" or "/" and without trailing "/". */
export function normPath(p: string): string {
  const s = p.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
  if (s.split('/').some((c) => c === '..' || c === '')) throw new Error(`invalid archive path "${p}"`);
  return s;
}

/** Sorted, de-duplicated entry list (with implicit parents when asked). */
export function prepareEntries(entries: readonly FileEntry[], implicitDirs = true): FileEntry[] {
  const byPath = new Map<string, FileEntry>();
  for (const e of entries) {
    const path = normPath(e.path);
    if (byPath.has(path)) throw new DuplicatePathError(`duplicate path in archive: ${path}`);
    byPath.set(path, { ...e, path });
  }
  if (implicitDirs) {
    for (const path of [...byPath.keys()]) {
      const parts = path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        const existing = byPath.get(dir);
        if (!existing) byPath.set(dir, { type: 'dir', path: dir, mode: 0o755 });
        else if (existing.type !== 'dir')
          throw new DuplicatePathError(`${dir} is both a file and a directory`);
      }
    }
  }
  // Byte-wise sort of the path components keeps parents first and is locale independent.
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Write a deterministic tar into one Buffer. */
export async function buildTar(entries: readonly FileEntry[], opts: TarOptions): Promise<Buffer> {
  const list = prepareEntries(entries, opts.implicitDirs ?? true);
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    p.on('data', (c: unknown) => chunks.push(c as Buffer));
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
  const mtime = new Date(opts.mtime * 1000);
  const name = (e: FileEntry) => (opts.dotSlash ? `./${e.path}` : e.path) + (e.type === 'dir' ? '/' : '');
  if (opts.dotSlash && opts.rootDir !== false) {
    await addEntry(p, {
      name: './',
      type: 'directory',
      mode: 0o755,
      mtime,
      uid: 0,
      gid: 0,
      uname: 'root',
      gname: 'root',
    });
  }
  for (const e of list) {
    const common = {
      name: name(e),
      mtime,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      uname: e.uid ? '' : 'root',
      gname: e.gid ? '' : 'root',
    };
    if (e.type === 'file')
      await addEntry(p, { ...common, type: 'file', mode: e.mode, size: e.data.length }, e.data);
    else if (e.type === 'dir') await addEntry(p, { ...common, type: 'directory', mode: e.mode });
    else await addEntry(p, { ...common, type: 'symlink', mode: 0o777, linkname: e.target });
  }
  p.finalize();
  return done;
}

function addEntry(
  p: ReturnType<typeof pack>,
  header: Parameters<ReturnType<typeof pack>['entry']>[0],
  data?: Buffer,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    if (data) p.entry(header, data, cb);
    else p.entry(header, cb);
  });
}
