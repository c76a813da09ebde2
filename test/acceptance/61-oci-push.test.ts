// Push into Debian's docker-registry on 127.0.0.1, with htpasswd (bcrypt, Basic) auth and
// with Bearer tokens from a loopback issuer: the first push uploads (large layers in PATCH
// chunks), the second uploads nothing, a second repository gets its blobs by cross-repo
// mount, skopeo copies the image back with the same digests, and wrong credentials fail
// with a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needTool } from '../helpers/tools.ts';
import { mustRunAsync, ociArtifacts, startRegistry } from '../helpers/oci.ts';
import { push } from '../../images/oci/push.ts';

const creds = { username: 'ci', password: 's3cret-pw' };

for (const auth of ['basic', 'token'] as const) {
  test(`oci push (${auth} auth): upload, idempotent re-push, mount, skopeo round-trip, wrong credentials`, async (t) => {
    if (
      !needTool(t, 'docker-registry') ||
      !needTool(t, 'skopeo') ||
      !needTool(t, 'htpasswd', 'apache2-utils') ||
      !needTool(t, 'openssl')
    )
      return;
    const a = ociArtifacts();
    const dir = mkdtempSync(join(tmpdir(), `oci-push-${auth}-`));
    const reg = await startRegistry(dir, auth, creds.username, creds.password);
    try {
      const ref = `${reg.host}/edge/edgewan:${a.version}`;
      const layout = auth === 'basic' ? a.layout : a.archive; // both inputs the pusher accepts
      const first = await push({ layout, ref, plainHttp: true, credentials: creds, chunkSize: 8 << 20 });
      const top = JSON.parse(readFileSync(join(a.layout, 'index.json'), 'utf8'));
      assert.equal(first.digest, top.manifests[0].digest);
      assert.equal(first.stats.blobsUploaded, 9, '3 platforms × (config + 2 layers)');
      assert.equal(first.stats.manifestsPut, 4, '3 manifests + the index');
      const second = await push({ layout, ref, plainHttp: true, credentials: creds });
      assert.equal(second.stats.blobsUploaded, 0);
      assert.equal(second.stats.bytesUploaded, 0);
      assert.equal(second.stats.manifestsPut, 0);
      const mounted = await push({
        layout,
        ref: `${reg.host}/other/edgewan:${a.version}`,
        plainHttp: true,
        credentials: creds,
        mountFrom: 'edge/edgewan',
      });
      assert.equal(mounted.stats.blobsMounted, 9);
      assert.equal(mounted.stats.bytesUploaded, 0);
      if (auth === 'token') assert.ok(reg.tokenRequests() > 0, 'the token issuer was used');

      const c = `--creds=${creds.username}:${creds.password}`;
      const raw = await mustRunAsync('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        c,
        `docker://${ref}`,
      ]);
      assert.deepEqual(
        JSON.parse(raw),
        JSON.parse(readFileSync(join(a.layout, 'blobs/sha256', first.digest.slice(7)), 'utf8')),
      );
      const back = join(dir, 'back');
      await mustRunAsync('skopeo', [
        'copy',
        '-q',
        '--all',
        '--src-tls-verify=false',
        `--src-creds=${creds.username}:${creds.password}`,
        `docker://${ref}`,
        `oci:${back}:x`,
      ]);
      const backIdx = JSON.parse(readFileSync(join(back, 'index.json'), 'utf8'));
      assert.equal(backIdx.manifests[0].digest, first.digest, 'skopeo copy keeps the index digest');

      await assert.rejects(
        push({ layout, ref, plainHttp: true, credentials: { username: 'ci', password: 'wrong' } }),
        (e: Error & { code?: string }) =>
          e.code === 'EDGEWAN_ERR_PUSH_AUTH' && /refused/.test(e.message) && e.message.includes('"ci"'),
      );
      await assert.rejects(
        mustRunAsync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]),
        /exited/,
        'the registry really requires auth',
      );
    } finally {
      await reg.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
