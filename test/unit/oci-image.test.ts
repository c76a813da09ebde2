// OCI writer unit tests with a small real ELF (/bin/true and the host's libraries as the
// glibc set): ELF closure, config contents, determinism, the reader's round-trip, and the
// errors for bad input. Real-tool checks of the full multi-arch image live in test/acceptance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElf } from '../../targets/formats/elf.ts';
import { glibcEntries, imageConfig } from '../../images/oci/rootfs.ts';
import { buildOci, ociTarget } from '../../images/oci/index.ts';
import { inspectOci } from '../../images/oci/inspect.ts';
import { mapVersion } from '../../targets/version.ts';
import type { BuildInputs } from '../../targets/target.ts';

const HOST_LIBS = '/lib/x86_64-linux-gnu';
const EXE = '/bin/true';
const onX64 = process.arch === 'x64';

function inputs(outDir: string, over: Partial<BuildInputs> = {}): BuildInputs {
  return {
    info: {
      name: 'edgewan',
      serviceName: 'edgewan',
      vendor: 'edgewan',
      maintainer: 'm <m@example.invalid>',
      homepage: 'https://example.invalid/edgewan',
      description: 'test',
      license: 'Apache-2.0',
      versions: mapVersion('1.2.0-rc.1'),
      memoryMaxBytes: 96 * 1048576,
      defaultConfig: {
        role: 'edge',
        memory: { limit: '128MiB' },
        supervisor: { graceS: 7 },
        admin: { listen: '127.0.0.1:9617' },
      },
    },
    mtime: 1700000000,
    outDir,
    executables: { x64: EXE },
    bundle: '',
    licenses: '',
    sboms: {},
    cacheDir: outDir,
    keys: {},
    log: () => {},
    glibc: { x64: HOST_LIBS },
    ...over,
  } as BuildInputs;
}

test('oci: ELF reader finds the interpreter and DT_NEEDED', { skip: !onX64 && 'x64 host only' }, async () => {
  const e = (await readElf(EXE))!;
  assert.equal(e.machine, 62);
  assert.match(e.interpreter ?? '', /ld-linux-x86-64\.so\.2$/);
  assert.ok(e.needed.includes('libc.so.6'));
});

test(
  'oci: base layer holds exactly the library closure and the interpreter link',
  { skip: !onX64 && 'x64 host only' },
  () => {
    const entries = glibcEntries('x64', readFileSync(EXE), HOST_LIBS);
    const paths = entries.map((e) => e.path).sort();
    assert.deepEqual(paths, [
      'lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
      'lib/x86_64-linux-gnu/libc.so.6',
      'lib64/ld-linux-x86-64.so.2',
    ]);
    const link = entries.find((e) => e.path === 'lib64/ld-linux-x86-64.so.2');
    assert.deepEqual(
      link && link.type === 'symlink' && link.target,
      '../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
    );
    const empty = mkdtempSync(join(tmpdir(), 'oci-nolibs-'));
    assert.throws(() => glibcEntries('x64', readFileSync(EXE), empty), /libc\.so\.6|ld-linux.*missing from/);
    assert.throws(() => glibcEntries('arm64', readFileSync(EXE), HOST_LIBS), /ELF machine 62.*expected 183/);
    rmSync(empty, { recursive: true });
  },
);

test('oci: image config defaults memory.limit to auto and the state dir to the volume', () => {
  const c = imageConfig({ role: 'edge', memory: { limit: '128MiB', split: { dns: 1 } } });
  assert.deepEqual(c.memory, { limit: 'auto', split: { dns: 1 } });
  assert.equal(c.stateDir, '/var/lib/edgewan');
});

test(
  'oci: build writes layout, archives, compose; same bytes twice; reader round-trips',
  { skip: !onX64 && 'x64 host only' },
  async () => {
    const a = mkdtempSync(join(tmpdir(), 'oci-a-'));
    const b = mkdtempSync(join(tmpdir(), 'oci-b-'));
    try {
      const ra = await buildOci(inputs(a), 1);
      const rb = await buildOci(inputs(b), 1);
      assert.equal(ra.indexDigest, rb.indexDigest);
      assert.deepEqual(ra.artifacts, rb.artifacts);
      assert.deepEqual(
        ra.artifacts.map((x) => [x.type, x.path]),
        [
          ['oci-layout', 'oci/layout'],
          ['oci-archive', 'oci/edgewan-1.2.0-rc.1.oci.tar'],
          ['docker-archive', 'oci/edgewan-1.2.0-rc.1-linux-amd64.docker.tar'],
        ],
      );
      assert.deepEqual(ra.artifacts[0].platforms, ['linux/amd64']);
      assert.equal(ra.artifacts[0].index, 'index.json');
      assert.equal(ra.artifacts[2].platform, 'linux/amd64');
      for (const f of readdirSync(join(a, 'oci'))) {
        if (f.endsWith('.tar'))
          assert.ok(readFileSync(join(a, 'oci', f)).equals(readFileSync(join(b, 'oci', f))), `${f} differs`);
      }
      const layout = await inspectOci(join(a, 'oci/layout'));
      assert.deepEqual(layout.problems, []);
      assert.equal(layout.format, 'oci-layout');
      assert.deepEqual(layout.refs, ['edgewan:1.2.0-rc.1']);
      assert.equal(layout.index?.digest, ra.indexDigest);
      const img = layout.images[0];
      assert.equal(img.platform, 'linux/amd64');
      assert.equal(img.user, '10001:10001');
      assert.deepEqual(img.entrypoint, ['/usr/bin/edgewan', 'run', '--config', '/etc/edgewan/edgewan.json']);
      assert.ok(!img.env.some((e) => e.startsWith('NODE_OPTIONS')), 'no heap flag in Env');
      assert.deepEqual(img.volumes, ['/var/lib/edgewan']);
      assert.equal(img.stopSignal, 'SIGTERM');
      assert.equal(img.labels['org.opencontainers.image.created'], '2023-11-14T22:13:20Z');
      assert.equal(img.labels['org.opencontainers.image.version'], '1.2.0-rc.1');
      assert.equal(img.healthcheck, undefined, 'OCI config carries no Healthcheck');
      assert.ok(
        img.layers[0].paths.includes('etc/passwd') && img.layers[1].paths.includes('usr/bin/edgewan'),
      );
      const archive = await inspectOci(join(a, 'oci/edgewan-1.2.0-rc.1.oci.tar'));
      assert.equal(archive.format, 'oci-archive');
      assert.equal(archive.index?.digest, ra.indexDigest);
      const docker = await inspectOci(join(a, 'oci/edgewan-1.2.0-rc.1-linux-amd64.docker.tar'));
      assert.equal(docker.format, 'docker-archive');
      assert.deepEqual(docker.problems, []);
      assert.deepEqual(docker.refs, ['edgewan:1.2.0-rc.1']);
      assert.deepEqual(docker.images[0].healthcheck, ['CMD', '/usr/bin/edgewan', 'healthcheck']);
      assert.deepEqual(
        docker.images[0].layers.map((l) => l.diffId),
        img.layers.map((l) => l.diffId),
      );
      const compose = readFileSync(join(a, 'oci/compose.yaml'), 'utf8');
      assert.match(compose, /restart: unless-stopped/);
      assert.match(compose, /mem_limit: 96m/);
      assert.match(compose, /stop_grace_period: 12s/);
      assert.match(compose, /edgewan-state:\/var\/lib\/edgewan/);
      assert.match(compose, /test: \["CMD", "\/usr\/bin\/edgewan", "healthcheck"\]/);
      assert.match(
        readFileSync(join(a, 'oci/README.md'), 'utf8'),
        /podman pull --platform linux\/arm64 oci-archive:edgewan-1.2.0-rc.1.oci.tar/,
      );
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  },
);

test(
  'oci: inspect reports a corrupted blob and a wrong diff_id',
  { skip: !onX64 && 'x64 host only' },
  async () => {
    const a = mkdtempSync(join(tmpdir(), 'oci-c-'));
    try {
      const r = await buildOci(inputs(a), 1);
      const img = r.images[0];
      const p = join(a, 'oci/layout', `blobs/sha256/${img.layers[0].blob.digest.slice(7)}`);
      const { writeFileSync } = await import('node:fs');
      writeFileSync(p, Buffer.concat([readFileSync(p).subarray(0, 100), Buffer.alloc(10)]));
      const bad = await inspectOci(join(a, 'oci/layout'));
      assert.equal(bad.ok, false);
      assert.ok(
        bad.problems.some((x) => x.includes(img.layers[0].blob.digest)),
        bad.problems.join('\n'),
      );
    } finally {
      rmSync(a, { recursive: true, force: true });
    }
  },
);

test('oci: validate rejects a missing executable and an empty arch set', () => {
  const d = mkdtempSync(join(tmpdir(), 'oci-v-'));
  assert.throws(
    () => ociTarget.validate(inputs(d, { executables: { arm64: join(d, 'nope') } })),
    /linux\/arm64 missing/,
  );
  assert.throws(() => ociTarget.validate(inputs(d, { executables: {} })), /no executable/);
  rmSync(d, { recursive: true });
});

test('oci: `docker kill --signal HUP` reaches the engine: exec-form entrypoint, no shell; compose shows the fleet mounts', async () => {
  const { ENTRYPOINT } = await import('../../images/oci/image.ts');
  const { composeYaml } = await import('../../images/oci/compose.ts');
  assert.equal(
    ENTRYPOINT[0],
    '/usr/bin/edgewan',
    'PID 1 is the engine itself (it forwards SIGHUP to a re-exec child, engine/src/memory/reexec.ts)',
  );
  assert.ok(!ENTRYPOINT.some((a) => /(^|\/)(sh|bash|tini|dumb-init)$/.test(a)));
  const y = composeYaml({
    image: 'edgewan:1',
    name: 'edgewan',
    memoryMaxBytes: 128 << 20,
    graceS: 5,
    version: '1',
    files: { layout: 'l', ociArchive: 'a', dockerArchives: {} },
  });
  assert.match(y, /- \.\/fleet:\/etc\/edgewan\/fleet:ro/);
  assert.match(y, /docker kill --signal HUP edgewan/);
});
