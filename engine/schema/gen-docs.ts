// `npm run docs:config`: regenerate docs/config.md from the schema (see engine/src/config/docs.ts).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigDocs } from '../src/config/docs.ts';

const root = join(process.cwd());
const tail = readFileSync(join(root, 'engine/schema/config-docs-tail.md'), 'utf8');
const out = join(root, 'docs/config.md');
writeFileSync(`${out}.tmp`, renderConfigDocs(tail));
renameSync(`${out}.tmp`, out);
process.stdout.write(`wrote ${out}\n`);
