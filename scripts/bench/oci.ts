// `npm run bench:oci`: per platform of the built image (dist/oci), the compressed image size
// next to gzip -9 of the stripped Node runtime alone (the target: ≤ 1.10×), and the
// time from `podman run` to /readyz = 200 and to the first passing `edgewan healthcheck` (podman + runc with the
// docs/platform-notes.md §4 configuration; arm under qemu-user). Prints a table and a JSON line;
// no assertions.
// Options: --dist DIR (default dist), --runs N (default 1), --no-run (sizes only).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_ARCHES, ARCHES, ociPlatformString } from '../../targets/arch.ts';
import { inspectOci } from '../../images/oci/inspect.ts';
import { podmanEnv } from '../../test/helpers/oci.ts';

const args = process.argv.slice(2);
const opt = (k: string, d: string) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const dist = opt('--dist', join(import.meta.dirname, '..', '..', 'dist'));
const runs = Number(opt('--runs', '1'));
const noRun = args.includes('--no-run');
const MiB = 1024 * 1024;

function sh(cmd: string, a: string[], env?: NodeJS.ProcessEnv): { code: number; out: string } {
  const r = spawnSync(cmd, a, { encoding: 'utf8', env: env ?? process.env, maxBuffer: 1 << 30 });
  return { code: r.status ?? -1, out: (r.stdout ?? '').trim() };
}

/** gzip -9 size of the stripped official Node binary the executable was made from. */
function runtimeGzip(arch: (typeof ALL_ARCHES)[number], dir: string): number | undefined {
  const lock = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'runtimes.lock.json'), 'utf8')) as {
    executables: Record<string, { package: string; version: string }>;
  };
  const e = lock.executables[arch];
  const cache = join(
    process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
    'edgewan',
    'downloads',
    `${e.package}-${e.version}`,
    'node',
  );
  const tmp = join(dir, `node-${arch}`);
  try {
    copyFileSync(cache, tmp);
  } catch {
    return undefined;
  }
  const strip = arch === 'x64' ? 'strip' : `${ARCHES[arch].triplet}-strip`;
  if (sh(strip, [tmp]).code !== 0) return undefined;
  const r = spawnSync('sh', ['-c', `gzip -9 -c "${tmp}" | wc -c`], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

async function main(): Promise<void> {
  const list = JSON.parse(readFileSync(join(dist, 'artifacts.json'), 'utf8')) as {
    type: string;
    path: string;
  }[];
  const archive = join(dist, list.find((a) => a.type === 'oci-archive')!.path);
  const ins = await inspectOci(join(dist, list.find((a) => a.type === 'oci-layout')!.path));
  const work = mkdtempSync(join(tmpdir(), 'bench-oci-'));
  const env = podmanEnv(join(work, 'podman'));
  const rows: Record<string, unknown>[] = [];
  try {
    for (const arch of ALL_ARCHES) {
      const platform = ociPlatformString(arch);
      const img = ins.images.find((i) => i.platform === platform);
      if (!img) continue;
      const rt = runtimeGzip(arch, work);
      const row: Record<string, unknown> = {
        platform,
        imageBytes: img.compressedSize,
        baseLayerBytes: img.layers[0].size,
        appLayerBytes: img.layers[1].size,
        runtimeGzip9Bytes: rt ?? null,
        ratio: rt ? +(img.compressedSize / rt).toFixed(3) : null,
        startToReadyMs: [] as number[],
        startToHealthyMs: [] as number[],
      };
      if (!noRun) {
        const id = sh('podman', ['pull', '-q', '--platform', platform, `oci-archive:${archive}`], env)
          .out.split('\n')
          .pop()!;
        for (let i = 0; i < runs; i++) {
          const name = `bench-${arch}-${i}`;
          const t0 = Date.now();
          sh('podman', ['run', '-d', '--name', name, '--pull', 'never', '--platform', platform, id], env);
          // /readyz polled from inside the container's network namespace by one host process:
          // separates the engine's own start from the cost of each `podman exec`.
          const pid = sh('podman', ['inspect', '-f', '{{.State.Pid}}', name], env).out;
          const poll = `const t=Date.now();(async()=>{for(;;){try{if((await fetch('http://127.0.0.1:9617/readyz')).status===200)break}catch{}await new Promise(r=>setTimeout(r,20));if(Date.now()-t>180000)break}})()`;
          sh('nsenter', ['-t', pid, '-n', process.execPath, '-e', poll]);
          (row.startToReadyMs as number[]).push(Date.now() - t0);
          while (
            sh('podman', ['exec', name, '/usr/bin/edgewan', 'healthcheck'], env).code !== 0 &&
            Date.now() - t0 < 180_000
          ) {
            /* poll */
          }
          (row.startToHealthyMs as number[]).push(Date.now() - t0);
          sh('podman', ['rm', '-f', '-t', '0', name], env);
        }
      }
      rows.push(row);
    }
  } finally {
    sh('podman', ['rmi', '-a', '-f'], env);
    rmSync(work, { recursive: true, force: true });
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`OCI image per platform (${ins.index?.digest}); host load ${load}`);
  console.log(
    'platform       image MiB  base MiB  app MiB  runtime gz-9 MiB  ratio  run→/readyz ms  run→healthcheck ms',
  );
  for (const r of rows) {
    const f = (n: unknown) => (typeof n === 'number' ? (n / MiB).toFixed(1) : '—');
    console.log(
      `${String(r.platform).padEnd(14)} ${f(r.imageBytes).padStart(9)} ${f(r.baseLayerBytes).padStart(9)} ${f(r.appLayerBytes).padStart(8)} ${f(r.runtimeGzip9Bytes).padStart(17)} ${String(r.ratio ?? '—').padStart(6)}  ${((r.startToReadyMs as number[]).join(', ') || '—').padStart(14)}  ${(r.startToHealthyMs as number[]).join(', ') || '—'}`,
    );
  }
  console.log(JSON.stringify({ bench: 'oci', index: ins.index?.digest, loadavg: load, rows }));
}

await main();
