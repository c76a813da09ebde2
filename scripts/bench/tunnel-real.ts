// Real-corpus step of `npm run bench:tunnel` (issue 21): update traffic fetched here with the
// ordinary clients — two consecutive versions of real npm packages (`npm pack`, then the
// uncompressed tars), Debian package payloads (`apt-get download` into a temp dir, download
// only; `dpkg-deb --fsys-tarfile` gives each uncompressed payload tar), and the .deb files
// themselves as a first-seen compressed payload. Each step goes edge → core through the
// shaping relay (10 Mbit/s, 50 ms RTT; tunnel-wan-peer.ts, the same four processes as the WAN
// step) and reports bytes on the link (both directions, the edge's link counters) and time,
// beside `zstd -3` of the whole file and `zstd --patch-from=OLD -3` run in the same process.
// Encode throughput: the edge process's CPU seconds for the first transfer (chunking, hashing,
// compression, TLS and the client's own writes) beside `zstd -3 -T1` wall time on the file.
// Corpus cached under the bench cache dir (real/); `--only-real` runs this step alone.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { generateCredentials } from '../../engine/src/tunnel/credentials.ts';
import { TunnelComponent } from '../../engine/src/tunnel/component.ts';
import { cacheDir, sendAndHash, sha256 } from './tunnel-lib.ts';
import { benchCtx } from './tunnel-wan-peer.ts';
import { startPeer, stopPeers } from './tunnel-wan.ts';

const PACKAGES: Array<[string, string, string]> = [
  ['typescript', '5.8.2', '5.8.3'],
  ['prettier', '3.5.2', '3.5.3'],
  ['playwright-core', '1.52.0', '1.53.0'],
];
const DEBS = ['libicu72', 'perl-modules-5.36', 'libpython3.11-stdlib', 'python3.11-minimal', 'libstdc++6'];

function run(cmd: string, args: string[], cwd?: string): Buffer {
  const r = spawnSync(cmd, args, { cwd, maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`bench: ${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function cached(file: string, make: () => Buffer): string {
  if (!existsSync(file)) {
    const b = make();
    writeFileSync(`${file}.tmp`, b);
    renameSync(`${file}.tmp`, file);
  }
  return file;
}

/** The corpus files: per package an old and a new tar, one Debian payload tar, one file of .debs. */
export function realCorpus(): {
  pairs: Array<{ name: string; old: string; new: string }>;
  debTar: string;
  debs: string;
} {
  const dir = join(cacheDir(), 'real');
  mkdirSync(dir, { recursive: true });
  const tarOf = (spec: string) =>
    cached(join(dir, `${spec.replace(/[@/]/g, '_')}.tar`), () => {
      const t = mkdtempSync(join(tmpdir(), 'ewB-pack-'));
      try {
        const name = run('npm', ['pack', spec, '--silent'], t).toString().trim().split('\n').pop()!;
        return gunzipSync(readFileSync(join(t, name)));
      } finally {
        rmSync(t, { recursive: true, force: true });
      }
    });
  const pairs = PACKAGES.map(([n, a, b]) => ({ name: n, old: tarOf(`${n}@${a}`), new: tarOf(`${n}@${b}`) }));
  const debDir = join(dir, 'debs');
  if (!existsSync(join(debDir, '.done'))) {
    mkdirSync(debDir, { recursive: true });
    run('apt-get', ['download', ...DEBS], debDir);
    writeFileSync(join(debDir, '.done'), '');
  }
  const debFiles = readdirSync(debDir)
    .filter((f) => f.endsWith('.deb'))
    .sort()
    .map((f) => join(debDir, f));
  const debTar = cached(join(dir, 'debian-payloads.tar'), () =>
    Buffer.concat(debFiles.map((f) => run('dpkg-deb', ['--fsys-tarfile', f]))),
  );
  const debs = cached(join(dir, 'debs.bin'), () => Buffer.concat(debFiles.map((f) => readFileSync(f))));
  return { pairs, debTar, debs };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function zstdBytes(args: string[]): number {
  return run('zstd', ['-q', '-c', '-T1', ...args]).length;
}
function zstdMs(file: string): number {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    run('zstd', ['-q', '-c', '-3', '-T1', file]);
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

export async function realBench(): Promise<Record<string, unknown>> {
  const c = realCorpus();
  const keys = mkdtempSync(join(tmpdir(), 'ewT-bench-keys-'));
  generateCredentials(keys);
  const relayP = startPeer('relay');
  const coreP = startPeer('core', [keys]);
  const sinkP = startPeer('sink');
  await relayP.first;
  const { corePort } = await coreP.first;
  const { sinkPort } = await sinkP.first;
  const linkPort = (await relayP.ask({ kind: 'relay', target: corePort, bitsPerS: 10e6, oneWayMs: 25 })).port;
  const edgeDir = mkdtempSync(join(tmpdir(), 'ewT-bench-'));
  const auth = { keyDir: keys, psk: null, cert: null, key: null, pin: null };
  const edge = new TunnelComponent({
    role: 'edge',
    stateDir: edgeDir,
    listen: null,
    connect: `127.0.0.1:${linkPort}`,
    auth,
    diskMaxBytes: 512 << 20,
  });
  const rows: Array<Record<string, unknown>> = [];
  try {
    await edge.start(benchCtx(256 << 20));
    while (!edge.currentLink()) await new Promise((r) => setTimeout(r, 10));
    await edge.currentLink()!.ready$();
    const target = `127.0.0.1:${sinkPort}`;
    const step = async (corpus: string, name: string, file: string, ref: Record<string, number>) => {
      const data = readFileSync(file);
      const want = sha256(data);
      const l = edge.currentLink()!;
      const tx0 = l.counters.wireTx;
      const rx0 = l.counters.wireRx;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const got = await sendAndHash(await edge.open(target), data);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      if (got !== want) throw new Error(`bench: wrong bytes for ${corpus} ${name}`);
      const link = l.counters.wireTx - tx0 + l.counters.wireRx - rx0;
      const row: Record<string, unknown> = {
        corpus,
        step: name,
        MB: round(data.length / 1e6),
        link_bytes: link,
        saved_pct: round(100 * (1 - link / data.length), 3),
        wan_s: round(ms / 1000),
        edge_cpu_s: round((cpu.user + cpu.system) / 1e6, 3),
        ...ref,
      };
      rows.push(row);
      process.stderr.write(`real: ${JSON.stringify(row)}\n`);
      return row;
    };
    for (const p of c.pairs) {
      const z1 = zstdBytes(['-3', p.old]);
      const z2 = zstdBytes(['-3', p.new]);
      const patch = zstdBytes(['-3', '--long=27', `--patch-from=${p.old}`, p.new]);
      const zMs = zstdMs(p.old);
      const first = await step(p.name, 'first', p.old, { zstd3_bytes: z1 });
      first.vs_zstd3 = round(Number(first.link_bytes) / z1, 3);
      first.encode_MBps = round(statSync(p.old).size / 1e6 / Number(first.edge_cpu_s), 1);
      first.zstd3_T1_MBps = round(statSync(p.old).size / 1e6 / (zMs / 1000), 1);
      first.throughput_vs_zstd3 = round(Number(first.encode_MBps) / Number(first.zstd3_T1_MBps), 2);
      await step(p.name, 'repeat', p.old, {});
      const ed = await step(p.name, 'edited', p.new, { zstd3_bytes: z2, patch_from_bytes: patch });
      ed.vs_patch_from = round(Number(ed.link_bytes) / patch, 2);
    }
    const zd = zstdBytes(['-3', c.debTar]);
    const d = await step('debian-payloads', 'first', c.debTar, { zstd3_bytes: zd });
    d.vs_zstd3 = round(Number(d.link_bytes) / zd, 3);
    await step('debian-payloads', 'repeat', c.debTar, {});
    const inc = await step('debs-compressed', 'first', c.debs, {});
    inc.overhead_pct = round(100 * (Number(inc.link_bytes) / statSync(c.debs).size - 1), 3);
  } finally {
    await edge.stop(100);
    await stopPeers([coreP, relayP, sinkP]);
    for (const dd of [keys, edgeDir]) rmSync(dd, { recursive: true, force: true });
  }
  return { real: rows };
}
