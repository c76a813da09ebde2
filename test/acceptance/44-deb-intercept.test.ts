// Transparent interception on Debian, the way docs/intercept.md documents it, with the real
// package, systemd, nftables and conntrack: the bookworm amd64 systemd root
// (test/helpers/systemd-box.ts) is booted in podman with CAP_NET_ADMIN inside the router
// namespace of the branch topology (test/helpers/netns.ts branchNet: client — router — wan —
// dc, every address inside namespaces made here), our amd64 .deb is installed from our signed
// repo with apt, and interception is enabled as an admin would: the intercept section in
// /etc/<name>/<name>.json and the shipped CAP_NET_ADMIN drop-in linked. No core is reachable
// (the tunnel stays down), so fail-open dials the dc's real HTTP server (python3 -m
// http.server, which logs each request's peer: the router's wan address 10.77.2.1 when the
// engine dialled it, the client's 10.77.1.2 when it went directly). The client runs curl
// against the server's own address, unaware of edgewan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needRoot, needTool } from '../helpers/tools.ts';
import { branchNet, Netns } from '../helpers/netns.ts';
import { bootSystemdBox, type SystemdBox } from '../helpers/systemd-box.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SERVER = '10.77.3.2';
const ROUTER_WAN = '10.77.2.1';
const CLIENT = '10.77.1.2';
// 8000: the HTTP server; 8001: nothing listens (refused); 8002: dropped in the dc (black hole)
const PORTS = { http: 8000, refused: 8001, blackhole: 8002 };
const SIZE = 2 << 20;

test(
  'transparent interception from the installed .deb: fail-open dial, resets, stop/kill/purge, fail-closed (systemd in podman, real nftables)',
  { timeout: 10 * 60_000 },
  async (t) => {
    if (!needRoot(t) || !needTool(t, 'podman') || !needTool(t, 'runc') || !needTool(t, 'mmdebstrap')) return;
    if (!needTool(t, 'ip', 'iproute2') || !needTool(t, 'nft', 'nftables') || !needTool(t, 'curl')) return;
    if (!needTool(t, 'python3')) return;
    const n = new Netns(`ewj${process.pid % 100000}`);
    const dir = mkdtempSync(join(tmpdir(), 'ewE-intercept-'));
    let box: SystemdBox | undefined;
    try {
      branchNet(n);
      const blob = randomBytes(SIZE);
      writeFileSync(join(dir, 'blob'), blob);
      const server = n.spawn('d', [
        'python3',
        '-u',
        '-m',
        'http.server',
        String(PORTS.http),
        '--bind',
        SERVER,
        '--directory',
        dir,
      ]);
      let serverLog = '';
      server.stderr!.on('data', (d) => {
        serverLog += d;
      });
      /** peer addresses of the GET /blob requests, in order */
      const peers = () => [...serverLog.matchAll(/^(\S+) - - \[[^\]]*\] "GET \/blob /gm)].map((m) => m[1]);
      // the black hole: the dc drops SYNs to this port (a destination that never answers)
      n.run(
        'd',
        ['nft', '-f', '-'],
        `table inet ewblack {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport ${PORTS.blackhole} drop\n }\n}\n`,
      );

      box = await bootSystemdBox('ewE-intercept', [
        '--cap-add',
        'NET_ADMIN',
        '--network',
        `ns:/run/netns/${n.name('r')}`,
      ]);
      const { name, exec, must } = box;
      const b = box;
      const unit = `${name}.service`;
      const table = () => n.run('r', ['nft', 'list', 'table', 'inet', name]);
      const curl = (port: number, maxS = 30) => {
        const out = join(dir, 'got');
        rmSync(out, { force: true });
        const t0 = Date.now();
        const r = n.run('c', [
          'curl',
          '-sS',
          '--max-time',
          String(maxS),
          '-o',
          out,
          `http://${SERVER}:${port}/blob`,
        ]);
        const ms = Date.now() - t0;
        return { code: r.code, err: r.err, ms, sha: r.code === 0 ? sha(readFileSync(out)) : '' };
      };
      /** a download of the blob; resolves with the peer the server saw (its log arrives on this event loop) */
      const download = async () => {
        const seen = peers().length;
        const r = curl(PORTS.http);
        for (let i = 0; i < 50 && peers().length === seen; i++) await sleep(20);
        return { ...r, peer: peers().length > seen ? peers().at(-1) : undefined };
      };
      const admin = (path: string) =>
        n.run('r', ['curl', '-sf', '--max-time', '5', `http://127.0.0.1:9617${path}`]);
      /** the intercept component of /status (state + its status fields); undefined while down */
      const intercept = ():
        | {
            state: string;
            path?: string;
            bypassed?: number;
            failed?: Record<string, number>;
            lastError?: string;
          }
        | undefined => {
        const r = admin('/status');
        if (r.code !== 0) return undefined;
        const s = JSON.parse(r.out) as { components: Array<{ name: string; state: string; status: object }> };
        const c = s.components.find((x) => x.name === 'intercept');
        return c && { state: c.state, ...c.status };
      };
      const until = async (what: string, cond: () => boolean, ms = 30_000) => {
        for (const end = Date.now() + ms; Date.now() < end; await sleep(250)) {
          try {
            if (cond()) return;
          } catch {
            /* not up yet */
          }
        }
        assert.fail(
          `timed out (${ms} ms) waiting for ${what}\nintercept: ${JSON.stringify(intercept())}\n${b.journal()}`,
        );
      };
      const configure = (failClosed: boolean) => {
        const cfg = b.readConfig();
        cfg.tunnel = { connect: `${SERVER}:7000`, auth: { psk: `/etc/${name}/psk` } };
        cfg.intercept = {
          enabled: true,
          rules: [{ destinations: ['10.77.3.0/24'], ports: Object.values(PORTS) }],
          interfaces: ['lan0'],
          failClosed,
        };
        b.writeConfig(cfg);
        must([`/usr/bin/${name}`, 'check-config', `/etc/${name}/${name}.json`]);
      };

      // install, then enable interception as docs/intercept.md says: nothing listens on the
      // tunnel's port, so the tunnel stays down (refused) and fail-open is the path
      box.install();
      assert.equal(exec(['systemctl', 'is-active', unit]).stdout.trim(), 'active', box.journal());
      writeFileSync(box.R(`etc/${name}/psk`), `${randomBytes(32).toString('hex')}\n`);
      must(['chgrp', `--reference=/etc/${name}/${name}.json`, `/etc/${name}/psk`]);
      must(['chmod', '0640', `/etc/${name}/psk`]);
      configure(false);
      must(['mkdir', '-p', `/etc/systemd/system/${unit}.d`]);
      must([
        'ln',
        '-s',
        `/usr/lib/${name}/systemd/intercept.conf`,
        `/etc/systemd/system/${unit}.d/intercept.conf`,
      ]);
      must(['systemctl', 'daemon-reload']);
      must(['systemctl', 'restart', unit]);
      await until('the admin endpoint', () => admin('/status').code === 0);

      await t.test('tunnel down, fail-open: the download through the intercepted path is exact', async () => {
        const r = await download();
        assert.equal(r.code, 0, r.err);
        assert.equal(r.sha, sha(blob), 'bytes arrive exactly');
        assert.equal(
          r.peer,
          ROUTER_WAN,
          'the engine on the router dialled the server (fail-open), not the client',
        );
        const s = intercept();
        assert.equal(s?.path, 'direct', JSON.stringify(s));
        assert.equal(s?.state, 'degraded');
        assert.equal(s?.bypassed, 1);
        assert.match(table().out, /redirect to :9618/, 'the table redirects to the listener');
      });

      await t.test(
        'fail-open to a refused port resets at once; to a black hole after the 10 s connect timeout',
        async () => {
          const failed = () => intercept()?.failed?.direct_connect ?? -1;
          const before = failed();
          const refused = curl(PORTS.refused, 5);
          assert.equal(
            refused.code,
            56,
            `a reset (curl 56), not a clean end or a hang: ${refused.code} ${refused.err}`,
          );
          assert.match(refused.err, /reset/i);
          assert.ok(refused.ms < 3000, `reset promptly (${refused.ms} ms)`);
          assert.equal(failed(), before + 1);
          assert.match(intercept()?.lastError ?? '', /^EDGEWAN_ERR_INTERCEPT_DIRECT: /);

          const hole = curl(PORTS.blackhole, 20);
          assert.equal(
            hole.code,
            56,
            `a reset (curl 56) after the connect timeout: ${hole.code} ${hole.err}`,
          );
          assert.ok(hole.ms >= 9500 && hole.ms < 15_000, `reset after ~10 s (${hole.ms} ms)`);
          assert.equal(failed(), before + 2);
          assert.match(intercept()?.lastError ?? '', /^EDGEWAN_ERR_TUNNEL_CONNECT_TIMEOUT: /);
          assert.match(
            admin('/metrics').out,
            new RegExp(`^edgewan_intercept_failed_total\\{reason="direct_connect"\\} ${before + 2}$`, 'm'),
          );
        },
      );

      await t.test(
        'systemctl stop removes the table (clients go direct); kill -9 → systemd restarts the engine',
        async () => {
          must(['systemctl', 'stop', unit]);
          assert.notEqual(table().code, 0, `table left after stop:\n${table().out}`);
          const direct = await download();
          assert.equal(direct.sha, sha(blob), direct.err);
          assert.equal(direct.peer, CLIENT, 'with the engine stopped the client reaches the server directly');

          must(['systemctl', 'start', unit]);
          await until('the table after start', () => intercept()?.path === 'direct' && table().code === 0);
          const show = (p: string) => must(['systemctl', 'show', '-p', p, '--value', unit]).trim();
          const pid = show('MainPID');
          const restarts = Number(show('NRestarts'));
          assert.notEqual(pid, '0');
          must(['sh', '-c', `kill -9 ${pid}`]); // the shell's kill: minbase has no procps
          await until(
            'systemd to restart the engine',
            () => show('MainPID') !== pid && show('MainPID') !== '0' && intercept()?.path === 'direct',
          );
          assert.equal(Number(show('NRestarts')), restarts + 1);
          assert.equal(show('ActiveState'), 'active');
          const again = await download();
          assert.equal(again.sha, sha(blob), again.err);
          assert.equal(again.peer, ROUTER_WAN, 'intercepted again after the restart');
        },
      );

      await t.test('fail-closed: the tunnel down refuses; after stop a rejecting table stays', async () => {
        configure(true);
        must(['systemctl', 'restart', unit]);
        await until('fail-closed', () => intercept()?.path === 'refused');
        const seen = peers().length;
        const r = curl(PORTS.http, 5);
        assert.equal(r.code, 56, `reset by the engine (curl 56): ${r.code} ${r.err}`);
        assert.ok(r.ms < 3000, `refused promptly (${r.ms} ms)`);
        assert.equal(intercept()?.failed?.tunnel_down_fail_closed, 1);
        must(['systemctl', 'stop', unit]);
        assert.match(table().out, /reject/, 'the fail-closed table stays after stop and rejects');
        const stopped = curl(PORTS.http, 5);
        assert.equal(stopped.code, 7, `connection refused (curl 7): ${stopped.code} ${stopped.err}`);
        assert.ok(stopped.ms < 3000, `refused promptly (${stopped.ms} ms)`);
        await sleep(300);
        assert.equal(peers().length, seen, 'nothing reached the server');
      });

      await t.test('purge removes the table (fail-closed too) and the linked drop-in', async () => {
        must(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-q', '-y', 'purge', name], 120);
        assert.notEqual(table().code, 0, `table left after purge:\n${table().out}`);
        assert.equal(
          exec(['test', '-e', `/etc/systemd/system/${unit}.d/intercept.conf`]).code,
          1,
          'drop-in link removed',
        );
        const direct = await download();
        assert.equal(direct.sha, sha(blob), direct.err);
        assert.equal(direct.peer, CLIENT);
      });
    } finally {
      box?.cleanup();
      n.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
