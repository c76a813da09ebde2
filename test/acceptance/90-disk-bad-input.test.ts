// Bad input for the disk target with the real mmdebstrap: an unknown package fails at apt's
// resolve step (before any package download) with the definition file and /packages/N,
// and nothing is left in the root cache.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkDefinition } from '../../images/disk/definition.ts';
import { cachedRoot } from '../../images/disk/roots.ts';
import { needRoot, needTool } from '../helpers/tools.ts';

const ROOT = join(import.meta.dirname, '..', '..');

test(
  'an unknown Debian package in a definition fails fast with its JSON pointer',
  { timeout: 300_000 },
  (t) => {
    if (!needTool(t, 'mmdebstrap') || !needRoot(t)) return;
    const raw = JSON.parse(readFileSync(join(ROOT, 'images/branch-box-amd64.json'), 'utf8')) as {
      packages: string[];
    };
    raw.packages = ['iproute2', 'edgewan-no-such-package'];
    const def = checkDefinition(
      'images/branch-box-bad.json',
      raw,
      JSON.parse(readFileSync(join(ROOT, 'engine/schema/default-config.json'), 'utf8')),
    );
    const cache = mkdtempSync(join(tmpdir(), 'ewI-badpkg-'));
    try {
      const t0 = Date.now();
      assert.throws(
        () => cachedRoot(def, cache, () => {}),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'EDGEWAN_ERR_DISK_PACKAGE');
          assert.match(
            e.message,
            /images\/branch-box-bad\.json: \/packages\/1: unknown Debian package "edgewan-no-such-package"/,
          );
          return true;
        },
      );
      t.diagnostic(`failed after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      assert.deepEqual(
        existsSync(join(cache, 'rootfs')) ? readdirSync(join(cache, 'rootfs')) : [],
        [],
        'no partial root left behind',
      );
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  },
);
