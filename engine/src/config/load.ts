// loadConfig(): file → duplicate keys and nesting depth (json-scan.ts) → JSON (line/column on
// syntax errors) → EDGEWAN_* overrides → schema (defaults filled, all problems at once) →
// checks the schema cannot express (sizes that stay exact, admin token beyond loopback,
// cross-field rules and referenced files in rules.ts, writable state dir, possible memory
// budgets) → deep-frozen ResolvedConfig. `check-config` and `run` share all of it.
// Throws ConfigError (exit 78 in the CLI); never reads process.env itself (env is passed in).
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, jsonSyntaxProblem, type ConfigProblem } from './errors.ts';
import { parseSize } from '../../size.ts';
import type { LoadedConfig, ResolvedConfig } from './types.ts';
import { escapePointer, validateDocument } from './validate.ts';
import { scanJson } from './json-scan.ts';
import { checkRules } from './rules.ts';
import { checkIntercept } from '../intercept/config.ts';
import {
  computeBudgets,
  resolveLimit,
  REAL_ROOTS,
  type Budgets,
  type CgroupRoots,
} from '../memory/policy.ts';

/** Environment variable → JSON pointer it overrides (docs/config.md, "Environment overrides"). */
export const ENV_OVERRIDES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['EDGEWAN_ROLE', ['role']],
  ['EDGEWAN_STATE_DIR', ['stateDir']],
  ['EDGEWAN_MEMORY_LIMIT', ['memory', 'limit']],
  ['EDGEWAN_ADMIN_LISTEN', ['admin', 'listen']],
  ['EDGEWAN_ADMIN_TOKEN', ['admin', 'token']],
  ['EDGEWAN_LOG_LEVEL', ['log', 'level']],
];

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** Check that stateDir is (or can be made) a writable directory. Default true. */
  checkStateDir?: boolean;
  /** cgroup/proc roots for memory.limit "auto" (tests fake them). */
  roots?: CgroupRoots;
  /** Read the files the config names (tunnel keys, PSK, dns.hostsFile). Default true. */
  checkFiles?: boolean;
}

export interface LoadResult extends LoadedConfig {
  readonly budgets: Budgets;
}

export function loadConfig(file: string | null, opts: LoadOptions = {}): LoadResult {
  const path = file === null ? null : resolve(file);
  let doc: unknown = {};
  if (path !== null) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new ConfigError(path, [
        {
          code: 'EDGEWAN_ERR_CONFIG_READ',
          pointer: '',
          message: `cannot read the config file (${err.code ?? err.message})`,
          allowed: 'an existing, readable JSON file; "edgewan print-config" shows the defaults to start from',
        },
      ]);
    }
    const scanned = scanJson(text); // duplicate keys, nesting depth: before JSON.parse can recurse
    if (scanned.some((p) => p.code === 'EDGEWAN_ERR_CONFIG_DEPTH')) throw new ConfigError(path, scanned);
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(path, [jsonSyntaxProblem(text, e as Error)]);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      throw new ConfigError(path, [
        {
          code: 'EDGEWAN_ERR_CONFIG_TYPE',
          pointer: '',
          message: 'the document is not a JSON object',
          value: doc,
          allowed: 'an object such as {"role": "edge"}',
        },
      ]);
    }
    if (scanned.length) throw new ConfigError(path, scanned);
  }
  return resolveDocument(doc as Record<string, unknown>, path, opts);
}

/** Same as loadConfig for an already-parsed document (tests, reload). `doc` is not modified. */
export function resolveDocument(
  input: Record<string, unknown>,
  path: string | null,
  opts: LoadOptions = {},
): LoadResult {
  const doc = structuredClone(input);
  const envApplied = applyEnv(doc, opts.env ?? {});
  const problems = validateDocument(doc).map((p) => withEnv(p, envApplied));
  if (problems.length) throw new ConfigError(path, problems);

  const sizes = checkSizes(doc);
  if (sizes.length)
    throw new ConfigError(
      path,
      sizes.map((p) => withEnv(p, envApplied)),
    );
  const config = normalize(doc);
  const semantic: ConfigProblem[] = [];
  checkAdmin(config, semantic);
  semantic.push(...checkRules(config, { checkFiles: opts.checkFiles }));
  semantic.push(...checkIntercept(config));
  if (opts.checkStateDir !== false) checkStateDir(config.stateDir, semantic);
  const limit = resolveLimit(config.memory.limit, opts.roots ?? REAL_ROOTS);
  const { budgets, problems: budgetProblems } = computeBudgets(limit, config.memory.split);
  semantic.push(...budgetProblems);
  if (semantic.length || !budgets)
    throw new ConfigError(
      path,
      semantic.map((p) => withEnv(p, envApplied)),
    );

  return deepFreeze({ config, document: doc, file: path, envApplied, budgets });
}

function applyEnv(doc: Record<string, unknown>, env: Record<string, string | undefined>): string[] {
  const applied: string[] = [];
  for (const [name, keys] of ENV_OVERRIDES) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let target = doc;
    for (const k of keys.slice(0, -1)) {
      if (typeof target[k] !== 'object' || target[k] === null) target[k] = {};
      target = target[k] as Record<string, unknown>;
    }
    // a limit given in plain digits is bytes, like in the file
    target[keys[keys.length - 1]] =
      name === 'EDGEWAN_MEMORY_LIMIT' && /^[0-9]+$/.test(raw) ? Number(raw) : raw;
    applied.push(name);
  }
  return applied;
}

function withEnv(p: ConfigProblem, applied: string[]): ConfigProblem {
  for (const [name, keys] of ENV_OVERRIDES) {
    if (applied.includes(name) && p.pointer === `/${keys.map(escapePointer).join('/')}`)
      return { ...p, env: name };
  }
  return p;
}

function normalize(doc: Record<string, unknown>): ResolvedConfig {
  const c = structuredClone(doc) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  if (c.memory.limit !== 'auto') c.memory.limit = parseSize(c.memory.limit);
  for (const k of Object.keys(c.memory.split)) {
    const v = c.memory.split[k];
    c.memory.split[k] = typeof v === 'number' ? v : parseSize(v);
  }
  c.caches.chunkDisk.maxSize = parseSize(c.caches.chunkDisk.maxSize);
  return c as ResolvedConfig;
}

/** Host part of host:port, brackets removed. */
export function hostOf(listen: string): string {
  const i = listen.lastIndexOf(':');
  return listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Sizes past 2^53 bytes lose their integer value (and no budget or disk is that big). */
function checkSizes(doc: Record<string, any>): ConfigProblem[] {
  // eslint-disable-line @typescript-eslint/no-explicit-any
  const out: ConfigProblem[] = [];
  const check = (pointer: string, v: unknown) => {
    if (v === 'auto' || (typeof v === 'number' && v <= 1)) return;
    const n = parseSize(v);
    if (n === undefined || !Number.isSafeInteger(n))
      out.push({
        code: 'EDGEWAN_ERR_CONFIG_SIZE',
        pointer,
        value: v,
        message: 'size too large to be exact',
        allowed: 'at most 2^53 - 1 bytes (memory.limit at most 1 TiB)',
      });
  };
  check('/memory/limit', doc.memory.limit);
  for (const k of Object.keys(doc.memory.split)) check(`/memory/split/${k}`, doc.memory.split[k]);
  check('/caches/chunkDisk/maxSize', doc.caches.chunkDisk.maxSize);
  return out;
}

function checkAdmin(c: ResolvedConfig, out: ConfigProblem[]): void {
  if (!isLoopback(hostOf(c.admin.listen)) && !c.admin.token) {
    out.push({
      code: 'EDGEWAN_ERR_CONFIG_ADMIN_TOKEN',
      pointer: '/admin/token',
      value: c.admin.token,
      message: `admin.listen ${c.admin.listen} is reachable beyond loopback but no token is set`,
      allowed:
        'a token of at least 16 characters (or EDGEWAN_ADMIN_TOKEN), or a loopback admin.listen such as 127.0.0.1:9617',
    });
  }
}

function checkStateDir(dir: string, out: ConfigProblem[]): void {
  // An existing dir must be writable; a missing one is created at start, so its nearest
  // existing ancestor must be a writable directory.
  let probe = resolve(dir);
  for (;;) {
    try {
      const st = statSync(probe);
      if (!st.isDirectory())
        throw Object.assign(new Error(`${probe} is not a directory`), { code: 'ENOTDIR' });
      accessSync(probe, constants.W_OK | constants.X_OK);
      return;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT' && dirname(probe) !== probe) {
        probe = dirname(probe);
        continue;
      }
      out.push({
        code: 'EDGEWAN_ERR_CONFIG_STATE_DIR',
        pointer: '/stateDir',
        value: dir,
        message: `state directory is not writable (${probe}: ${err.code ?? err.message})`,
        allowed: 'a directory the service user can write (e.g. /var/lib/edgewan, or /tmp/edgewan on OpenWRT)',
      });
      return;
    }
  }
}

export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v as object)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
