// The RPM payload archive: cpio "newc" (SVR4 without CRC, magic 070701), as rpm 4.x writes
// it (lib/cpio.c): 13 eight-digit lowercase hex fields, the name ("./" + path, NUL-ended)
// padded to 4 bytes with the header, the data padded to 4 bytes, then TRAILER!!!. rpm takes
// owners, modes and mtimes from the header, not from here; inode numbers are the file's
// index + 1 in the header (FILEINODES), so every entry is its own file (no hard links).
export interface CpioEntry {
  /** path without leading "/" */
  path: string;
  /** full st_mode (type bits included) */
  mode: number;
  mtime: number;
  /** file contents, or a symlink's target */
  data?: Buffer;
  ino: number;
}

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function header(
  name: string,
  e: { ino: number; mode: number; mtime: number; size: number; nlink: number },
): Buffer {
  const nameBuf = Buffer.from(`${name}\0`, 'utf8');
  const fields = [
    '070701',
    hex(e.ino),
    hex(e.mode),
    hex(0),
    hex(0),
    hex(e.nlink),
    hex(e.mtime),
    hex(e.size),
    hex(0),
    hex(0),
    hex(0),
    hex(0),
    hex(nameBuf.length),
    hex(0),
  ].join('');
  return Buffer.concat([Buffer.from(fields, 'latin1'), nameBuf, Buffer.alloc(pad4(110 + nameBuf.length))]);
}

export function buildCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    if (data.length > 0xffffffff) throw new Error(`${e.path} is larger than cpio newc can hold (4 GiB)`);
    parts.push(
      header(`./${e.path}`, { ino: e.ino, mode: e.mode, mtime: e.mtime, size: data.length, nlink: 1 }),
      data,
      Buffer.alloc(pad4(data.length)),
    );
  }
  parts.push(header('TRAILER!!!', { ino: 0, mode: 0, mtime: 0, size: 0, nlink: 1 }));
  return Buffer.concat(parts);
}

/** Read a newc archive back (inspect, tests): name, mode and data of every entry. */
export function readCpio(buf: Buffer): Array<{ path: string; mode: number; ino: number; data: Buffer }> {
  const out: Array<{ path: string; mode: number; ino: number; data: Buffer }> = [];
  let p = 0;
  for (;;) {
    if (buf.toString('latin1', p, p + 6) !== '070701') throw new Error(`cpio: no newc magic at offset ${p}`);
    const f = (i: number) => parseInt(buf.toString('latin1', p + 6 + i * 8, p + 14 + i * 8), 16);
    const namesize = f(11),
      size = f(6);
    const name = buf.toString('utf8', p + 110, p + 110 + namesize - 1);
    p += 110 + namesize;
    p += pad4(110 + namesize);
    if (name === 'TRAILER!!!') return out;
    out.push({ path: name.replace(/^\.\//, ''), mode: f(1), ino: f(0), data: buf.subarray(p, p + size) });
    p += size + pad4(size);
  }
}
