// APK v3 repository index ("indx" schema, packages.adb) as apk-tools' `apk mkndx` writes it
// (src/app_mkndx.c): per package, the package's pkginfo object is copied field by field
// (adb_wo_copyobj → adb_w_copy), then file-size = size of the .apk file and hashes =
// SHA-256 of the package's ADB block (apk_extract_generate_identity with the default
// APK_DIGEST_SHA256, adb_digest_adb in src/adb.c); the packages array is sorted
// (schema_pkginfo_array pre_commit adb_wa_sort), the index is signed and compressed.
import { createHash } from 'node:crypto';
import {
  AdbWriter,
  ADB_BLOCK_ADB,
  ADB_BLOCK_SIG,
  ADB_NULL,
  ADB_SCHEMA_INDEX,
  ADB_SCHEMA_PACKAGE,
  ADB_TYPE_ARRAY,
  ADB_TYPE_OBJECT,
  ADB_TYPE_SPECIAL,
  ADB_TYPE_INT,
  blobSort,
  compressAdb,
  fileBlock,
  fileHeader,
  type AdbVal,
} from './adb.ts';
import { AdbReader, parseAdbFile } from './adb-read.ts';
import { NDX, PI, PKG } from './adb-schema.ts';
import { signAdb, type ApkSigningKey } from './adb-sign.ts';

/** adb_w_copy: re-write a value of another ADB block into this one, children first. */
function copyValue(w: AdbWriter, r: AdbReader, v: AdbVal, depth = 0): AdbVal {
  if (depth > 16) throw new Error('ADB value nesting too deep to copy');
  const t = r.type(v);
  if (t === ADB_TYPE_SPECIAL || t === ADB_TYPE_INT) return v;
  if (t === ADB_TYPE_OBJECT || t === ADB_TYPE_ARRAY) {
    const slots = r.slots(v);
    return w.obj([0, ...slots.slice(1).map((s) => copyValue(w, r, s, depth + 1))], t);
  }
  if (t >= 0x80000000 && t <= 0xa0000000) return w.blob(Buffer.from(r.blob(v)));
  return w.int(r.int(v));
}

export interface IndexedPackage {
  /** the complete .apk file as written */
  file: Buffer;
}

export interface IndexInput {
  description?: string;
  /** only when packages are not at $base/${name}-${version}.apk */
  pkgnameSpec?: string;
  packages: readonly IndexedPackage[];
}

export interface BuiltIndex {
  file: Buffer;
  adb: Buffer;
}

/** Build, sign and compress a packages.adb for the given package files. */
export function buildApkIndex(input: IndexInput, key?: ApkSigningKey): BuiltIndex {
  const w = new AdbWriter();
  const entries: { name: Buffer; hashes: Buffer; val: AdbVal }[] = [];
  for (const p of input.packages) {
    const parsed = parseAdbFile(p.file, ADB_SCHEMA_PACKAGE);
    const r = new AdbReader(parsed.adb);
    const root = r.slots(r.root());
    const infoVal = root[PKG.PKGINFO];
    if (!infoVal) throw new Error('package has no info object');
    const src = r.slots(infoVal);
    const slots = new Array<AdbVal>(PI.MAX).fill(ADB_NULL);
    for (let i = 1; i < src.length && i < PI.MAX; i++) slots[i] = copyValue(w, r, src[i]);
    slots[PI.FILE_SIZE] = w.int(p.file.length);
    const hashes = createHash('sha256').update(parsed.adb).digest();
    slots[PI.HASHES] = w.blob(hashes);
    entries.push({ name: Buffer.from(r.blob(src[PI.NAME])), hashes, val: w.obj(slots) });
  }
  // adb_wa_sort with ADB_OBJCMP_EXACT compares name first; our feeds hold one version per
  // name, so ties fall back to the hashes field rather than apk's version ordering.
  entries.sort((a, b) => blobSort(a.name, b.name) || blobSort(a.hashes, b.hashes));
  const ndx = new Array<AdbVal>(4).fill(ADB_NULL);
  ndx[NDX.DESCRIPTION] = w.blob(input.description);
  if (input.pkgnameSpec) ndx[NDX.PKGNAME_SPEC] = w.blob(input.pkgnameSpec);
  ndx[NDX.PACKAGES] = w.arr(entries.map((e) => e.val));
  w.setRoot(w.obj(ndx));
  const adb = w.bytes();
  const stream: Buffer[] = [fileHeader(ADB_SCHEMA_INDEX), ...fileBlock(ADB_BLOCK_ADB, adb)];
  if (key) stream.push(...fileBlock(ADB_BLOCK_SIG, signAdb(ADB_SCHEMA_INDEX, adb, key)));
  return { file: compressAdb(stream), adb };
}
