// Registry client unit tests: challenge parsing, Docker config auths, reference parsing, and
// the failure paths a real registry rarely shows on demand (5xx retries, a wrong digest
// answer, an unreachable host), against a small in-process registry on 127.0.0.1:0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerConfigCredentials, parseWwwAuthenticate } from '../../images/oci/auth.ts';
import { parseRef, push } from '../../images/oci/push.ts';
import { writeDirAtomic } from '../../targets/formats/atomic.ts';
import { blobPath, jsonBlob, blob, MT, descriptor } from '../../images/oci/blobs.ts';

test('oci push: WWW-Authenticate challenges parse', () => {
  assert.deepEqual(
    parseWwwAuthenticate('Bearer realm="https://a/token",service="reg",scope="repository:x/y:pull,push"'),
    [
      {
        scheme: 'bearer',
        params: { realm: 'https://a/token', service: 'reg', scope: 'repository:x/y:pull,push' },
      },
    ],
  );
  assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry Realm"'), [
    { scheme: 'basic', params: { realm: 'Registry Realm' } },
  ]);
});

test('oci push: Docker config.json auths give credentials', () => {
  const d = mkdtempSync(join(tmpdir(), 'oci-dc-'));
  const p = join(d, 'config.json');
  writeFileSync(
    p,
    JSON.stringify({
      auths: {
        'reg.example:5000': { auth: Buffer.from('u:p:w').toString('base64') },
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:x').toString('base64') },
      },
    }),
  );
  assert.deepEqual(dockerConfigCredentials('reg.example:5000', p), { username: 'u', password: 'p:w' });
  assert.deepEqual(dockerConfigCredentials('docker.io', p), { username: 'hub', password: 'x' });
  assert.equal(dockerConfigCredentials('other.example', p), undefined);
  rmSync(d, { recursive: true });
});

test('oci push: references need a registry and a valid repository', () => {
  assert.deepEqual(parseRef('127.0.0.1:5000/a/b:1.0.0-rc.1'), {
    registry: '127.0.0.1:5000',
    repository: 'a/b',
    tag: '1.0.0-rc.1',
  });
  assert.deepEqual(parseRef('reg.example/x'), { registry: 'reg.example', repository: 'x', tag: 'latest' });
  assert.throws(() => parseRef('edgewan:1.0'), /names no registry/);
  assert.throws(() => parseRef('reg.example/Upper:1'), /lower-case/);
});

/** A one-image layout with a config and one layer. */
function tinyLayout(dir: string): string {
  const layer = blob(MT.layerGzip, Buffer.from('not really gzip, the registry does not care'));
  const config = jsonBlob(MT.config, {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  });
  const manifest = jsonBlob(MT.manifest, {
    schemaVersion: 2,
    mediaType: MT.manifest,
    config: descriptor(config),
    layers: [descriptor(layer)],
  });
  const files = new Map<string, Buffer>([
    ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
    ['index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [descriptor(manifest)] }))],
    [blobPath(layer.digest), layer.data],
    [blobPath(config.digest), config.data],
    [blobPath(manifest.digest), manifest.data],
  ]);
  writeDirAtomic(join(dir, 'layout'), files);
  return join(dir, 'layout');
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;
async function fakeRegistry(h: Handler): Promise<{ host: string; close: () => Promise<void> }> {
  const s = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => h(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(s.address() as { port: number }).port}`,
    close: () => new Promise((r) => s.close(() => r())),
  };
}

test('oci push: retries 5xx with backoff, then succeeds; a wrong returned digest is an error', async () => {
  const d = mkdtempSync(join(tmpdir(), 'oci-fr-'));
  const layout = tinyLayout(d);
  let failures = 2;
  let lie = false;
  const stored = new Set<string>();
  const reg = await fakeRegistry((req, res, body) => {
    const u = new URL(req.url!, 'http://x');
    if (failures > 0) {
      failures--;
      res.writeHead(503).end();
      return;
    }
    if (req.method === 'HEAD') {
      res.writeHead(stored.has(u.pathname) ? 200 : 404).end();
      return;
    }
    if (req.method === 'POST') {
      res.writeHead(202, { location: '/v2/t/blobs/uploads/abc' }).end();
      return;
    }
    if (req.method === 'PUT') {
      const digest = u.searchParams.get('digest') ?? blob('x', body).digest;
      if (u.searchParams.get('digest')) stored.add(`/v2/t/blobs/${digest}`);
      else stored.add(u.pathname).add(`/v2/t/manifests/${digest}`);
      res.writeHead(201, { 'docker-content-digest': lie ? `sha256:${'0'.repeat(64)}` : digest }).end();
      return;
    }
    res.writeHead(400).end();
  });
  try {
    const r = await push({ layout, ref: `${reg.host}/t:1`, plainHttp: true, backoffMs: 1 });
    assert.equal(r.stats.blobsUploaded, 2);
    const again = await push({ layout, ref: `${reg.host}/t:1`, plainHttp: true, backoffMs: 1 });
    assert.equal(again.stats.blobsUploaded, 0);
    stored.clear();
    lie = true;
    await assert.rejects(
      push({ layout, ref: `${reg.host}/t:1`, plainHttp: true, backoffMs: 1 }),
      (e: Error & { code?: string }) =>
        e.code === 'EDGEWAN_ERR_PUSH_DIGEST' && /we sent sha256:/.test(e.message),
    );
  } finally {
    await reg.close();
    rmSync(d, { recursive: true });
  }
});

test('oci push: an unreachable registry and a missing layout fail clearly', async () => {
  const d = mkdtempSync(join(tmpdir(), 'oci-un-'));
  const layout = tinyLayout(d);
  const reg = await fakeRegistry((_q, res) => res.end());
  const host = reg.host;
  await reg.close();
  await assert.rejects(
    push({ layout, ref: `${host}/t:1`, plainHttp: true, retries: 1, backoffMs: 1 }),
    (e: Error & { code?: string }) => e.code === 'EDGEWAN_ERR_PUSH_UNREACHABLE' && e.message.includes(host),
  );
  await assert.rejects(push({ layout: join(d, 'nope'), ref: `${host}/t:1` }), /does not exist/);
  rmSync(d, { recursive: true });
});

test('oci push: command-line and environment options', async () => {
  const { parsePushArgs } = await import('../../images/oci/push-cli.ts');
  const o = parsePushArgs(
    ['--plain-http', '--username', 'u', '--chunk-size', '1024', 'reg.example/x:1'],
    { EDGEWAN_REGISTRY_PASSWORD: 'p', DOCKER_CONFIG: '/dc' },
    '/d/oci/layout',
  );
  assert.deepEqual(
    [o.ref, o.layout, o.plainHttp, o.chunkSize, o.credentials, o.dockerConfig],
    ['reg.example/x:1', '/d/oci/layout', true, 1024, { username: 'u', password: 'p' }, '/dc/config.json'],
  );
  const e = parsePushArgs(
    ['reg.example/x:1'],
    { EDGEWAN_PUSH_PLAIN_HTTP: '1', EDGEWAN_PUSH_MOUNT_FROM: 'a/b', EDGEWAN_PUSH_LAYOUT: '/l.oci.tar' },
    '/d',
  );
  assert.deepEqual(
    [e.plainHttp, e.mountFrom, e.layout, e.credentials],
    [true, 'a/b', '/l.oci.tar', undefined],
  );
  assert.throws(() => parsePushArgs(['--bogus', 'r.example/x'], {}, '/d'), /unknown option --bogus/);
  assert.throws(() => parsePushArgs([], {}, '/d'), /missing the target reference/);
  assert.throws(() => parsePushArgs(['--username', 'u', 'r.example/x'], {}, '/d'), /needs --password-stdin/);
});
