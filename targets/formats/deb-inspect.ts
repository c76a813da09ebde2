// Our own .deb reader (`edgewan-build inspect x.deb` and the tests' round trips): checks
// the ar layout deb(5) requires, unpacks control.tar and data.tar (gz or xz) and returns
// plain JSON — control fields, the control-area files, and every data entry with its
// mode, owner, size, mtime and md5 — so tests compare it with what dpkg-deb says.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { readTar } from './tar-read.ts';
import { readAr } from './ar.ts';
import { parseControl } from './deb-control.ts';
import { decompressXz } from './xz.ts';
import { sha256 } from './hash.ts';

export interface TarListing {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  size: number;
  linkname?: string;
  md5?: string;
  data?: Buffer;
}

export interface DebInspection {
  format: 'deb';
  file: string;
  size: number;
  sha256: string;
  members: Array<{ name: string; size: number; mtime: number; mode: string }>;
  control: Record<string, string>;
  /** text of every control-area file (control, md5sums, conffiles, maintainer scripts) */
  controlFiles: Record<string, string>;
  controlEntries: Array<Omit<TarListing, 'data'>>;
  data: Array<Omit<TarListing, 'data'>>;
}

export class DebFormatError extends Error {
  readonly code = 'EDGEWAN_ERR_FORMAT_DEB';
}

/** List a tar, keeping file contents when keep(path) says so. */
export async function listTar(
  tar: Buffer,
  keep: (path: string) => boolean = () => false,
): Promise<TarListing[]> {
  return readTar(tar, 'tar member').map((e) => {
    const type = e.type === 'file' || e.type === 'dir' || e.type === 'symlink' ? e.type : 'other';
    const path = e.path.replace(/^\.\//, '').replace(/\/$/, '');
    return {
      path,
      type,
      mode: e.mode & 0o7777,
      uid: e.uid,
      gid: e.gid,
      uname: e.uname,
      gname: e.gname,
      mtime: e.mtime,
      size: e.size,
      ...(e.linkname ? { linkname: e.linkname } : {}),
      ...(type === 'file' ? { md5: createHash('md5').update(e.data).digest('hex') } : {}),
      ...(type === 'file' && keep(path) ? { data: e.data } : {}),
    };
  });
}

async function decompress(name: string, data: Buffer, file: string): Promise<Buffer> {
  if (name.endsWith('.gz')) return gunzipSync(data);
  if (name.endsWith('.xz')) return decompressXz(data);
  if (name.endsWith('.tar')) return data;
  throw new DebFormatError(
    `${file}: member ${name} uses a compression this reader does not support (gz, xz, none)`,
  );
}

/** Parse one .deb; `withData` keeps data-file contents (tests use it, inspect does not). */
export async function readDeb(path: string, withData: (p: string) => boolean = () => false) {
  const buf = await readFile(path);
  const members = readAr(buf, path);
  const names = members.map((m) => m.name);
  if (
    names[0] !== 'debian-binary' ||
    !/^control\.tar(\.gz|\.xz)?$/.test(names[1] ?? '') ||
    !/^data\.tar(\.gz|\.xz)?$/.test(names[2] ?? '')
  ) {
    throw new DebFormatError(
      `${path}: members are [${names.join(', ')}]; deb(5) wants debian-binary, control.tar.*, data.tar.* in that order`,
    );
  }
  const version = members[0].data.toString('latin1');
  if (!version.startsWith('2.'))
    throw new DebFormatError(`${path}: debian-binary says "${version.trim()}", expected 2.0`);
  const ctl = await listTar(await decompress(names[1], members[1].data, path), () => true);
  const data = await listTar(await decompress(names[2], members[2].data, path), withData);
  const controlFiles: Record<string, string> = {};
  for (const e of ctl) if (e.type === 'file' && e.data) controlFiles[e.path] = e.data.toString('utf8');
  if (!controlFiles.control) throw new DebFormatError(`${path}: control.tar has no ./control file`);
  const strip = ({ data: _d, ...rest }: TarListing) => rest;
  const inspection: DebInspection = {
    format: 'deb',
    file: path,
    size: buf.length,
    sha256: sha256(buf),
    members: members.map((m) => ({ name: m.name, size: m.size, mtime: m.mtime, mode: m.mode.toString(8) })),
    control: parseControl(controlFiles.control)[0] ?? {},
    controlFiles,
    controlEntries: ctl.map(strip),
    data: data.map(strip),
  };
  return { inspection, dataFiles: data };
}

/** The `edgewan-build inspect` reader for .deb files. */
export async function inspectDeb(path: string): Promise<DebInspection> {
  return (await readDeb(path)).inspection;
}
