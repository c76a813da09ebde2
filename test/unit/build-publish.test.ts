// Targets build into staging directories and the build publishes them (scripts/publish.ts):
// run order follows Target.needs, not registry order; publishing moves staged trees into
// dist/ with the staged modes, replaces owned paths and directory artifacts whole (stale
// packages go), overwrites other files and leaves everything else in dist/ alone.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { neededBy, orderByNeeds, publish, type Staged } from '../../scripts/publish.ts';
import { TARGETS } from '../../scripts/targets.ts';
import type { Artifact, Target } from '../../targets/target.ts';

const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'edgewan-publish-'));
  temps.push(d);
  return d;
};
const put = (root: string, rel: string, text: string) => {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
};
const fake = (name: string, more: Partial<Target> = {}): Target => ({
  name,
  arches: ['x64'],
  validate() {},
  build: async () => [],
  ...more,
});
const art = (type: Artifact['type'], path: string, index?: string): Artifact => ({
  type,
  path,
  sha256: '0'.repeat(64),
  size: 1,
  ...(index ? { index } : {}),
});

test('the disk target runs after the targets that make apt repos, wherever the registry lists it', () => {
  const names = (ts: readonly Target[]) => orderByNeeds(ts).map((t) => t.name);
  const disk = TARGETS.find((t) => t.name === 'disk')!;
  const rest = TARGETS.filter((t) => t !== disk);
  const order = names([disk, ...rest]);
  assert.ok(
    order.indexOf('disk') > order.indexOf('debian') && order.indexOf('disk') > order.indexOf('raspbian'),
    order.join(' '),
  );
  assert.deepEqual(
    names(rest),
    rest.map((t) => t.name),
    'targets without needs keep registry order',
  );
  assert.deepEqual(names([disk]), ['disk'], 'a need nobody selected provides does not stop a target');
  const a = fake('a', { needs: ['deb'], provides: ['ipk'] });
  const b = fake('b', { needs: ['ipk'], provides: ['deb'] });
  assert.throws(
    () => orderByNeeds([a, b]),
    /EDGEWAN_ERR_BUILD_TARGET|circle: a \(needs deb\); b \(needs ipk\)/,
  );
});

test('neededBy hands a target the artifacts of the types it needs, with the directory they are in', () => {
  const deb = {
    target: fake('debian'),
    dir: '/stage/debian',
    artifacts: [art('deb', 'apt/pool/x.deb'), art('apt-repo', 'apt/dists/bookworm', 'InRelease')],
  };
  assert.deepEqual(neededBy(fake('disk', { needs: ['apt-repo'] }), [deb]), [
    { artifact: deb.artifacts[1], root: '/stage/debian' },
  ]);
  assert.deepEqual(neededBy(fake('oci'), [deb]), []);
});

test('publish moves staged trees into dist/, replacing owned paths and directory artifacts whole', () => {
  const root = tmp();
  const dist = join(root, 'dist');
  const stage = join(dist, '.stage-1');
  // what an earlier build left
  put(dist, 'apt/pool/bookworm/old_0.9_amd64.deb', 'stale');
  put(dist, 'apt/dists/bookworm/InRelease', 'old');
  put(dist, 'apt/pool/rpi/keep_1_all.deb', 'other suite');
  put(dist, 'openwrt/25.12/x86_64/edgewan-0.9.apk', 'stale');
  put(dist, 'openwrt/25.12/mips/edgewan-0.9.apk', 'arch not built now');
  put(dist, 'apt/edgewan.sources', 'old');
  put(dist, 'bin/edgewan.cjs', 'the bundle');
  // this build
  const deb: Staged = {
    target: fake('debian', { owns: ['apt/pool/bookworm', 'apt/dists/bookworm'] }),
    dir: join(stage, 'debian'),
    artifacts: [
      art('deb', 'apt/pool/bookworm/new_1.0_amd64.deb'),
      art('apt-repo', 'apt/dists/bookworm', 'InRelease'),
    ],
  };
  put(deb.dir, 'apt/pool/bookworm/new_1.0_amd64.deb', 'new');
  put(deb.dir, 'apt/dists/bookworm/InRelease', 'new');
  put(deb.dir, 'apt/edgewan.sources', 'new');
  const apk: Staged = {
    target: fake('openwrt-25.12'),
    dir: join(stage, 'openwrt-25.12'),
    artifacts: [
      art('apk', 'openwrt/25.12/x86_64/edgewan-1.0.apk'),
      art('apk-feed', 'openwrt/25.12/x86_64', 'packages.adb'),
    ],
  };
  put(apk.dir, 'openwrt/25.12/x86_64/edgewan-1.0.apk', 'new');
  put(apk.dir, 'openwrt/25.12/x86_64/packages.adb', 'new');
  const oci: Staged = {
    target: fake('oci'),
    dir: join(stage, 'oci'),
    artifacts: [art('oci-archive', 'oci/e.oci.tar')],
  };
  put(oci.dir, 'oci/e.oci.tar', 'image');
  publish([deb, apk, oci], dist, stage);

  const read = (rel: string) =>
    existsSync(join(dist, rel)) ? readFileSync(join(dist, rel), 'utf8') : undefined;
  assert.equal(read('apt/pool/bookworm/new_1.0_amd64.deb'), 'new');
  assert.equal(read('apt/pool/bookworm/old_0.9_amd64.deb'), undefined, 'owned pool replaced whole');
  assert.equal(read('apt/dists/bookworm/InRelease'), 'new');
  assert.equal(read('apt/pool/rpi/keep_1_all.deb'), 'other suite', "another target's suite untouched");
  assert.equal(read('apt/edgewan.sources'), 'new', 'plain files overwrite');
  assert.equal(read('openwrt/25.12/x86_64/edgewan-0.9.apk'), undefined, 'a feed directory is replaced whole');
  assert.equal(read('openwrt/25.12/x86_64/edgewan-1.0.apk'), 'new');
  assert.equal(
    read('openwrt/25.12/mips/edgewan-0.9.apk'),
    'arch not built now',
    'what no target claims stays',
  );
  assert.equal(read('oci/e.oci.tar'), 'image');
  assert.equal(read('bin/edgewan.cjs'), 'the bundle');
  assert.equal(existsSync(stage), false, 'the stage is removed');
});

test('directories publish creates get the staged modes, not the umask', () => {
  const dist = join(tmp(), 'dist');
  const stage = join(dist, '.stage-2');
  const s: Staged = {
    target: fake('debian', { owns: ['apt/pool/bookworm'] }),
    dir: join(stage, 'debian'),
    artifacts: [art('deb', 'apt/pool/bookworm/a.deb')],
  };
  put(s.dir, 'apt/pool/bookworm/a.deb', 'x');
  for (const d of ['apt', 'apt/pool', 'apt/pool/bookworm']) chmodSync(join(s.dir, d), 0o755);
  mkdirSync(dist, { recursive: true });
  const old = process.umask(0o077);
  try {
    publish([s], dist, stage);
  } finally {
    process.umask(old);
  }
  for (const d of ['apt', 'apt/pool', 'apt/pool/bookworm'])
    assert.equal(statSync(join(dist, d)).mode & 0o777, 0o755, d);
});

test('publish refuses an artifact the target did not write, before moving anything', () => {
  const dist = join(tmp(), 'dist');
  const stage = join(dist, '.stage-3');
  const s: Staged = {
    target: fake('oci'),
    dir: join(stage, 'oci'),
    artifacts: [art('oci-archive', 'oci/missing.tar')],
  };
  put(s.dir, 'oci/other.tar', 'x');
  assert.throws(() => publish([s], dist, stage), /target oci listed oci\/missing\.tar but did not write it/);
  assert.equal(existsSync(join(dist, 'oci')), false);
});
