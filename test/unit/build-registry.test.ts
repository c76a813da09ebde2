// The target registry (scripts/targets.ts) is the one list of targets: what --target, the
// manifest, artifacts.json, inspect, push and the CLI help accept is derived from it, and the
// two JSON schemas that must spell the names out are checked against it here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../scripts/cli.ts';
import { READERS } from '../../scripts/inspect.ts';
import { REPO_ROOT } from '../../scripts/paths.ts';
import { PUSHERS, TARGETS, TARGET_NAMES, TARGET_READERS } from '../../scripts/targets.ts';

const schema = (rel: string) =>
  JSON.parse(readFileSync(join(REPO_ROOT, rel), 'utf8')) as {
    properties: Record<
      string,
      { enum?: string[]; items?: { enum?: string[]; properties?: Record<string, { enum?: string[] }> } }
    >;
    items?: { properties: Record<string, { enum?: string[] }> };
  };

test("target names are unique and are the registry's", () => {
  assert.deepEqual(TARGET_NAMES, [
    'debian',
    'raspbian',
    'openwrt-24.10',
    'openwrt-25.12',
    'oci',
    'disk',
    'rhel',
  ]);
  assert.equal(new Set(TARGET_NAMES).size, TARGETS.length);
});

test('the manifest and artifacts.json schemas list exactly the registered targets', () => {
  const manifest = schema('scripts/manifest.schema.json').properties.targets.items?.enum;
  assert.deepEqual(
    manifest,
    [...TARGET_NAMES],
    'scripts/manifest.schema.json /properties/targets/items/enum',
  );
  const artifacts = schema('targets/artifacts.schema.json').items?.properties.target.enum;
  assert.deepEqual(
    artifacts,
    [...TARGET_NAMES],
    'targets/artifacts.schema.json /items/properties/target/enum',
  );
});

test("inspect knows every format the targets write, each once, after the build's own outputs", () => {
  const names = READERS.map((r) => r.name);
  assert.deepEqual(names, [
    'executable',
    'bundle',
    'spdx',
    'artifacts.json',
    'deb',
    'apt-suite',
    'ipk',
    'opkg-feed',
    'opkg-feeds',
    'apk',
    'oci',
    'disk-image',
    'rpm',
    'rpm-repo',
  ]);
  assert.equal(new Set(names).size, names.length);
  assert.deepEqual(READERS.slice(4), [...TARGET_READERS]);
});

test('push publishers come from the targets that have one', () => {
  assert.deepEqual(Object.keys(PUSHERS), ['oci']);
});

test('the CLI help lists the registered targets', async () => {
  let out = '';
  assert.equal(
    await main(['--help'], {
      out: {
        write: (s: string) => {
          out += s;
        },
      },
      err: { write: () => {} },
    }),
    0,
  );
  assert.match(out, new RegExp(`targets: ${TARGET_NAMES.join(', ').replace(/\./g, '\\.')}, or none`));
});
