// The optional build manifest edgewan.build.json (docs/build.md): validated once with ajv
// against scripts/manifest.schema.json (defaults filled in, unknown keys rejected), resolved
// into a frozen ResolvedManifest, and mapped to the PackageInfo every target receives. The
// default-config overlay is merged onto engine/schema/default-config.json and validated with
// engine/schema/config.schema.json, read as data (targets never import engine code).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Ajv from 'ajv';
import type { Arch } from '../targets/arch.ts';
import type { PackageInfo } from '../targets/target.ts';
import { mapVersion } from '../targets/version.ts';
import { BuildError } from './errors.ts';
import { describeAjvErrors } from './schema-errors.ts';
import { parseSize } from '../engine/size.ts';

export const MANIFEST_NAME = 'edgewan.build.json';
const SCHEMA_PATH = join(import.meta.dirname, 'manifest.schema.json');

export interface Branding {
  packageName: string;
  serviceName: string;
  vendor: string;
  maintainer: string;
  homepage: string;
  description: string;
  license: string;
}

export interface ResolvedManifest {
  /** the manifest file, or "(defaults)" when none */
  file: string;
  version: string;
  arches: Arch[];
  /** undefined: every registered target */
  targets?: string[];
  outDir: string;
  memoryMax: string;
  memoryMaxBytes: number;
  branding: Branding;
  defaultConfig: Record<string, unknown>;
  /** absolute paths of the user's key files */
  signing: { openpgpPrivateKey?: string; usignPrivateKey?: string; apkPrivateKey?: string };
}

/** Bytes of service.memoryMax: whole binary units only, since the value goes to systemd and procd. */
export function parseMemory(s: string): number {
  const n = /^[0-9]+(B|KiB|MiB|GiB)$/.test(s) ? parseSize(s) : undefined;
  if (n === undefined)
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_MANIFEST',
      `memory size "${s}" must look like 128MiB (units B, KiB, MiB, GiB)`,
    );
  return n;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; arrays, scalars and null replace. */
export function mergeOverlay(
  base: Record<string, unknown>,
  overlay: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overlay))
    out[k] = isObj(v) && isObj(out[k]) ? mergeOverlay(out[k] as Record<string, unknown>, v) : v;
  return out;
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_MANIFEST',
      `cannot read ${what} ${file}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_MANIFEST',
      `${file}: not valid JSON (${(e as Error).message}); fix the syntax`,
      { cause: e },
    );
  }
}

/** Merge and validate the shipped default config (hard error when the engine schema exists and rejects it). */
export function resolveDefaultConfig(
  root: string,
  overlay: Record<string, unknown>,
  manifestFile: string,
  warn: (m: string) => void,
): Record<string, unknown> {
  const basePath = join(root, 'engine/schema/default-config.json');
  const schemaPath = join(root, 'engine/schema/config.schema.json');
  const base = existsSync(basePath)
    ? (readJson(basePath, 'engine default config') as Record<string, unknown>)
    : {};
  const merged = mergeOverlay(base, overlay);
  if (!existsSync(schemaPath)) {
    warn(`engine/schema/config.schema.json is missing: the shipped default config is NOT validated`);
    return merged;
  }
  const schema = readJson(schemaPath, 'engine config schema') as Record<string, unknown>;
  // Validate a copy: ajv's defaults would otherwise be baked into what we ship.
  const validate = new Ajv({ allErrors: true, strict: false, verbose: true }).compile(schema);
  if (!validate(structuredClone(merged))) {
    const msgs = describeAjvErrors(manifestFile, validate.errors ?? [], '/defaultConfig');
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_DEFAULT_CONFIG',
      `the shipped default config (engine/schema/default-config.json + ${manifestFile} defaultConfig) fails engine/schema/config.schema.json:\n  ${msgs.join('\n  ')}`,
    );
  }
  return merged;
}

/**
 * Load and validate the manifest. `path` undefined: <root>/edgewan.build.json when present,
 * else the embedded defaults. Relative paths in it resolve against its directory.
 */
export function loadManifest(
  root: string,
  path: string | undefined,
  warn: (m: string) => void = () => {},
): ResolvedManifest {
  const file = path
    ? resolve(path)
    : existsSync(join(root, MANIFEST_NAME))
      ? join(root, MANIFEST_NAME)
      : undefined;
  if (path && !existsSync(file!))
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_MANIFEST',
      `manifest ${file} does not exist: pass an existing file to --manifest or leave it out to use the defaults`,
    );
  const doc = file ? readJson(file, 'manifest') : {};
  const label = file ?? '(defaults)';
  const validate = new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true }).compile(
    readJson(SCHEMA_PATH, 'manifest schema') as Record<string, unknown>,
  );
  if (!validate(doc)) {
    throw new BuildError(
      'EDGEWAN_ERR_BUILD_MANIFEST',
      `invalid build manifest:\n  ${describeAjvErrors(label, validate.errors ?? []).join('\n  ')}\n(see docs/build.md, "Manifest")`,
    );
  }
  const m = doc as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const base = file ? dirname(file) : root;
  const pkg = readJson(join(root, 'package.json'), 'package.json') as { version: string };
  const version = m.version ?? pkg.version;
  mapVersion(version); // throws a clear error for versions the targets cannot express
  const signing: ResolvedManifest['signing'] = {};
  for (const k of ['openpgpPrivateKey', 'usignPrivateKey', 'apkPrivateKey'] as const) {
    if (m.signing[k]) {
      signing[k] = resolve(base, m.signing[k]);
      if (!existsSync(signing[k]!))
        throw new BuildError(
          'EDGEWAN_ERR_BUILD_MANIFEST',
          `${label}: /signing/${k}: key file ${signing[k]} does not exist`,
        );
    }
  }
  return Object.freeze({
    file: label,
    version,
    arches: m.arches as Arch[],
    targets: m.targets as string[] | undefined,
    outDir: resolve(base, m.outDir),
    memoryMax: m.service.memoryMax,
    memoryMaxBytes: parseMemory(m.service.memoryMax),
    branding: Object.freeze({ ...m.branding }) as Branding,
    defaultConfig: resolveDefaultConfig(root, m.defaultConfig, label, warn),
    signing: Object.freeze(signing),
  });
}

/** What targets receive (targets/target.ts). */
export function packageInfo(m: ResolvedManifest): PackageInfo {
  const b = m.branding;
  return {
    name: b.packageName,
    serviceName: b.serviceName,
    vendor: b.vendor,
    maintainer: b.maintainer,
    homepage: b.homepage,
    description: b.description,
    license: b.license,
    versions: mapVersion(m.version),
    memoryMaxBytes: m.memoryMaxBytes,
    defaultConfig: m.defaultConfig,
  };
}
