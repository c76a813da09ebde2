// `edgewan-build` (package.json bin, via bin/edgewan-build.mjs): a thin CLI that parses
// argv, reads the environment once, and lazy-loads the verb. Exit codes: 0 ok, 1 the build or
// verb failed (message names what and how to fix), 2 bad usage.
import { parseArch, UnknownArchError, type Arch } from '../targets/arch.ts';
import { formatError, UsageError } from './errors.ts';
import { Progress } from './progress.ts';

const help = (targets: readonly string[]) => `Usage: edgewan-build <command> [options]

Commands:
  build               build the bundle, executables, SBOMs and every selected target into dist/
  push [--target T]   publish built artifacts (e.g. OCI images) with the target's publisher
  inspect FILE        print any artifact the build writes as JSON

Options:
  --arch A[,B]        architectures: x64, arm64, armv7 (aliases amd64, aarch64, armhf)
  --target T[,U]      targets: ${targets.join(', ')}, or none
  --out DIR           output directory (default: the manifest's outDir, "dist")
  --manifest FILE     build manifest (default: ./edgewan.build.json if present, else defaults)
  --cache-dir DIR     step cache (default: \${XDG_CACHE_HOME:-~/.cache}/edgewan/build)
  --json              machine-readable output on stdout (progress as JSON lines on stderr)
  --help              print this help
`;

interface Parsed {
  verb: string;
  flags: Map<string, string[]>;
  args: string[];
  json: boolean;
}

const VALUE_FLAGS = new Set(['--arch', '--target', '--out', '--manifest', '--cache-dir']);
const ALLOWED: Record<string, string[]> = {
  build: ['--arch', '--target', '--out', '--manifest', '--cache-dir', '--json'],
  push: ['--target', '--out', '--manifest', '--json'],
  inspect: ['--json'],
};

export function parseArgs(argv: string[]): Parsed {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === 'help')
    return { verb: 'help', flags: new Map(), args: [], json: false };
  if (!ALLOWED[verb])
    throw new UsageError(`unknown command "${verb}": use build, push or inspect (edgewan-build --help)`);
  const flags = new Map<string, string[]>();
  const args: string[] = [];
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--')) {
      args.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (name === '--help') return { verb: 'help', flags, args, json };
    if (!ALLOWED[verb].includes(name)) {
      throw new UsageError(`unknown option "${name}" for "${verb}" (allowed: ${ALLOWED[verb].join(', ')})`);
    }
    if (name === '--json') {
      json = true;
      continue;
    }
    let value = eq > 0 ? a.slice(eq + 1) : rest[++i];
    if (value === undefined || value === '' || (eq < 0 && value.startsWith('--')))
      throw new UsageError(`option ${name} needs a value`);
    if (!VALUE_FLAGS.has(name)) throw new UsageError(`option ${name} takes no value`);
    value = value.trim();
    flags.set(name, [
      ...(flags.get(name) ?? []),
      ...value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ]);
  }
  for (const [k, v] of flags) {
    if (['--out', '--manifest', '--cache-dir'].includes(k) && v.length !== 1)
      throw new UsageError(`option ${k} takes exactly one value`);
  }
  return { verb, flags, args, json };
}

function parseArches(list: string[] | undefined): Arch[] | undefined {
  if (!list) return undefined;
  try {
    return [...new Set(list.map(parseArch))];
  } catch (e) {
    if (e instanceof UnknownArchError) throw new UsageError(e.message);
    throw e;
  }
}

export interface Io {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
}

export async function main(
  argv: string[],
  io: Io = { out: process.stdout, err: process.stderr },
): Promise<number> {
  let json = argv.includes('--json');
  try {
    const p = parseArgs(argv);
    json = p.json;
    if (p.verb === 'help') {
      io.out.write(help((await import('./targets.ts')).TARGET_NAMES));
      return 0;
    }
    const one = (k: string) => p.flags.get(k)?.[0];
    if (p.verb === 'build') {
      if (p.args.length) throw new UsageError(`build takes no arguments (got "${p.args.join(' ')}")`);
      const arches = parseArches(p.flags.get('--arch'));
      const { build } = await import('./build.ts');
      const progress = Progress.detect(json);
      const report = await build({
        arches,
        targets: p.flags.get('--target'),
        out: one('--out'),
        manifest: one('--manifest'),
        cacheDir: one('--cache-dir'),
        env: process.env,
        progress,
      });
      if (json) io.out.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        const total = report.steps.reduce((s, x) => s + x.ms, 0);
        io.out.write(
          `built ${report.artifacts.length} artifact(s) into ${report.outDir} (${report.warnings.length} warning(s); steps ${(total / 1000).toFixed(1)} s)\n`,
        );
        for (const w of report.warnings) io.out.write(`  warning: ${w}\n`);
      }
      return 0;
    }
    if (p.verb === 'inspect') {
      if (p.args.length !== 1) throw new UsageError('inspect takes exactly one FILE');
      const { inspect } = await import('./inspect.ts');
      io.out.write(`${JSON.stringify(await inspect(p.args[0]), null, 2)}\n`);
      return 0;
    }
    // push
    const { PUSHERS } = await import('./targets.ts');
    const names = p.flags.get('--target') ?? Object.keys(PUSHERS);
    if (names.length === 0) throw new UsageError('nothing to push: no target has a publisher yet');
    const { loadManifest } = await import('./manifest.ts');
    const { REPO_ROOT } = await import('./paths.ts');
    const outDir = one('--out') ?? loadManifest(REPO_ROOT, one('--manifest')).outDir;
    const results: Record<string, unknown> = {};
    for (const n of names) {
      const push = PUSHERS[n];
      if (!push)
        throw new UsageError(
          `no publisher for target "${n}" (available: ${Object.keys(PUSHERS).join(', ') || 'none'})`,
        );
      results[n] = await push({
        outDir,
        args: p.args,
        json,
        log: (m) => io.err.write(`edgewan-build: ${m}\n`),
      });
    }
    if (json) io.out.write(`${JSON.stringify(results, null, 2)}\n`);
    return 0;
  } catch (e) {
    const msg = formatError(e);
    if (json)
      io.out.write(
        `${JSON.stringify({ error: { code: (e as { code?: string }).code ?? 'EDGEWAN_ERR_BUILD', message: msg } })}\n`,
      );
    io.err.write(`edgewan-build: error: ${msg}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
