// Decode a whole APK v3 file (package or index) into plain JSON for tests and
// `edgewan-build inspect`: metadata by schema, signatures (key id, algorithm), and for
// packages every DATA block checked the way apk-tools' extract (src/extract_v3.c) checks it —
// blocks in path/file order, size equal to the file's size, content SHA-256 equal to its hash.
import { ADB_SCHEMA_INDEX, ADB_SCHEMA_PACKAGE, AdbFormatError } from './adb.ts';
import { AdbReader, decodeObject, parseAdbFile, type Json } from './adb-read.ts';
import { schemaIndex, schemaPackage, S_IFLNK } from './adb-schema.ts';
import { verifyAdbSig } from './adb-sign.ts';
import { sha256 } from './hash.ts';

export interface DecodedFile {
  path: string;
  type: 'file' | 'symlink' | 'other';
  mode: number;
  user: string;
  group: string;
  size: number;
  mtime: number;
  sha256?: string;
  target?: string;
}

export interface DecodedApk {
  format: 'apk-v3';
  schema: string;
  compression: 'none' | 'deflate';
  signatures: {
    keyId: string;
    signVer: number;
    hashAlg: number;
    signatureBytes: number;
    verified?: boolean;
  }[];
  /** the schema-decoded root object (package or index) */
  root: { [k: string]: Json };
  /** packages only: every file with its metadata, directories with their modes */
  files?: DecodedFile[];
  dirs?: { path: string; mode: number; user: string; group: string }[];
  /** packages only: number of DATA blocks, all verified */
  dataBlocks?: number;
  /** SHA-256 of the ADB block: what an index lists as the package's "hashes" */
  adbSha256: string;
}

const fail = (m: string): never => {
  throw new AdbFormatError(m);
};

/** Decode and check an APK v3 package or index; `publicPem` also verifies signatures. */
export function decodeApk(buf: Buffer, publicPem?: string): DecodedApk {
  const f = parseAdbFile(buf);
  if (f.schema !== ADB_SCHEMA_PACKAGE && f.schema !== ADB_SCHEMA_INDEX)
    fail(`schema "${f.schemaName}" is neither a package (pckg) nor an index (indx)`);
  const r = new AdbReader(f.adb);
  const root = decodeObject(r, r.root(), f.schema === ADB_SCHEMA_PACKAGE ? schemaPackage : schemaIndex);
  const out: DecodedApk = {
    format: 'apk-v3',
    schema: f.schemaName,
    compression: f.compression,
    root,
    adbSha256: sha256(f.adb),
    signatures: f.sigs.map((s) => ({
      keyId: s.info.keyId.toString('hex'),
      signVer: s.info.signVer,
      hashAlg: s.info.hashAlg,
      signatureBytes: s.info.signature.length,
      ...(publicPem ? { verified: verifyAdbSig(f.schema, f.adb, s.payload, publicPem) } : {}),
    })),
  };
  if (f.schema === ADB_SCHEMA_INDEX) {
    if (f.data.length) fail('an index must not carry DATA blocks');
    return out;
  }
  const files: DecodedFile[] = [];
  const dirs: NonNullable<DecodedApk['dirs']> = [];
  const expected: { pathIdx: number; fileIdx: number; f: DecodedFile }[] = [];
  const paths = (root.paths ?? []) as { [k: string]: Json }[];
  paths.forEach((d, di) => {
    const dname = String(d.name ?? '');
    const dacl = (d.acl ?? {}) as { [k: string]: Json };
    dirs.push({
      path: dname,
      mode: Number(dacl.mode ?? 0),
      user: String(dacl.user ?? ''),
      group: String(dacl.group ?? ''),
    });
    ((d.files ?? []) as { [k: string]: Json }[]).forEach((fi, fj) => {
      const acl = (fi.acl ?? {}) as { [k: string]: Json };
      const name = String(fi.name ?? '');
      const e: DecodedFile = {
        path: dname ? `${dname}/${name}` : name,
        type: 'file',
        mode: Number(acl.mode ?? 0),
        user: String(acl.user ?? ''),
        group: String(acl.group ?? ''),
        size: Number(fi.size ?? 0),
        mtime: Number(fi.mtime ?? 0),
      };
      if (typeof fi.target === 'string') {
        const t = Buffer.from(fi.target, 'hex');
        if (t.length < 2) fail(`${e.path}: target blob shorter than its 2-byte mode`);
        e.type = t.readUInt16LE(0) === S_IFLNK ? 'symlink' : 'other';
        e.target = t.subarray(2).toString('utf8');
      } else {
        if (typeof fi.hash !== 'string') fail(`${e.path}: regular file without a hash`);
        e.sha256 = String(fi.hash);
        if (e.size > 0) expected.push({ pathIdx: di + 1, fileIdx: fj + 1, f: e });
      }
      files.push(e);
    });
  });
  if (f.data.length !== expected.length)
    fail(`${f.data.length} DATA blocks for ${expected.length} non-empty regular files`);
  f.data.forEach((blk, i) => {
    const want = expected[i];
    if (blk.pathIdx !== want.pathIdx || blk.fileIdx !== want.fileIdx)
      fail(
        `DATA block at byte ${blk.offset} is for path ${blk.pathIdx}/file ${blk.fileIdx}, expected ${want.pathIdx}/${want.fileIdx} (${want.f.path})`,
      );
    if (blk.content.length !== want.f.size)
      fail(
        `DATA block at byte ${blk.offset} has ${blk.content.length} bytes, ${want.f.path} has size ${want.f.size}`,
      );
    if (sha256(blk.content) !== want.f.sha256)
      fail(`DATA block at byte ${blk.offset}: content of ${want.f.path} does not match its SHA-256`);
  });
  out.files = files;
  out.dirs = dirs;
  out.dataBlocks = f.data.length;
  return out;
}

/** The file contents of a package by path (for tests comparing with the intent). */
export function apkFileContents(buf: Buffer): Map<string, Buffer> {
  const dec = decodeApk(buf);
  const f = parseAdbFile(buf);
  const nonEmpty = (dec.files ?? []).filter((x) => x.type === 'file' && x.size > 0);
  const out = new Map<string, Buffer>();
  nonEmpty.forEach((x, i) => out.set(x.path, Buffer.from(f.data[i].content)));
  for (const x of dec.files ?? []) if (x.type === 'file' && x.size === 0) out.set(x.path, Buffer.alloc(0));
  return out;
}
