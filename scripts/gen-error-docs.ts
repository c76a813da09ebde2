// Rewrites the error tables of the docs from the two catalogues: docs/build.md from the
// builder's (targets/error-codes.ts), docs/errors.md from the engine's (engine/src/errors.ts):
// `node --import tsx scripts/gen-error-docs.ts`. test/unit/error-codes.test.ts fails when a
// doc and its catalogue differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENGINE_ERRORS } from '../engine/src/errors.ts';
import { BUILDER_ERRORS } from '../targets/error-codes.ts';

type Catalogue = Readonly<Record<string, { readonly when: string; readonly fix: string }>>;

export interface ErrorSide {
  /** who prints these codes */
  side: 'builder' | 'engine';
  /** the catalogue's file, repo-relative */
  catalogueFile: string;
  catalogue: Catalogue;
  /** the doc carrying the table, absolute */
  doc: string;
  /** repo-relative source files whose codes this catalogue must list */
  sources: RegExp;
}

const DOCS = join(import.meta.dirname, '..', 'docs');

export const ERROR_SIDES: readonly ErrorSide[] = [
  {
    side: 'builder',
    catalogueFile: 'targets/error-codes.ts',
    catalogue: BUILDER_ERRORS,
    doc: join(DOCS, 'build.md'),
    sources: /^(scripts|targets|images|bin)\//,
  },
  {
    side: 'engine',
    catalogueFile: 'engine/src/errors.ts',
    catalogue: ENGINE_ERRORS,
    doc: join(DOCS, 'errors.md'),
    sources: /^engine\/src\//,
  },
];

const begin = (s: ErrorSide) => `<!-- error-codes: generated from ${s.catalogueFile} -->`;
const END = '<!-- error-codes: end -->';

/** The markdown table of one catalogue: code, when, what to do. */
export function renderErrorTable(catalogue: Catalogue): string {
  const esc = (t: string) => t.replace(/\|/g, '\\|');
  const rows = Object.entries(catalogue).map(
    ([code, e]) => `| \`${code}\` | ${esc(e.when)} | ${esc(e.fix)} |`,
  );
  return ['| code | when | what to do |', '|---|---|---|', ...rows].join('\n');
}

/** The doc text with the table between the side's markers replaced by its catalogue's. */
export function withTable(side: ErrorSide, doc: string): string {
  const a = doc.indexOf(begin(side));
  const b = doc.indexOf(END, a);
  if (a < 0 || b < a) throw new Error(`${side.doc}: no ${begin(side)} … ${END} block`);
  return `${doc.slice(0, a + begin(side).length)}\n${renderErrorTable(side.catalogue)}\n${doc.slice(b)}`;
}

if (process.argv[1] === import.meta.filename) {
  for (const s of ERROR_SIDES) writeFileSync(s.doc, withTable(s, readFileSync(s.doc, 'utf8')));
}
