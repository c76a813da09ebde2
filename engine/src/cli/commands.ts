// The small commands: check-config, print-config, print-schema, healthcheck, keygen. Each
// returns an exit code (0, 1 for a failed healthcheck, 78 for invalid configuration) and
// writes human output to stdout, problems to stderr — never a stack trace.
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { CONFIG_SCHEMA, ConfigError, formatBytes, hostOf, loadConfig } from '../config/index.ts';
import { keygen } from './keygen.ts';

export const DEFAULT_CONFIG_PATH = '/etc/edgewan/edgewan.json';

function configFailure(e: unknown): number {
  if (e instanceof ConfigError) {
    process.stderr.write(e.format());
    return 78;
  }
  throw e;
}

export function checkConfig(file: string, env: NodeJS.ProcessEnv): number {
  try {
    const r = loadConfig(file, { env });
    const b = r.budgets;
    process.stdout.write(
      `ok: ${r.file} (role ${r.config.role}, memory limit ${formatBytes(b.limitBytes)} from ${b.limitSource}, heap cap ${b.heapCapMiB} MiB, admin ${r.config.admin.listen}${r.envApplied.length ? `, overridden by ${r.envApplied.join(' ')}` : ''})\n`,
    );
    return 0;
  } catch (e) {
    return configFailure(e);
  }
}

export function printConfig(file: string, env: NodeJS.ProcessEnv): number {
  try {
    const r = loadConfig(file, { env, checkStateDir: false, checkFiles: false });
    process.stdout.write(`${JSON.stringify(r.document, null, 2)}\n`);
    return 0;
  } catch (e) {
    return configFailure(e);
  }
}

export function printSchema(): number {
  process.stdout.write(`${JSON.stringify(CONFIG_SCHEMA, null, 2)}\n`);
  return 0;
}

/** Exit 0 iff /readyz answers 200. A wildcard listen address is dialled on 127.0.0.1. */
export async function healthcheck(file: string | undefined, env: NodeJS.ProcessEnv): Promise<number> {
  const path = file ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : null);
  let listen: string;
  try {
    listen = loadConfig(path, { env, checkStateDir: false, checkFiles: false }).config.admin.listen;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(e.format());
      return 1;
    }
    throw e;
  }
  let host = hostOf(listen);
  if (host === '0.0.0.0' || host === '::' || host === '') host = '127.0.0.1';
  const port = Number(listen.slice(listen.lastIndexOf(':') + 1));
  const status = await new Promise<number | string>((resolve) => {
    const req = request({ host, port, path: '/readyz', method: 'GET', timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => {
      req.destroy();
      resolve('timeout after 3 s');
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/readyz`;
  if (status === 200) {
    process.stdout.write(`healthy: ${url} answered 200\n`);
    return 0;
  }
  process.stderr.write(
    `unhealthy: ${url} ${typeof status === 'number' ? `answered ${status}` : `failed: ${status}`}\n`,
  );
  return 1;
}

export async function keygenCommand(out: string): Promise<number> {
  const r = await keygen(out);
  process.stdout.write(r.out);
  process.stderr.write(r.err);
  return r.code;
}
