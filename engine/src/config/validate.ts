// Schema validation: the JSON Schema (engine/schema/config.schema.json, the single source of
// truth, also read as data by the builder) compiled once with ajv; ajv's errors translated
// into ConfigProblems that name the pointer, the bad value and what is allowed.
import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import schema from '../../schema/config.schema.json';
import type { ConfigProblem } from './errors.ts';

export const CONFIG_SCHEMA: Readonly<Record<string, unknown>> = schema as Record<string, unknown>;

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  // useDefaults fills every missing field from the schema, so the schema's defaults are the
  // only defaults; verbose keeps the parent schema for "allowed" texts.
  compiled ??= new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true }).compile(CONFIG_SCHEMA);
  return compiled;
}

/** Validate in place (defaults are filled into `doc`); returns every problem found. */
export function validateDocument(doc: unknown): ConfigProblem[] {
  const validate = validator();
  if (validate(doc)) return [];
  return translate(validate.errors ?? []);
}

function describeOf(s: unknown): string | undefined {
  return typeof s === 'object' && s !== null && typeof (s as { description?: unknown }).description === 'string'
    ? (s as { description: string }).description : undefined;
}

function translate(errors: ErrorObject[]): ConfigProblem[] {
  // A failed oneOf also reports every branch's failure (and nested oneOfs reached through
  // $ref) at the same place; ajv emits the outermost last, so keep only that one.
  const lastOneOf = new Map<string, ErrorObject>();
  for (const e of errors) if (e.keyword === 'oneOf') lastOneOf.set(e.instancePath, e);
  const out: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const outer = lastOneOf.get(e.instancePath);
    if (outer && e !== outer) continue;
    if (e.keyword === 'if' || e.keyword === 'anyOf') continue;
    const p = problemOf(e);
    const key = `${p.pointer}\0${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out.sort((a, b) => (a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : 0));
}

function problemOf(e: ErrorObject): ConfigProblem {
  const parent = e.parentSchema as Record<string, unknown> | undefined;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const props = Object.keys((parent?.properties as object | undefined) ?? {});
      return {
        code: 'EDGEWAN_ERR_CONFIG_UNKNOWN_KEY',
        pointer: `${e.instancePath}/${escapePointer(String(params.additionalProperty))}`,
        message: 'unknown key (misspelt, or belongs elsewhere)',
        allowed: props.length ? `keys ${props.join(', ')}` : 'no keys',
      };
    }
    case 'required':
      return {
        code: 'EDGEWAN_ERR_CONFIG_MISSING',
        pointer: `${e.instancePath}/${escapePointer(String(params.missingProperty))}`,
        message: 'required key is missing',
        allowed: describeOf((parent?.properties as Record<string, unknown> | undefined)?.[String(params.missingProperty)]),
      };
    case 'enum':
      return {
        code: 'EDGEWAN_ERR_CONFIG_VALUE', pointer: e.instancePath, message: 'not one of the allowed values',
        value: e.data, allowed: (params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', '),
      };
    case 'type':
      return {
        code: 'EDGEWAN_ERR_CONFIG_TYPE', pointer: e.instancePath, message: `wrong type (${jsonType(e.data)})`,
        value: e.data, allowed: `${String(params.type).replace(/,/g, ' or ')}; ${describeOf(parent) ?? ''}`.replace(/; $/, ''),
      };
    case 'oneOf':
      return {
        code: 'EDGEWAN_ERR_CONFIG_VALUE', pointer: e.instancePath, message: 'not an accepted value',
        value: e.data, allowed: describeOf(parent),
      };
    case 'pattern':
      return {
        code: 'EDGEWAN_ERR_CONFIG_VALUE', pointer: e.instancePath, message: 'does not have the expected form',
        value: e.data, allowed: describeOf(parent),
      };
    default:
      return {
        code: 'EDGEWAN_ERR_CONFIG_VALUE', pointer: e.instancePath, message: e.message ?? `fails ${e.keyword}`,
        value: e.data, allowed: describeOf(parent),
      };
  }
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

export function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}
