// One validation path (issue 22 item 4): every config `run` would fail on is rejected by
// `check-config` and by `run` before any component starts, with exit 78, the file and the
// JSON pointer — never exit 70, "internal error" or a stack trace. procd's pre-start check
// and systemd's RestartPreventExitStatus=78 rely on it. One table: port ranges, cross-field
// rules, duplicate listen addresses, referenced files (PSK, keys, pin, hostsFile), DNS record
// values by type, duplicate JSON keys, nesting depth, sizes V8 can take. Each case runs both
// commands as real processes (the engine executable when built, else the source).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineCommand, tunnelKeys } from '../helpers/engine.ts';

interface Case {
  name: string;
  /** merged over the base config; or the file's whole text */
  config?: Record<string, unknown>;
  text?: string;
  pointer: string;
  message: RegExp;
}

const root = mkdtempSync(join(tmpdir(), 'ewC-table-'));
const state = join(root, 'state');
const keys = tunnelKeys('ewC-table-keys-');
const file = (name: string, text: string) => {
  const p = join(root, name);
  writeFileSync(p, text);
  return p;
};
const pskShort = file('short.psk', 'abcd1234\n');
const pskGarbage = file('garbage.psk', `${'zz'.repeat(32)}\n`);
const corruptKeys = join(root, 'corrupt-keys');
mkdirSync(corruptKeys);
for (const f of ['edge.crt', 'core.crt']) copyFileSync(join(keys, f), join(corruptKeys, f));
writeFileSync(
  join(corruptKeys, 'core.key'),
  '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n',
);
const missingKey = join(root, 'missing-key');
mkdirSync(missingKey);
for (const f of ['edge.crt', 'core.crt']) copyFileSync(join(keys, f), join(missingKey, f));
const core = (tunnel: Record<string, unknown>) => ({
  role: 'core',
  tunnel: { listen: '127.0.0.1:0', ...tunnel },
});
const dns = (d: Record<string, unknown>) => ({
  dns: { enabled: true, listen: ['127.0.0.1:0'], upstreams: ['127.0.0.1:53'], ...d },
});
const rec = (type: string, value: string, name = 'host.branch.lan') =>
  dns({ records: [{ name, type, value }] });
const deep = (n: number) => `{"x":${'['.repeat(n)}${']'.repeat(n)}}`;

const CASES: Case[] = [
  {
    name: 'dns listen port 70000',
    config: dns({ listen: ['127.0.0.1:70000'] }),
    pointer: '/dns/listen/0',
    message: /does not have the expected form/,
  },
  {
    name: 'tunnel listen port 99999',
    config: core({ listen: '127.0.0.1:99999', auth: { keyDir: keys } }),
    pointer: '/tunnel/listen',
    message: /not an accepted value/,
  },
  {
    name: 'forward listen port 70000',
    config: { forwards: [{ listen: '127.0.0.1:70000', target: '10.0.0.1:80' }] },
    pointer: '/forwards/0/listen',
    message: /expected form/,
  },
  {
    name: 'forward target port 99999',
    config: { forwards: [{ listen: '127.0.0.1:0', target: '10.0.0.1:99999' }] },
    pointer: '/forwards/0/target',
    message: /expected form/,
  },
  {
    name: 'admin listen port 99999',
    config: { admin: { listen: '127.0.0.1:99999' } },
    pointer: '/admin/listen',
    message: /expected form/,
  },
  {
    name: 'socks listen port 65536',
    config: { socks: { listen: '127.0.0.1:65536' } },
    pointer: '/socks/listen',
    message: /not an accepted value/,
  },
  {
    name: 'dns upstream port 70000',
    config: dns({ upstreams: ['127.0.0.1:70000'] }),
    pointer: '/dns/upstreams/0',
    message: /expected form/,
  },
  {
    name: 'dns minTtlS > maxTtlS',
    config: dns({ minTtlS: 600, maxTtlS: 60 }),
    pointer: '/dns/minTtlS',
    message: /above dns\.maxTtlS 60/,
  },
  {
    name: 'backoff initial > max',
    config: { supervisor: { backoffMs: { initial: 5000, max: 1000 } } },
    pointer: '/supervisor/backoffMs/initial',
    message: /above supervisor\.backoffMs\.max 1000/,
  },
  {
    name: 'role core with tunnel.connect',
    config: core({ connect: '10.0.0.1:9618', auth: { keyDir: keys } }),
    pointer: '/tunnel/connect',
    message: /a core .* never connects/,
  },
  {
    name: 'role edge with tunnel.listen',
    config: {
      role: 'edge',
      tunnel: { listen: '127.0.0.1:9618', connect: '127.0.0.1:9618', auth: { keyDir: keys } },
    },
    pointer: '/tunnel/listen',
    message: /an edge .* never listens/,
  },
  {
    name: 'two forwards on one listen address',
    config: {
      forwards: [
        { listen: '127.0.0.1:18080', target: '10.0.0.1:80' },
        { listen: '127.0.0.1:18080', target: '10.0.0.2:80' },
      ],
    },
    pointer: '/forwards/1/listen',
    message: /same address as \/forwards\/0\/listen/,
  },
  {
    name: 'dns on the admin address',
    config: { admin: { listen: '127.0.0.1:19617' }, ...dns({ listen: ['127.0.0.1:19617'] }) },
    pointer: '/dns/listen/0',
    message: /same address as \/admin\/listen/,
  },
  {
    name: 'forward on the socks address',
    config: {
      socks: { listen: '127.0.0.1:11080' },
      forwards: [{ listen: '127.0.0.1:11080', target: '10.0.0.1:80' }],
    },
    pointer: '/forwards/0/listen',
    message: /same address as \/socks\/listen/,
  },
  {
    name: 'core forward on the default tunnel port',
    config: {
      role: 'core',
      tunnel: { auth: { keyDir: keys } },
      forwards: [{ listen: '0.0.0.0:9618', target: '10.0.0.1:80', direction: 'core-to-edge' }],
    },
    pointer: '/forwards/0/listen',
    message: /default \[::\]:9618/,
  },
  {
    name: 'tunnel on a dns address (wildcard)',
    config: {
      ...core({ listen: '0.0.0.0:15353', auth: { keyDir: keys } }),
      ...dns({ listen: ['127.0.0.1:15353'] }),
    },
    pointer: '/dns/listen/0',
    message: /same address as \/tunnel\/listen/,
  },
  {
    name: 'PSK file missing',
    config: core({ auth: { psk: join(root, 'nope.psk') } }),
    pointer: '/tunnel/auth/psk',
    message: /cannot read the pre-shared key file .*ENOENT/,
  },
  {
    name: 'PSK too short',
    config: core({ auth: { psk: pskShort } }),
    pointer: '/tunnel/auth/psk',
    message: /8 hex digits; at least 32/,
  },
  {
    name: 'PSK not hex',
    config: core({ auth: { psk: pskGarbage } }),
    pointer: '/tunnel/auth/psk',
    message: /does not hold a hex key/,
  },
  {
    name: 'garbage pin',
    config: core({ auth: { keyDir: keys, pin: 'sha256:not-a-fingerprint' } }),
    pointer: '/tunnel/auth/pin',
    message: /not a SHA-256 fingerprint/,
  },
  {
    name: 'corrupt key in keyDir',
    config: core({ auth: { keyDir: corruptKeys } }),
    pointer: '/tunnel/auth/keyDir',
    message: /core\.key is not a usable private key/,
  },
  {
    name: 'missing key in keyDir',
    config: core({ auth: { keyDir: missingKey } }),
    pointer: '/tunnel/auth/keyDir',
    message: /cannot read this side's \(core\) private key .*ENOENT/,
  },
  {
    name: 'missing keyDir on an edge with a peer',
    config: { tunnel: { connect: '127.0.0.1:9618', auth: { keyDir: join(root, 'no-keys') } } },
    pointer: '/tunnel/auth/keyDir',
    message: /edge\.key \(ENOENT\)/,
  },
  {
    name: 'missing hostsFile',
    config: dns({ hostsFile: join(root, 'no-hosts') }),
    pointer: '/dns/hostsFile',
    message: /cannot read the hosts file \(ENOENT\)/,
  },
  {
    name: 'A record that is not an address',
    config: rec('A', 'printer.lan'),
    pointer: '/dns/records/0/value',
    message: /not an IPv4 address/,
  },
  {
    name: 'A record with an IPv6 address',
    config: rec('A', 'fd00::1'),
    pointer: '/dns/records/0/value',
    message: /not an IPv4 address/,
  },
  {
    name: 'bad AAAA',
    config: rec('AAAA', '10.0.0.1'),
    pointer: '/dns/records/0/value',
    message: /not an IPv6 address/,
  },
  {
    name: 'bad MX (no preference)',
    config: rec('MX', 'mail.example.net'),
    pointer: '/dns/records/0/value',
    message: /PREFERENCE NAME/,
  },
  {
    name: 'bad MX (preference 70000)',
    config: rec('MX', '70000 mail.example.net'),
    pointer: '/dns/records/0/value',
    message: /PREFERENCE NAME/,
  },
  {
    name: 'bad CNAME target',
    config: rec('CNAME', 'not a name'),
    pointer: '/dns/records/0/value',
    message: /not a domain name/,
  },
  {
    name: 'TXT over 255 bytes',
    config: rec('TXT', 'x'.repeat(300)),
    pointer: '/dns/records/0/value',
    message: /300 bytes/,
  },
  {
    name: 'record name with a 64-octet label',
    config: rec('A', '10.0.0.1', `${'a'.repeat(64)}.lan`),
    pointer: '/dns/records/0/name',
    message: /not a domain name/,
  },
  {
    name: 'allowFrom prefix /33',
    config: dns({ allowFrom: ['10.0.0.0/33'] }),
    pointer: '/dns/allowFrom/0',
    message: /prefix length 33 is out of range/,
  },
  {
    name: 'duplicate top-level key',
    text: '{"role": "edge", "role": "core", "stateDir": "STATE"}',
    pointer: '/role',
    message: /key "role" appears more than once .*line 1, column 18/,
  },
  {
    name: 'duplicate nested key',
    text: '{"stateDir": "STATE",\n "dns": {"enabled": true,\n  "enabled": false}}',
    pointer: '/dns/enabled',
    message: /line 3, column 3/,
  },
  {
    name: 'deeply nested JSON',
    text: deep(200_000),
    pointer: '/x/0/0/0',
    message: /nested deeper than 32 levels/,
  },
  {
    name: 'deeply nested malformed JSON',
    text: `{"x":${'['.repeat(200_000)}`,
    pointer: '/x/0/0/0',
    message: /nested deeper than 32 levels/,
  },
  {
    name: 'huge memory.limit string',
    config: { memory: { limit: '99999999999999GiB' } },
    pointer: '/memory/limit',
    message: /too large to be exact/,
  },
  {
    name: 'memory.limit 2 TiB',
    config: { memory: { limit: 2 ** 41 } },
    pointer: '/memory/limit',
    message: /above the engine's maximum.*1\.0 TiB/,
  },
  {
    name: 'memory.limit 1e30',
    config: { memory: { limit: 1e30 } },
    pointer: '/memory/limit',
    message: /too large to be exact/,
  },
  {
    name: 'huge chunkDisk.maxSize',
    config: { caches: { chunkDisk: { maxSize: '999999999999GiB' } } },
    pointer: '/caches/chunkDisk/maxSize',
    message: /too large to be exact/,
  },
];

const BASE = { stateDir: state, admin: { listen: '127.0.0.1:0' }, memory: { limit: '128MiB' } };

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && typeof a[k] === 'object' && !Array.isArray(a[k])
        ? merge(a[k] as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/**
 * Exit code and stderr+stdout of one engine command. An engine that starts (a case that
 * failed) is killed with its whole process group (a re-exec child included) as soon as it
 * logs "engine starting", or after 30 s.
 */
function engine(args: string[]): Promise<{ code: number | null; out: string }> {
  const [cmd, ...pre] = engineCommand();
  return new Promise((resolve) => {
    const p = spawn(cmd, [...pre, ...args], {
      detached: true,
      env: { ...process.env, EDGEWAN_MEMORY_LIMIT: '', NODE_OPTIONS: '' },
    });
    let out = '';
    const kill = () => {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const take = (d: Buffer) => {
      out += d;
      if (/engine starting/.test(out)) kill();
    };
    p.stdout.on('data', take);
    p.stderr.on('data', take);
    const t = setTimeout(kill, 30_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

test(
  `check-config and run reject the same ${CASES.length} bad configs: exit 78, file and pointer`,
  { timeout: 600_000 },
  async (t) => {
    try {
      const failures: string[] = [];
      const runCase = async (c: Case, i: number) => {
        const f = join(root, `case-${i}.json`);
        writeFileSync(
          f,
          c.text ? c.text.replace('STATE', state) : JSON.stringify(merge(BASE, c.config ?? {}), null, 2),
        );
        for (const args of [
          ['check-config', f],
          ['run', '--config', f],
        ]) {
          const r = await engine(args);
          const where = `${c.name} (${args[0]})`;
          if (r.code !== 78) {
            failures.push(`${where}: exit ${r.code}, not 78\n${r.out.slice(0, 600)}`);
            continue;
          }
          if (!r.out.includes(`${f}#${c.pointer}`))
            failures.push(`${where}: no "${f}#${c.pointer}" in\n${r.out.slice(0, 600)}`);
          else if (!c.message.test(r.out))
            failures.push(`${where}: no ${c.message} in\n${r.out.slice(0, 600)}`);
          if (/internal error|\n\s+at /.test(r.out))
            failures.push(`${where}: internal error or stack trace\n${r.out.slice(0, 600)}`);
          if (/engine starting/.test(r.out))
            failures.push(`${where}: the engine started before rejecting the config`);
        }
      };
      // three at a time: each is a process start (two per case)
      for (let i = 0; i < CASES.length; i += 3)
        await Promise.all(CASES.slice(i, i + 3).map((c, k) => runCase(c, i + k)));
      t.diagnostic(`${CASES.length} cases x 2 commands`);
      assert.deepEqual(failures, []);
      // and the good twin of the fixtures: the same keys and a valid config pass check-config
      const ok = join(root, 'ok.json');
      writeFileSync(
        ok,
        JSON.stringify(
          merge(BASE, {
            ...core({ auth: { keyDir: keys } }),
            ...dns({
              records: [
                { name: 'mx.branch.lan', type: 'MX', value: '10 mail.branch.lan' },
                { name: 'v6.branch.lan', type: 'AAAA', value: 'fd00::1' },
              ],
              allowFrom: ['10.0.0.0/8', '::1'],
            }),
          }),
        ),
      );
      const r = await engine(['check-config', ok]);
      assert.equal(r.code, 0, r.out);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(join(keys, '..'), { recursive: true, force: true });
    }
  },
);
