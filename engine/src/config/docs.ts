// docs/config.md from the JSON Schema: one table row per field (JSON pointer, type, default,
// description), so the reference can never drift from what the engine validates. The header
// and the sections after the table are fixed text kept here too; engine/schema/gen-docs.ts
// writes the file and engine/test/config-docs.test.ts fails when it is stale.
import { CONFIG_SCHEMA } from './validate.ts';
import { ENV_OVERRIDES } from './load.ts';

type Schema = Record<string, unknown>;

function deref(s: Schema): Schema {
  const ref = s.$ref as string | undefined;
  if (!ref) return s;
  const target = ref.replace('#/definitions/', '');
  return { ...(CONFIG_SCHEMA.definitions as Record<string, Schema>)[target], ...s, $ref: undefined };
}

function typeOf(s: Schema): string {
  const d = deref(s);
  if (d.enum) return (d.enum as unknown[]).map((v) => JSON.stringify(v)).join(' | ');
  if (d.const !== undefined) return JSON.stringify(d.const);
  if (d.oneOf) return (d.oneOf as Schema[]).map(typeOf).join(' | ');
  if (s.$ref) return String(s.$ref).replace('#/definitions/', '');
  if (Array.isArray(d.type)) return d.type.join(' | ');
  if (d.type === 'array') return `array of ${typeOf((d.items as Schema | undefined) ?? {})}`;
  return String(d.type ?? 'any');
}

function cell(v: string): string {
  return v.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function configRows(): string[] {
  const rows: string[] = [];
  const walk = (s: Schema, pointer: string) => {
    const d = deref(s);
    const props = d.properties as Record<string, Schema> | undefined;
    const isObject = d.type === 'object' && props;
    if (pointer) {
      const def = s.default !== undefined ? `\`${JSON.stringify(s.default)}\`` : '(required)';
      rows.push(
        `| \`${pointer}\` | ${isObject ? 'object' : cell(typeOf(s))} | ${isObject ? '' : def} | ${cell(String(d.description ?? ''))} |`,
      );
    }
    if (isObject) for (const [k, v] of Object.entries(props)) walk(v, `${pointer}/${k}`);
    if (d.type === 'array' && d.items) {
      const items = deref(d.items as Schema);
      if (items.properties)
        for (const [k, v] of Object.entries(items.properties as Record<string, Schema>))
          walk(v, `${pointer}/N/${k}`);
    }
  };
  walk(CONFIG_SCHEMA, '');
  return rows;
}

export function renderConfigDocs(tail: string): string {
  const env = ENV_OVERRIDES.map(([name, keys]) => `| \`${name}\` | \`/${keys.join('/')}\` |`).join('\n');
  return `# Engine configuration reference

<!-- GENERATED from engine/schema/config.schema.json by \`npm run docs:config\`; edit the schema
     (or the hand-written part in engine/schema/config-docs-tail.md), not this file. -->

${cell(String(CONFIG_SCHEMA.description))} On OpenWRT it is
translated from UCI \`/etc/config/edgewan\` at start.

\`edgewan check-config FILE\` validates a file (exit 0, or 78 listing every problem with its
JSON pointer), \`edgewan print-config FILE\` prints it with every default filled in, and
\`edgewan print-schema\` prints the schema this page is generated from.

## Fields

\`N\` stands for an array index. A field whose parent is missing takes its default.

| pointer | type | default | description |
|---|---|---|---|
${configRows().join('\n')}

## Environment overrides

Applied on top of the file, before validation (errors name the variable):

| variable | overrides |
|---|---|
${env}

${tail.trim()}
`;
}
