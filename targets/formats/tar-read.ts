// The one tar reader for our own checks (inspect of .deb, .ipk, OCI layers and archives;
// tests): in memory, ustar headers plus the pax path/linkpath/size/uname/gname records and GNU
// long names, enough for what we, dpkg-deb, opkg tools and podman/docker write. It reports duplicates instead of hiding them, since a duplicate path is exactly
// what `podman load` rejects. Spec: POSIX.1-2001 pax, ustar header layout.
export interface TarEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  linkname: string;
  uname: string;
  gname: string;
  /** bytes of a regular file (a view into the archive) */
  data: Buffer;
}

export class TarReadError extends Error {
  readonly code = 'EDGEWAN_ERR_FORMAT_TAR';
}

function str(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return (z >= 0 ? s.subarray(0, z) : s).toString('utf8');
}

function num(b: Buffer, off: number, len: number): number {
  if (b[off] & 0x80) {
    // base-256 (GNU) for large values
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = str(b, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.subarray(i, sp).toString(), 10);
    if (!len) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

export function readTar(buf: Buffer, name = 'archive'): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== num(h, 148, 8)) throw new TarReadError(`${name}: bad tar header checksum at byte ${off}`);
    const size = pax.size !== undefined ? Number(pax.size) : num(h, 124, 12);
    if (!Number.isSafeInteger(size) || size < 0)
      throw new TarReadError(`${name}: bad entry size at byte ${off}`);
    const flag = String.fromCharCode(h[156] || 0x30);
    const data = buf.subarray(off + 512, off + 512 + size);
    if (data.length < size) throw new TarReadError(`${name}: truncated entry at byte ${off}`);
    off += 512 + Math.ceil(size / 512) * 512;
    if (flag === 'x') {
      pax = { ...pax, ...paxRecords(data) };
      continue;
    }
    if (flag === 'g') continue;
    if (flag === 'L') {
      longName = str(data, 0, data.length);
      continue;
    }
    if (flag === 'K') {
      longLink = str(data, 0, data.length);
      continue;
    }
    const prefix = str(h, 345, 155);
    const base = str(h, 0, 100);
    const path = pax.path ?? longName ?? (prefix ? `${prefix}/${base}` : base);
    const linkname = pax.linkpath ?? longLink ?? str(h, 157, 100);
    const type =
      flag === '0' || flag === '\0' || flag === '7'
        ? 'file'
        : flag === '5'
          ? 'dir'
          : flag === '2'
            ? 'symlink'
            : flag === '1'
              ? 'hardlink'
              : 'other';
    const uname = pax.uname ?? str(h, 265, 32);
    const gname = pax.gname ?? str(h, 297, 32);
    out.push({
      path,
      type,
      mode: num(h, 100, 8),
      uid: num(h, 108, 8),
      gid: num(h, 116, 8),
      mtime: num(h, 136, 12),
      size,
      linkname,
      uname,
      gname,
      data: type === 'file' ? data : Buffer.alloc(0),
    });
    pax = {};
    longName = undefined;
    longLink = undefined;
  }
  return out;
}

/** Normalised paths ("./a/" → "a") seen more than once. */
export function duplicatePaths(entries: TarEntry[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const e of entries) {
    const p = e.path.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
    if (p === '' || p === '.') continue;
    if (seen.has(p)) dup.add(p);
    seen.add(p);
  }
  return [...dup].sort();
}
