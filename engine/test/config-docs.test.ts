// docs/config.md is generated from the schema; this fails when someone changed the schema (or
// the hand-written tail) without running `npm run docs:config`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigDocs, configRows } from '../src/config/docs.ts';
import { validatorSource } from '../src/config/validator-source.ts';

test('docs/config.md is current (run "npm run docs:config" after changing the schema)', () => {
  const tail = readFileSync(join(process.cwd(), 'engine/schema/config-docs-tail.md'), 'utf8');
  const want = renderConfigDocs(tail);
  const have = readFileSync(join(process.cwd(), 'docs/config.md'), 'utf8');
  assert.ok(have === want, 'docs/config.md is stale: run "npm run docs:config" and commit it');
});

test('the reference lists every documented field', () => {
  const rows = configRows().join('\n');
  for (const p of [
    '/role',
    '/memory/limit',
    '/admin/token',
    '/supervisor/backoffMs/initial',
    '/tunnel/connect',
    '/forwards/N/direction',
    '/dns/enabled',
    '/caches/chunkDisk/maxSize',
  ]) {
    assert.ok(rows.includes(`\`${p}\``), p);
  }
});

test('the precompiled validator matches the schema (run "npm run docs:config" after changing it)', () => {
  const have = readFileSync(join(process.cwd(), 'engine/src/config/validator.generated.cjs'), 'utf8');
  assert.ok(
    have === validatorSource(),
    'engine/src/config/validator.generated.cjs is stale: run "npm run docs:config" and commit it',
  );
});
