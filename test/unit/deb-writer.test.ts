import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './deb-fixture.ts';
import { buildDeb, type DebSpec } from '../../targets/formats/deb.ts';
import { parseControl, renderControl, ControlError } from '../../targets/formats/deb-control.ts';
import { readDeb } from '../../targets/formats/deb-inspect.ts';

const spec = (over: Partial<DebSpec> = {}): DebSpec => ({
  control: [
    ['Package', 'acmewan'],
    ['Version', '1.2.0~rc.1-1'],
    ['Architecture', 'arm64'],
    ['Maintainer', 'A <a@b.example>'],
    ['Depends', 'adduser'],
    ['Section', 'net'],
    ['Description', 'synopsis line\nfirst paragraph\n\nsecond paragraph'],
  ],
  files: [
    { type: 'file', path: '/usr/bin/acmewan', mode: 0o755, data: Buffer.alloc(3000, 1) },
    { type: 'file', path: '/etc/acmewan/acmewan.json', mode: 0o644, data: Buffer.from('{}\n') },
    { type: 'symlink', path: '/usr/sbin/acmewan', target: '../bin/acmewan' },
  ],
  conffiles: ['/etc/acmewan/acmewan.json'],
  scripts: { postinst: '#!/bin/sh\nset -e\nexit 0\n' },
  mtime: 1767225600,
  ...over,
});

async function roundTrip(s: DebSpec) {
  const r = await buildDeb(s);
  const file = join(tempDir(), 'x.deb');
  writeFileSync(file, r.deb);
  return { r, ...(await readDeb(file, () => true)) };
}

test('deb: members, control, md5sums, conffiles and scripts round-trip through our reader', async () => {
  const { r, inspection: d, dataFiles } = await roundTrip(spec());
  assert.deepEqual(
    d.members.map((m) => m.name),
    ['debian-binary', 'control.tar.gz', 'data.tar.xz'],
  );
  assert.equal(d.control.Package, 'acmewan');
  // Installed-Size sits after Maintainer: 3 KiB file + 1 KiB conffile + 5 dirs + 1 symlink
  assert.deepEqual(Object.keys(d.control), [
    'Package',
    'Version',
    'Architecture',
    'Maintainer',
    'Installed-Size',
    'Depends',
    'Section',
    'Description',
  ]);
  assert.equal(d.control['Installed-Size'], String(r.installedSizeKiB));
  assert.equal(r.installedSizeKiB, 3 + 1 + 6);
  assert.equal(d.control.Description, 'synopsis line\nfirst paragraph\n.\nsecond paragraph');
  const md5 = createHash('md5').update(Buffer.alloc(3000, 1)).digest('hex');
  assert.equal(d.controlFiles.md5sums, `${md5}  usr/bin/acmewan\n`, 'conffiles are not in md5sums');
  assert.equal(d.controlFiles.conffiles, '/etc/acmewan/acmewan.json\n');
  assert.equal(d.controlEntries.find((e) => e.path === 'postinst')?.mode, 0o755);
  assert.deepEqual(
    d.data.map((e) => e.path),
    [
      '',
      'etc',
      'etc/acmewan',
      'etc/acmewan/acmewan.json',
      'usr',
      'usr/bin',
      'usr/bin/acmewan',
      'usr/sbin',
      'usr/sbin/acmewan',
    ],
  );
  for (const e of [...d.data, ...d.controlEntries]) {
    assert.equal(e.uid, 0);
    assert.equal(e.gid, 0);
    assert.equal(e.mtime, 1767225600);
  }
  assert.equal(dataFiles.find((e) => e.path === 'usr/sbin/acmewan')?.linkname, '../bin/acmewan');
  assert.equal(dataFiles.find((e) => e.path === 'usr/bin/acmewan')?.mode, 0o755);
});

test('deb: byte-identical on rebuild; gzip data on request', async () => {
  assert.deepEqual((await buildDeb(spec())).deb, (await buildDeb(spec())).deb);
  const { inspection } = await roundTrip(spec({ dataCompression: 'gzip' }));
  assert.equal(inspection.members[2].name, 'data.tar.gz');
});

test('deb: bad input is refused with the reason', async () => {
  await assert.rejects(
    buildDeb(spec({ conffiles: ['/etc/missing.json'] })),
    /conffile \/etc\/missing.json is not a regular file/,
  );
  await assert.rejects(buildDeb(spec({ conffiles: ['/usr/bin/acmewan'] })), /must live under \/etc/);
  await assert.rejects(buildDeb(spec({ scripts: { postinst: 'set -e\n' } })), /must start with "#!"/);
  const ctl = (k: string, v: string) =>
    spec().control.map(([n, x]) => (n === k ? ([n, v] as const) : ([n, x] as const)));
  await assert.rejects(
    buildDeb(spec({ control: ctl('Version', '1.2.0_rc1-1') })),
    /not a valid Debian version/,
  );
  await assert.rejects(
    buildDeb(spec({ control: ctl('Package', 'Acme_WAN') })),
    /not a valid Debian package name/,
  );
  await assert.rejects(
    buildDeb(
      spec({
        files: [
          ...spec().files,
          { type: 'file', path: 'usr/bin/acmewan', mode: 0o644, data: Buffer.alloc(1) },
        ],
      }),
    ),
    /duplicate path in archive: usr\/bin\/acmewan/,
  );
});

test('control: render and parse agree; duplicates and empty values are refused', () => {
  const text = renderControl([
    ['Package', 'a1'],
    ['Skipped', undefined],
    ['Description', 'x\nlong  \n\nmore'],
  ]);
  assert.equal(text, 'Package: a1\nDescription: x\n long\n .\n more\n');
  assert.deepEqual(parseControl(`${text}\nPackage: b2\n`), [
    { Package: 'a1', Description: 'x\nlong\n.\nmore' },
    { Package: 'b2' },
  ]);
  assert.throws(
    () =>
      renderControl([
        ['A', '1'],
        ['a', '2'],
      ]),
    ControlError,
  );
  assert.throws(() => renderControl([['A', ' ']]), /control field "A" is empty/);
  assert.throws(() => parseControl(' orphan\n'), /line 1: continuation line without a field/);
});
