// Helpers for the OCI tests: a real registry (Debian's docker-registry) on 127.0.0.1 with
// htpasswd (bcrypt, Basic) or token auth, a small Bearer-token issuer on loopback (ES256 JWTs
// with an x5c certificate the registry trusts), and a per-run podman configuration
// (docs/platform-notes.md §4: runc, cgroupfs, file events logger, ulimits, netns none, vfs storage).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as netServer } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = netServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface Registry {
  host: string;
  stop: () => Promise<void>;
  tokenRequests: () => number;
}

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Loopback token issuer: checks Basic credentials, grants what the scope asks. */
async function startTokenIssuer(
  dir: string,
  user: string,
  password: string,
  service: string,
): Promise<{ realm: string; cert: string; server: Server; count: () => number }> {
  const key = join(dir, 'token.key');
  const cert = join(dir, 'token.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=edgewan-test-token',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  const pk = createPrivateKey(readFileSync(key));
  const der = readFileSync(cert, 'utf8').replace(/-----[^-]+-----|\s/g, '');
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    const url = new URL(req.url ?? '/', 'http://x');
    const want = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    if (req.headers.authorization !== want) {
      res.writeHead(401).end('{"details":"bad credentials"}');
      return;
    }
    const access = url.searchParams.getAll('scope').map((s) => {
      const [type, name, actions] = s.split(':');
      return { type, name, actions: actions.split(',') };
    });
    const now = Math.floor(Date.now() / 1000);
    const head = b64u(JSON.stringify({ alg: 'ES256', typ: 'JWT', x5c: [der] }));
    const body = b64u(
      JSON.stringify({
        iss: 'edgewan-test',
        sub: user,
        aud: service,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      }),
    );
    const sig = sign('sha256', Buffer.from(`${head}.${body}`), { key: pk, dsaEncoding: 'ieee-p1363' });
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token: `${head}.${body}.${b64u(sig)}`, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    realm: `http://127.0.0.1:${(server.address() as { port: number }).port}/token`,
    cert,
    server,
    count: () => n,
  };
}

/** Start docker-registry on 127.0.0.1 with Basic (htpasswd bcrypt) or Bearer-token auth. */
export async function startRegistry(
  dir: string,
  auth: 'basic' | 'token',
  user = 'ci',
  password = 's3cret-pw',
): Promise<Registry> {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const port = await freePort();
  let authYaml: string;
  let issuer: Awaited<ReturnType<typeof startTokenIssuer>> | undefined;
  if (auth === 'basic') {
    const h = spawnSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' });
    if (h.status !== 0) throw new Error(`htpasswd: ${h.stderr}`);
    writeFileSync(join(dir, 'htpasswd'), h.stdout);
    authYaml = `auth:\n  htpasswd:\n    realm: edgewan-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else {
    issuer = await startTokenIssuer(dir, user, password, 'edgewan-registry');
    authYaml = `auth:\n  token:\n    realm: ${issuer.realm}\n    service: edgewan-registry\n    issuer: edgewan-test\n    rootcertbundle: ${issuer.cert}\n`;
  }
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n${authYaml}`,
  );
  const proc: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => {
    stderr += d;
  });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`http://${host}/v2/`);
      if (r.status === 401 || r.status === 200) break;
    } catch {
      /* not up yet */
    }
    if (i > 100 || proc.exitCode !== null) throw new Error(`docker-registry did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    tokenRequests: () => issuer?.count() ?? 0,
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
      if (issuer) await new Promise((r) => issuer!.server.close(r));
    },
  };
}

/** Env for podman with a private config and storage under dir (docs/platform-notes.md §4). */
export function podmanEnv(dir: string): NodeJS.ProcessEnv {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'containers.conf'),
    `[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\nnetns = "none"\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "${join(dir, 'events.log')}"\n`,
  );
  writeFileSync(
    join(dir, 'storage.conf'),
    `[storage]\ndriver = "vfs"\nrunroot = "${join(dir, 'run')}"\ngraphroot = "${join(dir, 'graph')}"\n`,
  );
  return {
    ...process.env,
    CONTAINERS_CONF: join(dir, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
    TMPDIR: dir,
  };
}

/** The dist/ the tests read (EDGEWAN_TEST_DIST overrides, for a build into another dir). */
export function distDir(): string {
  return process.env.EDGEWAN_TEST_DIST ?? join(import.meta.dirname, '..', '..', 'dist');
}

export interface OciArtifacts {
  layout: string;
  archive: string;
  docker: Record<string, string>;
  indexSha: string;
  version: string;
}

/** The OCI entries of dist/artifacts.json, as absolute paths; throws when the build wrote none. */
export function ociArtifacts(): OciArtifacts {
  const dist = distDir();
  const list = JSON.parse(readFileSync(join(dist, 'artifacts.json'), 'utf8')) as {
    type: string;
    path: string;
    platform?: string;
    sha256: string;
  }[];
  const layout = list.find((a) => a.type === 'oci-layout');
  const archive = list.find((a) => a.type === 'oci-archive');
  if (!layout || !archive)
    throw new Error(`${dist}/artifacts.json lists no OCI layout/archive: run the build with the oci target`);
  const docker = Object.fromEntries(
    list.filter((a) => a.type === 'docker-archive').map((a) => [a.platform!, join(dist, a.path)]),
  );
  const version = /-(\d[^/]*)\.oci\.tar$/.exec(archive.path)![1];
  return {
    layout: join(dist, layout.path),
    archive: join(dist, archive.path),
    docker,
    indexSha: layout.sha256,
    version,
  };
}

export function run(
  cmd: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
  input?: string,
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: env ?? process.env,
    input,
    maxBuffer: 64 << 20,
    timeout: 300_000,
  });
  return {
    code: r.status ?? -1,
    stdout: r.stdout ?? '',
    stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`,
  };
}

export function mustRun(cmd: string, args: string[], env?: NodeJS.ProcessEnv, input?: string): string {
  const r = run(cmd, args, env, input);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

/** Like mustRun, without blocking the event loop (needed while an in-process server must answer). */
export function mustRunAsync(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => {
      out += d;
    });
    p.stderr!.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 300_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
    });
  });
}
