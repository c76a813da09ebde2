// ajv errors → one line each naming the file, the JSON pointer and what is allowed, the way
// the build reports every bad input (STYLE.md, fastify's options errors).
import type { ErrorObject } from 'ajv';

function allowedKeys(parentSchema: unknown): string[] {
  const props = (parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props).filter((k) => k !== '$schema') : [];
}

/** Human message for one ajv error (ajv must run with verbose: true for parentSchema). */
export function describeAjvError(file: string, e: ErrorObject, pointerPrefix = ''): string {
  const at = `${pointerPrefix}${e.instancePath}` || '/';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const ok = allowedKeys(e.parentSchema);
      return `${file}: ${at === '/' ? '' : at}/${key}: unknown key "${key}"${ok.length ? ` (allowed: ${ok.join(', ')})` : ''}`;
    }
    case 'enum':
      return `${file}: ${at}: ${JSON.stringify(e.data)} is not allowed (allowed: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')})`;
    case 'pattern': {
      const desc = (e.parentSchema as { description?: string } | undefined)?.description;
      return `${file}: ${at}: ${JSON.stringify(e.data)} does not match ${String(p.pattern)}${desc ? ` (${desc})` : ''}`;
    }
    case 'type':
      return `${file}: ${at}: must be ${String(p.type)}, got ${JSON.stringify(e.data)}`;
    case 'required':
      return `${file}: ${at}: missing required key "${String(p.missingProperty)}"`;
    default:
      return `${file}: ${at}: ${e.message ?? e.keyword}`;
  }
}

/** Keep the outermost oneOf error per pointer (the branches' errors only confuse). */
export function describeAjvErrors(
  file: string,
  errors: readonly ErrorObject[],
  pointerPrefix = '',
): string[] {
  const oneOfAt = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  const out = errors
    .filter((e) => e.keyword === 'oneOf' || !oneOfAt.has(e.instancePath))
    .map((e) => describeAjvError(file, e, pointerPrefix));
  return [...new Set(out)];
}
