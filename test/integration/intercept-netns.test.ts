// Transparent interception with real nftables in four network namespaces made here:
//   client (10.77.1.2, fd77:1::2) — router (edge + its nft table) — wan — dc (core + a real
//   HTTP server at 10.77.3.2 / fd77:3::2, ports 8080 and 8081)
// The client runs curl against the server's own address, unaware of edgewan. The rule
// intercepts 10.77.3.0/24 and fd77:3::/64 port 8080. The server logs each request's peer
// address: the core's (10.77.3.2) when the tunnel carried it, the client's when it went
// directly, the router's (10.77.2.1) when the edge dialled it itself (fail-open).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { engineCommand, ROOT, tunnelKeys } from '../helpers/engine.ts';
import { branchNet, Netns } from '../helpers/netns.ts';
import { needRoot, needTool } from '../helpers/tools.ts';
import { OriginalDestinations, parseConntrack, type Entry } from '../../engine/src/intercept/conntrack.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SIZE = 4 << 20;

const SERVER = `
import http from 'node:http';
import { readFileSync } from 'node:fs';
const blob = readFileSync(process.argv[2]);
for (const port of [8080, 8081]) {
  http.createServer((req, res) => {
    process.stdout.write('peer ' + port + ' ' + req.socket.remoteAddress + '\\n');
    res.writeHead(200, { 'content-length': blob.length }); res.end(blob);
  }).listen({ port, host: '::', ipv6Only: false }, () => process.stdout.write('listening ' + port + '\\n'));
}
`;

test(
  'interception in network namespaces: exact bytes via the core, dedup on the wan, bypass, fail-open, fail-closed, rules removed',
  { timeout: 300_000 },
  async (t) => {
    if (
      !needRoot(t) ||
      !needTool(t, 'nft', 'nftables') ||
      !needTool(t, 'conntrack', 'conntrack') ||
      !needTool(t, 'ip', 'iproute2') ||
      !needTool(t, 'curl', 'curl')
    )
      return;
    const n = new Netns(`ewi${process.pid % 100000}`);
    const dir = mkdtempSync(join(tmpdir(), 'ewI-'));
    const procs: ChildProcess[] = [];
    let keys = '';
    try {
      branchNet(n);

      const blob = randomBytes(SIZE);
      writeFileSync(join(dir, 'blob'), blob);
      writeFileSync(join(dir, 'server.mjs'), SERVER);
      const server = n.spawn('d', [process.execPath, join(dir, 'server.mjs'), join(dir, 'blob')]);
      procs.push(server);
      let serverLog = '';
      server.stdout!.on('data', (d) => {
        serverLog += d;
      });
      const peers = () =>
        serverLog
          .split('\n')
          .filter((l) => l.startsWith('peer '))
          .map((l) => l.split(' ').slice(1).join(' '));

      keys = tunnelKeys('ewI-keys-');
      const [cmd, ...pre] = engineCommand();
      const engine = (ns: string, name: string, config: Record<string, unknown>) => {
        const cfg = {
          stateDir: join(dir, `${name}-state`),
          memory: { limit: '128MiB' },
          admin: { listen: '127.0.0.1:9617' },
          ...config,
        };
        const file = join(dir, `${name}.json`);
        writeFileSync(file, JSON.stringify(cfg));
        const env: NodeJS.ProcessEnv = { ...process.env };
        for (const k of Object.keys(env)) if (k.startsWith('EDGEWAN_')) delete env[k];
        const p = n.spawn(ns, [cmd, ...pre, 'run', '--config', file], { cwd: ROOT, env });
        let out = '';
        p.stdout!.on('data', (d) => {
          out += d;
        });
        p.stderr!.on('data', (d) => {
          out += d;
        });
        const exited = new Promise<number>((r) => p.on('exit', (c) => r(c ?? 143)));
        procs.push(p);
        return {
          output: () => out,
          async stop() {
            p.kill('SIGTERM');
            const k = setTimeout(() => p.kill('SIGKILL'), 20_000);
            const c = await exited;
            clearTimeout(k);
            return c;
          },
          status(): { components: Array<{ name: string; state: string; status: Record<string, any> }> } {
            // eslint-disable-line @typescript-eslint/no-explicit-any
            const r = n.run(ns, ['curl', '-sf', '--max-time', '5', 'http://127.0.0.1:9617/status']);
            if (r.code !== 0) throw new Error(`status: curl ${r.code}`);
            return JSON.parse(r.out);
          },
          metrics: () => n.run(ns, ['curl', '-sf', '--max-time', '5', 'http://127.0.0.1:9617/metrics']).out,
        };
      };
      type Engine = ReturnType<typeof engine>;
      const comp = (e: Engine, name: string) => e.status().components.find((c) => c.name === name)!;
      const until = async (what: string, e: Engine, cond: () => boolean) => {
        for (let i = 0; i < 300; i++) {
          try {
            if (cond()) return;
          } catch {
            /* not up yet */
          }
          await sleep(100);
        }
        throw new Error(`timed out waiting for ${what}:\n${e.output()}`);
      };
      const core = engine('d', 'core', {
        role: 'core',
        tunnel: { listen: '10.77.3.2:7000', auth: { keyDir: keys } },
      });
      await until('core up', core, () => comp(core, 'tunnel').state === 'running');
      const rules = [{ destinations: ['10.77.3.0/24', 'fd77:3::/64'], ports: [8080] }];
      const edgeCfg = (failClosed: boolean) => ({
        role: 'edge',
        tunnel: { connect: '10.77.3.2:7000', auth: { keyDir: keys } },
        intercept: { enabled: true, rules, failClosed },
      });
      let edge = engine('r', 'edge', edgeCfg(false));
      await until(
        'edge intercepting over the tunnel',
        edge,
        () => comp(edge, 'intercept').status.path === 'tunnel',
      );

      const table = () => n.run('r', ['nft', 'list', 'table', 'inet', 'edgewan']);
      assert.match(table().out, /redirect to :9618/, 'the table redirects to the listener');
      const wanRx = () => Number(n.exec('w', ['cat', '/sys/class/net/w1/statistics/rx_bytes']));
      const get = async (url: string) => {
        const out = join(dir, 'got');
        rmSync(out, { force: true });
        const seen = peers().length;
        const r = n.run('c', ['curl', '-sS', '-g', '--max-time', '30', '-o', out, url]);
        // the server's log line arrives on this process's event loop, after the blocking curl
        for (let i = 0; i < 50 && r.code === 0 && peers().length === seen; i++) await sleep(20);
        return { code: r.code, err: r.err, sha: r.code === 0 ? sha(readFileSync(out)) : '' };
      };

      // 1. intercepted: exact bytes, via the core, counted on both engines
      let wan0 = wanRx();
      const first = await get('http://10.77.3.2:8080/blob');
      const firstWan = wanRx() - wan0;
      assert.equal(first.code, 0, first.err);
      assert.equal(first.sha, sha(blob), 'bytes arrive exactly');
      assert.equal(peers().at(-1), '8080 ::ffff:10.77.3.2', 'the core made the server connection');
      assert.ok(comp(core, 'tunnel').status.appTx >= SIZE, 'the core carried the stream');
      assert.equal(comp(edge, 'intercept').status.intercepted, 1);
      assert.ok(firstWan >= SIZE, `first transfer crosses the wan whole (${firstWan} bytes)`);

      // 2. repeat: deduplicated on the wan veth
      wan0 = wanRx();
      const again = await get('http://10.77.3.2:8080/blob');
      const againWan = wanRx() - wan0;
      assert.equal(again.sha, sha(blob));
      assert.ok(
        againWan < SIZE / 4,
        `repeat transfer crosses the wan deduplicated (${againWan} of ${SIZE} bytes)`,
      );
      t.diagnostic(`wan bytes dc→router: first ${firstWan}, repeat ${againWan} (${SIZE} B payload)`);

      // 3. IPv6 intercepted too
      const v6 = await get('http://[fd77:3::2]:8080/blob');
      assert.equal(v6.sha, sha(blob), v6.err);
      assert.equal(peers().at(-1), '8080 fd77:3::2', 'IPv6 carried by the core');

      // 4. non-matching port bypasses the engine
      const before = comp(edge, 'intercept').status.intercepted;
      const other = await get('http://10.77.3.2:8081/blob');
      assert.equal(other.sha, sha(blob));
      assert.equal(
        peers().at(-1),
        '8081 ::ffff:10.77.1.2',
        'non-matching traffic reaches the server directly from the client',
      );
      assert.equal(comp(edge, 'intercept').status.intercepted, before);

      // 5. a connection to the listener itself has no original destination: refused and counted
      const direct = n.run('c', ['curl', '-s', '--max-time', '10', 'http://10.77.1.1:9618/']);
      assert.notEqual(direct.code, 0);
      assert.equal(comp(edge, 'intercept').status.failed.no_original_destination, 1);
      assert.match(edge.metrics(), /^edgewan_intercept_failed_total\{reason="no_original_destination"\} 1$/m);

      // 5b. someone flushes the whole ruleset (Debian's nftables.service does): the table comes back
      n.exec('r', ['nft', 'flush', 'ruleset']);
      await until('table re-applied', edge, () => comp(edge, 'intercept').status.reapplied === 1);
      assert.match(table().out, /redirect to :9618/);
      assert.equal((await get('http://10.77.3.2:8080/blob')).sha, sha(blob));
      assert.equal(peers().at(-1), '8080 ::ffff:10.77.3.2', 'intercepted again after the flush');

      // 5c. the netlink source (`conntrack -L`, what a non-root engine uses) agrees with /proc
      // for a connection held open (a rate-limited curl)
      const slow = n.spawn('c', [
        'curl',
        '-s',
        '--max-time',
        '60',
        '--limit-rate',
        '50k',
        '-o',
        '/dev/null',
        'http://10.77.3.2:8080/blob',
      ]);
      procs.push(slow);
      let held: Entry | undefined;
      for (let i = 0; i < 100 && !held; i++) {
        held = parseConntrack(n.exec('r', ['cat', '/proc/net/nf_conntrack'])).find(
          (e) => e.reply.sport === 9618 && e.orig.dport === 8080 && e.orig.src === '10.77.1.2',
        );
        if (!held) await sleep(50);
      }
      assert.ok(held, 'the held connection is in conntrack');
      const wrapper = join(dir, 'conntrack-in-router');
      writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${n.name('r')} conntrack "$@"\n`, {
        mode: 0o755,
      });
      const viaTool = new OriginalDestinations(9618, { source: 'conntrack-tool', conntrack: wrapper });
      assert.deepEqual(
        await viaTool.lookup({
          client: held.orig.src,
          clientPort: held.orig.sport,
          local: held.reply.src,
          localPort: 9618,
        }),
        { host: '10.77.3.2', port: 8080 },
      );
      slow.kill('SIGKILL');

      // 6. tunnel down (core stopped), fail-open: the router dials the server itself
      assert.equal(await core.stop(), 0);
      await until('edge sees the tunnel down', edge, () => comp(edge, 'intercept').status.path === 'direct');
      const open = await get('http://10.77.3.2:8080/blob');
      assert.equal(open.sha, sha(blob), open.err);
      assert.equal(peers().at(-1), '8080 ::ffff:10.77.2.1', 'fail-open: reached from the router');
      assert.equal(comp(edge, 'intercept').status.bypassed, 1);
      assert.equal(comp(edge, 'intercept').state, 'degraded');

      // 7. engine stopped (fail-open): table gone, client reaches the server directly
      assert.equal(await edge.stop(), 0);
      assert.notEqual(table().code, 0, 'no table after stop');
      assert.doesNotMatch(n.exec('r', ['nft', 'list', 'ruleset']), /edgewan/);
      const stopped = await get('http://10.77.3.2:8080/blob');
      assert.equal(stopped.sha, sha(blob));
      assert.equal(peers().at(-1), '8080 ::ffff:10.77.1.2');

      // 8. failClosed: tunnel down → refused; engine stopped → a table that rejects
      edge = engine('r', 'edge2', edgeCfg(true));
      await until('fail-closed edge up', edge, () => comp(edge, 'intercept').status.path === 'refused');
      const n0 = peers().length;
      assert.notEqual(
        (await get('http://10.77.3.2:8080/blob')).code,
        0,
        'fail-closed refuses while the tunnel is down',
      );
      assert.equal(comp(edge, 'intercept').status.failed.tunnel_down_fail_closed, 1);
      assert.equal(await edge.stop(), 0);
      assert.match(
        table().out,
        /reject with tcp reset/,
        'a stopped fail-closed engine leaves a rejecting table',
      );
      assert.notEqual(
        (await get('http://10.77.3.2:8080/blob')).code,
        0,
        'fail-closed refuses while the engine is stopped',
      );
      assert.equal(peers().length, n0, 'nothing reached the server');
      assert.equal((await get('http://10.77.3.2:8081/blob')).sha, sha(blob), 'other ports still pass');
    } finally {
      for (const p of procs) p.kill('SIGKILL');
      n.cleanup();
      rmSync(dir, { recursive: true, force: true });
      if (keys) rmSync(dirname(keys), { recursive: true, force: true });
    }
  },
);
