// Deterministic `ar` archives (the outer container of .deb files) and a reader for them.
// Format: "!<arch>\n", then per member a 60-byte ASCII header (name 16, mtime 12, uid 6,
// gid 6, octal mode 8, size 10, "`\n") and the data padded to an even length with "\n".
// Names are written the way dpkg-deb writes them (plain, no GNU "/" terminator, ≤ 15 bytes),
// owners are 0:0, the mtime is the one SOURCE_DATE_EPOCH passed down.
// Spec: deb(5), ar(5) "common format"; dpkg's lib/dpkg/ar.c.

export interface ArMember {
  name: string;
  data: Buffer;
  /** octal file mode, default 0o100644 */
  mode?: number;
}

export interface ArReadMember {
  name: string;
  mtime: number;
  uid: number;
  gid: number;
  mode: number;
  size: number;
  /** byte offset of the member's data in the archive */
  offset: number;
  data: Buffer;
}

export class ArFormatError extends Error {
  readonly code = 'EDGEWAN_ERR_FORMAT_AR';
}

const MAGIC = '!<arch>\n';

function field(value: string, width: number, what: string): string {
  if (value.length > width)
    throw new ArFormatError(`ar header field ${what} "${value}" is longer than ${width} bytes`);
  return value.padEnd(width, ' ');
}

/** Write an ar archive with the members in the order given (deb(5) fixes the order). */
export function buildAr(members: readonly ArMember[], mtime: number): Buffer {
  const seen = new Set<string>();
  const parts: Buffer[] = [Buffer.from(MAGIC, 'latin1')];
  for (const m of members) {
    if (!/^[\x21-\x7e]{1,15}$/.test(m.name) || m.name.includes('/')) {
      throw new ArFormatError(
        `ar member name "${m.name}" must be 1–15 printable ASCII bytes without "/" or spaces`,
      );
    }
    if (seen.has(m.name)) throw new ArFormatError(`duplicate ar member "${m.name}"`);
    seen.add(m.name);
    const header =
      field(m.name, 16, 'name') +
      field(String(Math.floor(mtime)), 12, 'mtime') +
      field('0', 6, 'uid') +
      field('0', 6, 'gid') +
      field((m.mode ?? 0o100644).toString(8), 8, 'mode') +
      field(String(m.data.length), 10, 'size') +
      '`\n';
    parts.push(Buffer.from(header, 'latin1'), m.data);
    if (m.data.length % 2 === 1) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** Parse an ar archive; errors name the byte offset of the bad header. */
export function readAr(buf: Buffer, label = 'archive'): ArReadMember[] {
  if (buf.subarray(0, 8).toString('latin1') !== MAGIC) {
    throw new ArFormatError(`${label}: not an ar archive (no "!<arch>" magic at offset 0)`);
  }
  const out: ArReadMember[] = [];
  let off = 8;
  while (off < buf.length) {
    if (off + 60 > buf.length) throw new ArFormatError(`${label}: truncated ar header at byte ${off}`);
    const h = buf.subarray(off, off + 60).toString('latin1');
    if (h.slice(58, 60) !== '`\n')
      throw new ArFormatError(`${label}: bad ar header terminator at byte ${off + 58}`);
    let name = h.slice(0, 16).trimEnd();
    if (name.endsWith('/') && name !== '/') name = name.slice(0, -1); // GNU style
    const num = (s: string, radix = 10) => {
      const t = s.trim();
      return t === '' ? 0 : Number.parseInt(t, radix);
    };
    const size = num(h.slice(48, 58));
    const start = off + 60;
    if (!Number.isFinite(size) || start + size > buf.length) {
      throw new ArFormatError(
        `${label}: member "${name}" at byte ${off} claims ${size} bytes past the end of the file`,
      );
    }
    out.push({
      name,
      mtime: num(h.slice(16, 28)),
      uid: num(h.slice(28, 34)),
      gid: num(h.slice(34, 40)),
      mode: num(h.slice(40, 48), 8),
      size,
      offset: start,
      data: buf.subarray(start, start + size),
    });
    off = start + size + (size % 2);
  }
  return out;
}
