// Every OCI artifact the build wrote (dist/artifacts.json) round-trips through our own
// reader: hashes match artifacts.json, no problems (digests, sizes, diff_ids, duplicate
// paths), three platforms, the docker-archives carry the layout's layers, and each app
// layer holds the dist/bin executable byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { inspectOci } from '../../images/oci/inspect.ts';
import { distDir, ociArtifacts } from '../helpers/oci.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('oci dist: layout, oci-archive and docker-archives round-trip through inspectOci', async () => {
  const a = ociArtifacts();
  const list = JSON.parse(readFileSync(join(distDir(), 'artifacts.json'), 'utf8')) as {
    type: string;
    path: string;
    sha256: string;
    size: number;
    platform?: string;
    platforms?: string[];
    target?: string;
  }[];
  const oci = list.filter((x) => ['oci-layout', 'oci-archive', 'docker-archive'].includes(x.type));
  assert.equal(oci.length, 5, 'layout + archive + 3 docker-archives');
  for (const art of oci) {
    const p = join(distDir(), art.path);
    if (art.type !== 'oci-layout') {
      assert.equal(sha(readFileSync(p)), art.sha256, `${art.path} sha256`);
      assert.equal(statSync(p).size, art.size, `${art.path} size`);
    }
  }
  const layout = await inspectOci(a.layout);
  const archive = await inspectOci(a.archive);
  assert.deepEqual(layout.problems, []);
  assert.deepEqual(archive.problems, []);
  assert.equal(layout.index?.digest, archive.index?.digest);
  assert.deepEqual(
    layout.images.map((i) => i.platform),
    ['linux/amd64', 'linux/arm64', 'linux/arm/v7'],
  );
  assert.deepEqual(layout.refs, [`edgewan:${a.version}`]);
  const exe: Record<string, string> = {
    'linux/amd64': 'edgewan-linux-x64',
    'linux/arm64': 'edgewan-linux-arm64',
    'linux/arm/v7': 'edgewan-linux-armv7',
  };
  for (const img of layout.images) {
    assert.ok(img.layers[1].paths.includes('usr/bin/edgewan'), `${img.platform} app layer`);
    const docker = await inspectOci(a.docker[img.platform]);
    assert.deepEqual(docker.problems, [], img.platform);
    assert.deepEqual(
      docker.images[0].layers.map((l) => l.digest),
      img.layers.map((l) => l.digest),
      `${img.platform}: same layer blobs`,
    );
    assert.deepEqual(docker.images[0].healthcheck, ['CMD', '/usr/bin/edgewan', 'healthcheck']);
    assert.ok(statSync(join(distDir(), 'bin', exe[img.platform])).size > 0);
  }
});
