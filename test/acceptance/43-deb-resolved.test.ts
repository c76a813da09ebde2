// DNS coexistence on Debian, the way docs/dns.md and docs/debian.md document it, with a real
// systemd-resolved: a bookworm amd64 root (mmdebstrap, cached by test/helpers/rootfs.ts) is
// booted with systemd as PID 1 in podman (runc, cgroupfs, no network but loopback;
// docs/platform-notes.md §4), our amd64 .deb is installed from our signed repo with apt
// (postinst starts the service under systemd), DNS is enabled by editing
// /etc/<name>/<name>.json as an admin would, the service restarted, and the real dig asks
// resolved's stub (127.0.0.53) for a name only our engine knows (a local record). It fails when
// the hook, the drop-in or the unit's Exec* lines are missing or wrong: resolved then has no
// server and cannot answer. Stopping our service must hand resolution back to resolved's own
// servers (fail-open).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needRoot, needTool } from '../helpers/tools.ts';
import { AMD64_SYSTEMD_ROOT, copyRootfs } from '../helpers/rootfs.ts';
import { distDir, podmanEnv, run } from '../helpers/oci.ts';
import { inspectDeb } from '../../targets/formats/deb-inspect.ts';
import type { Artifact } from '../../targets/target.ts';

const RECORD = { name: 'nas.branch.lan', type: 'A', value: '192.0.2.77' };

test(
  'systemd-resolved forwards to our DNS cache once DNS is enabled in the config (systemd as PID 1 in podman)',
  { timeout: 10 * 60_000 },
  async (t) => {
    if (!needRoot(t) || !needTool(t, 'podman') || !needTool(t, 'runc') || !needTool(t, 'mmdebstrap')) return;
    if (!needTool(t, 'nsenter', 'util-linux') || !needTool(t, 'ip', 'iproute2')) return;
    const DIST = distDir();
    const arts = JSON.parse(readFileSync(join(DIST, 'artifacts.json'), 'utf8')) as Artifact[];
    const deb = arts.find((a) => a.type === 'deb' && a.target === 'debian' && a.platform === 'amd64');
    assert.ok(deb, 'no debian amd64 .deb in dist/artifacts.json (build with --arch x64 --target debian)');
    const name = (await inspectDeb(join(DIST, deb.path))).control.Package;
    const keyring = `/usr/share/keyrings/${name}-archive-keyring.gpg`;
    const root = copyRootfs(AMD64_SYSTEMD_ROOT);
    const work = mkdtempSync(join(tmpdir(), 'ewE-resolved-'));
    const env = podmanEnv(join(work, 'podman'));
    const ctr = `ewE-resolved-${process.pid}`;
    const R = (p: string) => join(root.dir, p);
    // every command inside the booted container is bounded in time
    const exec = (args: string[], timeoutS = 60) =>
      run('podman', ['exec', ctr, 'timeout', String(timeoutS), ...args], env);
    const must = (args: string[], timeoutS = 60) => {
      const r = exec(args, timeoutS);
      assert.equal(
        r.code,
        0,
        `${args.join(' ')} failed (exit ${r.code}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`,
      );
      return r.stdout;
    };
    const journal = () =>
      exec([
        'journalctl',
        '--no-pager',
        '-n',
        '60',
        '-u',
        `${name}.service`,
        '-u',
        'systemd-resolved.service',
      ]).stdout;
    const dig = () =>
      exec(
        ['dig', '+short', '+time=2', '+tries=1', '@127.0.0.53', RECORD.name, RECORD.type],
        10,
      ).stdout.trim();
    /** poll until dig through resolved gives want (resolved restarts asynchronously: --no-block) */
    const digUntil = async (ok: (answer: string) => boolean) => {
      let last = '';
      for (let i = 0; i < 20; i++) {
        last = dig();
        if (ok(last)) return last;
        await new Promise((r) => setTimeout(r, 500));
      }
      return last;
    };
    try {
      writeFileSync(R('etc/apt/sources.list'), `deb [signed-by=${keyring}] file:/srv/repo bookworm main\n`);
      cpSync(join(DIST, 'apt'), R('srv/repo'), { recursive: true });
      cpSync(join(DIST, 'apt', `${name}-archive-keyring.gpg`), R(keyring.slice(1)));

      const boot = run(
        'podman',
        ['run', '-d', '--name', ctr, '--systemd=always', '--rootfs', root.dir, '/sbin/init'],
        env,
      );
      assert.equal(boot.code, 0, `podman run: ${boot.stderr}`);
      // right after `podman run`, systemctl may find no manager yet: retry for up to 90 s
      let state = '';
      for (const until = Date.now() + 90_000; Date.now() < until;) {
        state = exec(['systemctl', 'is-system-running', '--wait'], 90).stdout.trim();
        if (state && state !== 'offline') break;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.match(
        state,
        /^(running|degraded)$/,
        `systemd did not come up: ${state}\n${exec(['systemctl', '--failed', '--no-pager']).stdout}`,
      );
      assert.equal(must(['systemctl', 'is-active', 'systemd-resolved.service']).trim(), 'active');
      // resolved sends queries to global DNS servers only while some link has a routable address
      // ("Network is down" otherwise, measured); a real box always has one, this container (no
      // network) has only lo. A veth pair with a TEST-NET-1 address, both ends inside the
      // container's own network namespace, gives it one without touching the host's network.
      const pid = run('podman', ['inspect', '-f', '{{.State.Pid}}', ctr], env).stdout.trim();
      const ip = run(
        'nsenter',
        [
          '-t',
          pid,
          '-n',
          'sh',
          '-c',
          'ip link add ewE0 type veth peer name ewE1 && ip addr add 192.0.2.1/24 dev ewE0 && ip link set ewE1 up && ip link set ewE0 up',
        ],
        env,
      );
      assert.equal(ip.code, 0, `veth in the container's netns: ${ip.stderr}`);

      await t.test(
        'apt installs from the signed repo; the service runs with DNS off and resolved is untouched',
        () => {
          must(['apt-get', '-q', 'update'], 120);
          must(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-q', '-y', 'install', name], 180);
          assert.equal(
            exec(['systemctl', 'is-active', `${name}.service`]).stdout.trim(),
            'active',
            journal(),
          );
          assert.equal(
            exec(['test', '-e', `/run/systemd/resolved.conf.d/${name}-dns.conf`]).code,
            1,
            'no drop-in with DNS off',
          );
          // the unit's quoted NODE_OPTIONS (old space + semi-space, as the engine's re-exec would
          // set) reaches the engine whole, so it does not re-exec itself
          const envLine = must(['systemctl', 'show', '-p', 'Environment', `${name}.service`]).trim();
          const flags = /NODE_OPTIONS=(--max-old-space-size=\d+ --max-semi-space-size=\d+)"?$/.exec(envLine);
          assert.ok(flags, `unit environment: ${envLine}`);
          assert.ok(
            must(['journalctl', '-o', 'cat', '-u', `${name}.service`]).includes(
              `"nodeOptions":"${flags[1]}"`,
            ),
            journal(),
          );
          assert.notEqual(dig(), RECORD.value, 'resolved cannot know our record yet');
        },
      );

      await t.test(
        'DNS enabled in the config + restart: dig via 127.0.0.53 gets the answer only our engine has',
        async () => {
          const conf = R(`etc/${name}/${name}.json`);
          const cfg = JSON.parse(readFileSync(conf, 'utf8')) as Record<string, unknown>;
          // what an admin writes: enabled and a local record; listen stays the default 127.0.0.1:5353
          cfg.dns = { ...(cfg.dns as object), enabled: true, records: [RECORD] };
          writeFileSync(conf, `${JSON.stringify(cfg, null, 2)}\n`);
          must(['systemctl', 'restart', `${name}.service`], 60);
          const dropIn = must(['cat', `/run/systemd/resolved.conf.d/${name}-dns.conf`]);
          assert.match(dropIn, /^\[Resolve\]\nDNS=127\.0\.0\.1:5353\nDomains=~\.$/m);
          assert.equal(
            must(['stat', '-c', '%a %U', `/run/systemd/resolved.conf.d/${name}-dns.conf`]).trim(),
            '644 root',
            'readable by systemd-resolve',
          );
          assert.equal(
            must([
              'dig',
              '+short',
              '+time=2',
              '+tries=1',
              '@127.0.0.1',
              '-p',
              '5353',
              RECORD.name,
              RECORD.type,
            ]).trim(),
            RECORD.value,
            'our engine answers directly',
          );
          const answer = await digUntil((a) => a === RECORD.value);
          assert.equal(
            answer,
            RECORD.value,
            `resolved did not forward to our engine:\n${exec(['resolvectl', 'status', '--no-pager']).stdout}\n${journal()}`,
          );
          assert.match(must(['resolvectl', 'dns', '--no-pager']), /Global: 127\.0\.0\.1:5353/);
          assert.equal(
            must(['systemctl', 'is-active', `${name}.service`, 'systemd-resolved.service']).trim(),
            'active\nactive',
            'both run',
          );
        },
      );

      await t.test('stopping our service hands DNS back to resolved (fail-open)', async () => {
        must(['systemctl', 'stop', `${name}.service`], 60);
        assert.equal(
          exec(['test', '-e', `/run/systemd/resolved.conf.d/${name}-dns.conf`]).code,
          1,
          'drop-in removed on stop',
        );
        const answer = await digUntil((a) => a !== RECORD.value);
        assert.notEqual(answer, RECORD.value, 'resolved still forwards to a stopped engine');
        assert.doesNotMatch(exec(['resolvectl', 'dns', '--no-pager']).stdout, /127\.0\.0\.1:5353/);
        assert.equal(must(['systemctl', 'is-active', 'systemd-resolved.service']).trim(), 'active');
      });
    } finally {
      run('podman', ['rm', '-f', '-t', '0', ctr], env);
      root.cleanup();
      rmSync(work, { recursive: true, force: true });
      assert.ok(!existsSync(root.dir), 'root copy removed');
    }
  },
);
