// Golden tests for the APK v3 writer: every expected byte below is assembled by hand from
// apk-tools' headers and writer (src/adb.h, src/adb.c, src/apk_adb.h, src/app_mkpkg.c,
// src/adb_comp.c), field by field with a comment naming it — never bytes from our writer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { AdbWriter } from '../../targets/formats/adb.ts';
import { buildApkPackage } from '../../targets/formats/adb-package.ts';
import { buildApkIndex } from '../../targets/formats/adb-index.ts';

const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const z = (n: number) => Buffer.alloc(n);
const s = (t: string) => Buffer.from(t, 'latin1');
const cat = (...p: Buffer[]) => Buffer.concat(p);

test('ADB values: blob widths, ints, object trimming, de-duplication, alignment', () => {
  const w = new AdbWriter();
  const a = w.blob('ab');
  const big = w.blob(Buffer.alloc(300, 1));
  const again = w.blob('ab');
  const i1 = w.int(5);
  const i2 = w.int(0x12345678);
  const o = w.obj([0, a, i1, 0, 0]);
  const expected = cat(
    z(8), // @0   struct adb_hdr {compat_ver 0, ver 0, reserved 0, root 0}
    u8(2),
    s('ab'), // @8   BLOB_8: u8 length 2, "ab"
    z(1), // @11  padding: a BLOB_16 length is 2-byte aligned
    u16(300),
    Buffer.alloc(300, 1), // @12  BLOB_16: u16 length 300, content
    z(2), // @314 padding: INT_32 data is 4-byte aligned
    u32(0x12345678), // @316 INT_32 value (>= 2^28 cannot be direct)
    u32(3), // @320 object slot 0 (ADBI_NUM_ENTRIES): 3 — NULL slots 3, 4 trimmed
    u32(0x80000008), // @324 slot 1: ADB_TYPE_BLOB_8 | offset 8
    u32(0x10000005), // @328 slot 2: ADB_TYPE_INT | 5 (direct)
  );
  assert.deepEqual(w.bytes(), expected);
  assert.equal(a, 0x80000008); // BLOB_8 | 8
  assert.equal(big, 0x9000000c); // BLOB_16 | 12
  assert.equal(again, a); // identical data is stored once
  assert.equal(i1, 0x10000005); // INT | 5
  assert.equal(i2, 0x2000013c); // INT_32 | 316
  assert.equal(o, 0xe0000140); // OBJECT | 320
});

test('a one-file package is the ADB tree, block layout and DATA block apk mkpkg defines', () => {
  const built = buildApkPackage({
    info: { name: 'a', version: '1-r0', arch: 'noarch' },
    mtime: 1700000000,
    entries: [{ type: 'file', path: 'f', mode: 0o644, data: s('x') }],
  });
  const sha = createHash('sha256').update(s('x')).digest();
  const adb = cat(
    u32(0),
    u32(0xe00000e8), // @0   adb_hdr: compat_ver 0, adb_ver 0, reserved 0; root = OBJECT @232
    u8(1),
    s('a'), // @8   pkginfo.name blob ("a")
    u8(4),
    s('1-r0'), // @10  pkginfo.version blob
    u8(6),
    s('noarch'), // @15  pkginfo.arch blob
    u8(4),
    s('root'), // @22  acl user "root" (acl group "root" is the same blob)
    z(1), // @27  padding to 4 for an object
    u32(4), // @28  dir "" acl object: 4 slots (xattrs NULL, trimmed)
    u32(0x100001ed), //        ADBI_ACL_MODE = INT 0755
    u32(0x80000016), //        ADBI_ACL_USER = blob @22
    u32(0x80000016), //        ADBI_ACL_GROUP = blob @22
    u8(1),
    s('f'), // @44  file name blob "f"
    u8(32),
    sha, // @46  file hash blob: SHA-256 of the content "x"
    z(1), // @79  padding to 4 for INT_32
    u32(1700000000), // @80  mtime INT_32 (1700000000 >= 2^28)
    u32(4), // @84  file acl object: 4 slots
    u32(0x100001a4), //        mode = INT 0644
    u32(0x80000016), //        user "root"
    u32(0x80000016), //        group "root"
    u32(6), // @100 file object: 6 slots (ADBI_FI_TARGET NULL, trimmed)
    u32(0x8000002c), //        ADBI_FI_NAME  = blob @44
    u32(0xe0000054), //        ADBI_FI_ACL   = object @84
    u32(0x10000001), //        ADBI_FI_SIZE  = INT 1
    u32(0x20000050), //        ADBI_FI_MTIME = INT_32 @80
    u32(0x8000002e), //        ADBI_FI_HASHES = blob @46
    u32(2),
    u32(0xe0000064), // @124 files array (stored with the OBJECT tag, adb_wo_obj): 1 item
    u32(4), // @132 dir object: 4 slots
    u32(0), //        ADBI_DI_NAME: "" is an empty blob = NULL
    u32(0xe000001c), //        ADBI_DI_ACL = object @28
    u32(0xe000007c), //        ADBI_DI_FILES = object @124
    u8(20),
    z(20), // @148 pkginfo.hashes: 20-byte placeholder, patched below
    z(3), // @169 padding to 4
    u32(13), // @172 pkginfo object: 13 slots (up to ADBI_PI_INSTALLED_SIZE 0x0c)
    u32(0x80000008), //        ADBI_PI_NAME
    u32(0x8000000a), //        ADBI_PI_VERSION
    u32(0x80000094), //        ADBI_PI_HASHES = blob @148
    u32(0), //        ADBI_PI_DESCRIPTION (unset)
    u32(0x8000000f), //        ADBI_PI_ARCH
    u32(0),
    u32(0),
    u32(0),
    u32(0), //        LICENSE, ORIGIN, MAINTAINER, URL (unset)
    u32(0),
    u32(0), //        REPO_COMMIT, BUILD_TIME (unset)
    u32(0x10000001), //        ADBI_PI_INSTALLED_SIZE = INT 1 (the plain sum of file sizes)
    u32(2),
    u32(0xe0000084), // @224 paths array: 1 dir @132
    u32(3), // @232 package object: 3 slots
    u32(0xe00000ac), //        ADBI_PKG_PKGINFO = object @172
    u32(0xe00000e0), //        ADBI_PKG_PATHS = object @224
  );
  // mkpkg: hashes = first 20 bytes of SHA-256 over the ADB block with the placeholder zeroed.
  createHash('sha256').update(adb).digest().copy(adb, 149, 0, 20);
  assert.deepEqual(built.adb, adb);

  const stream = cat(
    s('ADB.'),
    s('pckg'), // adb_file_header: magic, schema ADB_SCHEMA_PACKAGE
    u32((0 << 30) + 4 + adb.length), // ADB block: type 0, raw size = 4-byte header + 244
    adb, //   payload (248 is a multiple of 8: no padding)
    u32(((2 << 30) >>> 0) + 4 + 9), // DATA block: type 2, 4 + sizeof(adb_data_package) + 1
    u32(1),
    u32(1), //   adb_data_package {path_idx 1, file_idx 1}
    s('x'), //   file content
    z(3), //   padding to 8 (raw 13 → 16)
  );
  assert.equal(built.file.subarray(0, 4).toString('latin1'), 'ADBd'); // adb_compress default
  assert.deepEqual(inflateRawSync(built.file.subarray(4)), stream);
});

test('an index of that package is the "indx" tree apk mkndx defines', () => {
  const pkg = buildApkPackage({
    info: { name: 'a', version: '1-r0', arch: 'noarch' },
    mtime: 1700000000,
    entries: [{ type: 'file', path: 'f', mode: 0o644, data: s('x') }],
  });
  const pkgHash20 = pkg.adb.subarray(149, 169); // the package's own pkginfo.hashes
  const adbSha = createHash('sha256').update(pkg.adb).digest(); // identity mkndx records
  assert.ok(pkg.file.length < 0x10000000);
  const built = buildApkIndex({ description: 'test', packages: [{ file: pkg.file }] });
  const adb = cat(
    u32(0),
    u32(0xe0000094), // @0   adb_hdr; root = OBJECT @148
    u8(1),
    s('a'), // @8   copy of pkginfo.name
    u8(4),
    s('1-r0'), // @10  copy of pkginfo.version
    u8(20),
    pkgHash20, // @15  copy of the package's 20-byte hashes (adb_wo_copyobj copies all)
    u8(6),
    s('noarch'), // @36  copy of pkginfo.arch
    u8(32),
    adbSha, // @43  hashes = SHA-256 of the package's ADB block
    u32(14), // @76  pkginfo object: 14 slots (up to ADBI_PI_FILE_SIZE 0x0d)
    u32(0x80000008), //        NAME
    u32(0x8000000a), //        VERSION
    u32(0x8000002b), //        HASHES = blob @43 (replaces the copied one)
    u32(0), //        DESCRIPTION
    u32(0x80000024), //        ARCH = blob @36
    u32(0),
    u32(0),
    u32(0),
    u32(0), //        LICENSE, ORIGIN, MAINTAINER, URL
    u32(0),
    u32(0), //        REPO_COMMIT, BUILD_TIME
    u32(0x10000001), //        INSTALLED_SIZE = INT 1 (direct value, copied as is)
    u32(0x10000000 + pkg.file.length), //     FILE_SIZE = INT size of the .apk file
    u8(4),
    s('test'), // @132 index description
    z(3), // @137 padding to 4
    u32(2),
    u32(0xe000004c), // @140 packages array: 1 pkginfo @76
    u32(3), // @148 index object: 3 slots
    u32(0x80000084), //        ADBI_NDX_DESCRIPTION = blob @132
    u32(0xe000008c), //        ADBI_NDX_PACKAGES = object @140
  );
  assert.deepEqual(built.adb, adb);
  const stream = cat(s('ADB.'), s('indx'), u32(4 + adb.length), adb, z(4)); // 164 → padded to 168
  assert.deepEqual(inflateRawSync(built.file.subarray(4)), stream);
});
