// The builder's error catalogue (targets/error-codes.ts) against the code: every
// EDGEWAN_ERR_* code written in builder source is catalogued, no code is assembled at run time
// (so grep finds every use), every catalogued code is still used, and the table in
// docs/build.md is the one the catalogue renders. Failures name file:line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_DOC, withTable } from '../../scripts/gen-error-docs.ts';
import { BUILDER_ERRORS } from '../../targets/error-codes.ts';
import { sourceFiles } from '../helpers/imports.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CATALOGUE = 'targets/error-codes.ts';
const BUILDER = sourceFiles(ROOT).filter((f) => /^(scripts|targets|images|bin)\//.test(f) && f !== CATALOGUE);

function uses(re: RegExp): { code: string; at: string }[] {
  const out: { code: string; at: string }[] = [];
  for (const f of BUILDER) {
    readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
      for (const m of line.matchAll(re)) out.push({ code: m[0], at: `${f}:${i + 1}` });
    });
  }
  return out;
}

test('every error code in builder source is catalogued', () => {
  const unknown = uses(/EDGEWAN_ERR_[A-Z0-9_]*[A-Z0-9]\b(?!_)/g).filter((u) => !(u.code in BUILDER_ERRORS));
  assert.deepEqual(unknown.map((u) => `${u.at}: ${u.code}`), [], 'add these to targets/error-codes.ts');
});

test('no error code is assembled at run time', () => {
  const assembled = uses(/EDGEWAN_ERR_[A-Z0-9_]*_(?:\$\{|'\s*\+|`)/g);
  assert.deepEqual(assembled.map((u) => `${u.at}: ${u.code}`), [], 'write the whole code out');
});

test('every catalogued code is used', () => {
  const used = new Set(uses(/EDGEWAN_ERR_[A-Z0-9_]*[A-Z0-9]\b/g).map((u) => u.code));
  assert.deepEqual(Object.keys(BUILDER_ERRORS).filter((c) => !used.has(c)), [], 'remove these from targets/error-codes.ts');
});

test('docs/build.md lists the catalogue', () => {
  const doc = readFileSync(ERROR_DOC, 'utf8');
  assert.equal(doc, withTable(doc), 'docs/build.md is out of date: node --import tsx scripts/gen-error-docs.ts');
});
