// `npm run bench:intercept [-- --json] [-- --conns 100] [-- --mb 32]` (root; nft, conntrack):
// in the branch namespaces of test/helpers/netns.ts (client — router+edge — wan — dc+core+server)
// measures, in one run, connection set-up latency (connect → first response byte of a small
// reply, sequential) and throughput (fresh random bytes, so dedup does not help) for
//   transparent  client → server's own address, intercepted by the edge's nft table
//   forward      client → an explicit edge port forward to the same server
//   direct       client → the server on a port the table does not match
// and the lookup mechanism's cost: the edge's own conntrack read time per read, and one read
// of /proc/net/nf_conntrack and of `conntrack -L` with 0, 1,000 and 10,000 extra entries.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { branchNet, Netns } from '../../test/helpers/netns.ts';
import { engineCommand, ROOT, tunnelKeys } from '../../test/helpers/engine.ts';

const args = process.argv.slice(2);
const JSON_OUT = args.includes('--json');
const num = (flag: string, d: number) => {
  const i = args.indexOf(flag);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const CONNS = num('--conns', 100);
const MB = num('--mb', 32);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SERVER = `
import net from 'node:net';
import { randomBytes } from 'node:crypto';
// one line "small" or "bytes N"; replies and closes
for (const port of [8080, 8081]) net.createServer((s) => {
  s.once('data', (d) => {
    const [w, n] = String(d).trim().split(' ');
    if (w === 'small') { s.end('ok\\n'); return; }
    let left = Number(n);
    const more = () => { while (left > 0) { const k = Math.min(left, 65536); left -= k; if (!s.write(randomBytes(k))) { s.once('drain', more); return; } } s.end(); };
    more();
  });
  s.on('error', () => {});
}).listen({ port, host: '::', ipv6Only: false });
`;

const CLIENT = `
import net from 'node:net';
const [host, port, conns, bytes] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
const once = (req) => new Promise((resolve, reject) => {
  const t0 = process.hrtime.bigint(); let first = 0; let n = 0;
  const s = net.connect(port, host, () => s.write(req + '\\n'));
  s.setTimeout(60000, () => s.destroy(new Error('timeout')));
  s.on('data', (d) => { if (!first) first = Number(process.hrtime.bigint() - t0) / 1e6; n += d.length; });
  s.on('end', () => resolve({ firstMs: first, totalMs: Number(process.hrtime.bigint() - t0) / 1e6, n }));
  s.on('error', reject);
});
const lat = [];
for (let i = 0; i < conns; i++) lat.push((await once('small')).firstMs);
lat.sort((a, b) => a - b);
const big = await once('bytes ' + bytes);
if (big.n !== bytes) throw new Error('short transfer ' + big.n);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
process.stdout.write(JSON.stringify({ setupMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), mean: lat.reduce((a, b) => a + b, 0) / lat.length }, throughputMBps: bytes / 1e6 / (big.totalMs / 1000) }));
`;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:intercept needs root (network namespaces, nftables)');
  const n = new Netns(`ewb${process.pid % 100000}`);
  const dir = mkdtempSync(join(tmpdir(), 'ewI-bench-'));
  let keys = '';
  try {
    branchNet(n);
    writeFileSync(join(dir, 'server.mjs'), SERVER);
    writeFileSync(join(dir, 'client.mjs'), CLIENT);
    n.spawn('d', [process.execPath, join(dir, 'server.mjs')]);
    keys = tunnelKeys('ewI-bench-keys-');
    const [cmd, ...pre] = engineCommand();
    const run = (ns: string, name: string, cfg: Record<string, unknown>) => {
      const file = join(dir, `${name}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          stateDir: join(dir, name),
          memory: { limit: '128MiB' },
          log: { level: 'warn' },
          ...cfg,
        }),
      );
      const env = { ...process.env };
      for (const k of Object.keys(env)) if (k.startsWith('EDGEWAN_')) delete env[k];
      return n.spawn(ns, [cmd, ...pre, 'run', '--config', file], { cwd: ROOT, env });
    };
    const status = (ns: string) =>
      JSON.parse(
        n.run(ns, ['curl', '-sf', '--max-time', '5', 'http://127.0.0.1:9617/status']).out ||
          '{"components":[]}',
      ) as { components: Array<{ name: string; status: Record<string, number | string> }> };
    const comp = (ns: string, name: string) => status(ns).components.find((c) => c.name === name)?.status;
    run('d', 'core', { role: 'core', tunnel: { listen: '10.77.3.2:7000', auth: { keyDir: keys } } });
    for (let i = 0; i < 300 && comp('d', 'tunnel')?.state !== 'listening'; i++) await sleep(100);
    run('r', 'edge', {
      role: 'edge',
      tunnel: { connect: '10.77.3.2:7000', auth: { keyDir: keys } },
      forwards: [{ listen: '10.77.1.1:9700', target: '10.77.3.2:8080' }],
      intercept: { enabled: true, rules: [{ destinations: ['10.77.3.0/24'], ports: [8080] }] },
    });
    for (let i = 0; i < 300 && comp('r', 'intercept')?.path !== 'tunnel'; i++) await sleep(100);
    if (comp('r', 'intercept')?.path !== 'tunnel') throw new Error('edge did not come up intercepting');
    const measure = (host: string, port: number) => {
      const r = n.run('c', [
        process.execPath,
        join(dir, 'client.mjs'),
        host,
        String(port),
        String(CONNS),
        String(MB << 20),
      ]);
      if (r.code !== 0) throw new Error(`client ${host}:${port}: ${r.err}`);
      return JSON.parse(r.out) as { setupMs: Record<string, number>; throughputMBps: number };
    };
    const modes = {
      transparent: measure('10.77.3.2', 8080),
      forward: measure('10.77.1.1', 9700),
      direct: measure('10.77.3.2', 8081),
    };
    const ic = comp('r', 'intercept')!;
    const m = n.run('r', ['curl', '-sf', 'http://127.0.0.1:9617/metrics']).out;
    const metric = (name: string) => Number(new RegExp(`^edgewan_${name} (\\S+)$`, 'm').exec(m)?.[1] ?? NaN);
    const engineLookup = {
      reads: metric('intercept_lookup_seconds_count'),
      meanReadMs: (metric('intercept_lookup_seconds_sum') / metric('intercept_lookup_seconds_count')) * 1000,
      source: ic.lookup,
    };
    // the mechanism against a fuller conntrack table: fake entries inserted in the router
    const readCost: Array<{ extraEntries: number; procMs: number; toolMs: number }> = [];
    let inserted = 0;
    for (const target of [0, 1000, 10000]) {
      const lines: string[] = [];
      for (; inserted < target; inserted++)
        lines.push(
          `-I -p tcp -s 10.200.${(inserted >> 8) & 255}.${inserted & 255} -d 10.201.0.1 --sport ${1024 + (inserted % 60000)} --dport 80 --state ESTABLISHED -t 600 -u ASSURED`,
        );
      for (const l of lines) n.run('r', ['conntrack', ...l.split(' ')]);
      const time = (argv: string[]) => {
        const best: number[] = [];
        for (let i = 0; i < 5; i++) {
          const t0 = process.hrtime.bigint();
          n.run('r', argv);
          best.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
        return Math.min(...best);
      };
      const base = time(['true']); // the cost of entering the namespace, subtracted
      readCost.push({
        extraEntries: target,
        procMs: +Math.max(0, time(['cat', '/proc/net/nf_conntrack']) - base).toFixed(2),
        toolMs: +Math.max(
          0,
          time(['conntrack', '-L', '-p', 'tcp', '--reply-port-src', '9618']) - base,
        ).toFixed(2),
      });
    }
    const out = {
      conns: CONNS,
      mb: MB,
      modes,
      intercepted: ic.intercepted,
      engineLookup,
      readCost,
      note: 'readCost: one read answers every lookup waiting at that moment (engine/src/intercept/conntrack.ts)',
    };
    if (JSON_OUT) process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
    else {
      for (const [k, v] of Object.entries(modes))
        console.log(
          `${k.padEnd(12)} set-up p50 ${v.setupMs.p50.toFixed(2)} ms p99 ${v.setupMs.p99.toFixed(2)} ms  throughput ${v.throughputMBps.toFixed(1)} MB/s`,
        );
      console.log(
        `lookup: ${engineLookup.source}, ${engineLookup.reads} reads, mean ${engineLookup.meanReadMs.toFixed(3)} ms`,
      );
      for (const r of readCost)
        console.log(`+${r.extraEntries} entries: /proc read ${r.procMs} ms, conntrack -L ${r.toolMs} ms`);
    }
  } finally {
    n.cleanup();
    rmSync(dir, { recursive: true, force: true });
    if (keys) rmSync(dirname(keys), { recursive: true, force: true });
  }
}

await main();
