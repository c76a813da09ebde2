// Disk image errors: EDGEWAN_ERR_DISK_* codes from the catalogue (targets/error-codes.ts),
// messages naming the file / JSON pointer and what to do. Kept local: targets never import
// scripts/.
import type { ErrorObject } from 'ajv';
import type { BuilderErrorCode } from '../../targets/error-codes.ts';

export class DiskError extends Error {
  readonly code: BuilderErrorCode;
  constructor(code: BuilderErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'DiskError';
  }
}

/** One line per ajv error: `file: /json/pointer: what is wrong (allowed: …)`. */
export function ajvLines(
  file: string,
  errors: readonly ErrorObject[] | null | undefined,
  prefix = '',
): string[] {
  return (errors ?? []).map((e) => {
    const at = `${prefix}${e.instancePath}` || '/';
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') {
      const props = Object.keys(
        (e.parentSchema as { properties?: object } | undefined)?.properties ?? {},
      ).filter((k) => k !== '$schema');
      return `${file}: ${at === '/' ? '' : at}/${String(p.additionalProperty)}: unknown key${props.length ? ` (allowed: ${props.join(', ')})` : ''}`;
    }
    if (e.keyword === 'enum')
      return `${file}: ${at}: ${JSON.stringify(e.data)} is not allowed (allowed: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')})`;
    if (e.keyword === 'required')
      return `${file}: ${at}: missing required key "${String(p.missingProperty)}"`;
    const desc = (e.parentSchema as { description?: string } | undefined)?.description;
    return `${file}: ${at}: ${e.message ?? e.keyword}${e.data !== undefined ? `, got ${JSON.stringify(e.data)}` : ''}${desc ? ` (${desc})` : ''}`;
  });
}
