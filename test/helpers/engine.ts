// Running the engine as a real process in tests. engineCommand() is the argv prefix: the x64
// executable dist/bin/edgewan-linux-x64 when it exists (required with CI set — CI tests what
// ships), else the TypeScript source through tsx for local development. startEngine() writes a
// config with free ports and a temp state dir, starts `run`, and waits for /readyz.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
/** EDGEWAN_TEST_ENGINE_EXE points the tests at another build (e.g. one made with --out elsewhere). */
export const ENGINE_EXE = process.env.EDGEWAN_TEST_ENGINE_EXE || join(ROOT, 'dist/bin/edgewan-linux-x64');

export function engineCommand(): string[] {
  if (existsSync(ENGINE_EXE)) return [ENGINE_EXE];
  if (process.env.CI)
    throw new Error(`${ENGINE_EXE} is missing: CI tests the built executable (run "npm run build" first)`);
  return [process.execPath, '--import', 'tsx', join(ROOT, 'engine/src/main.ts')];
}

/** A fresh key pair dir made by the engine's own `keygen` (edge and core share it); its parent is a temp dir. */
export function tunnelKeys(prefix: string): string {
  const keys = join(mkdtempSync(join(tmpdir(), prefix)), 'keys');
  const [cmd, ...pre] = engineCommand();
  const r = spawnSync(cmd, [...pre, 'keygen', '--out', keys], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`edgewan keygen failed (exit ${r.status}): ${r.stderr}`);
  return keys;
}

/** Ports freePort() handed out in this process: the kernel may offer a just-closed port again. */
const handedOut = new Set<number>();

/**
 * A TCP port that was free a moment ago (the engine binds it right after), never one this
 * process was already given: two calls before either port is bound (a test's tunnel port,
 * then startEngine's admin port) got the same port once (EDGEWAN_ERR_CONFIG_LISTEN_CONFLICT).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

export function httpGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, headers, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export interface RunningEngine {
  proc: ChildProcess;
  port: number;
  configPath: string;
  dir: string;
  /** stdout + stderr so far (JSON log lines). */
  output(): string;
  /** Resolves with the exit code (or 128+signal). */
  exited: Promise<number>;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; body: string }>;
  stop(): Promise<number>;
}

export interface StartOptions {
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  /** Wait for /readyz = 200 (default true). */
  waitReady?: boolean;
  timeoutMs?: number;
}

/**
 * The temp dirs startEngine made, removed when the test process exits (tests may still read
 * an engine's state after stop(), so not earlier; each run used to leave them in /tmp).
 */
const tempDirs = new Set<string>();
process.once('exit', () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** Write a config (free admin port, temp state dir, 128 MiB limit unless given) and run it. */
export async function startEngine(opts: StartOptions = {}): Promise<RunningEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'ewB-engine-'));
  tempDirs.add(dir);
  const port = await freePort();
  const config = {
    stateDir: join(dir, 'state'),
    memory: { limit: '128MiB' },
    ...opts.config,
    admin: { listen: `127.0.0.1:${port}`, ...(opts.config?.admin as object | undefined) },
  };
  const configPath = join(dir, 'edgewan.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const [cmd, ...pre] = engineCommand();
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  // the tests' own EDGEWAN_* overrides must not leak into the engine unless asked for
  for (const k of Object.keys(env))
    if (k.startsWith('EDGEWAN_') && !(opts.env && k in opts.env)) delete env[k];
  const proc = spawn(cmd, [...pre, 'run', '--config', configPath], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  proc.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number>((resolve) =>
    proc.on('exit', (code, sig) => resolve(code ?? 128 + (sig === 'SIGKILL' ? 9 : 15))),
  );
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const eng: RunningEngine = {
    proc,
    port,
    configPath,
    dir,
    exited,
    output: () => out,
    get: (path, headers) => httpGet(port, path, headers),
    async stop() {
      if (!done) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  if (opts.waitReady !== false)
    await waitFor(
      eng,
      async () => (await eng.get('/readyz')).status === 200,
      '/readyz = 200',
      opts.timeoutMs,
    );
  return eng;
}

/** Poll until cond() is true; fails with the engine's output when it exits or times out. */
export async function waitFor(
  eng: RunningEngine,
  cond: () => Promise<boolean>,
  what: string,
  timeoutMs = 30000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  let exited = false;
  void eng.exited.then(() => {
    exited = true;
  });
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      /* not listening yet */
    }
    if (exited) throw new Error(`engine exited while waiting for ${what}:\n${eng.output()}`);
    if (Date.now() > end)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${eng.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
