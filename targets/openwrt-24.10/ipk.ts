// OpenWRT .ipk writer and reader (24.10 and earlier; docs/openwrt.md). An .ipk is a gzip'd tar — NOT
// an ar archive like .deb — of ./debian-binary ("2.0\n"), ./control.tar.gz and ./data.tar.gz,
// every member deterministic (sorted, 0:0, one mtime, gzip without name or time like
// `gzip -n`). Control fields follow OpenWRT's package-pack.mk, with Installed-Size in BYTES as
// ipkg-build measures it (ipkInstalledSize).
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { gzip, gzipCached } from '../formats/gzip.ts';
import { readTar as readTarEntries } from '../formats/tar-read.ts';
import { buildTar, prepareEntries, type FileEntry } from '../formats/tar.ts';

export interface IpkControl {
  Package: string;
  Version: string;
  Depends?: string;
  Conflicts?: string;
  'Require-User'?: string;
  Source: string;
  SourceName: string;
  License: string;
  Section: string;
  URL: string;
  Maintainer: string;
  Architecture: string;
  Description: string;
}

/** Field order as OpenWRT writes them; SourceDateEpoch and Installed-Size are computed. */
const ORDER = [
  'Package',
  'Version',
  'Depends',
  'Conflicts',
  'Require-User',
  'Source',
  'SourceName',
  'License',
  'Section',
  'SourceDateEpoch',
  'URL',
  'Maintainer',
  'Architecture',
  'Installed-Size',
  'Description',
] as const;

export interface IpkInput {
  control: IpkControl;
  files: readonly FileEntry[];
  conffiles: readonly string[];
  scripts: Partial<Record<'preinst' | 'postinst' | 'prerm' | 'postrm', string>>;
  mtime: number;
  /** dataTarGz(files, mtime) made once and shared by the packages that differ only in Architecture */
  data?: Buffer;
}

/** cacheDir: memoize the gzip of the ~100 MB tar by its bytes (targets/formats/memo.ts). */
export async function dataTarGz(
  files: readonly FileEntry[],
  mtime: number,
  cacheDir?: string,
): Promise<Buffer> {
  const tar = await buildTar(files, { mtime, dotSlash: true, implicitDirs: true });
  return gzipCached(tar, 6, cacheDir);
}

const BLOCK = 512;
/** GNU tar's default record: 20 blocks; an archive written to a pipe is padded to whole records. */
const RECORD = 20 * BLOCK;
/** Longer names (and link targets) get a ././@LongLink entry first in GNU format. */
const NAME_FIELD = 100;

/**
 * Installed-Size as OpenWRT's scripts/ipkg-build writes it: the byte count of the uncompressed
 * data tar (`tar --format=gnu --numeric-owner --sort=name -cf - . | gzip -n`, measured with
 * `zcat | wc -c`). That archive holds "./", every directory ("./etc/") and file of the tree:
 * a 512-byte header each, file data padded to 512, a LongLink header + name block(s) for a name
 * or symlink target over 100 bytes, two zero blocks, all padded to a 10240-byte record.
 */
export function ipkInstalledSize(files: readonly FileEntry[]): number {
  const pad = (n: number) => Math.ceil(n / BLOCK) * BLOCK;
  const long = (s: string) => {
    const n = Buffer.byteLength(s);
    return n > NAME_FIELD ? BLOCK + pad(n + 1) : 0;
  };
  let size = BLOCK; // "./"
  for (const e of prepareEntries(files, true)) {
    size += BLOCK + long(`./${e.path}${e.type === 'dir' ? '/' : ''}`);
    if (e.type === 'file') size += pad(e.data.length);
    else if (e.type === 'symlink') size += long(e.target);
  }
  return Math.ceil((size + 2 * BLOCK) / RECORD) * RECORD;
}

export function controlText(c: IpkControl, mtime: number, size: number): string {
  const all: Record<string, string | undefined> = {
    ...c,
    SourceDateEpoch: String(mtime),
    'Installed-Size': String(size),
  };
  let out = '';
  for (const k of ORDER) {
    const v = all[k];
    if (v === undefined || v === '') continue;
    if (/\n\s*\n/.test(v) || (k !== 'Description' && v.includes('\n')))
      throw new Error(`control field ${k} must not contain blank lines`);
    out += `${k}: ${v.split('\n').join('\n ')}\n`;
  }
  return out;
}

export async function buildIpk(input: IpkInput): Promise<Buffer> {
  const { mtime } = input;
  const size = ipkInstalledSize(input.files);
  const ctl: FileEntry[] = [
    {
      type: 'file',
      path: 'control',
      mode: 0o644,
      data: Buffer.from(controlText(input.control, mtime, size)),
    },
  ];
  if (input.conffiles.length)
    ctl.push({
      type: 'file',
      path: 'conffiles',
      mode: 0o644,
      data: Buffer.from(input.conffiles.map((c) => `${c}\n`).join('')),
    });
  for (const [name, body] of Object.entries(input.scripts)) {
    if (body) ctl.push({ type: 'file', path: name, mode: 0o755, data: Buffer.from(body) });
  }
  const controlTar = gzip(await buildTar(ctl, { mtime, dotSlash: true }), 6);
  const dataTar = input.data ?? (await dataTarGz(input.files, mtime));
  const outer = await buildTar(
    [
      { type: 'file', path: 'debian-binary', mode: 0o644, data: Buffer.from('2.0\n') },
      { type: 'file', path: 'control.tar.gz', mode: 0o644, data: controlTar },
      { type: 'file', path: 'data.tar.gz', mode: 0o644, data: dataTar },
    ],
    { mtime, dotSlash: true, rootDir: false, implicitDirs: false },
  );
  // The outer members are already compressed: level 1 costs a fraction of the time, same size.
  return gzip(outer, 1);
}

export interface TarMember {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  data: Buffer;
  linkname?: string;
}

/** Read a (gzip'd or plain) tar into members (names as written, tar-stream's type names). */
export async function readTar(buf: Buffer, keepData = true): Promise<TarMember[]> {
  const raw = buf[0] === 0x1f && buf[1] === 0x8b ? gunzipSync(buf) : buf;
  const TYPE = {
    file: 'file',
    dir: 'directory',
    symlink: 'symlink',
    hardlink: 'link',
    other: 'other',
  } as const;
  return readTarEntries(raw, 'ipk member').map((e) => ({
    name: e.path,
    type: TYPE[e.type],
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    mtime: e.mtime,
    size: e.size,
    data: keepData ? e.data : Buffer.alloc(0),
    linkname: e.linkname || undefined,
  }));
}

/** Parse a Debian-style control paragraph (continuation lines start with a space). */
export function parseControl(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let last = '';
  for (const line of text.split('\n')) {
    if (!line) continue;
    if (line.startsWith(' ') && last) out[last] += `\n${line.slice(1)}`;
    else {
      const i = line.indexOf(':');
      last = line.slice(0, i);
      out[last] = line.slice(i + 1).trim();
    }
  }
  return out;
}

export interface IpkInfo {
  members: string[];
  control: Record<string, string>;
  conffiles: string[];
  scripts: Record<string, string>;
  files: {
    path: string;
    type: string;
    mode: string;
    size: number;
    uid: number;
    gid: number;
    target?: string;
  }[];
  dataSize: number;
}

/** Our reader for `edgewan-build inspect`: outer members, control fields, scripts, file list. */
export async function inspectIpk(path: string): Promise<IpkInfo> {
  const buf = await readFile(path);
  const outer = await readTar(buf);
  const get = (n: string) => {
    const m = outer.find((e) => e.name === `./${n}`);
    if (!m)
      throw new Error(
        `${path}: not an .ipk (no ./${n} in the outer tar; members: ${outer.map((e) => e.name).join(', ')})`,
      );
    return m.data;
  };
  if (get('debian-binary').toString() !== '2.0\n') throw new Error(`${path}: debian-binary is not "2.0"`);
  const ctl = await readTar(get('control.tar.gz'));
  const data = await readTar(get('data.tar.gz'), false); // headers only: no 100 MB copies
  const ctlFile = (n: string) => ctl.find((e) => e.name === `./${n}`)?.data.toString();
  const scripts: Record<string, string> = {};
  for (const s of ['preinst', 'postinst', 'prerm', 'postrm']) {
    const b = ctlFile(s);
    if (b !== undefined) scripts[s] = b;
  }
  const files = data.map((e) => ({
    path: e.name,
    type: e.type,
    mode: e.mode.toString(8).padStart(4, '0'),
    size: e.size,
    uid: e.uid,
    gid: e.gid,
    ...(e.linkname ? { target: e.linkname } : {}),
  }));
  return {
    members: outer.map((e) => e.name),
    control: parseControl(ctlFile('control') ?? ''),
    conffiles: (ctlFile('conffiles') ?? '').split('\n').filter(Boolean),
    scripts,
    files,
    dataSize: data.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0),
  };
}
