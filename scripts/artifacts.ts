// dist/artifacts.json and dist/SHA256SUMS (docs/contract.md): only this build's outputs, sorted
// by path, validated against targets/artifacts.schema.json, written atomically at the end.
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import Ajv from 'ajv';
import type { Artifact } from '../targets/target.ts';
import { BuildError } from './errors.ts';
import { sha256, sha256File, writeAtomic } from './fsutil.ts';
import { describeAjvErrors } from './schema-errors.ts';

export const ARTIFACTS_SCHEMA_PATH = join(import.meta.dirname, '../targets/artifacts.schema.json');

/** An artifacts.json entry for a file in outDir. */
export async function fileArtifact(
  outDir: string,
  path: string,
  fields: Omit<Artifact, 'path' | 'sha256' | 'size'>,
): Promise<Artifact> {
  return {
    ...fields,
    path: relative(outDir, path),
    sha256: await sha256File(path),
    size: (await stat(path)).size,
  };
}

export function validateArtifacts(list: unknown, label = 'artifacts.json'): void {
  const schema = JSON.parse(readFileSync(ARTIFACTS_SCHEMA_PATH, 'utf8')) as Record<string, unknown>;
  const validate = new Ajv({ allErrors: true, strict: true, strictRequired: false, verbose: true }).compile(
    schema,
  );
  if (!validate(list)) {
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_ARTIFACTS',
      `${label} would not match targets/artifacts.schema.json:\n  ${describeAjvErrors(label, validate.errors ?? []).join('\n  ')}`,
    );
  }
}

const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * Write SHA256SUMS (every listed file plus extra files such as source maps, and each
 * directory artifact's index) and then artifacts.json, which also lists SHA256SUMS.
 */
export async function writeManifests(
  outDir: string,
  artifacts: Artifact[],
  extraFiles: string[],
): Promise<Artifact[]> {
  const paths = new Set<string>();
  for (const a of artifacts) {
    if (paths.has(a.path))
      throw new BuildError('EDGEWAN_ERR_BUILD_ARTIFACTS', `two artifacts claim ${a.path}`);
    paths.add(a.path);
  }
  const sums = new Map<string, string>();
  for (const a of artifacts) sums.set(a.index ? `${a.path}/${a.index}` : a.path, a.sha256);
  for (const f of extraFiles) sums.set(relative(outDir, f), await sha256File(f));
  const lines = [...sums.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([p, h]) => `${h}  ${p}\n`)
    .join('');
  await writeAtomic(join(outDir, 'SHA256SUMS'), lines);
  const all = [
    ...artifacts,
    {
      type: 'checksums',
      path: 'SHA256SUMS',
      sha256: sha256(lines),
      size: Buffer.byteLength(lines),
    } as Artifact,
  ].sort(byPath);
  validateArtifacts(all);
  await writeAtomic(join(outDir, 'artifacts.json'), `${JSON.stringify(all, null, 2)}\n`);
  return all;
}
