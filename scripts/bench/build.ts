// `npm run bench:build [-- --target none] [-- --arch x64]`: cold build time (empty step cache;
// the hash-checked runtime downloads are shared, as in CI after the first run), no-op rebuild
// time, and the cold time as a multiple of ONE `gzip -6` pass over the same payload bytes
// (all artifact files, measured in the same run, so the ratio is comparable across machines);
// then raw / gzip -9 / xz -6 sizes per executable. Prints a table and a JSON line.
import { execFileSync, spawn } from 'node:child_process';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArch, type Arch } from '../../targets/arch.ts';
import { build } from '../build.ts';
import { REPO_ROOT } from '../paths.ts';
import { parallel, Progress } from '../progress.ts';

function flag(name: string): string[] | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1].split(',') : undefined;
}

/** Seconds one compressor pass over `files` (concatenated) takes; returns [seconds, bytes out]. */
function compress(cmd: string, args: string[], files: string[]): Promise<[number, number]> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = 0;
    p.stdout.on('data', (b: Buffer) => {
      out += b.length;
    });
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0 ? resolve([(performance.now() - t0) / 1000, out]) : reject(new Error(`${cmd} exit ${code}`)),
    );
    (async () => {
      for (const f of files) {
        for await (const chunk of createReadStream(f))
          if (!p.stdin.write(chunk)) await new Promise((r) => p.stdin.once('drain', r));
      }
      p.stdin.end();
    })().catch(reject);
  });
}

async function filesOf(path: string): Promise<string[]> {
  const s = await stat(path);
  if (!s.isDirectory()) return [path];
  const out: string[] = [];
  for (const n of (await readdir(path)).sort()) out.push(...(await filesOf(join(path, n))));
  return out;
}

async function main(): Promise<void> {
  const arches = flag('--arch')?.map(parseArch) as Arch[] | undefined;
  const targets = flag('--target');
  const work = await mkdtemp(join(tmpdir(), 'edgewan-bench-'));
  const env = {
    ...process.env,
    EDGEWAN_COMMIT: execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim(),
    SOURCE_DATE_EPOCH: execFileSync('git', ['log', '-1', '--format=%ct'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim(),
  };
  const opts = { arches, targets, out: join(work, 'dist'), cacheDir: join(work, 'cache'), env };
  try {
    let t0 = performance.now();
    const cold = await build({ ...opts, progress: Progress.detect(false) });
    const coldS = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const noop = await build({ ...opts, progress: new Progress('plain', createWriteStream('/dev/null')) });
    const noopS = (performance.now() - t0) / 1000;
    const payload = (
      await Promise.all(
        cold.artifacts.filter((a) => a.type !== 'checksums').map((a) => filesOf(join(cold.outDir, a.path))),
      )
    ).flat();
    const payloadBytes = payload.reduce((s, f) => s + statSync(f).size, 0);
    const [gzipS] = await compress('gzip', ['-6'], payload);
    const exes = cold.artifacts.filter((a) => a.type === 'executable');
    const sizes = await parallel(
      availableParallelism(),
      exes.map((e) => async () => {
        const f = join(cold.outDir, e.path);
        const [, gz] = await compress('gzip', ['-9'], [f]);
        const [, xz] = await compress('xz', ['-6', '-T1'], [f]);
        return { arch: e.arch!, raw: e.size, gzip9: gz, xz6: xz };
      }),
    );
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: availableParallelism(),
      matrix: {
        arches: arches ?? 'manifest default',
        targets: targets ?? 'manifest default (every registered target)',
      },
      coldS: +coldS.toFixed(1),
      noopS: +noopS.toFixed(2),
      noopCachedSteps: noop.steps.filter((s) => s.cached).map((s) => s.name),
      payloadBytes,
      gzip6S: +gzipS.toFixed(1),
      coldOverGzip6: +(coldS / gzipS).toFixed(2),
      steps: cold.steps,
      sizes,
    };
    const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
    const rows = [
      ['cold build', `${result.coldS} s`],
      ['no-op rebuild', `${result.noopS} s`],
      ['payload', mib(payloadBytes)],
      ['one gzip -6 pass', `${result.gzip6S} s`],
      ['cold / gzip -6', `${result.coldOverGzip6}×`],
      ...cold.steps.map((s) => [`  step ${s.name}`, `${(s.ms / 1000).toFixed(1)} s`]),
      ...sizes.map((s) => [
        `${s.arch} raw / gzip -9 / xz -6`,
        `${mib(s.raw)} / ${mib(s.gzip9)} / ${mib(s.xz6)}`,
      ]),
    ];
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(34)} ${v}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
