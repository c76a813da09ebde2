// DNS coexistence on Debian, the way docs/dns.md and docs/debian.md document it, with a real
// systemd-resolved: a bookworm amd64 root (mmdebstrap, cached by test/helpers/rootfs.ts) is
// booted with systemd as PID 1 in podman (test/helpers/systemd-box.ts: runc, cgroupfs, no
// network but loopback; docs/platform-notes.md §4), our amd64 .deb is installed from our signed repo with apt
// (postinst starts the service under systemd), DNS is enabled by editing
// /etc/<name>/<name>.json as an admin would, the service restarted, and the real dig asks
// resolved's stub (127.0.0.53) for a name only our engine knows (a local record). It fails when
// the hook, the drop-in or the unit's Exec* lines are missing or wrong: resolved then has no
// server and cannot answer. Stopping our service must hand resolution back to resolved's own
// servers (fail-open).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needRoot, needTool } from '../helpers/tools.ts';
import { run } from '../helpers/oci.ts';
import { bootSystemdBox } from '../helpers/systemd-box.ts';

const RECORD = { name: 'nas.branch.lan', type: 'A', value: '192.0.2.77' };

test(
  'systemd-resolved forwards to our DNS cache once DNS is enabled in the config (systemd as PID 1 in podman)',
  { timeout: 10 * 60_000 },
  async (t) => {
    if (!needRoot(t) || !needTool(t, 'podman') || !needTool(t, 'runc') || !needTool(t, 'mmdebstrap')) return;
    if (!needTool(t, 'nsenter', 'util-linux') || !needTool(t, 'ip', 'iproute2')) return;
    const box = await bootSystemdBox('ewE-resolved');
    const { name, env, exec, must } = box;
    const journal = () => box.journal('systemd-resolved.service');
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
      assert.equal(must(['systemctl', 'is-active', 'systemd-resolved.service']).trim(), 'active');
      // resolved sends queries to global DNS servers only while some link has a routable address
      // ("Network is down" otherwise, measured); a real box always has one, this container (no
      // network) has only lo. A veth pair with a TEST-NET-1 address, both ends inside the
      // container's own network namespace, gives it one without touching the host's network.
      const pid = box.pid();
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
          box.install();
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
          const cfg = box.readConfig();
          // what an admin writes: enabled and a local record; listen stays the default 127.0.0.1:5353
          cfg.dns = { ...(cfg.dns as object), enabled: true, records: [RECORD] };
          box.writeConfig(cfg);
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
      box.cleanup();
    }
  },
);
