// The two error catalogues (targets/error-codes.ts for the builder, engine/src/errors.ts for
// the engine) against their code: every EDGEWAN_ERR_* code written in that side's source is
// catalogued, no code is assembled at run time (so grep finds every use), every catalogued
// code is still used, and the table in the side's doc (docs/build.md, docs/errors.md) is the
// one the catalogue renders. Failures name file:line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_SIDES, withTable, type ErrorSide } from '../../scripts/gen-error-docs.ts';
import { sourceFiles } from '../helpers/imports.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const FILES = sourceFiles(ROOT);

function uses(side: ErrorSide, re: RegExp): { code: string; at: string }[] {
  const out: { code: string; at: string }[] = [];
  for (const f of FILES.filter((x) => side.sources.test(x) && x !== side.catalogueFile)) {
    readFileSync(join(ROOT, f), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const m of line.matchAll(re)) out.push({ code: m[0], at: `${f}:${i + 1}` });
      });
  }
  return out;
}

for (const side of ERROR_SIDES) {
  test(`every error code in ${side.side} source is catalogued`, () => {
    const unknown = uses(side, /EDGEWAN_ERR_[A-Z0-9_]*[A-Z0-9]\b(?!_)/g).filter(
      (u) => !(u.code in side.catalogue),
    );
    assert.deepEqual(
      unknown.map((u) => `${u.at}: ${u.code}`),
      [],
      `add these to ${side.catalogueFile}`,
    );
  });

  test(`no ${side.side} error code is assembled at run time`, () => {
    const assembled = uses(side, /EDGEWAN_ERR_[A-Z0-9_]*_(?:\$\{|'\s*\+|`)/g);
    assert.deepEqual(
      assembled.map((u) => `${u.at}: ${u.code}`),
      [],
      'write the whole code out',
    );
  });

  test(`every catalogued ${side.side} code is used`, () => {
    const used = new Set(uses(side, /EDGEWAN_ERR_[A-Z0-9_]*[A-Z0-9]\b/g).map((u) => u.code));
    assert.deepEqual(
      Object.keys(side.catalogue).filter((c) => !used.has(c)),
      [],
      `remove these from ${side.catalogueFile}`,
    );
  });

  test(`${side.doc.slice(ROOT.length + 1)} lists the ${side.side} catalogue`, () => {
    const doc = readFileSync(side.doc, 'utf8');
    assert.equal(
      doc,
      withTable(side, doc),
      `${side.doc} is out of date: node --import tsx scripts/gen-error-docs.ts`,
    );
  });
}

test('the two catalogues share no code', () => {
  const [a, b] = ERROR_SIDES;
  assert.deepEqual(
    Object.keys(a.catalogue).filter((c) => c in b.catalogue),
    [],
  );
});
