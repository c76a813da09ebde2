// A fleet in real processes (issue 16): one core and enrolled edges, every credential made by
// the engine's own `ca init`, `enroll`, `keygen --csr` and `ca sign`. Shows: streams routed by
// edge name (forwards[].edge and the SOCKS username), a stream for an edge that is not linked
// refused at once; a revoked edge cut off while another edge's transfer continues exactly
// (SHA-256 at the sink) and kept out; and each bad input refused with a log line and a counter
// while the core keeps serving: a certificate from another CA, expired, not yet valid, a
// duplicate live name, a malformed revocation list (last good list kept), a request with a bad
// name. Run against the x64 executable with EDGEWAN_TEST_ENGINE_EXE (docs/fleet.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineCommand, freePort, startEngine, waitFor, type RunningEngine } from '../helpers/engine.ts';
import { issue, newKey } from '../../engine/src/tunnel/fleet/pki.ts';
import { certPin, der, seq, name as cnName, ECDSA_SHA256, pem } from '../../engine/src/tunnel/credentials.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const [cmd, ...pre] = engineCommand();
  return spawnSync(cmd, [...pre, ...args], { encoding: 'utf8' });
}

function must(...args: string[]): string {
  const r = cli(...args);
  assert.equal(r.status, 0, `edgewan ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

async function server(onConn: (s: net.Socket) => void): Promise<{ port: number; close(): void }> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    socks.add(s);
    s.on('close', () => socks.delete(s));
    s.on('error', () => {});
    onConn(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () => {
      for (const s of socks) s.destroy();
      srv.close();
    },
  };
}

/** Send `data` in slices with pauses (a transfer that lasts), collect what comes back. */
function transfer(
  port: number,
  data: Buffer,
  slice = 0,
  pauseMs = 0,
): Promise<{ bytes: Buffer; clean: boolean; closedAt: number; error: string | null }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let clean = false;
    let error: string | null = null;
    s.on('data', (d) => got.push(d));
    s.on('end', () => {
      clean = true;
    });
    s.on('error', (e) => {
      error = e.message;
    });
    s.on('close', () => resolve({ bytes: Buffer.concat(got), clean, closedAt: Date.now(), error }));
    s.setTimeout(90_000, () => s.destroy());
    if (!slice) {
      s.end(data);
      return;
    }
    let off = 0;
    const next = () => {
      if (s.destroyed) return;
      if (off >= data.length) {
        s.end();
        return;
      }
      const part = data.subarray(off, off + slice);
      off += slice;
      s.write(part, () => setTimeout(next, pauseMs));
    };
    s.on('connect', next);
  });
}

/** A SOCKS5 CONNECT with username/password (RFC 1929); resolves with the reply code. */
function socksConnect(
  port: number,
  user: string,
  target: { host: string; port: number },
): Promise<{ rep: number; sock: net.Socket }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let stage = 0;
    s.on('error', reject);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        assert.deepEqual([...buf.subarray(0, 2)], [5, 2]);
        buf = buf.subarray(2);
        stage = 1;
        s.write(Buffer.concat([Buffer.from([1, user.length]), Buffer.from(user), Buffer.from([1, 0x78])]));
      }
      if (stage === 1 && buf.length >= 2) {
        assert.deepEqual([...buf.subarray(0, 2)], [1, 0]);
        buf = buf.subarray(2);
        stage = 2;
        const p = Buffer.alloc(2);
        p.writeUInt16BE(target.port);
        s.write(Buffer.concat([Buffer.from([5, 1, 0, 1, 127, 0, 0, 1]), p]));
      }
      if (stage === 2 && buf.length >= 10) {
        stage = 3;
        s.removeAllListeners('data');
        const rest = buf.subarray(10);
        if (rest.length) s.unshift(rest);
        resolve({ rep: buf[1], sock: s });
      }
    });
    s.on('connect', () => s.write(Buffer.from([5, 1, 2])));
  });
}

async function status(e: RunningEngine): Promise<{
  edges: Array<Record<string, any>>;
  rejected: Record<string, number>;
  cut: Record<string, number>;
  revocation: Record<string, any>;
}> {
  // eslint-disable-line @typescript-eslint/no-explicit-any
  const s = JSON.parse((await e.get('/status')).body);
  return s.components.find((c: { name: string }) => c.name === 'tunnel').status.fleet;
}

const edgeOf = async (core: RunningEngine, name: string) =>
  (await status(core)).edges.find((x) => x.name === name);
const lines = (e: RunningEngine, msg: string) =>
  e
    .output()
    .split('\n')
    .filter((l) => l.includes(`"${msg}"`));

test(
  'fleet: enrolled edges route by name; revocation cuts one edge while another transfer stays exact; bad inputs refused',
  { timeout: 300_000 },
  async () => {
    const root = mkdtempSync(join(tmpdir(), 'ewF-it-'));
    const caDir = join(root, 'ca');
    must('ca', 'init', '--out', caDir);
    must('enroll', 'branch-a', '--ca', caDir, '--out', join(root, 'a'));
    // branch-b the production way: key and request on the edge, signature on the core
    must('keygen', '--csr', 'branch-b', '--out', join(root, 'b'));
    must('ca', 'sign', '--ca', caDir, '--csr', join(root, 'b', 'edge.csr'), '--name', 'branch-b');
    cpSync(join(caDir, 'ca.crt'), join(root, 'b', 'ca.crt'));

    // a request with a bad name: keygen refuses to make it, ca sign refuses a hand-made one
    const bad1 = cli('keygen', '--csr', 'Branch_C', '--out', join(root, 'c'));
    assert.equal(bad1.status, 65);
    assert.match(bad1.stderr, /bad edge name: "Branch_C" has upper-case letters/);
    const k = newKey();
    const info = seq(
      der(0x02, Buffer.from([0])),
      cnName('evil.example.com'),
      k.publicKey.export({ type: 'spki', format: 'der' }),
      der(0xa0, Buffer.alloc(0)),
    );
    writeFileSync(
      join(root, 'evil.csr'),
      pem(
        'CERTIFICATE REQUEST',
        seq(
          info,
          ECDSA_SHA256,
          der(0x03, Buffer.concat([Buffer.from([0]), sign('sha256', info, k.privateKey)])),
        ),
      ),
    );
    const bad2 = cli('ca', 'sign', '--ca', caDir, '--csr', join(root, 'evil.csr'));
    assert.equal(bad2.status, 65);
    assert.match(bad2.stderr, /bad edge name in the request: "evil\.example\.com" may only hold/);
    assert.doesNotMatch(bad1.stderr + bad2.stderr, /\n\s+at /, 'no stack trace');

    const echo = await server((s) => s.pipe(s));
    const sinkGot: Buffer[] = [];
    let sinkEnded: (() => void) | null = null;
    const sinkDone = new Promise<void>((r) => {
      sinkEnded = r;
    });
    const sink = await server((s) => {
      s.on('data', (d) => sinkGot.push(d));
      s.on('end', () => {
        s.end();
        sinkEnded!();
      });
    });
    const tun = await freePort();
    const fwdA = await freePort();
    const fwdB = await freePort();
    const fwdBsink = await freePort();
    const fwdZ = await freePort();
    const socks = await freePort();
    const revoked = join(caDir, 'revoked.txt');
    const core = await startEngine({
      config: {
        role: 'core',
        tunnel: { listen: `127.0.0.1:${tun}`, auth: { keyDir: caDir, ca: join(caDir, 'ca.crt'), revoked } },
        forwards: [
          {
            listen: `127.0.0.1:${fwdA}`,
            target: `127.0.0.1:${echo.port}`,
            direction: 'core-to-edge',
            edge: 'branch-a',
          },
          {
            listen: `127.0.0.1:${fwdB}`,
            target: `127.0.0.1:${echo.port}`,
            direction: 'core-to-edge',
            edge: 'branch-b',
          },
          {
            listen: `127.0.0.1:${fwdBsink}`,
            target: `127.0.0.1:${sink.port}`,
            direction: 'core-to-edge',
            edge: 'branch-b',
          },
          {
            listen: `127.0.0.1:${fwdZ}`,
            target: `127.0.0.1:${echo.port}`,
            direction: 'core-to-edge',
            edge: 'branch-z',
          },
        ],
        socks: { listen: `127.0.0.1:${socks}` },
      },
    });
    const edgeCfg = (auth: object) => ({
      role: 'edge',
      supervisor: { backoffMs: { initial: 100, max: 1000 } },
      tunnel: { connect: `127.0.0.1:${tun}`, auth },
    });
    const fleetEdge = (dir: string) => edgeCfg({ keyDir: dir, ca: join(dir, 'ca.crt') });
    const started: RunningEngine[] = [];
    const start = async (cfg: object) => {
      const e = await startEngine({ config: cfg as Record<string, unknown> });
      started.push(e);
      return e;
    };
    try {
      const a = await start(fleetEdge(join(root, 'a')));
      const b = await start(fleetEdge(join(root, 'b')));
      await waitFor(
        core,
        async () => (await status(core)).edges.filter((e) => e.connected).length === 2,
        'two edges linked',
      );

      // ---- routing by name -------------------------------------------------------------------
      const small = randomBytes(200_000);
      const rA = await transfer(fwdA, small);
      assert.ok(rA.clean);
      assert.equal(sha(rA.bytes), sha(small));
      const ea = await edgeOf(core, 'branch-a');
      const eb = await edgeOf(core, 'branch-b');
      assert.equal(ea!.streamsOpened, 1);
      assert.equal(eb!.streamsOpened, 0, 'the stream for branch-a went to branch-a only');
      assert.ok(ea!.appTxBytes >= small.length && eb!.appTxBytes === 0);
      const viaSocks = await socksConnect(socks, 'branch-b', { host: '127.0.0.1', port: echo.port });
      assert.equal(viaSocks.rep, 0);
      const echoed = await new Promise<Buffer>((r) => {
        const got: Buffer[] = [];
        viaSocks.sock.on('data', (d) => got.push(d));
        viaSocks.sock.on('end', () => r(Buffer.concat(got)));
        viaSocks.sock.end(small);
      });
      assert.equal(sha(echoed), sha(small));
      assert.equal((await edgeOf(core, 'branch-b'))!.streamsOpened, 1, 'the SOCKS username picked branch-b');
      // an edge that is not linked: refused at once, with the reason in the log and SOCKS reply 3
      const t0 = Date.now();
      const rZ = await transfer(fwdZ, small);
      assert.ok(!rZ.clean && rZ.bytes.length === 0);
      const zS = await socksConnect(socks, 'branch-z', { host: '127.0.0.1', port: echo.port });
      assert.equal(zS.rep, 3);
      zS.sock.destroy();
      const refusedMs = Date.now() - t0;
      await waitFor(
        core,
        async () =>
          lines(core, 'connection through the tunnel refused').some((l) =>
            /edge \\"branch-z\\" is not connected \(connected: branch-a, branch-b\)/.test(l),
          ),
        'EDGE_DOWN log line',
      );

      // ---- per-edge metrics ------------------------------------------------------------------
      const m = (await core.get('/metrics')).body;
      assert.match(m, /^edgewan_tunnel_app_bytes_total\{direction="tx",edge="branch-a"\} [1-9]/m);
      assert.match(m, /^edgewan_tunnel_link_bytes_total\{direction="rx",edge="branch-b"\} [1-9]/m);
      assert.match(m, /^edgewan_tunnel_edge_up\{edge="branch-a"\} 1$/m);
      assert.doesNotMatch(
        m,
        /^edgewan_tunnel_app_bytes_total\{direction="tx"\}/m,
        'a fleet core labels the traffic series by edge',
      );

      // ---- revocation while both edges carry a transfer --------------------------------------
      const bulk = randomBytes(24 << 20);
      const bTransfer = transfer(fwdBsink, bulk, 256 << 10, 25); // ~96 slices, some seconds long
      const aStream = transfer(fwdA, randomBytes(64 << 20), 64 << 10, 20); // long-lived stream through branch-a
      await waitFor(
        core,
        async () =>
          sinkGot.reduce((n, x) => n + x.length, 0) > 4 << 20 &&
          ((await edgeOf(core, 'branch-a'))!.streams ?? 0) > 0,
        'both transfers under way',
      );
      writeFileSync(`${revoked}.new`, '# revoked during the test\nbranch-a\n');
      const revokedAt = Date.now();
      renameSync(`${revoked}.new`, revoked); // atomic replace, as an editor or a config tool does
      const aCut = await aStream;
      const cutMs = aCut.closedAt - revokedAt;
      assert.ok(!aCut.clean, "the revoked edge's stream was reset, not ended cleanly");
      assert.ok(cutMs < 5000, `revoked edge cut after ${cutMs} ms`);
      await waitFor(
        core,
        async () =>
          lines(core, 'tunnel edge cut off').some((l) => l.includes('"branch-a"') && l.includes('"revoked"')),
        'cut log line',
      );
      const rB = await bTransfer;
      await sinkDone;
      assert.ok(rB.error === null, `branch-b's transfer failed: ${rB.error}`);
      const sinkBytes = Buffer.concat(sinkGot);
      assert.equal(sinkBytes.length, bulk.length);
      assert.equal(sha(sinkBytes), sha(bulk), "branch-b's transfer arrived exactly at the sink");
      // branch-a keeps retrying (backoff 100 ms - 1 s) and is refused every time
      await waitFor(
        core,
        async () => ((await status(core)).rejected.revoked ?? 0) >= 2,
        'revoked edge refused on reconnect',
      );
      assert.equal((await edgeOf(core, 'branch-a'))!.connected, false);
      assert.match(
        (await core.get('/metrics')).body,
        /^edgewan_tunnel_edges_cut_total\{reason="revoked"\} 1$/m,
      );
      assert.ok(
        lines(core, 'tunnel edge refused').some((l) => l.includes('"revoked"') && l.includes('branch-a')),
      );

      // ---- bad inputs, each refused while branch-b keeps working -----------------------------
      const stillB = async () => {
        const r = await transfer(fwdB, small);
        assert.ok(r.clean && sha(r.bytes) === sha(small), 'branch-b still served');
      };
      // a malformed list: the last good one (branch-a revoked) stays in force, logged and counted
      writeFileSync(revoked, 'branch-a\nthis is not a name\n');
      await waitFor(core, async () => (await status(core)).revocation.errors >= 1, 'malformed list counted');
      core.proc.kill('SIGHUP'); // SIGHUP re-reads it too (and the config reload is rejected)
      await waitFor(
        core,
        async () => (await status(core)).revocation.errors >= 2,
        'malformed list counted on SIGHUP',
      );
      assert.ok(
        lines(core, 'revocation list rejected; the last good list stays in force').some((l) =>
          /line 2: neither an edge name nor serial:HEX/.test(l),
        ),
      );
      const rejBefore = (await status(core)).rejected.revoked;
      await waitFor(
        core,
        async () => (await status(core)).rejected.revoked > rejBefore,
        'branch-a still refused under the last good list',
      );
      assert.equal((await status(core)).revocation.entries, 1);
      await stillB();

      // a certificate from another fleet's CA (the edge pins our core, so only the core can refuse it)
      const otherCa = join(root, 'other-ca');
      must('ca', 'init', '--out', otherCa);
      must('enroll', 'branch-x', '--ca', otherCa, '--out', join(root, 'x'));
      const corePin = certPin(readFileSync(join(caDir, 'core.crt')));
      const pinnedEdge = (dir: string) => edgeCfg({ keyDir: dir, pin: corePin });
      await start(pinnedEdge(join(root, 'x')));
      // expired and not-yet-valid certificates signed by our CA
      const caKey = createPrivateKey(readFileSync(join(caDir, 'ca.key')));
      const caName = /CN=([^\n]*)/.exec(new X509Certificate(readFileSync(join(caDir, 'ca.crt'))).subject)![1];
      const odd = (dir: string, nameS: string, nb: Date, na: Date) => {
        const kk = newKey();
        cpSync(join(caDir, 'ca.crt'), join(dir, 'ca.crt'), { force: true });
        writeFileSync(join(dir, 'edge.key'), kk.pem, { mode: 0o600 });
        writeFileSync(
          join(dir, 'edge.crt'),
          issue({
            subject: nameS,
            publicKey: kk.publicKey,
            issuer: { name: caName, key: caKey },
            kind: 'edge',
            notBefore: nb,
            notAfter: na,
          }),
        );
        return dir;
      };
      const day = 86400_000;
      await start(
        pinnedEdge(
          odd(
            mkdtempSync(join(root, 'exp-')),
            'branch-old',
            new Date(Date.now() - 10 * day),
            new Date(Date.now() - day),
          ),
        ),
      );
      await start(
        pinnedEdge(
          odd(
            mkdtempSync(join(root, 'fut-')),
            'branch-new',
            new Date(Date.now() + day),
            new Date(Date.now() + 10 * day),
          ),
        ),
      );
      // a second live edge presenting branch-b's name (a copy of its key dir)
      const dup = join(root, 'b-copy');
      cpSync(join(root, 'b'), dup, { recursive: true });
      await start(fleetEdge(dup));
      await waitFor(
        core,
        async () => {
          const r = (await status(core)).rejected;
          return (
            r['foreign-ca'] >= 1 && r.expired >= 1 && r['not-yet-valid'] >= 1 && r['duplicate-name'] >= 1
          );
        },
        'each bad edge refused',
      );
      const refusedLines = lines(core, 'tunnel edge refused');
      for (const [reason, what] of [
        ['foreign-ca', /not signed by the fleet CA/],
        ['expired', /expired at/],
        ['not-yet-valid', /not valid before/],
        ['duplicate-name', /edge \\"branch-b\\" is already linked from/],
      ] as const) {
        assert.ok(
          refusedLines.some((l) => l.includes(`"reason":"${reason}"`) && what.test(l)),
          `a log line for ${reason}`,
        );
      }
      const metrics = (await core.get('/metrics')).body;
      for (const reason of ['foreign-ca', 'expired', 'not-yet-valid', 'duplicate-name', 'revoked'])
        assert.match(
          metrics,
          new RegExp(`^edgewan_tunnel_edges_rejected_total\\{reason="${reason}"\\} [1-9]`, 'm'),
        );
      assert.match(metrics, /^edgewan_tunnel_revocation_list_errors_total [2-9]/m);
      // the live branch-b answered the stale-link probe and kept its link
      await new Promise((r) => setTimeout(r, 3500));
      const bNow = await edgeOf(core, 'branch-b');
      assert.equal(bNow!.connected, true);
      assert.equal(bNow!.links, 1, 'branch-b was never cut');
      await stillB();
      assert.equal(core.proc.exitCode, null, 'the core kept running');
      process.stdout.write(
        `# measured: revoked edge's stream closed ${cutMs} ms after the list was replaced; unlinked edge refused in ${refusedMs} ms (forward + SOCKS)\n`,
      );
    } finally {
      echo.close();
      sink.close();
      for (const e of started) await e.stop();
      await core.stop();
      rmSync(root, { recursive: true, force: true });
    }
  },
);
