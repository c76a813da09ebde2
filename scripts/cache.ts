// Content-addressed step cache (default ~/.cache/edgewan/build, --cache-dir overrides). A
// step's key is the sha256 of everything that decides its output (input hashes, tool
// versions, options); an entry is a directory of output files plus meta.json, written under a
// temporary name and renamed, so a half-written entry is never found. Restoring hard-links
// the file into dist/ (copy across filesystems), so a no-op rebuild moves no bytes.
import { link, mkdir, readFile, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { copyAtomic, sha256, stableJson, tempPathFor, writeAtomic } from './fsutil.ts';
import { lruVictims } from '../targets/formats/memo.ts';

export interface CacheEntry {
  dir: string;
  meta: Record<string, unknown>;
  files: string[];
}

export class StepCache {
  constructor(readonly dir: string) {}

  /** Key from any JSON-able description of a step's inputs. */
  static key(parts: unknown): string {
    return sha256(stableJson(parts));
  }

  private entryDir(key: string): string {
    return join(this.dir, 'entries', key.slice(0, 2), key);
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    const dir = this.entryDir(key);
    try {
      const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as Record<string, unknown>;
      const files = (await readdir(dir)).filter((f) => f !== 'meta.json').sort();
      // meta.json's mtime records the last use, for prune().
      const now = new Date();
      await utimes(join(dir, 'meta.json'), now, now).catch(() => {});
      return { dir, meta, files };
    } catch {
      return undefined;
    }
  }

  /** Store files (name → source path) and meta under key; returns the entry. */
  async put(
    key: string,
    files: Record<string, string>,
    meta: Record<string, unknown> = {},
  ): Promise<CacheEntry> {
    const dir = this.entryDir(key);
    await mkdir(dirname(dir), { recursive: true });
    const tmp = tempPathFor(dir);
    await mkdir(tmp, { recursive: true });
    try {
      // Modes are normalised (0755 if executable, else 0644): umask must never reach dist/.
      for (const [name, src] of Object.entries(files))
        await copyAtomic(src, join(tmp, name), (await stat(src)).mode & 0o100 ? 0o755 : 0o644);
      await writeAtomic(join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
      await this.install(key, tmp, dir);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    const entry = await this.get(key);
    if (!entry)
      throw new Error(
        `step cache: entry ${key} vanished right after it was written (${dir}); is another build pruning this cache?`,
      );
    return entry;
  }

  /**
   * Rename a finished temp dir into place. Two builds sharing the cache may finish the same
   * step at once: the key is content-addressed, so a complete entry already there is as good
   * as ours and stays (removing it would pull it from under the other build's restore, the
   * ENOENT seen with concurrent builds); only an incomplete one (no meta.json) is replaced.
   */
  private async install(key: string, tmp: string, dir: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await rename(tmp, dir);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt >= 2) throw e;
      }
      if (await this.get(key)) {
        await rm(tmp, { recursive: true, force: true });
        return;
      }
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Keep the cache under maxBytes: delete the least recently used entries (never those used
   * after `since`, i.e. by the current build). dist/ keeps its hard-linked files regardless.
   */
  async prune(maxBytes: number, since: number): Promise<{ removed: number; bytes: number }> {
    const root = join(this.dir, 'entries');
    const entries: { dir: string; used: number; size: number }[] = [];
    for (const shard of await readdir(root).catch(() => [] as string[])) {
      for (const key of await readdir(join(root, shard)).catch(() => [] as string[])) {
        const dir = join(root, shard, key);
        try {
          const used = (await stat(join(dir, 'meta.json'))).mtimeMs;
          let size = 0;
          for (const f of await readdir(dir)) size += (await stat(join(dir, f))).size;
          entries.push({ dir, used, size });
        } catch {
          /* half-removed or foreign: skip */
        }
      }
    }
    const victims = lruVictims(entries, maxBytes, since);
    for (const e of victims) await rm(e.dir, { recursive: true, force: true });
    return { removed: victims.length, bytes: victims.reduce((n, e) => n + e.size, 0) };
  }

  /** Small JSON records (e.g. the bundle's input list) under a name. */
  async readRecord<T>(name: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'records', `${name}.json`), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  async writeRecord(name: string, value: unknown): Promise<void> {
    await writeAtomic(join(this.dir, 'records', `${name}.json`), JSON.stringify(value));
  }
}

/**
 * Put a cached file at dest: nothing to do when dest already is that file (same inode);
 * otherwise hard-link it to a temp name and rename, falling back to a copy.
 */
export async function restoreFile(entry: CacheEntry, name: string, dest: string): Promise<void> {
  const src = join(entry.dir, name);
  const s = await stat(src);
  try {
    const d = await stat(dest);
    if (d.ino === s.ino && d.dev === s.dev) return;
  } catch {
    /* dest missing */
  }
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempPathFor(dest);
  try {
    await link(src, tmp);
    await rename(tmp, dest);
  } catch {
    await rm(tmp, { force: true });
    await copyAtomic(src, dest, s.mode & 0o777);
  }
}
