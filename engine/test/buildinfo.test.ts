import { test } from 'node:test';
import assert from 'node:assert/strict';
import { versionLine } from '../src/buildinfo.ts';

test('version line names runtime and arch in the parsed shape', () => {
  const line = versionLine();
  assert.match(line, /^edgewan \S+ commit=\S+ runtime=node-v\d+\.\d+\.\d+ arch=\S+ platform=linux$/);
  assert.ok(line.includes(`arch=${process.arch}`));
});
