// Rewrites the "Error codes" table of docs/build.md from the catalogue
// (targets/error-codes.ts): `node --import tsx scripts/gen-error-docs.ts`.
// test/unit/error-codes.test.ts fails when the doc and the catalogue differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderErrorTable } from '../targets/error-codes.ts';

export const ERROR_DOC = join(import.meta.dirname, '..', 'docs', 'build.md');
export const BEGIN = '<!-- error-codes: generated from targets/error-codes.ts -->';
export const END = '<!-- error-codes: end -->';

/** The doc text with the table between the markers replaced by the catalogue's. */
export function withTable(doc: string): string {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${ERROR_DOC}: no ${BEGIN} … ${END} block`);
  return `${doc.slice(0, a + BEGIN.length)}\n${renderErrorTable()}\n${doc.slice(b)}`;
}

if (process.argv[1] === import.meta.filename) writeFileSync(ERROR_DOC, withTable(readFileSync(ERROR_DOC, 'utf8')));
