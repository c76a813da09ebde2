import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildAr, readAr, ArFormatError } from '../../targets/formats/ar.ts';

test('ar: dpkg-style headers, even padding, round trip', () => {
  const ar = buildAr(
    [
      { name: 'debian-binary', data: Buffer.from('2.0\n') },
      { name: 'odd', data: Buffer.from('abc') },
      { name: 'empty', data: Buffer.alloc(0) },
    ],
    1767225600,
  );
  assert.equal(ar.subarray(0, 8).toString(), '!<arch>\n');
  assert.equal(
    ar.subarray(8, 68).toString(),
    'debian-binary   1767225600  0     0     100644  4         `\n',
  );
  // "abc" is padded to 4 bytes with "\n"
  assert.equal(ar.length, 8 + 60 + 4 + 60 + 4 + 60 + 0);
  const m = readAr(ar);
  assert.deepEqual(
    m.map((x) => [x.name, x.data.toString(), x.mode.toString(8), x.mtime, x.uid, x.gid]),
    [
      ['debian-binary', '2.0\n', '100644', 1767225600, 0, 0],
      ['odd', 'abc', '100644', 1767225600, 0, 0],
      ['empty', '', '100644', 1767225600, 0, 0],
    ],
  );
});

test('ar: identical input gives identical bytes', () => {
  const mk = () => buildAr([{ name: 'a', data: Buffer.from('x') }], 5);
  assert.deepEqual(mk(), mk());
});

test('ar: bad names and duplicates are refused', () => {
  assert.throws(() => buildAr([{ name: 'a-name-longer-than-15', data: Buffer.alloc(1) }], 0), ArFormatError);
  assert.throws(() => buildAr([{ name: 'a/b', data: Buffer.alloc(1) }], 0), ArFormatError);
  assert.throws(
    () =>
      buildAr(
        [
          { name: 'a', data: Buffer.alloc(1) },
          { name: 'a', data: Buffer.alloc(1) },
        ],
        0,
      ),
    /duplicate ar member "a"/,
  );
});

test('ar reader: names the offset of damage', () => {
  assert.throws(() => readAr(Buffer.from('PK\x03\x04'), 'x.deb'), /x.deb: not an ar archive/);
  const ar = buildAr([{ name: 'a', data: Buffer.from('hello') }], 0);
  assert.throws(
    () => readAr(ar.subarray(0, 70), 'x.deb'),
    /member "a" at byte 8 claims 5 bytes past the end/,
  );
  const bad = Buffer.from(ar);
  bad[8 + 58] = 0x41;
  assert.throws(() => readAr(bad, 'x.deb'), /bad ar header terminator at byte 66/);
});
