// Image definitions (images/branch-box-*.json): read, check against definition.schema.json,
// merge the engine config overlay onto the shipped default config and check the result
// against the engine's own schema (engine/schema/config.schema.json, read as data) — all
// before any long step, so a bad definition fails in milliseconds with file + JSON pointer.
import Ajv from 'ajv';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARCHES, type Arch } from '../../targets/arch.ts';
import { ajvLines, DiskError } from './errors.ts';

export const REPO = join(import.meta.dirname, '..', '..');
export const DEFINITIONS_DIR = join(REPO, 'images');
const SCHEMA = join(import.meta.dirname, 'definition.schema.json');
const ENGINE_SCHEMA = join(REPO, 'engine', 'schema', 'config.schema.json');

export interface ImageDefinition {
  file: string;
  name: string;
  description?: string;
  suite: 'bookworm';
  arch: Arch;
  /** uefi: GPT, ESP with GRUB; rpi: MBR, FAT firmware partition laid out by raspi-firmware */
  board: 'uefi' | 'rpi';
  /** dpkg architecture */
  debArch: string;
  mirror: string;
  packages: string[];
  hostname: string;
  console: string;
  sizes: { espMiB: number; rootMiB: number; dataMiB: number };
  /** the engine config written to /etc/<name>/<name>.json (overlay already merged, valid) */
  config: Record<string, unknown>;
  firstBoot: { keygen: boolean; adminToken: boolean; growData: boolean };
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep merge of objects; arrays and scalars in the overlay replace. */
export function mergeConfig(base: Json, overlay: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(overlay))
    out[k] = isObj(v) && isObj(out[k]) ? mergeConfig(out[k] as Json, v) : v;
  return out;
}

let defValidator: ReturnType<Ajv['compile']> | undefined;
let cfgValidator: ReturnType<Ajv['compile']> | undefined;

/** Validate a parsed definition; `file` is only for messages. */
export function checkDefinition(file: string, raw: unknown, defaultConfig: Json): ImageDefinition {
  defValidator ??= new Ajv({ allErrors: true, strict: false, verbose: true, useDefaults: true }).compile(
    JSON.parse(readFileSync(SCHEMA, 'utf8')),
  );
  if (!defValidator(raw)) {
    throw new DiskError(
      'EDGEWAN_ERR_DISK_DEFINITION',
      `invalid image definition (fix these keys; schema images/disk/definition.schema.json):\n  ${ajvLines(file, defValidator.errors).join('\n  ')}`,
    );
  }
  const d = raw as Omit<ImageDefinition, 'file' | 'debArch'> & { mirror?: string };
  const config = mergeConfig(defaultConfig, d.config);
  cfgValidator ??= new Ajv({ allErrors: true, strict: false, verbose: true }).compile(
    JSON.parse(readFileSync(ENGINE_SCHEMA, 'utf8')),
  );
  if (!cfgValidator(structuredClone(config))) {
    throw new DiskError(
      'EDGEWAN_ERR_DISK_CONFIG',
      `the engine config of image ${d.name} (default config + the definition's "config" overlay) fails engine/schema/config.schema.json:\n  ${ajvLines(file, cfgValidator.errors, '/config').join('\n  ')}`,
    );
  }
  const debArch = ARCHES[d.arch].deb;
  if (!debArch)
    throw new DiskError(
      'EDGEWAN_ERR_DISK_DEFINITION',
      `${file}: /arch: ${d.arch} has no Debian architecture`,
    );
  if (d.board === 'rpi' && debArch !== 'arm64')
    throw new DiskError(
      'EDGEWAN_ERR_DISK_DEFINITION',
      `${file}: /board: "rpi" images are arm64 (Debian's raspi-firmware boots linux-image-arm64 on Pi 3/4): set /arch to "arm64"`,
    );
  return { ...d, file, debArch, mirror: d.mirror ?? 'http://deb.debian.org/debian', config };
}

export function loadDefinition(file: string, defaultConfig: Json): ImageDefinition {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DiskError(
      'EDGEWAN_ERR_DISK_DEFINITION',
      `cannot read image definition ${file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return checkDefinition(file, raw, defaultConfig);
}

/** Every images/branch-box-*.json, sorted by name. */
export function definitionFiles(dir = DEFINITIONS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => /^branch-box-.*\.json$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}
