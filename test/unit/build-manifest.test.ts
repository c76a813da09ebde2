// Build manifest: defaults, branding → PackageInfo, and bad input that must name the file,
// the JSON pointer and what is allowed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifest, mergeOverlay, packageInfo, parseMemory } from '../../scripts/manifest.ts';
import { REPO_ROOT } from '../../scripts/paths.ts';

const dir = mkdtempSync(join(tmpdir(), 'ewA-manifest-'));
after(() => rmSync(dir, { recursive: true, force: true }));
function manifest(name: string, doc: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return p;
}

test('no manifest: embedded defaults', () => {
  const m = loadManifest(REPO_ROOT, manifest('empty.json', {}));
  assert.deepEqual(m.arches, ['x64', 'arm64', 'armv7']);
  assert.equal(m.memoryMax, '128MiB');
  assert.equal(m.memoryMaxBytes, 128 * 1024 * 1024);
  assert.equal(m.branding.packageName, 'edgewan');
  assert.equal(m.outDir, join(dir, 'dist'));
  assert.equal((m.defaultConfig as { role: string }).role, 'edge');
  assert.ok(Object.isFrozen(m));
});

test('branding and overlay reach PackageInfo', () => {
  const m = loadManifest(
    REPO_ROOT,
    manifest('oem.json', {
      version: '1.2.0-rc.1',
      arches: ['arm64'],
      service: { memoryMax: '256MiB' },
      branding: {
        packageName: 'acme-wan',
        serviceName: 'acmewan',
        vendor: 'ACME',
        maintainer: 'ACME Ops <ops@acme.example>',
      },
      defaultConfig: { log: { level: 'debug' } },
    }),
  );
  const info = packageInfo(m);
  assert.equal(info.name, 'acme-wan');
  assert.equal(info.serviceName, 'acmewan');
  assert.equal(info.versions.deb, '1.2.0~rc.1-1');
  assert.equal(info.memoryMaxBytes, 256 * 1024 * 1024);
  const cfg = info.defaultConfig as { log: { level: string }; admin: { listen: string } };
  assert.equal(cfg.log.level, 'debug');
  assert.equal(cfg.admin.listen, '127.0.0.1:9617', 'overlay merges, it does not replace the base');
});

test('bad values name file, JSON pointer and allowed values', () => {
  const p = manifest('bad.json', {
    arches: ['x64', 'mips'],
    service: { memoryMax: '12MB' },
    branding: { vendr: 'x' },
  });
  assert.throws(
    () => loadManifest(REPO_ROOT, p),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'EDGEWAN_ERR_BUILD_MANIFEST');
      assert.match(
        e.message,
        new RegExp(
          `${p.replace(/[.]/g, '\\.')}: /arches/1: "mips" is not allowed \\(allowed: "x64", "arm64", "armv7"\\)`,
        ),
      );
      assert.match(e.message, /\/service\/memoryMax: "12MB" does not match/);
      assert.match(
        e.message,
        /\/branding\/vendr: unknown key "vendr" \(allowed: packageName, serviceName, vendor/,
      );
      return true;
    },
  );
});

test('unknown top-level key and broken JSON are rejected', () => {
  assert.throws(
    () => loadManifest(REPO_ROOT, manifest('extra.json', { arch: ['x64'] })),
    /\/arch: unknown key "arch" \(allowed: version, arches/,
  );
  assert.throws(
    () => loadManifest(REPO_ROOT, manifest('broken.json', '{"arches": [')),
    /broken\.json: not valid JSON/,
  );
  assert.throws(() => loadManifest(REPO_ROOT, join(dir, 'missing.json')), /does not exist/);
});

test('default-config overlay is validated against the engine schema', () => {
  const p = manifest('cfg.json', { defaultConfig: { role: 'middle', bogus: 1 } });
  assert.throws(
    () => loadManifest(REPO_ROOT, p),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'EDGEWAN_ERR_BUILD_DEFAULT_CONFIG');
      assert.match(e.message, /\/defaultConfig\/role: "middle" is not allowed \(allowed: "edge", "core"\)/);
      assert.match(e.message, /\/defaultConfig\/bogus: unknown key "bogus"/);
      return true;
    },
  );
});

test('version the targets cannot express is refused', () => {
  assert.throws(
    () => loadManifest(REPO_ROOT, manifest('ver.json', { version: '1.0.0-nightly.3' })),
    /cannot be mapped/,
  );
});

test('mergeOverlay and parseMemory', () => {
  assert.deepEqual(mergeOverlay({ a: { b: 1, c: [1] }, d: 1 }, { a: { c: [2] }, d: null }), {
    a: { b: 1, c: [2] },
    d: null,
  });
  assert.equal(parseMemory('1GiB'), 1024 ** 3);
  assert.throws(() => parseMemory('1 GB'), /must look like 128MiB/);
  // the engine's size parser underneath, restricted to whole binary units for systemd and procd
  assert.equal(parseMemory('96MiB'), 96 * 1024 ** 2);
  assert.equal(parseMemory('512B'), 512);
  for (const bad of ['1.5GiB', '96MB', '96', ''])
    assert.throws(() => parseMemory(bad), /must look like 128MiB/);
});
