// The build's composition root (like ko's resolver): manifest → host tools → bundle →
// executables (parallel across arches) → SBOMs → every selected Target from
// scripts/targets.ts → SHA256SUMS and artifacts.json. SOURCE_DATE_EPOCH is read once here
// and passed down; nothing below reads env or argv.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { ARCHES, type Arch } from '../targets/arch.ts';
import { TARGETS, TARGET_NAMES } from './targets.ts';
import type { AnyArch } from '../targets/arch.ts';
import type { Artifact, BuildInputs, HostNeed, PackageInfo, Target } from '../targets/target.ts';
import { writeManifests, fileArtifact } from './artifacts.ts';
import { buildBundle } from './bundle.ts';
import { StepCache } from './cache.ts';
import { pruneMemo } from '../targets/formats/memo.ts';
import { BuildError, UsageError } from './errors.ts';
import { writeAtomic } from './fsutil.ts';
import { glibcNoticesText, prepareGlibc } from './glibc.ts';
import { ensureHostTools, executableNeeds } from './hosttools.ts';
import { resolveKeys } from './keys.ts';
import { loadManifest, packageInfo } from './manifest.ts';
import {
  cacheRoot,
  defaultStepCacheDir,
  hostToolsLog,
  devKeysDir,
  downloadDir,
  REPO_ROOT,
  type Env,
} from './paths.ts';
import { parallel, Progress } from './progress.ts';
import { neededBy, orderByNeeds, publish, type Staged } from './publish.ts';
import { ensureRuntimeLicense, LOCK_PATH, loadLock } from './runtimes.ts';
import { appendNotices } from './packages.ts';
import { makeSbom, sbomFileName } from './sbom.ts';
import { buildExecutable, type SeaResult } from './sea.ts';

export interface BuildOptions {
  root?: string;
  manifest?: string;
  /** --arch (overrides the manifest) */
  arches?: Arch[];
  /** --target names, or ['none'] for no packaging (overrides the manifest) */
  targets?: string[];
  out?: string;
  cacheDir?: string;
  /** commit to stamp (default: git HEAD, or EDGEWAN_COMMIT for builds outside git) */
  commit?: string;
  env: Env;
  progress: Progress;
}

export interface BuildReport {
  version: string;
  commit: string;
  sourceDateEpoch: number;
  outDir: string;
  artifacts: Artifact[];
  steps: Progress['steps'];
  warnings: string[];
  devKeys: string[];
}

function git(root: string, args: string[]): string | undefined {
  try {
    return (
      execFileSync('git', args, {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

/** SOURCE_DATE_EPOCH, else the last commit's time (seconds). */
export function sourceDateEpoch(root: string, env: Env): number {
  const s = env.SOURCE_DATE_EPOCH;
  if (s !== undefined && s !== '') {
    if (!/^\d+$/.test(s)) throw new UsageError(`SOURCE_DATE_EPOCH="${s}" is not a number of seconds`);
    return Number(s);
  }
  return Number(git(root, ['log', '-1', '--format=%ct']) ?? 0);
}

/** Targets to run: --target beats the manifest; default every registered target. */
export function selectTargets(requested: string[] | undefined, registry: readonly Target[]): Target[] {
  if (!requested) return [...registry];
  if (requested.length === 1 && requested[0] === 'none') return [];
  const out: Target[] = [];
  for (const name of requested) {
    if (!TARGET_NAMES.includes(name)) {
      throw new UsageError(`unknown target "${name}": use one of ${TARGET_NAMES.join(', ')} (or "none")`);
    }
    const t = registry.find((x) => x.name === name);
    if (!t)
      throw new BuildError(
        'EDGEWAN_ERR_BUILD_TARGET',
        `target "${name}" is not implemented in this build yet (available: ${registry.map((x) => x.name).join(', ') || 'none'})`,
      );
    out.push(t);
  }
  return out;
}

/** Every host tool a build of these arches and targets needs, from each step's declaration. */
export function buildNeeds(
  arches: readonly Arch[],
  targets: readonly Target[],
  info: PackageInfo,
): HostNeed[] {
  const needs = arches.flatMap(executableNeeds);
  if (arches.length && targets.some((t) => t.glibc)) {
    needs.push(
      { kind: 'cmd', what: 'apt-get', pkg: 'apt', for: 'glibc set' },
      { kind: 'cmd', what: 'dpkg-deb', pkg: 'dpkg', for: 'glibc set' },
    );
  }
  for (const t of targets)
    needs.push(...(t.hostNeeds?.({ arches: arches.filter((a) => t.arches.includes(a)), info }) ?? []));
  return needs;
}

/** What a build with these options will run, for callers that set up the host first (npm test). */
export function plannedNeeds(o: Pick<BuildOptions, 'root' | 'manifest' | 'arches' | 'targets'>): HostNeed[] {
  const m = loadManifest(o.root ?? REPO_ROOT, o.manifest, () => {});
  return buildNeeds(o.arches ?? m.arches, selectTargets(o.targets ?? m.targets, TARGETS), packageInfo(m));
}

async function writeIfChanged(path: string, text: string): Promise<void> {
  try {
    if ((await readFile(path, 'utf8')) === text) return;
  } catch {
    /* missing */
  }
  await writeAtomic(path, text);
}

export async function build(o: BuildOptions): Promise<BuildReport> {
  const startedAt = Date.now() - 1000;
  const root = o.root ?? REPO_ROOT;
  const p = o.progress;
  const m = loadManifest(root, o.manifest, (w) => p.warn(w));
  const arches = o.arches ?? m.arches;
  const targets = selectTargets(o.targets ?? m.targets, TARGETS);
  const outDir = o.out ? resolve(o.out) : m.outDir;
  const mtime = sourceDateEpoch(root, o.env);
  const commit =
    o.commit ?? (o.env.EDGEWAN_COMMIT || git(root, ['rev-parse', '--short=12', 'HEAD']) || 'unknown');
  const info = packageInfo(m);
  const lock = loadLock(o.env.EDGEWAN_RUNTIMES_LOCK || LOCK_PATH);
  const cache = new StepCache(o.cacheDir ? resolve(o.cacheDir) : defaultStepCacheDir(o.env));
  const downloads = downloadDir(o.env);
  p.info(
    `${m.branding.packageName} ${m.version} (commit ${commit}, SOURCE_DATE_EPOCH=${mtime}) → ${outDir}; manifest ${m.file}`,
  );
  for (const a of arches) {
    if (lock.executables[a]?.eol)
      p.warn(
        `${a}: Node ${lock.executables[a].version} is end-of-life (the newest official Node for ${a}); marked eol in artifacts.json`,
      );
  }
  // Everything that can fail on bad input fails here, before anything is written.
  // One apt-get call for every step's tools, before the first step (scripts/hosttools.ts).
  ensureHostTools(buildNeeds(arches, targets, info), {
    env: o.env,
    log: (s) => p.info(s),
    logFile: hostToolsLog(o.env),
  });
  const inputs0 = { info, mtime, outDir, cacheDir: cacheRoot(o.env) };
  let keysDev: string[] = [];
  let keys: BuildInputs['keys'] = {};
  if (targets.length) {
    const r = await resolveKeys({ env: o.env, devDir: devKeysDir(o.env), manifest: m.signing });
    keys = r.keys;
    keysDev = r.dev;
    if (r.dev.length)
      p.warn(
        `signing with DEVELOPMENT keys from ${devKeysDir(o.env)} (${r.dev.join(', ')}): not for production; set them in the manifest's "signing" or EDGEWAN_*_KEY`,
      );
  }

  const artifacts: Artifact[] = [];
  const extra: string[] = [];
  const product = {
    name: m.branding.packageName,
    version: m.version,
    license: m.branding.license,
    homepage: m.branding.homepage,
    vendor: m.branding.vendor,
  };
  const bundle = await p.step(
    'bundle',
    () =>
      buildBundle({
        root,
        outDir,
        version: m.version,
        commit,
        cache,
        self: { name: m.branding.packageName, license: m.branding.license },
      }),
    (r) => r.cached,
  );
  artifacts.push(await fileArtifact(outDir, bundle.bundle, { type: 'bundle', arch: 'noarch' }));
  extra.push(bundle.map, bundle.licenses);
  const sboms: Partial<Record<AnyArch, string>> = {};
  const writeSbom = async (
    arch: AnyArch,
    artifact: string,
    sha: string,
    runtime?: typeof lock.executables.x64,
  ) => {
    const path = join(outDir, 'sbom', sbomFileName(artifact));
    await writeIfChanged(
      path,
      `${JSON.stringify(makeSbom({ artifact, artifactSha256: sha, product, packages: bundle.packages, runtime, mtime }), null, 2)}\n`,
    );
    sboms[arch] = path;
    artifacts.push(await fileArtifact(outDir, path, { type: 'sbom', arch }));
  };
  await writeSbom('noarch', 'edgewan.cjs', bundle.sha256);

  const limit = Math.max(1, Math.min(availableParallelism(), 3));
  const exes = await parallel(
    limit,
    arches.map(
      (arch) => () =>
        p
          .step(
            `executable ${arch}`,
            () =>
              buildExecutable({
                arch,
                bundle: bundle.bundle,
                bundleSha256: bundle.sha256,
                pin: lock.executables[arch],
                downloads,
                outDir,
                cache,
                env: o.env,
                log: (s) => p.info(`${arch}: ${s}`),
              }),
            (r) => r.cached,
          )
          .then((r): [Arch, SeaResult] => [arch, r]),
    ),
  );
  const executables: Partial<Record<Arch, string>> = {};
  const executableNotices: Partial<Record<Arch, string>> = {};
  const bundleNotices = await readFile(bundle.licenses, 'utf8');
  for (const [arch, r] of exes) {
    executables[arch] = r.path;
    const pin = lock.executables[arch];
    artifacts.push(
      await fileArtifact(outDir, r.path, {
        type: 'executable',
        arch,
        runtime: { node: pin.version, eol: pin.eol },
      }),
    );
    await writeSbom(arch, ARCHES[arch].executable, r.sha256, pin);
    // the executable embeds Node: its notices are the bundle's plus Node's LICENSE
    const nodeLicense = await readFile(
      await ensureRuntimeLicense(pin, downloads, (s) => p.info(`${arch}: ${s}`)),
      'utf8',
    );
    executableNotices[arch] = `${r.path}.LICENSES.txt`;
    await writeIfChanged(
      executableNotices[arch],
      appendNotices(bundleNotices, [
        {
          title: `Node.js ${pin.version} (npm package ${pin.package}), built into ${ARCHES[arch].executable} as its runtime — LICENSE`,
          text: nodeLicense,
        },
      ]),
    );
    extra.push(executableNotices[arch]);
  }

  // Private glibc sets (scripts/glibc.ts) for the targets that ship the executable on a
  // non-glibc or empty base: OpenWRT (musl) and the OCI images.
  const glibc: Partial<Record<Arch, string>> = {};
  const glibcNotices: Partial<Record<Arch, string>> = {};
  if (targets.some((t) => t.glibc)) {
    for (const arch of Object.keys(executables) as Arch[]) {
      const set = await p.step(`glibc ${arch}`, () => prepareGlibc(arch, inputs0.cacheDir));
      glibc[arch] = set.dir;
      glibcNotices[arch] = join(inputs0.cacheDir, 'glibc', `${arch}.NOTICES.txt`);
      await writeIfChanged(glibcNotices[arch], glibcNoticesText(set));
    }
  }
  const inputs: BuildInputs = {
    ...inputs0,
    executables,
    glibc,
    commit,
    bundle: bundle.bundle,
    licenses: bundle.licenses,
    sboms,
    keys,
    executableNotices,
    glibcNotices,
    log: (s) => p.info(s),
  };
  for (const t of targets) t.validate(inputs);
  // Each target builds into its own staging directory; dist/ changes only when all succeeded.
  const stageDir = join(outDir, `.stage-${process.pid}`);
  const staged: Staged[] = [];
  try {
    for (const t of orderByNeeds(targets)) {
      const dir = join(stageDir, t.name);
      await mkdir(dir, { recursive: true });
      const made = await p.step(`target ${t.name}`, () =>
        t.build({ ...inputs, outDir: dir, distDir: outDir, needed: neededBy(t, staged) }),
      );
      staged.push({ target: t, dir, artifacts: made });
    }
    if (staged.length) publish(staged, outDir, stageDir);
  } finally {
    await rm(stageDir, { recursive: true, force: true });
  }
  for (const s of staged) artifacts.push(...s.artifacts);

  const all = await p.step('SHA256SUMS + artifacts.json', () => writeManifests(outDir, artifacts, extra));
  // Every commit makes new executables (the commit is stamped in): keep the cache bounded.
  const maxGiB = Number(o.env.EDGEWAN_CACHE_MAX_GIB || 2);
  const pruned = await cache.prune(maxGiB * 1024 ** 3, startedAt);
  if (pruned.removed)
    p.info(
      `step cache: removed ${pruned.removed} least recently used entr${pruned.removed === 1 ? 'y' : 'ies'} (${(pruned.bytes / 1024 ** 2).toFixed(0)} MiB) to stay under ${maxGiB} GiB`,
    );
  // Compressed package payloads (targets/formats/memo.ts) share the same bound.
  const memo = pruneMemo(inputs0.cacheDir, maxGiB * 1024 ** 3, startedAt);
  if (memo.removed)
    p.info(
      `compression memo: removed ${memo.removed} least recently used entr${memo.removed === 1 ? 'y' : 'ies'} (${(memo.bytes / 1024 ** 2).toFixed(0)} MiB) to stay under ${maxGiB} GiB`,
    );
  return {
    version: m.version,
    commit,
    sourceDateEpoch: mtime,
    outDir,
    artifacts: all,
    steps: p.steps,
    warnings: p.warnings,
    devKeys: keysDev,
  };
}
