// The built multi-arch image checked by real tools (docs/platform-notes.md §4): skopeo reads the index and
// checks blob digests, oci-image-tool validates the layout and each single-platform copy,
// umoci unpacks each platform (it alone checks diff_ids), and two OCI builds in separate
// processes (different TZ and umask, fresh output dirs) give the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needTool } from '../helpers/tools.ts';
import { distDir, mustRun, ociArtifacts } from '../helpers/oci.ts';

const PLATFORMS = [
  { platform: 'linux/amd64', arch: 'amd64', variant: '', exe: 'edgewan-linux-x64' },
  { platform: 'linux/arm64', arch: 'arm64', variant: '', exe: 'edgewan-linux-arm64' },
  { platform: 'linux/arm/v7', arch: 'arm', variant: 'v7', exe: 'edgewan-linux-armv7' },
];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('oci tools: skopeo sees one index with three platforms; oci-image-tool validates the layout', (t) => {
  if (!needTool(t, 'skopeo') || !needTool(t, 'oci-image-tool')) return;
  const a = ociArtifacts();
  const raw = mustRun('skopeo', ['inspect', '--raw', `oci:${a.layout}:edgewan:${a.version}`]);
  const idx = JSON.parse(raw) as {
    mediaType: string;
    manifests: { platform: { os: string; architecture: string; variant?: string } }[];
  };
  assert.equal(idx.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(
    idx.manifests.map(
      (m) =>
        `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}`,
    ),
    PLATFORMS.map((p) => p.platform),
  );
  const top = JSON.parse(readFileSync(join(a.layout, 'index.json'), 'utf8'));
  assert.equal(top.manifests[0].digest, `sha256:${sha(Buffer.from(raw))}`);
  assert.equal(
    sha(readFileSync(join(a.layout, 'index.json'))),
    a.indexSha,
    'artifacts.json sha256 is of index.json',
  );
  // oci-image-tool 1.0.0-rc1 does not descend into a nested index; the per-platform copies below get the deep check.
  assert.match(mustRun('oci-image-tool', ['validate', '--type', 'image', a.layout]), /Validation succeeded/);
});

test('oci tools: each platform copies out with skopeo, validates, and unpacks with umoci', (t) => {
  if (!needTool(t, 'skopeo') || !needTool(t, 'umoci') || !needTool(t, 'oci-image-tool')) return;
  const a = ociArtifacts();
  const dir = mkdtempSync(join(tmpdir(), 'oci-tools-'));
  try {
    for (const p of PLATFORMS) {
      const single = join(dir, p.arch + p.variant);
      const over = ['--override-arch', p.arch, ...(p.variant ? ['--override-variant', p.variant] : [])];
      mustRun('skopeo', [
        ...over,
        'copy',
        '-q',
        `oci:${a.layout}:edgewan:${a.version}`,
        `oci:${single}:edgewan`,
      ]);
      assert.match(
        mustRun('oci-image-tool', ['validate', '--type', 'image', single]),
        /Validation succeeded/,
        p.platform,
      );
      const bundle = join(dir, `${p.arch}${p.variant}-bundle`);
      mustRun('umoci', ['unpack', '--rootless', '--image', `${single}:edgewan`, bundle]);
      const rootfs = join(bundle, 'rootfs');
      assert.equal(
        sha(readFileSync(join(rootfs, 'usr/bin/edgewan'))),
        sha(readFileSync(join(distDir(), 'bin', p.exe))),
        `${p.platform}: /usr/bin/edgewan is dist/bin/${p.exe}`,
      );
      assert.match(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), /^edgewan:x:10001:10001:/m);
      const cfg = JSON.parse(readFileSync(join(rootfs, 'etc/edgewan/edgewan.json'), 'utf8'));
      assert.equal(cfg.memory.limit, 'auto');
      const rt = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
      assert.equal(rt.process.user.uid, 10001, `${p.platform}: runs as uid 10001`);
      assert.deepEqual(rt.process.args, ['/usr/bin/edgewan', 'run', '--config', '/etc/edgewan/edgewan.json']);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A small subset (one platform, the smallest executable) keeps this within the CI budget
// (docs/contract.md "Tests"); the multi-platform code path is the same loop.
test('oci tools: two OCI builds (fresh dirs and caches, different TZ and umask) give the same bytes', (t) => {
  if (!needTool(t, 'sh')) return;
  const a = ociArtifacts();
  const dir = mkdtempSync(join(tmpdir(), 'oci-repro-'));
  const glibcRoot = join(
    process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/root', '.cache'),
    'edgewan',
    'glibc',
  );
  const script = join(dir, 'build.mts');
  writeFileSync(
    script,
    `
import { buildOci } from ${JSON.stringify(join(import.meta.dirname, '../../images/oci/index.ts'))};
import { mapVersion } from ${JSON.stringify(join(import.meta.dirname, '../../targets/version.ts'))};
const bin = ${JSON.stringify(join(distDir(), 'bin'))};
const g = ${JSON.stringify(glibcRoot)};
const r = await buildOci({
  info: { name: 'edgewan', serviceName: 'edgewan', vendor: 'v', maintainer: 'm', homepage: 'https://example.invalid', description: 'd', license: 'Apache-2.0',
    versions: mapVersion(${JSON.stringify(a.version)}), memoryMaxBytes: 134217728, defaultConfig: { role: 'edge' } },
  mtime: 1700000000, outDir: process.argv[2], commit: 'c0ffee',
  executables: { armv7: bin + '/edgewan-linux-armv7' },
  glibc: { armv7: g + '/armv7' },
  bundle: '', licenses: '', sboms: {}, cacheDir: process.argv[2] + '/cache', keys: {}, log: () => {},
});
console.log(r.indexDigest);
`,
  );
  const build = (out: string, tz: string, umask: string) =>
    mustRun('sh', ['-c', `umask ${umask} && exec node --import tsx ${script} ${out}`], {
      ...process.env,
      TZ: tz,
    }).trim();
  try {
    const d1 = build(join(dir, 'one'), 'UTC', '022');
    const d2 = build(join(dir, 'two'), 'Asia/Kolkata', '077');
    assert.match(d1, /^sha256:[a-f0-9]{64}$/);
    assert.equal(d1, d2);
    const f = `oci/edgewan-${a.version}.oci.tar`;
    assert.ok(
      readFileSync(join(dir, 'one', f)).equals(readFileSync(join(dir, 'two', f))),
      'oci-archive bytes differ',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
