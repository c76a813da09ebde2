// `npm run docs:config`: regenerate what is derived from the schema: the precompiled validator
// (engine/src/config/validator-source.ts) first — the docs generator loads it — then
// docs/config.md (engine/src/config/docs.ts).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validatorSource } from '../src/config/validator-source.ts';

const root = process.cwd();
function write(rel: string, text: string): void {
  const out = join(root, rel);
  writeFileSync(`${out}.tmp`, text);
  renameSync(`${out}.tmp`, out);
  process.stdout.write(`wrote ${out}\n`);
}

write('engine/src/config/validator.generated.cjs', validatorSource());
const { renderConfigDocs } = await import('../src/config/docs.ts');
write(
  'docs/config.md',
  renderConfigDocs(readFileSync(join(root, 'engine/schema/config-docs-tail.md'), 'utf8')),
);
